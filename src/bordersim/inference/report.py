"""The outputs of a calibration run: the posterior, its summary table and the run report.

:func:`finish` writes ``posterior.parquet`` (generation, weight, one column per parameter, natural
scale), ``posterior_summary.csv`` (:func:`summary_table`) and ``run_report.json`` (why the run
stopped, every wave's diagnostics, the final emulator and MCMC, the posterior's correlations, the
residual correlations between record summaries, the records' posterior predictive fit), and
returns the :class:`CalibrationResult`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..io import jsonable, write_json, write_parquet, write_text
from .emulator import PolyEmulator
from .mcmc import MCMCResult
from .nroy import Cascade
from .params import ParamSpace
from .predict import predict_records
from .records import Record, RecordSet
from .settings import Settings
from .summaries import Summary


@dataclass
class CalibrationResult:
    space: ParamSpace
    summaries: list[Summary]
    records: RecordSet
    posterior: pd.DataFrame
    posterior_u: np.ndarray
    summary: pd.DataFrame
    report: dict
    emulator: PolyEmulator
    cascade: list
    run_dir: Path
    mcmc: MCMCResult | None = None
    data: pd.DataFrame | None = field(default=None, repr=False)

    def predict_records(
        self, records: RecordSet | Sequence[Record] | None = None, n_draws: int = 2000, seed: int = 0
    ) -> pd.DataFrame:
        """Posterior predictive of ``records`` (default: the fitted ones) from the emulator."""
        rs = (
            records
            if isinstance(records, RecordSet)
            else RecordSet(records if records is not None else self.records.records, self.summaries)
        )
        return predict_records(self.emulator, rs, self.posterior_u, n_draws=n_draws, seed=seed)


def summary_table(space: ParamSpace, post_u: np.ndarray) -> pd.DataFrame:
    """Median, 50% and 90% intervals (natural scale), and 90% width / prior width (working scale)."""
    W = space.working_from_unit(post_u)
    N = space.natural_from_unit(post_u)
    rows = []
    for j, prm in enumerate(space.params):
        qn = np.quantile(N[:, j], [0.05, 0.25, 0.5, 0.75, 0.95])
        qw = np.quantile(W[:, j], [0.05, 0.95])
        rows.append(
            {
                "parameter": prm.name,
                "median": qn[2],
                "q05": qn[0],
                "q25": qn[1],
                "q75": qn[3],
                "q95": qn[4],
                "mean": float(N[:, j].mean()),
                "sd": float(N[:, j].std()),
                "prior_low": prm.low,
                "prior_high": prm.high,
                "log": prm.log,
                "width90_over_prior": float((qw[1] - qw[0]) / space.working_width[j]),
            }
        )
    return pd.DataFrame(rows)


def finish(
    run, k: int, waves: list[dict], cur: dict, cascade: Cascade, stop: str, detail: str, df: pd.DataFrame
) -> CalibrationResult:
    """The outputs of a run that stopped after wave ``k`` (``cur``: that wave's state; ``waves``: the
    analyses of waves 0..k; ``df``: all simulations), written to the run directory."""
    post_u = cur["posterior_u"]
    nat = run.space.natural_from_unit(post_u)
    posterior = pd.DataFrame(
        {
            "generation": np.full(len(post_u), k, int),
            "weight": np.ones(len(post_u)),
            **{nm: nat[:, j] for j, nm in enumerate(run.space.names)},
        }
    )
    summary = summary_table(run.space, post_u)
    final = waves[-1]
    names = run.space.names
    W = run.space.working_from_unit(post_u)
    corr = np.corrcoef(W.T).reshape(run.p, run.p) if run.p > 1 else np.ones((1, 1))
    emu = cur["emulator"]
    rs = cur["records"]
    top = _residual_correlation_top(run, df, emu, rs, cascade)
    fit = _record_fit(emu, rs, post_u, run.seed)
    report = {
        "method": "history matching in waves with a polynomial-ridge emulator; "
        "Gaussian synthetic likelihood sampled by ensemble MCMC on the emulator",
        "stop_reason": stop,
        "stop_detail": detail,
        "converged": stop == "converged",
        "final_wave": k,
        "n_waves": k + 1,
        "n_simulations": int(final["n_total"]),
        "wall_seconds_this_invocation": time.perf_counter() - run.t0,
        "seed": run.seed,
        "settings": {**run.s.design_dict(), **{b: getattr(run.s, b) for b in Settings.BUDGET}},
        "cutoff": run.cutoff,
        "nroy_fraction": final["nroy_fraction"],
        "records_used": rs.ids,
        "records_dropped": final["records_dropped"],
        "waves": [_wave_entry(w) for w in waves],
        "emulator_final": final["emulator"],
        "mcmc": final["mcmc"],
        "posterior": final["posterior"],
        "posterior_correlation": {"names": names, "matrix": corr.tolist()},
        "shrinkage_width90_over_prior": {nm: final["posterior"][nm]["width90_ratio"] for nm in names},
        "median_shrinkage": float(np.median([final["posterior"][nm]["width90_ratio"] for nm in names])),
        "record_residual_correlation_top": top,
        "record_fit": fit,
    }
    report = jsonable(report)
    root = run.store.root
    write_parquet(root / "posterior.parquet", posterior)
    write_text(root / "posterior_summary.csv", summary.to_csv(index=False))
    write_json(root / "run_report.json", report)
    return CalibrationResult(
        run.space, run.summaries, rs, posterior, post_u, summary, report, emu, cascade.items, root, run.last_mcmc, df
    )


def _wave_entry(w: dict) -> dict:
    """One wave's summary in the run report."""
    return {
        "wave": w["wave"],
        "n_new": w["n_new"],
        "n_total": w["n_total"],
        "n_train": w["n_train"],
        "nroy_fraction": w["nroy_fraction"],
        "nroy_empty": w["nroy_empty"],
        "emulator_loo_rmse": {d["summary"]: d["loo_rmse"] for d in w["emulator"]},
        "emulator_r2_loo": {d["summary"]: d["r2_loo"] for d in w["emulator"]},
        "emulator_check": w["emulator_check"],
        "emulator_check_ok": w["emulator_check_ok"],
        "posterior_median": {nm: v["median"] for nm, v in w["posterior"].items()},
        "posterior_width90_ratio": {nm: v["width90_ratio"] for nm, v in w["posterior"].items()},
        "posterior_changes": w["posterior_changes"],
        "posterior_stable": w["posterior_stable"],
        "mcmc": {kk: w["mcmc"][kk] for kk in ("min_ess", "max_rhat", "acceptance", "steps", "converged")},
        "seconds": w["seconds"],
    }


def _residual_correlation_top(run, df: pd.DataFrame, emu: PolyEmulator, rs: RecordSet, cascade: Cascade) -> list[dict]:
    """The 10 largest residual correlations between record summaries (the independence check) of
    the final emulator, on the training runs inside NROY (of the waves before the last)."""
    U, Y = run.arrays(df)
    used = rs.used_summaries()
    M, V = emu.predict(U)
    Zr = (Y - M) / np.sqrt(V)
    inside = cascade.ok(U, max(len(cascade) - 1, 0)) if len(cascade) else np.ones(len(U), bool)
    Zu = Zr[inside][:, used]
    ok_rows = np.isfinite(Zu).all(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        rc = np.corrcoef(Zu[ok_rows].T) if ok_rows.sum() > 3 and len(used) > 1 else np.eye(len(used))
    off = np.abs(rc - np.eye(len(used))) if len(used) > 1 else np.zeros((1, 1))
    top = []
    if len(used) > 1:
        iu = np.triu_indices(len(used), 1)
        order = np.argsort(-np.nan_to_num(off[iu]))[:10]
        top = [
            {"a": run.snames[used[iu[0][o]]], "b": run.snames[used[iu[1][o]]], "corr": float(rc[iu[0][o], iu[1][o]])}
            for o in order
        ]
    return top


def _record_fit(emu, rs, post_u, seed: int) -> list[dict]:
    if not len(rs):
        return []
    pr = predict_records(emu, rs, post_u, n_draws=min(2000, len(post_u)), seed=seed)
    return pr.to_dict(orient="records")
