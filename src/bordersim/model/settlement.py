"""The North Korean settlement agent: reception stations, settlement, the allowance, sending back.

Doc 3 (May 1961): "the [North] Korean side has established reception stations along the border
crossing routes; they have also been returning unmarried Han [Chinese men] who crossed the border,
but entire households that crossed over have been settled on agricultural cooperatives, and each
laborer has received forty yuan as a settling-in allowance as well as a fixed amount of grain."
Doc 5 says the same. Doc 6 (March 1962): the DPRK "sent back 2,361 people"; crossers "cannot settle
down and work because they still have family [in China] ... or because they still have property left
in China", and 7,528 "returned [to China] on their own initiative". Under the 1964 Protocol (Doc 10
Art. 4) and the 1970 State Council opinions (Doc 11 (6)) illegal crossers are returned, except those
forced across by a disaster.

Arrivals wait ``screening_days`` (rule) at a station. Then, in order: people forced across by a
disaster are assisted and go home where the rule exempts them (Doc 10 Arts. 1, 4); a single Han man is
returned (if the rule says so); a crosser with a pending criminal case is returned (Doc 1 (3), Doc 10
Art. 5); an illegal crosser is repatriated with probability ``return_illegal_prob``; others are sent
back with probability ``send_back_prob``; the rest are settled while
the month's capacity lasts, each labourer paid the allowance, each person given grain; those who
cannot be settled wait and are sent back after ``max_wait_days`` (rule). Settled households go home on
their own at a rate raised by family and property left in China, and write letters home.

Everyone the agent sends home (sent back, repatriated, returned on their own) is returned to the model,
group by group, so that their stories reach their contacts (:meth:`RumourNetwork.disappoint`).
"""

from __future__ import annotations

import datetime as dt

import mesa
import numpy as np

from ..world.rules import RuleSet, crossing_is_legal
from ..world.scenario import Parameters
from .bookkeeping import (
    J_REPATRIATE,
    J_SEND_BACK,
    L_SCREENING,
    L_STAY,
    M_ARRIVED,
    M_ASSISTED_HOME,
    M_GRAIN,
    M_NONE,
    M_REPATRIATED,
    M_REPATRIATED_CRIMINALS,
    M_RETURNED_OWN,
    M_RETURNED_OWN_SEEN,
    M_SENT_BACK,
    M_SENT_BACK_HAN,
    M_SENT_BACK_SEEN,
    M_SETTLED,
    M_SETTLED_HOUSEHOLDS,
    M_WITH_IDENTITY,
    M_YUAN,
    buffers,
    close,
    geometric,
    geometric_factor,
    log_uniforms,
    note,
    np_sum,
    reset_clocks,
    schedule,
    set_state,
    stable_order,
)
from .compiled import compiled
from .households import HB, HF8, HI2, HI4, HU8, Households, State
from .recorder import Recorder
from .streams import Kind, Streams, _uniforms

#: Households sent home by one decision of the agent, group by group (in the order they were sent).
Returnees = list[np.ndarray]


class SettlementAgent(mesa.Agent):
    """The DPRK's reception and settlement apparatus.

    Registered with the model (Mesa); it acts on what it is given: the households, the run's parameters,
    recorder and random streams, and per call the day and the rules in force. Its draws come from each
    household's journey (:data:`~.streams.JOURNEY`), except the order of waiting households (keyed by the day).
    """

    def __init__(self, model: mesa.Model, households: Households, params: Parameters, recorder: Recorder, streams: Streams):
        super().__init__(model)
        self.streams = streams
        self.hh = households
        self.params = params
        self.recorder = recorder
        #: The running totals, as the compiled passes update them: the month's settlement capacity left (households),
        #: yuan paid, people settled, people sent back (read as the attributes below).
        self.totals = np.zeros(4)
        self._month = None
        self._rules: tuple | None = None  # (rules, month, their decision_rules) last used

    capacity_left = property(lambda self: float(self.totals[0]), lambda self, v: self.totals.__setitem__(0, v))
    yuan_paid = property(lambda self: float(self.totals[1]), lambda self, v: self.totals.__setitem__(1, v))
    people_settled = property(lambda self: float(self.totals[2]), lambda self, v: self.totals.__setitem__(2, v))
    people_sent_back = property(lambda self: float(self.totals[3]), lambda self, v: self.totals.__setitem__(3, v))

    def step(self, date: dt.date, rules: RuleSet) -> None:
        """Renew the monthly settlement capacity (households)."""
        key = (date.year, date.month)
        if key != self._month:
            self._month = key
            self.capacity_left = rules.dprk.capacity_households_per_month

    def receive(self, idx: np.ndarray, today: int, rules: RuleSet) -> None:
        """Households ``idx`` arrive at a reception station today (one compiled pass, :func:`receive`)."""
        if len(idx) == 0:
            return
        idx = np.asarray(idx, dtype=np.int64)
        bi, bv = buffers(len(idx))
        hb, i1, i2, i4, f8, _ = self.hh.blocks()
        receive(hb, i1, i2, i4, f8, bi, bv, idx, log_uniforms(self.hh, idx), today, screening_factor(rules))
        close(bi, bv, self.hh, self.recorder)

    def decide(self, idx: np.ndarray, today: int, rules: RuleSet, month: int) -> Returnees:
        """Reception stations decide on households ``idx`` whose wait is over; returns those sent home (one compiled
        pass, :func:`decide`, as in the day's transitions)."""
        if len(idx) == 0:
            return []
        idx = np.asarray(idx, dtype=np.int64)
        bi, bv = buffers(len(idx))
        hh = self.hh
        out, ends = decide(
            *hh.blocks(), hh.ju, bi, bv, idx, log_uniforms(hh, idx), today, *self.decision_inputs(rules, month, today)
        )
        close(bi, bv, hh, self.recorder)
        return np.split(out, ends[:-1])

    def decision_inputs(self, rules: RuleSet, month: int, today: int) -> tuple:
        """What :func:`decide` reads: the rules' probabilities and flags (:func:`decision_rules`), the running
        :attr:`totals` (updated in place) and the key of today's queue for places (``Kind.PLACE``, the absolute day)."""
        if self._rules is None or self._rules[0] is not rules or self._rules[1] != month:
            self._rules = (rules, month, *decision_rules(rules, month, self.params))
        day = np.uint64(self.streams.day0 + today)
        return *self._rules[2:], self.totals, self.streams.key_of(Kind.PLACE), day

    def _send_back(self, idx: np.ndarray, sub: int, today: int, rules: RuleSet) -> np.ndarray:
        """Households ``idx`` are handed back to China (one compiled pass, :func:`send_back`; ``sub``: the ``M_*``
        of the measure they count in besides ``sent_back``, or ``M_NONE``)."""
        if len(idx) == 0:
            return idx
        idx = np.asarray(idx, dtype=np.int64)
        bi, bv = buffers(len(idx))
        hb, i1, i2, i4, f8, _ = self.hh.blocks()
        identity = rules.dprk.identity_information
        send_back(hb, i1, i2, i4, f8, bi, bv, idx, np.arange(len(idx)), sub, identity, today, self.totals)
        close(bi, bv, self.hh, self.recorder)
        return idx

    def repatriate_settled(self, share: float, today: int, rules: RuleSet) -> Returnees:
        """Return a share of settled illegal crossers (when a rule set says settled crossers may not stay)."""
        idx = np.flatnonzero(self.hh.state == State.SETTLED)
        sel = idx[self.streams.uniform(Kind.REPATRIATE, self.hh.key[idx], self.streams.day0 + today) < share]
        return [self._send_back(sel, M_REPATRIATED, today, rules)]


# -- the compiled passes ------------------------------------------------------------------------------
#: How reception screens an arrival (:func:`_screen`); WAITING: screened before, waiting for a place.
WAITING, EXEMPT, HAN, CRIMINAL, REPATRIATE, SEND_BACK, REST = -1, 0, 1, 2, 3, 4, 5


def screening_factor(rules: RuleSet) -> float:
    """The geometric factor of the days at a reception station (``screening_days``)."""
    return geometric_factor(1.0 / rules.dprk.screening_days)


def decision_rules(rules: RuleSet, month: int, p: Parameters) -> tuple[np.ndarray, np.ndarray]:
    """The rules of the reception stations' decision for :func:`decide`: (return_illegal_prob, send_back_prob,
    max_wait_days, yuan per labourer, grain per person, return_rate, return_family_factor, return_property_factor)
    and the flags (a disaster's crossers exempt today (Doc 10 Arts. 1, 4), single Han men returned, criminals
    returned, identity information given, households settled, families may follow (Doc 7 (4b)))."""
    dprk = rules.dprk
    disaster_legal = crossing_is_legal(rules, documents=False, agreed_point=False, hour=12.0, month=month, disaster=True)
    r = np.array(
        [dprk.return_illegal_prob, dprk.send_back_prob, dprk.max_wait_days, dprk.allowance_yuan_per_labourer,
         dprk.grain_catties_per_person, p.return_rate, p.return_family_factor, p.return_property_factor],
        dtype=np.float64,
    )  # fmt: skip
    flags = np.array(
        [disaster_legal, dprk.return_single_han_men, dprk.return_criminals, dprk.identity_information,
         dprk.settle_households, rules.china.families_may_follow],
        dtype=np.bool_,
    )  # fmt: skip
    return r, flags


@compiled
def receive(hb, i1, i2, i4, f8, bi, bv, idx, log_u, today, f_screening):
    """Households ``idx`` (rows of ``log_u``) arrive at a reception station today, in order (``arrived_reception``,
    persons): not yet screened, they wait a geometric number of days (mean ``screening_days``). The households'
    blocks and the buffers as in :mod:`.bookkeeping`."""
    for j in range(len(idx)):
        i = idx[j]
        note(bi, bv, M_ARRIVED, i2[HI2.leaf, i], f8[HF8.weight, i] * i2[HI2.size, i])
        hb[HB.screened, i] = False
        set_state(i1, i4, bi, i, State.AT_RECEPTION, today, today + geometric(log_u[j, L_SCREENING], f_screening))


@compiled(cache=False)
def decide(hb, i1, i2, i4, f8, u8, ju, bi, bv, idx, log_u, today, r, flags, totals, place_key, day):
    """Reception stations decide on households ``idx`` (rows of ``log_u``) whose wait is over. In order: those not
    yet screened are screened once (:func:`_screen`; a disaster's crossers exempt are assisted home, Doc 10 Art. 1
    (1)); the single Han men, criminals, repatriated and sent back are handed back, group by group
    (:func:`send_back`); those screened before and still waiting, then the newly screened who may stay, get places
    while the month's capacity lasts (:func:`_places`) and are settled (:func:`_settle`); of those left waiting, the
    ones who waited ``max_wait_days`` are sent back, the others ask again next week. ``totals``: capacity left, yuan
    paid, people settled, people sent back (updated). Returns the households sent home, group after group, and the
    end of each of the five groups."""
    n = len(idx)
    out = np.empty(n, dtype=np.int64)
    ends = np.zeros(5, dtype=np.int64)
    if n == 0:
        return out, ends
    kind = np.empty(n, dtype=np.int64)
    for j in range(n):
        i = idx[j]
        if hb[HB.screened, i]:  # screening happens once; those waiting for a place are not re-screened
            kind[j] = WAITING
            continue
        hb[HB.screened, i] = True
        kind[j] = _screen(hb, ju, i, r, flags)
        hb[HB.disaster, i] = False  # the disaster that forced this crossing is over once screened
    for j in range(n):
        if kind[j] == EXEMPT:
            _assist_home(hb, i1, i2, i4, f8, bi, bv, idx[j], today)
    m = 0
    subs = np.array([M_SENT_BACK_HAN, M_REPATRIATED_CRIMINALS, M_REPATRIATED, M_NONE])
    for g in range(4):
        sel = np.flatnonzero(kind == g + 1)
        send_back(hb, i1, i2, i4, f8, bi, bv, idx, sel, subs[g], flags[3], today, totals)
        for k in range(len(sel)):
            out[m] = idx[sel[k]]
            m += 1
        ends[g] = m
    cand = np.concatenate((np.flatnonzero(kind == WAITING), np.flatnonzero(kind == REST)))
    chosen = _places(f8, u8, idx[cand], flags[4], totals, place_key, day)
    _settle(hb, i1, i2, i4, f8, bi, bv, idx, cand[chosen], log_u, today, r, flags, totals)
    waiting = cand[~chosen]
    too_long = np.empty(len(waiting), dtype=np.int64)
    n_long = 0
    for k in range(len(waiting)):
        i = idx[waiting[k]]
        if today - i4[HI4.since, i] >= r[2]:
            too_long[n_long] = waiting[k]
            n_long += 1
            out[m] = i
            m += 1
        else:
            schedule(i4, bi, i, today + 7)  # ask again next week
    send_back(hb, i1, i2, i4, f8, bi, bv, idx, too_long[:n_long], subs[3], flags[3], today, totals)
    ends[4] = m
    return out[:m], ends


@compiled(cache=False)
def _screen(hb, ju, i, r, flags):
    """How reception screens household ``i``: a disaster's crossers exempt (EXEMPT); a single Han man returned
    (HAN, Docs 3, 5); a pending criminal case returned (CRIMINAL, Doc 1 (3), Doc 10 Art. 5); repatriated with
    ``return_illegal_prob`` (REPATRIATE, Doc 10 Art. 4); sent back with ``send_back_prob`` (SEND_BACK, Docs 3, 5, 6);
    or free to stay (REST)."""
    if hb[HB.disaster, i] and flags[0]:
        return EXEMPT
    if hb[HB.han_single, i] and flags[1]:
        return HAN
    if hb[HB.criminal, i] and flags[2]:
        return CRIMINAL
    if ju[i, J_REPATRIATE] < r[0]:
        return REPATRIATE
    if ju[i, J_SEND_BACK] < r[1]:
        return SEND_BACK
    return REST


@compiled(cache=False)
def _places(f8, u8, cand, settle_households, totals, place_key, day):
    """Which of the waiting households ``cand`` get a place: capacity in (weighted) households ``totals[0]``, first
    come first served in random order, drawn afresh each day (``Kind.PLACE``, keyed by household and the absolute
    ``day``: a household's place in the queue does not depend on who else is waiting); everyone if all fit. As
    numpy: the sums pairwise, the order a stable sort, the running sum a cumulative sum."""
    n = len(cand)
    chosen = np.zeros(n, dtype=np.bool_)
    if not settle_households:
        return chosen
    w = np.empty(n)
    for k in range(n):
        w[k] = f8[HF8.weight, cand[k]]
    total = np_sum(w, n)
    if total <= totals[0] + 1e-9:  # everyone fits: the order does not matter
        totals[0] -= total
        chosen[:] = True
        return chosen
    keys = np.empty(n, dtype=np.uint64)
    days = np.empty(n, dtype=np.uint64)
    for k in range(n):
        keys[k] = u8[HU8.key, cand[k]]
        days[k] = day
    u = _uniforms(keys, days, place_key, np.int64(1))[:, 0]
    order = stable_order(u)
    fitted = np.empty(n)
    n_fit = 0
    running = 0.0
    for k in range(n):
        running += w[order[k]]
        if running <= totals[0] + 1e-9:
            chosen[order[k]] = True
            fitted[n_fit] = w[order[k]]
            n_fit += 1
    totals[0] -= np_sum(fitted, n_fit)
    return chosen


@compiled(cache=False)
def _settle(hb, i1, i2, i4, f8, bi, bv, idx, pos, log_u, today, r, flags, totals):
    """Households ``idx[pos]`` are settled on cooperatives, in order: ``settled`` (persons), ``settled_households``,
    40 yuan per labourer (``allowance_yuan``, Docs 3, 5) and grain per person (``grain_catties``), added to the
    totals (yuan paid, people settled). Each goes home on its own after an exponential stay at the rate
    ``return_rate (1 + family factor [family left in China, unless families may follow: Doc 7 (4b)] + property
    factor [property not sold])`` (Doc 6), or never at a rate of 0."""
    n = len(pos)
    if n == 0:
        return
    yuan = np.empty(n)
    persons = np.empty(n)
    for k in range(n):
        j = pos[k]
        i = idx[j]
        leaf, w = i2[HI2.leaf, i], f8[HF8.weight, i]
        yuan[k] = w * i2[HI2.labourers, i] * r[3]
        persons[k] = w * i2[HI2.size, i]
        note(bi, bv, M_SETTLED, leaf, persons[k])
        note(bi, bv, M_SETTLED_HOUSEHOLDS, leaf, w)
        note(bi, bv, M_YUAN, leaf, yuan[k])
        note(bi, bv, M_GRAIN, leaf, persons[k] * r[4])
        family = 1.0 if hb[HB.family_left, i] and not flags[5] else 0.0
        rate = r[5] * (1.0 + r[6] * family + r[7] * (0.0 if hb[HB.property_sold, i] else 1.0))
        stay = -log_u[j, L_STAY] / max(rate, 1e-12)
        due = today + int(min(stay, 1e6)) + 1 if rate > 0 else -1
        set_state(i1, i4, bi, i, State.SETTLED, today, due)
    totals[1] += np_sum(yuan, n)
    totals[2] += np_sum(persons, n)


@compiled
def send_back(hb, i1, i2, i4, f8, bi, bv, idx, pos, sub, identity, today, totals):
    """Households ``idx[pos]`` are handed back to China, in order: ``sent_back`` (persons), ``sent_back_of_discovered``
    if the guards had discovered the crossing, the measure ``sub`` (an ``M_*``, or ``M_NONE``), and
    ``returned_with_identity`` where the rule says so (Doc 10 Art. 4 (2)); added to the people sent back
    (``totals[3]``); a fresh move clock."""
    n = len(pos)
    if n == 0:
        return
    persons = np.empty(n)
    for k in range(n):
        i = idx[pos[k]]
        leaf = i2[HI2.leaf, i]
        persons[k] = f8[HF8.weight, i] * i2[HI2.size, i]
        note(bi, bv, M_SENT_BACK, leaf, persons[k])
        if hb[HB.crossing_seen, i]:
            note(bi, bv, M_SENT_BACK_SEEN, leaf, persons[k])
        if sub != M_NONE:
            note(bi, bv, sub, leaf, persons[k])
        if identity:
            note(bi, bv, M_WITH_IDENTITY, leaf, persons[k])
        set_state(i1, i4, bi, i, State.SENT_BACK, today, -1)
        reset_clocks(i4, f8, i)
    totals[3] += np_sum(persons, n)


@compiled(cache=False)
def _assist_home(hb, i1, i2, i4, f8, bi, bv, i, today):
    """A disaster's crossers are assisted and go home (Doc 10 Art. 1 (1); ``disaster_assisted_home``, persons):
    they are not illegal crossers."""
    note(bi, bv, M_ASSISTED_HOME, i2[HI2.leaf, i], f8[HF8.weight, i] * i2[HI2.size, i])
    hb[HB.disaster, i] = False
    set_state(i1, i4, bi, i, State.HOME, today, -1)
    reset_clocks(i4, f8, i)


@compiled(cache=False)
def return_home(hb, i1, i2, i4, f8, bi, bv, idx, today):
    """Settled households ``idx`` go home on their own initiative (Doc 6: 7,528), in order: ``returned_own``
    (persons), ``returned_own_of_discovered`` if the guards had discovered the crossing; a fresh move clock."""
    for j in range(len(idx)):
        i = idx[j]
        persons = f8[HF8.weight, i] * i2[HI2.size, i]
        note(bi, bv, M_RETURNED_OWN, i2[HI2.leaf, i], persons)
        if hb[HB.crossing_seen, i]:
            note(bi, bv, M_RETURNED_OWN_SEEN, i2[HI2.leaf, i], persons)
        set_state(i1, i4, bi, i, State.RETURNED, today, -1)
        reset_clocks(i4, f8, i)
