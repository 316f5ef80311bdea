"""Archival records: the observation model in Gaussian form on the transformed scale.

Each record observes one summary. Its :meth:`Record.loglik` gives ``log p(record | y ~ N(mean, var))``
with the record's own noise integrated out analytically, where ``mean`` and ``var`` are the
emulator's prediction of the transformed summary ``y`` at some parameters (``var`` = simulation
noise + emulator error). Everything is vectorized over arrays of ``mean`` and ``var``.

Record types (``t(.)`` is the summary's transform: ``log1p`` for counts, ``logit`` for shares):

* :class:`ExactCount` - ``t(record) = y + e``, ``e ~ N(0, cv^2)``: a clerk's tally with a stated
  coefficient of variation ``cv`` (on the log scale a CV is an sd). The log-likelihood is a normal
  log-density of ``t(value)`` with variance ``var + cv^2``, plus the Jacobian ``-log(1 + value)`` so
  that it is a density of the recorded number itself (a constant: it does not move the posterior).
* :class:`Undercount` - ``t(record) = y + log f + e``, ``f ~ Uniform(f_low, f_high)`` ("incomplete
  statistics"). ``log f`` is replaced by a Gaussian with its *exact* mean and variance,
  ``E log f = (b log b - a log a)/(b - a) - 1`` and
  ``E (log f)^2 = [f((log f)^2 - 2 log f + 2)]_a^b / (b - a)``. (``log(1 + f x) ~ log f + log(1 + x)``
  needs ``f x >> 1``: true for the archive's counts of hundreds and thousands.)
* :class:`CountInterval` - the archive gives a range ``[low, high]`` (two reports that disagree):
  the log-probability that ``y + e`` falls inside, a difference of Gaussian CDFs computed stably in
  log space. An interval is "fitted" when the prediction is inside the range, not when two
  intervals overlap.
* :class:`LowerBound` - "at least": the log survival probability.
* :class:`ExactShare`, :class:`ShareInterval` - the same on the logit scale (``sd`` is the clerk's
  noise on the logit scale; sampling noise of a share is the simulator's business when it
  simulates the same village, as bordersim does for Lishu).
* :class:`ExactValue` - a Gaussian observation on an ``identity`` summary.

Count records take an optional undercount ``(f_low, f_high)`` and clerk noise (``cv``) everywhere,
so an "incomplete" range or bound is expressible too.

Every record has an ``id`` and an optional ``group`` (a source: "doc5_liaoning", "lishu", ...);
:meth:`RecordSet.subset` selects or leaves out ids or groups (leave-one-group-out).
:meth:`Record.z` is the standardized discrepancy used for the implausibility (0 inside a range),
:meth:`Record.observe` draws what the archive would have written given ``y`` (for synthetic
archives), :meth:`Record.synthesize` returns the same record with its value(s) replaced by such a draw.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import ClassVar

import numpy as np
from scipy.special import expit, log_ndtr, logit

from .summaries import Summary

LOG_2PI = math.log(2.0 * math.pi)


def log_uniform_moments(a: float, b: float) -> tuple[float, float]:
    """Exact mean and variance of ``log f`` for ``f ~ Uniform(a, b)``, ``0 < a <= b``."""
    if not 0 < a <= b:
        raise ValueError(f"undercount fractions need 0 < f_low <= f_high (got {a}, {b})")
    if b - a < 1e-12 * b:
        return math.log(a), 0.0
    la, lb = math.log(a), math.log(b)
    m1 = (b * lb - a * la) / (b - a) - 1.0
    m2 = (b * (lb * lb - 2 * lb + 2) - a * (la * la - 2 * la + 2)) / (b - a)
    return m1, max(m2 - m1 * m1, 0.0)


def _log1mexp(x):
    """log(1 - exp(x)) for x <= 0, accurately."""
    x = np.asarray(x, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(x > -math.log(2.0), np.log(-np.expm1(x)), np.log1p(-np.exp(x)))


def log_diff_ndtr(a, b):
    """``log(Phi(b) - Phi(a))`` for ``a <= b`` (arrays, +-inf allowed), stable in both tails."""
    a, b = np.broadcast_arrays(np.asarray(a, float), np.asarray(b, float))
    flip = a > 0  # Phi(b) - Phi(a) = Phi(-a) - Phi(-b): keep the arguments on the left tail
    lo = np.where(flip, -b, a)
    hi = np.where(flip, -a, b)
    lhi = log_ndtr(hi)
    llo = log_ndtr(lo)
    with np.errstate(invalid="ignore"):
        out = lhi + _log1mexp(llo - lhi)
    return np.where(hi <= lo, -np.inf, out)


def _normal_logpdf(x, mean, var):
    return -0.5 * (LOG_2PI + np.log(var) + (x - mean) ** 2 / var)


@dataclass(frozen=True)
class Record:
    """Base class: one archival figure observing one summary."""

    id: str
    summary: str
    #: The source group, for leave-one-group-out.
    group: str | None = field(default=None, kw_only=True)

    transform: ClassVar[str] = "log1p"
    #: "point" records have a Gaussian likelihood; "range" records a probability of a range.
    form: ClassVar[str] = "point"

    # -- compiled description: a point record is N(t_obs; mean + shift, var + extra), a range record
    #    is P(t_lo <= N(mean + shift, var + extra) <= t_hi).
    def _shift_extra(self) -> tuple[float, float]:
        return 0.0, 0.0

    def _t_obs(self) -> float:  # point records
        raise NotImplementedError

    def _jacobian(self) -> float:  # point records: log |d t(value) / d value|
        return 0.0

    def _t_range(self) -> tuple[float, float]:  # range records
        raise NotImplementedError

    # -- likelihood and discrepancy
    def loglik(self, mean, var):
        mean = np.asarray(mean, float)
        var = np.asarray(var, float)
        shift, extra = self._shift_extra()
        s2 = var + extra
        if self.form == "point":
            return _normal_logpdf(self._t_obs(), mean + shift, s2) + self._jacobian()
        lo, hi = self._t_range()
        s = np.sqrt(s2)
        return log_diff_ndtr((lo - mean - shift) / s, (hi - mean - shift) / s)

    def z(self, mean, var):
        """Standardized discrepancy |observed - predicted| / sd (0 when a range holds the prediction)."""
        mean = np.asarray(mean, float)
        shift, extra = self._shift_extra()
        s = np.sqrt(np.asarray(var, float) + extra)
        m = mean + shift
        if self.form == "point":
            return np.abs(self._t_obs() - m) / s
        lo, hi = self._t_range()
        return np.maximum(np.maximum(lo - m, m - hi), 0.0) / s

    # -- synthetic archives
    def _noise_draw(self, y, rng):
        shift, extra = self._shift_extra_draw(rng, np.shape(y))
        return np.asarray(y, float) + shift + rng.normal(0.0, 1.0, np.shape(y)) * math.sqrt(extra)

    def _shift_extra_draw(self, rng, shape):
        """The record's own noise: an exact draw of the shift (e.g. log f) and the Gaussian clerk variance."""
        return np.zeros(shape), 0.0

    def observe(self, y, rng):
        """What the archive would record (on the transformed scale) if the world's summary were ``y``."""
        return self._noise_draw(y, rng)

    def synthesize(self, y: float, rng) -> Record:
        raise NotImplementedError

    def describe(self) -> dict:
        d = {"id": self.id, "type": type(self).__name__, "summary": self.summary, "group": self.group}
        for k, v in self.__dict__.items():
            if k not in d:
                d[k] = v
        return d

    # the observed figure on the transformed scale, for reports: a point or a range
    def t_observed(self) -> tuple[float, float]:
        if self.form == "point":
            t = self._t_obs()
            return t, t
        return self._t_range()


def _t_count(x: float) -> float:
    return math.log1p(max(float(x), 0.0))


def _t_share(p: float, eps: float = 1e-6) -> float:
    return float(logit(min(max(float(p), eps), 1.0 - eps)))


@dataclass(frozen=True)
class _CountBase(Record):
    cv: float = field(default=0.0, kw_only=True)
    f_low: float = field(default=1.0, kw_only=True)
    f_high: float = field(default=1.0, kw_only=True)

    def __post_init__(self):
        if self.cv < 0:
            raise ValueError(f"{self.id}: cv must be >= 0")
        log_uniform_moments(self.f_low, self.f_high)

    def _shift_extra(self):
        mu, vf = log_uniform_moments(self.f_low, self.f_high)
        return mu, vf + self.cv**2

    def _shift_extra_draw(self, rng, shape):
        f = rng.uniform(self.f_low, self.f_high, shape) if self.f_high > self.f_low else np.full(shape, self.f_low)
        return np.log(f), self.cv**2


@dataclass(frozen=True)
class ExactCount(_CountBase):
    """An exact count: ``log1p(record) = y + e``, ``e ~ N(0, cv^2)`` (cv: the clerk's tally CV)."""

    value: float = 0.0
    cv: float = field(default=0.02, kw_only=True)

    def __post_init__(self):
        super().__post_init__()
        if not self.value >= 0:
            raise ValueError(f"{self.id}: a count must be >= 0")

    def _t_obs(self):
        return _t_count(self.value)

    def _jacobian(self):
        return -math.log1p(self.value)

    def synthesize(self, y, rng):
        return replace(self, value=float(max(np.expm1(self.observe(y, rng)), 0.0)))


@dataclass(frozen=True)
class Undercount(ExactCount):
    """An undercount ("incomplete statistics"): ``log1p(record) = y + log f + e``, ``f ~ U(f_low, f_high)``."""

    f_low: float = field(default=0.5, kw_only=True)
    f_high: float = field(default=1.0, kw_only=True)


@dataclass(frozen=True)
class CountInterval(_CountBase):
    """The count lies in ``[low, high]``: log P(log1p(low) <= y + log f + e <= log1p(high))."""

    low: float = 0.0
    high: float = math.inf

    def __post_init__(self):
        super().__post_init__()
        if not (0 <= self.low <= self.high):
            raise ValueError(f"{self.id}: need 0 <= low <= high")

    form: ClassVar[str] = "range"

    def _t_range(self):
        return _t_count(self.low), (math.inf if math.isinf(self.high) else _t_count(self.high))

    def synthesize(self, y, rng):
        # The range is placed uniformly around the draw, with the real record's log width: then
        # p(range | draw) is flat where it holds the draw, and the likelihood is exactly P(draw in range).
        v = float(self.observe(y, rng))
        lo, hi = self._t_range()
        w = hi - lo
        a = v - rng.uniform() * w
        return replace(self, low=float(max(np.expm1(a), 0.0)), high=float(max(np.expm1(a + w), 0.0)))


@dataclass(frozen=True)
class LowerBound(_CountBase):
    """ "At least ``value``": log P(y + log f + e >= log1p(value))."""

    value: float = 0.0
    #: Synthetic archives put the bound up to this far (log scale) below the draw (see synthesize).
    synth_width: float = field(default=2.0, kw_only=True)
    form: ClassVar[str] = "range"

    def _t_range(self):
        return _t_count(self.value), math.inf

    def synthesize(self, y, rng):
        # Exactly coherent only for an unbounded uniform gap; a gap up to e^2 below the draw makes the
        # survival likelihood a slight under-statement of what the synthetic bound says (conservative).
        v = float(self.observe(y, rng))
        return replace(self, value=float(max(np.expm1(v - rng.uniform() * self.synth_width), 0.0)))


@dataclass(frozen=True)
class ExactShare(Record):
    """A share: ``logit(record) = y + e``, ``e ~ N(0, sd^2)`` on the logit scale."""

    value: float = 0.5
    sd: float = field(default=0.05, kw_only=True)
    transform: ClassVar[str] = "logit"

    def __post_init__(self):
        if not 0 < self.value < 1:
            raise ValueError(f"{self.id}: an exact share must be strictly between 0 and 1")
        if self.sd < 0:
            raise ValueError(f"{self.id}: sd must be >= 0")

    def _shift_extra(self):
        return 0.0, self.sd**2

    def _shift_extra_draw(self, rng, shape):
        return np.zeros(shape), self.sd**2

    def _t_obs(self):
        return _t_share(self.value)

    def _jacobian(self):
        return -math.log(self.value * (1.0 - self.value))

    def synthesize(self, y, rng):
        return replace(self, value=float(np.clip(expit(self.observe(y, rng)), 1e-6, 1 - 1e-6)))


@dataclass(frozen=True)
class ShareInterval(Record):
    """The share lies in ``[low, high]`` (logit scale, optional clerk noise ``sd``)."""

    low: float = 0.0
    high: float = 1.0
    sd: float = field(default=0.0, kw_only=True)
    transform: ClassVar[str] = "logit"
    form: ClassVar[str] = "range"

    def __post_init__(self):
        if not 0 <= self.low <= self.high <= 1:
            raise ValueError(f"{self.id}: need 0 <= low <= high <= 1")

    def _shift_extra(self):
        return 0.0, self.sd**2

    def _shift_extra_draw(self, rng, shape):
        return np.zeros(shape), self.sd**2

    def _t_range(self):
        lo = -math.inf if self.low <= 0 else _t_share(self.low)
        hi = math.inf if self.high >= 1 else _t_share(self.high)
        return lo, hi

    def synthesize(self, y, rng):
        v = float(self.observe(y, rng))
        lo, hi = self._t_range()
        w = hi - lo if math.isfinite(hi - lo) else 2.0
        a = v - rng.uniform() * w
        return replace(self, low=float(expit(a)), high=float(expit(a + w)))


@dataclass(frozen=True)
class ExactValue(Record):
    """A Gaussian observation of an ``identity`` summary: ``record = y + e``, ``e ~ N(0, sd^2)``."""

    value: float = 0.0
    sd: float = field(default=0.0, kw_only=True)
    transform: ClassVar[str] = "identity"

    def _shift_extra(self):
        return 0.0, self.sd**2

    def _shift_extra_draw(self, rng, shape):
        return np.zeros(shape), self.sd**2

    def _t_obs(self):
        return float(self.value)

    def synthesize(self, y, rng):
        return replace(self, value=float(self.observe(y, rng)))


class RecordSet:
    """Records bound to the simulator's summaries, with a vectorized joint likelihood.

    The records are treated as conditionally independent given the parameters (the joint
    log-likelihood is the sum of the records' terms): see the package docstring for what that
    assumes. Records are compiled into two arrays (point and range forms) so that one call
    evaluates every record for a whole batch of parameter vectors.
    """

    def __init__(self, records: Sequence[Record], summaries: Sequence[Summary]):
        self.records = list(records)
        self.summaries = list(summaries)
        names = [s.name for s in self.summaries]
        ids = [r.id for r in self.records]
        if len(set(ids)) != len(ids):
            dup = sorted({i for i in ids if ids.count(i) > 1})
            raise ValueError(f"duplicate record ids: {dup}")
        self.col = []
        for r in self.records:
            if r.summary not in names:
                raise ValueError(f"record {r.id}: unknown summary {r.summary!r}")
            j = names.index(r.summary)
            tr = self.summaries[j].transform
            if tr != r.transform:
                raise ValueError(f"record {r.id} ({type(r).__name__}) needs a {r.transform} summary; {r.summary} is {tr}")
            self.col.append(j)
        self.col = np.array(self.col, dtype=int)
        self.ids = ids
        self._compile()

    def _compile(self):
        pt = [i for i, r in enumerate(self.records) if r.form == "point"]
        rg = [i for i, r in enumerate(self.records) if r.form == "range"]
        self._pt = np.array(pt, int)
        self._rg = np.array(rg, int)
        se = [r._shift_extra() for r in self.records]
        self._shift = np.array([s for s, _ in se], float)
        self._extra = np.array([e for _, e in se], float)
        self._tobs = np.array([self.records[i]._t_obs() for i in pt], float)
        self._jac = float(sum(self.records[i]._jacobian() for i in pt))
        rr = [self.records[i]._t_range() for i in rg]
        self._tlo = np.array([a for a, _ in rr], float)
        self._thi = np.array([b for _, b in rr], float)

    def __len__(self):
        return len(self.records)

    def __iter__(self):
        return iter(self.records)

    @property
    def groups(self) -> list[str]:
        return sorted({r.group for r in self.records if r.group is not None})

    def subset(self, ids=None, groups=None, exclude_ids=None, exclude_groups=None) -> RecordSet:
        keep = []
        for r in self.records:
            if ids is not None and r.id not in ids:
                continue
            if groups is not None and r.group not in groups:
                continue
            if exclude_ids is not None and r.id in exclude_ids:
                continue
            if exclude_groups is not None and r.group in exclude_groups:
                continue
            keep.append(r)
        for name, given in (("ids", ids), ("exclude_ids", exclude_ids)):
            unknown = set(given or ()) - set(self.ids)
            if unknown:
                raise ValueError(f"subset {name}: unknown record ids {sorted(unknown)}")
        return RecordSet(keep, self.summaries)

    def used_summaries(self) -> np.ndarray:
        return np.unique(self.col)

    # -- vectorized evaluation: M, V are [n x m] emulator means and variances of all summaries
    def loglik_each(self, M, V) -> np.ndarray:
        M = np.atleast_2d(np.asarray(M, float))
        V = np.atleast_2d(np.asarray(V, float))
        out = np.empty((M.shape[0], len(self.records)))
        if len(self._pt):
            c = self.col[self._pt]
            m = M[:, c] + self._shift[self._pt]
            s2 = V[:, c] + self._extra[self._pt]
            jac = np.array([self.records[i]._jacobian() for i in self._pt])
            out[:, self._pt] = _normal_logpdf(self._tobs, m, s2) + jac
        if len(self._rg):
            c = self.col[self._rg]
            m = M[:, c] + self._shift[self._rg]
            s = np.sqrt(V[:, c] + self._extra[self._rg])
            out[:, self._rg] = log_diff_ndtr((self._tlo - m) / s, (self._thi - m) / s)
        return out

    def loglik(self, M, V) -> np.ndarray:
        """Sum of the records' log-likelihoods, [n]. NaN (an unemulated summary) counts as -inf."""
        M = np.atleast_2d(np.asarray(M, float))
        V = np.atleast_2d(np.asarray(V, float))
        n = M.shape[0]
        total = np.zeros(n)
        if len(self._pt):
            c = self.col[self._pt]
            m = M[:, c] + self._shift[self._pt]
            s2 = V[:, c] + self._extra[self._pt]
            total += (-0.5 * (LOG_2PI * len(c) + np.log(s2).sum(1) + ((self._tobs - m) ** 2 / s2).sum(1))) + self._jac
        if len(self._rg):
            c = self.col[self._rg]
            m = M[:, c] + self._shift[self._rg]
            s = np.sqrt(V[:, c] + self._extra[self._rg])
            total += log_diff_ndtr((self._tlo - m) / s, (self._thi - m) / s).sum(1)
        return np.where(np.isnan(total), -np.inf, total)

    def z_each(self, M, V) -> np.ndarray:
        M = np.atleast_2d(np.asarray(M, float))
        V = np.atleast_2d(np.asarray(V, float))
        c = self.col
        m = M[:, c] + self._shift
        s = np.sqrt(V[:, c] + self._extra)
        lo = np.empty(len(self.records))
        hi = np.empty(len(self.records))
        lo[self._pt] = self._tobs
        hi[self._pt] = self._tobs
        lo[self._rg] = self._tlo
        hi[self._rg] = self._thi
        return np.maximum(np.maximum(lo - m, m - hi), 0.0) / s

    def implausibility(self, M, V) -> np.ndarray:
        """max over records of the standardized discrepancy, [n] (NaN -> inf)."""
        if not len(self.records):
            return np.zeros(np.atleast_2d(M).shape[0])
        z = self.z_each(M, V)
        return np.where(np.isnan(z), np.inf, z).max(1)

    def synthesize(self, y_row, rng) -> RecordSet:
        """The same records with values drawn from the observation model given summaries ``y_row`` [m]."""
        return RecordSet(
            [r.synthesize(float(y_row[j]), rng) for r, j in zip(self.records, self.col, strict=True)], self.summaries
        )

    def describe(self) -> list[dict]:
        return [r.describe() for r in self.records]

    def fingerprint(self) -> list:
        return [
            [type(r).__name__, r.id, r.summary, r.group, repr(sorted((k, v) for k, v in r.__dict__.items()))]
            for r in self.records
        ]
