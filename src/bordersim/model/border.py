"""Border agents: Chinese guard posts on the Tumen and Yalu and at the Andong crossing points.

Docs 3 and 5 (May 1961): crossings "developed from a single individual or a single household
crossing the border at night to [organized] groups forcefully crossing the border during daytime";
"two groups of fifty people at Jiulian City, thirty of them armed with wooden clubs". Docs 3, 5, 6:
guards *discover* crossers, *stop* some and persuade them to return ("convinced to return", Doc 6),
and the rest get across. Doc 6: 243 corpses in the Yalu and Tumen in 1961, 82 Chinese, 11 Korean,
150 unidentified. The rivers freeze in winter (brief).

Per attempt (a household, or a group of households gathered at a post on one day):

* party: a household joins an organised group with probability ``recent / (recent +
  group_threshold_persons)``, where ``recent`` is the smoothed number of persons who have lately
  attempted at that post; a group of ``group_size`` crosses by day and forces the crossing;
  otherwise a household crosses at night with probability ``p_night``;
* detection: ``1 - exp(-detection_base * effort * visibility * (party / 5) ** 0.25)``, with
  ``visibility`` = ``day_visibility`` by day and ``ice_visibility`` on ice;
* stopping a detected party: ``1 - exp(-stop_rate * effort / (1 + group_force * party / 50))``;
  of those stopped, ``persuasion_prob`` (rule) are persuaded home, the others detained and sent home;
* drowning, per person who crosses: ``drown_base * route_risk * night * season`` (ice:
  ``ice_drown_factor``; July-August floods: ``flood_drown_factor``);
* corpses are found with ``corpse_found_prob`` after a delay and identified with
  ``corpse_identify_prob`` as Chinese or Korean nationals.

:class:`GuardPost` agents take post each day (effort, ice, the memory of recent attempts that makes
groups form); :class:`Border` resolves the day's crossings at them and returns who got across alive.
"""

from __future__ import annotations

import mesa
import numpy as np

from ..world.geography import Post, RegionTree
from ..world.rules import RuleSet
from ..world.scenario import Parameters
from .households import Households, State
from .recorder import Recorder
from .schedule import DailyContext


class GuardPost(mesa.Agent):
    """A Chinese border-defence post guarding one river segment or crossing point."""

    def __init__(self, model: mesa.Model, post: Post, index: int, group_threshold_persons: float):
        super().__init__(model)
        self.post = post
        self.index = index
        self.group_threshold = group_threshold_persons
        self.effort = 1.0
        self.frozen = False
        #: Smoothed persons attempting here per day (exponential average, about a week's memory).
        self.recent = 0.0
        #: Today's chance that a household crossing here joins an organised group (Docs 3, 5).
        self.group_share = 0.0
        self._today = 0.0

    def step(self, ctx: DailyContext) -> None:
        """Take post for the day: today's effort (authorities' orders x the rule's multiplier), the state
        of the ice, and the memory of how many have lately tried to cross here: the more, the likelier a
        household joins an organised group, ``recent / (recent + group_threshold_persons)``."""
        self.effort = float(ctx.effort_post[self.index])
        self.frozen = bool(ctx.frozen[self.post.river])
        self.recent = 0.85 * self.recent + 0.15 * self._today
        self.group_share = self.recent / (self.recent + self.group_threshold)
        self._today = 0.0

    def watch(self, persons: float) -> None:
        """``persons`` attempt a crossing at this post today."""
        self._today += persons


class Border:
    """The river line: the guard posts (Mesa agents), the crossings they watch and the corpses in the rivers.

    :meth:`cross` resolves the day's attempts and returns the households that got across alive; the model
    hands them to the settlement agent.
    """

    def __init__(
        self,
        model: mesa.Model,
        tree: RegionTree,
        households: Households,
        params: Parameters,
        recorder: Recorder,
        rng: np.random.Generator,
        nk_drownings_per_year: float,
    ):
        self.posts = [GuardPost(model, post, i, params.group_threshold_persons) for i, post in enumerate(tree.posts)]
        self.route_risk = tree.post_route_risk
        self.hh = households
        self.params = params
        self.recorder = recorder
        self.rng = rng
        self.corpses = Corpses(params, recorder, rng, tree.post_location, nk_drownings_per_year)

    def take_post(self, ctx: DailyContext) -> None:
        for g in self.posts:
            g.step(ctx)

    def cross(self, idx: np.ndarray, rules: RuleSet, today: int, month: int) -> np.ndarray:
        """Households ``idx`` reach the river today: detect, stop, persuade, drown or let across.

        Returns the households that got across alive.
        """
        if len(idx) == 0:
            return idx
        hh, p, rng, rec, posts = self.hh, self.params, self.rng, self.recorder, self.posts
        post = hh.post[idx].astype(np.int64)
        effort = np.array([g.effort for g in posts])[post]
        frozen = np.array([g.frozen for g in posts])[post]
        persons = hh.persons(idx)
        size = hh.size[idx].astype(np.int64)
        leaf = hh.leaf[idx].astype(np.int64)
        # Groups (Docs 3, 5): the more people have been heading for a post lately (a smoothed, weighted count,
        # so scaled runs behave alike), the more households join an organised group that crosses by day.
        group_share = np.array([g.group_share for g in posts])[post]
        group = rng.random(len(idx)) < group_share
        night = ~group & (rng.random(len(idx)) < p.p_night)
        party = np.where(group, p.group_size, size)
        detected = rng.random(len(idx)) < detection_prob(p, effort, night, frozen, party)
        stopped = detected & (rng.random(len(idx)) < stop_prob(p, effort, group, party))
        hh.attempts[idx] += 1
        hh.crossing_seen[idx] = detected
        rec.add("attempted", leaf, persons)
        rec.add("attempted_households", leaf, hh.weight[idx])
        rec.add("attempted_in_group", leaf[group], persons[group])
        rec.add("detected", leaf[detected], persons[detected])
        rec.add("stopped", leaf[stopped], persons[stopped])
        rec.add("crossed_detected", leaf[detected & ~stopped], persons[detected & ~stopped])
        for g, x in zip(posts, np.bincount(post, weights=persons, minlength=len(posts)), strict=True):
            g.watch(float(x))
        # Stopped: persuaded to go home (Doc 6) or detained and sent home (Doc 5 measure (4)).
        st = idx[stopped]
        persuaded = rng.random(len(st)) < rules.china.persuasion_prob
        rec.add("persuaded_back", leaf[stopped][persuaded], persons[stopped][persuaded])
        hh.set_state(st[persuaded], State.PERSUADED_BACK, today)
        hh.set_state(st[~persuaded], State.STOPPED, today)
        hh.reset_clocks(st, rng)
        # Across: drowning per person; the living reach the other bank.
        go = ~stopped
        gi, gleaf, gpost = idx[go], leaf[go], post[go]
        pd_ = drowning_prob(p, self.route_risk[gpost], night[go], frozen[go], month)
        drowned = rng.binomial(size[go], pd_)
        hh.size[gi] -= drowned.astype(np.int16)
        hh.drowned[gi] += drowned.astype(np.int16)
        # The party is the whole household, members away on a pass included: those who drowned are no
        # longer away (else a household could count more members abroad than it has, issue 12).
        hh.stayed[gi] = np.minimum(hh.stayed[gi], hh.size[gi])
        hh.away[gi] = np.minimum(hh.away[gi], hh.size[gi] - hh.stayed[gi])
        w = hh.weight[gi]
        rec.add("drowned", gleaf, w * drowned)
        rec.add("crossed", gleaf, w * hh.size[gi])
        self.corpses.drowned(gleaf, drowned, w, hh.nk_national[gi], today, rules)
        dead = hh.size[gi] == 0
        hh.set_state(gi[dead], State.DROWNED, today)
        return gi[~dead]


def detection_prob(p, effort, night, frozen, party) -> np.ndarray:
    """Probability that guards discover a party: ``1 - exp(-detection_base * effort * visibility * (party/5)**0.25)``."""
    vis = np.where(night, 1.0, p.day_visibility) * np.where(frozen, p.ice_visibility, 1.0)
    return 1.0 - np.exp(-p.detection_base * effort * vis * (np.asarray(party, dtype=float) / 5.0) ** 0.25)


def stop_prob(p, effort, group, party) -> np.ndarray:
    """Probability that a discovered party is stopped; a group forcing the crossing is harder to stop."""
    resist = np.where(group, 1.0 + p.group_force * np.asarray(party, dtype=float) / 50.0, 1.0)
    return 1.0 - np.exp(-p.stop_rate * effort / resist)


def drowning_prob(p, route_risk, night, frozen, month: int) -> np.ndarray:
    """Per-person probability of drowning while crossing: route x night x season (ice, July-August floods)."""
    season = np.where(frozen, p.ice_drown_factor, p.flood_drown_factor if month in (7, 8) else 1.0)
    return np.clip(p.drown_base * route_risk * np.where(night, p.night_drown_factor, 1.0) * season, 0.0, 1.0)


class Corpses:
    """Corpses in the border rivers: found after a delay, identified by nationality (Doc 6; Doc 10 Art. 1 (5))."""

    def __init__(
        self,
        params: Parameters,
        recorder: Recorder,
        rng: np.random.Generator,
        post_location: np.ndarray,
        nk_drownings_per_year: float,
    ):
        self.params = params
        self.recorder = recorder
        self.rng = rng
        self.post_location = post_location
        self.nk_drownings_per_year = nk_drownings_per_year
        self.pending: dict[int, list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]] = {}

    def drowned(
        self, leaves: np.ndarray, counts: np.ndarray, weights: np.ndarray, korean: np.ndarray, today: int, rules: RuleSet
    ) -> None:
        """Schedule the discovery of corpses of ``counts`` persons per element (weights scale them back)."""
        p, rng = self.params, self.rng
        counts = np.asarray(counts, dtype=np.int64)
        sel = counts > 0
        if not sel.any():
            return
        leaves, counts, weights, korean = leaves[sel], counts[sel], weights[sel], korean[sel]
        # Finding and identifying corpses is an observation of the drowned: it is drawn for every person a
        # drowned household member stands for (``counts * weights``, not for the sampled member scaled back),
        # so a scaled run's corpse counts and shares carry the archive's own noise, not the sample's.
        persons = np.rint(counts * weights).astype(np.int64)
        found = rng.binomial(persons, p.corpse_found_prob)
        # Doc 10 Art. 1 (5): corpses investigated for nationality and cause of death.
        p_ident = p.corpse_identify_prob_investigated if rules.border.corpses_investigated else p.corpse_identify_prob
        ident = rng.binomial(found, p_ident)
        delay = rng.geometric(1.0 / p.corpse_delay_days, size=len(found))
        for d in np.unique(delay):
            s = delay == d
            self.pending.setdefault(today + int(d), []).append((leaves[s], found[s] * 1.0, ident[s] * 1.0, korean[s]))

    def background(self, today: int, ctx: DailyContext, rules: RuleSet) -> None:
        """Drownings of DPRK residents in the rivers (the source of most 'Korean' corpses)."""
        rate = self.nk_drownings_per_year / 365.0
        frozen_share = np.mean([ctx.frozen[r] for r in ("tumen", "yalu")])
        rate *= 1 - frozen_share * (1 - self.params.ice_drown_factor)
        k = self.rng.poisson(rate)
        if k:
            locs = self.post_location[self.rng.integers(len(self.post_location), size=k)]
            self.drowned(locs.astype(np.int64), np.ones(k, dtype=np.int64), np.ones(k), np.ones(k, dtype=bool), today, rules)

    def step(self, today: int, ctx: DailyContext, rules: RuleSet) -> None:
        """Today's background drownings; the corpses found today are recorded."""
        self.background(today, ctx, rules)
        rec = self.recorder
        for leaves, found, ident, korean in self.pending.pop(today, []):
            rec.add("corpses_found", leaves, found)
            rec.add("corpses_chinese", leaves[~korean], ident[~korean])
            rec.add("corpses_korean", leaves[korean], ident[korean])
            rec.add("corpses_unidentified", leaves, found - ident)
