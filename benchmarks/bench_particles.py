"""Calibration particles per minute on the machine's cores: the simulator calibration calls, end to end.

Draws ``--particles`` parameter vectors from the priors of ``calibration/abc.yaml`` (a fixed seed) and runs
each through the calibration's simulator (``experiments/calibration/simulator.py``: build the particle's
scenario, run it at the configuration's scale to the last fitted month, read the fitted targets), on
``--workers`` processes:

* ``pyabc path``: ``Simulator.__call__`` (pyabc's model function: a dict in, a dict out) mapped over a
  ``multiprocessing`` pool, as pyabc's multicore sampler does;
* ``batch``: ``BatchSimulator.simulate(thetas, seeds)`` (persistent workers, a summary matrix out), the
  interface for emulator-based inference (absent before issue 10).

Usage (from the repository root)::

    python benchmarks/bench_particles.py --particles 40 --workers 2

Writes ``benchmarks/results/particles.json``.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
from bench_core import environment, write_json_atomic  # noqa: E402

_SIM = None


def _init(config: str) -> None:
    global _SIM
    from bordersim.experiments.calibration.run import setup

    _SIM = setup(Path(config)).simulator


def _one(params: dict) -> int:
    out = _SIM(params)
    return len(out)


def prior_draws(config: Path, n: int, seed: int = 2024) -> list[dict]:
    """``n`` parameter sets drawn from the priors, on pyabc's scale (log10 for loguniform priors)."""
    from bordersim.experiments.calibration.config import load_config

    cfg = load_config(config)
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(n):
        d = {}
        for name, p in cfg.parameters.items():
            lo, hi = (np.log10(p.low), np.log10(p.high)) if p.dist == "loguniform" else (p.low, p.high)
            d[name] = float(rng.uniform(lo, hi))
        draws.append(d)
    return draws


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default=str(ROOT / "calibration" / "abc.yaml"))
    ap.add_argument("--particles", type=int, default=40)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", default=str(HERE / "results" / "particles.json"))
    args = ap.parse_args(argv)
    config = Path(args.config)
    draws = prior_draws(config, args.particles)
    load_before = os.getloadavg()
    result = {"benchmark": "bench_particles", "particles": args.particles, "workers": args.workers}
    ctx = mp.get_context("fork")
    with ctx.Pool(args.workers, initializer=_init, initargs=(str(config),)) as pool:
        pool.map(_one, draws[: args.workers])  # warm the workers (imports, posterior, rule sets)
        t0 = time.perf_counter()
        pool.map(_one, draws, chunksize=1)
        wall = time.perf_counter() - t0
    result["pyabc_path_sims_per_minute"] = args.particles / wall * 60
    print(f"pyabc path: {args.particles} particles in {wall:.1f} s: {result['pyabc_path_sims_per_minute']:.1f} per minute")
    try:
        from bordersim.experiments.calibration.config import natural
        from bordersim.experiments.calibration.run import setup
        from bordersim.experiments.calibration.simulator import BatchSimulator
    except ImportError:
        result["batch_sims_per_minute"] = None
    else:
        s = setup(config)
        sim = s.simulator
        thetas = np.array([[natural(sim.priors, d)[k] for k in sim.names] for d in draws])
        with BatchSimulator(sim, workers=args.workers) as batch:
            batch.simulate(thetas[: args.workers], range(args.workers))  # start and warm the workers
            t0 = time.perf_counter()
            out = batch.simulate(thetas, range(len(thetas)))
            wall = time.perf_counter() - t0
        result["batch_sims_per_minute"] = args.particles / wall * 60
        result["summary_shape"] = list(out.shape)
        print(f"batch: {args.particles} particles in {wall:.1f} s: {result['batch_sims_per_minute']:.1f} per minute")
    result["environment"] = {**environment(), "loadavg_before": load_before, "loadavg_after": os.getloadavg()}
    write_json_atomic(Path(args.out), result)
    print(f"load average {load_before[0]:.2f} -> {os.getloadavg()[0]:.2f}; wrote {os.path.relpath(args.out, ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
