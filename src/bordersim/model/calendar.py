"""The event calendar: the days on which something is due, so that a day with nothing due costs next to nothing.

Every scheduled day of a household (a transition due, a clock firing, a pass expiring) is entered in
the calendar of its kind when it is set. An entry is not removed when the household's plans change: on
its day the entries are checked against the household's current schedule (``due[i] == today``) and the
stale ones dropped (lazy deletion), so setting a day costs an append and a day costs a look-up.

The calendar is a list of entries per day, held in arrays and worked in compiled passes (the few
households a day has at the calibration size made a dictionary of Python lists cost more in the
interpreter than in the work): ``head[day]`` is the day's first entry, ``nxt[e]`` the entry after ``e``
and ``who[e]`` its household; the entries of a day that has come are put on a free list and reused, so
the arrays hold only what is still ahead.
"""

from __future__ import annotations

import numpy as np

from .compiled import compiled

_EMPTY = np.zeros(0, dtype=np.int64)
_NO_DAYS = np.zeros(0, dtype=np.int64)
#: ``_meta`` fields: the first free entry (-1: none), the entries ever used, the free entries.
_FREE, _USED, _N_FREE = 0, 1, 2
#: No day limit.
_ALWAYS = np.iinfo(np.int64).max


class Calendar:
    """Day -> households with something due that day (possibly stale; see :meth:`due`)."""

    def __init__(self, days: int = 64, entries: int = 64):
        self._head = np.full(days, -1, dtype=np.int64)
        self._nxt = np.zeros(entries, dtype=np.int64)
        self._who = np.zeros(entries, dtype=np.int64)
        self._meta = np.array([-1, 0, 0], dtype=np.int64)

    def add(self, idx: np.ndarray, days, before: int | None = None) -> None:
        """Enter households ``idx`` on their ``days`` (an int for all, or one per household); with ``before``,
        only the days before it (later ones will be entered again when they are recomputed). Negative days
        are not entered."""
        if len(idx) == 0:
            return
        idx = np.asarray(idx, dtype=np.int64)
        if isinstance(days, (int, np.integer)):
            one, days = int(days), _NO_DAYS
        else:
            one, days = -1, np.asarray(days, dtype=np.int64)
        limit = _ALWAYS if before is None else int(before)
        while True:
            need_days, need_entries = _add(self._head, self._nxt, self._who, self._meta, idx, days, one, limit)
            if need_days == 0 and need_entries == 0:
                return
            if need_days:  # nothing was entered: make room and enter again
                head = np.full(max(need_days, 2 * len(self._head)), -1, dtype=np.int64)
                head[: len(self._head)] = self._head
                self._head = head
            if need_entries:
                size = max(need_entries, 2 * len(self._who))
                self._nxt, self._who = _grown(self._nxt, size), _grown(self._who, size)

    def due(self, today: int, scheduled: np.ndarray) -> np.ndarray:
        """The households whose ``scheduled`` day is ``today`` (sorted, unique), and forget the day."""
        if today >= len(self._head) or self._head[today] < 0:
            return _EMPTY
        return _due(self._head, self._nxt, self._who, self._meta, today, scheduled)

    def has(self, today: int) -> bool:
        """Has day ``today`` any entry (stale ones included)?"""
        return 0 <= today < len(self._head) and self._head[today] >= 0


def _grown(a: np.ndarray, size: int) -> np.ndarray:
    b = np.zeros(size, dtype=a.dtype)
    b[: len(a)] = a
    return b


@compiled
def _add(head, nxt, who, meta, idx, days, one, before):
    """Enter ``idx[j]`` on ``days[j]`` (or on ``one`` for all when ``days`` is empty), skipping negative days and
    days from ``before`` on. Returns (0, 0) when done, else the days or the entries the arrays
    must hold first (and enters nothing)."""
    n = len(idx)
    need_days = 0
    count = 0
    for j in range(n):
        d = days[j] if len(days) else one
        if d < 0 or d >= before:
            continue
        count += 1
        need_days = max(need_days, d + 1)
    if need_days > len(head):
        return need_days, 0
    if count > len(who) - meta[_USED] + meta[_N_FREE]:
        return 0, meta[_USED] + count
    for j in range(n):
        d = days[j] if len(days) else one
        if d < 0 or d >= before:
            continue
        e = meta[_FREE]
        if e >= 0:  # a free entry
            meta[_FREE] = nxt[e]
            meta[_N_FREE] -= 1
        else:
            e = meta[_USED]
            meta[_USED] += 1
        who[e] = idx[j]
        nxt[e] = head[d]
        head[d] = e
    return 0, 0


@compiled
def _due(head, nxt, who, meta, today, scheduled):
    """The day's households (sorted, unique) whose ``scheduled`` day is still ``today``; the day's entries freed."""
    count = 0
    e = head[today]
    last = e
    while e >= 0:
        count += 1
        last = e
        e = nxt[e]
    out = np.empty(count, dtype=np.int64)
    e = head[today]
    for j in range(count):
        out[j] = who[e]
        e = nxt[e]
    nxt[last] = meta[_FREE]  # the day's chain joins the free list
    meta[_FREE] = head[today]
    meta[_N_FREE] += count
    head[today] = -1
    out = np.unique(out)
    keep = 0
    for j in range(len(out)):
        if scheduled[out[j]] == today:
            out[keep] = out[j]
            keep += 1
    return out[:keep]
