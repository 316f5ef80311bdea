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
Art. 5); an illegal crosser is repatriated with probability ``return_illegal_prob``; others are sent back with probability ``send_back_prob``; the rest are settled while
the month's capacity lasts, each labourer paid the allowance, each person given grain; those who
cannot be settled wait and are sent back after ``max_wait_days`` (rule). Settled households go home on
their own at a rate raised by family and property left in China, and write letters home.
"""

from __future__ import annotations

import mesa
import numpy as np

from .households import Households, State
from .rules import crossing_is_legal


class SettlementAgent(mesa.Agent):
    """The DPRK's reception and settlement apparatus."""

    def __init__(self, model):
        super().__init__(model)
        self.capacity_left = 0.0
        self._month = None
        self.yuan_paid = 0.0
        self.people_settled = 0.0
        self.people_sent_back = 0.0

    def step(self) -> None:
        """Renew the monthly settlement capacity (households)."""
        m = self.model
        key = (m.date.year, m.date.month)
        if key != self._month:
            self._month = key
            self.capacity_left = m.rules.dprk.capacity_households_per_month

    def receive(self, idx: np.ndarray) -> None:
        """Households ``idx`` arrive at a reception station today."""
        m = self.model
        hh: Households = m.households
        if len(idx) == 0:
            return
        m.recorder.add("arrived_reception", hh.leaf[idx].astype(np.int64), hh.persons(idx))
        hh.screened[idx] = False
        wait = m.rng.geometric(1.0 / m.rules.dprk.screening_days, size=len(idx))
        hh.set_state(idx, State.AT_RECEPTION, m.today, m.today + wait)

    def decide(self, idx: np.ndarray) -> None:
        """Reception stations decide on households ``idx`` whose wait is over."""
        m = self.model
        hh: Households = m.households
        rules = m.rules.dprk
        rng = m.rng
        p = m.params
        if len(idx) == 0:
            return
        # Screening happens once, on the first decision; those waiting for a place are not re-screened.
        first = ~hh.screened[idx]
        new, waiting_before = idx[first], idx[~first]
        hh.screened[new] = True
        n = len(new)
        u = rng.random((2, n))
        # Forced across by a disaster and exempt (Doc 10 Arts. 1, 4): assisted, then home.
        disaster_legal = crossing_is_legal(m.rules, documents=False, agreed_point=False, hour=12.0, month=m.date.month, disaster=True)
        exempt = hh.disaster[new] & disaster_legal
        han = ~exempt & hh.han_single[new] & rules.return_single_han_men
        crim = ~exempt & ~han & hh.criminal[new] & rules.return_criminals
        repat = ~exempt & ~han & ~crim & (u[0] < rules.return_illegal_prob)
        back = ~exempt & ~han & ~crim & ~repat & (u[1] < rules.send_back_prob)
        rest = ~(exempt | han | crim | repat | back)
        hh.disaster[new] = False  # the disaster that forced this crossing is over once screened
        self._assist_home(new[exempt])
        self._send_back(new[han], "sent_back_single_han")
        self._send_back(new[crim], "repatriated_criminals")
        self._send_back(new[repat], "repatriated")
        self._send_back(new[back], None)
        cand = np.concatenate([waiting_before, new[rest]])
        if not rules.settle_households:
            cand_settle = np.zeros(len(cand), dtype=bool)
        else:
            # Capacity in (weighted) households, first come first served in random order.
            order = rng.permutation(len(cand))
            w = hh.weight[cand][order]
            fits = np.cumsum(w) <= self.capacity_left + 1e-9
            cand_settle = np.zeros(len(cand), dtype=bool)
            cand_settle[order[fits]] = True
            self.capacity_left -= float(w[fits].sum())
        settle = cand[cand_settle]
        waiting = cand[~cand_settle]
        if len(settle):
            leaf = hh.leaf[settle].astype(np.int64)
            w = hh.weight[settle]
            yuan = w * hh.labourers[settle] * rules.allowance_yuan_per_labourer
            grain = w * hh.size[settle] * rules.grain_catties_per_person
            m.recorder.add("settled", leaf, hh.persons(settle))
            m.recorder.add("settled_households", leaf, w)
            m.recorder.add("allowance_yuan", leaf, yuan)
            m.recorder.add("grain_catties", leaf, grain)
            self.yuan_paid += float(yuan.sum())
            self.people_settled += float(hh.persons(settle).sum())
            # Family left in China raises the pull home unless families may follow (Doc 7 (4b)).
            family = hh.family_left[settle] & ~m.rules.china.families_may_follow
            rate = p.return_rate * (1.0 + p.return_family_factor * family + p.return_property_factor * ~hh.property_sold[settle])
            stay = rng.exponential(1.0 / np.maximum(rate, 1e-12))
            due = np.where(rate > 0, m.today + np.minimum(stay, 1e6).astype(np.int64) + 1, -1)
            hh.set_state(settle, State.SETTLED, m.today, due)
        if len(waiting):
            waited = m.today - hh.since[waiting]
            too_long = waited >= rules.max_wait_days
            self._send_back(waiting[too_long], None)
            keep = waiting[~too_long]
            hh.due[keep] = m.today + 7  # ask again next week

    def _send_back(self, idx: np.ndarray, sub: str | None) -> None:
        """Households ``idx`` are handed back to China (with identity information where the rule says so)."""
        m = self.model
        hh: Households = m.households
        if len(idx) == 0:
            return
        leaf = hh.leaf[idx].astype(np.int64)
        persons = hh.persons(idx)
        m.recorder.add("sent_back", leaf, persons)
        if sub:
            m.recorder.add(sub, leaf, persons)
        if m.rules.dprk.identity_information:  # every illegal crosser handed back (Doc 10 Art. 4 (2))
            m.recorder.add("returned_with_identity", leaf, persons)
        self.people_sent_back += float(persons.sum())
        hh.set_state(idx, State.SENT_BACK, m.today)
        hh.reset_clocks(idx, m.rng)
        m.rumours.disappoint(hh, idx, m.params.returnee_damp)

    def _assist_home(self, idx: np.ndarray) -> None:
        """Disaster victims are assisted and go home (Doc 10 Art. 1 (1)); they are not illegal crossers."""
        m = self.model
        hh: Households = m.households
        if len(idx) == 0:
            return
        m.recorder.add("disaster_assisted_home", hh.leaf[idx].astype(np.int64), hh.persons(idx))
        hh.disaster[idx] = False
        hh.set_state(idx, State.HOME, m.today)
        hh.reset_clocks(idx, m.rng)

    def repatriate_settled(self, share: float) -> None:
        """Return a share of settled illegal crossers (when a rule set says settled crossers may not stay)."""
        m = self.model
        hh = m.households
        idx = np.flatnonzero(hh.state == State.SETTLED)
        sel = idx[m.rng.random(len(idx)) < share]
        self._send_back(sel, "repatriated")

    def return_home(self, idx: np.ndarray) -> None:
        """Settled households ``idx`` go home on their own initiative (Doc 6: 7,528)."""
        m = self.model
        hh: Households = m.households
        if len(idx) == 0:
            return
        m.recorder.add("returned_own", hh.leaf[idx].astype(np.int64), hh.persons(idx))
        hh.set_state(idx, State.RETURNED, m.today)
        hh.reset_clocks(idx, m.rng)
        m.rumours.disappoint(hh, idx, m.params.returnee_damp)
