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
from .households import Households, State
from .recorder import Recorder
from .streams import JOURNEY, Kind, Streams, exponential, geometric

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
        self.capacity_left = 0.0
        self._month = None
        self.yuan_paid = 0.0
        self.people_settled = 0.0
        self.people_sent_back = 0.0

    def step(self, date: dt.date, rules: RuleSet) -> None:
        """Renew the monthly settlement capacity (households)."""
        key = (date.year, date.month)
        if key != self._month:
            self._month = key
            self.capacity_left = rules.dprk.capacity_households_per_month

    def receive(self, idx: np.ndarray, today: int, rules: RuleSet) -> None:
        """Households ``idx`` arrive at a reception station today."""
        hh = self.hh
        if len(idx) == 0:
            return
        self.recorder.add("arrived_reception", hh.leaf[idx], hh.persons(idx))
        hh.screened[idx] = False
        wait = geometric(hh.ju[idx, JOURNEY.SCREENING], 1.0 / rules.dprk.screening_days)
        hh.set_state(idx, State.AT_RECEPTION, today, today + wait)

    def decide(self, idx: np.ndarray, today: int, rules: RuleSet, month: int) -> Returnees:
        """Reception stations decide on households ``idx`` whose wait is over; returns those sent home."""
        hh, dprk = self.hh, rules.dprk
        if len(idx) == 0:
            return []
        # Screening happens once, on the first decision; those waiting for a place are not re-screened.
        first = ~hh.screened[idx]
        new, waiting_before = idx[first], idx[~first]
        hh.screened[new] = True
        u = hh.ju[new][:, [JOURNEY.REPATRIATE, JOURNEY.SEND_BACK]].T
        # Forced across by a disaster and exempt (Doc 10 Arts. 1, 4): assisted, then home.
        disaster_legal = crossing_is_legal(rules, documents=False, agreed_point=False, hour=12.0, month=month, disaster=True)
        exempt = hh.disaster[new] & disaster_legal
        han = ~exempt & hh.han_single[new] & dprk.return_single_han_men
        crim = ~exempt & ~han & hh.criminal[new] & dprk.return_criminals
        repat = ~exempt & ~han & ~crim & (u[0] < dprk.return_illegal_prob)
        back = ~exempt & ~han & ~crim & ~repat & (u[1] < dprk.send_back_prob)
        rest = ~(exempt | han | crim | repat | back)
        hh.disaster[new] = False  # the disaster that forced this crossing is over once screened
        self._assist_home(new[exempt], today)
        returned = [
            self._send_back(new[han], "sent_back_single_han", today, rules),
            self._send_back(new[crim], "repatriated_criminals", today, rules),
            self._send_back(new[repat], "repatriated", today, rules),
            self._send_back(new[back], None, today, rules),
        ]
        cand = np.concatenate([waiting_before, new[rest]])
        settle, waiting = self._places(cand, dprk.settle_households, today)
        self._settle(settle, today, rules)
        if len(waiting):
            waited = today - hh.since[waiting]
            too_long = waited >= dprk.max_wait_days
            returned.append(self._send_back(waiting[too_long], None, today, rules))
            keep = waiting[~too_long]
            hh.schedule(keep, today + 7)  # ask again next week
        return returned

    def _places(self, cand: np.ndarray, settle_households: bool, today: int) -> tuple[np.ndarray, np.ndarray]:
        """(settled, still waiting): capacity in (weighted) households, first come first served in random order
        (the order drawn afresh each day, keyed by household and day: a household's place in the queue does not
        depend on who else is waiting)."""
        if not settle_households:
            return cand[:0], cand
        w = self.hh.weight[cand]
        if w.sum() <= self.capacity_left + 1e-9:  # everyone fits: the order does not matter
            self.capacity_left -= float(w.sum())
            return cand, cand[:0]
        order = np.argsort(self.streams.uniform(Kind.PLACE, self.hh.key[cand], self.streams.day0 + today), kind="stable")
        fits = np.cumsum(w[order]) <= self.capacity_left + 1e-9
        chosen = np.zeros(len(cand), dtype=bool)
        chosen[order[fits]] = True
        self.capacity_left -= float(w[order][fits].sum())
        return cand[chosen], cand[~chosen]

    def _settle(self, settle: np.ndarray, today: int, rules: RuleSet) -> None:
        """Settle households on cooperatives: 40 yuan per labourer (Docs 3, 5), grain per person; schedule their return."""
        hh, p, rec = self.hh, self.params, self.recorder
        if not len(settle):
            return
        leaf = hh.leaf[settle].astype(np.int64)
        w = hh.weight[settle]
        yuan = w * hh.labourers[settle] * rules.dprk.allowance_yuan_per_labourer
        grain = w * hh.size[settle] * rules.dprk.grain_catties_per_person
        rec.add("settled", leaf, hh.persons(settle))
        rec.add("settled_households", leaf, w)
        rec.add("allowance_yuan", leaf, yuan)
        rec.add("grain_catties", leaf, grain)
        self.yuan_paid += float(yuan.sum())
        self.people_settled += float(hh.persons(settle).sum())
        # Family left in China raises the pull home unless families may follow (Doc 7 (4b)).
        family = hh.family_left[settle] & ~rules.china.families_may_follow
        rate = p.return_rate * (1.0 + p.return_family_factor * family + p.return_property_factor * ~hh.property_sold[settle])
        stay = exponential(hh.ju[settle, JOURNEY.STAY]) / np.maximum(rate, 1e-12)
        due = np.where(rate > 0, today + np.minimum(stay, 1e6).astype(np.int64) + 1, -1)
        hh.set_state(settle, State.SETTLED, today, due)

    def _send_back(self, idx: np.ndarray, sub: str | None, today: int, rules: RuleSet) -> np.ndarray:
        """Households ``idx`` are handed back to China (with identity information where the rule says so)."""
        hh, rec = self.hh, self.recorder
        if len(idx) == 0:
            return idx
        leaf = hh.leaf[idx].astype(np.int64)
        persons = hh.persons(idx)
        rec.add("sent_back", leaf, persons)
        seen = hh.crossing_seen[idx]
        rec.add("sent_back_of_discovered", leaf[seen], persons[seen])
        if sub:
            rec.add(sub, leaf, persons)
        if rules.dprk.identity_information:  # every illegal crosser handed back (Doc 10 Art. 4 (2))
            rec.add("returned_with_identity", leaf, persons)
        self.people_sent_back += float(persons.sum())
        hh.set_state(idx, State.SENT_BACK, today)
        hh.reset_clocks(idx)
        return idx

    def _assist_home(self, idx: np.ndarray, today: int) -> None:
        """Disaster victims are assisted and go home (Doc 10 Art. 1 (1)); they are not illegal crossers."""
        hh = self.hh
        if len(idx) == 0:
            return
        self.recorder.add("disaster_assisted_home", hh.leaf[idx].astype(np.intp), hh.persons(idx))
        hh.disaster[idx] = False
        hh.set_state(idx, State.HOME, today)
        hh.reset_clocks(idx)

    def repatriate_settled(self, share: float, today: int, rules: RuleSet) -> Returnees:
        """Return a share of settled illegal crossers (when a rule set says settled crossers may not stay)."""
        idx = np.flatnonzero(self.hh.state == State.SETTLED)
        sel = idx[self.streams.uniform(Kind.REPATRIATE, self.hh.key[idx], self.streams.day0 + today) < share]
        return [self._send_back(sel, "repatriated", today, rules)]

    def return_home(self, idx: np.ndarray, today: int) -> Returnees:
        """Settled households ``idx`` go home on their own initiative (Doc 6: 7,528)."""
        hh = self.hh
        if len(idx) == 0:
            return []
        leaf, persons, seen = hh.leaf[idx], hh.persons(idx), hh.crossing_seen[idx]
        self.recorder.add("returned_own", leaf, persons)
        self.recorder.add("returned_own_of_discovered", leaf[seen], persons[seen])
        hh.set_state(idx, State.RETURNED, today)
        hh.reset_clocks(idx)
        return [idx]
