"""Both directions across the border (issue 15): the DPRK side's households, their crossings into China, life
in China, and the way home; Korean nationals in China (:mod:`.korean_nationals`); what China does with those it
catches (:mod:`.china_police`).

The introduction: "Prior to the 1990s, migration between the two countries was mainly a one-way traffic of
ethnic Koreans of Chinese nationality heading south ... Some contra-flow took place as North Korean women who
had married Chinese men attempted ... to move to China (Document No. 2)"; in the 1990s "The pull and push
factors shaping North Koreans' decision-making were that China's economy developed exponentially at the same
time as North Korea's economy tanked."

**The decision** mirrors Doc 4's three reasons (the southward :mod:`.households`), per household at home on the
DPRK side, recomputed weekly (``g`` is the food gradient: the zone's felt hunger minus that of the Chinese
region across the river, floored at 0; ``b`` the household's belief that there is work and food in China):

* food: ``rate_food x g x k x push``, ``k`` = 1 with kin in China, else ``b`` (the hungry who know where to go);
* work: ``rate_work x b x (g + work_floor) x ties x push``, ``ties`` = kin or contacts from an earlier stay (the
  introduction's "low-paying jobs in agriculture and forestry");
* kin: ``rate_kin x kin`` (visits to relatives, legal on a permit or not at all, as Doc 4's proper reasons);

``push = china_pull x exp(-risk_aversion x risk)``, ``risk`` = DPRK guards + the DPRK's punishment +
``return_deterrence x repatriate_prob``; all times ``repeat_factor`` once the DPRK has detained a member. A
household with food and no kin or contacts in China has no reason to cross: every channel is zero.
When the day's clock fires (probability ``1 - exp(-h)``), the reason is drawn in proportion to the channels;
a kin visit gets a permit with ``dprk_passes`` (Doc 9; Doc 10 Art. 3 (3)) or lapses; a food or work intention
becomes an illegal crossing with ``p_illegal``. Food crossings are by the whole household with
``household_party_share``, otherwise one member crosses (a woman with ``female_share``).

**The crossing** has two banks: the DPRK's guards (dated effort) stop some on their side; the river drowns
some (the southward formula: route risk, night, ice, July-August floods); the Chinese guards (the southward
effort at the post, times ``border_watch``) discover and catch some as they land (:mod:`.china_police`).

**In China** a crosser at large may be caught inland, go home on its own (the southward settlers' own-return
hazard, Doc 6: family and property at home pull), a woman may marry (then she leaves her household, rarely
goes home, is protected from the search, has children, registered under ``hukou_for_children``), and anyone
may meet South Korean bodies (a dated rate). A stay of ``contact_days`` leaves contacts and first-hand belief:
**repeat crossings** follow from that (the work channel opens), from the food gradient that persists, and
against the deterrence of a detention, not from a constant.

**Beliefs** move weekly toward news from China: for kin households ``min(1, china_pull)``, for the others
``min(1, news_gain x`` the share of their zone's households that have been to China ``)``.

Every draw comes from the northward stream (a child of the replicate's seed sequence, never ``model.rng``);
the southward state is read (the day's effort, China's felt hunger, ice, the month's Doc 2 counts) and never
written, so the southward measures are the same with this machinery on or off.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from ..world.geography import RegionTree
from ..world.north import ZONE_TREE, resolve_parameters
from ..world.rules import RuleSet
from .china_police import ChinaPolice, police_day_pass
from .compiled import compiled
from .korean_nationals import KoreanNationals
from .north_day import day_constants, decide_pass, in_china_pass, schedule_pass, visits_end_pass
from .north_people import EMPTY, HF, Book, HState, NReason, Trips, TState, build_north_households, note_events
from .north_world import NorthSchedule
from .recorder import MEASURE_INDEX, Recorder

#: The spawn key appended to the replicate's seed sequence for the northward stream (does not advance any
#: spawn counter, so other streams spawned from the same sequence are unaffected).
NORTH_STREAM = 150_015


def north_seed(ss: np.random.SeedSequence) -> np.random.SeedSequence:
    """The northward stream's seed: a child of the replicate's seed sequence with a fixed spawn key."""
    return np.random.SeedSequence(ss.entropy, spawn_key=(*ss.spawn_key, NORTH_STREAM), pool_size=ss.pool_size)


class Northward:
    """The northward direction of one run: the DPRK side's households and trips, China's police, the Korean
    nationals. Called by :class:`~bordersim.model.BorderModel` once a day (:meth:`step`) and at month end
    (:meth:`take_stock`)."""

    def __init__(self, scenario, tree: RegionTree, recorder: Recorder, start: dt.date, n_days: int, seed: np.random.SeedSequence):
        self.p = p = resolve_parameters(scenario.parameters.north, scenario.parameters)
        self.tree, self.rec = tree, recorder
        ss_hh, ss_kn = seed.spawn(2)
        self.rng = rng = np.random.default_rng(ss_hh)
        pop = scenario.population.north
        self.hh = build_north_households(pop, scenario.run.scale, ZONE_TREE, tree, rng)
        self.trips = Trips()
        self.sched = NorthSchedule(scenario.world.north, p, tree, start, n_days)
        self.police = ChinaPolice(self.hh, self.trips, p, recorder, rng)
        self.kn = KoreanNationals(pop, p, scenario.run.scale, tree, recorder, np.random.default_rng(ss_kn), self.sched)
        self.river_of_post = np.array([post.river for post in tree.posts])
        self.route_risk = tree.post_route_risk
        s = self.sched
        self._zone_days = np.stack([s.hunger, s.dprk_guards])  # north_day's ``zone_days``
        self._posts = np.zeros((3, len(tree.posts)))  # the day's ice, Chinese guards' effort and route risk by post
        self._posts[2] = self.route_risk
        self.doc2_staying = np.zeros(len(tree.leaf_ids))  # Doc 2's women allowed to marry and stay, by leaf
        self._rules: RuleSet | None = None
        # The households' channels (rows ``ch_food``, ``ch_work``, ``ch_kin`` of their float block) and their total.
        self._channels = self.hh.fields.blocks[np.dtype(np.float64)][HF.ch_food : HF.ch_kin + 1]
        self._total = self.hh.hazard
        self._live = np.zeros(0, dtype=np.int64)
        self._dirty = True
        # The book of the days households' decision clocks next fire (``hh.fire_day``; see _schedule_firing).
        self._firing = Book(7)
        self._horizon = 0
        # The day's pass's constants (north_day.day_constants), built again at each rule switch.
        self._constants: np.ndarray | None = None
        self._visit_days = 0

    # -- the day -------------------------------------------------------------------------------------
    def step(self, t: int, date: dt.date, rules: RuleSet, ctx) -> None:
        """One day of the northward direction, in order (docs/ODD.md 7.16)."""
        nw = rules.northward
        if rules is not self._rules:  # a rule switch: Doc 11 (6)'s backlog is sought out
            if self._rules is not None and nw.return_backlog > 0:
                self.police.round_up(nw.return_backlog, t, nw, lambda idx: self._home_hunger(idx, t))
            self._rules, self._dirty = rules, True
            self._constants = day_constants(self.p, nw)
            self._visit_days = int(rules.border.transit_pass_days or int(self.p.visit_days))
        for d in self.sched.disasters.get(t, []):
            self._disaster(d, t)
        if t % 7 == 0:
            self._beliefs(t)
            self._dirty = True
        if self._dirty:
            self._hazards(t, nw, ctx)
            self._schedule_firing(t)
            self._dirty = False
        self._day(t, nw, ctx, date.month)

    def _day(self, t: int, nw, ctx, month: int) -> None:
        """The day from the decision on, in compiled passes called in turn (:mod:`.north_day`; each is handed the
        blocks it works on, and the chain is here rather than in a compiled pass of its own: numba optimises a pass
        again with everything it calls): households whose clock fires decide and cross, those in China are caught,
        go home, marry; permits expire; China's police decide and hand over, the DPRK's detentions end
        (:func:`~.china_police.police_day_pass`); the Korean nationals' applications are decided (and, once a week,
        their pressure and decisions to leave)."""
        hh, tr, s = self.hh, self.trips, self.sched
        fring, fent = self._firing.room(hh.n)  # a household is entered at most once a day
        rring, rent = hh.releases.room(hh.n)
        if fring[2 + t % 7] >= 0:  # anyone due: the crossing reads the posts
            self._posts[0] = ctx.frozen_post
            self._posts[1] = ctx.effort_post
        flood = float(self.p.flood_drown_factor) if month in (7, 8) else 1.0
        c, cp, handle, hblocks = self._constants, self.police.constants(nw), self.police.handle(), hh.blocks()
        ev = np.empty((64, 3))
        while True:  # the pass returns -k without acting when the trips need room for k households deciding today
            n, ev, k = decide_pass(
                *hblocks, *tr.blocks(), tr.n, fring, fent, rring, rent, self._zone_days, self._posts, t, self._horizon,
                flood, self._visit_days, c, cp, handle, ev,
            )  # fmt: skip
            if n >= 0:
                break
            tr.reserve(-n)
        tr.n = n
        tblocks = tr.blocks()
        ev, k = in_china_pass(*hblocks, *tblocks, n, self._zone_days, s.enforcement, s.sk_contacts, t, c, cp, handle, ev, k)
        ev, k = visits_end_pass(*hblocks, *tblocks, n, t, c, handle, ev, k)
        ev, k = police_day_pass(*hblocks, *tblocks, n, rring, rent, t, cp, handle, ev, k)
        note_events(self.rec, ev, k)
        self.kn.step(t, nw)

    def _home_hunger(self, idx: np.ndarray, t: int) -> np.ndarray:
        return self.sched.hunger[t, self.hh.zone[self.trips.hh[idx]]]

    def _beliefs(self, t: int) -> None:
        """Weekly: beliefs move toward the news from China (kin, or returnees of the zone)."""
        hh, p = self.hh, self.p
        n_z = len(ZONE_TREE.leaf_ids)
        share = _been_share(hh.zone, hh.weight, hh.state, hh.crossings, hh.contact, n_z, EMPTY)  # an int: typing an enum costs
        _move_beliefs(
            hh.belief, hh.kin, hh.contact, hh.zone, share, min(1.0, self.sched.china_pull[t]), p.news_gain, p.news_weight
        )

    def _hazards(self, t: int, nw, ctx) -> None:
        """The three channels of every household (docs/ODD.md 7.16), held until the next recomputation."""
        hh, p, s = self.hh, self.p, self.sched
        risk = s.dprk_guards[t] + nw.dprk_punishment + p.return_deterrence * nw.repatriate_prob  # by zone
        push = s.china_pull[t] * np.exp(-p.risk_aversion * risk)
        rates = np.array([p.rate_food, p.rate_work, p.rate_kin, p.work_floor, p.repeat_factor])
        self._live = _channels(
            hh.zone, hh.leaf, hh.kin, hh.contact, hh.fear, hh.belief, s.hunger[t], ctx.hunger_ok_leaf, push, rates,
            self._channels, self._total,
        )  # fmt: skip

    def channels(self, idx: np.ndarray) -> np.ndarray:
        """Today's channels (food, work, kin) of households ``idx`` (3 x len(idx)), per day."""
        return self._channels[:, idx]

    # -- deciding --------------------------------------------------------------------------------------
    def _schedule_firing(self, t: int) -> None:
        """The day each household's clock next fires under the hazards just computed (held until the next
        recomputation, at the latest next week; :func:`~.north_day.schedule_pass`).

        A household at home fires on a day with probability ``1 - exp(-h)``, independently from day to day: the
        first firing is geometric, so it is drawn once here rather than by a uniform per household per day.
        Days from the next recomputation on are not entered (they are drawn again then)."""
        self._horizon = t - t % 7 + 7
        self._firing.clear()
        fring, fent = self._firing.room(len(self._live))
        hh = self.hh
        schedule_pass(self._live, *hh.blocks()[:2], fring, fent, t, self._horizon, self.police.handle())

    def _disaster(self, d, t: int) -> None:
        """A disaster forces whole households of a zone across (Doc 10 Art. 1 (1)): no guards, no drowning."""
        hh = self.hh
        zones = ZONE_TREE.leaves_under(d.region)
        cand = np.flatnonzero(np.isin(hh.zone, zones) & (hh.state == HState.HOME))
        hit = cand[self.rng.random(len(cand)) < d.share]
        if len(hit) == 0:
            return
        idx = self.trips.add(
            len(hit), hh=hit, persons=hh.size[hit].astype(np.int64), weight=hh.weight[hit], leaf=hh.leaf[hit],
            reason=NReason.DISASTER, whole=True, female=False, criminal=hh.criminal[hit], repeat=hh.crossings[hit] > 0,
            attached=True, state=TState.AT_LARGE, start=t, disaster=True,
        )  # fmt: skip
        hh.crossings[hit] += 1
        hh.state[hit] = HState.AWAY
        hh.trip[hit] = idx
        self.rec.add("disaster_crossers_north", hh.leaf[hit], self.trips.w(idx))

    # -- month end ---------------------------------------------------------------------------------------
    def take_stock(self, rules: RuleSet) -> None:
        """Month-end stocks of North Koreans in China and at home; Doc 2's women of the month join the flows."""
        rec, tr = self.rec, self.trips
        self._doc2(rules)
        n = tr.n
        st, leaf, w = tr.state[:n], tr.leaf[:n], tr.w(np.arange(n))
        illegal = (st == TState.AT_LARGE) | (st == TState.CUSTODY)
        in_china = illegal | (st == TState.VISIT) | (st == TState.RESIDENT)
        rec.set_stock("in_china_from_dprk", leaf, w * in_china)
        rec.data[rec.month, :, MEASURE_INDEX["in_china_from_dprk"]] += self.doc2_staying
        rec.set_stock("in_china_from_dprk_illegal", leaf, w * illegal)
        rec.set_stock("in_custody_north", leaf, w * (st == TState.CUSTODY))
        rec.set_stock("staying_approved_north", leaf, w * (st == TState.RESIDENT))
        rec.data[rec.month, :, MEASURE_INDEX["staying_approved_north"]] += self.doc2_staying
        rec.set_stock("married_in_china_stock", leaf, w * (in_china & tr.married[:n]))
        rec.data[rec.month, :, MEASURE_INDEX["married_in_china_stock"]] += self.doc2_staying
        rec.set_stock("repeat_crossers_in_china", leaf, w * (illegal & tr.repeat[:n]))
        hh = self.hh
        rec.set_stock("population_dprk_border", hh.leaf, hh.weight * hh.home_persons(tr))
        rec.set_stock("korean_nationals", self.kn.leaf, self.kn.persons_in_china())

    def _doc2(self, rules: RuleSet) -> None:
        """The month's DPRK women crossing to marry (Doc 2; drawn by the Chinese authorities, counts without
        agents): they crossed north; those repatriated were handed back; the others stay, married."""
        rec = self.rec
        row = rec.data[rec.month]
        came = row[:, MEASURE_INDEX["marriage_crossings_in"]].copy()
        back = row[:, MEASURE_INDEX["marriage_repatriated"]].copy()
        stay = came - back
        row[:, MEASURE_INDEX["crossed_north"]] += came
        row[:, MEASURE_INDEX["returned_to_dprk"]] += back
        ident = "returned_with_identity_north" if rules.northward.identity_information else "returned_without_identity_north"
        row[:, MEASURE_INDEX[ident]] += back
        row[:, MEASURE_INDEX["married_in_china"]] += stay
        row[:, MEASURE_INDEX["stay_approved_north"]] += stay
        self.doc2_staying += stay


@compiled
def _been_share(zone, weight, state, crossings, contact, n_zones, empty):
    """By zone: the weighted share of the households (not empty) that have been to China (a crossing, or contacts
    from a stay); summed in the households' order, as ``numpy.bincount``."""
    been = np.zeros(n_zones)
    total = np.zeros(n_zones)
    for i in range(len(zone)):
        w = weight[i] * (0.0 if state[i] == empty else 1.0)
        total[zone[i]] += w
        been[zone[i]] += w * (1.0 if crossings[i] > 0 or contact[i] else 0.0)
    for z in range(n_zones):
        been[z] /= max(total[z], 1e-12)
    return been


@compiled
def _move_beliefs(belief, kin, contact, zone, share, pull, news_gain, news_weight):
    """Beliefs move toward the news (in place): ``b += news_weight (target - b)``, ``target`` = ``pull`` (at most 1)
    with kin in China, else ``min(1, news_gain x share of the zone's households that have been)``, at least
    ``pull`` with contacts from an earlier stay."""
    for i in range(len(belief)):
        target = pull if kin[i] else min(1.0, news_gain * share[zone[i]])
        if contact[i]:
            target = max(target, pull)
        belief[i] += news_weight * (target - belief[i])


@compiled
def _channels(zone, leaf, kin, contact, fear, belief, hunger, hunger_ok, push, rates, channels, total):
    """The three channels and their total per household (in place; see the module's docstring), in numpy's order of
    operations. ``rates``: food, work, kin, the work floor, the repeat factor. Returns the households whose total is
    above zero."""
    rate_food, rate_work, rate_kin, work_floor, repeat_factor = rates[0], rates[1], rates[2], rates[3], rates[4]
    n = len(zone)
    live = np.empty(n, dtype=np.int64)
    n_live = 0
    for i in range(n):
        z = zone[i]
        g = min(max(hunger[z] - hunger_ok[leaf[i]], 0.0), 1.0)
        know = 1.0 if kin[i] else belief[i]
        ties = 1.0 if (kin[i] or contact[i]) else 0.0
        f = repeat_factor if fear[i] else 1.0
        c0 = rate_food * g * know * push[z] * f
        c1 = rate_work * belief[i] * (g + work_floor) * ties * push[z] * f
        c2 = rate_kin * (1.0 if kin[i] else 0.0) * f
        channels[0, i] = c0
        channels[1, i] = c1
        channels[2, i] = c2
        total[i] = c0 + c1 + c2
        if total[i] > 0:
            live[n_live] = i
            n_live += 1
    return live[:n_live]
