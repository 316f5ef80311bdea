"""Drawing a run's figures on the second core: processes forked before the run, which load matplotlib while the
model simulates and then draw what they are sent.

A run simulates on one core (one replicate) while the other waits; matplotlib's import and its first figure
cost about a second of that wait. :class:`Drawer` forks before the run (where ``fork`` exists: Linux, macOS),
loads matplotlib in the child, and blocks until :meth:`Drawer.draw` sends it a job (a module-level function
and its arguments, pickled through a pipe) or :meth:`Drawer.cancel` tells it there is none. Without ``fork``
the job runs in the calling process.
"""

from __future__ import annotations

import multiprocessing as mp
from collections.abc import Callable

from ..io import pyplot


class Drawer:
    """One forked process that draws one job (see the module docstring); ``enabled=False``: nothing is forked
    and nothing drawn."""

    def __init__(self, enabled: bool = True):
        self.enabled = enabled
        self._proc = None
        if not enabled or "fork" not in mp.get_all_start_methods():
            return
        ctx = mp.get_context("fork")
        receive, self._send = ctx.Pipe(duplex=False)
        self._proc = ctx.Process(target=_serve, args=(receive,), daemon=True)
        self._proc.start()
        receive.close()

    def draw(self, func: Callable, *args, **kwargs) -> None:
        """Draw ``func(*args, **kwargs)`` in the child (here, without ``fork``); :meth:`join` waits for it."""
        if not self.enabled:
            return
        if self._proc is None:
            func(*args, **kwargs)
            return
        self._send.send((func, args, kwargs))
        self._send.close()

    def join(self) -> None:
        """Wait for the job; a job that failed in the child is an error here."""
        if self._proc is None:
            return
        self._proc.join()
        code, self._proc = self._proc.exitcode, None
        if code != 0:
            raise RuntimeError(f"drawing the run's figures failed (exit code {code})")

    def cancel(self) -> None:
        """No job after all (the run failed, or wrote no figures): the child ends."""
        if self._proc is None:
            return
        if not self._send.closed:
            self._send.close()  # the child's recv sees the end of the pipe
        self._proc.join(timeout=10)
        if self._proc.is_alive():
            self._proc.terminate()
            self._proc.join()
        self._proc = None

    def __enter__(self) -> Drawer:
        return self

    def __exit__(self, *exc) -> None:
        self.cancel()


def _serve(receive) -> None:
    pyplot()  # load matplotlib (and its font cache) while the parent simulates
    try:
        func, args, kwargs = receive.recv()
    except EOFError:  # cancelled
        return
    func(*args, **kwargs)
