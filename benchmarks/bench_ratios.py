"""The speed goals of issue 10 in one run: three ratios to a bare numpy kernel, the command's own times, peak RSS.

Each figure is divided by the time of the bare numpy kernel (``benchmarks/numpy_ref_kernel.py``, a copy of
the project's yardstick: N households x D days of a minimal crossing kernel) over the same households and
days, measured in the same run, alternating with the model, so that the machine's load (printed) weighs on
both alike:

1. the median ``replicate_seconds`` (manifest.json) of five calibration-sized replicates,
   ``bordersim run benchmarks/calibration_size.yaml --replicates 5`` (scale 0.05, 1960-09-01 to
   1962-02-28), over the kernel at its households x days (goal <= 0.50);
2. the ``replicate_seconds`` of one full-scale replicate (157,623 households x 852 days) (goal <= 0.15);
3. the wall time of the whole ``bordersim run scenarios/baseline_1960_1962.yaml --scale 1.0 --replicates 1``
   (imports, run, figures, fit report), over the full-scale kernel (goal <= 0.35).

Also: the wall time of ``bordersim --help`` and ``bordersim validate scenarios/baseline_1960_1962.yaml``
(goal < 0.5 s) and the peak RSS of the full-scale command (goal < 1 GB). Every process runs with one
BLAS/OpenMP thread.

Usage (from the repository root, the package installed)::

    python benchmarks/bench_ratios.py --repeats 3        # about 2 minutes on an idle machine

Writes ``benchmarks/results/ratios.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
KERNEL = HERE / "numpy_ref_kernel.py"
CALIBRATION = HERE / "calibration_size.yaml"
BASELINE = ROOT / "scenarios" / "baseline_1960_1962.yaml"
GOALS = {"calibration_replicate": 0.50, "full_replicate": 0.15, "full_command": 0.35}
sys.path.insert(0, str(HERE))
from bench_core import environment, write_json_atomic  # noqa: E402


def _env() -> dict:
    env = dict(os.environ)
    for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[k] = "1"
    return env


def kernel(households: int, days: int) -> float:
    out = subprocess.run([sys.executable, str(KERNEL), str(households), str(days)], capture_output=True, text=True, env=_env())
    return float(out.stdout.strip())


def bordersim(*args: str) -> tuple[float, subprocess.CompletedProcess]:
    t0 = time.perf_counter()
    p = subprocess.run([sys.executable, "-m", "bordersim.cli", *args], capture_output=True, text=True, env=_env(), cwd=ROOT)
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        sys.stderr.write(p.stdout + p.stderr)
        raise SystemExit(f"bordersim {' '.join(args)} failed")
    return wall, p


def run_dir(scenario: Path, out: Path, *extra: str) -> tuple[float, dict, dict]:
    wall, _ = bordersim("run", str(scenario), "--out", str(out), "--force", "--quiet", *extra)
    manifest = json.loads((out / "manifest.json").read_text())
    summary = (out / "summary.csv").read_text().splitlines()
    cols = summary[0].split(",")
    households = int(summary[1].split(",")[cols.index("households_simulated")])
    days = (_date(manifest["scenario"]["run"]["end"]) - _date(manifest["scenario"]["run"]["start"])).days + 1
    return wall, manifest, {"households": households, "days": days}


def _date(s: str):
    import datetime as dt

    return dt.date.fromisoformat(s)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", default=str(HERE / "results" / "ratios.json"))
    args = ap.parse_args(argv)
    load_before = os.getloadavg()
    rows: dict[str, list] = {k: [] for k in ("cal_rep", "cal_kernel", "full_rep", "full_cmd", "full_kernel", "help", "validate")}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for r in range(args.repeats):
            _, man, size = run_dir(CALIBRATION, tmp / "cal", "--replicates", "5")
            rows["cal_rep"].append(statistics.median(man["replicate_seconds"]))
            rows["cal_kernel"].append(kernel(size["households"], size["days"]))
            cal_size = size
            wall, man, size = run_dir(BASELINE, tmp / "full", "--scale", "1.0", "--replicates", "1")
            rows["full_cmd"].append(wall)
            rows["full_rep"].append(man["replicate_seconds"][0])
            rows["full_kernel"].append(kernel(size["households"], size["days"]))
            full_size = size
            rows["help"].append(bordersim("--help")[0])
            rows["validate"].append(bordersim("validate", str(BASELINE))[0])
            print(
                f"repeat {r + 1}: calibration {rows['cal_rep'][-1]:.3f} s / kernel {rows['cal_kernel'][-1]:.3f} s; "
                f"full replicate {rows['full_rep'][-1]:.2f} s, command {rows['full_cmd'][-1]:.2f} s / kernel "
                f"{rows['full_kernel'][-1]:.2f} s; --help {rows['help'][-1]:.2f} s, validate {rows['validate'][-1]:.2f} s",
                file=sys.stderr,
                flush=True,
            )
    rss_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    ratio = {
        "calibration_replicate": [a / b for a, b in zip(rows["cal_rep"], rows["cal_kernel"], strict=True)],
        "full_replicate": [a / b for a, b in zip(rows["full_rep"], rows["full_kernel"], strict=True)],
        "full_command": [a / b for a, b in zip(rows["full_cmd"], rows["full_kernel"], strict=True)],
    }
    med = {k: statistics.median(v) for k, v in ratio.items()}
    result = {
        "benchmark": "bench_ratios",
        "environment": {**environment(), "loadavg_before": load_before, "loadavg_after": os.getloadavg()},
        "sizes": {"calibration": cal_size, "full": full_size},
        "seconds": rows,
        "ratios": ratio,
        "ratio_medians": med,
        "goals": GOALS,
        "help_seconds_median": statistics.median(rows["help"]),
        "validate_seconds_median": statistics.median(rows["validate"]),
        "peak_rss_mib_children": rss_mib,
    }
    write_json_atomic(Path(args.out), result)
    print(f"\nload average before {load_before[0]:.2f}, after {os.getloadavg()[0]:.2f} (2 logical CPUs)")
    for k, goal in GOALS.items():
        print(f"{k:24s} ratio {med[k]:.3f} (each repeat: {', '.join(f'{x:.3f}' for x in ratio[k])}); goal <= {goal}")
    print(f"{'bordersim --help':24s} {result['help_seconds_median']:.3f} s; validate {result['validate_seconds_median']:.3f} s")
    print(f"{'peak RSS':24s} {rss_mib:.0f} MiB (largest child: the full-scale command)")
    print(f"wrote {os.path.relpath(args.out, ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
