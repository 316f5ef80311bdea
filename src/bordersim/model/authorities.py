"""Chinese local authorities: the legal channel, travel passes, and DPRK women crossing to marry.

(Their orders on rations, interventions and interception are dated inputs, resolved into day-by-region
arrays by :mod:`bordersim.model.schedule`.)

* The authorization-letter channel (Docs 6, 7): the DPRK issues "authorization letters" to kin in
  China; holders apply; the authorities decide slowly and strictly in 1961 (Yanbian: 2,667 letters,
  about 1,778 applications, 1,053 approved, 735 refused), promptly and leniently from March 1962
  (Doc 7 (3)). A refused household is handed back to its own decision (it may prepare to cross).
* Doc 4's individual travel applications are decided at once, proper reasons favoured; approved
  travellers come back when their pass expires, or stay.
* DPRK women crossing into China to marry (Doc 2) are repatriated "in principle".
"""

from __future__ import annotations

import mesa
import numpy as np

from ..world.rules import RuleSet
from ..world.scenario import Parameters
from .households import Households, Reason, State
from .recorder import Recorder
from .schedule import DailyContext


class ChineseAuthorities(mesa.Agent):
    """Provincial and local authorities of Jilin and Liaoning, as one agent acting by region.

    Registered with the model (Mesa); it acts on what it is given: the households, the run's parameters
    and recorder, and per call the day and the rules in force. Its random generator is Mesa's
    ``Agent.rng`` (the run's one generator).
    """

    def __init__(
        self,
        model: mesa.Model,
        households: Households,
        params: Parameters,
        recorder: Recorder,
        crossing_leaves: np.ndarray,
        marriage_crossings_per_year: float,
    ):
        super().__init__(model)
        self.hh = households
        self.params = params
        self.recorder = recorder
        self.crossing_leaves = crossing_leaves
        self.marriage_rate = marriage_crossings_per_year / 365.0

    # -- the authorization-letter channel (Docs 6, 7) ---------------------------------------------
    def issue_letters(self, days: int, today: int, rules: RuleSet) -> None:
        """DPRK authorization letters reach kin households at home (``days`` since the last call)."""
        hh, p, rng = self.hh, self.params, self.rng
        elig = np.flatnonzero(hh.kin & ~hh.letter_held & hh.at_home())
        if len(elig) == 0:
            return
        got = elig[rng.random(len(elig)) < 1.0 - np.exp(-p.letter_rate * days / 365.0)]
        if len(got) == 0:
            return
        hh.letter_held[got] = True
        self.recorder.add("authorization_letters", hh.leaf[got].astype(np.int64), hh.weight[got])
        apply = got[(rng.random(len(got)) < p.p_apply_on_letter) & (hh.state[got] == State.HOME)]
        self.receive_applications(apply, today, rules)

    def receive_applications(self, idx: np.ndarray, today: int, rules: RuleSet) -> None:
        """Households ``idx`` apply to move on their authorization letter."""
        hh = self.hh
        if len(idx) == 0:
            return
        self.recorder.add("legal_applications", hh.leaf[idx].astype(np.int64), hh.weight[idx])
        delay = self.rng.geometric(1.0 / rules.china.legal_processing_days, size=len(idx))
        hh.set_state(idx, State.APPLIED, today, today + delay)

    def decide_applications(self, idx: np.ndarray, today: int, rules: RuleSet) -> np.ndarray:
        """Decide pending applications under the rules in force today; returns the refused households."""
        hh, rec = self.hh, self.recorder
        china = rules.china
        if len(idx) == 0:
            return idx
        # Doc 8 (2): DPRK nationals' requests to return approved; Doc 1 (4), Doc 11 (7): not those with a pending case.
        p_ok = np.where(hh.nk_national[idx] & china.approve_nk_nationals_return, 1.0, china.legal_approval_prob)
        p_ok = np.where(hh.criminal[idx], 0.0, p_ok)
        ok = self.rng.random(len(idx)) < p_ok
        yes, no = idx[ok], idx[~ok]
        rec.add("legal_approved", hh.leaf[yes].astype(np.int64), hh.weight[yes])
        rec.add("legal_refused", hh.leaf[no].astype(np.int64), hh.weight[no])
        rec.add("legal_emigrated", hh.leaf[yes].astype(np.int64), hh.persons(yes))
        hh.set_state(yes, State.EMIGRATED, today)
        hh.letter_held[no] = False
        return no

    # -- travel passes (Doc 4; Doc 10 Art. 3) -----------------------------------------------------
    def travel_applications(self, idx: np.ndarray, reasons: np.ndarray, today: int, rules: RuleSet, ctx: DailyContext) -> None:
        """Individuals of households ``idx`` apply to travel (Doc 4); decided at once."""
        hh, rec = self.hh, self.recorder
        if len(idx) == 0:
            return
        leaf = hh.leaf[idx].astype(np.int64)
        w = hh.weight[idx]
        rec.add_by_reason("travel_applications", leaf, w, reasons)
        china = rules.china
        proper = reasons == Reason.PROPER
        permit = ctx.permits_leaf[leaf] > 0
        p_ok = np.where(proper, np.where(permit, 1.0, china.travel_approval_prob_proper), china.travel_approval_prob)
        ok = self.rng.random(len(idx)) < p_ok
        rec.add("travel_approved", leaf[ok], w[ok])
        rec.add("travel_refused", leaf[~ok], w[~ok])
        go = idx[ok]
        hh.away[go] += 1
        days = rules.border.transit_pass_days or self.params.visit_days  # Doc 10 Art. 3 (3): one-month pass
        hh.away_until[go] = today + days

    def visits_end(self, today: int) -> None:
        """Travellers whose pass expires today come back, or stay (``overstay_prob``)."""
        hh = self.hh
        idx = np.flatnonzero(hh.away_until == today)
        if len(idx) == 0:
            return
        stay = self.rng.random(len(idx)) < self.params.overstay_prob
        s = idx[stay]
        self.recorder.add("overstayed", hh.leaf[s].astype(np.int64), hh.weight[s])
        hh.stayed[s] += hh.away[s]
        hh.away[idx] = 0
        hh.away_until[idx] = -1

    # -- DPRK women crossing to marry (Doc 2) -------------------------------------------------------
    def marriage_crossings(self, rules: RuleSet) -> None:
        """DPRK women crossing into China to marry Chinese men (Doc 2): repatriated "in principle" or, with
        special circumstances, allowed to marry and stay."""
        rng = self.rng
        k = rng.poisson(self.marriage_rate)
        if k == 0:
            return
        leaves = self.crossing_leaves[rng.integers(len(self.crossing_leaves), size=k)].astype(np.int64)
        self.recorder.add("marriage_crossings_in", leaves, 1.0)
        back = rng.random(k) < rules.china.repatriate_marriage_crossers
        self.recorder.add("marriage_repatriated", leaves[back], 1.0)
