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
"""

from __future__ import annotations

import numpy as np

from ..world.north import NorthValues
from ..world.rules import NorthwardRules
from .north_people import RETURN, SPECIAL, NorthHouseholds, NReason, Trips, TState, come_home, detach, detain, release
from .recorder import Recorder


class ChinaPolice:
    """Chinese public security and border defence as they deal with North Koreans in China; the DPRK's reception
    of those handed back. Acts on the trips and households it is given, with the northward random stream."""

    def __init__(self, hh: NorthHouseholds, trips: Trips, p: NorthValues, recorder: Recorder, rng: np.random.Generator):
        self.hh, self.trips, self.p, self.rec, self.rng = hh, trips, p, recorder, rng

    def _add(self, measure: str, idx: np.ndarray, values: np.ndarray | None = None) -> None:
        self.rec.add(measure, self.trips.leaf[idx], self.trips.w(idx) if values is None else values)

    # -- catching -----------------------------------------------------------------------------------
    def catch(self, idx: np.ndarray, today: int, rules: NorthwardRules, home_hunger: np.ndarray, at_river: bool) -> None:
        """Trips ``idx`` are caught today; ``home_hunger``: felt hunger in each trip's home zone today."""
        tr, rng = self.trips, self.rng
        if len(idx) == 0:
            return
        self._add("caught_china", idx)
        if at_river:
            self._add("caught_china_at_river", idx)
        tr.caught[idx] = today
        famine = rules.famine_as_disaster & (tr.reason[idx] == NReason.FOOD) & (home_hunger >= self.p.famine_threshold)
        exempt = rules.disaster_exempt & (tr.disaster[idx] | famine)
        self._add("assisted_north", idx[exempt])  # Doc 10 Arts. 1 (1), 4 (1): assisted, left at large
        idx = idx[~exempt]
        political = tr.sk[idx] & (rng.random(len(idx)) < rules.article5_sk_contact_share)
        tr.political[idx] = political
        absolute = (rules.return_criminals & tr.criminal[idx]) | political
        inconvenient = ~absolute & (tr.married[idx] | tr.whole[idx])
        special = idx[inconvenient]
        rest = ~absolute & ~inconvenient
        ret = rest & (rng.random(len(idx)) < rules.repatriate_prob)
        self._custody(idx[absolute | ret], today, RETURN, rules.return_days)
        self._custody(special, today, SPECIAL, rules.special_case_days)
        released = idx[rest & ~ret]
        self._add("released_north", released)

    def _custody(self, idx: np.ndarray, today: int, kind: int, mean_days: float) -> None:
        tr = self.trips
        tr.state[idx] = TState.CUSTODY
        tr.kind[idx] = kind
        tr.due[idx] = today + self.rng.geometric(1.0 / mean_days, size=len(idx))

    def round_up(self, share: float, today: int, rules: NorthwardRules, hunger_of) -> None:
        """At a switch to rules with ``return_backlog``: a share of the illegal North Koreans at large are sought out
        (Doc 11 (6): "In general, Koreans who illegally crossed the border should be sent back")."""
        at_large = self.trips.in_state(TState.AT_LARGE)
        hit = at_large[self.rng.random(len(at_large)) < share]
        self.catch(hit, today, rules, hunger_of(hit), at_river=False)

    # -- the day's decisions and hand-overs ----------------------------------------------------------
    def step(self, today: int, rules: NorthwardRules) -> None:
        """Special cases decided and hand-overs made today; the DPRK's detentions that end today."""
        tr = self.trips
        due = np.flatnonzero((tr.state[: tr.n] == TState.CUSTODY) & (tr.due[: tr.n] == today))
        if len(due):
            special = due[tr.kind[due] == SPECIAL]
            stay = special[self.rng.random(len(special)) < rules.inconvenient_stay_prob]
            self._add("stay_approved_north", stay)  # Doc 1 (2): residency after the DPRK's approval; Doc 2 (3)
            tr.state[stay] = TState.RESIDENT
            tr.due[stay] = -1
            detach(self.hh, tr, stay)
            self.hand_over(np.setdiff1d(due, stay, assume_unique=True), today, rules)
        release(self.hh, today)

    def hand_over(self, idx: np.ndarray, today: int, rules: NorthwardRules) -> None:
        """China hands trips ``idx`` back to the DPRK today (Doc 1 (2), Doc 10 Art. 4 (2), Doc 11 (6))."""
        tr, p = self.trips, self.p
        if len(idx) == 0:
            return
        w = tr.w(idx)
        self._add("returned_to_dprk", idx, w)
        self._add("handed_over_north", idx, w)
        self._add("handover_days_north", idx, w * (today - tr.caught[idx]))
        self._add("returned_with_identity_north" if rules.identity_information else "returned_without_identity_north", idx, w)
        absolute = tr.political[idx] | (tr.criminal[idx] & rules.return_criminals)
        self._add("returned_criminals_north", idx[absolute])
        self._add("returned_long_stayers_north", idx[(today - tr.start[idx]) > p.long_stay_days])
        come_home(self.hh, tr, idx, today, p.contact_days)
        self.dprk_receives(idx, today, rules, with_identity=rules.identity_information)

    def dprk_receives(self, idx: np.ndarray, today: int, rules: NorthwardRules, with_identity: bool) -> None:
        """The DPRK detains some of those handed back (assumed levers; the dossier is silent on it)."""
        tr = self.trips
        prob = rules.dprk_detain_with_identity if with_identity else rules.dprk_detain_without_identity
        held = idx[self.rng.random(len(idx)) < prob]
        if len(held) == 0:
            return
        self._add("detained_dprk", held)
        mean = rules.dprk_detention_days * np.where(tr.political[held], self.p.political_detention_factor, 1.0)
        days = self.rng.geometric(1.0 / np.maximum(mean, 1.0))
        detain(self.hh, tr.hh[held], today, days)

    def stopped_by_dprk(self, h: np.ndarray, persons: np.ndarray, today: int, rules: NorthwardRules) -> None:
        """Households ``h`` whose crossers the DPRK's guards stopped on their bank: some are detained."""
        hh = self.hh
        if len(h) == 0:
            return
        self.rec.add("stopped_north_dprk", hh.leaf[h], hh.weight[h] * persons)
        held = self.rng.random(len(h)) < rules.dprk_detain_without_identity
        self.rec.add("detained_dprk", hh.leaf[h[held]], hh.weight[h[held]] * persons[held])
        days = self.rng.geometric(1.0 / rules.dprk_detention_days, size=int(held.sum()))
        detain(hh, h[held], today, days)
