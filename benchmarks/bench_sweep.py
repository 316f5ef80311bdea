"""Sweep throughput: runs per minute of the 1960-62 baseline at ``--scale 0.1``, per execution backend.

Builds a grid sweep over ``scenarios/baseline_1960_1962.yaml`` (``--points`` values of the interception
multiplier x ``--replicates`` replicates, run.scale = ``--scale``, two outcomes) and runs it with
``bordersim.experiments.sweep.execution.run_sweep`` into a fresh directory on each backend:

* ``pool``: the local process pool (``--workers``, default 2), the default of ``bordersim sweep``;
* ``dask``: a dask ``LocalCluster`` with the same number of single-threaded worker processes
  (``bordersim sweep --local-cluster N``);
* ``serial`` (with ``--serial``): every run in this process, one after another (``--workers 0``).

For each it reports the wall time of the whole sweep (backend start-up, runs, ledger, Parquet files
and the combined results; no figures) and two rates:

* **runs/min (whole sweep)**: runs / wall time, start-up included;
* **runs/min (steady)**: runs / (last run finished - first run started), from the ledger's timestamps.

It also checks that every backend produced byte-identical ``results.csv``. OMP/OpenBLAS/MKL threads
are set to 1 before numpy is imported (workers inherit them).

Usage (from the repository root)::

    /tmp/venv/bin/python benchmarks/bench_sweep.py                      # 10 points x 2 replicates, 2 workers
    /tmp/venv/bin/python benchmarks/bench_sweep.py --scale 0.1 --points 10 --replicates 2 --workers 2 --serial

Writes ``benchmarks/results/sweep.json`` (atomically).
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_v] = "1"

import argparse  # noqa: E402
import datetime as dt  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import yaml  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
from bench_core import environment, write_json_atomic  # noqa: E402

SCENARIO = ROOT / "scenarios" / "baseline_1960_1962.yaml"


def sweep_file(tmp: Path, scale: float, points: int, replicates: int) -> Path:
    values = [round(0.5 + 2.5 * k / max(1, points - 1), 4) for k in range(points)]
    spec = {
        "name": "bench_sweep",
        "scenario": str(SCENARIO),
        "constants": {"run.scale": scale},
        "seed": 1961,
        "replicates": replicates,
        "levers": {"interception": {"path": "rule_overrides.china.interception_multiplier", "values": values}},
        "outcomes": [
            {"name": "crossed_jilin_1961", "measure": "crossed", "region": "jilin", "from": "1961-01", "to": "1961-12"},
            {"name": "crossed_monthly", "measure": "crossed", "region": "china", "series": True},
        ],
    }
    p = tmp / "bench_sweep.yaml"
    p.write_text(yaml.safe_dump(spec, sort_keys=False))
    return p


def measure(sweep_path: Path, tmp: Path, backend: str, workers: int) -> dict:
    from bordersim.experiments.sweep.design import load_sweep
    from bordersim.experiments.sweep.execution import run_sweep
    from bordersim.experiments.sweep.ledger import read_ledger

    sw = load_sweep(sweep_path)
    out = tmp / f"out_{backend}"
    out.parent.mkdir(parents=True, exist_ok=True)
    kw = {"serial": {"workers": 0}, "pool": {"workers": workers}, "dask": {"local_cluster": workers}}[backend]
    t0 = time.perf_counter()
    rep = run_sweep(sw, out, progress=False, figures=False, **kw)
    wall = time.perf_counter() - t0
    rows = read_ledger(out / "ledger.sqlite")
    started = min(dt.datetime.fromisoformat(r["started_utc"]) for r in rows)
    finished = max(dt.datetime.fromisoformat(r["finished_utc"]) for r in rows)
    steady = (finished - started).total_seconds()
    secs = sorted(r["seconds"] for r in rows)
    return {
        "backend": backend,
        "workers": 1 if backend == "serial" else workers,
        "runs": sw.n_runs,
        "done": rep.done,
        "failed": rep.failed,
        "wall_seconds": round(wall, 2),
        "runs_per_minute_whole_sweep": round(sw.n_runs / wall * 60, 2),
        "runs_per_minute_steady": round(sw.n_runs / steady * 60, 2),
        "startup_and_overhead_seconds": round(wall - steady, 2),
        "run_seconds_median": round(secs[len(secs) // 2], 3),
        "results_csv": (out / "results.csv").read_bytes(),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", type=float, default=0.1)
    ap.add_argument("--points", type=int, default=10)
    ap.add_argument("--replicates", type=int, default=2)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--serial", action="store_true", help="also run every run in this process, one after another")
    ap.add_argument("--repeats", type=int, default=1, help="measure each backend this many times, alternating (medians reported)")
    ap.add_argument("--out", default=str(HERE / "results" / "sweep.json"))
    args = ap.parse_args(argv)

    load_before = os.getloadavg()
    tmp = Path(tempfile.mkdtemp(prefix="bench_sweep-"))
    try:
        sp = sweep_file(tmp, args.scale, args.points, args.replicates)
        backends = (["serial"] if args.serial else []) + ["pool", "dask"]
        runs = []
        for k in range(args.repeats):
            for b in backends:
                if b == "serial" and k > 0:
                    continue
                print(f"bench_sweep: {b} (repeat {k + 1}) ...", file=sys.stderr, flush=True)
                r = measure(sp, tmp / f"r{k}", b, args.workers)
                r["repeat"] = k + 1
                r["loadavg_1min_after"] = os.getloadavg()[0]
                runs.append(r)
                print(
                    f"  {r['runs']} runs in {r['wall_seconds']:.1f} s: "
                    f"{r['runs_per_minute_whole_sweep']:.1f} runs/min whole sweep, "
                    f"{r['runs_per_minute_steady']:.1f} runs/min steady (median run {r['run_seconds_median']:.2f} s; "
                    f"load {r['loadavg_1min_after']:.1f})",
                    file=sys.stderr,
                )
        same = len({r["results_csv"] for r in runs}) == 1
        for r in runs:
            r.pop("results_csv")
        results = []
        for b in backends:
            rs = [r for r in runs if r["backend"] == b]
            med = {
                key: statistics.median(r[key] for r in rs)
                for key in (
                    "wall_seconds",
                    "runs_per_minute_whole_sweep",
                    "runs_per_minute_steady",
                    "startup_and_overhead_seconds",
                    "run_seconds_median",
                )
            }
            results.append(
                {"backend": b, "workers": rs[0]["workers"], "runs": rs[0]["runs"], "repeats": len(rs), "median": med, "each": rs}
            )
            print(
                f"bench_sweep: {b}: median {med['runs_per_minute_whole_sweep']:.1f} runs/min whole sweep, "
                f"{med['runs_per_minute_steady']:.1f} runs/min steady",
                file=sys.stderr,
            )
        print(f"bench_sweep: results.csv identical across backends: {same}", file=sys.stderr)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    data = {
        "benchmark": "sweep throughput",
        "scenario": str(SCENARIO.relative_to(ROOT)),
        "scale": args.scale,
        "points": args.points,
        "replicates": args.replicates,
        "results_identical_across_backends": same,
        "results": results,
        "environment": {**environment(), "loadavg_before": load_before, "loadavg_after": os.getloadavg()},
    }
    write_json_atomic(Path(args.out), data)
    print(f"bench_sweep: wrote {args.out}", file=sys.stderr)
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
