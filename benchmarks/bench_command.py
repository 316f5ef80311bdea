"""Where the time of ``bordersim run`` goes beyond its replicates: imports, the run, the tables, the figures.

Runs the command in-process (``bordersim.cli.main``), ``--repeats`` times, each in a fresh process, with a
timestamp at each phase of :func:`bordersim.experiments.outputs.run_scenario` (wrappers around its steps;
the figures are drawn by the drawing process, so their wall time is the wait in ``Drawer.join``), and
prints the median of each phase. Then times the two drawing jobs one after the other in this process on
the run's own ``flows.csv`` and ``fit.csv`` (CPU time of each figure job, with matplotlib's
``savefig`` and ``tight_layout`` apart).

Usage (from the repository root, the package installed)::

    python benchmarks/bench_command.py --repeats 3            # full scale, one replicate

Writes ``benchmarks/results/command.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
from bench_core import THREAD_VARS, environment, write_json_atomic  # noqa: E402

SCENARIO = "scenarios/baseline_1960_1962.yaml"
PHASES = ("imports", "replicates", "tables", "fit_table", "figures_wait", "total")


def child(out: str, scale: float) -> None:
    """One command with timestamps; prints a JSON line of phase durations."""
    t0 = time.perf_counter()
    from bordersim.cli import main
    from bordersim.experiments import drawing, outputs

    marks = {"imports": time.perf_counter()}

    def timed(owner, name, key):
        f = getattr(owner, name)

        def wrapper(*a, **k):
            r = f(*a, **k)
            marks[key] = time.perf_counter()
            return r

        setattr(owner, name, wrapper)

    timed(outputs, "run_replicates", "replicates")
    timed(outputs, "write_json", "tables")
    timed(outputs, "write_fit", "fit_table")
    timed(drawing.Drawer, "join", "figures_wait")
    code = main(["run", SCENARIO, "--scale", str(scale), "--replicates", "1", "--out", out, "--force"])
    marks["total"] = time.perf_counter()
    last, spans = t0, {}
    for key in PHASES:
        spans[key] = marks[key] - (t0 if key == "total" else last)
        last = marks[key] if key != "total" else last
    manifest = json.loads((Path(out) / "manifest.json").read_text())
    spans["replicate_seconds"] = manifest["replicate_seconds"][0]
    print(json.dumps({"code": code, **spans}))


def figure_jobs(out: Path) -> dict:
    """CPU seconds of the two drawing jobs, drawn here one after the other (matplotlib loaded first)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.figure as mf
    import pandas as pd

    from bordersim.archive.report import fit_figures
    from bordersim.archive.targets import targets_path_of
    from bordersim.experiments.run_figures import flow_figures
    from bordersim.world.loader import load_scenario

    flows, fit = pd.read_csv(out / "flows.csv"), pd.read_csv(out / "fit.csv")
    tp = targets_path_of(load_scenario(ROOT / SCENARIO))
    spent = {"savefig": 0.0, "tight_layout": 0.0}
    for name in spent:
        orig = getattr(mf.Figure, name)

        def wrapper(self, *a, _orig=orig, _name=name, **k):
            t = time.process_time()
            r = _orig(self, *a, **k)
            spent[_name] += time.process_time() - t
            return r

        setattr(mf.Figure, name, wrapper)
    jobs = {}
    with tempfile.TemporaryDirectory() as d:
        flow_figures(flows, Path(d), title="warm-up")  # fonts and caches
        for job, draw in [("flow_figures", lambda: flow_figures(flows, Path(d), title="x")),
                          ("fit_figures", lambda: fit_figures(fit, flows, tp, Path(d)))]:  # fmt: skip
            for k in spent:
                spent[k] = 0.0
            t = time.process_time()
            draw()
            jobs[job] = {"cpu_seconds": time.process_time() - t, **dict(spent)}
    return jobs


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        child(args.child, args.scale)
        return 0
    env = {**os.environ, **{k: "1" for k in THREAD_VARS}}
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run"
        for r in range(args.repeats):
            cmd = [sys.executable, __file__, "--child", str(out), "--scale", str(args.scale)]
            p = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=True)
            runs.append(json.loads(p.stdout.strip().splitlines()[-1]))
            print(f"repeat {r + 1}: " + ", ".join(f"{k} {v:.2f} s" for k, v in runs[-1].items() if k != "code"))
        jobs = figure_jobs(out)
    med = {k: statistics.median(run[k] for run in runs) for k in (*PHASES, "replicate_seconds")}
    print("median: " + ", ".join(f"{k} {v:.2f} s" for k, v in med.items()))
    for job, t in jobs.items():
        print(f"{job}: {t['cpu_seconds']:.2f} CPU-s (savefig {t['savefig']:.2f}, tight_layout {t['tight_layout']:.2f})")
    write_json_atomic(
        HERE / "results" / "command.json",
        {"benchmark": "bench_command", "environment": environment(), "scale": args.scale, "runs": runs, "median": med,
         "figure_jobs": jobs},
    )  # fmt: skip
    print("wrote benchmarks/results/command.json")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
