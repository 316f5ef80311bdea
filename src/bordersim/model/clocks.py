"""The households' clocks, compiled: competing-hazard clocks brought up to date, the clocks that fire, the
reasons they fire for, the journeys they begin and the intentions they start (:mod:`.households` owns the
decision; these are its passes over the households concerned, one compiled call each, so that a day with a
few events costs a few calls rather than dozens of numpy operations on arrays of a few households).

A household's move clock and travel clock each add its hazard day by day and fire when they reach an Exp(1)
threshold (Doc 4's "requested a complete household move" and individual travel applications). The
thresholds and the geometric delays are inverse CDFs of the household's counter-based uniforms
(:mod:`.streams`), computed here with the C library's ``log1p`` (numpy's vectorised ``log1p`` may differ from
it in the last bit; a firing day or a delay changes only if a value falls within that bit of a whole day).
"""

from __future__ import annotations

import math

import numpy as np

from .compiled import compiled
from .streams import JOURNEY, TRAVEL, _uniforms

#: A clock that does not fire before the next recomputation.
NEVER = np.iinfo(np.int32).max
#: The columns the passes read (plain ints: compiled code reads module constants, not attributes).
_J_REASON, _J_NEXT, _J_DELIBERATION = JOURNEY.REASON, JOURNEY.NEXT_THRESH, JOURNEY.DELIBERATION
_T_REASON, _T_NEXT, _T_WIDTH = TRAVEL.REASON, TRAVEL.NEXT_THRESH, TRAVEL.width


@compiled
def _refresh_clocks(
    idx, today, horizon, code, belief, state, away, size, stayed, base_move, slope_move, base_travel, slope_travel,
    home_factor, is_home, sync, clock_move, h_move, thresh_move, next_move, clock_travel, h_travel, thresh_travel, next_travel,
):  # fmt: skip
    """The clocks of households ``idx`` brought up to ``today``, their new hazards and firing days (one pass).

    For each household and clock: ``clock += h_old * (today - sync)``; ``h`` = the new hazard (as
    :meth:`HouseholdDecision.hazards`); the firing day is the first ``t >= today`` with
    ``clock + h (t - today + 1) >= threshold``, kept only if before ``horizon`` (NEVER otherwise). Returns the
    households whose move clock and whose travel clock fire before the horizon. The arithmetic is numpy's,
    operation by operation (no fast-math), so the results are the same to the last bit.
    """
    n = len(idx)
    moves = np.empty(n, dtype=np.int64)
    travels = np.empty(n, dtype=np.int64)
    n_moves = 0
    n_travels = 0
    left = horizon - today
    for j in range(n):
        i = idx[j]
        elapsed = today - sync[i]
        sync[i] = today
        c = code[i]
        st = state[i]
        hm = (slope_move[c] * belief[i] + base_move[c]) * home_factor[st]
        ok = is_home[st] and away[i] == 0 and size[i] - stayed[i] >= 2  # as _can_travel
        ht = (slope_travel[c] * belief[i] + base_travel[c]) * (1.0 if ok else 0.0)
        if _set_clock(i, elapsed, hm, left, today, clock_move, h_move, thresh_move, next_move):
            moves[n_moves] = i
            n_moves += 1
        if _set_clock(i, elapsed, ht, left, today, clock_travel, h_travel, thresh_travel, next_travel):
            travels[n_travels] = i
            n_travels += 1
    return moves[:n_moves], travels[:n_travels]


@compiled(inline="always")
def _set_clock(i, elapsed, h, left, today, clock, h_old, thresh, nxt):
    """Household ``i``'s clock: add ``elapsed`` days of the old hazard, set the new one ``h``, and its firing day
    if it reaches the threshold within ``left`` days (else NEVER). Returns whether it does."""
    c = h_old[i] * elapsed + clock[i]
    clock[i] = c
    h_old[i] = h
    nxt[i] = NEVER
    if c + h * left >= thresh[i]:
        nxt[i] = _first_day(c, thresh[i], h, today)
        return True
    return False


@compiled
def _draw_reasons(idx, code, belief, table, u):
    """Reason 0, 1 or 2 of each event: the first channel whose cumulative share of the hazard exceeds ``u`` (the
    channels of household i: ``table[0, c]``, ``table[1, c] x belief[i]``, ``table[2, c]``, ``c = code[i]``)."""
    out = np.empty(len(idx), dtype=np.int8)
    for j in range(len(idx)):
        i = idx[j]
        c = code[i]
        food_kin = table[0, c]
        rumour = table[1, c] * belief[i]
        total = food_kin + rumour + table[2, c]
        norm = total if total > 0 else 1.0
        reason = 0
        if u[j] > food_kin / norm:
            reason += 1
        if u[j] > (food_kin + rumour) / norm:
            reason += 1
        if u[j] > total / norm:
            reason += 1
        out[j] = min(reason, 2)
    return out


@compiled(inline="always")
def _first_day(clock, thresh, h, today):
    """First day ``t >= today`` with ``clock + h * (t - today + 1) >= thresh`` (NEVER if ``h == 0``)."""
    k = max(thresh - clock, 1e-12)
    if not h > 0:
        return NEVER
    k = math.ceil(k / h) - 1.0
    k = min(max(k, 0.0), float(NEVER - today))
    return int(k + today)


@compiled
def start_journeys(idx, key, journeys, ju, thresh_move, clock_move, h_move, next_move, kind_key):
    """Households ``idx`` set out to leave: the row of uniforms of each one's next journey (its key and journey
    number, :data:`~.streams.JOURNEY` columns), the Exp(1) threshold of the move clock that will follow it, and a
    fresh move clock (as :meth:`Households.reset_clocks`)."""
    rows = _uniforms(key[idx], journeys[idx].astype(np.uint64), kind_key, ju.shape[1])
    for j in range(len(idx)):
        i = idx[j]
        for c in range(ju.shape[1]):  # element by element: a slice assignment compiles numba's shape-mismatch message
            ju[i, c] = rows[j, c]
        journeys[i] += 1
        thresh_move[i] = -math.log1p(-rows[j, _J_NEXT])
        clock_move[i] = 0.0
        h_move[i] = 0.0
        next_move[i] = NEVER


@compiled
def fire(
    movers, travellers, today, code, belief, move_table, travel_table, key, journeys, ju, thresh_move, clock_move, h_move,
    next_move, journey_key, travels, tu, thresh_travel, clock_travel, h_travel, next_travel, travel_key,
):  # fmt: skip
    """The clocks that fire today (``movers``, ``travellers``: from the calendars). A household whose move clock fires
    does not also send a traveller today. Movers begin a journey (:func:`start_journeys`); a traveller's
    application draws its row of :data:`~.streams.TRAVEL` (the household's key and application number), and the
    travel clock starts afresh with the row's threshold. Returns (travellers, movers' reasons, travellers'
    reasons), each reason drawn from the event's uniform in proportion to the channels (:func:`_draw_reasons`)."""
    if len(movers):
        keep = np.empty(len(travellers), dtype=np.bool_)
        for j in range(len(travellers)):
            keep[j] = next_move[travellers[j]] != today
        travellers = travellers[keep]
        start_journeys(movers, key, journeys, ju, thresh_move, clock_move, h_move, next_move, journey_key)
    r_move = _draw_reasons(movers, code, belief, move_table, ju[movers, _J_REASON])
    rows = _uniforms(key[travellers], travels[travellers].astype(np.uint64), travel_key, _T_WIDTH)
    for j in range(len(travellers)):
        i = travellers[j]
        travels[i] += 1
        for c in range(tu.shape[1]):
            tu[i, c] = rows[j, c]
        clock_travel[i] = 0.0
        h_travel[i] = 0.0
        next_travel[i] = NEVER
        thresh_travel[i] = -math.log1p(-rows[j, _T_NEXT])
    r_trav = _draw_reasons(travellers, code, belief, travel_table, rows[:, _T_REASON])
    return travellers, r_move, r_trav


@compiled
def intend(idx, reasons, today, p_deliberate, ju, leaf, weight, reason, state, since, due, intending, measure, by_reason):
    """Households ``idx`` ask to move (Doc 4's "requested a complete household move") and deliberate for a geometric
    number of days (success probability ``p_deliberate``; the journey's DELIBERATION uniform): their reason, state
    ``intending``, the day it began and the day it ends (returned). Their events, one per household for ``measure``
    and one for ``by_reason[reason]``, are returned as (measures, leaves, values) in the households' order (as
    :meth:`Recorder.add_by_reason` notes them)."""
    n = len(idx)
    ends = np.empty(n, dtype=np.int64)
    ms = np.empty(2 * n, dtype=np.int64)
    lv = np.empty(2 * n, dtype=np.int64)
    vals = np.empty(2 * n)
    scale = 1.0 / math.log1p(-p_deliberate) if p_deliberate < 1.0 else 0.0
    for j in range(n):
        i = idx[j]
        k = 1 if p_deliberate >= 1.0 else int(math.floor(math.log1p(-ju[i, _J_DELIBERATION]) * scale)) + 1
        ends[j] = today + k
        reason[i] = reasons[j]
        state[i] = intending
        since[i] = today
        due[i] = today + k
        ms[2 * j], ms[2 * j + 1] = measure, by_reason[reasons[j]]
        lv[2 * j] = lv[2 * j + 1] = leaf[i]
        vals[2 * j] = vals[2 * j + 1] = weight[i]
    return ends, ms, lv, vals
