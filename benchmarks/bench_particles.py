"""Calibration simulations per minute on the machine's cores, by the path ``bordersim calibrate`` takes.

Draws ``--particles`` parameter vectors uniformly on the unit cube of the priors of
``calibration/calibrate.yaml`` (a fixed seed) and runs them through the calibration's simulator
(``experiments/calibration/simulator.py``: build the run's scenario, run it at the configuration's scale
to the last fitted month, read the fitted targets from the recorder's array) exactly as the inference
engine does: batches of ``design.batch_size`` rows submitted to the calibration's executor (a pool of
persistent worker processes, ``experiments/executor.py``), one ``SeedSequence`` per row.

Also reports, in one process, the CPU seconds per simulation and how much of it is the model
(``BorderModel.run``) and how much the rest (the scenario, the seed, reading the targets).

Usage (from the repository root, the package installed)::

    python benchmarks/bench_particles.py --particles 100 --workers 2

Writes ``benchmarks/results/particles.json``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
from bench_core import environment, write_json_atomic  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    from bordersim.experiments.calibration.setup import setup
    from bordersim.experiments.executor import Executor
    from bordersim.model.model import BorderModel

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default=str(ROOT / "calibration" / "calibrate.yaml"))
    ap.add_argument("--particles", type=int, default=100)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", default=str(HERE / "results" / "particles.json"))
    args = ap.parse_args(argv)
    s = setup(Path(args.config))
    sim, batch = s.simulator, s.cfg.design.batch_size
    rng = np.random.default_rng(2024)
    thetas = s.space.natural_from_unit(rng.random((args.particles, len(s.space))))
    seeds = [np.random.SeedSequence([2024, i]) for i in range(args.particles)]
    load_before = os.getloadavg()
    result = {"benchmark": "bench_particles", "particles": args.particles, "workers": args.workers, "batch_size": batch}

    with Executor(workers=args.workers) as ex:
        pool = ex.start()
        for f in [pool.submit(sim, thetas[i : i + 1], seeds[i : i + 1]) for i in range(args.workers)]:
            f.result()  # the workers are up and have imported the model
        t0 = time.perf_counter()
        futs = [pool.submit(sim, thetas[i : i + batch], seeds[i : i + batch]) for i in range(0, args.particles, batch)]
        rows = sum(len(f.result()) for f in futs)
        wall = time.perf_counter() - t0
    assert rows == args.particles
    result["sims_per_minute"] = args.particles / wall * 60
    rate = result["sims_per_minute"]
    print(f"engine path: {args.particles} simulations in {wall:.1f} s on {args.workers} workers: {rate:.1f} per minute")

    n_cpu = min(12, args.particles)
    sim.one(thetas[0], seeds[0])  # warm: rule sets, posterior, the target reader
    c0 = time.process_time()
    for th, sd in zip(thetas[:n_cpu], seeds[:n_cpu], strict=True):
        sim.one(th, sd)  # what a worker does per row
    per_sim = (time.process_time() - c0) / n_cpu
    model = 0.0
    for th, sd in zip(thetas[:n_cpu], seeds[:n_cpu], strict=True):
        sc = sim.scenario(dict(zip(sim.names, map(float, th), strict=True)), north=False)
        m0 = time.process_time()
        BorderModel(sc, rng=sd).run()
        model += time.process_time() - m0
    result["cpu_seconds_per_simulation"] = per_sim
    result["model_seconds_per_simulation"] = model / n_cpu
    result["overhead_seconds_per_simulation"] = per_sim - model / n_cpu
    print(
        f"one process: {per_sim:.3f} CPU s per simulation, of which the model {model / n_cpu:.3f} s "
        f"and the rest {per_sim - model / n_cpu:.3f} s"
    )
    result["environment"] = {**environment(), "loadavg_before": load_before, "loadavg_after": os.getloadavg()}
    write_json_atomic(Path(args.out), result)
    print(f"load average {load_before[0]:.2f} -> {os.getloadavg()[0]:.2f}; wrote {os.path.relpath(args.out, ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
