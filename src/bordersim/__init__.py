"""bordersim: an agent-based simulation of migration across the China-North Korea border, 1957-1970.

Built from NKIDP e-Dossier No. 11 ("Explaining North Korean Migration to China"): eleven Chinese
documents, 1957-1970. See README.md and docs/ODD.md.

The public API, one function per step of the work::

    import bordersim

    sc = bordersim.load_scenario("scenarios/baseline_1960_1962.yaml", {"run": {"replicates": 2, "scale": 0.05}})
    model = bordersim.BorderModel(sc, rng=7).run()           # one run, day by day
    results = bordersim.run_replicates(sc)                   # every replicate (SeedSequence spawning)
    out = bordersim.run_scenario(sc, "outputs/example")      # flows.csv, summary.csv, manifest, figures, fit
    fit = bordersim.fit_run(out)                             # the run against the archival targets

The package's layers, each importing only the ones below it: ``cli`` -> ``experiments`` -> ``archive``
-> ``model`` -> ``world`` -> ``io`` / ``errors``.
"""

from ._version import __version__
from .archive.report import fit_run
from .experiments.outputs import run_scenario
from .experiments.replicates import ReplicateResult, run_replicates
from .model import BorderModel
from .world.loader import load_scenario
from .world.scenario import Scenario

__all__ = [
    "BorderModel",
    "ReplicateResult",
    "Scenario",
    "__version__",
    "fit_run",
    "load_scenario",
    "run_replicates",
    "run_scenario",
]
