"""Compiled bookkeeping of the scheduled transitions: what a compiled pass does to a household and notes.

The day's scheduled transitions (:mod:`.transitions`) run as compiled passes, one household at a time: the
household's route (:mod:`.routes`), the authorities' legal channel (:mod:`.authorities`), the crossing
(:mod:`.border`), reception, settlement and returns (:mod:`.settlement`). They take the households' fields as
their blocks (:meth:`.Households.blocks`: ``hb``, ``i1``, ``i2``, ``i4``, ``f8``, ``u8``, one per dtype, a row per
field, picked by :data:`~.households.HB` ... :data:`~.households.HU8`; the journeys' uniforms ``ju``) and write
what they note in two buffers (:func:`buffers`: ``bi``, the integers, a row per :class:`B`, and ``bv``, the events'
values): a handful of arrays handed down, however many fields they read (numba's compile time grows with the
arrays a function is handed, :mod:`.blocks`). They share this module's helpers, which do what the numpy code did
to whole arrays:

* :func:`set_state` and :func:`schedule` are :meth:`Households.set_state` and :meth:`Households.schedule` for
  one household: the new state, the day it began, the day of its next transition (entered in the calendar
  after the pass) and the households touched today (their hazards are refreshed at the end of the day);
* :func:`reset_clocks` is :meth:`Households.reset_clocks` (a fresh move clock);
* :func:`note` notes one event of a measure (:meth:`Recorder.add` for one element), in the buffers that the pass
  hands to :meth:`Recorder.add_events` at its end (:func:`close`). The passes note the events of each measure in
  the order of the ``Recorder.add`` calls they replace, so the month's sums are the same to the bit;
* :func:`geometric` is :func:`~.streams.geometric` from ``log1p(-u)``: the logarithms of a pass's uniforms are
  taken by numpy before it (:func:`log_uniforms`), so that they are numpy's own to the bit;
* :func:`np_sum` is ``numpy.sum`` of a float array (numpy's pairwise summation).

Journey columns (``J_*``) and measures (``M_*``, the recorder's index looked up by :func:`close`) are module
constants (numba freezes them). Every pass is :func:`~.compiled.compiled` (cached under a digest of the model's
sources: the day's driver holds the code of the passes it calls); the helpers here are inlined where they are
called (``inline="always"``), and the passes that only the day's driver calls are not cached on their own
(``cache=False``: the driver's entry holds them).
"""

from __future__ import annotations

import math
from enum import IntEnum

import numpy as np

from .clocks import NEVER
from .compiled import compiled
from .households import HF8, HI1, HI4, Households
from .measures import MEASURE_INDEX
from .streams import JOURNEY

#: Journey columns read by the passes (plain ints: constants to numba).
J_ROUTE, J_APPROVAL, J_AFTER_REFUSAL, J_SELL, J_POST, J_REPATRIATE, J_SEND_BACK = (
    JOURNEY.ROUTE, JOURNEY.APPROVAL, JOURNEY.AFTER_REFUSAL, JOURNEY.SELL, JOURNEY.POST, JOURNEY.REPATRIATE,
    JOURNEY.SEND_BACK,
)  # fmt: skip
#: Journey columns the passes read as ``log1p(-u)`` (:func:`log_uniforms`), at the positions ``L_*``.
LOG_COLS = np.array([JOURNEY.PROCESSING, JOURNEY.PREPARATION, JOURNEY.SCREENING, JOURNEY.STAY])
L_PROCESSING, L_PREPARATION, L_SCREENING, L_STAY = range(4)
#: The measures the passes note, at the positions ``M_*`` (``M_NONE``: no measure).
NOTED = (
    "legal_applications", "preparing_households", "lapsed_households", "legal_approved", "legal_refused",
    "legal_emigrated", "property_sold_households", "attempted", "attempted_households", "attempted_in_group",
    "detected", "stopped", "crossed_detected", "persuaded_back", "drowned", "crossed", "arrived_reception",
    "disaster_assisted_home", "sent_back", "sent_back_of_discovered", "sent_back_single_han", "repatriated",
    "repatriated_criminals", "returned_with_identity", "settled", "settled_households", "allowance_yuan",
    "grain_catties", "returned_own", "returned_own_of_discovered",
)  # fmt: skip
(M_LEGAL_APPLICATIONS, M_PREPARING, M_LAPSED, M_APPROVED, M_REFUSED, M_EMIGRATED, M_PROPERTY_SOLD, M_ATTEMPTED,
 M_ATTEMPTED_HOUSEHOLDS, M_IN_GROUP, M_DETECTED, M_STOPPED, M_CROSSED_DETECTED, M_PERSUADED_BACK, M_DROWNED, M_CROSSED,
 M_ARRIVED, M_ASSISTED_HOME, M_SENT_BACK, M_SENT_BACK_SEEN, M_SENT_BACK_HAN, M_REPATRIATED, M_REPATRIATED_CRIMINALS,
 M_WITH_IDENTITY, M_SETTLED, M_SETTLED_HOUSEHOLDS, M_YUAN, M_GRAIN, M_RETURNED_OWN, M_RETURNED_OWN_SEEN) = range(30)  # fmt: skip
M_NONE = -1
#: The recorder's index of each noted measure.
MEASURES = np.array([MEASURE_INDEX[m] for m in NOTED], dtype=np.int64)
#: Most events a household's transitions note in one day (a crossing and its reception: ten).
EVENTS_PER_HOUSEHOLD = 12


class B(IntEnum):
    """The rows of a pass's integer buffer ``bi``: the events' measures (``M_*``) and home regions, the households
    scheduled (calendar) and touched, and the counts (at :data:`N_EVENTS`, :data:`N_SCHED`, :data:`N_TOUCHED`)."""

    MEASURE = 0
    LEAF = 1
    SCHED = 2
    TOUCHED = 3
    COUNT = 4


N_EVENTS, N_SCHED, N_TOUCHED = 0, 1, 2


def buffers(n: int) -> tuple[np.ndarray, np.ndarray]:
    """A pass's buffers over ``n`` households: the integers ``bi`` (rows :class:`B`, the counts 0) and the events'
    values ``bv``."""
    cap = EVENTS_PER_HOUSEHOLD * n
    bi = np.empty((len(B), max(cap, 3)), np.int64)
    bi[B.COUNT, :3] = 0
    return bi, np.empty(cap)


def close(bi: np.ndarray, bv: np.ndarray, hh: Households, recorder) -> None:
    """After a pass: the households scheduled enter the calendar, those touched are kept for the day's end, the
    events go to the recorder (in the order noted)."""
    n_ev, n_sched, n_touched = bi[B.COUNT, :3].tolist()
    if n_sched:
        sched = bi[B.SCHED, :n_sched]
        hh.cal_due.add(sched, hh.due[sched])
    if n_touched:
        hh.touched.append(bi[B.TOUCHED, :n_touched])
    if n_ev:
        recorder.add_events(MEASURES[bi[B.MEASURE, :n_ev]], bi[B.LEAF, :n_ev], bv[:n_ev])


def log_uniforms(hh: Households, idx: np.ndarray) -> np.ndarray:
    """``log1p(-u)`` of households ``idx``'s journey columns ``L_*``: the uniforms gathered and negated in a compiled
    pass (:func:`_minus_uniforms`), their logarithm taken in place by numpy (numpy's, as the numpy draws took it)."""
    x = _minus_uniforms(hh.ju, idx, LOG_COLS)
    return np.log1p(x, out=x)


@compiled
def _minus_uniforms(ju, idx, cols):
    """``-ju[idx[j], cols[c]]`` as a contiguous (households x columns) array."""
    out = np.empty((len(idx), len(cols)))
    for j in range(len(idx)):
        for c in range(len(cols)):
            out[j, c] = -ju[idx[j], cols[c]]
    return out


def geometric_factor(p: float) -> float:
    """The factor of :func:`geometric` for success probability ``p``: ``1 / log1p(-p)`` (0 if ``p >= 1``: always 1)."""
    return 0.0 if p >= 1.0 else 1.0 / math.log1p(-p)


@compiled(inline="always")
def geometric(log_u, factor):
    """Geometric on 1, 2, ... from ``log1p(-u)`` and :func:`geometric_factor` (as :func:`~.streams.geometric`)."""
    return int(np.floor(log_u * factor)) + 1


@compiled(inline="always")
def note(bi, bv, measure, leaf, value):
    """Note one event: ``value`` of measure ``measure`` (an ``M_*``) at home region ``leaf``."""
    k = bi[B.COUNT, N_EVENTS]
    bi[B.MEASURE, k] = measure
    bi[B.LEAF, k] = leaf
    bv[k] = value
    bi[B.COUNT, N_EVENTS] = k + 1


@compiled(inline="always")
def schedule(i4, bi, i, due):
    """Household ``i``'s next transition is due on day ``due`` (-1: none; else entered in the calendar)."""
    i4[HI4.due, i] = due
    if due >= 0:
        k = bi[B.COUNT, N_SCHED]
        bi[B.SCHED, k] = i
        bi[B.COUNT, N_SCHED] = k + 1


@compiled(inline="always")
def set_state(i1, i4, bi, i, state, today, due):
    """Household ``i`` enters ``state`` today, its next transition due on ``due`` (-1: none); it is touched."""
    i1[HI1.state, i] = state
    i4[HI4.since, i] = today
    schedule(i4, bi, i, due)
    k = bi[B.COUNT, N_TOUCHED]
    bi[B.TOUCHED, k] = i
    bi[B.COUNT, N_TOUCHED] = k + 1


@compiled(inline="always")
def reset_clocks(i4, f8, i):
    """A fresh move clock for household ``i`` (its threshold was drawn with the journey that ended)."""
    f8[HF8.clock_move, i] = 0.0
    f8[HF8.h_move, i] = 0.0
    i4[HI4.next_move, i] = NEVER


@compiled(cache=False)
def np_sum(a, n):
    """``numpy.sum(a[:n])``: numpy's pairwise summation, to the bit. numpy halves a sum of more than 128 numbers
    (the first half a multiple of 8) and adds the halves' sums; this walks the same tree with a stack of its own
    (a recursive function cannot be cached by numba). A block of 128 numbers or fewer is summed as numpy's
    ``pairwise_sum`` does: in order below 8, else in eight partial sums."""
    lo = np.zeros(64, dtype=np.int64)  # the frames: a block's start and length, and how far it is done
    size = np.zeros(64, dtype=np.int64)
    stage = np.zeros(64, dtype=np.int64)
    sums = np.zeros(64)  # the sums of the halves done, last on top
    r = np.empty(8)
    size[0] = n
    top, k = 0, 0
    while top >= 0:
        m, s = size[top], lo[top]
        if m <= 128:
            res = 0.0
            i = 0
            if m >= 8:
                for q in range(8):
                    r[q] = a[s + q]
                i = 8
                while i < m - (m % 8):
                    for q in range(8):
                        r[q] += a[s + i + q]
                    i += 8
                res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
            while i < m:
                res += a[s + i]
                i += 1
            sums[k] = res
            k += 1
            top -= 1
        elif stage[top] == 2:
            sums[k - 2] = sums[k - 2] + sums[k - 1]
            k -= 1
            top -= 1
        else:
            half = m // 2
            half -= half % 8
            child_lo = s + (half if stage[top] else 0)
            child_size = m - half if stage[top] else half
            stage[top] += 1
            top += 1
            lo[top], size[top], stage[top] = child_lo, child_size, 0
    return sums[0]


@compiled(cache=False)
def stable_order(u):
    """``numpy.argsort(u, kind="stable")`` of a float array without NaN: the positions in increasing order of
    ``u``, equal values in their order (a merge sort, bottom up)."""
    n = len(u)
    order = np.arange(n)
    tmp = np.empty(n, dtype=np.int64)
    width = 1
    while width < n:
        for lo in range(0, n, 2 * width):
            mid = min(lo + width, n)
            hi = min(lo + 2 * width, n)
            a, b, k = lo, mid, lo
            while a < mid and b < hi:
                if u[order[b]] < u[order[a]]:
                    tmp[k] = order[b]
                    b += 1
                else:
                    tmp[k] = order[a]
                    a += 1
                k += 1
            while a < mid:
                tmp[k] = order[a]
                a += 1
                k += 1
            while b < hi:
                tmp[k] = order[b]
                b += 1
                k += 1
        order, tmp = tmp, order
        width *= 2
    return order
