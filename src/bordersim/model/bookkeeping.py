"""Compiled bookkeeping of the scheduled transitions: what a compiled pass does to a household and notes.

The day's scheduled transitions (:mod:`.transitions`) run as compiled passes, one household at a time: the
household's route (:mod:`.routes`), the authorities' legal channel (:mod:`.authorities`), the crossing
(:mod:`.border`), reception, settlement and returns (:mod:`.settlement`). They share this module's helpers,
which do what the numpy code did to whole arrays:

* :func:`set_state` and :func:`schedule` are :meth:`Households.set_state` and :meth:`Households.schedule` for
  one household: the new state, the day it began, the day of its next transition (entered in the calendar
  after the pass) and the households touched today (their hazards are refreshed at the end of the day);
* :func:`reset_clocks` is :meth:`Households.reset_clocks` (a fresh move clock);
* :func:`note` notes one event of a measure (:meth:`Recorder.add` for one element), in a buffer that the pass
  hands to :meth:`Recorder.add_events` at its end. The passes note the events of each measure in the order of
  the ``Recorder.add`` calls they replace, so the month's sums are the same to the bit;
* :func:`geometric` is :func:`~.streams.geometric` from ``log1p(-u)``: the logarithms of a pass's uniforms are
  taken by numpy before it (:func:`log_uniforms`), so that they are numpy's own to the bit;
* :func:`np_sum` is ``numpy.sum`` of a float array (numpy's pairwise summation).

Journey columns and measures reach the compiled code as arrays (:data:`JCOLS`, the :class:`Buffers`' measure
indices). Every pass is :func:`~.compiled.compiled` (cached under a digest of the model's sources: the day's driver
holds the code of the passes it calls).
"""

from __future__ import annotations

import math
from collections import namedtuple

import numpy as np

from .clocks import NEVER
from .compiled import compiled
from .households import Households
from .measures import MEASURE_INDEX
from .streams import JOURNEY

#: The household arrays the compiled passes read and write (:func:`fields`), with the journeys' uniforms ``ju``
#: and the journey columns they read (``jc``: :data:`JCOLS`).
Fields = namedtuple(
    "Fields",
    "state since due leaf weight size labourers letter_held nk_national criminal han_single disaster family_left "
    "property_sold crossing_seen screened attempts drowned away stayed post reason key clock_move h_move next_move ju jc",
)
#: Journey columns read by the passes, at the positions ``J_*`` (the first seven) and, as ``log1p(-u)``, ``L_*``.
JCOLS = np.array(
    [JOURNEY.ROUTE, JOURNEY.APPROVAL, JOURNEY.AFTER_REFUSAL, JOURNEY.SELL, JOURNEY.POST, JOURNEY.REPATRIATE,
     JOURNEY.SEND_BACK, JOURNEY.PROCESSING, JOURNEY.PREPARATION, JOURNEY.SCREENING, JOURNEY.STAY],
)  # fmt: skip
J_ROUTE, J_APPROVAL, J_AFTER_REFUSAL, J_SELL, J_POST, J_REPATRIATE, J_SEND_BACK = range(7)
LOG_COLS = JCOLS[7:]
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

#: A pass's buffers: events (measure, home region, value), households scheduled (calendar) and touched, their
#: counts ``n`` (events, scheduled, touched), and the recorder's index of each noted measure ``mi``.
Buffers = namedtuple("Buffers", "ev_m ev_l ev_v sched touched n mi")


def fields(hh: Households) -> Fields:
    """The households' arrays, as the compiled passes take them."""
    return Fields(
        hh.state, hh.since, hh.due, hh.leaf, hh.weight, hh.size, hh.labourers, hh.letter_held, hh.nk_national,
        hh.criminal, hh.han_single, hh.disaster, hh.family_left, hh.property_sold, hh.crossing_seen, hh.screened,
        hh.attempts, hh.drowned, hh.away, hh.stayed, hh.post, hh.reason, hh.key, hh.clock_move, hh.h_move, hh.next_move,
        hh.ju, JCOLS,
    )  # fmt: skip


def raw_buffers(n: int) -> tuple[np.ndarray, np.ndarray]:
    """The storage of a pass's buffers over ``n`` households: one integer array (the counts, the events' measures
    and home regions, the households scheduled and touched, in that order) and the events' values."""
    cap = EVENTS_PER_HOUSEHOLD * n
    ints = np.empty(3 + 2 * cap + 2 * n, np.int64)
    ints[:3] = 0
    return ints, np.empty(cap)


def buffers(ints: np.ndarray, values: np.ndarray) -> Buffers:
    """The buffers held in :func:`raw_buffers`' storage (as :func:`as_buffers` sees them in compiled code)."""
    cap = len(values)
    n = (len(ints) - 3 - 2 * cap) // 2
    return Buffers(ints[3 : 3 + cap], ints[3 + cap : 3 + 2 * cap], values, ints[3 + 2 * cap : 3 + 2 * cap + n],
                   ints[3 + 2 * cap + n :], ints[:3], MEASURES)  # fmt: skip


@compiled
def as_buffers(ints, values, measures):
    """:func:`buffers` in compiled code (``measures``: :data:`MEASURES`): the same views of the same storage."""
    cap = len(values)
    n = (len(ints) - 3 - 2 * cap) // 2
    return Buffers(ints[3 : 3 + cap], ints[3 + cap : 3 + 2 * cap], values, ints[3 + 2 * cap : 3 + 2 * cap + n],
                   ints[3 + 2 * cap + n :], ints[:3], measures)  # fmt: skip


def close(b: Buffers, hh: Households, recorder) -> None:
    """After a pass: the households scheduled enter the calendar, those touched are kept for the day's end, the
    events go to the recorder (in the order noted)."""
    n_ev, n_sched, n_touched = b.n.tolist()
    if n_sched:
        sched = b.sched[:n_sched]
        hh.cal_due.add(sched, hh.due[sched])
    if n_touched:
        hh.touched.append(b.touched[:n_touched])
    if n_ev:
        recorder.add_events(b.ev_m[:n_ev], b.ev_l[:n_ev], b.ev_v[:n_ev])


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


@compiled
def geometric(log_u, factor):
    """Geometric on 1, 2, ... from ``log1p(-u)`` and :func:`geometric_factor` (as :func:`~.streams.geometric`)."""
    return int(np.floor(log_u * factor)) + 1


@compiled
def note(b, measure, leaf, value):
    """Note one event: ``value`` of measure ``measure`` (an ``M_*``) at home region ``leaf``."""
    k = b.n[0]
    b.ev_m[k] = b.mi[measure]
    b.ev_l[k] = leaf
    b.ev_v[k] = value
    b.n[0] = k + 1


@compiled
def schedule(h, b, i, due):
    """Household ``i``'s next transition is due on day ``due`` (-1: none; else entered in the calendar)."""
    h.due[i] = due
    if due >= 0:
        b.sched[b.n[1]] = i
        b.n[1] += 1


@compiled
def set_state(h, b, i, state, today, due):
    """Household ``i`` enters ``state`` today, its next transition due on ``due`` (-1: none); it is touched."""
    h.state[i] = state
    h.since[i] = today
    schedule(h, b, i, due)
    b.touched[b.n[2]] = i
    b.n[2] += 1


@compiled
def reset_clocks(h, i):
    """A fresh move clock for household ``i`` (its threshold was drawn with the journey that ended)."""
    h.clock_move[i] = 0.0
    h.h_move[i] = 0.0
    h.next_move[i] = NEVER


@compiled
def np_sum(a, n):
    """``numpy.sum(a[:n])``: numpy's pairwise summation, to the bit. numpy halves a sum of more than 128 numbers
    (the first half a multiple of 8) and adds the halves' sums; this walks the same tree with a stack of its own
    (a recursive function cannot be cached by numba), summing each block by :func:`_block`."""
    if n <= 128:
        return _block(a, 0, n)
    lo = np.zeros(64, dtype=np.int64)  # the frames: a block's start and length, and how far it is done
    size = np.zeros(64, dtype=np.int64)
    stage = np.zeros(64, dtype=np.int64)
    sums = np.zeros(64)  # the sums of the halves done, last on top
    size[0] = n
    top, k = 0, 0
    while top >= 0:
        half = size[top] // 2
        half -= half % 8
        if size[top] <= 128 or stage[top] == 2:
            if size[top] <= 128:
                sums[k] = _block(a, lo[top], size[top])
                k += 1
            else:
                sums[k - 2] = sums[k - 2] + sums[k - 1]
                k -= 1
            top -= 1
            continue
        child_lo = lo[top] + (half if stage[top] else 0)
        child_size = size[top] - half if stage[top] else half
        stage[top] += 1
        top += 1
        lo[top], size[top], stage[top] = child_lo, child_size, 0
    return sums[0]


@compiled
def _block(a, lo, n):
    """numpy's ``pairwise_sum`` of ``a[lo:lo + n]`` for ``n <= 128``: in order below 8, else eight partial sums."""
    if n < 8:
        res = 0.0
        for i in range(lo, lo + n):
            res += a[i]
        return res
    r = a[lo : lo + 8].copy()
    i = 8
    while i < n - (n % 8):
        for k in range(8):
            r[k] += a[lo + i + k]
        i += 8
    res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
    while i < n:
        res += a[lo + i]
        i += 1
    return res
