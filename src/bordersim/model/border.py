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
from .compiled import compiled
from .households import Households, State
from .recorder import Recorder
from .schedule import DailyContext
from .streams import JOURNEY, Kind, Streams, binomial, geometric, poisson


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
        post = hh.post[idx].astype(np.int64)
        persons = hh.persons(idx)
        leaf = hh.leaf[idx]
        # Groups (Docs 3, 5): the more people have been heading for a post lately (a smoothed, weighted count,
        # so scaled runs behave alike), the more households join an organised group that crosses by day. Night,
        # discovery (detection_prob), stopping (stop_prob), persuasion and drowning (drowning_prob, one uniform per
        # member in the river) in one compiled pass (crossing_outcomes).
        group, night, detected, stopped, persuaded, drowned = crossing_outcomes(
            p, idx, hh.ju, post, self.effort, self.frozen, self.group_share, hh.size, hh.away, hh.stayed, self.route_risk,
            month, rules.china.persuasion_prob,
        )  # fmt: skip
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
        persuaded = persuaded[stopped]
        rec.add("persuaded_back", leaf[stopped][persuaded], persons[stopped][persuaded])
        hh.set_state(st[persuaded], State.PERSUADED_BACK, today)
        hh.set_state(st[~persuaded], State.STOPPED, today)
        hh.reset_clocks(st)
        # Across: drowning per person in the river (members visiting or staying on in the DPRK are not in the
        # river); the living reach the other bank.
        go = ~stopped
        gi, gleaf = idx[go], leaf[go]
        drowned = drowned[go]
        if drowned.any():
            hh.size[gi] -= drowned.astype(np.int16)
            hh.drowned[gi] += drowned.astype(np.int16)
            w = hh.weight[gi]
            rec.add("drowned", gleaf, w * drowned)
            self.corpses.drowned(gleaf, drowned, w, hh.nk_national[gi], today, rules, hh.ju[gi])
        rec.add("crossed", gleaf, hh.weight[gi] * hh.size[gi])
        dead = hh.size[gi] == 0
        if dead.any():
            hh.set_state(gi[dead], State.DROWNED, today)
            return gi[~dead]
        return gi


def crossing_outcomes(p, idx, ju, post, effort, frozen, group_share, size, away, stayed, route_risk, month, persuasion_prob):
    """For households ``idx`` at the river today, crossing at posts ``post`` (their journeys' uniforms in
    ``ju``; per post the guards' ``effort``, the ice and the share joining groups): in a group, at night,
    discovered, stopped, persuaded to go home if stopped, and members drowned if not stopped (Boolean arrays
    and a count). The formulas of :func:`detection_prob`, :func:`stop_prob` and :func:`drowning_prob` with
    :func:`~.streams.members_below`, in numpy's order of operations, in one compiled pass."""
    flood = p.flood_drown_factor if month in (7, 8) else 1.0
    c = np.array(
        [p.p_night, p.group_size, p.detection_base, p.day_visibility, p.ice_visibility, p.group_force, p.stop_rate,
         p.drown_base, p.night_drown_factor, p.ice_drown_factor, flood, persuasion_prob],
    )  # fmt: skip
    cols = np.array([JOURNEY.GROUP, JOURNEY.NIGHT, JOURNEY.DETECT, JOURNEY.STOP, JOURNEY.PERSUADE, JOURNEY.MEMBER0])
    return _crossing_outcomes(
        np.asarray(idx, dtype=np.int64), ju, post, effort, frozen, group_share, size, away, stayed, route_risk, c, cols
    )


@compiled
def _crossing_outcomes(idx, ju, post, effort, frozen, group_share, size, away, stayed, route_risk, c, cols):
    """See :func:`crossing_outcomes` (``c``: its constants; ``cols``: the journey columns it reads)."""
    p_night, group_size, det_base, day_vis, ice_vis, group_force, stop_rate = c[0], c[1], c[2], c[3], c[4], c[5], c[6]
    drown_base, night_drown, ice_drown, flood, persuasion = c[7], c[8], c[9], c[10], c[11]
    n = len(idx)
    group = np.zeros(n, dtype=np.bool_)
    night = np.zeros(n, dtype=np.bool_)
    detected = np.zeros(n, dtype=np.bool_)
    stopped = np.zeros(n, dtype=np.bool_)
    persuaded = np.zeros(n, dtype=np.bool_)
    drowned = np.zeros(n, dtype=np.int64)
    members = ju.shape[1] - cols[5]
    for j in range(n):
        i = idx[j]
        k = post[j]
        e = effort[k]
        ice = frozen[k]
        g = ju[i, cols[0]] < group_share[k]
        nt = (not g) and ju[i, cols[1]] < p_night
        party = group_size if g else float(size[i])
        vis = (1.0 if nt else day_vis) * (ice_vis if ice else 1.0)
        p_detect = 1.0 - np.exp(-det_base * e * vis * (party / 5.0) ** 0.25)
        resist = 1.0 + group_force * party / 50.0 if g else 1.0
        p_stop = 1.0 - np.exp(-stop_rate * e / resist)
        group[j] = g
        night[j] = nt
        detected[j] = ju[i, cols[2]] < p_detect
        stopped[j] = detected[j] and ju[i, cols[3]] < p_stop
        persuaded[j] = ju[i, cols[4]] < persuasion
        if not stopped[j]:
            season = ice_drown if ice else flood
            p_drown = min(max(drown_base * route_risk[k] * (night_drown if nt else 1.0) * season, 0.0), 1.0)
            in_river = int(size[i]) - int(away[i]) - int(stayed[i])
            for m in range(min(max(in_river, 0), members)):
                if ju[i, cols[5] + m] < p_drown:
                    drowned[j] += 1
    return group, night, detected, stopped, persuaded, drowned


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
