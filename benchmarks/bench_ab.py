"""Calibration-sized replicates of an earlier commit and of this tree, alternating, in the same minutes.

The bare kernel's time drifts with the machine (0.36-0.57 s for the same 8,064 x 546 in one day here), so
a change's effect on the calibration-sized replicate is read best against the code before it, run in
turns. ``--before REV`` is exported with ``git archive`` into a temporary directory; each round runs, in
one fresh process per tree (``PYTHONPATH`` on its ``src``), ``--replicates`` replicates of
``benchmarks/calibration_size.yaml`` and reports the first (it also loads compiled code) and the median of
the others (``replicate_seconds``, as ``bordersim run`` records them).

Usage (from the repository root, the package installed)::

    python benchmarks/bench_ab.py --before 3014728 --rounds 3

Writes ``benchmarks/results/ab.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
from bench_core import environment, write_json_atomic  # noqa: E402

CHILD = """
import json, statistics, sys
from bordersim.experiments.replicates import replicate_seeds, run_replicate
from bordersim.world.loader import load_scenario
sc = load_scenario(sys.argv[1])
seeds = replicate_seeds(sc.run.seed, int(sys.argv[2]))
t = [run_replicate(sc, s, i).summary["seconds"] for i, s in enumerate(seeds)]
print(json.dumps({"first": t[0], "median_rest": statistics.median(t[1:]), "seconds": t}))
"""


def run(src: Path, replicates: int) -> dict:
    env = {**os.environ, "PYTHONPATH": str(src), "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    scenario = str(ROOT / "benchmarks" / "calibration_size.yaml")
    cmd = [sys.executable, "-c", CHILD, scenario, str(replicates)]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--before", required=True, help="the earlier commit (any git revision)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--replicates", type=int, default=6)
    ap.add_argument("--out", default=str(HERE / "results" / "ab.json"))
    args = ap.parse_args(argv)
    load_before = os.getloadavg()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(["git", "archive", args.before], cwd=ROOT, capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
        trees = {"before": Path(tmp) / "src", "after": ROOT / "src"}
        for r in range(args.rounds):
            for name, src in trees.items():
                res = run(src, args.replicates)
                rows.append({"round": r + 1, "code": name, **res})
                first, rest = res["first"], res["median_rest"]
                print(f"round {r + 1} {name:6s}: first {first:.3f} s, median of the rest {rest:.3f} s", flush=True)
    result = {
        "benchmark": "bench_ab",
        "before": args.before,
        "environment": {**environment(), "loadavg_before": load_before, "loadavg_after": os.getloadavg()},
        "rows": rows,
    }
    write_json_atomic(Path(args.out), result)
    print(f"wrote {os.path.relpath(args.out, ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
