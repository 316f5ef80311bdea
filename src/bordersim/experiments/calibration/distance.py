"""The calibration distance: the root mean square of the targets' standardized discrepancies.

Each target's discrepancy is the observation model's (:func:`bordersim.archive.observation.discrepancy`:
log-scale for counts, in units of the archival record's own uncertainty; binomial standard errors for
shares; nothing inside an interval or above a lower bound), so every target weighs by how precisely
the archive knows it, on a scale where "twice too many" and "half as many" are equally wrong. pyabc's
epsilon schedule (median of the last population's distances) shrinks the tolerance generation by
generation.
"""

from __future__ import annotations

import math

import numpy as np

from ...archive.observation import discrepancy
from ...archive.targets import Target


class ObservationDistance:
    """Root mean square of discrepancies standardized by each archival record's uncertainty."""

    def __init__(self, targets: list[Target], dispersion: float):
        self.targets = targets
        self.k = dispersion

    def z(self, t: Target, sim: float | None) -> float:
        """Target ``t``'s standardized discrepancy."""
        return discrepancy(t, sim, self.k)

    def __call__(self, x: dict, x0: dict | None = None) -> float:
        zs = [self.z(t, x.get(t.id)) for t in self.targets]
        return float(math.sqrt(np.mean(np.square(zs))))
