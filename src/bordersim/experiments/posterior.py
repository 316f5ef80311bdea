"""Behavioural parameters from a calibration posterior: weighted draws and weighted medians.

A scenario's ``posterior: {file, mode}`` names a table written by ``bordersim calibrate`` (one column
per scenario path, ``generation`` and ``weight``). Its last generation is used: ``draw`` picks one
particle per replicate by weight, ``median`` uses each parameter's weighted median.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..world.loader import apply_posterior_values, posterior_values, read_posterior, validate_scenario
from ..world.scenario import Scenario


def weighted_quantile(x: np.ndarray, w: np.ndarray, qs) -> np.ndarray:
    """Quantiles ``qs`` of values ``x`` with weights ``w`` (midpoint interpolation of the weighted CDF)."""
    o = np.argsort(x)
    x, w = x[o], w[o]
    c = (np.cumsum(w) - 0.5 * w) / w.sum()
    return np.interp(qs, c, x)


def posterior_table(path: Path) -> dict[str, np.ndarray]:
    """The last generation of a posterior file, checked and cached (:func:`~bordersim.world.loader.read_posterior`)."""
    return read_posterior(Path(path))


def with_posterior(sc: Scenario, source: str | None, rng: np.random.Generator) -> tuple[Scenario, dict]:
    """The scenario with behavioural parameters from its posterior (a weighted draw, or the weighted median).

    Validation (:func:`~bordersim.world.loader.check_posterior`) has checked that the posterior's columns
    are fields of the scenario and that its values fit, so this cannot fail on a validated scenario.
    """
    base = Path(source).parent if source else Path(".")
    post = posterior_table(base / sc.posterior.file)
    cols = [c for c in post if c != "weight"]
    w = post["weight"]
    if sc.posterior.mode == "draw":
        i = int(rng.choice(len(w), p=w / w.sum()))
        values = posterior_values(post, i)
    else:
        values = {c: float(weighted_quantile(post[c], w, [0.5])[0]) for c in cols}
    d = apply_posterior_values(sc, values)
    targets = d.pop("targets", None)
    new = validate_scenario(d, source)
    return new.model_copy(update={"targets": targets}), values
