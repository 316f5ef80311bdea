"""Archival targets and the observation model that compares a run with them.

``calibration/targets.yaml`` holds every count in the dossier (see calibration/README.md), each with
the document, the quote, the region and period, what is counted, how the archive observed it and
whether it is used for fitting (``calibration``) or held out (``validation``).

The observation model maps a run's monthly table to each target's quantity and gives it a likelihood:

* ``flow``: the measure summed over the region and the period; ``stock``: its value at the end of the
  period; ``share``: numerator / denominator, each summed (lists of measures are added up);
* ``exact``: the record is a negative-binomial draw around the simulated count (mean ``mu``,
  dispersion ``k``: variance ``mu + mu**2 / k``); for shares a binomial draw of ``sample_size``;
* ``interval``: the record lies somewhere in [low, high] (two reports disagree, or "about");
  the likelihood is the probability of that interval;
* ``lower_bound``: the record says "at least" (e.g. "over 7,000 stayed"): P(X >= value);
* ``undercount``: "incomplete statistics": the archive wrote down a fraction ``f`` of the modelled
  quantity, with ``f`` uniform on the prior range; the record is a negative-binomial draw around
  ``f * mu``, and the likelihood averages over ``f``.

Predictive intervals draw the record from this observation model for every replicate (several draws
each, from a generator seeded by the fit's seed), so they include observation noise and the
undercount as well as the model's stochasticity.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from scipy import stats

from .errors import ScenarioError, from_validation
from .geography import TREE
from .observation import MEASURES
from .rules import _read_yaml

Month = Annotated[str, Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")]
#: Default negative-binomial dispersion of archival records around the simulated count.
DEFAULT_DISPERSION = 20.0


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class Period(_Strict):
    start: Month
    end: Month

    @model_validator(mode="after")
    def _order(self):
        if self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")
        return self


class Range(_Strict):
    low: Annotated[float, Field(ge=0)]
    high: Annotated[float, Field(ge=0)]


class Observation(_Strict):
    type: Literal["exact", "interval", "lower_bound", "undercount"]
    low: float | None = None
    high: float | None = None
    undercount_prior: Range | None = None

    @model_validator(mode="after")
    def _fields(self):
        if self.type == "interval" and (self.low is None or self.high is None or self.high < self.low):
            raise ValueError("an interval needs low <= high")
        if self.type == "undercount":
            pr = self.undercount_prior
            if pr is None or not (0 < pr.low <= pr.high <= 1):
                raise ValueError("an undercount needs undercount_prior with 0 < low <= high <= 1")
        return self


MeasureRef = str | list[str]


class Target(_Strict):
    """One archival figure."""

    id: str
    document: Annotated[int, Field(ge=0, le=11)]
    doc_date: Annotated[dt.date, Field(strict=False)]
    quote: str
    region: str
    period: Period
    kind: Literal["flow", "stock", "share"]
    measure: str | None = None
    numerator: MeasureRef | None = None
    denominator: MeasureRef | None = None
    unit: Literal["persons", "households", "applications", "letters", "corpses", "proportion"]
    value: float | None
    observation: Observation
    role: Literal["calibration", "validation"]
    source_says: str | None = None
    notes: str = ""
    #: For shares: the number of cases the archival share was computed from (binomial n).
    sample_size: Annotated[int, Field(gt=0)] | None = None

    @field_validator("region")
    @classmethod
    def _region(cls, v):
        if not TREE.is_valid(v):
            raise ValueError(f"unknown region {v!r}")
        return v

    @model_validator(mode="after")
    def _measures(self):
        refs = [self.measure] if self.kind != "share" else _as_list(self.numerator) + _as_list(self.denominator)
        if self.kind == "share" and (not self.numerator or not self.denominator):
            raise ValueError("a share needs numerator and denominator")
        if self.kind != "share" and not self.measure:
            raise ValueError("a flow or stock needs a measure")
        for m in refs:
            if m not in MEASURES:
                raise ValueError(f"unknown measure {m!r} (see `bordersim measures`)")
        if self.kind == "stock" and self.period.start != self.period.end:
            raise ValueError("a stock is observed at one month: period.start must equal period.end")
        if self.value is None and self.role != "validation":
            raise ValueError("only validation targets may have no value (withheld figures)")
        return self

    @property
    def observed(self) -> float | None:
        """The point value compared with the model (the midpoint for an interval)."""
        if self.observation.type == "interval":
            return 0.5 * (self.observation.low + self.observation.high)
        return self.value


def _as_list(x) -> list[str]:
    if x is None:
        return []
    return [x] if isinstance(x, str) else list(x)


class TargetFile(_Strict):
    version: Literal[1]
    targets: list[Target]

    @field_validator("targets")
    @classmethod
    def _unique(cls, v):
        seen = set()
        for t in v:
            if t.id in seen:
                raise ValueError(f"duplicate target id {t.id!r}")
            seen.add(t.id)
        return v


def load_targets(path: str | Path) -> list[Target]:
    """Read and validate a targets file (one-line errors naming the file and the field)."""
    path = Path(path)
    data = _read_yaml(path)
    try:
        return TargetFile.model_validate(data).targets
    except ValidationError as err:
        raise from_validation(path, err) from None


# -- mapping a run to the targets -------------------------------------------------------------------
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
        cols = (self.months >= start) & (self.months <= end)
        out = np.zeros(len(self.reps))
        for m in measures:
            a = self.arrays.get((region, m))
            if a is not None:
                out += a[:, cols].sum(axis=1)
        return out

    def value(self, t: "Target") -> np.ndarray:
        """The target's quantity in each replicate."""
        start = t.period.end if t.kind == "stock" else t.period.start
        if t.kind == "share":
            num = self.total(t.region, _as_list(t.numerator), start, t.period.end)
            den = self.total(t.region, _as_list(t.denominator), start, t.period.end)
            with np.errstate(divide="ignore", invalid="ignore"):
                return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)
        return self.total(t.region, [t.measure], start, t.period.end)


def simulated(flows: pd.DataFrame, t: Target) -> pd.Series:
    """The target's quantity in each replicate of a run (index: replicate)."""
    reps = np.sort(flows.replicate.unique())
    sel = flows[(flows.region == t.region) & (flows.period >= t.period.start) & (flows.period <= t.period.end)]
    if t.kind == "stock":
        sel = sel[sel.period == t.period.end]

    def total(measures: list[str]) -> pd.Series:
        x = sel[sel.measure.isin(measures)].groupby("replicate").value.sum()
        return x.reindex(reps, fill_value=0.0)

    if t.kind == "share":
        num, den = total(_as_list(t.numerator)), total(_as_list(t.denominator))
        return (num / den.where(den > 0)).rename(t.id)
    return total([t.measure]).rename(t.id)


def _nb(mu: np.ndarray, k: float):
    mu = np.maximum(np.asarray(mu, dtype=float), 1e-9)
    return stats.nbinom(k, k / (k + mu))


def _fractions(t: Target, n: int) -> np.ndarray:
    """Grid of recorded fractions for an undercount (1 otherwise)."""
    pr = t.observation.undercount_prior
    if t.observation.type != "undercount" or pr is None:
        return np.ones(1)
    return pr.low + (pr.high - pr.low) * (np.arange(n) + 0.5) / n


def likelihood(t: Target, sim: np.ndarray, dispersion: float = DEFAULT_DISPERSION, sim_den: np.ndarray | None = None) -> float:
    """Predictive probability of the archival record given simulated values (a mixture over replicates)."""
    sim = np.asarray(sim, dtype=float)
    ok = np.isfinite(sim)
    if t.value is None or not ok.any():
        return float("nan")
    sim = sim[ok]
    o = t.observation
    if t.kind == "share":
        n = t.sample_size or 100
        p = np.clip(sim, 1e-6, 1 - 1e-6)
        if o.type == "interval":
            lo, hi = int(np.floor(o.low * n)), int(np.ceil(o.high * n))
            return float(np.mean(stats.binom.cdf(hi, n, p) - stats.binom.cdf(lo - 1, n, p)))
        return float(np.mean(stats.binom.pmf(int(round(t.value * n)), n, p)))
    f = _fractions(t, 21)
    mu = (sim[:, None] * f[None, :]).ravel()
    d = _nb(mu, dispersion)
    if o.type == "interval":
        pr = d.cdf(np.floor(o.high)) - d.cdf(np.ceil(o.low) - 1)
    elif o.type == "lower_bound":
        pr = d.sf(np.ceil(t.value) - 1)
    else:
        pr = d.pmf(int(round(t.value)))
    return float(np.mean(pr))


def predictive_draws(t: Target, sim: np.ndarray, rng: np.random.Generator, draws: int = 200,
                     dispersion: float = DEFAULT_DISPERSION) -> np.ndarray:
    """Draws of what the archive would have recorded, given the simulated values of the replicates."""
    sim = np.asarray(sim, dtype=float)
    sim = sim[np.isfinite(sim)]
    if len(sim) == 0:
        return np.array([np.nan])
    per = max(1, draws // len(sim))
    base = np.repeat(sim, per)
    if t.kind == "share":
        n = t.sample_size or 100
        return rng.binomial(n, np.clip(base, 0, 1)) / n
    if t.observation.type == "undercount":
        pr = t.observation.undercount_prior
        base = base * rng.uniform(pr.low, pr.high, size=len(base))
    mu = np.maximum(base, 1e-9)
    k = dispersion
    return rng.negative_binomial(k, k / (k + mu)).astype(float)


def compare(flows: pd.DataFrame, targets: list[Target], seed: int = 0, dispersion: float = DEFAULT_DISPERSION) -> pd.DataFrame:
    """Target-by-target comparison of a run with the archive (one row per target)."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 20260]))
    index = FlowIndex(flows)
    rows = []
    for t in targets:
        sim = index.value(t)
        draws = predictive_draws(t, sim, rng, dispersion=dispersion)
        q = np.nanquantile(draws, [0.05, 0.25, 0.5, 0.75, 0.95]) if np.isfinite(draws).any() else [np.nan] * 5
        obs = t.observed
        o = t.observation
        if obs is None:
            in50 = in90 = None
        elif o.type == "interval":
            in50 = bool(q[1] <= o.high and q[3] >= o.low)
            in90 = bool(q[0] <= o.high and q[4] >= o.low)
        elif o.type == "lower_bound":
            in50 = bool(q[3] >= obs)
            in90 = bool(q[4] >= obs)
        else:
            in50 = bool(q[1] <= obs <= q[3])
            in90 = bool(q[0] <= obs <= q[4])
        lik = likelihood(t, sim, dispersion)
        sim_med = float(np.nanmedian(sim)) if np.isfinite(sim).any() else np.nan
        rows.append(
            {
                "id": t.id,
                "role": t.role,
                "document": t.document,
                "region": t.region,
                "period": t.period.start if t.period.start == t.period.end else f"{t.period.start}..{t.period.end}",
                "kind": t.kind,
                "quantity": t.measure if t.kind != "share" else f"{'+'.join(_as_list(t.numerator))} / {'+'.join(_as_list(t.denominator))}",
                "unit": t.unit,
                "observation": o.type,
                "observed": obs,
                "observed_low": o.low if o.type == "interval" else None,
                "observed_high": o.high if o.type == "interval" else None,
                "simulated_median": sim_med,
                "predicted_median": q[2],
                "p05": q[0],
                "p25": q[1],
                "p75": q[3],
                "p95": q[4],
                "inside_50": in50,
                "inside_90": in90,
                "relative_error": (q[2] - obs) / obs if obs else None,
                "log_score": float(np.log(lik)) if lik and lik > 0 else (None if obs is None else -np.inf),
            }
        )
    return pd.DataFrame(rows)
