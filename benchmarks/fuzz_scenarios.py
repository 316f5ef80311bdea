"""The scenario fuzzer's long mode: thousands of mutated scenarios, a benchmark or a nightly job.

Runs ``tests/test_fuzz.py`` with ``BORDERSIM_FUZZ_EXAMPLES`` examples (default 2,000; CI runs 60),
every accepted mutation run for 45 days at scale 0.002 (one in ``--figures-every`` with figures),
and writes the figures (mutations tried, accepted, run, errors by kind; a failure is a traceback or
an unclear message, and fails the script) to ``benchmarks/results/fuzz.json``. From the root::

    .venv/bin/python benchmarks/fuzz_scenarios.py --examples 2000    # about 10-20 minutes on 2 cores
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--examples", type=int, default=2000, help="mutated scenarios to try (default 2000)")
    ap.add_argument("--figures-every", type=int, default=10, help="draw the figures in one accepted run in N")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "fuzz.json"))
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        stats_file = Path(tmp) / "stats.json"
        env = dict(
            os.environ,
            BORDERSIM_FUZZ_EXAMPLES=str(args.examples),
            BORDERSIM_FUZZ_FIGURES_EVERY=str(args.figures_every),
            BORDERSIM_FUZZ_STATS=str(stats_file),
        )
        t0 = time.perf_counter()
        cmd = [sys.executable, "-m", "pytest", "-q", "-n", "0", "-p", "no:cacheprovider", "tests/test_fuzz.py"]  # one process
        r = subprocess.run(cmd, cwd=ROOT, env=env)
        seconds = time.perf_counter() - t0
        stats = json.loads(stats_file.read_text()) if stats_file.exists() else {}
    result = {
        "examples": args.examples,
        "passed": r.returncode == 0,
        "seconds": round(seconds, 1),
        "tracebacks": 0 if r.returncode == 0 else "see the pytest output",
        **stats,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    tmp_out = Path(args.out).with_suffix(".json.tmp")
    tmp_out.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    os.replace(tmp_out, args.out)
    for k, v in sorted(result.items()):
        print(f"{k:45s} {v}")
    return r.returncode


if __name__ == "__main__":
    sys.exit(main())
