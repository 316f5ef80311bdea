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
from .bookkeeping import (
    M_ATTEMPTED,
    M_ATTEMPTED_HOUSEHOLDS,
    M_CROSSED,
    M_CROSSED_DETECTED,
    M_DETECTED,
    M_DROWNED,
    M_IN_GROUP,
    M_PERSUADED_BACK,
    M_STOPPED,
    buffers,
    close,
    note,
    reset_clocks,
    set_state,
)
from .compiled import compiled
from .households import HB, HF8, HI2, Households, State
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
        self._constants: dict[tuple, np.ndarray] = {}  # the crossing's constants by (flood months, persuasion_prob)

    def memory_decay(self, today: int) -> float:
        """The decay of the posts' memory over the days since they last took post, ``0.85 ** (days - 1)``, or -1 if
        they took post today (see :func:`_remember`)."""
        k = today - self._day
        return 0.85 ** (k - 1) if k > 0 else -1.0

    def crossing_inputs(self, rules: RuleSet, month: int, ctx: DailyContext, today: int) -> tuple:
        """What :func:`crossings` reads of the posts: the memory's decay (:meth:`memory_decay`), the memory (recent
        persons, persons today, the share joining groups) and ``group_threshold_persons``, today's effort and ice,
        the route risks, the crossing's constants and journey columns."""
        decay = self.memory_decay(today)
        effort, frozen = (ctx.effort_post, ctx.frozen_post) if decay >= 0 else (self.effort, self.frozen)
        key = (month in (7, 8), rules.china.persuasion_prob)
        c = self._constants.get(key)
        if c is None:
            c = self._constants[key] = crossing_constants(self.params, month, key[1])
        memory = (self.recent, self._today, self.group_share, self.group_threshold)
        return decay, *memory, effort, frozen, self.route_risk, c, CROSSING_COLUMNS

    def take_post(self, effort: np.ndarray, frozen: np.ndarray, today: int) -> None:
        """The posts take post for the day, when someone first reaches the river: today's effort (authorities'
        orders x the rule's multiplier), the state of the ice, and the memory of how many have lately tried to
        cross at each post, brought up to date by the compiled crossing (:func:`_remember`): the more, the likelier a
        household joins an organised group, ``recent / (recent + group_threshold_persons)``. ``effort``, ``frozen``:
        today's (the day's context's, as :meth:`crossing_inputs` gave them)."""
        self._day = today
        self.effort = effort
        self.frozen = frozen

    def cross(self, idx: np.ndarray, rules: RuleSet, today: int, month: int, ctx: DailyContext) -> np.ndarray:
        """Households ``idx`` reach the river today: detect, stop, persuade, drown or let across (one compiled pass,
        :func:`crossings`, as in the day's transitions). Returns the households that got across alive."""
        if len(idx) == 0:
            return idx
        idx = np.asarray(idx, dtype=np.int64)
        hh = self.hh
        bi, bv = buffers(len(idx))
        inputs = self.crossing_inputs(rules, month, ctx, today)
        hb, i1, i2, i4, f8, _ = hh.blocks()
        across, drowned, counts = crossings(hb, i1, i2, i4, f8, hh.ju, bi, bv, idx, today, *inputs)
        close(bi, bv, hh, self.recorder)
        if inputs[0] >= 0:
            self.take_post(inputs[5], inputs[6], today)
        self.drowned_corpses(idx[drowned], counts, today, rules)
        return idx[across]

    def drowned_corpses(self, idx: np.ndarray, counts: np.ndarray, today: int, rules: RuleSet) -> None:
        """The corpses of ``counts`` members of households ``idx`` drowned today (found later: :class:`Corpses`)."""
        if len(idx):
            hh = self.hh
            self.corpses.drowned(hh.leaf[idx], counts, hh.weight[idx], hh.nk_national[idx], today, rules, hh.ju[idx])


#: The journey columns the crossing reads: group, night, discovery, stopping, persuasion, the first member's drowning.
CROSSING_COLUMNS = np.array([JOURNEY.GROUP, JOURNEY.NIGHT, JOURNEY.DETECT, JOURNEY.STOP, JOURNEY.PERSUADE, JOURNEY.MEMBER0])


def crossing_constants(p, month: int, persuasion_prob: float) -> np.ndarray:
    """The crossing's constants for the compiled pass (the month decides the flood factor, July-August)."""
    flood = p.flood_drown_factor if month in (7, 8) else 1.0
    return np.array(
        [p.p_night, p.group_size, p.detection_base, p.day_visibility, p.ice_visibility, p.group_force, p.stop_rate,
         p.drown_base, p.night_drown_factor, p.ice_drown_factor, flood, persuasion_prob],
    )  # fmt: skip


def crossing_outcomes(p, idx, ju, post, effort, frozen, group_share, size, away, stayed, route_risk, month, persuasion_prob):
    """For households ``idx`` at the river today, crossing at posts ``post`` (their journeys' uniforms in
    ``ju``; per post the guards' ``effort``, the ice and the share joining groups): in a group, at night,
    discovered, stopped, persuaded to go home if stopped, and members drowned if not stopped (Boolean arrays
    and a count). The formulas of :func:`detection_prob`, :func:`stop_prob` and :func:`drowning_prob` with
    :func:`~.streams.members_below`, in numpy's order of operations, in one compiled pass."""
    c = crossing_constants(p, month, persuasion_prob)
    return _crossing_outcomes(
        np.asarray(idx, dtype=np.int64), ju, post, effort, frozen, group_share, size, away, stayed, route_risk, c,
        CROSSING_COLUMNS,
    )  # fmt: skip


@compiled(cache=False)
def _remember(recent, today_persons, group_share, threshold, decay):
    """The posts' memory brought up to date in place when they take post (:meth:`Border.take_post`): it decays by 0.85
    a day, ``recent <- 0.85 recent + 0.15 (persons yesterday)``; on days with no crossing it is brought up to date in
    one step, ``recent <- (0.85 recent + 0.15 today) decay``, ``decay = 0.85 ** (days - 1)``; today's persons back to
    0; ``group_share = recent / (recent + threshold)``."""
    for k in range(len(recent)):
        recent[k] = (0.85 * recent[k] + 0.15 * today_persons[k]) * decay
        today_persons[k] = 0.0
        group_share[k] = recent[k] / (recent[k] + threshold)


@compiled(cache=False)
def crossings(
    hb, i1, i2, i4, f8, ju, bi, bv, idx, today, decay, recent, today_persons, group_share, threshold, effort, frozen,
    route_risk, c, cols,
):  # fmt: skip
    """Households ``idx`` reach the river today, in order: the posts' memory first brought up to date if they have
    yet to take post today (``decay >= 0``: :func:`_remember`), then :func:`_crossing_outcomes` draws what happens. Each
    household's attempt is counted (``attempted`` persons and households; in a group; ``detected``, ``stopped``,
    ``crossed_detected``: discovered, not stopped) and its persons added to its post's today (summed as
    ``numpy.bincount``). Stopped: persuaded home (``persuaded_back``, Doc 6) or detained and sent home (Doc 5
    measure (4)), a fresh move clock. Not stopped: members drowned (``drowned``; their corpses follow), the living
    across (``crossed``); a household with nobody left is drowned. Returns the positions (in ``idx``) of those
    across alive (they reach a reception station), of those with members drowned, and how many drowned."""
    if decay >= 0:
        _remember(recent, today_persons, group_share, threshold, decay)
    n = len(idx)
    post = np.empty(n, dtype=np.int64)
    for j in range(n):
        post[j] = i2[HI2.post, idx[j]]
    size = i2[HI2.size]
    group, night, detected, stopped, persuaded, drowned = _crossing_outcomes(
        idx, ju, post, effort, frozen, group_share, size, i2[HI2.away], i2[HI2.stayed], route_risk, c, cols
    )
    across = np.empty(n, dtype=np.int64)
    wet = np.empty(n, dtype=np.int64)
    n_across = 0
    n_wet = 0
    at_post = np.zeros(len(today_persons))
    for j in range(n):
        i = idx[j]
        leaf, w = i2[HI2.leaf, i], f8[HF8.weight, i]
        persons = w * size[i]
        i2[HI2.attempts, i] += 1
        hb[HB.crossing_seen, i] = detected[j]
        _note_attempt(bi, bv, leaf, w, persons, group[j], detected[j], stopped[j])
        at_post[post[j]] += persons
        if stopped[j]:
            if persuaded[j]:
                note(bi, bv, M_PERSUADED_BACK, leaf, persons)
            set_state(i1, i4, bi, i, State.PERSUADED_BACK if persuaded[j] else State.STOPPED, today, -1)
            reset_clocks(i4, f8, i)
            continue
        d = drowned[j]
        if d > 0:
            size[i] -= d
            i2[HI2.drowned, i] += d
            note(bi, bv, M_DROWNED, leaf, w * d)
            wet[n_wet] = j
            n_wet += 1
        note(bi, bv, M_CROSSED, leaf, w * size[i])
        if size[i] == 0:
            set_state(i1, i4, bi, i, State.DROWNED, today, -1)
        else:
            across[n_across] = j
            n_across += 1
    for k in range(len(today_persons)):
        today_persons[k] += at_post[k]
    counts = np.empty(n_wet, dtype=np.int64)
    for k in range(n_wet):
        counts[k] = drowned[wet[k]]
    return across[:n_across], wet[:n_wet], counts


@compiled(cache=False)
def _note_attempt(bi, bv, leaf, w, persons, group, detected, stopped):
    """An attempt's events (:func:`crossings`)."""
    note(bi, bv, M_ATTEMPTED, leaf, persons)
    note(bi, bv, M_ATTEMPTED_HOUSEHOLDS, leaf, w)
    if group:
        note(bi, bv, M_IN_GROUP, leaf, persons)
    if detected:
        note(bi, bv, M_DETECTED, leaf, persons)
        note(bi, bv, M_STOPPED if stopped else M_CROSSED_DETECTED, leaf, persons)


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
