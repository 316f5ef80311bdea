"""What China does with North Koreans it catches, under each rule set (issue 15), and the DPRK's side of a return.

A North Korean is caught at the river by the Chinese guards, or inland by public security at a daily hazard
(``catch_rate`` x the dated search of ``world.north.china_enforcement`` x the rule's ``enforcement``;
married women protected, more so when their children have hukou). The case is classified on the day of the
catch, under the rules in force, in this order:

1. **Not an illegal crosser** (``disaster_exempt``): forced across by a disaster (Doc 10 Art. 4 (1): "those
   who were forced to cross the border as a result of a disaster will not be treated as illegal border
   crossers"; Art. 1 (1): "should be assisted"), or, under the lenient reading (``famine_as_disaster``), a
   food crossing from a zone whose felt hunger is at least ``famine_threshold`` (the introduction: China "has
   rather generously interpreted Article Four"). Assisted and left at large (``assisted_north``).
2. **Returned absolutely**: a pending criminal case under ``return_criminals`` (Doc 1 (3): "both sides ...
   should absolutely repatriate them"; Doc 10 Art. 5 (1)), or South Korean contacts counted as
   counter-revolutionary under ``article5_sk_contact_share`` (Art. 5 read stringently, the introduction).
3. **Return "inconvenient"** (married in China, or the whole household came): a special case, decided after
   ``special_case_days`` (Doc 1 (2): the DPRK's approval; Doc 11 (6): "report and request for
   instructions"): allowed to stay with ``inconvenient_stay_prob`` (Doc 1 (2): "they can continue their
   residency [in China] after the approval of the [North] Korean side"; Doc 2 (3)), else handed over.
4. **Others**: handed over with ``repatriate_prob`` (Doc 1 (2) "in principle, repatriate them"; Doc 10
   Art. 4 (2); Doc 11 (6)), otherwise released (toleration).

Hand-overs come after a geometric time with mean ``return_days`` (Doc 10 Art. 9 (2)-(3): exchanges at agreed
locations; Doc 11 (6): "in a timely manner"), with information on identity and situation if the rules in
force on the day say so (Doc 10 Art. 4 (2)). The DPRK then detains some (``dprk_detain_with_identity`` or
``_without_identity``; counter-revolutionaries ``political_detention_factor`` times longer): assumed levers.

Each of these steps is a compiled pass over the trips concerned (:func:`catch_pass`, :func:`police_day_pass`,
:func:`stopped_pass`) that draws from the northward generator exactly the numbers numpy's code drew, in its
order, and notes the recorder's events in the order of that code's ``Recorder.add`` calls; the northward
day's pass (:mod:`.north_day`) calls them, the methods of :class:`ChinaPolice` call them on their own.
"""

from __future__ import annotations

import numpy as np

from ..world.north import NorthValues
from ..world.rules import NorthwardRules
from .compiled import compiled
from .north_people import (
    CUSTODY,
    FOOD,
    HF,
    HI,
    RESIDENT,
    RETURN,
    SPECIAL,
    TB,
    TF,
    TI,
    NorthHouseholds,
    Trips,
    TState,
    book_count,
    detach_trips,
    detain_members,
    emit,
    end_trips,
    note_events,
    release_detained,
    room,
)
from .recorder import MEASURE_INDEX, Recorder
from .rng_handle import current, generator

#: The levers and values the compiled passes read, in the order of :func:`police_constants` (indexed by the
#: constants below): the day's rules, then the run's parameters.
POLICE_RULES = ("repatriate_prob", "return_days", "inconvenient_stay_prob", "special_case_days", "disaster_exempt",
                "famine_as_disaster", "return_criminals", "article5_sk_contact_share", "identity_information",
                "dprk_detain_with_identity", "dprk_detain_without_identity", "dprk_detention_days")  # fmt: skip
POLICE_VALUES = ("famine_threshold", "contact_days", "long_stay_days", "political_detention_factor")
(REPATRIATE, RETURN_DAYS, STAY_PROB, SPECIAL_DAYS, DISASTER_EXEMPT, FAMINE_AS_DISASTER, RETURN_CRIMINALS, SK_SHARE,
 IDENTITY, DETAIN_WITH, DETAIN_WITHOUT, DETENTION_DAYS, FAMINE_THRESHOLD, CONTACT_DAYS, LONG_STAY_DAYS,
 POLITICAL_FACTOR) = range(len(POLICE_RULES) + len(POLICE_VALUES))  # fmt: skip
#: The measures the passes note (their recorder indices: constants to the compiled code).
(M_CAUGHT, M_AT_RIVER, M_ASSISTED, M_RELEASED, M_STAY, M_RETURNED, M_HANDED, M_HANDOVER_DAYS, M_WITH_ID, M_WITHOUT_ID,
 M_CRIMINALS, M_LONG_STAYERS, M_DETAINED, M_STOPPED) = (
    MEASURE_INDEX[m]
    for m in ("caught_china", "caught_china_at_river", "assisted_north", "released_north", "stay_approved_north",
              "returned_to_dprk", "handed_over_north", "handover_days_north", "returned_with_identity_north",
              "returned_without_identity_north", "returned_criminals_north", "returned_long_stayers_north",
              "detained_dprk", "stopped_north_dprk")
)  # fmt: skip


def police_constants(rules: NorthwardRules, p: NorthValues) -> np.ndarray:
    """The compiled passes' constants: the levers and values (floats, flags as 0/1)."""
    return np.array([float(getattr(rules, name)) for name in POLICE_RULES] + [float(getattr(p, name)) for name in POLICE_VALUES])


class ChinaPolice:
    """Chinese public security and border defence as they deal with North Koreans in China; the DPRK's reception
    of those handed back. Acts on the trips and households it is given, with the northward random stream."""

    def __init__(self, hh: NorthHouseholds, trips: Trips, p: NorthValues, recorder: Recorder, rng: np.random.Generator):
        self.hh, self.trips, self.p, self.rec, self.rng = hh, trips, p, recorder, rng
        self._rules: NorthwardRules | None = None
        self._constants: np.ndarray | None = None
        self._handle: np.ndarray | None = None

    def constants(self, rules: NorthwardRules) -> np.ndarray:
        """:func:`police_constants` under ``rules`` (built again when the rules change)."""
        if rules is not self._rules:
            self._rules, self._constants = rules, police_constants(rules, self.p)
        return self._constants

    def handle(self) -> np.ndarray:
        """The northward generator's handle for compiled code (:mod:`.rng_handle`)."""
        self._handle = current(self._handle, self.rng)
        return self._handle

    # -- catching -----------------------------------------------------------------------------------
    def catch(self, idx: np.ndarray, today: int, rules: NorthwardRules, home_hunger: np.ndarray, at_river: bool) -> None:
        """Trips ``idx`` are caught today; ``home_hunger``: felt hunger in each trip's home zone today (:func:`catch_pass`)."""
        idx = np.asarray(idx, dtype=np.int64)
        if len(idx) == 0:
            return
        hunger = np.asarray(home_hunger, dtype=np.float64)
        ti, tf, tb = self.trips.blocks()
        ev, k = catch_pass(ti, tf, tb, idx, today, hunger, at_river, self.constants(rules), self.handle(), _NO_EVENTS, 0)
        note_events(self.rec, ev, k)

    def round_up(self, share: float, today: int, rules: NorthwardRules, hunger_of) -> None:
        """At a switch to rules with ``return_backlog``: a share of the illegal North Koreans at large are sought out
        (Doc 11 (6): "In general, Koreans who illegally crossed the border should be sent back")."""
        at_large = self.trips.in_state(TState.AT_LARGE)
        hit = at_large[self.rng.random(len(at_large)) < share]
        self.catch(hit, today, rules, hunger_of(hit), at_river=False)

    # -- the day's decisions and hand-overs ----------------------------------------------------------
    def step(self, today: int, rules: NorthwardRules) -> None:
        """Special cases decided and hand-overs made today; the DPRK's detentions that end today (:func:`police_day_pass`)."""
        hh, tr = self.hh, self.trips
        ring, ent = hh.releases.room(hh.n)
        c, handle = self.constants(rules), self.handle()
        ev, k = police_day_pass(*hh.blocks(), *tr.blocks(), tr.n, ring, ent, today, c, handle, _NO_EVENTS, 0)
        note_events(self.rec, ev, k)


_NO_EVENTS = np.empty((0, 3))


# -- the compiled passes (the trips' blocks ``ti, tf, tb``, the households' ``hi, hf, hb``: north_people) ----------
@compiled
def catch_pass(ti, tf, tb, idx, today, home_hunger, at_river, c, handle, ev, k):
    """Trips ``idx`` are caught today (``home_hunger``: felt hunger in each one's home zone), classified in the
    order of the module's docstring; returns the event array and its rows used. numpy's order of draws: a
    uniform for Art. 5 per trip not exempt (with South Korean contacts or not), then one per trip not exempt for
    the hand-over, then the geometric days in custody of those to be returned, then of the special cases."""
    n = len(idx)
    if n == 0:
        return ev, k
    rng = generator(handle)
    ev = room(ev, k, 4 * n)
    leaf, weight, persons = ti[TI.leaf], tf[TF.weight], ti[TI.persons]
    for j in idx:
        k = emit(ev, k, M_CAUGHT, leaf[j], weight[j] * persons[j])
    if at_river:
        for j in idx:
            k = emit(ev, k, M_AT_RIVER, leaf[j], weight[j] * persons[j])
    exempt = np.zeros(n, dtype=np.bool_)
    for a in range(n):
        j = idx[a]
        ti[TI.caught, j] = today
        famine = c[FAMINE_AS_DISASTER] != 0 and ti[TI.reason, j] == FOOD and home_hunger[a] >= c[FAMINE_THRESHOLD]
        exempt[a] = c[DISASTER_EXEMPT] != 0 and (tb[TB.disaster, j] or famine)
        if exempt[a]:  # Doc 10 Arts. 1 (1), 4 (1): assisted, left at large
            k = emit(ev, k, M_ASSISTED, leaf[j], weight[j] * persons[j])
    rest = idx[~exempt]
    fate = np.zeros(len(rest), dtype=np.int8)  # 0 released, 1 returned absolutely, 2 a special case, 3 returned
    for a in range(len(rest)):
        j = rest[a]
        u = rng.random()
        political = tb[TB.sk, j] and u < c[SK_SHARE]  # Art. 5 read stringently (the introduction)
        tb[TB.political, j] = political
        if (c[RETURN_CRIMINALS] != 0 and tb[TB.criminal, j]) or political:  # Doc 1 (3); Doc 10 Art. 5 (1)
            fate[a] = 1
        elif tb[TB.married, j] or tb[TB.whole, j]:  # return "inconvenient" (Doc 1 (2); Doc 11 (6))
            fate[a] = 2
    for a in range(len(rest)):
        u = rng.random()
        if fate[a] == 0 and u < c[REPATRIATE]:  # Doc 1 (2); Doc 10 Art. 4 (2); Doc 11 (6)
            fate[a] = 3
    _custody(ti, rest, fate, 1, 3, today, RETURN, c[RETURN_DAYS], rng)
    _custody(ti, rest, fate, 2, 2, today, SPECIAL, c[SPECIAL_DAYS], rng)
    for a in range(len(rest)):
        if fate[a] == 0:
            j = rest[a]
            k = emit(ev, k, M_RELEASED, leaf[j], weight[j] * persons[j])
    return ev, k


@compiled(inline="always")
def _custody(ti, idx, fate, fate_a, fate_b, today, kind, mean_days, rng):
    """Trips ``idx`` whose ``fate`` is ``fate_a`` or ``fate_b`` are held (custody of ``kind``) until a geometric day
    with mean ``mean_days`` (Doc 10 Art. 9 (2)-(3); Doc 11 (6)), drawn in their order."""
    for a in range(len(idx)):
        if fate[a] == fate_a or fate[a] == fate_b:
            j = idx[a]
            ti[TI.state, j] = CUSTODY
            ti[TI.kind, j] = kind
            ti[TI.due, j] = today + rng.geometric(1.0 / mean_days)


@compiled
def police_day_pass(hi, hf, hb, ti, tf, tb, n, ring, ent, today, c, handle, ev, k):
    """Special cases decided and hand-overs made today (trips ``0..n-1`` in custody due today, in their order),
    then the DPRK's detentions that end today (the book of releases ``ring, ent``). numpy's order of draws: a
    uniform per special case (allowed to stay), then those of :func:`_hand_over`."""
    rng = generator(handle)
    state, due_day = ti[TI.state], ti[TI.due]
    n_due = 0
    for j in range(n):
        n_due += state[j] == CUSTODY and due_day[j] == today
    if n_due:
        due = np.empty(n_due, dtype=np.int64)
        stay = np.zeros(n_due, dtype=np.bool_)
        a = 0
        for j in range(n):
            if state[j] == CUSTODY and due_day[j] == today:
                due[a] = j
                a += 1
        ev = room(ev, k, 8 * n_due)
        for a in range(n_due):
            if ti[TI.kind, due[a]] == SPECIAL:
                stay[a] = rng.random() < c[STAY_PROB]
        for j in due[stay]:  # Doc 1 (2): residency after the DPRK's approval; Doc 2 (3)
            k = emit(ev, k, M_STAY, ti[TI.leaf, j], tf[TF.weight, j] * ti[TI.persons, j])
            state[j] = RESIDENT
            due_day[j] = -1
        if stay.any():
            detach_trips(hi, ti, tb, due[stay])
        k = _hand_over(hi, hf, hb, ti, tf, tb, ring, ent, due[~stay], today, c, rng, ev, k)
    if book_count(ring, ent, today):
        release_detained(hi, ring, ent, today)
    return ev, k


@compiled(inline="always")
def _hand_over(hi, hf, hb, ti, tf, tb, ring, ent, idx, today, c, rng, ev, k):
    """China hands trips ``idx`` back to the DPRK today (Doc 1 (2), Doc 10 Art. 4 (2), Doc 11 (6)): their events,
    home (:func:`end_trips`), then the DPRK detains some (assumed levers; the dossier is silent on it): a uniform
    per trip handed back, then the geometric days of detention of those held (``political_detention_factor``
    times longer for counter-revolutionaries). Room for the events is made by the caller."""
    if len(idx) == 0:
        return k
    leaf, weight, persons = ti[TI.leaf], tf[TF.weight], ti[TI.persons]
    ident = M_WITH_ID if c[IDENTITY] != 0 else M_WITHOUT_ID
    for j in idx:
        k = emit(ev, k, M_RETURNED, leaf[j], weight[j] * persons[j])
    for j in idx:
        k = emit(ev, k, M_HANDED, leaf[j], weight[j] * persons[j])
    for j in idx:
        k = emit(ev, k, M_HANDOVER_DAYS, leaf[j], weight[j] * persons[j] * (today - ti[TI.caught, j]))
    for j in idx:
        k = emit(ev, k, ident, leaf[j], weight[j] * persons[j])
    for j in idx:
        if tb[TB.political, j] or (tb[TB.criminal, j] and c[RETURN_CRIMINALS] != 0):
            k = emit(ev, k, M_CRIMINALS, leaf[j], weight[j] * persons[j])
    for j in idx:
        if (today - ti[TI.start, j]) > c[LONG_STAY_DAYS]:
            k = emit(ev, k, M_LONG_STAYERS, leaf[j], weight[j] * persons[j])
    end_trips(hi, hf, hb, ti, tb, idx, today, c[CONTACT_DAYS])
    prob = c[DETAIN_WITH] if c[IDENTITY] != 0 else c[DETAIN_WITHOUT]
    held = np.zeros(len(idx), dtype=np.bool_)
    for a in range(len(idx)):
        held[a] = rng.random() < prob
    who = idx[held]
    days = np.empty(len(who), dtype=np.int64)
    for a in range(len(who)):
        j = who[a]
        k = emit(ev, k, M_DETAINED, leaf[j], weight[j] * persons[j])
        mean = c[DETENTION_DAYS] * (c[POLITICAL_FACTOR] if tb[TB.political, j] else 1.0)
        days[a] = rng.geometric(1.0 / max(mean, 1.0))
    if len(who):
        detain_members(hi, hb, ring, ent, ti[TI.hh][who], today, days)
    return k


@compiled(inline="always")
def stopped_pass(hi, hf, hb, ring, ent, h, persons, today, c, handle, ev, k):
    """Households ``h`` whose crossers (``persons``) the DPRK's guards stopped on their bank: some are detained
    (assumed levers; the book of releases ``ring, ent``). numpy's order of draws: a uniform per household, then
    the geometric days of those held."""
    if len(h) == 0:
        return ev, k
    rng = generator(handle)
    ev = room(ev, k, 2 * len(h))
    leaf, weight = hi[HI.leaf], hf[HF.weight]
    for a in range(len(h)):
        k = emit(ev, k, M_STOPPED, leaf[h[a]], weight[h[a]] * persons[a])
    held = np.zeros(len(h), dtype=np.bool_)
    for a in range(len(h)):
        held[a] = rng.random() < c[DETAIN_WITHOUT]
    for a in range(len(h)):
        if held[a]:
            k = emit(ev, k, M_DETAINED, leaf[h[a]], weight[h[a]] * persons[a])
    days = np.empty(held.sum(), dtype=np.int64)
    for a in range(len(days)):
        days[a] = rng.geometric(1.0 / c[DETENTION_DAYS])
    if len(days):
        detain_members(hi, hb, ring, ent, h[held], today, days)
    return ev, k
