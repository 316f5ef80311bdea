"""The household's route, compiled: what follows an intention once deliberation is over (:class:`.HouseholdDecision`).

In order (Docs 3, 4, 5): a household whose deliberation is over applies on an authorization letter if it holds
one (or, a DPRK national, where the rule approves its return), prepares an illegal crossing with ``p_illegal``
(never for proper reasons: Doc 4 measure (4) "strictly differentiated" them from those who "improperly left")
or gives up; a household whose application was refused prepares one with ``p_illegal_after_refusal`` or stays;
after ``prep_days`` (geometric) preparing, a household sells everything first with ``p_sell_property`` (Docs 3, 5:
"sold all of their property and attempted"), chooses a crossing point (its home region's weights) and travels to
the river (the region's travel days). Each step is a compiled pass over the households it concerns, drawing from
their journeys (:data:`~.streams.JOURNEY`), with the bookkeeping of :mod:`.bookkeeping`.
"""

from __future__ import annotations

import numpy as np

from ..world.scenario import Parameters
from .bookkeeping import (
    J_AFTER_REFUSAL,
    J_POST,
    J_ROUTE,
    J_SELL,
    L_PREPARATION,
    M_LAPSED,
    M_PREPARING,
    M_PROPERTY_SOLD,
    geometric,
    geometric_factor,
    note,
    reset_clocks,
    set_state,
)
from .compiled import compiled
from .households import HB, HF8, HI1, HI2, Reason, State


def route_constants(p: Parameters) -> np.ndarray:
    """The route's parameters for the compiled passes: ``p_illegal``, ``p_illegal_after_refusal``,
    ``p_sell_property`` and the geometric factor of the days preparing (``prep_days``)."""
    return np.array([p.p_illegal, p.p_illegal_after_refusal, p.p_sell_property, geometric_factor(1.0 / p.prep_days)])


@compiled(cache=False)
def choose_routes(hb, i1, i2, i4, f8, ju, bi, bv, idx, log_u, today, approve_nk, c):
    """Deliberation over for households ``idx`` (rows of ``log_u``), in order; returns the positions (in ``idx``)
    of those who apply on a letter (handed to the authorities: :func:`~.authorities.receive_application`). The
    others prepare an illegal crossing (:func:`start_preparing`) if their route draw is below ``p_illegal`` and
    their reason is not proper, or give up (``lapsed_households``; home, a fresh move clock). ``c``:
    :func:`route_constants`; the households' blocks and the buffers as in :mod:`.bookkeeping`."""
    legal = np.empty(len(idx), dtype=np.int64)
    n = 0
    for j in range(len(idx)):
        i = idx[j]
        if hb[HB.letter_held, i] or (hb[HB.nk_national, i] and approve_nk):
            legal[n] = j
            n += 1
        elif ju[i, J_ROUTE] < c[0] and i1[HI1.reason, i] != Reason.PROPER:
            start_preparing(i1, i2, i4, f8, bi, bv, i, log_u[j], today, c[3])
        else:
            note(bi, bv, M_LAPSED, i2[HI2.leaf, i], f8[HF8.weight, i])
            set_state(i1, i4, bi, i, State.HOME, today, -1)
            reset_clocks(i4, f8, i)
    return legal[:n]


@compiled(cache=False)
def after_refusals(i1, i2, i4, f8, ju, bi, bv, idx, log_u, today, c):
    """Households ``idx`` whose application was refused, in order: those whose draw is below
    ``p_illegal_after_refusal`` prepare to cross illegally (:func:`start_preparing`), the others stay home (a
    fresh move clock)."""
    for j in range(len(idx)):
        i = idx[j]
        if ju[i, J_AFTER_REFUSAL] < c[1]:
            start_preparing(i1, i2, i4, f8, bi, bv, i, log_u[j], today, c[3])
        else:
            set_state(i1, i4, bi, i, State.HOME, today, -1)
            reset_clocks(i4, f8, i)


@compiled(cache=False)
def start_preparing(i1, i2, i4, f8, bi, bv, i, log_u, today, f_prep):
    """Household ``i`` prepares an illegal crossing (Docs 3, 5: "preparing to go"; ``preparing_households``) for a
    geometric number of days (mean ``prep_days``; ``log_u``: its ``log1p(-u)`` row, ``L_PREPARATION``)."""
    note(bi, bv, M_PREPARING, i2[HI2.leaf, i], f8[HF8.weight, i])
    set_state(i1, i4, bi, i, State.PREPARING, today, today + geometric(log_u[L_PREPARATION], f_prep))


@compiled(cache=False)
def set_offs(hb, i1, i2, i4, f8, ju, bi, bv, idx, today, c, post_cum, travel_days):
    """Preparations end for households ``idx``, in order: a household that has not sold its property sells it if
    its draw is below ``p_sell_property`` (``property_sold_households``); it chooses a crossing point, the number of
    its home region's cumulative post weights ``post_cum`` below its draw, and travels to the river, arriving after
    its region's ``travel_days``."""
    for j in range(len(idx)):
        i = idx[j]
        leaf = i2[HI2.leaf, i]
        if not hb[HB.property_sold, i] and ju[i, J_SELL] < c[2]:
            hb[HB.property_sold, i] = True
            note(bi, bv, M_PROPERTY_SOLD, leaf, f8[HF8.weight, i])
        u = ju[i, J_POST]
        k = 0
        for q in range(post_cum.shape[1]):
            if u > post_cum[leaf, q]:
                k += 1
        i2[HI2.post, i] = k
        set_state(i1, i4, bi, i, State.TRAVELLING, today, today + travel_days[leaf])
