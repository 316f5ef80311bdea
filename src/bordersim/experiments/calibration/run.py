"""Running the calibration: an ABC-SMC posterior over the behavioural parameters (pyabc).

``bordersim calibrate calibration/abc.yaml`` runs pyabc's ABC-SMC with the simulator of
:mod:`.simulator` and the distance of :mod:`.distance` (the observation model's standardized
discrepancies). Particles run in this process (``--single-core``), on local processes, or on the
package's dask executor (``--local-cluster N``, ``--scheduler tcp://HOST:PORT``:
:class:`bordersim.experiments.executor.Executor`); ``--resume`` continues a killed run from pyabc's
SQLite history, which an exclusive lock keeps to one calibration at a time.

pyabc draws its particles from numpy's global generator; ``--seed`` with ``--single-core`` seeds it
(only there) so that a calibration can be repeated exactly. The model itself never uses global
random state.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import os
import sqlite3
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...archive.targets import Target, load_targets
from ...errors import ScenarioError
from ...world.loader import read_with_extends, validate_scenario
from ..executor import ExclusiveLock, Executor
from .config import ABCConfig, Prior, load_config
from .distance import ObservationDistance
from .report import posterior_predictive, write_outputs, write_report
from .simulator import Simulator


@dataclass
class CalibrationSetup:
    """Everything a calibration needs, checked before anything runs."""

    cfg: ABCConfig
    base: dict
    scenario_path: Path
    targets: list[Target]
    all_targets: list[Target]
    targets_file: Path
    simulator: Simulator
    distance: ObservationDistance
    observed: dict[str, float]


def _fitted_targets(cfg: ABCConfig, all_targets: list[Target], config_path: Path) -> list[Target]:
    if cfg.targets == "calibration":
        return [t for t in all_targets if t.role == "calibration"]
    by_id = {t.id: t for t in all_targets}
    missing = [i for i in cfg.targets if i not in by_id]
    if missing:
        raise ScenarioError(config_path, f"targets: unknown target ids {missing}")
    targets = [by_id[i] for i in cfg.targets]
    bad = [t.id for t in targets if t.role != "calibration" or t.value is None]
    if bad:
        raise ScenarioError(config_path, f"targets: not calibration targets (validation figures are never fitted): {bad}")
    return targets


def setup(config_path: Path) -> CalibrationSetup:
    """Read and check the configuration, its scenario and targets; build the simulator and the distance."""
    config_path = Path(config_path)
    cfg = load_config(config_path)
    root = config_path.parent
    sc_path = root / cfg.scenario
    base = read_with_extends(sc_path)
    base.pop("extends", None)
    base.pop("posterior", None)  # particles set the parameters themselves, never drawn from an old posterior
    sc = validate_scenario(base, sc_path)
    tfile = root / cfg.targets_file if cfg.targets_file else (sc_path.parent / sc.targets if sc.targets else None)
    if tfile is None:
        raise ScenarioError(config_path, "targets_file: the scenario names no targets; give targets_file")
    all_targets = load_targets(tfile)
    targets = _fitted_targets(cfg, all_targets, config_path)
    # Every prior path must be a valid scenario field: try the prior's midpoint once, before anything runs.
    sim = Simulator(base, sc_path, cfg.parameters, targets, cfg.scale, cfg.seed)
    mid = {k: (p.low + p.high) / 2 for k, p in cfg.parameters.items()}
    try:
        sim.scenario(mid)
    except (KeyError, IndexError, TypeError, ValueError) as err:
        raise ScenarioError(config_path, f"parameters: a path does not exist in the scenario ({err})") from None
    except ScenarioError as err:
        raise ScenarioError(config_path, f"parameters: {err.message}") from None
    observed = {t.id: t.observed for t in targets}
    return CalibrationSetup(
        cfg, base, sc_path, targets, all_targets, tfile, sim, ObservationDistance(targets, cfg.dispersion), observed
    )


def _prior(priors: dict[str, Prior]):
    import pyabc

    rvs = {}
    for name, p in priors.items():
        lo, hi = (math.log10(p.low), math.log10(p.high)) if p.dist == "loguniform" else (p.low, p.high)
        rvs[name] = pyabc.RV("uniform", lo, hi - lo)
    return pyabc.Distribution(**rvs)


def _patch_pyabc() -> None:
    """pyabc 0.13 reads the previous epsilon with ``DataFrame.loc``, which pandas 3 can return as a
    Series; read it as the last float recorded for that generation instead."""
    import pyabc.inference.smc as smc

    def eps_from_hist(history, t=None):
        pops = history.get_all_populations()
        if len(pops) == 0 or (t is not None and t not in pops.t.values):
            return None
        col = pops.epsilon if t is None else pops.loc[pops.t == t, "epsilon"]
        return float(col.to_numpy()[-1])

    smc.eps_from_hist = eps_from_hist


def _sampler(executor: Executor | None, single_core: bool, workers: int | None):
    """pyabc's sampler: on the executor's dask client, in this process, or on local processes."""
    import pyabc

    if executor is not None:
        return pyabc.sampler.DaskDistributedSampler(dask_client=executor.dask_client(), batch_size=4)
    if single_core:
        return pyabc.sampler.SingleCoreSampler()
    return pyabc.sampler.MulticoreEvalParallelSampler(n_procs=workers or os.cpu_count() or 1)


def calibrate(
    config_path: str | Path,
    resume: bool = False,
    force: bool = False,
    single_core: bool = False,
    local_cluster: int | None = None,
    scheduler: str | None = None,
    workers: int | None = None,
    write: bool = True,
    ppc: bool = True,
) -> dict:
    """Run (or resume) the ABC-SMC calibration; write the posterior, its summary, figures and the PPC."""
    config_path = Path(config_path)
    s = setup(config_path)
    out_dir = config_path.parent / s.cfg.output_dir
    db = (config_path.parent / s.cfg.database).resolve()
    busy = FileExistsError(f"{db.with_name(db.name + '.lock')}: another calibration is using this database")
    with ExclusiveLock(db.with_name(db.name + ".lock"), busy):
        if db.exists() and not (resume or force):
            raise FileExistsError(f"{db} exists: use --resume to continue that calibration or --force to start again")
        if force and db.exists() and not resume:
            db.unlink()
        dask = Executor(local_cluster=local_cluster, scheduler=scheduler) if (scheduler or local_cluster) else None
        try:
            history, wall = _run_abc(s, db, resume, _sampler(dask, single_core, workers), single_core)
        finally:
            if dask is not None:
                dask.close()
    info = run_info(history, wall, s.cfg)
    if write:
        write_outputs(history, s.cfg, out_dir, info)
        if ppc:
            posterior_predictive(config_path, out_dir)
        write_report(config_path)
    return info


def _run_abc(s: CalibrationSetup, db: Path, resume: bool, sampler, single_core: bool):
    """Create or load the ABC-SMC run in ``db`` and run the generations still to do; returns (history, seconds)."""
    import pyabc

    _patch_pyabc()
    cfg = s.cfg
    logging.getLogger("ABC").setLevel(logging.INFO)  # pyabc's progress: generation, epsilon, acceptance, timing
    if single_core:
        np.random.seed(cfg.seed)  # pyabc samples particles from numpy's global generator
    abc = pyabc.ABCSMC(
        s.simulator,
        _prior(cfg.parameters),
        pyabc.distance.FunctionDistance(s.distance),
        population_size=cfg.population_size,
        sampler=sampler,
        transitions=pyabc.MultivariateNormalTransition(scaling=cfg.kernel_scaling),
    )
    t0 = time.perf_counter()
    if resume and db.exists():
        abc.load(f"sqlite:///{db}", _last_run_id(db))
        done = abc.history.n_populations
        print(f"bordersim: resuming {db.name}: {done} generation(s) done", file=sys.stderr)
    else:
        abc.new(f"sqlite:///{db}", s.observed)
        done = 0
    remaining = max(0, cfg.stopping.max_generations - done)
    if remaining:
        spent = abc.history.total_nr_simulations if done else 0
        history = abc.run(
            minimum_epsilon=cfg.stopping.min_epsilon,
            max_nr_populations=remaining,
            max_total_nr_simulations=max(1, cfg.stopping.max_simulations - spent),
            max_walltime=dt.timedelta(minutes=cfg.stopping.max_walltime_minutes),
        )
    else:
        history = abc.history
    return history, time.perf_counter() - t0


def _last_run_id(db: Path) -> int:
    with sqlite3.connect(db) as con:
        row = con.execute("SELECT max(id) FROM abc_smc").fetchone()
    if not row or row[0] is None:
        raise ScenarioError(db, "no calibration run in this database to resume")
    return int(row[0])


def run_info(history, wall: float, cfg: ABCConfig) -> dict:
    pops = history.get_all_populations()
    pops = pops[pops.t >= 0]
    w = np.asarray(history.get_distribution()[1], dtype=float)
    return {
        "effective_sample_size_final": round(float(w.sum() ** 2 / np.sum(w**2)), 1),
        "generations": int(history.n_populations),
        "simulations": int(history.total_nr_simulations),
        "accepted_particles_final": int(len(history.get_distribution()[1])),
        "final_epsilon": float(pops.epsilon.iloc[-1]) if len(pops) else float("nan"),
        "wall_seconds_this_session": round(wall, 1),
        "population_size": cfg.population_size,
        "scale": cfg.scale,
    }
