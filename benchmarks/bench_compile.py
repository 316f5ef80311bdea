"""What numba's compile time and call cost owe to the way fields are handed to a compiled pass.

A synthetic pass: five nested compiled functions, each adding one to six of ``--fields`` per-record fields (four
dtypes in turn) over ten records, then calling the next. The fields are handed down in three ways, each
compiled in a fresh process with an empty cache (``cache=False``):

* ``namedtuple``: one namedtuple of ``--fields`` arrays (what the reverted compiled transitions and northward
  day did with the households' fields);
* ``arguments``: the ``--fields`` arrays as separate arguments at every level;
* ``blocks``: four 2-D arrays, one per dtype, a row per field (:mod:`bordersim.model.blocks`), each function
  taking the rows it uses as views.

Reports, for each, the compile time of the first call (after a trivial function has been compiled, so that
numba's own start-up is not counted) and the microseconds of a call once compiled.

Usage (from the repository root)::

    python benchmarks/bench_compile.py --fields 60 --repeats 2

Writes ``benchmarks/results/compile.json``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench_core import environment, write_json_atomic  # noqa: E402

LEVELS, TOUCHED = 5, 6
BLOCKS = ["F", "I", "L", "B"]  # float64, int32, int64, bool

CHILD = """
import json, sys, time
from collections import namedtuple
import numpy as np
from numba import njit
mode, n, source = sys.argv[1], int(sys.argv[2]), sys.argv[3]
njit(lambda x: x + 1)(1)  # numba's start-up, not counted
dtypes = [np.float64, np.int32, np.int64, np.bool_]
ns = {"np": np}
exec(source, ns)
for name in sorted((k for k in ns if k.startswith("g")), reverse=True):  # the innermost first
    ns[name] = njit(ns[name])
idx = np.arange(10)
if mode == "blocks":
    k = n // 4 + 1
    args = [np.zeros((k, 100), dtype=d) for d in dtypes]
elif mode == "namedtuple":
    args = [namedtuple("Fields", [f"f{i}" for i in range(n)])(*[np.zeros(100, dtype=dtypes[i % 4]) for i in range(n)])]
else:
    args = [np.zeros(100, dtype=dtypes[i % 4]) for i in range(n)]
t = time.perf_counter()
ns["g1"](*args, idx)
compile_s = time.perf_counter() - t
t = time.perf_counter()
for _ in range(2000):
    ns["g1"](*args, idx)
print(json.dumps({"compile_s": compile_s, "call_us": (time.perf_counter() - t) / 2000 * 1e6}))
"""


def source(mode: str, n: int) -> str:
    """The five functions ``g1`` (outermost) to ``g5`` of the synthetic pass, fields handed as ``mode`` says."""
    every = ", ".join(f"f{i}" for i in range(n))
    params = {"namedtuple": "h", "arguments": every, "blocks": ", ".join(BLOCKS)}[mode]
    out = []
    for lvl in range(1, LEVELS + 1):
        used = [(lvl * 7 + k * 3) % n for k in range(TOUCHED)]
        body = []
        for i in used:
            if mode == "namedtuple":
                ref = f"h.f{i}"
            elif mode == "arguments":
                ref = f"f{i}"
            else:
                body.append(f"    v{i} = {BLOCKS[i % 4]}[{i // 4}]")
                ref = f"v{i}"
            body.append(f"    for j in idx:\n        {ref}[j] = {ref}[j] + 1")
        if lvl < LEVELS:
            body.append(f"    g{lvl + 1}({params}, idx)")
        out.append(f"def g{lvl}({params}, idx):\n" + "\n".join(body) + "\n    return 0\n")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fields", type=int, default=60)
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args(argv)
    runs: dict[str, list[dict]] = {m: [] for m in ("namedtuple", "arguments", "blocks")}
    for _ in range(args.repeats):
        for mode in runs:  # in turns: the machine's speed drifts
            cmd = [sys.executable, "-c", CHILD, mode, str(args.fields), source(mode, args.fields)]
            runs[mode].append(json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout))
    result = {"environment": environment(), "fields": args.fields, "levels": LEVELS, "runs": runs}
    for mode, rs in runs.items():
        c = [r["compile_s"] for r in rs]
        u = [r["call_us"] for r in rs]
        print(f"{mode:11s} compile {statistics.median(c):6.2f} s ({', '.join(f'{x:.2f}' for x in c)}), "
              f"call {statistics.median(u):6.1f} us")  # fmt: skip
    write_json_atomic(HERE / "results" / "compile.json", result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
