"""Reading a run's monthly table: each target's quantity, and monthly medians and bands.

A run's ``flows.csv`` is tidy: ``replicate, period, region, measure, value``. A target's quantity in
each replicate is read once, by :class:`FlowIndex`: a ``flow`` is the measure summed over the region
and the period; a ``stock`` its value at the end of the period; a ``share`` numerator / denominator,
each summed (lists of measures are added up). :func:`monthly_band` is the one monthly median and
5-95% band across replicates that every figure and comparison draws.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..model.measures import MEASURE_INDEX
from .targets import Target, as_list


class FlowIndex:
    """A run's monthly table indexed for fast target look-ups: (region, measure) -> replicates x months."""

    def __init__(self, flows: pd.DataFrame):
        reg_c, regions = pd.factorize(flows.region)
        mea_c, measures = pd.factorize(flows.measure)
        self.reps, rep_c = np.unique(flows.replicate.to_numpy(), return_inverse=True)
        self.months, mon_c = np.unique(flows.period.to_numpy().astype(str), return_inverse=True)
        cube = np.zeros((len(regions), len(measures), len(self.reps), len(self.months)))
        np.add.at(cube, (reg_c, mea_c, rep_c, mon_c), flows.value.to_numpy(float))
        self.arrays = {(r, m): cube[i, j] for i, r in enumerate(regions) for j, m in enumerate(measures)}

    def total(self, region: str, measures: list[str], start: str, end: str) -> np.ndarray:
        """Sum of ``measures`` in ``region`` over the months ``start`` to ``end``, per replicate."""
        cols = (self.months >= start) & (self.months <= end)
        out = np.zeros(len(self.reps))
        for m in measures:
            a = self.arrays.get((region, m))
            if a is not None:
                out += a[:, cols].sum(axis=1)
        return out

    def value(self, t: Target) -> np.ndarray:
        """The target's quantity in each replicate."""
        start = t.period.end if t.kind == "stock" else t.period.start
        if t.kind == "share":
            num = self.total(t.region, as_list(t.numerator), start, t.period.end)
            den = self.total(t.region, as_list(t.denominator), start, t.period.end)
            with np.errstate(divide="ignore", invalid="ignore"):
                return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)
        return self.total(t.region, [t.measure], start, t.period.end)


def simulated(flows: pd.DataFrame, t: Target) -> pd.Series:
    """The target's quantity in each replicate of a run (index: replicate)."""
    index = FlowIndex(flows)
    return pd.Series(index.value(t), index=pd.Index(index.reps, name="replicate"), name=t.id)


def monthly_band(
    flows: pd.DataFrame, region: str, measure: str, start: str | None = None, end: str | None = None
) -> pd.DataFrame:
    """Median and 5-95% range across replicates of ``measure`` in ``region``, by month (index: mid-month dates)."""
    x = flows[(flows.region == region) & (flows.measure == measure)]
    if start is not None:
        x = x[(x.period >= start) & (x.period <= end)]
    g = x.groupby("period").value
    out = pd.DataFrame({"median": g.median(), "lo": g.quantile(0.05), "hi": g.quantile(0.95)})
    out.index = pd.to_datetime(out.index + "-15")
    return out


class TargetReader:
    """Each target's quantity read straight from a recorder's array (months x home regions x measures),
    without building the monthly table: the calibration's summaries, once per simulation.

    Built once per (targets, region tree, months); :meth:`values` sums the recorder's array over each
    target's home regions (the tree's roll-up row), months and measures, as :class:`FlowIndex` does
    from ``flows.csv`` (the same numbers: a test checks it).
    """

    def __init__(self, targets: list[Target], tree, months: list[str]):
        self.targets = list(targets)
        months = np.asarray(months)
        self._terms = []
        for t in self.targets:
            start = t.period.end if t.kind == "stock" else t.period.start
            cols = np.flatnonzero((months >= start) & (months <= t.period.end))
            leaves = np.flatnonzero(tree.rollup[tree.node_index[t.region]])
            if t.kind == "share":
                num = [MEASURE_INDEX[m] for m in as_list(t.numerator)]
                den = [MEASURE_INDEX[m] for m in as_list(t.denominator)]
            else:
                num, den = [MEASURE_INDEX[t.measure]], None
            self._terms.append((cols, leaves, num, den))

    def values(self, data: np.ndarray) -> np.ndarray:
        """The targets' quantities (NaN for a share with nothing in its denominator)."""
        out = np.empty(len(self.targets))
        for i, (cols, leaves, num, den) in enumerate(self._terms):
            block = data[np.ix_(cols, leaves)]
            n = float(block[:, :, num].sum())
            if den is None:
                out[i] = n
            else:
                d = float(block[:, :, den].sum())
                out[i] = n / d if d > 0 else np.nan
        return out
