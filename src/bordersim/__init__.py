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

#: The public API, imported on first use (so that ``bordersim --help`` does not load the model).
_API = {
    "BorderModel": "model.model",
    "ReplicateResult": "experiments.replicates",
    "Scenario": "world.scenario",
    "fit_run": "archive.report",
    "load_scenario": "world.loader",
    "run_replicates": "experiments.replicates",
    "run_scenario": "experiments.outputs",
}


def __getattr__(name: str):
    if name not in _API:
        raise AttributeError(f"module 'bordersim' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f".{_API[name]}", __name__), name)
    globals()[name] = value
    return value


__all__ = ["__version__", *_API]
