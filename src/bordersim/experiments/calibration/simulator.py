"""The calibration's simulator: parameter vectors -> the simulated quantities of the fitted targets.

:class:`Simulator` is what the inference engine (:mod:`bordersim.inference`) calls, batch by batch, on
the executor's workers: ``simulator(thetas, seeds)`` with ``thetas`` an (n x p) array on the natural
scale and one ``numpy.random.SeedSequence`` per row (from the engine: ``SeedSequence([seed, wave,
index])``). Each row is one run of the scenario at the configuration's scale with the row's
parameters written into it, simulated only as far as the last fitted month; its summaries are read
straight from the recorder's array (:class:`bordersim.archive.extract.TargetReader`), not from a
monthly table, so a simulation costs the model and little else.
"""

from __future__ import annotations

import copy
import datetime as dt
from pathlib import Path

import numpy as np

from ...archive.extract import TargetReader
from ...archive.targets import Target
from ...model.model import BorderModel
from ...world.ablations import ablate
from ...world.loader import validate_scenario
from ...world.paths import set_path
from .config import Prior


def last_day(targets: list[Target]) -> dt.date:
    """The last day of the last month any of ``targets`` needs."""
    last = max(t.period.end for t in targets)
    y, m = int(last[:4]), int(last[5:])
    return dt.date(y + (m == 12), m % 12 + 1, 1) - dt.timedelta(days=1)


class Simulator:
    """Picklable: parameters -> simulated target quantities (one row per parameter vector)."""

    def __init__(self, base: dict, source: Path, priors: dict[str, Prior], targets: list[Target], scale: float):
        self.base = base
        self.source = str(source)
        self.names = list(priors)
        self.paths = [priors[n].path for n in self.names]
        self.targets = list(targets)
        self.scale = scale
        self._reader: TargetReader | None = None

    def scenario(
        self,
        values: dict[str, float],
        scale: float | None = None,
        replicates: int = 1,
        end: dt.date | None = None,
        north: bool = True,
    ):
        """The base scenario with ``values`` (by parameter name) written into it, at ``scale``, up to ``end``.

        ``north=False`` leaves out the northward direction (issue 15): no fitted target reads it, and
        every southward quantity is the same without it (it only reads the southward state), so the
        calibration's simulations skip its cost (about 15% of a calibration-sized run)."""
        d = ablate(self.base, ["north"]) if not north else copy.deepcopy(self.base)
        for name, path in zip(self.names, self.paths, strict=True):
            set_path(d, path, float(values[name]))
        stop = min(end or last_day(self.targets), dt.date.fromisoformat(str(d["run"]["end"])))
        d["run"] = {**d["run"], "scale": scale or self.scale, "replicates": replicates, "end": stop.isoformat()}
        d["targets"] = None
        return validate_scenario(d, self.source)

    def one(self, theta: np.ndarray, seed: np.random.SeedSequence) -> np.ndarray:
        """One run's summaries."""
        sc = self.scenario(dict(zip(self.names, map(float, theta), strict=True)), north=False)
        model = BorderModel(sc, rng=seed).run()
        rec = model.recorder
        if self._reader is None:
            self._reader = TargetReader(self.targets, model.tree, rec.months)
        return self._reader.values(rec.data)

    def __call__(self, thetas: np.ndarray, seeds: list) -> np.ndarray:
        thetas = np.atleast_2d(np.asarray(thetas, dtype=float))
        return (
            np.vstack([self.one(th, s) for th, s in zip(thetas, seeds, strict=True)])
            if len(thetas)
            else np.zeros((0, len(self.targets)))
        )
