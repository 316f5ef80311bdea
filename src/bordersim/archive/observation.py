"""The observation model: how the archive recorded what happened, once per observation type.

A target's quantity in a run (:mod:`bordersim.archive.extract`) is what happened; the archival figure is
a *record* of it, written down by a clerk from reports that may have been incomplete.
:func:`record_for` turns each target into its record (a :mod:`bordersim.inference.records` object),
and that one object is used everywhere: the fit report draws what the archive would have recorded
from it (:func:`predictive_draws`) and scores the figure with its likelihood (:func:`log_score`), and
the calibration's synthetic likelihood is the sum of the same records' likelihoods.

The record's noise, and why (calibration/README.md says the same):

* **A clerk's tally.** A recorded count is ``log1p(record) = log1p(count) + e``, ``e ~ N(0, CLERK_CV**2)``,
  ``CLERK_CV = 0.03``. The dossier's own slips put copying errors at this order or below (Doc 6's
  "about 1,778" for 1,053 + 735 = 1,788 is 0.6%; Doc 4 truncates its percentages by up to 2%).
  Nothing else is added to an ``exact`` count: the model's own stochasticity is in the replicates
  (for Lishu, simulated whole, binomial noise on top would count the village's chance twice). A
  share is computed from two such counts: its logit carries ``sqrt(2) * CLERK_CV / (1 - p)``.
* **"Incomplete statistics"** (``undercount``): the clerk wrote down a fraction ``f ~ U(low, high)``
  of what happened, the range grounded in the documents' own arithmetic: ``U(0.74, 1)`` for the May
  1961 telegrams, the Andong tallies and Jilin's annual discovered count (two reports of one count,
  Doc 5's 1,471 and Doc 3's 1,985, differ by that factor); ``U(0.887, 1)`` for the fates in Doc 6's
  Jilin ledger (they account for 24,862 of its 28,028 discovered crossers).
* **A range** (``interval``: two reports disagree, or "about"): the record lies in [low, high]; the
  target counts as inside when the predicted median falls inside the archive's range (not when two
  intervals merely overlap).
* **"At least"** (``lower_bound``): inside when the predicted median is at or above the figure.
"""

from __future__ import annotations

import math

import numpy as np

from ..inference.records import CountInterval, ExactCount, ExactShare, LowerBound, Record, ShareInterval, Undercount
from .targets import Target

#: Relative error of a clerk's tally (log-scale standard deviation of a recorded count).
CLERK_CV = 0.03
#: Quantiles of the predictive record reported for every target.
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
#: Shares are clipped to [EPS, 1 - EPS] before the logit: a run with no case in a share's numerator
#: counts as half a percent, not as minus infinity (the smallest archival share is 11 / 243 = 4.5%).
EPS = 0.005


def transform_of(t: Target) -> str:
    """The scale on which a target's quantity is modelled: ``log1p`` for counts, ``logit`` for shares."""
    return "logit" if t.kind == "share" else "log1p"


def to_scale(t: Target, x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=float)
    if t.kind == "share":
        p = np.clip(x, EPS, 1 - EPS)
        return np.log(p) - np.log1p(-p)
    return np.log1p(np.maximum(x, 0.0))


def from_scale(t: Target, z: np.ndarray) -> np.ndarray:
    z = np.asarray(z, dtype=float)
    return 1.0 / (1.0 + np.exp(-z)) if t.kind == "share" else np.maximum(np.expm1(z), 0.0)


def _share_sd(p: float) -> float:
    """Logit-scale sd of a share computed from two clerk's counts (delta method)."""
    return math.sqrt(2.0) * CLERK_CV / max(1.0 - p, 0.05)


def record_for(t: Target) -> Record:
    """The archival record of target ``t`` (its figure and its observation type) as a likelihood object."""
    o = t.observation
    grp = t.group
    if t.kind == "share":
        if o.type == "interval":
            return ShareInterval(t.id, t.id, low=o.low, high=o.high, sd=_share_sd(0.5 * (o.low + o.high)), group=grp)
        return ExactShare(t.id, t.id, value=float(np.clip(t.value, EPS, 1 - EPS)), sd=_share_sd(t.value), group=grp)
    if o.type == "interval":
        return CountInterval(t.id, t.id, low=o.low, high=o.high, cv=CLERK_CV, group=grp)
    if o.type == "lower_bound":
        return LowerBound(t.id, t.id, value=t.value, cv=CLERK_CV, group=grp)
    if o.type == "undercount":
        pr = o.undercount_prior
        return Undercount(t.id, t.id, value=t.value, f_low=pr.low, f_high=pr.high, cv=CLERK_CV, group=grp)
    return ExactCount(t.id, t.id, value=t.value, cv=CLERK_CV, group=grp)


def _noise_record(t: Target) -> Record:
    """The record used to draw what the archive would write: a withheld figure has no value, only noise."""
    if t.value is not None or t.observation.type == "interval":
        return record_for(t)
    stand_in = t.model_copy(update={"value": 0.5 if t.kind == "share" else 1.0})
    return record_for(stand_in)


def predictive_draws(t: Target, sim: np.ndarray, rng: np.random.Generator, draws: int = 400) -> np.ndarray:
    """Draws of what the archive would have recorded, given the simulated values of the replicates."""
    sim = np.asarray(sim, dtype=float)
    sim = sim[np.isfinite(sim)]
    if len(sim) == 0:
        return np.array([np.nan])
    y = np.repeat(to_scale(t, sim), max(1, draws // len(sim)))
    return from_scale(t, _noise_record(t).observe(y, rng))


def log_score(t: Target, sim: np.ndarray) -> float:
    """Log predictive probability of the archival figure: the record's likelihood with the simulated
    quantity (on its scale) normal with the replicates' mean and variance; the density of a point
    figure, the probability of a range or a bound."""
    if t.value is None and t.observation.type != "interval":
        return math.nan
    z = to_scale(t, np.asarray(sim, dtype=float))
    z = z[np.isfinite(z)]
    if len(z) < 2:
        return math.nan
    var = max(float(np.var(z, ddof=1)), 1e-6)
    return float(record_for(t).loglik(np.array([float(np.mean(z))]), np.array([var]))[0])


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
    """Is the archival figure inside the 50% and the 90% predictive interval (quantiles 5, 25, 50, 75, 95)?

    A range or a bound holds the prediction when the predicted median falls in it (both answers alike).
    """
    if t.observed is None:
        return None, None
    o = t.observation
    if o.type == "interval":
        ok = bool(o.low <= q[2] <= o.high)
        return ok, ok
    if o.type == "lower_bound":
        ok = bool(q[2] >= t.value)
        return ok, ok
    return bool(q[1] <= t.observed <= q[3]), bool(q[0] <= t.observed <= q[4])


def relative_error(t: Target, median: float) -> float | None:
    """Relative error of the predicted median: against the figure (a range's midpoint); 0 above a bound."""
    if t.observed is None:
        return None
    if t.observation.type == "lower_bound":
        return 0.0 if median >= t.value else (median - t.value) / t.value
    return (median - t.observed) / t.observed if t.observed else math.nan
