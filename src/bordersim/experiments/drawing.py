"""Drawing a run's figures on the second core: a process forked before the run loads matplotlib while the model
simulates, then draws what it is sent, each job in a process of its own.

A run simulates on one core (one replicate) while the other waits; matplotlib's import and its first figure
cost about a second of that wait. :class:`Drawer` forks before the run (where ``fork`` exists: Linux, macOS)
and loads matplotlib in the child, which then waits for jobs (a module-level function and its arguments,
pickled through a pipe). It forks once more for each job, so that jobs draw side by side with matplotlib
already loaded (the run's figures and the fit report's: two cores). Without ``fork`` the jobs run in the
calling process, one after the other.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import traceback
from collections.abc import Callable

from ..io import pyplot


class Drawer:
    """A drawing process (see the module docstring); ``enabled=False``: nothing forked, nothing drawn."""

    def __init__(self, enabled: bool = True):
        self.enabled = enabled
        self._proc = None
        if not enabled or "fork" not in mp.get_all_start_methods():
            return
        ctx = mp.get_context("fork")
        receive, self._send = ctx.Pipe(duplex=False)
        self._proc = ctx.Process(target=_serve, args=(receive, self._send), daemon=True)
        self._proc.start()
        receive.close()

    def draw(self, func: Callable, *args, **kwargs) -> None:
        """Draw ``func(*args, **kwargs)`` (beside the other jobs; here, at once, without ``fork``)."""
        if not self.enabled:
            return
        if self._proc is None:
            func(*args, **kwargs)
            return
        self._send.send((func, args, kwargs))

    def join(self) -> None:
        """Wait for every job sent; a job that failed is an error here."""
        if self._proc is None:
            return
        self._send.close()
        self._proc.join()
        code, self._proc = self._proc.exitcode, None
        if code != 0:
            raise RuntimeError(f"drawing the run's figures failed (exit code {code})")

    def cancel(self) -> None:
        """Stop without waiting for the jobs (the run failed): the drawing processes end."""
        if self._proc is None:
            return
        self._send.close()
        self._proc.terminate()
        self._proc.join()
        self._proc = None

    def __enter__(self) -> Drawer:
        return self

    def __exit__(self, *exc) -> None:
        self.cancel()


def _serve(receive, send) -> None:
    """The drawing process: load matplotlib, then fork a process per job until the pipe closes; exit 1 if one failed.
    ``send``: the parent's end of the pipe, inherited by the fork and closed here (or the pipe would never close)."""
    send.close()
    pyplot()  # load matplotlib (and its font cache) while the parent simulates
    jobs = []
    while True:
        try:
            func, args, kwargs = receive.recv()
        except EOFError:  # no more jobs
            break
        pid = os.fork()
        if pid == 0:  # the job's process
            code = 0
            try:
                func(*args, **kwargs)
            except BaseException:
                traceback.print_exc()
                code = 1
            os._exit(code)
        jobs.append(pid)
    failed = [pid for pid in jobs if os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) != 0]
    raise SystemExit(1 if failed else 0)
