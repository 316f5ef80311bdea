"""How long one step of the explorer's model takes, at the page's default scale (the budget: 100 ms).

    .venv/bin/python benchmarks/bench_explore_step.py [--scale 0.25] [--scenario baseline_1960_1962] [--repeats 3]

Builds the page's model exactly as the page does (``bordersim.explore.session.Session``: the scenario
with the page's settings, parameters drawn from the posterior, seeded as replicate 0 of ``bordersim
run``), steps it day by day to the end of the run through the session's worker thread, and reads
the time of every ``model.step()`` the worker measured. Reports the mean, median, 95th and 99th
percentiles and the maximum over all days, the time to build the model, and the time to draw each
figure of the page once at the end. Writes ``benchmarks/results/explore_step.json``.

A benchmark, not a test: the numbers depend on the machine and on what else runs on it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")

import numpy as np  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"


def one(scenario: str, scale: float) -> dict:
    from bordersim.explore.session import Session
    from bordersim.explore.settings import Settings
    from bordersim.explore.views import FIGURE_TABS, draw_tab

    t0 = time.perf_counter()
    s = Session(Settings(scenario=scenario, scale=scale))
    build = time.perf_counter() - t0
    try:
        s.play()
        s.wait_idle(600)
        ms = np.array(s.step_times_ms())
        snap = s.snapshot()
        draws = {}
        for tab in FIGURE_TABS:
            t = time.perf_counter()
            draw_tab(tab, snap, None)
            draws[tab] = round(time.perf_counter() - t, 3)
    finally:
        s.close()
    return {
        "build_s": round(build, 3),
        "days": int(len(ms)),
        "step_ms": {
            "mean": round(float(ms.mean()), 2),
            "median": round(float(np.median(ms)), 2),
            "p95": round(float(np.percentile(ms, 95)), 2),
            "p99": round(float(np.percentile(ms, 99)), 2),
            "max": round(float(ms.max()), 2),
            "over_100ms": int((ms > 100).sum()),
        },
        "figure_draw_s": draws,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", type=float, default=None, help="default: the page's default scale")
    ap.add_argument("--scenario", default="baseline_1960_1962")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    from bordersim.explore.settings import DEFAULT_SCALE

    scale = args.scale or DEFAULT_SCALE
    load = os.getloadavg()
    runs = [one(args.scenario, scale) for _ in range(args.repeats)]
    out = {
        "benchmark": "explore_step",
        "scenario": args.scenario,
        "scale": scale,
        "repeats": args.repeats,
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "machine": platform.platform(),
        "python": sys.version.split()[0],
        "cpus": os.cpu_count(),
        "loadavg_before": load,
        "loadavg_after": os.getloadavg(),
        "runs": runs,
        "worst_max_step_ms": max(r["step_ms"]["max"] for r in runs),
        "worst_p99_step_ms": max(r["step_ms"]["p99"] for r in runs),
    }
    RESULTS.mkdir(exist_ok=True)
    tmp = RESULTS / "explore_step.json.tmp"
    tmp.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, RESULTS / "explore_step.json")
    for r in runs:
        st = r["step_ms"]
        print(
            f"{args.scenario} at scale {scale:g}: build {r['build_s']:.2f} s; {r['days']} steps: mean {st['mean']:.1f} ms, "
            f"median {st['median']:.1f}, p95 {st['p95']:.1f}, p99 {st['p99']:.1f}, max {st['max']:.1f} ms "
            f"({st['over_100ms']} over 100 ms); figures {r['figure_draw_s']}"
        )
    print(f"load average before {load[0]:.2f}, after {out['loadavg_after'][0]:.2f}; wrote benchmarks/results/explore_step.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
