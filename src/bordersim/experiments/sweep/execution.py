"""Running a sweep: each run in a worker (a pure function of its task), the coordinator, the ledger.

The coordinator (this process) keeps the ledger (``ledger.sqlite``, see :mod:`.ledger`) and writes
each finished run's outcomes to ``runs/<key[:2]>/<key>.parquet`` atomically before marking it ``done``.
Re-running the same command on the same directory runs only what is not done. Runs execute on the
package's one executor (:mod:`bordersim.experiments.executor`): in this process, a local process pool,
a dask LocalCluster or an existing scheduler.
"""

from __future__ import annotations

import concurrent.futures as cf
import copy
import json
import os
import signal
import socket
import sys
import threading
import time
import traceback
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ...errors import ScenarioError
from ...io import write_parquet
from ...world.loader import validate_scenario
from ..executor import ExclusiveLock, Executor, Progress
from ..replicates import run_replicate
from .design import RunTask, Sweep
from .figures import sweep_figures
from .ledger import Ledger, PlannedRun, read_ledger, utc_now
from .results import SERIES_COLUMNS, combine, intact, result_file, write_spec
from .spec import OutcomeSpec


class RunTimeout(Exception):
    pass


def _worker_name() -> str:
    try:
        from distributed import get_worker

        return get_worker().address
    except Exception:
        return f"{socket.gethostname()}:{os.getpid()}"


def outcome_table(flows: pd.DataFrame, outcomes: list[OutcomeSpec], run_id: int, point_id: int, replicate: int) -> pd.DataFrame:
    """The run's outcomes as a tidy table (period is None for totals)."""
    rows = []
    for o in outcomes:
        s = flows[(flows.measure == o.measure) & (flows.region == o.region)].groupby("period", sort=True).value.sum()
        lo, hi = (o.at, o.at) if o.at else (o.from_, o.to)
        if lo:
            s = s[s.index >= lo]
        if hi:
            s = s[s.index <= hi]
        if o.series:
            rows += [(run_id, point_id, replicate, o.name, p, round(float(v), 6)) for p, v in s.items()]
            continue
        if s.empty:
            v = float("nan")
        else:
            stat = o.effective_stat
            v = s.iloc[-1] if stat == "last" else getattr(s, stat)()
        rows.append((run_id, point_id, replicate, o.name, None, round(float(v), 6)))
    df = pd.DataFrame(rows, columns=SERIES_COLUMNS)
    return df.astype({"run_id": "int64", "point_id": "int64", "replicate": "int64", "value": "float64"})


def execute(task: RunTask) -> dict:
    """Run one task; never raises for a failure of the run itself (it is returned, with its traceback)."""
    started, t0 = utc_now(), time.perf_counter()
    out = {"run_id": task.run_id, "key": task.key, "worker": _worker_name(), "started": started}
    alarm = task.timeout is not None and threading.current_thread() is threading.main_thread() and hasattr(signal, "SIGALRM")
    old = None
    try:
        if alarm:

            def _raise(signum, frame):
                raise RunTimeout(f"run took longer than the sweep's timeout ({task.timeout:g} s)")

            old = signal.signal(signal.SIGALRM, _raise)
            signal.setitimer(signal.ITIMER_REAL, task.timeout)
        sc = validate_scenario(copy.deepcopy(task.scenario), task.scenario_path)
        res = run_replicate(
            sc, np.random.SeedSequence(task.entropy, spawn_key=task.spawn_key), task.replicate, source=task.scenario_path
        )
        outs = [OutcomeSpec.model_validate(o) for o in task.outcomes]
        out.update(status="done", table=outcome_table(res.flows, outs, task.run_id, task.point_id, task.replicate))
    except Exception as exc:  # a failed run is a result, not a crash of the sweep
        msg = f"{type(exc).__name__}: {exc}"
        if isinstance(exc, ScenarioError):
            msg = f"ScenarioError: point {task.point_id}: {exc.message}"
        out.update(status="failed", error=msg, traceback=traceback.format_exc(limit=20))
    finally:
        if alarm:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old)
    out.update(finished=utc_now(), seconds=round(time.perf_counter() - t0, 3))
    return out


@dataclass
class SweepReport:
    out: Path
    total: int
    done: int
    failed: int
    ran: int
    skipped: int
    seconds: float
    backend: str


def run_sweep(
    sweep: Sweep,
    out: Path,
    workers: int | None = None,
    local_cluster: int | None = None,
    scheduler: str | None = None,
    resume: bool = False,
    retry_failed: bool = False,
    progress: bool = True,
    figures: bool = True,
    max_attempts: int = 2,
    _fn=None,
) -> SweepReport:
    """Run every run of ``sweep`` not yet done in ``out``; then write the combined results and figures."""
    t0 = time.perf_counter()
    out = Path(out)
    if resume and not (out / "ledger.sqlite").exists():
        raise ScenarioError(out, "--resume: no sweep here to resume (no ledger.sqlite)")
    out.mkdir(parents=True, exist_ok=True)
    backend = None
    with ExclusiveLock(out / ".lock", ScenarioError(out, "another sweep process is working in this directory")):
        # A coordinator killed while writing a run's result leaves the atomic writer's temporary file behind; no
        # other process writes here while the lock is held, so such a file is never a result: remove it.
        for stale in (out / "runs").rglob(".*.tmp") if (out / "runs").exists() else ():
            stale.unlink(missing_ok=True)
        try:
            remove_stale_temporaries(out)
            ledger = Ledger(out / "ledger.sqlite")
            try:
                todo, done0, failed0 = _plan(sweep, out, ledger, retry_failed, progress)
                ran = 0
                if todo:
                    backend = Executor(workers=workers, local_cluster=local_cluster, scheduler=scheduler)
                    backend.start()
                    if progress:
                        print(f"bordersim: running on {backend.describe()}", file=sys.stderr)
                    bar = Progress(sweep.n_runs, sweep.spec.name, done=done0, failed=failed0, enabled=progress)
                    try:
                        ran = _drive(sweep, out, ledger, backend, todo, bar, max_attempts, _fn or execute)
                    finally:
                        bar.close()
                combine(sweep, out, ledger)
            finally:
                ledger.close()
            if figures:
                sweep_figures(out)
            keys = set(sweep.keys())
            rows = [r for r in read_ledger(out / "ledger.sqlite") if r["run_key"] in keys]
            done = sum(r["status"] == "done" for r in rows)
            failed = sum(r["status"] == "failed" for r in rows)
            return SweepReport(
                out,
                sweep.n_runs,
                done,
                failed,
                ran,
                sweep.n_runs - ran,
                time.perf_counter() - t0,
                backend.describe() if backend else "nothing to run",
            )
        finally:
            if backend is not None:
                backend.close()


def remove_stale_temporaries(out: Path) -> int:
    """Delete the hidden temporary result files (``runs/**/.<key>.parquet.*.tmp``) of a killed coordinator.

    The atomic writer renames a finished temporary file into place, or deletes it when the write fails;
    only a process killed mid-write (SIGKILL, power cut) leaves one behind. Only the coordinator writes
    under ``runs/`` and it holds the directory's lock, so any temporary file found here is stale.
    """
    removed = 0
    runs = out / "runs"
    if runs.is_dir():
        for tmp in runs.rglob(".*.tmp"):
            if tmp.is_file():
                tmp.unlink(missing_ok=True)
                removed += 1
    return removed


def _plan(sweep: Sweep, out: Path, ledger: Ledger, retry_failed: bool, progress: bool) -> tuple[list[int], int, int]:
    """Bring the ledger up to the sweep's plan; returns (runs to do, runs done, runs failed)."""
    fp = ledger.get_meta("fingerprint")
    if fp is not None and fp != sweep.fingerprint:
        raise ScenarioError(
            out, f"this directory holds another sweep ({ledger.get_meta('name')}, a different sweep file); use another --out"
        )
    if fp is None:
        ledger.set_meta("name", sweep.spec.name)
        ledger.set_meta("fingerprint", sweep.fingerprint)
        ledger.set_meta("created_utc", utc_now())
    write_spec(sweep, out)
    keys = sweep.keys()
    planned = [
        PlannedRun(
            k,
            i,
            i // sweep.spec.replicates,
            i % sweep.spec.replicates,
            json.dumps([sweep.seed, list(sweep.seed_of(i).spawn_key)]),
            json.dumps(sweep.params_of(i // sweep.spec.replicates), default=str, sort_keys=True),
        )
        for i, k in enumerate(keys)
    ]
    stale = ledger.sync_plan(planned)
    if stale and progress:
        print(
            f"bordersim: {stale} run(s) are stale (scenario, outcomes or package version changed) and will run again",
            file=sys.stderr,
        )
    status = ledger.statuses()
    todo = []
    for i, k in enumerate(keys):
        s = status[k]
        if s == "done" and not intact(out / result_file(k)):
            s = "pending"  # its result file is gone or damaged: run it again
        if s in ("pending", "running") or (s == "failed" and retry_failed):
            todo.append(i)
    counts = ledger.counts(set(keys))
    todo_set = set(todo)
    done0 = sum(1 for i, k in enumerate(keys) if status[k] == "done" and i not in todo_set)
    failed0 = sum(1 for k in keys if status[k] == "failed") if not retry_failed else 0
    if progress:
        print(
            f"bordersim: sweep {sweep.spec.name}: {sweep.n_points} point(s) x {sweep.spec.replicates} replicate(s) = "
            f"{sweep.n_runs} run(s) ({sweep.design_type}); {done0} done, {counts['failed']} failed, {len(todo)} to run",
            file=sys.stderr,
        )
    return todo, done0, failed0


def _drive(
    sweep: Sweep, out: Path, ledger: Ledger, backend: Executor, todo: list[int], bar: Progress, max_attempts: int, fn=execute
) -> int:
    """Submit runs (a bounded window in flight), record each as it finishes; survive broken pools and killed workers."""
    queue: deque[int] = deque(todo)
    suspects: deque[int] = deque()  # runs in flight when a pool broke: re-run alone to find the culprit
    attempts: dict[int, int] = {}
    inflight: dict[cf.Future, tuple[int, bool]] = {}
    ex = backend.executor
    window = max(2, 2 * backend.slots)
    finished = 0

    def submit(batch: list[int], alone: bool) -> None:
        tasks = [sweep.task(i) for i in batch]
        ledger.mark_running_many([t.key for t in tasks])  # one transaction for the round
        for i, t in zip(batch, tasks, strict=True):
            inflight[ex.submit(fn, t)] = (i, alone)

    def record(results: list[dict], lost: list[tuple[int, str, str | None]]) -> None:
        """Write the finished runs' files, then mark them (and the lost ones) in one transaction."""
        nonlocal finished
        done, failed = [], []
        for res in results:
            if res["status"] == "done":
                rel = result_file(res["key"])
                write_parquet(out / rel, res["table"])  # in place (and synced) before the ledger says done
                done.append((res["key"], rel, res["worker"], res["started"], res["finished"], res["seconds"]))
            else:
                failed.append(
                    (
                        res["key"],
                        res["error"],
                        res.get("traceback"),
                        res.get("worker"),
                        res.get("started"),
                        res.get("finished"),
                        res.get("seconds"),
                    )
                )
        failed += [(sweep.keys()[i], err, tb, None, None, None, None) for i, err, tb in lost]
        if done or failed:
            ledger.finish_many(done, failed)
        for _ in done:
            bar.update(True)
        for _ in failed:
            bar.update(False)
        finished += len(done) + len(failed)

    while queue or suspects or inflight:
        if suspects:
            if not inflight:
                submit([suspects.popleft()], True)
        elif queue and len(inflight) < window:
            batch = []
            while queue and len(inflight) + len(batch) < window:
                batch.append(queue.popleft())
            submit(batch, False)
        done, _ = cf.wait(list(inflight), return_when=cf.FIRST_COMPLETED)
        broken = False
        results, lost = [], []
        for fut in done:
            i, alone = inflight.pop(fut)
            try:
                results.append(fut.result())
            except cf.process.BrokenProcessPool:
                broken = True
                attempts[i] = attempts.get(i, 0) + 1
                if alone or attempts[i] >= max_attempts:
                    lost.append(
                        (
                            i,
                            "WorkerDied: the worker process running this run died "
                            "(killed, out of memory, or crashed in native code)",
                            None,
                        )
                    )
                else:
                    suspects.append(i)
            except Exception as exc:  # dask: KilledWorker, a lost worker, a serialisation error ...
                lost.append((i, f"{type(exc).__name__}: {exc}", traceback.format_exc(limit=5)))
        record(results, lost)
        if broken:
            # The other runs in flight died with the pool too; they are re-run one at a time.
            survivors = []
            for fut, (i, _alone) in list(inflight.items()):
                try:
                    survivors.append(fut.result(timeout=0))
                except Exception:
                    attempts[i] = attempts.get(i, 0) + 1
                    suspects.append(i)
            record(survivors, [])
            inflight.clear()
            ex = backend.restart()
    return finished
