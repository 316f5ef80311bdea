"""The fit table: target by target, how close a run is to the archive and how sure.

:func:`compare` reads each target's quantity in every replicate (:mod:`.extract`), draws what the
archive would have recorded through the observation model (:mod:`.observation`: several draws per
replicate, from a generator seeded by the fit's seed, so the intervals include observation noise and
the undercount as well as the model's stochasticity), and tabulates observed value, predicted record,
50% and 90% intervals, inside or not, relative error and log score. The report (``fit.md``, figures)
is written by :mod:`.report`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .extract import FlowIndex
from .observation import QUANTILES, inside, log_score, predictive_draws, relative_error, scores
from .targets import Target, as_list

#: The fit table's columns (fit.csv), in order.
FIT_COLUMNS = (
    "id role group document region period kind quantity unit observation observed observed_low observed_high "
    "simulated_median predicted_median p05 p25 p75 p95 inside_50 inside_90 relative_error width90_rel wide_only "
    "log_score pit crps_rel interval_score_rel"
).split()


def summary_line(fit: pd.DataFrame, role: str = "calibration") -> str:
    """Coverage with sharpness and error: inside 90% (and 50%), how many only because wide, the median
    relative error and the median 90% width over the figure of the count targets."""
    f = fit[(fit.role == role) & fit.observed.notna()]
    n = len(f)
    k = int(f.inside_90.astype(bool).sum())
    k50 = int(f.inside_50.astype(bool).sum())
    wide = int(f.wide_only.astype(bool).sum()) if "wide_only" in f else 0
    med = float(np.nanmedian(np.abs(f.relative_error.astype(float)))) if n else float("nan")
    counts = f[f.kind.isin(["flow", "stock"])]
    width = float(np.nanmedian(counts.width90_rel.astype(float))) if len(counts) and "width90_rel" in f else float("nan")
    return (
        f"{k} of {n} {role} targets inside their 90% interval ({k50} inside 50%; {wide} of them only because the "
        f"interval is wide); median |relative error| {med:.0%}; median 90% width / observed of the count targets {width:.2f}"
    )


def ablation_table(base: pd.DataFrame, ablated: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """For each ablation: calibration targets it breaks (inside 90% with the mechanism, outside without)."""
    b = base[(base.role == "calibration") & base.observed.notna()].set_index("id")
    rows = []
    for name, fit in ablated.items():
        a = fit[(fit.role == "calibration") & fit.observed.notna()].set_index("id").reindex(b.index)
        broken = [i for i in b.index if b.inside_90[i] and not a.inside_90[i]]
        repaired = [i for i in b.index if not b.inside_90[i] and a.inside_90[i]]
        lb = b.log_score.astype(float).clip(lower=-1e3).sum()
        la = a.log_score.astype(float).clip(lower=-1e3).sum()
        rows.append(
            {
                "ablation": name,
                "broken": ", ".join(f"`{i}`" for i in broken),
                "n_broken": len(broken),
                "repaired": ", ".join(f"`{i}`" for i in repaired),
                "inside_90": f"{int(a.inside_90.sum())} of {len(a)}",
                "delta_log_score": float(la - lb),
            }
        )
    return pd.DataFrame(rows)


def jilin_fates(flows: pd.DataFrame) -> pd.DataFrame:
    """Doc 6's breakdown of Jilin's 1961 crossers, computed the same way from the model (median over replicates)."""
    index = FlowIndex(flows)

    def q(measure, start, end):
        return index.total("jilin", [measure], start, end)

    disc = q("detected", "1961-01", "1961-12")
    parts = {
        "convinced to return (stopped)": q("stopped", "1961-01", "1961-12"),
        "returned on own initiative": q("returned_own_of_discovered", "1961-01", "1961-12"),
        "sent back by the DPRK": q("sent_back_of_discovered", "1961-01", "1961-12"),
        "still in the DPRK": q("in_north_korea_of_discovered", "1962-02", "1962-02"),
    }
    rest = disc - sum(parts.values())
    model = {k: float(np.median(v)) for k, v in parts.items()}
    model["unexplained (discovered minus the four)"] = float(np.median(rest))
    archive = {
        "convinced to return (stopped)": 7939,
        "returned on own initiative": 7528,
        "sent back by the DPRK": 2361,
        "still in the DPRK": 7034,
        "unexplained (discovered minus the four)": 28028 - 24862,
    }
    return pd.DataFrame({"archive (Doc 6)": archive, "model (median)": model})


def covered(targets: list[Target], months) -> list[Target]:
    """The targets whose period meets the run's ``months``: only those are compared (a run of the 1990s says
    nothing of 1961, nor a run of 1960-62 of the 1990s validation targets)."""
    months = list(months)
    if not months:
        return []
    lo, hi = min(months), max(months)
    return [t for t in targets if t.period.start <= hi and t.period.end >= lo]


def compare(flows: pd.DataFrame, targets: list[Target], seed: int = 0) -> pd.DataFrame:
    """The fit table: target-by-target comparison of a run with the archive (one row per target).

    Beside the predicted record's quantiles: whether the figure is inside them, the relative error of the
    median, the sharpness (``width90_rel``: the 90% interval's width over the figure), ``wide_only``
    (inside only because the interval is wide: more than 50% off, or wider than twice the figure), the
    log score, the PIT, the CRPS and the 90% interval score (both relative to the figure). Targets whose period
    the run does not cover are left out (:func:`covered`).
    """
    rng = np.random.default_rng(np.random.SeedSequence([seed, 20260]))
    index = FlowIndex(flows)
    rows = []
    for t in covered(targets, index.months):
        sim = index.value(t)
        draws = predictive_draws(t, sim, rng)
        q = np.nanquantile(draws, QUANTILES) if np.isfinite(draws).any() else [np.nan] * 5
        obs = t.observed
        o = t.observation
        in50, in90 = inside(t, q)
        sim_med = float(np.nanmedian(sim)) if np.isfinite(sim).any() else np.nan
        err = relative_error(t, q[2])
        width = (q[4] - q[0]) / obs if obs else None
        rows.append(
            {
                "id": t.id,
                "role": t.role,
                "group": t.group,
                "document": t.document,
                "region": t.region,
                "period": t.period.start if t.period.start == t.period.end else f"{t.period.start}..{t.period.end}",
                "kind": t.kind,
                "quantity": t.measure
                if t.kind != "share"
                else f"{'+'.join(as_list(t.numerator))} / {'+'.join(as_list(t.denominator))}",
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
                "relative_error": err,
                "width90_rel": width,
                "wide_only": None if obs is None else bool(in90 and (abs(err) > 0.5 or (width or 0) > 2.0)),
                "log_score": log_score(t, sim) if obs is not None else None,
                **scores(t, draws),
            }
        )
    # a run that covers no target's period (a 1990s run cut short) has an empty table with the same columns
    return pd.DataFrame(rows) if rows else pd.DataFrame(columns=FIT_COLUMNS)
