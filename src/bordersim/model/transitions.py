"""The day's scheduled transitions in one compiled pass (issue 10): routes, applications, setting off, crossings,
reception, settlement, returns and the returnees' stories.

The households due today are looked up in the calendar (:mod:`.calendar`); the compiled driver
:func:`_transitions` takes them by state, in a fixed order, each state's households in the calendar's order:

1. deliberation over (INTENDING): the route (:func:`~.routes.choose_routes`), applications on a letter received
   by the authorities (:func:`~.authorities.receive_application`);
2. applications decided (APPLIED, :func:`~.authorities.decide_applications`), the refused households' decision
   (:func:`~.routes.after_refusals`);
3. preparations over (PREPARING): setting off for the river (:func:`~.routes.set_offs`);
4. at the river (TRAVELLING): the crossings (:func:`~.border.crossings`), those across alive received at a
   station (:func:`~.settlement.receive`);
5. at a reception station (AT_RECEPTION): the station's decision (:func:`~.settlement.decide`);
6. settled (SETTLED): going home on their own (:func:`~.settlement.return_home`);
7. the returnees' stories, group by group in the order they came home (:func:`~.rumours.disappoint`).

Each mechanism's compiled part lives with the mechanism; this module chains them. The bookkeeping (events in the
order of the ``Recorder.add`` calls they replace, the calendar, the households touched) is :mod:`.bookkeeping`'s;
after the pass, the calendar, the recorder, the posts (:meth:`Border.take_post`) and the corpses of the drowned
(:class:`~.border.Corpses`) are brought up to date in Python.
"""

from __future__ import annotations

import numpy as np

from .authorities import decide_applications, processing_factor, receive_application
from .bookkeeping import buffers, close, log_uniforms
from .border import crossings
from .compiled import compiled
from .households import HF8, HI1, State
from .routes import after_refusals, choose_routes, route_constants, set_offs
from .rumours import disappoint
from .settlement import decide, receive, return_home, screening_factor


class ScheduledTransitions:
    """The day's scheduled transitions of a model (:meth:`BorderModel._scheduled_transitions`): the compiled driver
    and the constants it takes, kept while the rules and the month stay the same."""

    def __init__(self, model):
        self.model = model
        self._key: tuple | None = None
        self._constants: tuple = ()

    def constants(self, rules, month: int) -> tuple:
        """The route's, the authorities' and reception's constants under ``rules`` in ``month``."""
        if self._key is None or self._key[0] is not rules or self._key[1] != month:
            m, china = self.model, rules.china
            choose = (china.approve_nk_nationals_return, china.legal_approval_prob, processing_factor(rules))
            off = (route_constants(m.params), m.decision.post_cum, m.decision.travel_days, screening_factor(rules))
            self._key, self._constants = (rules, month), (*choose, *off)
        return self._constants

    def day(self) -> None:
        """The households whose scheduled transition is due today (nothing to do if none)."""
        m = self.model
        hh, t, rules = m.households, m.today, m.rules
        due = hh.cal_due.due(t, hh.due)
        if len(due) == 0:
            return
        border, settlement, net = m.border, m.settlement, m.rumours
        month = m.date.month
        cross = border.crossing_inputs(rules, month, m.ctx, t)
        settle = settlement.decision_inputs(rules, month, t)
        tell = (net.adjacency.indptr, net.adjacency.indices, net.damping(m.params.returnee_damp), net.scratch())
        bi, bv = buffers(len(due))
        took, drowned, counts = _transitions(
            *hh.blocks(), hh.ju, bi, bv, due, log_uniforms(hh, due), t, *self.constants(rules, month), *cross, *settle,
            *tell,
        )  # fmt: skip
        close(bi, bv, hh, m.recorder)
        if took:
            border.take_post(cross[5], cross[6], t)
        border.drowned_corpses(drowned, counts, t, rules)


@compiled
def _transitions(
    hb, i1, i2, i4, f8, u8, ju, bi, bv, due, log_u, today, approve_nk, p_approve, f_processing, route_c, post_cum,
    travel_days, f_screening, decay, recent, today_persons, group_share, threshold, effort, frozen, route_risk, cross_c,
    cross_cols, settle_r, settle_flags, totals, place_key, place_day, indptr, indices, damping, count,
):  # fmt: skip
    """The day's transitions of households ``due`` (rows of ``log_u``), state by state (see the module docstring).
    Returns whether the posts took post (someone reached the river), the households with members drowned and how
    many drowned. ``hb`` ... ``u8``, ``ju``: the households' blocks and journeys; ``bi``, ``bv``: the buffers
    (:mod:`.bookkeeping`)."""
    state = np.empty(len(due), dtype=np.int64)
    for j in range(len(due)):
        state[j] = i1[HI1.state, due[j]]
    at = np.flatnonzero(state == State.INTENDING.value)
    legal = at[choose_routes(hb, i1, i2, i4, f8, ju, bi, bv, due[at], log_u[at], today, approve_nk, route_c)]
    for j in legal:
        receive_application(i1, i2, i4, f8, bi, bv, due[j], log_u[j], today, f_processing)
    at = np.flatnonzero(state == State.APPLIED.value)
    refused = at[decide_applications(hb, i1, i2, i4, f8, ju, bi, bv, due[at], today, approve_nk, p_approve)]
    after_refusals(i1, i2, i4, f8, ju, bi, bv, due[refused], log_u[refused], today, route_c)
    at = np.flatnonzero(state == State.PREPARING.value)
    set_offs(hb, i1, i2, i4, f8, ju, bi, bv, due[at], today, route_c, post_cum, travel_days)
    at = np.flatnonzero(state == State.TRAVELLING.value)
    took = len(at) > 0 and decay >= 0
    wet = np.empty(0, dtype=np.int64)
    counts = np.empty(0, dtype=np.int64)
    if len(at):
        across, wet, counts = crossings(
            hb, i1, i2, i4, f8, ju, bi, bv, due[at], today, decay, recent, today_persons, group_share, threshold, effort,
            frozen, route_risk, cross_c, cross_cols,
        )  # fmt: skip
        receive(hb, i1, i2, i4, f8, bi, bv, due[at[across]], log_u[at[across]], today, f_screening)
        wet = due[at[wet]]
    at = np.flatnonzero(state == State.AT_RECEPTION.value)
    home, ends = decide(
        hb, i1, i2, i4, f8, u8, ju, bi, bv, due[at], log_u[at], today, settle_r, settle_flags, totals, place_key, place_day
    )
    belief = f8[HF8.belief]
    start = 0
    for end in ends:
        disappoint(indptr, indices, belief, home[start:end], damping, count)
        start = end
    at = np.flatnonzero(state == State.SETTLED.value)
    return_home(hb, i1, i2, i4, f8, bi, bv, due[at], today)
    disappoint(indptr, indices, belief, due[at], damping, count)
    return took, wet, counts
