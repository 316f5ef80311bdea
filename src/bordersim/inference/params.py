"""Parameters and the unit cube the engine works in.

A :class:`Param` has a uniform prior between ``low`` and ``high`` on its *working scale*: the natural
scale, or log10 of it when ``log=True`` (a log-uniform prior). The engine maps every parameter to
``u`` in [0, 1] (linear in the working scale), so the prior is uniform on the unit cube; the MCMC
moves in ``z = logit(u)`` (see :mod:`.mcmc`), the emulator standardizes ``u`` on its training set.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Param:
    name: str
    low: float
    high: float
    log: bool = False

    def __post_init__(self):
        if not (math.isfinite(self.low) and math.isfinite(self.high) and self.high > self.low):
            raise ValueError(f"{self.name}: need finite low < high (got {self.low}, {self.high})")
        if self.log and self.low <= 0:
            raise ValueError(f"{self.name}: a log parameter needs low > 0")

    @property
    def wlow(self) -> float:
        return math.log10(self.low) if self.log else float(self.low)

    @property
    def whigh(self) -> float:
        return math.log10(self.high) if self.log else float(self.high)

    def to_dict(self) -> dict:
        return {"name": self.name, "low": float(self.low), "high": float(self.high), "log": bool(self.log)}


class ParamSpace:
    """An ordered set of parameters; converts between natural scale, working scale and the unit cube."""

    def __init__(self, params: Sequence[Param]):
        self.params = list(params)
        if not self.params:
            raise ValueError("no parameters")
        names = [p.name for p in self.params]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate parameter names: {names}")
        self.names = names
        self.p = len(names)
        self._wlo = np.array([q.wlow for q in self.params])
        self._whi = np.array([q.whigh for q in self.params])
        self._log = np.array([q.log for q in self.params])

    def __len__(self) -> int:
        return self.p

    def working_from_unit(self, u: np.ndarray) -> np.ndarray:
        return self._wlo + np.asarray(u, float) * (self._whi - self._wlo)

    def unit_from_working(self, w: np.ndarray) -> np.ndarray:
        return (np.asarray(w, float) - self._wlo) / (self._whi - self._wlo)

    def natural_from_unit(self, u: np.ndarray) -> np.ndarray:
        w = self.working_from_unit(u)
        return np.where(self._log, 10.0**w, w)

    def unit_from_natural(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, float)
        with np.errstate(divide="ignore", invalid="ignore"):
            w = np.where(self._log, np.log10(np.where(self._log, x, 1.0)), x)
        return self.unit_from_working(w)

    @property
    def working_width(self) -> np.ndarray:
        return self._whi - self._wlo

    def to_list(self) -> list[dict]:
        return [q.to_dict() for q in self.params]
