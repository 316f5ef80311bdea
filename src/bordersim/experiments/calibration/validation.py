"""Checking a calibration with real runs: the posterior predictive check, leave one source out, and
simulation-based calibration (parameter recovery).

* :func:`posterior_predictive`: the scenario run with parameters drawn from the posterior (each
  replicate its own draw), every target compared with the archive (``ppc/``: the fit report).
* :func:`leave_one_out`: for each source group of the configuration (e.g. Doc 5's Liaoning counts,
  Doc 4's Lishu, Doc 6's legal channel), the calibration is refitted without that group's targets,
  starting from the full run's wave 0 (it does not depend on the targets), and the held-out targets
  are predicted twice: from the emulator, and with real runs of the scenario at the refitted
  posterior's draws (``loo/<group>/``). Per group: coverage, median error, interval score and CRPS.
* :func:`sbc`: synthetic archives drawn from the model and its observation model at known parameters
  (wave 0's simulations), each recalibrated at a reduced budget; how often the truth falls inside
  the 50% and 90% credible intervals (``sbc/``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ...archive.report import write_fit
from ...inference import leave_one_group_out
from ...inference import sbc as engine_sbc
from ...io import atomic_dir, write_json, write_parquet, write_text
from ...world.loader import validate_scenario
from ..outputs import write_flows
from ..replicates import run_replicates
from .setup import CalibrationSetup


def path_posterior(s: CalibrationSetup, posterior: pd.DataFrame) -> pd.DataFrame:
    """The engine's posterior (columns: parameter names) with scenario paths as columns, as scenarios read it."""
    return posterior.rename(columns={name: p.path for name, p in s.cfg.parameters.items()})


def run_with_posterior(
    s: CalibrationSetup, posterior_file: Path, out: Path, replicates: int, scale: float, title: str, workers=None
) -> pd.DataFrame:
    """Run the calibrated scenario with parameters drawn from ``posterior_file``; write flows and the fit
    report (every target) into ``out``; return the fit table."""
    data = dict(s.base)
    data["posterior"] = {"file": str(Path(posterior_file).resolve()), "mode": "draw"}
    data["run"] = {**data["run"], "replicates": replicates, "scale": scale}
    sc = validate_scenario(data, s.scenario_path)
    results = run_replicates(sc, workers=workers or 2, progress=True, source=str(s.scenario_path))
    flows = pd.concat([r.flows for r in results], ignore_index=True)
    fit_box = {}

    def fill(tmp: Path) -> None:
        write_flows(flows, tmp / "flows.csv")
        write_json(
            tmp / "manifest.json",
            {"scenario": sc.model_dump(mode="json", by_alias=True), "scenario_file": str(s.scenario_path), "seed": sc.run.seed},
        )
        fit_box["fit"] = write_fit(flows, tmp, s.targets_file, seed=sc.run.seed, title=title)

    atomic_dir(out, fill, force=True)
    return fit_box["fit"]


def posterior_predictive(s: CalibrationSetup, workers=None) -> pd.DataFrame:
    """The posterior predictive check (``ppc/``)."""
    ppc = s.cfg.posterior_predictive
    name = s.base.get("name", "scenario")
    return run_with_posterior(
        s,
        s.out_dir / "posterior.parquet",
        s.out_dir / "ppc",
        ppc.replicates,
        ppc.scale,
        f"{name}: posterior predictive check",
        workers,
    )


def group_scores(fit: pd.DataFrame) -> dict:
    """Coverage, median error, interval score and CRPS of a set of targets (rows of a fit table)."""
    f = fit[fit.observed.notna()]
    if not len(f):
        return {"n": 0}
    return {
        "n": int(len(f)),
        "inside_90": int(f.inside_90.astype(bool).sum()),
        "coverage_90": float(f.inside_90.astype(bool).mean()),
        "median_abs_relative_error": float(np.nanmedian(np.abs(f.relative_error.astype(float)))),
        "median_width90_rel": float(np.nanmedian(f.width90_rel.astype(float))),
        "median_interval_score_rel": float(np.nanmedian(f.interval_score_rel.astype(float))),
        "median_crps_rel": float(np.nanmedian(f.crps_rel.astype(float))),
    }


def leave_one_out(s: CalibrationSetup, executor, workers=None) -> pd.DataFrame:
    """Refit without each source group; predict it from the emulator and with real runs (``loo/``)."""
    cfg = s.cfg.leave_one_out
    res = leave_one_group_out(
        s.space,
        s.summaries(),
        s.records(),
        s.simulator,
        s.root / s.cfg.run_dir,
        groups=cfg.groups,
        seed=s.cfg.seed,
        settings=s.settings(n_wave=cfg.n_wave, max_waves=cfg.max_waves),
        executor=executor,
    )
    rows = []
    for group, r in res.items():
        out = s.out_dir / "loo" / group
        out.mkdir(parents=True, exist_ok=True)
        post_file = out / "posterior.parquet"
        write_parquet(post_file, path_posterior(s, r["result"].posterior))
        write_text(out / "emulator_predictions.csv", r["predictions"].to_csv(index=False, float_format="%.6g"))
        fit = run_with_posterior(s, post_file, out / "run", cfg.replicates, cfg.scale, f"fitted without {group}", workers)
        held = fit[fit.group == group]
        rows.append(
            {
                "group": group,
                "stop_reason": r["result"].report["stop_reason"],
                "emulator_coverage_90": r["summary"]["coverage90"],
                **{f"held_out_{k}": v for k, v in group_scores(held).items()},
            }
        )
    table = pd.DataFrame(rows)
    write_text(s.out_dir / "loo" / "loo.csv", table.to_csv(index=False, float_format="%.4g"))
    return table


def sbc(s: CalibrationSetup, executor) -> dict:
    """Simulation-based calibration at the configuration's reduced budget (``sbc/``)."""
    cfg = s.cfg.sbc
    res = engine_sbc(
        s.space,
        s.summaries(),
        s.records(),
        s.simulator,
        s.root / s.cfg.run_dir,
        n_archives=cfg.archives,
        seed=s.cfg.seed,
        settings=s.settings(n_wave=cfg.n_wave, max_waves=cfg.max_waves),
        executor=executor,
    )
    out = s.out_dir / "sbc"
    write_text(out / "sbc.csv", res.table.to_csv(index=False, float_format="%.6g"))
    write_json(out / "sbc.json", {"coverage": res.coverage, "runs": res.runs})
    return res.coverage


def pit_values(fit: pd.DataFrame) -> np.ndarray:
    """The PITs of the point targets of a fit table (ranges and bounds have none)."""
    f = fit[fit.observed.notna() & fit.observation.isin(["exact", "undercount"])]
    return f.pit.astype(float).to_numpy()
