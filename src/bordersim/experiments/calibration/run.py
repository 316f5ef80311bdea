"""Running the calibration: history matching in waves with an emulator, and the posterior by MCMC.

``bordersim calibrate calibration/calibrate.yaml`` fits the free parameters of the configuration to the
calibration targets with :mod:`bordersim.inference`: wave 0 is a Sobol design over the prior; each wave
fits an emulator of every target's simulated quantity, rules out the implausible part of the
parameter space and samples the posterior of a Gaussian synthetic likelihood whose records are the
archive's own observation model (:func:`bordersim.archive.observation.record_for`); the next wave
simulates where the posterior is. It stops when the posterior has converged (or at the budget),
then checks the result with real runs (:mod:`.validation`: the posterior predictive check, leave one
source out) and writes the report (:mod:`.report`).

Simulations run on :class:`bordersim.experiments.executor.Executor` (local processes, a dask
``LocalCluster`` or an existing scheduler); every batch is written atomically into the run
directory before it counts, so ``--resume`` continues a killed calibration without redoing or
duplicating a simulation. Simulation ``i`` of wave ``k`` is seeded by ``SeedSequence([seed, k, i])``.
"""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

from ...inference import calibrate as run_engine
from ..executor import ExclusiveLock, Executor
from .report import write_outputs, write_report
from .setup import setup
from .validation import leave_one_out, posterior_predictive, sbc


def _log(msg: str) -> None:
    print(f"bordersim: calibrate: {msg}", file=sys.stderr, flush=True)


def calibrate(
    config_path: str | Path,
    resume: bool = False,
    force: bool = False,
    workers: int | None = None,
    local_cluster: int | None = None,
    scheduler: str | None = None,
    validate: bool = True,
) -> dict:
    """Run (or resume) the calibration; write the posterior, its summary, the checks and the report."""
    s = setup(config_path)
    run_root = s.root / s.cfg.run_dir
    run_root.mkdir(parents=True, exist_ok=True)
    busy = FileExistsError(f"{run_root}: another calibration is using this run directory")
    with ExclusiveLock(run_root / ".lock", busy):
        if s.run_dir.exists() and not (resume or force):
            raise FileExistsError(f"{s.run_dir} exists: use --resume to continue that calibration or --force to start again")
        if force and not resume:
            for child in run_root.iterdir():
                if child.is_dir():
                    shutil.rmtree(child)
        t0 = time.perf_counter()
        with Executor(workers=workers, local_cluster=local_cluster, scheduler=scheduler) as ex:
            pool = ex.start()
            _log(f"{len(s.space.names)} parameters, {len(s.targets)} targets, simulations on {ex.describe()}")
            result = run_engine(
                s.space,
                s.summaries(),
                s.records(),
                s.simulator,
                s.run_dir,
                seed=s.cfg.seed,
                settings=s.settings(),
                executor=pool,
                resume=True,
                log=_log,
            )
            wall = time.perf_counter() - t0
            write_outputs(s, result, wall)
            if validate:
                posterior_predictive(s, workers=workers)
    write_report(s.config_path)
    rep = result.report
    return {
        "stop_reason": rep["stop_reason"],
        "waves": rep["n_waves"],
        "simulations": rep["n_simulations"],
        "min_ess": round(float(rep["mcmc"]["min_ess"]), 1),
        "median_width_over_prior": round(float(rep["median_shrinkage"]), 3),
        "minutes": round(wall / 60, 1),
    }


def _checked_run(config_path, what: str):
    s = setup(config_path)
    run_root = s.root / s.cfg.run_dir
    if not (s.run_dir / "wave_0" / "design.parquet").exists():
        raise FileNotFoundError(f"{s.run_dir}: no calibration here yet; run `bordersim calibrate {config_path}` before {what}")
    return s, run_root


def calibrate_out_of_sample(
    config_path: str | Path, workers: int | None = None, local_cluster: int | None = None, scheduler=None
):
    """Leave one source out (``--loo``): refit without each source group of the configuration, from the
    calibration's own wave 0, and predict the group with real runs; writes ``loo/`` and the report."""
    s, run_root = _checked_run(config_path, "--loo")
    with ExclusiveLock(run_root / ".lock", FileExistsError(f"{run_root}: another calibration is using this run directory")):
        with Executor(workers=workers, local_cluster=local_cluster, scheduler=scheduler) as ex:
            table = leave_one_out(s, ex.start(), workers=workers)
    write_report(s.config_path)
    return {r.group: f"{r.held_out_inside_90} of {r.held_out_n} inside 90%" for r in table.itertuples()}


def calibrate_synthetic(
    config_path: str | Path, workers: int | None = None, local_cluster: int | None = None, scheduler=None
) -> dict:
    """Simulation-based calibration (``--sbc``): synthetic archives from the calibration's wave 0 (prior
    draws), each recalibrated at the configuration's reduced budget; writes ``sbc/`` and the report."""
    s, run_root = _checked_run(config_path, "--sbc")
    with ExclusiveLock(run_root / ".lock", FileExistsError(f"{run_root}: another calibration is using this run directory")):
        with Executor(workers=workers, local_cluster=local_cluster, scheduler=scheduler) as ex:
            coverage = sbc(s, ex.start())
    if (s.out_dir / "calibration_run.json").exists():
        write_report(s.config_path)
    return coverage["overall"]
