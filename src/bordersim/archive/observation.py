"""The observation model: how the archive recorded what happened, one class per observation type.

A target's quantity in a run (:mod:`bordersim.archive.extract`) is what happened; the archival figure is
a *record* of it, written down by a clerk from reports that may have been incomplete. Each observation
type says what the figure tells about the record, and gives, in one place:

* its **predictive draws** (the fit report's intervals): what the archive would have recorded, given
  the simulated quantity of each replicate;
* its **Gaussian form** (:meth:`Record.gaussian`): the record's noise on the transformed scale
  (``log`` for counts, ``logit`` for shares) as a shift and a variance, and the range the record lies
  in; the calibration's synthetic likelihood (:mod:`bordersim.experiments.calibration`) and the fit
  report's log score both use it;
* whether the figure counts as **inside** a predictive interval.

The record's noise, and why (calibration/README.md says the same):

* A clerk's tally: a recorded count is the counted number times ``exp(e)``, ``e ~ N(0, CLERK_CV**2)``,
  ``CLERK_CV = 0.03``. The dossier's own slips put copying errors at this order or below (Doc 6's
  "about 1,778" against 1,053 + 735 = 1,788 is 0.6%; Doc 4 truncates its percentages by up to 2%).
  Nothing else is added for an ``exact`` count: the model's own stochasticity is in the replicates.
  A share computed from two such counts has log-scale variance ``2 * CLERK_CV**2``.
* ``undercount`` ("incomplete statistics"): the clerk wrote down a fraction ``f ~ U(low, high)`` of what
  happened, the range grounded in the documents' arithmetic (calibration/README.md): ``U(0.74, 1)``
  for the May 1961 telegrams, where two reports of one count differ by that factor (Doc 5's 1,471 and
  Doc 3's 1,985); ``U(0.887, 1)`` for the fates in Doc 6's Jilin ledger, which account for 24,862 of
  its 28,028 discovered crossers.
* ``interval``: the record lies in [low, high] (two reports disagree, or "about"); it counts as inside
  when the predicted record's median falls inside the archive's range.
* ``lower_bound``: the record is at least the figure ("over 7,000"); inside when the median is.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .targets import Target

#: Relative error of a clerk's tally (log-scale standard deviation of a recorded count).
CLERK_CV = 0.03
#: Quantiles of the predictive record reported for every target.
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
_EPS_SHARE = 1e-4


def _logit(p):
    p = np.clip(np.asarray(p, dtype=float), _EPS_SHARE, 1 - _EPS_SHARE)
    return np.log(p) - np.log1p(-p)


@dataclass(frozen=True)
class GaussianForm:
    """A record's noise on the transformed scale ``z = g(x)`` (``log1p`` for counts, ``logit`` for shares).

    Given the simulated quantity's transform ``y``, the record's transform is ``y + shift + e`` with
    ``e ~ N(0, var)``; the archive says the record is ``value`` (``kind == "point"``), lies in
    ``[low, high]`` (``"range"``) or is at least ``low`` (``"above"``), all on the transformed scale.
    """

    transform: str  # "log1p" or "logit"
    kind: str  # "point", "range" or "above"
    value: float
    low: float
    high: float
    shift: float
    var: float


class Record:
    """``exact``: the archival figure is the clerk's record of the quantity."""

    type = "exact"

    def fraction_moments(self, t: Target) -> tuple[float, float]:
        """Mean and variance of the log of the recorded fraction (0, 0 when all was written down)."""
        return 0.0, 0.0

    def recorded_fraction(self, t: Target, n: int, rng: np.random.Generator) -> np.ndarray:
        return np.ones(n)

    # -- what the archive would have recorded -------------------------------------------------------
    def draws(self, t: Target, sim: np.ndarray, rng: np.random.Generator, per: int) -> np.ndarray:
        base = np.repeat(np.asarray(sim, dtype=float), per)
        if t.kind == "share":
            noise = np.exp(rng.normal(0.0, math.sqrt(2.0) * CLERK_CV, size=len(base)))
            return np.clip(base * noise, 0.0, 1.0)
        f = self.recorded_fraction(t, len(base), rng)
        return base * f * np.exp(rng.normal(0.0, CLERK_CV, size=len(base)))

    # -- Gaussian form -----------------------------------------------------------------------------------
    def gaussian(self, t: Target) -> GaussianForm:
        share = t.kind == "share"
        m, v = self.fraction_moments(t)
        var = (2.0 if share else 1.0) * CLERK_CV**2 + v
        g = _logit if share else np.log1p
        lo, hi, kind = self.bounds(t)
        return GaussianForm(
            "logit" if share else "log1p",
            kind,
            float(g(t.observed)),
            float(g(lo)) if lo is not None else math.nan,
            float(g(hi)) if hi is not None else math.nan,
            0.0 if share else m,
            var,
        )

    def bounds(self, t: Target) -> tuple[float | None, float | None, str]:
        return None, None, "point"

    # -- inside ------------------------------------------------------------------------------------------
    def inside(self, t: Target, q) -> tuple[bool, bool]:
        obs = t.observed
        return bool(q[1] <= obs <= q[3]), bool(q[0] <= obs <= q[4])

    def error(self, t: Target, median: float) -> float:
        """Relative error of the predicted median (against the midpoint for a range)."""
        obs = t.observed
        return (median - obs) / obs if obs else math.nan


class UndercountRecord(Record):
    """``undercount``: "incomplete statistics": a fraction ``f ~ U(low, high)`` was written down."""

    type = "undercount"

    def fraction_moments(self, t: Target) -> tuple[float, float]:
        pr = t.observation.undercount_prior
        a, b = pr.low, pr.high
        if b - a < 1e-12:
            return math.log(a), 0.0
        # E[log f] and Var[log f] for f uniform on [a, b].
        e1 = (b * math.log(b) - b - a * math.log(a) + a) / (b - a)
        e2 = (b * (math.log(b) ** 2 - 2 * math.log(b) + 2) - a * (math.log(a) ** 2 - 2 * math.log(a) + 2)) / (b - a)
        return e1, max(e2 - e1 * e1, 0.0)

    def recorded_fraction(self, t: Target, n: int, rng: np.random.Generator) -> np.ndarray:
        pr = t.observation.undercount_prior
        return rng.uniform(pr.low, pr.high, size=n)


class IntervalRecord(Record):
    """``interval``: the record lies in [low, high]; inside when the predicted median does."""

    type = "interval"

    def bounds(self, t: Target):
        return t.observation.low, t.observation.high, "range"

    def inside(self, t: Target, q) -> tuple[bool, bool]:
        o = t.observation
        ok = bool(o.low <= q[2] <= o.high)
        return ok, ok


class LowerBoundRecord(Record):
    """``lower_bound``: the record is at least the figure; inside when the predicted median is."""

    type = "lower_bound"

    def bounds(self, t: Target):
        return t.value, None, "above"

    def inside(self, t: Target, q) -> tuple[bool, bool]:
        ok = bool(q[2] >= t.value)
        return ok, ok

    def error(self, t: Target, median: float) -> float:
        return 0.0 if median >= t.value else (median - t.value) / t.value


RECORDS: dict[str, Record] = {r.type: r for r in (Record(), UndercountRecord(), IntervalRecord(), LowerBoundRecord())}


def record_of(t: Target) -> Record:
    """The observation model of target ``t``'s type."""
    return RECORDS[t.observation.type]


def predictive_draws(t: Target, sim: np.ndarray, rng: np.random.Generator, draws: int = 400) -> np.ndarray:
    """Draws of what the archive would have recorded, given the simulated values of the replicates."""
    sim = np.asarray(sim, dtype=float)
    sim = sim[np.isfinite(sim)]
    if len(sim) == 0:
        return np.array([np.nan])
    return record_of(t).draws(t, sim, rng, max(1, draws // len(sim)))


def log_score(t: Target, draws: np.ndarray) -> float:
    """Log predictive probability of the archival figure: a normal fitted to the transformed predictive
    draws (density of the point figure, probability of the range or the bound), on the figure's scale."""
    from scipy import stats

    draws = draws[np.isfinite(draws)]
    if t.observed is None or len(draws) < 2:
        return math.nan
    form = record_of(t).gaussian(t)
    z = _logit(draws) if form.transform == "logit" else np.log1p(draws)
    mu, sd = float(np.mean(z)), max(float(np.std(z)), 1e-3)
    if form.kind == "range":
        p = stats.norm.cdf(form.high, mu, sd) - stats.norm.cdf(form.low, mu, sd)
        return float(np.log(max(p, 1e-300)))
    if form.kind == "above":
        return float(stats.norm.logsf(form.low, mu, sd))
    x = t.observed
    jac = -math.log(x * (1 - x)) if form.transform == "logit" else -math.log1p(x)
    return float(stats.norm.logpdf(form.value, mu, sd) + jac)


def scores(t: Target, draws: np.ndarray) -> dict[str, float]:
    """Calibration and sharpness of the predictive record against the figure: the PIT (share of draws at
    or below the figure, ties halved), the CRPS and the 90% interval score, both relative to the figure."""
    draws = np.sort(draws[np.isfinite(draws)])
    obs = t.observed
    if obs is None or len(draws) == 0 or not obs:
        return {"pit": math.nan, "crps_rel": math.nan, "interval_score_rel": math.nan}
    n = len(draws)
    pit = (np.searchsorted(draws, obs, "left") + np.searchsorted(draws, obs, "right")) / (2.0 * n)
    # CRPS = E|X - y| - E|X - X'| / 2, from sorted draws in O(n).
    i = np.arange(1, n + 1)
    crps = np.mean(np.abs(draws - obs)) - np.sum((2 * i - n - 1) * draws) / (n * n)
    lo, hi = np.quantile(draws, [0.05, 0.95])
    alpha = 0.1
    iscore = (hi - lo) + (2 / alpha) * max(lo - obs, 0.0) + (2 / alpha) * max(obs - hi, 0.0)
    return {"pit": float(pit), "crps_rel": float(crps / abs(obs)), "interval_score_rel": float(iscore / abs(obs))}


def inside(t: Target, q) -> tuple[bool | None, bool | None]:
    """Is the archival figure inside the 50% and the 90% predictive interval (quantiles 5, 25, 50, 75, 95)?"""
    if t.observed is None:
        return None, None
    return record_of(t).inside(t, q)
