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
"""

from __future__ import annotations

import mesa
import numpy as np

from .geography import Post
from .households import Households, State


class GuardPost(mesa.Agent):
    """A Chinese border-defence post guarding one river segment or crossing point."""

    def __init__(self, model, post: Post, index: int):
        super().__init__(model)
        self.post = post
        self.index = index
        self.effort = 1.0
        self.frozen = False
        #: Smoothed persons attempting here per day (exponential average, about a week's memory).
        self.recent = 0.0
        self._today = 0.0
        self.totals = {"attempted": 0.0, "detected": 0.0, "stopped": 0.0, "crossed": 0.0, "drowned": 0.0}

    def step(self) -> None:
        """Take today's effort (authorities' orders x the rule's multiplier) and the state of the ice."""
        m = self.model
        self.effort = float(m.ctx.effort_post[self.index])
        self.frozen = bool(m.ctx.frozen[self.post.river])
        self.recent = 0.85 * self.recent + 0.15 * self._today
        self._today = 0.0


def resolve_crossings(model, idx: np.ndarray) -> None:
    """Households ``idx`` reach the river today: detect, stop, persuade, drown or let across."""
    if len(idx) == 0:
        return
    hh: Households = model.households
    p = model.params
    rng = model.rng
    rec = model.recorder
    rules = model.rules
    posts = model.guard_posts
    post = hh.post[idx].astype(np.int64)
    effort = np.array([g.effort for g in posts])[post]
    frozen = np.array([g.frozen for g in posts])[post]
    persons = hh.persons(idx)
    size = hh.size[idx].astype(np.int64)
    leaf = hh.leaf[idx].astype(np.int64)
    # Groups (Docs 3, 5): the more people have been heading for a post lately (a smoothed, weighted count,
    # so scaled runs behave alike), the more households join an organised group that crosses by day.
    recent = np.array([g.recent for g in posts])[post]
    group = rng.random(len(idx)) < recent / (recent + p.group_threshold_persons)
    night = ~group & (rng.random(len(idx)) < p.p_night)
    party = np.where(group, p.group_size, size)
    detected = rng.random(len(idx)) < detection_prob(p, effort, night, frozen, party)
    stopped = detected & (rng.random(len(idx)) < stop_prob(p, effort, group, party))
    hh.attempts[idx] += 1
    rec.add("attempted", leaf, persons)
    rec.add("attempted_households", leaf, hh.weight[idx])
    rec.add("attempted_in_group", leaf[group], persons[group])
    rec.add("detected", leaf[detected], persons[detected])
    rec.add("stopped", leaf[stopped], persons[stopped])
    rec.add("crossed_detected", leaf[detected & ~stopped], persons[detected & ~stopped])
    _tally(posts, post, attempted=persons, detected=persons * detected, stopped=persons * stopped)
    for g, x in zip(posts, np.bincount(post, weights=persons, minlength=len(posts))):
        g._today += float(x)
    # Stopped: persuaded to go home (Doc 6) or detained and sent home (Doc 5 measure (4)).
    st = idx[stopped]
    persuaded = rng.random(len(st)) < rules.china.persuasion_prob
    rec.add("persuaded_back", leaf[stopped][persuaded], persons[stopped][persuaded])
    hh.set_state(st[persuaded], State.PERSUADED_BACK, model.today)
    hh.set_state(st[~persuaded], State.STOPPED, model.today)
    hh.reset_clocks(st, rng)
    # Across: drowning per person, then arrival at a reception station.
    go = ~stopped
    gi, gleaf, gpost = idx[go], leaf[go], post[go]
    month = model.date.month
    pd_ = drowning_prob(p, model.tree.post_route_risk[gpost], night[go], frozen[go], month)
    drowned = rng.binomial(size[go], pd_)
    hh.size[gi] -= drowned.astype(np.int16)
    hh.drowned[gi] += drowned.astype(np.int16)
    w = hh.weight[gi]
    rec.add("drowned", gleaf, w * drowned)
    rec.add("crossed", gleaf, w * hh.size[gi])
    _tally(posts, gpost, crossed=w * hh.size[gi], drowned=w * drowned)
    model.corpses.drowned(gleaf, drowned, w, hh.nk_national[gi])
    dead = hh.size[gi] == 0
    hh.set_state(gi[dead], State.DROWNED, model.today)
    alive = gi[~dead]
    model.settlement.receive(alive)


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


def _tally(posts, post: np.ndarray, **values: np.ndarray) -> None:
    """Add per-attempt values to each guard post's running totals."""
    for key, v in values.items():
        per_post = np.bincount(post, weights=v, minlength=len(posts))
        for g, x in zip(posts, per_post):
            g.totals[key] += float(x)


class Corpses:
    """Corpses in the border rivers: found after a delay, identified by nationality (Doc 6; Doc 10 Art. 1 (5))."""

    def __init__(self, model):
        self.model = model
        self.pending: dict[int, list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = {}

    def drowned(self, leaves: np.ndarray, counts: np.ndarray, weights: np.ndarray, korean: np.ndarray) -> None:
        """Schedule the discovery of corpses of ``counts`` persons per element (weights scale them back)."""
        m = self.model
        p = m.params
        counts = np.asarray(counts, dtype=np.int64)
        sel = counts > 0
        if not sel.any():
            return
        leaves, counts, weights, korean = leaves[sel], counts[sel], weights[sel], korean[sel]
        found = m.rng.binomial(counts, p.corpse_found_prob)
        # Doc 10 Art. 1 (5): corpses investigated for nationality and cause of death.
        p_ident = p.corpse_identify_prob_investigated if m.rules.border.corpses_investigated else p.corpse_identify_prob
        ident = m.rng.binomial(found, p_ident)
        delay = m.rng.geometric(1.0 / p.corpse_delay_days, size=len(found))
        for d in np.unique(delay):
            s = delay == d
            self.pending.setdefault(m.today + int(d), []).append(
                (leaves[s], found[s] * weights[s], ident[s] * weights[s], korean[s])
            )

    def background(self) -> None:
        """Drownings of DPRK residents in the rivers (the source of most 'Korean' corpses)."""
        m = self.model
        rate = m.config.world.nk_drownings_per_year / 365.0
        frozen_share = np.mean([m.ctx.frozen[r] for r in ("tumen", "yalu")])
        rate *= 1 - frozen_share * (1 - m.params.ice_drown_factor)
        k = m.rng.poisson(rate)
        if k:
            locs = m.tree.post_location[m.rng.integers(len(m.tree.post_location), size=k)]
            self.drowned(locs.astype(np.int64), np.ones(k, dtype=np.int64), np.ones(k), np.ones(k, dtype=bool))

    def step(self) -> None:
        m = self.model
        self.background()
        for leaves, found, ident, korean in self.pending.pop(m.today, []):
            rec = m.recorder
            rec.add("corpses_found", leaves, found)
            rec.add("corpses_chinese", leaves[~korean], ident[~korean])
            rec.add("corpses_korean", leaves[korean], ident[korean])
            rec.add("corpses_unidentified", leaves, found - ident)
