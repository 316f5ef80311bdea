"""The model: one step is one calendar day; :meth:`BorderModel.step` reads as the day's order.

``BorderModel`` holds the households (numpy arrays) and their decision (:mod:`.households`), the rumour
network (:mod:`.rumours`), the border with its guard posts (Mesa agents, :mod:`.border`), the North
Korean settlement agent (:mod:`.settlement`), the Chinese authorities (:mod:`.authorities`), the
world's schedule (:mod:`.schedule`) and the recorder (:mod:`.recorder`). Each mechanism is given what
it uses (the households, the parameters, the recorder, the random generator; per call the day, the
day's context and the rules in force), never the model; the model hands on what one mechanism
produces to the next (who got across to the settlement agent, who came home to the rumour network).

Every random draw is a common random number from ``self.streams`` (:mod:`.streams`): a function of the
replicate's seed, the kind of draw, the household's stable key and its occurrence (or the absolute day
for the world's events), not of the order in which draws are made; nothing touches global random
state. (Mesa's own ``self.rng`` is seeded from the same seed and not used by the model.) The northward
direction (:mod:`.north`, issue 15) draws from a generator of its own, spawned from the same seed, so that
it never shifts a southward draw. Days on which nothing is due cost next to nothing: what is due is looked
up in the households' event calendars (:mod:`.calendar`).

``model.border_scenario`` is the validated :class:`bordersim.world.scenario.Scenario` the model runs.
(Mesa 3.5's ``Model`` has a ``scenario`` property of its own, an experimental
``mesa.experimental.scenarios.Scenario`` that Mesa's ``__init__`` sets to hold the seed and that
Mesa's visualisation expects; it is left as Mesa sets it.)
"""

from __future__ import annotations

import datetime as dt

import mesa
import numpy as np

from ..world.geography import TREE, RegionTree
from ..world.rules import RuleTimeline, load_rule_set
from ..world.scenario import Scenario
from .authorities import ChineseAuthorities
from .border import Border, Corpses
from .households import HouseholdDecision, Households
from .north import Northward, north_seed
from .population import build_households
from .recorder import Recorder
from .rumours import RumourNetwork, assign_villages
from .schedule import WorldSchedule
from .settlement import Returnees, SettlementAgent
from .streams import Kind, Streams, absolute_day
from .transitions import ScheduledTransitions


class BorderModel(mesa.Model):
    """Migration across the China-DPRK border, one day per step.

    Args:
        scenario: a validated :class:`~bordersim.world.scenario.Scenario` (its rule sets are found where
            validation found them: ``rules/`` beside the scenario file, then the built-in library).
        rng: a ``numpy.random.Generator``, a ``SeedSequence`` or an int seed (default: the scenario's seed).
        tree: the region tree (default: the dossier's).
    """

    def __init__(self, scenario: Scenario, rng=None, tree: RegionTree | None = None):
        seed = _seed_sequence(scenario.run.seed if rng is None else rng)
        super().__init__(rng=np.random.default_rng(seed))
        self.streams = streams = Streams(seed)
        streams.day0 = absolute_day(scenario.run.start)
        self.border_scenario = scenario
        self.params = p = scenario.parameters
        self.tree = tree or TREE
        self.start: dt.date = scenario.run.start
        self.end: dt.date = scenario.run.end
        self.n_days = (self.end - self.start).days + 1
        self.today = 0
        self.date = self.start
        search = scenario.rule_search_path()
        self.timeline = RuleTimeline(
            [(sw.from_, load_rule_set(sw.use, scenario.overrides_for(sw.use), search)) for sw in scenario.rules]
        )
        self.rules = self.timeline.active(self.start)
        self.recorder = rec = Recorder(self.start, self.end, len(self.tree.leaf_ids))
        self.households: Households = build_households(scenario, self.tree, streams)
        hh = self.households
        lishu = self.tree.leaf_index.get("lishu") if scenario.population.lishu else None
        assign_villages(hh, streams, scenario.population.village_households, lishu)
        self.rumours = RumourNetwork(hh, streams, p.village_degree, p.kin_degree)
        self.decision = HouseholdDecision(hh, p, self.tree, rec, streams)
        self.schedule = WorldSchedule(scenario.world, p, self.tree, self.start, self.n_days)
        world = scenario.world
        self.authorities = ChineseAuthorities(
            self, hh, p, rec, streams, self.tree.post_location, world.nk_marriage_crossings_per_year, self.n_days
        )
        corpses = Corpses(
            p, rec, streams, self.tree.post_location, world.nk_drownings_per_year, self.schedule.frozen_share, streams.day0
        )
        self.border = Border(self, self.tree, hh, p, rec, streams, corpses)
        self.settlement = SettlementAgent(self, hh, p, rec, streams)
        self.transitions = ScheduledTransitions(self)
        self.ctx = self.schedule.context(0, self.rules)
        self.dirty = np.ones(len(self.tree.leaf_ids), dtype=bool)  # home regions whose hazards need recomputing
        self._leaf_members = [np.flatnonzero(hh.leaf == i) for i in range(len(self.tree.leaf_ids))]
        self.initial_persons = hh.total_persons()
        self._month_end = {t for t in range(self.n_days) if (self.start + dt.timedelta(days=t + 1)).day == 1}
        self._month_end.add(self.n_days - 1)
        self._seeds: dict[int, list] = {}
        for s in world.rumour_seeds:
            self._seeds.setdefault((s.date - self.start).days, []).append(s)
        self._disasters: dict[int, list] = {}
        for d in world.disasters:
            self._disasters.setdefault((d.date - self.start).days, []).append(d)
        # Issue 15, the northward direction (model/north.py): DPRK-side households, China's police, Korean nationals.
        # Its own random stream (a child of the replicate's seed sequence, never self.streams); it reads the southward
        # state and never writes it, so every southward measure is the same with it on or off.
        self.north = Northward(scenario, self.tree, rec, self.start, self.n_days, north_seed(seed))

    @property
    def hazards_dirty(self) -> bool:
        """Must some hazards be recomputed today?"""
        return bool(self.dirty.any())

    @hazards_dirty.setter
    def hazards_dirty(self, value: bool) -> None:
        self.dirty[:] = value

    # -- the day -----------------------------------------------------------------------------------
    def step(self) -> None:
        """One day (Mesa's step: Mesa advances its clock by one unit and calls this)."""
        self._day()

    def run(self) -> BorderModel:
        """Run from start to end, one day after another; Mesa's ``steps`` and ``time`` advance as with
        :meth:`step` (without Mesa's per-step event queue, which the model does not use)."""
        while self.running:
            self._day()
            self.steps += 1
            self.time += 1
        return self

    def _day(self) -> None:
        """One day, in the order of docs/ODD.md section 3."""
        t = self.today
        if t >= self.n_days:
            self.running = False
            return
        hh, decision = self.households, self.decision
        self.date = self.start + dt.timedelta(days=t)
        self.recorder.set_day(self.date)
        self._switch_rules()  # 1. a rule set takes effect at the start of its day
        rules = self.rules
        self.ctx = ctx = self.schedule.context(t, rules)  # 2. rations, orders, pull and ice today
        self.dirty |= self.schedule.changed(t)
        # 3. guard posts take post (brought up to date when someone reaches the river, Border.take_post)
        self.settlement.step(self.date, rules)  # 4. the month's settlement capacity
        self._seed_rumours(t)  # 5. "bad elements" start spreading rumours
        for disaster in self._disasters.get(t, []):  # 6. disasters force households across
            self._disaster(disaster)
        self.authorities.marriage_crossings(rules, t)  # 7. DPRK women crossing to marry
        self.north.step(t, self.date, rules, ctx)  # 7a. (issue 15) crossings into China, China's police, Korean nationals
        if t % 7 == 0:  # 8. once a week: talk, letters from settled crossers, the DPRK's authorization letters
            self.rumours.week(hh, t, ctx.rebuttal_leaf[hh.leaf], self.params, self.streams.day0 + t)
            self.authorities.issue_letters(7, t, rules)
            self.hazards_dirty = True
        if self.dirty.any():  # 9. hazards recomputed where an input changed
            idx = None if self.dirty.all() else np.concatenate([self._leaf_members[i] for i in np.flatnonzero(self.dirty)])
            decision.update_hazards(ctx, t, idx)
            self.dirty[:] = False
        movers, r_move, travellers, r_trav = decision.fire(ctx, t)  # 10. clocks fire: intentions, travel
        decision.intend(movers, r_move, t)
        self.authorities.travel_applications(travellers, r_trav, t, rules, ctx)
        self._scheduled_transitions()  # 11. routes, decisions, setting off, crossings, reception, returns
        self.authorities.visits_end(t)  # 12. passes expire
        self.border.corpses.step(t, rules)  # 13. corpses found
        if hh.touched or len(travellers):  # 14. fresh hazards for those whose state changed
            decision.refresh(np.unique(np.concatenate([*hh.touched, travellers])), ctx, t + 1)
            hh.touched.clear()
        if t in self._month_end:  # 15. month-end stocks
            self.recorder.take_stock(hh, ctx)
            self.north.take_stock(rules)  # 15a. (issue 15) North Koreans in China; Doc 2's women join the northward flows
        self.today += 1
        if self.today >= self.n_days:
            self.running = False

    # -- what the day's order calls ------------------------------------------------------------------
    def _switch_rules(self) -> None:
        rules = self.timeline.active(self.date)
        if rules is self.rules:
            return
        self.rules = rules
        self.ctx = self.schedule.context(self.today, rules)
        self.hazards_dirty = True
        if not rules.dprk.settled_may_stay:
            # The new regime does not let settled crossers stay: they are returned (the reverse of Doc 7 (4a)).
            self._disappoint(self.settlement.repatriate_settled(rules.dprk.return_illegal_prob, self.today, rules))

    def _scheduled_transitions(self) -> None:
        """Households whose scheduled transition is due today, by state, in a fixed order: one compiled pass
        (:class:`.transitions.ScheduledTransitions`)."""
        self.transitions.day()

    def arrive_at_river(self, idx: np.ndarray) -> None:
        """Households ``idx`` reach the river today: the border resolves their crossings and those who get
        across alive arrive at a DPRK reception station."""
        across = self.border.cross(idx, self.rules, self.today, self.date.month, self.ctx)
        self.settlement.receive(across, self.today, self.rules)

    def _seed_rumours(self, t: int) -> None:
        hh = self.households
        for seed in self._seeds.get(t, []):
            candidates = hh.at_home_in(self.tree.leaves_under(seed.region))
            self.rumours.seed_among(hh, candidates, seed.share, seed.belief, t + seed.active_days, self.streams.day0 + t)
            self.hazards_dirty = True

    def _disaster(self, d) -> None:
        """A disaster forces a share of a region's households at home across the border (Doc 10 Art. 1)."""
        hh = self.households
        cand = hh.at_home_in(self.tree.leaves_under(d.region))
        hit = cand[self.streams.uniform(Kind.DISASTER, hh.key[cand], self.streams.day0 + self.today) < d.share]
        if len(hit) == 0:
            return
        hh.start_journey(hit, self.streams)  # forced across: a journey begins (its reception draws)
        hh.disaster[hit] = True
        self.recorder.add("disaster_crossers", hh.leaf[hit].astype(np.int64), hh.persons(hit))
        self.settlement.receive(hit, self.today, self.rules)

    def _disappoint(self, returned: Returnees) -> None:
        """Returnees' stories lower their contacts' belief (group by group, in the order they came home)."""
        for group in returned:
            self.rumours.disappoint(self.households, group, self.params.returnee_damp)

    # -- invariants --------------------------------------------------------------------------------
    def persons_accounted(self) -> float:
        """Living persons in any state plus the drowned (equals the initial population)."""
        hh = self.households
        return float(np.sum(hh.weight * (hh.size + hh.drowned)))


def _seed_sequence(seed) -> np.random.SeedSequence:
    """The replicate's ``SeedSequence`` from an int, a ``SeedSequence`` or a ``Generator`` seeded by one."""
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if isinstance(seed, np.random.Generator):
        ss = seed.bit_generator.seed_seq
        if isinstance(ss, np.random.SeedSequence):
            return ss
        raise TypeError("a Generator passed as rng must be seeded by a SeedSequence (numpy.random.default_rng(seed))")
    return np.random.SeedSequence(seed)
