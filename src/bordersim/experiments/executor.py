"""Where runs execute, for replicates, sweeps and calibrations alike: one executor, one progress line, one lock.

:class:`Executor` gives a ``concurrent.futures`` executor on one of four back ends: this process
(``workers=0``), a local process pool (``workers=N``; workers fork from a server that has imported the
model, and exit when the coordinator dies), a dask ``LocalCluster`` started here (``local_cluster=N``)
or an existing dask scheduler (``scheduler=tcp://HOST:PORT``); the calibration's waves run their batches on
it. :class:`Progress` is the progress bar (a terminal) or log line (otherwise); :class:`ExclusiveLock`
keeps two processes out of one output directory or database.
"""

from __future__ import annotations

import concurrent.futures as cf
import os
import sys
import threading
import time

from ..errors import ScenarioError

#: Modules a pool worker imports before forking (so a run starts in milliseconds).
PRELOAD = ["bordersim.experiments.replicates", "bordersim.experiments.sweep.execution"]


class Executor:
    """Creates (and re-creates, if a pool breaks) a concurrent.futures executor on the chosen back end."""

    def __init__(self, workers: int | None = None, local_cluster: int | None = None, scheduler: str | None = None):
        self.workers, self.local_cluster, self.scheduler = workers, local_cluster, scheduler
        self.cluster = self.client = None
        self.executor: cf.Executor | None = None
        self.is_dask = local_cluster is not None or scheduler is not None

    def describe(self) -> str:
        if self.scheduler:
            return f"dask cluster at {self.scheduler} ({self.slots} worker threads)"
        if self.local_cluster:
            return f"dask LocalCluster, {self.local_cluster} workers"
        return "this process (serial)" if self.workers == 0 else f"local process pool, {self.workers} workers"

    def dask_client(self):
        """The dask client (connecting, or starting the LocalCluster, on first use)."""
        if self.client is not None:
            return self.client
        try:
            import logging

            from distributed import Client, LocalCluster
        except ImportError:
            raise ScenarioError(
                "--scheduler/--local-cluster", "dask.distributed is not installed (pip install 'bordersim[sweep]')"
            ) from None
        if self.local_cluster:
            self.cluster = LocalCluster(
                n_workers=self.local_cluster,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                silence_logs=logging.ERROR,
            )
            self.client = Client(self.cluster)
        else:
            try:
                self.client = Client(self.scheduler, timeout="60s")
            except (OSError, TimeoutError) as err:
                raise ScenarioError("--scheduler", f"cannot reach the dask scheduler {self.scheduler}: {err}") from None
        return self.client

    def start(self) -> cf.Executor:
        if self.is_dask:
            self.executor = self.dask_client().get_executor(pure=False)
        elif self.workers == 0:
            self.executor = SerialExecutor()
        else:
            import multiprocessing as mp

            if "forkserver" in mp.get_all_start_methods():
                ctx = mp.get_context("forkserver")
                # Workers fork from a server that has already imported the model: they start in milliseconds.
                ctx.set_forkserver_preload(PRELOAD)
            else:
                ctx = mp.get_context("spawn")
            self.executor = cf.ProcessPoolExecutor(
                max_workers=self.workers, mp_context=ctx, initializer=_watch_coordinator, initargs=(os.getpid(),)
            )
        return self.executor

    @property
    def slots(self) -> int:
        if self.client is not None:
            return max(1, sum(self.client.nthreads().values()))
        return max(1, self.workers or 1)

    def restart(self) -> cf.Executor:
        if self.executor is not None and not self.is_dask:
            self.executor.shutdown(wait=False, cancel_futures=True)
        return self.start()

    def close(self) -> None:
        try:
            if self.executor is not None:
                if self.is_dask:
                    self.executor.shutdown(wait=False)
                else:
                    self.executor.shutdown(wait=True, cancel_futures=True)
        finally:
            if self.client is not None:
                self.client.close()
            if self.cluster is not None:
                self.cluster.close()

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _watch_coordinator(pid: int, every: float = 1.0) -> None:
    """Pool-worker initializer: exit when the coordinator is gone (say, killed with SIGKILL), so no idle worker lingers."""

    def watch() -> None:
        while True:
            time.sleep(every)
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                os._exit(0)
            except PermissionError:
                pass

    threading.Thread(target=watch, name="bordersim-watch-coordinator", daemon=True).start()


class SerialExecutor(cf.Executor):
    """Runs each task in this process when submitted (``workers=0``, for debugging)."""

    def submit(self, fn, /, *args, **kwargs):
        f: cf.Future = cf.Future()
        try:
            f.set_result(fn(*args, **kwargs))
        except BaseException as exc:
            f.set_exception(exc)
        return f


class Progress:
    """Done / failed / rate / ETA: a tqdm bar on a terminal, a log line every ``every`` seconds otherwise."""

    def __init__(
        self, total: int, desc: str, unit: str = "run", done: int = 0, failed: int = 0, enabled: bool = True, every: float = 5.0
    ):
        self.total, self.done, self.failed, self.desc, self.unit = total, done, failed, desc, unit
        self.start_n, self.t0, self.last, self.every = done + failed, time.perf_counter(), 0.0, every
        self.enabled = enabled
        self.bar = None
        if enabled and sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=total, initial=done + failed, desc=desc, unit=unit, dynamic_ncols=True)
            self.bar.set_postfix_str(self._post())

    def _post(self) -> str:
        return f"done {self.done}, failed {self.failed}"

    def rate(self) -> float:
        dt_ = time.perf_counter() - self.t0
        return (self.done + self.failed - self.start_n) / dt_ * 60 if dt_ > 0 else 0.0

    def update(self, ok: bool = True) -> None:
        if ok:
            self.done += 1
        else:
            self.failed += 1
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix_str(self._post(), refresh=False)
        elif self.enabled:
            now = time.perf_counter()
            if now - self.last >= self.every or self.done + self.failed == self.total:
                self.last = now
                print(self.line(), file=sys.stderr, flush=True)

    def line(self) -> str:
        n = self.done + self.failed
        r = self.rate()
        left = self.total - n
        eta = f"{left / r:.1f} min" if r > 0 and left else ("-" if left else "0 min")
        u = self.unit
        return f"[{self.desc}] {n}/{self.total} {u}s: {self.done} done, {self.failed} failed; {r:.1f} {u}s/min; ETA {eta}"

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


class ExclusiveLock:
    """An exclusive ``flock`` on ``path`` (released by the kernel if the process dies); ``busy`` is raised if it is held."""

    def __init__(self, path: os.PathLike, busy: Exception):
        self.path, self.busy, self.fh = path, busy, None

    def __enter__(self) -> ExclusiveLock:
        import fcntl

        self.fh = open(self.path, "a+")  # noqa: SIM115 (held open for as long as the lock)
        try:
            fcntl.flock(self.fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self.fh.close()
            raise self.busy from None
        return self

    def __exit__(self, *exc) -> None:
        self.fh.close()  # closing the file releases the lock
