"""The one place where ``bordersim.explore`` touches the rest of the package.

Everything the explorer needs from the model, the scenarios, the rules, the archive and the
replicate machinery is imported here and only here, so that a change of the package's layout (for
example ``world/``, ``model/``, ``archive/``, ``experiments/``) is a matter of editing the imports
below. Most of it is the documented, stable API: :func:`load_scenario`, :class:`BorderModel`
(``step()``, ``running``, ``date``, ``today``, ``recorder``, ``rules``, ``tree``), ``MEASURES``,
the rule library and the targets. Two helpers come from the replicate runner, so that the page's
run is replicate 0 of ``bordersim run`` with the same seed (see :func:`replicate_model`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bordersim.archive.targets import load_targets  # noqa: F401
from bordersim.errors import ScenarioError  # noqa: F401
from bordersim.experiments.posterior import with_posterior
from bordersim.experiments.replicates import replicate_seeds
from bordersim.model.model import BorderModel
from bordersim.model.recorder import MEASURES  # noqa: F401
from bordersim.world.geography import TREE  # noqa: F401  (the region tree; posts = crossing points)
from bordersim.world.loader import load_scenario  # noqa: F401
from bordersim.world.rules import available_rule_sets, library_dir, load_rule_set  # noqa: F401

PACKAGE_DIR = Path(__file__).resolve().parents[1]


def replicate_model(sc, source: str | Path | None, seed: int, replicate: int = 0) -> tuple[BorderModel, dict]:
    """A model seeded exactly as ``bordersim run`` seeds replicate ``replicate`` of ``sc`` with ``seed``.

    ``bordersim run`` spawns one ``SeedSequence`` per replicate; with a posterior in the scenario it
    splits that seed in two, one stream drawing the behavioural parameters (or taking the posterior
    median), the other driving the model. Doing the same here makes the page's run, a band
    replicate and a ``bordersim run`` replicate the same run. Returns the model and the drawn
    parameters (empty without a posterior).
    """
    ss = replicate_seeds(seed, replicate + 1)[replicate]
    drawn: dict = {}
    if sc.posterior is not None:
        draw_ss, ss = ss.spawn(2)
        sc, drawn = with_posterior(sc, str(source) if source else None, np.random.default_rng(draw_ss))
    return BorderModel(sc, rng=np.random.default_rng(ss)), drawn


def package_sources() -> list[Path]:
    """The files whose content defines the model's behaviour (for cache keys): code and rule files."""
    out = []
    for p in sorted(PACKAGE_DIR.rglob("*")):
        if p.suffix in (".py", ".yaml") and "explore" not in p.relative_to(PACKAGE_DIR).parts and "__pycache__" not in p.parts:
            out.append(p)
    return out
