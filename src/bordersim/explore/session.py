"""The page's model and its stepping, independent of Solara.

A :class:`Session` owns one :class:`~bordersim.BorderModel` and one worker thread that is the only
code ever to call ``model.step()``. The page never steps the model itself: it sets a *target day*
(:meth:`step_day`, :meth:`step_month`, :meth:`play`, :meth:`run_to_end`), the worker steps towards
it, and the page reads :meth:`snapshot`, a copy of everything it displays taken under the session's
lock. So a button press returns at once, a long run never blocks the page, and the page always
draws a consistent state (never a month half-copied while a step is under way).

Changing the settings rebuilds the model (:meth:`apply`) and, unless asked otherwise, runs it back
to the date the page had reached, in the background and with progress, so that "switch to the 1964
Protocol" shows the same date under the other rules.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
import traceback
from dataclasses import dataclass, field

import numpy as np

from . import _bordersim as bs
from .settings import Resolved, Settings, catalogue, resolve

log = logging.getLogger("bordersim.explore")


@dataclass(frozen=True)
class Snapshot:
    """Everything the page shows about the session's model at one moment (copies, safe to keep)."""

    version: int
    settings: Settings
    resolved: Resolved | None
    error: str | None
    #: Monthly leaf-level data, months x leaves x measures (all months of the run; later ones zero).
    data: np.ndarray | None
    months: list[str]
    #: Index of the month the model is in (the month of the next day to simulate), -1 before the start.
    month: int
    #: Months whose stocks are recorded (the month ends reached).
    months_closed: int
    date: dt.date | None  # the last simulated day (None before the first step)
    start: dt.date | None
    end: dt.date | None
    today: int  # days simulated
    n_days: int
    target: int
    running: bool
    rules_name: str | None
    drawn: dict = field(default_factory=dict)
    #: The rule set in force (``model.rules``: frozen, with the scenario's and the posterior's overrides).
    rules: object = None
    #: What the worker is doing: "", "building", "catching up", "playing", "stepping".
    activity: str = ""
    progress: float | None = None
    last_step_ms: float | None = None

    @property
    def busy(self) -> bool:
        return self.target > self.today and self.running


class Session:
    """One page's model, stepped by a worker thread towards a target day."""

    def __init__(self, settings: Settings | None = None, cat=None, autostart: bool = True):
        self.catalogue = cat if cat is not None else catalogue()
        self.settings = settings or Settings()
        self._lock = threading.RLock()
        self._wake = threading.Condition(self._lock)
        self._closed = False
        self._version = 0
        self.model = None
        self.resolved: Resolved | None = None
        self.drawn: dict = {}
        self.error: str | None = None
        self._target = 0
        self._pending: tuple[Settings, int] | None = None
        self._activity = ""
        self._task_from = 0
        self._last_step_ms: float | None = None
        self._step_ms: list[float] = []
        #: Days per second while playing (None: as fast as the model goes).
        self.pace: float | None = None
        self._build(self.settings)
        self._thread = None
        if autostart:
            self._thread = threading.Thread(target=self._run, name="bordersim-explore-model", daemon=True)
            self._thread.start()

    # -- building ----------------------------------------------------------------------------------
    def _build(self, settings: Settings) -> None:
        """Build the model for ``settings`` (under the lock); errors become a one-line message."""
        try:
            res = resolve(settings, self.catalogue)
            model, drawn = bs.replicate_model(res.scenario, res.entry.path, res.seed, 0)
        except bs.ScenarioError as err:
            self.error = str(err)
            self.settings = settings
            self.model = None
            self.resolved = None
            self._target = 0
            log.warning("bordersim explore: %s", err)
            return
        self.error = None
        self.settings = settings
        self.resolved = res
        self.model = model
        self.drawn = drawn
        self._target = 0

    def apply(self, settings: Settings, catch_up: bool = True) -> None:
        """Use ``settings`` from now on: rebuild the model, and run it back to the current date if asked."""
        with self._lock:
            back_to = self.model.today if (self.model is not None and catch_up) else 0
            if self._thread is None:
                self._build(settings)
                if self.model is not None:
                    self._target = min(back_to, self.model.n_days)
            else:
                self._pending = (settings, back_to)
                self._activity = "building"
                self._wake.notify_all()
            self._bump()

    def reset(self) -> None:
        """Back to the start with the same settings."""
        self.apply(self.settings, catch_up=False)

    # -- commands: move the target day -------------------------------------------------------------
    def _set_target(self, day: int, activity: str) -> None:
        with self._lock:
            if self.model is None:
                return
            self._target = max(self.model.today, min(day, self.model.n_days))
            self._task_from = self.model.today
            self._activity = activity if self._target > self.model.today else ""
            self._wake.notify_all()
            self._bump()

    def step_day(self) -> None:
        with self._lock:
            if self.model is not None:
                self._set_target(max(self._target, self.model.today) + 1, "stepping")

    def step_month(self) -> None:
        """Run to the end of the month of the next day to simulate (or of the next month if at a month start)."""
        with self._lock:
            m = self.model
            if m is None:
                return
            base = max(self._target, m.today)
            day = m.start + dt.timedelta(days=base)
            nxt = dt.date(day.year + (day.month == 12), day.month % 12 + 1, 1)
            self._set_target((nxt - m.start).days, "stepping")

    def play(self) -> None:
        with self._lock:
            if self.model is not None:
                self._set_target(self.model.n_days, "playing")

    def run_to_end(self) -> None:
        self.play()

    def pause(self) -> None:
        with self._lock:
            if self.model is not None:
                self._target = self.model.today
                self._activity = ""
                self._bump()

    @property
    def playing(self) -> bool:
        with self._lock:
            return self.model is not None and self._activity == "playing" and self._target > self.model.today

    # -- the worker ---------------------------------------------------------------------------------
    def _bump(self) -> None:
        self._version += 1

    def _run(self) -> None:
        while True:
            with self._lock:
                while (
                    not self._closed
                    and self._pending is None
                    and (self.model is None or self.model.today >= self._target or not self.model.running)
                ):
                    if self.model is not None and self._activity and (self.model.today >= self._target or not self.model.running):
                        self._activity = ""
                        self._bump()
                    self._wake.wait(0.5)
                if self._closed:
                    return
                if self._pending is not None:
                    settings, back_to = self._pending
                    self._pending = None
                    try:
                        self._build(settings)
                    except Exception:  # a bug, not a user error: keep the page alive, log the traceback
                        self.error = "the model could not be built (see the server log)"
                        self.model = None
                        log.error("bordersim explore: building the model failed\n%s", traceback.format_exc())
                    if self.model is not None and back_to > 0:
                        self._target = min(back_to, self.model.n_days)
                        self._task_from = 0
                        self._activity = "catching up"
                    else:
                        self._activity = ""
                    self._bump()
                    continue
                model = self.model
                t0 = time.perf_counter()
                try:
                    model.step()
                except Exception:
                    self.error = f"the model failed on {model.date} (see the server log)"
                    log.error("bordersim explore: step failed\n%s", traceback.format_exc())
                    self._target = model.today
                    self._activity = ""
                    self._bump()
                    continue
                self._last_step_ms = (time.perf_counter() - t0) * 1000
                self._step_ms.append(self._last_step_ms)
                self._bump()
                pause = 1.0 / self.pace - self._last_step_ms / 1000 if (self.pace and self._activity == "playing") else 0.0
            # Let the page take the lock for a snapshot between days; keep the pace when playing.
            time.sleep(max(0.0, pause))

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._wake.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def wait_idle(self, timeout: float = 60.0) -> bool:
        """Block until the worker has reached its target (for scripts and tests)."""
        t_end = time.time() + timeout
        while time.time() < t_end:
            with self._lock:
                idle = self._pending is None and (
                    self.model is None or self.model.today >= self._target or not self.model.running
                )
            if idle:
                return True
            time.sleep(0.01)
        return False

    # -- reading ------------------------------------------------------------------------------------
    @property
    def version(self) -> int:
        return self._version

    def step_times_ms(self) -> list[float]:
        with self._lock:
            return list(self._step_ms)

    def snapshot(self) -> Snapshot:
        with self._lock:
            m = self.model
            if m is None:
                return Snapshot(
                    self._version,
                    self.settings,
                    self.resolved,
                    self.error,
                    None,
                    [],
                    -1,
                    0,
                    None,
                    None,
                    None,
                    0,
                    0,
                    0,
                    False,
                    None,
                    {},
                    None,
                    self._activity,
                    None,
                    None,
                )
            rec = m.recorder
            months = list(rec.months)
            if m.today == 0:
                month, closed, date = -1, 0, None
            else:
                date = m.start + dt.timedelta(days=m.today - 1)
                month = (date.year - m.start.year) * 12 + date.month - m.start.month
                closed = month + 1 if (date + dt.timedelta(days=1)).month != date.month or m.today >= m.n_days else month
            progress = None
            if self._activity in ("catching up", "playing", "stepping") and self._target > self._task_from:
                progress = (m.today - self._task_from) / (self._target - self._task_from)
            return Snapshot(
                version=self._version,
                settings=self.settings,
                resolved=self.resolved,
                error=self.error,
                data=rec.data.copy(),
                months=months,
                month=month,
                months_closed=closed,
                date=date,
                start=m.start,
                end=m.end,
                today=m.today,
                n_days=m.n_days,
                target=self._target,
                running=bool(m.running),
                rules_name=m.rules.name,
                drawn=dict(self.drawn),
                rules=m.rules,
                activity=self._activity,
                progress=progress,
                last_step_ms=self._last_step_ms,
            )
