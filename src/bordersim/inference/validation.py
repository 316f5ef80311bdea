"""Checking the inference: posterior predictive of records, simulation-based calibration (parameter
recovery on synthetic archives), and leave-one-group-out.

* :func:`predict_records`: for posterior draws theta_s, a new simulation's summary is
  ``y_s ~ N(m(theta_s), v(theta_s))`` (the emulator), and the archive's figure is drawn from the
  record's observation model given ``y_s`` (:meth:`Record.observe`). Reported per record: the
  predictive quantiles on the record's natural scale, whether the observation is inside the 90%
  interval (a range record: whether the predictive median is inside the archive's range, and the
  probability that the prediction is), the PIT, the interval score (on the transformed scale, so
  that it is comparable across counts of any size) and the log predictive density (the record's
  own likelihood averaged over the posterior: for held-out records, an out-of-sample score).
* :func:`sbc`: wave 0 is a prior design, independent of the records, so each of its simulations
  is an exact draw (theta_i, y_i) from prior x model. A synthetic archive takes the records' types
  and noise and replaces their values by the observation model's draw given ``y_i``
  (:meth:`RecordSet.synthesize`). Each synthetic archive is calibrated from wave 0 minus that run
  (and its replicate), at the given (reduced) budget, with the real simulator for later waves. If
  the inference is calibrated, the truth falls in the central 50% / 90% credible intervals 50% /
  90% of the time, and its posterior rank is uniform.
* :func:`leave_one_group_out`: calibrate without one group of records (from the shared wave 0),
  and predict the held-out group (from the emulator here; the caller should confirm with real
  simulations at posterior draws).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import binom

from .engine import calibrate, import_wave0, run_wave0
from .params import ParamSpace
from .records import RecordSet
from .summaries import Summary
from .waves import _Run


@dataclass
class SBCResult:
    table: pd.DataFrame  # one row per archive x parameter
    coverage: dict
    runs: list


def _coverage_summary(table: pd.DataFrame, names: list[str]) -> dict:
    n = int(table["archive"].nunique())
    out = {"n_archives": n, "per_parameter": {}, "overall": {}}
    for nm in names:
        t = table[table["parameter"] == nm]
        out["per_parameter"][nm] = {
            "coverage50": float(t["inside50"].mean()),
            "coverage90": float(t["inside90"].mean()),
            "mean_rank": float(t["rank"].mean()),
        }
    tot = len(table)
    for lev in (50, 90):
        k = int(table[f"inside{lev}"].sum())
        lo, hi = binom.ppf([0.025, 0.975], tot, lev / 100.0) / max(tot, 1)
        out["overall"][f"coverage{lev}"] = k / max(tot, 1)
        out["overall"][f"expected_range{lev}"] = [float(lo), float(hi)]
    out["overall"]["n_intervals"] = tot
    out["overall"]["note"] = (
        "intervals of one archive are not independent across parameters: the binomial range is a guide, not a test"
    )
    return out


def sbc(
    space,
    summaries: Sequence[Summary],
    records,
    simulate,
    run_dir,
    *,
    n_archives: int = 10,
    seed: int = 0,
    settings=None,
    executor=None,
    log=None,
) -> SBCResult:
    """Simulation-based calibration on ``n_archives`` synthetic archives (see the module docstring)."""

    run_dir = Path(run_dir)
    space = space if isinstance(space, ParamSpace) else ParamSpace(space)
    rs = records if isinstance(records, RecordSet) else RecordSet(records, list(summaries))
    base = run_dir / "wave0"
    df0 = run_wave0(space, summaries, simulate, base, seed=seed, settings=settings, executor=executor, log=log)
    helper = _Run(space, summaries, rs, simulate, base, seed, settings, None, True, log)
    U0, Y0 = helper.arrays(df0)
    used = rs.used_summaries()
    ok = (df0["replicate_of"].to_numpy() < 0) & np.isfinite(Y0[:, used]).all(1)
    cand = np.flatnonzero(ok)
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 5150]))
    pick = rng.choice(cand, min(n_archives, len(cand)), replace=False)
    rows, runs = [], []
    for a, i in enumerate(pick):
        idx_i = int(df0["index"].iloc[i])
        twins = df0.loc[df0["replicate_of"] == idx_i, "index"].astype(int).tolist()
        dst = run_dir / f"archive_{a:02d}"
        if not (dst / "wave_0" / "design.parquet").exists():
            import_wave0(base, dst, [idx_i] + twins)
        synth = rs.synthesize(Y0[i], np.random.default_rng(np.random.SeedSequence([int(seed), 5151, a])))
        res = calibrate(
            space,
            summaries,
            synth,
            simulate,
            dst,
            seed=int(seed) * 1000 + a + 1,
            settings=settings,
            executor=executor,
            resume=True,
            log=log,
        )
        pu = res.posterior_u
        q = np.quantile(pu, [0.05, 0.25, 0.75, 0.95], axis=0)
        truth = U0[i]
        for j, nm in enumerate(space.names):
            rows.append(
                {
                    "archive": a,
                    "truth_index": idx_i,
                    "parameter": nm,
                    "truth_u": float(truth[j]),
                    "truth": float(space.natural_from_unit(truth[None])[0, j]),
                    "median": float(space.natural_from_unit(np.median(pu, 0)[None])[0, j]),
                    "inside50": bool(q[1, j] <= truth[j] <= q[2, j]),
                    "inside90": bool(q[0, j] <= truth[j] <= q[3, j]),
                    "rank": float(np.mean(pu[:, j] < truth[j])),
                    "stop_reason": res.report["stop_reason"],
                    "n_simulations": res.report["n_simulations"],
                }
            )
        runs.append(
            {
                "archive": a,
                "truth_index": idx_i,
                "stop_reason": res.report["stop_reason"],
                "n_simulations": res.report["n_simulations"],
                "min_ess": res.report["mcmc"]["min_ess"],
            }
        )
    table = pd.DataFrame(rows)
    return SBCResult(table, _coverage_summary(table, space.names), runs)


def leave_one_group_out(
    space,
    summaries: Sequence[Summary],
    records,
    simulate,
    run_dir,
    *,
    groups=None,
    seed: int = 0,
    settings=None,
    executor=None,
    log=None,
) -> dict:
    """For each record group: calibrate without it (from a shared wave 0) and predict it.

    Returns ``{group: {"result": CalibrationResult, "predictions": DataFrame, "summary": dict}}``.
    """

    run_dir = Path(run_dir)
    rs = records if isinstance(records, RecordSet) else RecordSet(records, list(summaries))
    groups = list(groups) if groups is not None else rs.groups
    base = run_dir / "wave0"
    run_wave0(space, summaries, simulate, base, seed=seed, settings=settings, executor=executor, log=log)
    out = {}
    for g in groups:
        dst = run_dir / f"without_{g}"
        if not (dst / "wave_0" / "design.parquet").exists():
            import_wave0(base, dst)
        fit_rs = rs.subset(exclude_groups=[g])
        held = rs.subset(groups=[g])
        res = calibrate(
            space, summaries, fit_rs, simulate, dst, seed=seed, settings=settings, executor=executor, resume=True, log=log
        )
        pred = res.predict_records(held)
        em = pred[pred["emulated"]] if "emulated" in pred else pred
        summ = {
            "n_records": int(len(held)),
            "coverage90": float(em["inside90"].mean()) if len(em) else math.nan,
            "median_abs_rel_error": float(em["rel_error_median"].abs().median())
            if "rel_error_median" in em and em["rel_error_median"].notna().any()
            else math.nan,
            "mean_interval_score90": float(em["interval_score90"].mean())
            if "interval_score90" in em and em["interval_score90"].notna().any()
            else math.nan,
            "mean_log_pred_density": float(em["log_pred_density"].mean()) if len(em) else math.nan,
            "stop_reason": res.report["stop_reason"],
        }
        out[g] = {"result": res, "predictions": pred, "summary": summ}
    return out
