"""Full-scale benchmark of the bordersim core: one baseline replicate, timed and measured.

Runs ``scenarios/baseline_1960_1962.yaml`` at scale 1.0 (every household simulated, one step per day,
1960-09-01 to 1962-12-31, one replicate) ``--repeats`` times. Each repeat runs in a fresh Python
subprocess with OMP/OpenBLAS/MKL threads set to 1 before numpy is imported, so

* the peak resident set size (``resource.getrusage(RUSAGE_SELF).ru_maxrss``) is the high-water mark
  of one run (interpreter, imports, model build and run), not of several runs in one process;
* the figures are single-core figures.

Reported: households, days, household-steps (households x days), scenario load time, model build
time (``BorderModel(...)``), run wall time (``model.run()``; median and min), the time to turn the
recorder into the monthly table, household-steps per second, and the peak RSS.

Usage (from the repository root)::

    /tmp/venv/bin/python benchmarks/bench_core.py               # 3 repeats
    /tmp/venv/bin/python benchmarks/bench_core.py --repeats 5
    /tmp/venv/bin/python benchmarks/bench_core.py --profile     # also cProfile one run (top functions)

Writes ``benchmarks/results/core.json`` (atomically: temporary file, then ``os.replace``); with
``--profile`` also ``benchmarks/results/core_profile.txt``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
SCENARIO = ROOT / "scenarios" / "baseline_1960_1962.yaml"
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")

# Targets the project cares about (reported, not enforced).
TARGET_RUN_SECONDS = 5.0
TARGET_PEAK_RSS_MB = 1024.0


# -- the child: one full-scale replicate in a fresh process -------------------------------------------
def child(scenario: str, profile_out: str | None) -> None:
    import resource
    import time

    t_import0 = time.perf_counter()
    import numpy as np

    from bordersim.experiments.replicates import replicate_seeds
    from bordersim.model import BorderModel
    from bordersim.world.loader import load_scenario

    t_import = time.perf_counter() - t_import0
    rss_after_import = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    t0 = time.perf_counter()
    sc = load_scenario(scenario)
    t_load = time.perf_counter() - t0
    assert sc.run.scale == 1.0, f"expected scale 1.0, got {sc.run.scale}"
    # The same seeding as `bordersim run` (experiments.replicates.run_replicate): replicate 0 of the scenario's seed.
    seed = replicate_seeds(sc.run.seed, 1)[0]

    t0 = time.perf_counter()
    model = BorderModel(sc, rng=np.random.default_rng(seed))
    t_build = time.perf_counter() - t0
    rss_after_build = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    prof = None
    if profile_out:
        import cProfile

        prof = cProfile.Profile()
        prof.enable()
    t0, c0 = time.perf_counter(), time.process_time()
    model.run()
    t_run, c_run = time.perf_counter() - t0, time.process_time() - c0
    if prof is not None:
        prof.disable()

    t0 = time.perf_counter()
    flows = model.recorder.table(model.tree, 0)
    t_table = time.perf_counter() - t0
    ru = resource.getrusage(resource.RUSAGE_SELF)

    if prof is not None:
        import io
        import pstats

        buf = io.StringIO()
        st = pstats.Stats(prof, stream=buf)
        st.sort_stats("tottime").print_stats(25)
        st.sort_stats("cumulative").print_stats(30)
        Path(profile_out).write_text(buf.getvalue(), encoding="utf-8")

    out = {
        "households": int(model.households.n),
        "days": int(model.n_days),
        "steps_taken": int(model.today),
        "start": str(model.start),
        "end": str(model.end),
        "scale": sc.run.scale,
        "import_seconds": t_import,
        "load_seconds": t_load,
        "build_seconds": t_build,
        "run_seconds": t_run,
        "run_cpu_seconds": c_run,
        "table_seconds": t_table,
        "cpu_user_seconds": ru.ru_utime,
        "cpu_system_seconds": ru.ru_stime,
        # Linux: ru_maxrss is in kibibytes.
        "peak_rss_kb": int(ru.ru_maxrss),
        "rss_after_import_kb": int(rss_after_import),
        "rss_after_build_kb": int(rss_after_build),
        "flow_rows": int(len(flows)),
        "persons_initial": float(model.initial_persons),
        "persons_accounted_end": float(model.persons_accounted()),
        "profiled": prof is not None,
        "threads_env": {k: os.environ.get(k) for k in THREAD_VARS},
    }
    print("BENCH_RESULT " + json.dumps(out), flush=True)


def run_child(scenario: Path, profile_out: Path | None = None) -> dict:
    env = dict(os.environ)
    for k in THREAD_VARS:
        env[k] = "1"
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", "--scenario", str(scenario)]
    if profile_out is not None:
        cmd += ["--profile-out", str(profile_out)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=ROOT)
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout + proc.stderr)
        raise SystemExit(f"benchmark subprocess failed with exit code {proc.returncode}")
    for line in proc.stdout.splitlines():
        if line.startswith("BENCH_RESULT "):
            return json.loads(line[len("BENCH_RESULT ") :])
    sys.stderr.write(proc.stdout + proc.stderr)
    raise SystemExit("benchmark subprocess printed no result")


# -- environment --------------------------------------------------------------------------------------
def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _git(*args: str) -> str | None:
    try:
        p = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10)
        return p.stdout.strip() if p.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


def environment() -> dict:
    versions = {}
    for mod in ("numpy", "mesa", "scipy", "pandas"):
        try:
            from importlib.metadata import version

            versions[mod] = version(mod)
        except Exception:  # noqa: BLE001 - informational only
            versions[mod] = None
    dirty = _git("status", "--porcelain", "--", "src")
    # The working tree may hold uncommitted changes: fingerprint the source actually measured.
    h = hashlib.sha256()
    for f in sorted((ROOT / "src" / "bordersim").rglob("*")):
        if f.is_file() and f.suffix in (".py", ".yaml"):
            h.update(str(f.relative_to(ROOT)).encode() + b"\0" + f.read_bytes())
    return {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpu": _cpu_model(),
        "logical_cpus": os.cpu_count(),
        "git_commit": _git("rev-parse", "HEAD"),
        "src_uncommitted_changes": bool(dirty) if dirty is not None else None,
        "src_sha256": h.hexdigest(),
        "versions": versions,
        "threads": "1 (OMP_NUM_THREADS=OPENBLAS_NUM_THREADS=MKL_NUM_THREADS=1 in each subprocess)",
    }


def write_json_atomic(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=2)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp creates 0600
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3, help="runs, each in a fresh subprocess (default 3)")
    ap.add_argument("--scenario", default=str(SCENARIO), help=argparse.SUPPRESS)
    ap.add_argument("--profile", action="store_true", help="also profile one extra run with cProfile")
    ap.add_argument("--out", default=str(RESULTS / "core.json"), help="JSON output path")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--profile-out", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        child(args.scenario, args.profile_out)
        return 0
    if args.repeats < 1:
        ap.error("--repeats must be >= 1")

    scenario = Path(args.scenario).resolve()
    load_before = os.getloadavg()
    runs = []
    for i in range(args.repeats):
        r = run_child(scenario)
        runs.append(r)
        print(
            f"repeat {i + 1}/{args.repeats}: build {r['build_seconds']:.2f} s, run {r['run_seconds']:.2f} s, "
            f"peak RSS {r['peak_rss_kb'] / 1024:.0f} MiB",
            file=sys.stderr,
            flush=True,
        )

    first = runs[0]
    hh, days = first["households"], first["days"]
    for r in runs:  # same scenario, same seed: the size of the problem must not vary
        assert (r["households"], r["days"]) == (hh, days), "repeats disagree on the problem size"
    steps = hh * days
    run_s = [r["run_seconds"] for r in runs]
    build_s = [r["build_seconds"] for r in runs]
    rss_mb = [r["peak_rss_kb"] / 1024 for r in runs]
    total_s = [r["load_seconds"] + r["build_seconds"] + r["run_seconds"] + r["table_seconds"] for r in runs]
    summary = {
        "households": hh,
        "days": days,
        "household_steps": steps,
        "load_seconds_median": statistics.median(r["load_seconds"] for r in runs),
        "build_seconds_median": statistics.median(build_s),
        "build_seconds_min": min(build_s),
        "run_seconds_median": statistics.median(run_s),
        "run_seconds_min": min(run_s),
        "run_cpu_seconds_median": statistics.median(r["run_cpu_seconds"] for r in runs),
        "table_seconds_median": statistics.median(r["table_seconds"] for r in runs),
        "replicate_seconds_median": statistics.median(total_s),
        "household_steps_per_second_median": steps / statistics.median(run_s),
        "household_steps_per_second_best": steps / min(run_s),
        "peak_rss_mib_max": max(rss_mb),
        "peak_rss_mib_median": statistics.median(rss_mb),
        "rss_after_import_mib_median": statistics.median(r["rss_after_import_kb"] / 1024 for r in runs),
    }
    targets = {
        "run_seconds_max": TARGET_RUN_SECONDS,
        "run_median_within_target": summary["run_seconds_median"] <= TARGET_RUN_SECONDS,
        "replicate_median_within_target": summary["replicate_seconds_median"] <= TARGET_RUN_SECONDS,
        "peak_rss_mib_max": TARGET_PEAK_RSS_MB,
        "peak_rss_within_target": summary["peak_rss_mib_max"] < TARGET_PEAK_RSS_MB,
    }

    profile_top = None
    if args.profile:
        prof_path = Path(args.out).resolve().parent / "core_profile.txt"
        prof_path.parent.mkdir(parents=True, exist_ok=True)
        pr = run_child(scenario, profile_out=prof_path)
        profile_top = {"file": os.path.relpath(prof_path, ROOT), "run_seconds_under_cprofile": pr["run_seconds"]}

    result = {
        "benchmark": "bench_core",
        "description": "full-scale baseline replicate: every household, daily steps, one replicate",
        "scenario": os.path.relpath(scenario, ROOT),
        "seed": "replicate 0 of SeedSequence(run.seed) (as `bordersim run`)",
        "repeats": args.repeats,
        "environment": {**environment(), "loadavg_before": load_before, "loadavg_after": os.getloadavg()},
        "summary": summary,
        "targets": targets,
        "runs": runs,
        "profile": profile_top,
    }
    write_json_atomic(Path(args.out), result)

    s = summary
    rows = [
        ("households", f"{hh:,}"),
        ("days (steps)", f"{days:,}"),
        ("household-steps", f"{steps:,}"),
        ("scenario load (median)", f"{s['load_seconds_median']:.3f} s"),
        ("model build (median / min)", f"{s['build_seconds_median']:.3f} s / {s['build_seconds_min']:.3f} s"),
        ("run wall time (median / min)", f"{s['run_seconds_median']:.3f} s / {s['run_seconds_min']:.3f} s"),
        ("run CPU time (median)", f"{s['run_cpu_seconds_median']:.3f} s"),
        ("monthly table (median)", f"{s['table_seconds_median']:.3f} s"),
        ("load+build+run+table (median)", f"{s['replicate_seconds_median']:.3f} s"),
        (
            "household-steps/s (median / best)",
            f"{s['household_steps_per_second_median']:,.0f} / {s['household_steps_per_second_best']:,.0f}",
        ),
        ("peak RSS (max / median)", f"{s['peak_rss_mib_max']:.0f} MiB / {s['peak_rss_mib_median']:.0f} MiB"),
        ("RSS after imports (median)", f"{s['rss_after_import_mib_median']:.0f} MiB"),
    ]
    w = max(len(k) for k, _ in rows)
    print(f"\nbordersim core benchmark: {os.path.relpath(scenario, ROOT)}, scale 1.0, {args.repeats} repeat(s), 1 thread")
    print("-" * (w + 30))
    for k, v in rows:
        print(f"{k:<{w}}  {v}")
    print("-" * (w + 30))
    print(
        f"target run <= {TARGET_RUN_SECONDS:.0f} s: {'met' if targets['run_median_within_target'] else 'NOT met'} (median run); "
        f"whole replicate: {'met' if targets['replicate_median_within_target'] else 'NOT met'}"
    )
    print(f"target peak RSS < 1 GiB: {'met' if targets['peak_rss_within_target'] else 'NOT met'}")
    if profile_top:
        print(
            f"profile of one run (cProfile, run took {profile_top['run_seconds_under_cprofile']:.2f} s under the profiler): "
            f"{profile_top['file']}"
        )
    print(f"wrote {os.path.relpath(Path(args.out).resolve(), ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
