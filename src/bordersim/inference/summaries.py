"""Summaries and their transforms.

The simulator returns one row of ``m`` summaries per run, on their natural scale (counts, shares,
plain values). The engine emulates and compares them on a transformed scale ``y`` on which a
Gaussian is a fair description of simulation noise, emulator error and the record's own noise:

* ``log1p`` for counts (``y = log(1 + x)``, negative values clipped to 0): "twice too many" and
  "half as many" are equally far, and a clerk's relative error is a constant sd;
* ``logit`` for shares (clipped to ``[eps, 1 - eps]`` so that a simulated 0 or 1 stays finite);
* ``identity`` for anything already on a Gaussian scale.

Non-finite simulator output stays NaN: the emulator leaves such runs out of that summary's fit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy.special import expit, logit

TRANSFORMS = ("log1p", "logit", "identity")


@dataclass(frozen=True)
class Summary:
    name: str
    transform: Literal["log1p", "logit", "identity"] = "log1p"
    #: Clip for the logit transform.
    eps: float = 1e-4

    def __post_init__(self):
        if self.transform not in TRANSFORMS:
            raise ValueError(f"summary {self.name}: transform must be one of {TRANSFORMS}")
        if not 0 < self.eps < 0.5:
            raise ValueError(f"summary {self.name}: eps must be in (0, 0.5)")

    def forward(self, x):
        x = np.asarray(x, float)
        with np.errstate(invalid="ignore"):
            if self.transform == "log1p":
                return np.log1p(np.where(np.isfinite(x), np.maximum(x, 0.0), np.nan))
            if self.transform == "logit":
                return logit(np.clip(x, self.eps, 1.0 - self.eps))
        return x.copy()

    def inverse(self, y):
        y = np.asarray(y, float)
        if self.transform == "log1p":
            return np.expm1(y)
        if self.transform == "logit":
            return expit(y)
        return y.copy()

    def to_dict(self) -> dict:
        return {"name": self.name, "transform": self.transform, "eps": self.eps}


def transform_matrix(summaries: list[Summary], X: np.ndarray) -> np.ndarray:
    """Apply each summary's transform to its column of ``X`` [n x m]."""
    X = np.asarray(X, float)
    if X.ndim != 2 or X.shape[1] != len(summaries):
        raise ValueError(f"simulator output has shape {X.shape}; expected [n x {len(summaries)}]")
    return np.column_stack([s.forward(X[:, j]) for j, s in enumerate(summaries)]) if len(X) else np.empty((0, len(summaries)))
