"""The simulator pyabc calls: a particle's parameters -> the simulated quantities of the fitted targets.

Each particle is one run of the scenario at the configuration's scale, seeded from a hash of the
calibration seed and the particle's parameter values (so the same parameters always give the same
simulation, whatever the sampler or worker), and simulated only as far as the last fitted month.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import json
import math
from pathlib import Path

import numpy as np

from ...archive.extract import FlowIndex
from ...archive.targets import Target
from ...world.loader import validate_scenario
from ...world.paths import set_path
from ..replicates import run_replicate
from .config import Prior, natural


def particle_seed(seed: int, params: dict[str, float]) -> np.random.SeedSequence:
    """A seed that depends only on the calibration seed and the parameter values."""
    h = hashlib.sha256(json.dumps({k: float(params[k]) for k in sorted(params)}, sort_keys=True).encode()).digest()
    return np.random.SeedSequence([seed] + [int.from_bytes(h[i : i + 4], "little") for i in range(0, 16, 4)])


class Simulator:
    """Picklable model function for pyabc: parameters -> simulated target quantities."""

    def __init__(self, base: dict, source: Path, priors: dict[str, Prior], targets: list[Target], scale: float, seed: int):
        self.base = base
        self.source = str(source)
        self.priors = priors
        self.targets = targets
        self.scale = scale
        self.seed = seed

    def scenario(self, params: dict[str, float], scale: float | None = None, replicates: int = 1):
        d = copy.deepcopy(self.base)
        for name, prior in self.priors.items():
            set_path(d, prior.path, float(params[name]))
        # Simulate only as far as the last month a fitted target needs.
        last = max(t.period.end for t in self.targets)
        y, mth = int(last[:4]), int(last[5:])
        end = dt.date(y + (mth == 12), mth % 12 + 1, 1) - dt.timedelta(days=1)
        end = min(end, dt.date.fromisoformat(str(d["run"]["end"])))
        d["run"] = {**d["run"], "scale": scale or self.scale, "replicates": replicates, "end": end.isoformat()}
        d["targets"] = None
        return validate_scenario(d, self.source)

    def __call__(self, params) -> dict[str, float]:
        p = natural(self.priors, params)
        sc = self.scenario(p)
        flows = run_replicate(sc, particle_seed(self.seed, p), 0).flows
        index = FlowIndex(flows)
        out = {}
        for t in self.targets:
            v = float(index.value(t)[0])
            out[t.id] = v if math.isfinite(v) else float("nan")
        return out
