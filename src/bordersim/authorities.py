"""Chinese local authorities: rations, interventions, interception orders and the legal channel.

* Hunger: the shortfall of the ration below ``food_need`` felt with a memory of
  ``hunger_memory_days`` (stocks run down; resentment builds month by month, Doc 4's Nov-Jan rise).
* Rations by area and month (Doc 4: from November 1960 "a low food [provisions] standard ... 210
  catties at the very least" in border areas; Doc 6: 360 catties "originally stipulated" by the Jilin
  report of October 1961, "but some production brigades can only provide 200").
* Interventions as dated packages (Doc 4's Lishu work from February 1961: substitute foods and
  canteens bringing rations to 360 catties, ideological education, public rebuttal of rumours,
  border clearance for people with proper reasons; Doc 5's five measures for Liaoning).
* Interception effort by area and date (Docs 3, 5: "strengthen interception work", May 1961).
* The authorization-letter channel (Docs 6, 7): the DPRK issues "authorization letters" to kin in
  China; holders apply; the authorities decide slowly and strictly in 1961 (Yanbian: 2,667 letters,
  about 1,778 applications, 1,053 approved, 735 refused), promptly and leniently from March 1962
  (Doc 7 (3)); Doc 4's individual travel applications are decided at once, proper reasons favoured.

The world's dated entries are resolved once, at the start of a run, into day-by-region arrays.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import mesa
import numpy as np

from .geography import RegionTree
from .households import Households, Reason, State


def resolve_schedule(entries, tree: RegionTree, start: dt.date, n_days: int, value_of, default: float) -> np.ndarray:
    """Day-by-home-region values of dated entries: the latest ``from`` wins, then the deeper region."""
    out = np.full((n_days, len(tree.leaf_ids)), default, dtype=np.float64)
    ordered = sorted(entries, key=lambda e: (e.from_, tree.depth(e.region)))
    for e in ordered:
        v = value_of(e)
        if v is None:
            continue
        a = max(0, (e.from_ - start).days)
        b = n_days if e.to is None else min(n_days, (e.to - start).days + 1)
        if b <= a:
            continue
        cols = tree.leaves_under(e.region)
        out[a:b, cols] = v
    return out


@dataclass
class DailyContext:
    """Today's conditions as the households and guards see them (leaf-indexed arrays)."""

    params: object
    ration_leaf: np.ndarray
    hunger_ok_leaf: np.ndarray
    hunger_poor_leaf: np.ndarray
    propensity_leaf: np.ndarray
    poor_share_leaf: np.ndarray
    poor_catties_leaf: np.ndarray
    education_leaf: np.ndarray
    risk_leaf: np.ndarray
    rebuttal_leaf: np.ndarray
    permits_leaf: np.ndarray
    effort_post: np.ndarray
    pull: float
    frozen: dict = field(default_factory=dict)
    #: Per-day derived tables (filled on first use by the households).
    cache: dict = field(default_factory=dict)


def _ema(x: np.ndarray, tau: float) -> np.ndarray:
    """Exponential moving average along days (axis 0) with a time constant of ``tau`` days."""
    a = 1.0 / max(tau, 1.0)
    out = np.empty_like(x)
    out[0] = x[0]
    for t in range(1, len(x)):
        out[t] = out[t - 1] + a * (x[t] - out[t - 1])
    return out


def _frozen(day: dt.date, freeze: str, thaw: str) -> bool:
    md = day.strftime("%m-%d")
    return md >= freeze or md < thaw if freeze > thaw else freeze <= md < thaw


class ChineseAuthorities(mesa.Agent):
    """Provincial and local authorities of Jilin and Liaoning, as one agent acting by region."""

    def __init__(self, model):
        super().__init__(model)
        sc = model.config
        w = sc.world
        tree = model.tree
        start, n = model.start, model.n_days
        self.ration = resolve_schedule(w.rations, tree, start, n, lambda e: e.catties, sc.parameters.food_need)
        subs = resolve_schedule(w.interventions, tree, start, n, lambda e: e.substitutes_to, -1.0)
        self.ration = np.maximum(self.ration, subs)  # substitutes raise the effective ration (Doc 4)
        self.poor_share = resolve_schedule(w.poor_brigades, tree, start, n, lambda e: e.share, 0.0)
        self.poor_catties = resolve_schedule(w.poor_brigades, tree, start, n, lambda e: e.catties, 0.0)
        need = sc.parameters.food_need
        short_ok = np.clip((need - self.ration) / need, 0.0, 1.0)
        short_poor = np.clip((need - np.minimum(self.ration, np.where(self.poor_share > 0, self.poor_catties, self.ration))) / need, 0.0, 1.0)
        tau = sc.parameters.hunger_memory_days
        self.hunger_ok = _ema(short_ok, tau)
        self.hunger_poor = _ema(short_poor, tau)
        self.propensity = resolve_schedule(w.propensity, tree, start, n, lambda e: e.value, 1.0)
        self.effort = resolve_schedule(w.interception, tree, start, n, lambda e: e.effort, 1.0)
        self.education = resolve_schedule(w.interventions, tree, start, n, lambda e: e.education, 1.0)
        self.rebuttal = resolve_schedule(w.interventions, tree, start, n, lambda e: e.rebuttal, 0.0)
        self.permits = resolve_schedule(w.interventions, tree, start, n, lambda e: float(e.permits_for_proper_reasons), 0.0)
        pull = np.ones(n)
        for e in sorted(w.dprk_pull, key=lambda e: e.from_):
            pull[max(0, (e.from_ - start).days):] = e.value
        self.pull = pull
        self.ice = w.ice
        days = [start + dt.timedelta(days=i) for i in range(n)]
        self.frozen = {r: np.array([_frozen(d, p.freeze, p.thaw) for d in days]) for r, p in w.ice.items()}

    def context(self, t: int, day: dt.date) -> DailyContext:
        m = self.model
        rules = m.rules
        effort_leaf = self.effort[t] * rules.china.interception_multiplier
        return DailyContext(
            params=m.params,
            ration_leaf=self.ration[t],
            hunger_ok_leaf=self.hunger_ok[t],
            hunger_poor_leaf=self.hunger_poor[t],
            propensity_leaf=self.propensity[t],
            poor_share_leaf=self.poor_share[t],
            poor_catties_leaf=self.poor_catties[t],
            education_leaf=self.education[t],
            # Perceived risk: guards, punishment, and being sent back under a return obligation (Doc 10 Art. 4).
            risk_leaf=effort_leaf + rules.china.punishment + m.params.return_deterrence * rules.dprk.return_illegal_prob,
            rebuttal_leaf=self.rebuttal[t],
            permits_leaf=self.permits[t],
            effort_post=effort_leaf[m.tree.post_location],
            pull=float(self.pull[t]) * self._settlement_offer(rules),
            frozen={r: bool(f[t]) for r, f in self.frozen.items()},
        )

    def _settlement_offer(self, rules) -> float:
        """Share of the DPRK's pull owed to its settlement offer (Doc 5 (3): the 40 yuan and grain "have had
        a great effect upon the Korean minority in China"): ``1 - a + a * offer``, where ``offer`` is the
        allowance relative to 40 yuan (0 if households are not settled) and ``a`` is ``allowance_pull``."""
        a = self.model.params.allowance_pull
        offer = rules.dprk.allowance_yuan_per_labourer / 40.0 if rules.dprk.settle_households else 0.0
        return 1.0 - a + a * offer

    def changed(self, t: int) -> bool:
        """Did any input of the households' hazards change today?"""
        if t == 0:
            return True
        return any(
            not np.array_equal(a[t], a[t - 1])
            for a in (self.poor_share, self.effort, self.education, self.propensity)
        ) or self.pull[t] != self.pull[t - 1]

    # -- the authorization-letter channel (Docs 6, 7) ---------------------------------------------
    def issue_letters(self, days: int) -> None:
        """DPRK authorization letters reach kin households at home (``days`` since the last call)."""
        m = self.model
        hh: Households = m.households
        p = m.params
        elig = np.flatnonzero(hh.kin & ~hh.letter_held & hh.at_home())
        if len(elig) == 0:
            return
        got = elig[m.rng.random(len(elig)) < 1.0 - np.exp(-p.letter_rate * days / 365.0)]
        if len(got) == 0:
            return
        hh.letter_held[got] = True
        m.recorder.add("authorization_letters", hh.leaf[got].astype(np.int64), hh.weight[got])
        apply = got[(m.rng.random(len(got)) < p.p_apply_on_letter) & (hh.state[got] == State.HOME)]
        self.receive_applications(apply)

    def receive_applications(self, idx: np.ndarray) -> None:
        """Households ``idx`` apply to move on their authorization letter."""
        m = self.model
        hh: Households = m.households
        if len(idx) == 0:
            return
        m.recorder.add("legal_applications", hh.leaf[idx].astype(np.int64), hh.weight[idx])
        delay = m.rng.geometric(1.0 / m.rules.china.legal_processing_days, size=len(idx))
        hh.set_state(idx, State.APPLIED, m.today, m.today + delay)

    def decide_applications(self, idx: np.ndarray) -> None:
        """Decide pending applications under the rules in force today."""
        m = self.model
        hh: Households = m.households
        rules = m.rules.china
        if len(idx) == 0:
            return
        # Doc 8 (2): DPRK nationals' requests to return approved; Doc 1 (4), Doc 11 (7): not those with a pending case.
        p_ok = np.where(hh.nk_national[idx] & rules.approve_nk_nationals_return, 1.0, rules.legal_approval_prob)
        p_ok = np.where(hh.criminal[idx], 0.0, p_ok)
        ok = m.rng.random(len(idx)) < p_ok
        yes, no = idx[ok], idx[~ok]
        m.recorder.add("legal_approved", hh.leaf[yes].astype(np.int64), hh.weight[yes])
        m.recorder.add("legal_refused", hh.leaf[no].astype(np.int64), hh.weight[no])
        m.recorder.add("legal_emigrated", hh.leaf[yes].astype(np.int64), hh.persons(yes))
        hh.set_state(yes, State.EMIGRATED, m.today)
        hh.letter_held[no] = False
        # Refused: some prepare to cross illegally, the others stay.
        illegal = m.rng.random(len(no)) < m.params.p_illegal_after_refusal
        m.start_preparing(no[illegal])
        hh.set_state(no[~illegal], State.HOME, m.today)
        hh.reset_clocks(no[~illegal], m.rng)

    def travel_applications(self, idx: np.ndarray, reasons: np.ndarray) -> None:
        """Individuals of households ``idx`` apply to travel (Doc 4); decided at once."""
        m = self.model
        hh: Households = m.households
        if len(idx) == 0:
            return
        leaf = hh.leaf[idx].astype(np.int64)
        w = hh.weight[idx]
        m.recorder.add("travel_applications", leaf, w)
        for r, name in enumerate(("food_kin", "rumour", "proper")):
            s = reasons == r
            m.recorder.add(f"travel_applications_{name}", leaf[s], w[s])
        rules = m.rules.china
        proper = reasons == Reason.PROPER
        permit = m.ctx.permits_leaf[leaf] > 0
        p_ok = np.where(proper, np.where(permit, 1.0, rules.travel_approval_prob_proper), rules.travel_approval_prob)
        ok = m.rng.random(len(idx)) < p_ok
        m.recorder.add("travel_approved", leaf[ok], w[ok])
        m.recorder.add("travel_refused", leaf[~ok], w[~ok])
        go = idx[ok]
        hh.away[go] += 1
        days = m.rules.border.transit_pass_days or m.params.visit_days  # Doc 10 Art. 3 (3): one-month pass
        hh.away_until[go] = m.today + days

    def marriage_crossings(self) -> None:
        """DPRK women crossing into China to marry Chinese men (Doc 2): repatriated "in principle" or, with
        special circumstances, allowed to marry and stay."""
        m = self.model
        rate = m.config.world.nk_marriage_crossings_per_year / 365.0
        k = m.rng.poisson(rate)
        if k == 0:
            return
        leaves = m.tree.post_location[m.rng.integers(len(m.tree.post_location), size=k)].astype(np.int64)
        m.recorder.add("marriage_crossings_in", leaves, 1.0)
        back = m.rng.random(k) < m.rules.china.repatriate_marriage_crossers
        m.recorder.add("marriage_repatriated", leaves[back], 1.0)

    def visits_end(self) -> None:
        """Travellers whose pass expires today come back, or stay (``overstay_prob``)."""
        m = self.model
        hh: Households = m.households
        idx = np.flatnonzero(hh.away_until == m.today)
        if len(idx) == 0:
            return
        stay = m.rng.random(len(idx)) < m.params.overstay_prob
        s = idx[stay]
        m.recorder.add("overstayed", hh.leaf[s].astype(np.int64), hh.weight[s])
        hh.stayed[s] += hh.away[s]
        hh.away[idx] = 0
        hh.away_until[idx] = -1
