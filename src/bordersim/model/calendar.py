"""The event calendar: the days on which something is due, so that a day with nothing due costs next to nothing.

Every scheduled day of a household (a transition due, a clock firing, a pass expiring) is entered in
the calendar of its kind when it is set. An entry is not removed when the household's plans change: on
its day the entries are checked against the household's current schedule (``due[i] == today``) and the
stale ones dropped (lazy deletion), so setting a day costs an append and a day costs a dictionary
look-up.
"""

from __future__ import annotations

import numpy as np

_EMPTY = np.zeros(0, dtype=np.int64)


class Calendar:
    """Day -> households with something due that day (possibly stale; see :meth:`due`)."""

    def __init__(self):
        self._days: dict[int, list[int]] = {}

    def add(self, idx: np.ndarray, days, before: int | None = None) -> None:
        """Enter households ``idx`` on their ``days`` (an int for all, or one per household); with ``before``,
        only the days before it (later ones will be entered again when they are recomputed)."""
        book = self._days
        if isinstance(days, (int, np.integer)):
            d = int(days)
            if len(idx) and d >= 0 and (before is None or d < before):
                book.setdefault(d, []).extend(idx.tolist())
            return
        if len(idx) == 0:
            return
        if before is not None:
            keep = days < before
            idx, days = idx[keep], days[keep]
        if len(idx) <= 64:  # a few households: group them in Python
            for i, d in zip(idx.tolist(), days.tolist()):
                if d >= 0:
                    book.setdefault(d, []).append(i)
            return
        order = np.argsort(days, kind="stable")
        days, idx = days[order], idx[order]
        cuts = np.flatnonzero(days[1:] != days[:-1]) + 1
        lo = 0
        for hi, d in zip([*cuts.tolist(), len(days)], days[np.r_[0, cuts]].tolist()):
            if d >= 0:
                book.setdefault(d, []).extend(idx[lo:hi].tolist())
            lo = hi

    def due(self, today: int, scheduled: np.ndarray) -> np.ndarray:
        """The households whose ``scheduled`` day is ``today`` (sorted, unique), and forget the day."""
        entries = self._days.pop(today, None)
        if not entries:
            return _EMPTY
        cand = np.array(sorted(set(entries)) if len(entries) < 256 else np.unique(entries), dtype=np.int64)
        return cand[scheduled[cand] == today]

    def has(self, today: int) -> bool:
        return today in self._days
