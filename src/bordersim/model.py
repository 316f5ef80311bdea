"""The model: one step is one calendar day; it orchestrates, the agents act.

``BorderModel`` holds the households (numpy arrays, :mod:`bordersim.households`), the rumour network
(:mod:`bordersim.rumours`), the Chinese guard posts (Mesa agents, :mod:`bordersim.border`), the North
Korean settlement agent (:mod:`bordersim.settlement`) and the Chinese authorities
(:mod:`bordersim.authorities`). Every random draw comes from ``self.rng`` (Mesa's numpy generator,
seeded by the caller); nothing touches global random state.

A day, in order: the rules in force and the authorities' orders for today; guards take post; the
settlement agent renews its capacity; rumour seeds start; once a week beliefs spread, letters arrive
from settled crossers and the DPRK's authorization letters reach kin households; households form
intentions and individuals apply to travel; scheduled transitions happen (routes chosen, applications
decided, preparations end, crossings are attempted, reception stations decide, settled households go
home); visits end; corpses are found; at month end the stocks are recorded.
"""

from __future__ import annotations

import datetime as dt

import mesa
import numpy as np

from .authorities import ChineseAuthorities
from .border import Corpses, GuardPost, resolve_crossings
from .geography import TREE, RegionTree
from .households import IS_HOME, IS_NK, REASON_NAMES, Households, State, build_households
from .observation import Recorder
from .rules import RuleTimeline, load_rule_set
from .rumours import RumourNetwork
from .scenario import Scenario
from .settlement import SettlementAgent


class BorderModel(mesa.Model):
    """Migration across the China-DPRK border, one day per step.

    Args:
        scenario: a validated :class:`~bordersim.scenario.Scenario`.
        rng: a ``numpy.random.Generator``, a ``SeedSequence`` or an int seed (default: the scenario's seed).
        rules_search: extra directories searched for rule sets before the built-in library.
    """

    def __init__(self, scenario: Scenario, rng=None, rules_search=None, tree: RegionTree | None = None):
        if rng is None:
            rng = np.random.default_rng(scenario.run.seed)
        elif not isinstance(rng, np.random.Generator):
            rng = np.random.default_rng(rng)
        super().__init__(rng=rng)
        self.config = scenario
        self.params = scenario.parameters
        self.tree = tree or TREE
        self.start: dt.date = scenario.run.start
        self.end: dt.date = scenario.run.end
        self.n_days = (self.end - self.start).days + 1
        self.today = 0
        self.date = self.start
        overrides = scenario.rule_overrides or None
        self.timeline = RuleTimeline(
            [(sw.from_, load_rule_set(sw.use, overrides, search=rules_search)) for sw in scenario.rules]
        )
        self.rules = self.timeline.active(self.start)
        self.recorder = Recorder(self.start, self.end, len(self.tree.leaf_ids))
        self.households: Households = build_households(scenario, self.tree, self.rng)
        lishu = self.tree.leaf_index.get("lishu") if scenario.population.lishu else None
        p = self.params
        self.rumours = RumourNetwork(self.households, self.rng, scenario.population.village_households,
                                     p.village_degree, p.kin_degree, lishu)
        self.authorities = ChineseAuthorities(self)
        self.guard_posts = [GuardPost(self, post, i) for i, post in enumerate(self.tree.posts)]
        self.settlement = SettlementAgent(self)
        self.corpses = Corpses(self)
        self.ctx = self.authorities.context(0, self.start)
        self.hazards_dirty = True
        self.initial_persons = self.households.total_persons()
        self._seeds = {}
        for s in scenario.world.rumour_seeds:
            self._seeds.setdefault((s.date - self.start).days, []).append(s)
        self._disasters = {}
        for d in scenario.world.disasters:
            self._disasters.setdefault((d.date - self.start).days, []).append(d)
        cum = np.cumsum(self.tree.post_weights, axis=1)
        self._post_cum = cum / cum[:, -1:]

    # -- the day -----------------------------------------------------------------------------------
    def step(self) -> None:
        t = self.today
        if t >= self.n_days:
            self.running = False
            return
        hh = self.households
        self.date = self.start + dt.timedelta(days=t)
        self.recorder.set_day(self.date)
        rules = self.timeline.active(self.date)
        if rules is not self.rules:
            self.rules = rules
            self.hazards_dirty = True
            if not rules.dprk.settled_may_stay:
                # The new regime does not let settled crossers stay: they are returned (the reverse of Doc 7 (4a)).
                self.settlement.repatriate_settled(rules.dprk.return_illegal_prob)
        self.ctx = self.authorities.context(t, self.date)
        if self.authorities.changed(t):
            self.hazards_dirty = True
        for g in self.guard_posts:
            g.step()
        self.settlement.step()
        for seed in self._seeds.get(t, []):
            self._seed_rumours(seed)
        for disaster in self._disasters.get(t, []):
            self._disaster(disaster)
        self.authorities.marriage_crossings()
        if t % 7 == 0:
            self._weekly()
        if self.hazards_dirty:
            hh.update_hazards(self.ctx, t)
            self.hazards_dirty = False
        movers, r_move, travellers, r_trav = hh.fire(self.rng, self.ctx, t)
        self.new_intentions(movers, r_move)
        self.authorities.travel_applications(travellers, r_trav)
        self._dispatch_due()
        self.authorities.visits_end()
        self.corpses.step()
        touched = np.flatnonzero(hh.since == t)
        if len(touched) or len(travellers):
            hh.refresh(np.union1d(touched, travellers), self.ctx, t + 1)
        nxt = self.date + dt.timedelta(days=1)
        if nxt.month != self.date.month or t == self.n_days - 1:
            self._record_stocks()
        self.today += 1
        if self.today >= self.n_days:
            self.running = False

    def run(self) -> "BorderModel":
        """Run from start to end."""
        while self.running:
            self.step()
        return self

    # -- transitions the model orchestrates ----------------------------------------------------------
    def new_intentions(self, idx: np.ndarray, reasons: np.ndarray) -> None:
        """Households ``idx`` ask to move (Doc 4's "requested a complete household move")."""
        hh = self.households
        if len(idx) == 0:
            return
        leaf = hh.leaf[idx].astype(np.int64)
        w = hh.weight[idx]
        self.recorder.add("intending_households", leaf, w)
        for r, name in enumerate(REASON_NAMES):
            s = reasons == r
            self.recorder.add(f"intending_households_{name}", leaf[s], w[s])
        hh.reason[idx] = reasons
        delay = self.rng.geometric(1.0 / self.params.deliberation_days, size=len(idx))
        hh.set_state(idx, State.INTENDING, self.today, self.today + delay)

    def choose_route(self, idx: np.ndarray) -> None:
        """Intending households apply on a letter, prepare an illegal crossing, or give up."""
        hh = self.households
        if len(idx) == 0:
            return
        legal = hh.letter_held[idx] | (hh.nk_national[idx] & self.rules.china.approve_nk_nationals_return)
        self.authorities.receive_applications(idx[legal])
        rest = idx[~legal]
        illegal = self.rng.random(len(rest)) < self.params.p_illegal
        self.start_preparing(rest[illegal])
        lapse = rest[~illegal]
        self.recorder.add("lapsed_households", hh.leaf[lapse].astype(np.int64), hh.weight[lapse])
        hh.set_state(lapse, State.HOME, self.today)
        hh.reset_clocks(lapse, self.rng)

    def start_preparing(self, idx: np.ndarray) -> None:
        """Households ``idx`` prepare an illegal crossing; some sell everything (Docs 3, 5)."""
        hh = self.households
        if len(idx) == 0:
            return
        leaf = hh.leaf[idx].astype(np.int64)
        self.recorder.add("preparing_households", leaf, hh.weight[idx])
        sell = self.rng.random(len(idx)) < self.params.p_sell_property
        hh.property_sold[idx[sell]] = True
        self.recorder.add("property_sold_households", leaf[sell], hh.weight[idx][sell])
        delay = self.rng.geometric(1.0 / self.params.prep_days, size=len(idx))
        hh.set_state(idx, State.PREPARING, self.today, self.today + delay)

    def set_off(self, idx: np.ndarray) -> None:
        """Preparations end: choose a crossing point and travel to the river."""
        hh = self.households
        if len(idx) == 0:
            return
        leaf = hh.leaf[idx].astype(np.int64)
        u = self.rng.random(len(idx))
        hh.post[idx] = (u[:, None] > self._post_cum[leaf]).sum(axis=1)
        hh.set_state(idx, State.TRAVELLING, self.today, self.today + self.tree.travel_days[leaf])

    def _dispatch_due(self) -> None:
        hh = self.households
        due = np.flatnonzero(hh.due == self.today)
        if len(due) == 0:
            return
        st = hh.state[due]
        self.choose_route(due[st == State.INTENDING])
        self.authorities.decide_applications(due[st == State.APPLIED])
        self.set_off(due[st == State.PREPARING])
        resolve_crossings(self, due[st == State.TRAVELLING])
        self.settlement.decide(due[st == State.AT_RECEPTION])
        self.settlement.return_home(due[st == State.SETTLED])

    # -- weekly social dynamics --------------------------------------------------------------------
    def _weekly(self) -> None:
        hh = self.households
        p = self.params
        rebut = self.ctx.rebuttal_leaf[hh.leaf]
        self.rumours.weekly_update(hh, self.today, p.contact_weight, p.belief_decay, rebut)
        settled = np.flatnonzero(hh.state == State.SETTLED)
        if len(settled):
            writers = settled[self.rng.random(len(settled)) < 1.0 - np.exp(-7.0 * p.letter_send_rate)]
            self.rumours.letters(hh, writers, p.letter_boost)
        self.authorities.issue_letters(7)
        self.hazards_dirty = True

    def _seed_rumours(self, seed) -> None:
        hh = self.households
        leaves = self.tree.leaves_under(seed.region)
        cand = np.flatnonzero(np.isin(hh.leaf, leaves) & hh.at_home())
        chosen = cand[self.rng.random(len(cand)) < seed.share]
        self.rumours.seed(hh, chosen, seed.belief, self.today + seed.active_days)
        self.hazards_dirty = True

    def _disaster(self, d) -> None:
        """A disaster forces a share of a region's households at home across the border (Doc 10 Art. 1)."""
        hh = self.households
        leaves = self.tree.leaves_under(d.region)
        cand = np.flatnonzero(np.isin(hh.leaf, leaves) & hh.at_home())
        hit = cand[self.rng.random(len(cand)) < d.share]
        if len(hit) == 0:
            return
        hh.disaster[hit] = True
        self.recorder.add("disaster_crossers", hh.leaf[hit].astype(np.int64), hh.persons(hit))
        self.settlement.receive(hit)

    # -- stocks ------------------------------------------------------------------------------------
    def _record_stocks(self) -> None:
        hh = self.households
        rec = self.recorder
        leaf = hh.leaf.astype(np.int64)
        w = hh.weight
        in_nk_state = IS_NK[hh.state]
        home = IS_HOME[hh.state] | (hh.state == State.INTENDING) | (hh.state == State.APPLIED) | (hh.state == State.PREPARING)
        abroad_members = (hh.away + hh.stayed) * ~in_nk_state
        rec.set_stock("in_north_korea", leaf, w * (hh.size * in_nk_state + abroad_members))
        illegal = (hh.state == State.AT_RECEPTION) | (hh.state == State.SETTLED)
        rec.set_stock("in_north_korea_illegal", leaf, w * hh.size * illegal)
        rec.set_stock("at_reception", leaf, w * hh.size * (hh.state == State.AT_RECEPTION))
        prep = (hh.state == State.PREPARING) | (hh.state == State.TRAVELLING)
        rec.set_stock("preparing_stock_households", leaf, w * prep)
        in_china = ~in_nk_state & (hh.state != State.DROWNED)
        rec.set_stock("population_china", leaf, w * (hh.size - abroad_members) * in_china)
        pw = w * hh.size * home
        rec.set_average("mean_belief", leaf, hh.belief, pw)
        ration = self.ctx.ration_leaf[hh.leaf]
        poor = hh.brigade_u < self.ctx.poor_share_leaf[hh.leaf]
        ration = np.where(poor, np.minimum(ration, self.ctx.poor_catties_leaf[hh.leaf]), ration)
        rec.set_average("mean_ration", leaf, ration, pw)

    # -- invariants --------------------------------------------------------------------------------
    def persons_accounted(self) -> float:
        """Living persons in any state plus the drowned (equals the initial population)."""
        hh = self.households
        return float(np.sum(hh.weight * (hh.size + hh.drowned)))
