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
from .streams import JOURNEY, Kind, Streams, binomial, geometric, members_below, poisson


class GuardPost(mesa.Agent):
    """A Chinese border-defence post guarding one river segment or crossing point.

    Its state (today's effort, the ice, the memory of recent attempts) is held in the :class:`Border`'s
    arrays, one entry per post, so that the posts take post together in one vectorised step.
    """

    def __init__(self, model: mesa.Model, post: Post, index: int, border: Border):
        super().__init__(model)
        self.post = post
        self.index = index
        self._border = border

    @property
    def effort(self) -> float:
        return float(self._border.effort[self.index])

    @property
    def frozen(self) -> bool:
        return bool(self._border.frozen[self.index])

    @property
    def recent(self) -> float:
        """Smoothed persons attempting here per day (exponential average, about a week's memory)."""
        return float(self._border.recent[self.index])

    @property
    def group_share(self) -> float:
        """Today's chance that a household crossing here joins an organised group (Docs 3, 5)."""
        return float(self._border.group_share[self.index])


class Border:
    """The river line: the guard posts (Mesa agents), the crossings they watch and the corpses in the rivers.

    :meth:`cross` resolves the day's attempts and returns the households that got across alive; the model
    hands them to the settlement agent. Every draw of a crossing comes from the household's journey
    (:data:`~.streams.JOURNEY`).
    """

    def __init__(
        self,
        model: mesa.Model,
        tree: RegionTree,
        households: Households,
        params: Parameters,
        recorder: Recorder,
        streams: Streams,
        corpses: Corpses,
    ):
        n = len(tree.posts)
        self.effort = np.ones(n)
        self.frozen = np.zeros(n, dtype=bool)
        self.recent = np.zeros(n)
        self.group_share = np.zeros(n)
        self._today = np.zeros(n)  # persons who attempted at each post on the day of the last crossings
        self._day = 0
        self.group_threshold = params.group_threshold_persons
        self.posts = [GuardPost(model, post, i, self) for i, post in enumerate(tree.posts)]
        self.route_risk = tree.post_route_risk
        self.hh = households
        self.params = params
        self.recorder = recorder
        self.streams = streams
        self.corpses = corpses

    def take_post(self, ctx: DailyContext, today: int) -> None:
        """The posts take post for the day: today's effort (authorities' orders x the rule's multiplier), the
        state of the ice, and the memory of how many have lately tried to cross at each post: the more, the
        likelier a household joins an organised group, ``recent / (recent + group_threshold_persons)``.

        The memory decays by 0.85 a day, ``recent <- 0.85 recent + 0.15 (persons yesterday)``; on days with
        no crossing it is brought up to date in one step when the posts are next needed.
        """
        k = today - self._day
        if k <= 0:
            return
        self.recent = (0.85 * self.recent + 0.15 * self._today) * 0.85 ** (k - 1)
        self._today[:] = 0.0
        self._day = today
        self.group_share = self.recent / (self.recent + self.group_threshold)
        self.effort = ctx.effort_post
        self.frozen = ctx.frozen_post

    def cross(self, idx: np.ndarray, rules: RuleSet, today: int, month: int, ctx: DailyContext) -> np.ndarray:
        """Households ``idx`` reach the river today: detect, stop, persuade, drown or let across.

        Returns the households that got across alive.
        """
        if len(idx) == 0:
            return idx
        self.take_post(ctx, today)
        hh, p, rec = self.hh, self.params, self.recorder
        u = hh.ju[idx]
        post = hh.post[idx].astype(np.int64)
        effort = self.effort[post]
        frozen = self.frozen[post]
        persons = hh.persons(idx)
        size = hh.size[idx].astype(np.int64)
        leaf = hh.leaf[idx]
        # Groups (Docs 3, 5): the more people have been heading for a post lately (a smoothed, weighted count,
        # so scaled runs behave alike), the more households join an organised group that crosses by day.
        group = u[:, JOURNEY.GROUP] < self.group_share[post]
        night = ~group & (u[:, JOURNEY.NIGHT] < p.p_night)
        party = np.where(group, p.group_size, size)
        detected = u[:, JOURNEY.DETECT] < detection_prob(p, effort, night, frozen, party)
        stopped = detected & (u[:, JOURNEY.STOP] < stop_prob(p, effort, group, party))
        hh.attempts[idx] += 1
        hh.crossing_seen[idx] = detected
        rec.add("attempted", leaf, persons)
        rec.add("attempted_households", leaf, hh.weight[idx])
        rec.add("attempted_in_group", leaf[group], persons[group])
        rec.add("detected", leaf[detected], persons[detected])
        rec.add("stopped", leaf[stopped], persons[stopped])
        seen_across = detected & ~stopped
        rec.add("crossed_detected", leaf[seen_across], persons[seen_across])
        self._today += np.bincount(post, weights=persons, minlength=len(self.posts))
        # Stopped: persuaded to go home (Doc 6) or detained and sent home (Doc 5 measure (4)).
        st = idx[stopped]
        persuaded = u[stopped, JOURNEY.PERSUADE] < rules.china.persuasion_prob
        rec.add("persuaded_back", leaf[stopped][persuaded], persons[stopped][persuaded])
        hh.set_state(st[persuaded], State.PERSUADED_BACK, today)
        hh.set_state(st[~persuaded], State.STOPPED, today)
        hh.reset_clocks(st)
        # Across: drowning per person in the river (one uniform per member; members visiting or staying on in the
        # DPRK are not in the river); the living reach the other bank.
        go = ~stopped
        gi, gleaf, gpost = idx[go], leaf[go], post[go]
        pd_ = drowning_prob(p, self.route_risk[gpost], night[go], frozen[go], month)
        in_river = size[go] - hh.away[gi] - hh.stayed[gi]
        drowned = members_below(u[go, JOURNEY.MEMBER0 :], in_river, pd_)
        if drowned.any():
            hh.size[gi] -= drowned.astype(np.int16)
            hh.drowned[gi] += drowned.astype(np.int16)
            w = hh.weight[gi]
            rec.add("drowned", gleaf, w * drowned)
            self.corpses.drowned(gleaf, drowned, w, hh.nk_national[gi], today, rules, u[go])
        rec.add("crossed", gleaf, hh.weight[gi] * hh.size[gi])
        dead = hh.size[gi] == 0
        if dead.any():
            hh.set_state(gi[dead], State.DROWNED, today)
            return gi[~dead]
        return gi


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
    """Corpses in the border rivers: found after a delay, identified by nationality (Doc 6; Doc 10 Art. 1 (5)).

    The corpses of crossers draw from their journey; DPRK residents drowned in the rivers (no household)
    draw from the world's own stream, keyed by the day, so that their number changes nothing else.
    """

    def __init__(
        self,
        params: Parameters,
        recorder: Recorder,
        streams: Streams,
        post_location: np.ndarray,
        nk_drownings_per_year: float,
        frozen_share: np.ndarray,
        day0: int,
    ):
        self.params = params
        self.recorder = recorder
        self.streams = streams
        self.post_location = post_location
        self.day0 = day0
        self.pending: dict[int, list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]] = {}
        # DPRK residents drowned each day (Poisson, fewer when the rivers are frozen), drawn for the run at once.
        rate = nk_drownings_per_year / 365.0 * (1 - frozen_share * (1 - params.ice_drown_factor))
        days = np.arange(len(frozen_share), dtype=np.uint64) + np.uint64(day0)
        self.nk_counts = poisson(streams.uniform(Kind.NK_DROWNING, days, 0), rate) if len(days) else np.zeros(0, int)

    def drowned(
        self,
        leaves: np.ndarray,
        counts: np.ndarray,
        weights: np.ndarray,
        korean: np.ndarray,
        today: int,
        rules: RuleSet,
        u: np.ndarray,
    ) -> None:
        """Schedule the discovery of corpses of ``counts`` persons per element (weights scale them back);
        ``u``: each element's uniforms (a journey's row, or a DPRK resident's)."""
        p = self.params
        counts = np.asarray(counts, dtype=np.int64)
        sel = counts > 0
        if not sel.any():
            return
        leaves, counts, weights, korean, u = leaves[sel], counts[sel], weights[sel], korean[sel], u[sel]
        # Finding and identifying corpses is an observation of the drowned: it is drawn for every person a
        # drowned household member stands for (``counts * weights``, not for the sampled member scaled back),
        # so a scaled run's corpse counts and shares carry the archive's own noise, not the sample's.
        persons = np.rint(counts * weights).astype(np.int64)
        found = binomial(u[:, JOURNEY.CORPSES_FOUND], persons, p.corpse_found_prob)
        # Doc 10 Art. 1 (5): corpses investigated for nationality and cause of death.
        p_ident = p.corpse_identify_prob_investigated if rules.border.corpses_investigated else p.corpse_identify_prob
        ident = binomial(u[:, JOURNEY.CORPSES_IDENTIFIED], found, p_ident)
        delay = geometric(u[:, JOURNEY.CORPSES_DELAY], 1.0 / p.corpse_delay_days)
        for d in np.unique(delay):
            s = delay == d
            self.pending.setdefault(today + int(d), []).append((leaves[s], found[s] * 1.0, ident[s] * 1.0, korean[s]))

    def background(self, today: int, rules: RuleSet) -> None:
        """Drownings of DPRK residents in the rivers (the source of most 'Korean' corpses)."""
        k = int(self.nk_counts[today]) if today < len(self.nk_counts) else 0
        if k:
            # One row per drowned resident: where, and the columns of a journey's corpse draws.
            who = np.full(k, self.day0 + today, dtype=np.uint64)
            u = self.streams.uniforms(Kind.NK_DROWNING, who, np.arange(1, k + 1), JOURNEY.width)
            locs = self.post_location[(u[:, JOURNEY.POST] * len(self.post_location)).astype(np.int64)]
            self.drowned(locs.astype(np.int64), np.ones(k, dtype=np.int64), np.ones(k), np.ones(k, dtype=bool), today, rules, u)

    def step(self, today: int, rules: RuleSet) -> None:
        """Today's background drownings; the corpses found today are recorded."""
        self.background(today, rules)
        rec = self.recorder
        for leaves, found, ident, korean in self.pending.pop(today, []):
            rec.add("corpses_found", leaves, found)
            rec.add("corpses_chinese", leaves[~korean], ident[~korean])
            rec.add("corpses_korean", leaves[korean], ident[korean])
            rec.add("corpses_unidentified", leaves, found - ident)
