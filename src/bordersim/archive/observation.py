"""The observation model: how the archive recorded what happened, one class per observation type.

A target's quantity in a run (:mod:`bordersim.archive.extract`) is what happened; the archival figure is
a *record* of it. Counts are recorded with negative-binomial noise around the simulated count (mean
``mu``, dispersion ``k``: variance ``mu + mu**2 / k``); shares as a binomial draw of the archival
sample size. Each observation type says what the figure tells about the record, and from that gives,
in one place:

* its **likelihood** (the fit report's log score): the predictive probability of the archival figure,
  a mixture over the replicates;
* its **standardized discrepancy** (the calibration distance): a count is compared on the log scale,
  ``log(sim * f + 1) - log(obs + 1)``, divided by the record's own uncertainty, the negative-binomial
  coefficient of variation ``sqrt(1/k + 1/(obs + 1))``; a share in units of its binomial standard
  error ``sqrt(p (1 - p) / n)``;
* its **predictive draws** (the fit report's intervals): what the archive would have recorded;
* whether the figure lies **inside** a predictive interval.

The types:

* ``exact``: the record is the figure;
* ``interval``: the record lies somewhere in [low, high] (two reports disagree, or "about"); no
  discrepancy inside it;
* ``lower_bound``: the record says "at least" (e.g. "over 7,000 stayed"): P(X >= value); no
  discrepancy above it;
* ``undercount``: "incomplete statistics": the archive wrote down a fraction ``f`` of the modelled
  quantity, ``f`` uniform on the prior range; the likelihood averages over ``f``, the discrepancy uses
  the prior's mean fraction and is widened by half its log-range, the draws scale by a drawn ``f``.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from .targets import Target

#: Default negative-binomial dispersion of archival records around the simulated count.
DEFAULT_DISPERSION = 20.0
#: Discrepancy of a run that produced no value for a target.
MISSING_DISCREPANCY = 10.0


def _nb(mu: np.ndarray, k: float):
    mu = np.maximum(np.asarray(mu, dtype=float), 1e-9)
    return stats.nbinom(k, k / (k + mu))


def _share_sd(ref: float, n: int) -> float:
    return math.sqrt(max(ref * (1 - ref), 0.01) / n)


def _count_sd(obs: float, k: float, widen: float) -> float:
    return math.sqrt(1.0 / k + 1.0 / (obs + 1.0)) + widen


class ExactRecord:
    """``exact``: the archival figure is the record."""

    # -- recorded fractions (1 unless the archive undercounts) -------------------------------------
    def fractions(self, t: Target, n: int) -> np.ndarray:
        return np.ones(1)

    def mean_fraction(self, t: Target) -> tuple[float, float]:
        """(fraction recorded, widening of the log-scale uncertainty)."""
        return 1.0, 0.0

    def recorded(self, t: Target, base: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return base

    # -- likelihood ----------------------------------------------------------------------------------
    def count_probability(self, t: Target, d) -> np.ndarray:
        return d.pmf(int(round(t.value)))

    def share_probability(self, t: Target, n: int, p: np.ndarray) -> np.ndarray:
        return stats.binom.pmf(int(round(t.value * n)), n, p)

    # -- discrepancy -----------------------------------------------------------------------------------
    def count_discrepancy(self, t: Target, ls: float, k: float, widen: float) -> float:
        obs = t.value
        ref = math.log(obs + 1.0)
        return (ls - ref) / _count_sd(obs, k, widen)

    def share_discrepancy(self, t: Target, sim: float, n: int) -> float:
        ref = t.value
        return (sim - ref) / _share_sd(ref, n)

    # -- inside a predictive interval --------------------------------------------------------------------
    def inside(self, t: Target, q) -> tuple[bool, bool]:
        obs = t.observed
        return bool(q[1] <= obs <= q[3]), bool(q[0] <= obs <= q[4])


class UndercountRecord(ExactRecord):
    """``undercount``: "incomplete statistics": a fraction ``f`` (uniform on the prior) was written down."""

    def fractions(self, t: Target, n: int) -> np.ndarray:
        pr = t.observation.undercount_prior
        return pr.low + (pr.high - pr.low) * (np.arange(n) + 0.5) / n

    def mean_fraction(self, t: Target) -> tuple[float, float]:
        pr = t.observation.undercount_prior
        return 0.5 * (pr.low + pr.high), 0.5 * math.log(pr.high / pr.low)

    def recorded(self, t: Target, base: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        pr = t.observation.undercount_prior
        return base * rng.uniform(pr.low, pr.high, size=len(base))


class IntervalRecord(ExactRecord):
    """``interval``: the record lies in [low, high]."""

    def count_probability(self, t: Target, d) -> np.ndarray:
        o = t.observation
        return d.cdf(np.floor(o.high)) - d.cdf(np.ceil(o.low) - 1)

    def share_probability(self, t: Target, n: int, p: np.ndarray) -> np.ndarray:
        o = t.observation
        lo, hi = int(np.floor(o.low * n)), int(np.ceil(o.high * n))
        return stats.binom.cdf(hi, n, p) - stats.binom.cdf(lo - 1, n, p)

    def count_discrepancy(self, t: Target, ls: float, k: float, widen: float) -> float:
        o = t.observation
        lo, hi = math.log(o.low + 1.0), math.log(o.high + 1.0)
        if lo <= ls <= hi:
            return 0.0
        ref = lo if ls < lo else hi
        obs = o.low if ls < lo else o.high
        return (ls - ref) / _count_sd(obs, k, widen)

    def share_discrepancy(self, t: Target, sim: float, n: int) -> float:
        o = t.observation
        if o.low <= sim <= o.high:
            return 0.0
        ref = o.low if sim < o.low else o.high
        return (sim - ref) / _share_sd(ref, n)

    def inside(self, t: Target, q) -> tuple[bool, bool]:
        o = t.observation
        return bool(q[1] <= o.high and q[3] >= o.low), bool(q[0] <= o.high and q[4] >= o.low)


class LowerBoundRecord(ExactRecord):
    """``lower_bound``: the record is at least the figure (a share is read as exact)."""

    def count_probability(self, t: Target, d) -> np.ndarray:
        return d.sf(np.ceil(t.value) - 1)

    def count_discrepancy(self, t: Target, ls: float, k: float, widen: float) -> float:
        ref = math.log(t.value + 1.0)
        if ls >= ref:
            return 0.0
        return (ls - ref) / _count_sd(t.value, k, widen)

    def inside(self, t: Target, q) -> tuple[bool, bool]:
        obs = t.observed
        return bool(q[3] >= obs), bool(q[4] >= obs)


RECORDS: dict[str, ExactRecord] = {
    "exact": ExactRecord(),
    "undercount": UndercountRecord(),
    "interval": IntervalRecord(),
    "lower_bound": LowerBoundRecord(),
}


def record_of(t: Target) -> ExactRecord:
    """The observation model of target ``t``'s type."""
    return RECORDS[t.observation.type]


def _sample_size(t: Target) -> int:
    return t.sample_size or 100


def likelihood(t: Target, sim: np.ndarray, dispersion: float = DEFAULT_DISPERSION) -> float:
    """Predictive probability of the archival record given simulated values (a mixture over replicates)."""
    sim = np.asarray(sim, dtype=float)
    ok = np.isfinite(sim)
    if t.value is None or not ok.any():
        return float("nan")
    sim = sim[ok]
    rec = record_of(t)
    if t.kind == "share":
        p = np.clip(sim, 1e-6, 1 - 1e-6)
        return float(np.mean(rec.share_probability(t, _sample_size(t), p)))
    f = rec.fractions(t, 21)
    mu = (sim[:, None] * f[None, :]).ravel()
    return float(np.mean(rec.count_probability(t, _nb(mu, dispersion))))


def discrepancy(t: Target, sim: float | None, dispersion: float = DEFAULT_DISPERSION) -> float:
    """The simulated value's discrepancy from the archival figure, in units of the record's uncertainty."""
    if sim is None or not math.isfinite(sim):
        return MISSING_DISCREPANCY
    rec = record_of(t)
    if t.kind == "share":
        return rec.share_discrepancy(t, sim, _sample_size(t))
    fmid, widen = rec.mean_fraction(t)
    return rec.count_discrepancy(t, math.log(sim * fmid + 1.0), dispersion, widen)


def predictive_draws(
    t: Target, sim: np.ndarray, rng: np.random.Generator, draws: int = 200, dispersion: float = DEFAULT_DISPERSION
) -> np.ndarray:
    """Draws of what the archive would have recorded, given the simulated values of the replicates."""
    sim = np.asarray(sim, dtype=float)
    sim = sim[np.isfinite(sim)]
    if len(sim) == 0:
        return np.array([np.nan])
    per = max(1, draws // len(sim))
    base = np.repeat(sim, per)
    if t.kind == "share":
        n = _sample_size(t)
        return rng.binomial(n, np.clip(base, 0, 1)) / n
    base = record_of(t).recorded(t, base, rng)
    mu = np.maximum(base, 1e-9)
    k = dispersion
    return rng.negative_binomial(k, k / (k + mu)).astype(float)


def inside(t: Target, q) -> tuple[bool | None, bool | None]:
    """Is the archival figure inside the 50% and the 90% predictive interval (quantiles 5, 25, 50, 75, 95)?"""
    if t.observed is None:
        return None, None
    return record_of(t).inside(t, q)
