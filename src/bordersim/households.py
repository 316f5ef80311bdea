"""Household agents, held as a structure of numpy arrays (one entry per household).

Ethnic-Korean households of the Jilin border counties and of Liaoning (Docs 3, 4, 5, 9), a few
single Han men (Docs 3, 5) and DPRK nationals living in China (Docs 1, 8, 11). Each household has a
size, labourers, a grain ration (from the authorities, by area and month), kin in the DPRK or not, a
rumour belief, property sold or not, a legal status, where it is and what has happened to it.

The decision (Doc 4's Lishu study) is a competing-hazards process: each day a household at home may
form an intention to move ("requested a complete household move", Doc 4), and one of its members may
apply to travel ("individuals applying to travel", Doc 4). The hazard has three channels, matching
Doc 4's three reasons:

* ``food_kin``: resentment of the low ration combined with family connections in the DPRK (Doc 4 (1)),
  ``rate_food_kin * shortfall * kin``;
* ``rumour``: rumours of plenty and housing in the DPRK (Doc 4 (2), Doc 5 (4)),
  ``rate_rumour * belief * (shortfall + rumour_floor)``;
* ``proper``: proper reasons, the elderly joining children, wives joining husbands (Doc 4 (3)),
  ``rate_proper * kin``.

The first two are scaled by the attraction of the DPRK, by education campaigns and by deterrence
``exp(-risk_aversion * perceived_risk)``; the intention's main reason is drawn in proportion to the
three channels, so the model can be held to Doc 4's reason shares. Events are drawn exactly with
cumulative-hazard clocks (an Exp(1) threshold per household), so a day costs a few array operations
whatever the number of households.
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np

from .geography import RegionTree
from .scenario import Scenario


class State(IntEnum):
    """Where a household is and what has happened to it."""

    HOME = 0
    INTENDING = 1  # has asked to move / decided to go; choosing a route
    APPLIED = 2  # legal application on an authorization letter pending
    PREPARING = 3  # preparing an illegal crossing (selling property, Docs 3, 5)
    TRAVELLING = 4  # on the way to the river; the attempt (crossing) is resolved on arrival
    AT_RECEPTION = 5  # in the DPRK at a reception station (Docs 3, 5)
    SETTLED = 6  # settled on a cooperative in the DPRK (Docs 3, 5)
    EMIGRATED = 7  # moved legally (approved application)
    PERSUADED_BACK = 8  # stopped at the border and persuaded to return home (Doc 6)
    STOPPED = 9  # stopped at the border, detained and sent home (Doc 5 measure (4))
    RETURNED = 10  # came back from the DPRK on its own initiative (Doc 6)
    SENT_BACK = 11  # sent back by the DPRK (Docs 3, 5, 6)
    DROWNED = 12  # every member drowned crossing (Doc 6)


#: States in which a household is at home in China and can form a new intention.
HOME_STATES = np.array([State.HOME, State.PERSUADED_BACK, State.STOPPED, State.RETURNED, State.SENT_BACK])
#: States after an earlier attempt (their hazard is scaled by ``repeat_factor``).
BACK_STATES = np.array([State.PERSUADED_BACK, State.STOPPED, State.RETURNED, State.SENT_BACK])
#: States in which the household is in North Korea.
NK_STATES = np.array([State.AT_RECEPTION, State.SETTLED, State.EMIGRATED])
#: Lookup tables: ``IS_HOME[state]`` is faster than ``np.isin``.
IS_HOME = np.isin(np.arange(len(State)), HOME_STATES)
IS_BACK = np.isin(np.arange(len(State)), BACK_STATES)
IS_NK = np.isin(np.arange(len(State)), NK_STATES)


class Reason(IntEnum):
    FOOD_KIN = 0
    RUMOUR = 1
    PROPER = 2


REASON_NAMES = ["food_kin", "rumour", "proper"]
#: "Never" as a day index.
NEVER = np.iinfo(np.int32).max


class Households:
    """All households of a run, as arrays. Built by :func:`build_households`."""

    def __init__(self, n: int):
        self.n = n
        self.leaf = np.zeros(n, dtype=np.int16)
        self.weight = np.ones(n, dtype=np.float64)  # households represented by this one (1/scale)
        self.size = np.zeros(n, dtype=np.int16)  # living members
        self.labourers = np.zeros(n, dtype=np.int16)
        self.kin = np.zeros(n, dtype=bool)  # kin in the DPRK
        self.han_single = np.zeros(n, dtype=bool)
        self.nk_national = np.zeros(n, dtype=bool)
        self.criminal = np.zeros(n, dtype=bool)  # pending criminal case or "five elements" (Docs 1 (3), 5; Doc 10 Art. 5)
        self.brigade_u = np.ones(n)  # uniform draw of the household's brigade: poor if below the poor share
        self.family_left = np.zeros(n, dtype=bool)  # close family stays behind if the household crosses
        self.village = np.zeros(n, dtype=np.int32)
        self.belief = np.zeros(n, dtype=np.float64)
        self.property_sold = np.zeros(n, dtype=bool)
        self.letter_held = np.zeros(n, dtype=bool)  # holds a DPRK authorization letter
        self.state = np.zeros(n, dtype=np.int8)
        self.due = np.full(n, -1, dtype=np.int32)  # day of the next scheduled transition
        self.since = np.zeros(n, dtype=np.int32)  # day the current state began
        self.post = np.full(n, -1, dtype=np.int16)
        self.reason = np.full(n, -1, dtype=np.int8)
        self.disaster = np.zeros(n, dtype=bool)  # forced across by a disaster (Doc 10 Art. 1, 4)
        self.screened = np.zeros(n, dtype=bool)  # screened at a reception station (Han men, send-back)
        self.attempts = np.zeros(n, dtype=np.int16)
        self.drowned = np.zeros(n, dtype=np.int16)
        self.away = np.zeros(n, dtype=np.int16)  # members visiting the DPRK on a pass
        self.away_until = np.full(n, -1, dtype=np.int32)
        self.stayed = np.zeros(n, dtype=np.int16)  # members who stayed in the DPRK after a visit
        # Competing-hazard clocks: cumulative hazard and Exp(1) thresholds.
        self.clock_move = np.zeros(n)
        self.thresh_move = np.zeros(n)
        self.clock_travel = np.zeros(n)
        self.thresh_travel = np.zeros(n)
        self.h_move = np.zeros(n)
        self.h_travel = np.zeros(n)
        self._code_base: np.ndarray | None = None
        # Clocks hold the hazard of days before ``sync``; ``next_*`` is the day each clock fires.
        self.sync = np.zeros(n, dtype=np.int32)
        self.next_move = np.full(n, NEVER, dtype=np.int32)
        self.next_travel = np.full(n, NEVER, dtype=np.int32)

    # -- bookkeeping -----------------------------------------------------------------------------
    def persons(self, idx: np.ndarray) -> np.ndarray:
        """Weighted persons of households ``idx``."""
        return self.weight[idx] * self.size[idx]

    def at_home(self) -> np.ndarray:
        return IS_HOME[self.state]

    def set_state(self, idx: np.ndarray, state: State, today: int, due: np.ndarray | int = -1) -> None:
        self.state[idx] = state
        self.since[idx] = today
        self.due[idx] = due

    def reset_clocks(self, idx: np.ndarray, rng: np.random.Generator) -> None:
        """Start a fresh move clock (after returning home or dropping an intention)."""
        self.clock_move[idx] = 0.0
        self.h_move[idx] = 0.0
        self.next_move[idx] = NEVER
        self.thresh_move[idx] = rng.exponential(1.0, size=len(idx))

    def total_persons(self) -> float:
        return float(np.sum(self.weight * self.size))

    # -- decision --------------------------------------------------------------------------------
    def _shortfall_push(self, idx, ctx) -> tuple[np.ndarray, np.ndarray]:
        """Felt food shortfall (hunger) and push factor of households ``idx``."""
        leaf = self.leaf[idx]
        poor = self.brigade_u[idx] < ctx.poor_share_leaf[leaf]
        short = np.where(poor, ctx.hunger_poor_leaf[leaf], ctx.hunger_ok_leaf[leaf])
        return short, _push(ctx)[leaf]

    def channels(self, idx, ctx, travel: bool = False) -> np.ndarray:
        """Hazard of each reason channel for households ``idx`` (shape: 3 x len(idx)), per day.

        ``ctx`` is the model's daily context (rations, risk, education, pull, parameters).
        """
        p = ctx.params
        short, push = self._shortfall_push(idx, ctx)
        kin = self.kin[idx]
        if travel:
            a, b, c = p.travel_rate_food_kin, p.travel_rate_rumour, p.travel_rate_proper
        else:
            a, b, c = p.rate_food_kin, p.rate_rumour, p.rate_proper
        food_kin = a * short * kin * push
        rumour = b * self.belief[idx] * (short + p.rumour_floor) * push
        proper = c * kin
        return np.vstack([food_kin, rumour, proper]) * ctx.propensity_leaf[self.leaf[idx]]

    def update_hazards(self, ctx, today: int) -> None:
        """Recompute both hazards for every household (when rations, risk, rules or beliefs change)."""
        self._set_hazards(slice(None), *self._hazards(slice(None), ctx), today)

    def refresh(self, idx: np.ndarray, ctx, today: int) -> None:
        """Recompute the hazards of households ``idx`` only (after their state changed)."""
        self._set_hazards(idx, *self._hazards(idx, ctx), today)

    def _set_hazards(self, idx, h_move, h_travel, today: int) -> None:
        """Bring the clocks up to ``today`` under the old hazards, then set the new ones and the firing days.

        Hazards are constant between updates, so the day a clock reaches its Exp(1) threshold is known in
        advance: the daily cost is a comparison, not an addition over every household.
        """
        elapsed = today - self.sync[idx]
        self.clock_move[idx] += self.h_move[idx] * elapsed
        self.clock_travel[idx] += self.h_travel[idx] * elapsed
        self.sync[idx] = today
        self.h_move[idx] = h_move
        self.h_travel[idx] = h_travel
        self.next_move[idx] = _firing_day(self.clock_move[idx], self.thresh_move[idx], h_move, today)
        self.next_travel[idx] = _firing_day(self.clock_travel[idx], self.thresh_travel[idx], h_travel, today)

    def _hazards(self, idx, ctx) -> tuple[np.ndarray, np.ndarray]:
        """Total move and travel hazards (the sums of :meth:`channels`, computed in one pass).

        The hazard is affine in belief within a (region, poor brigade, kin) group, so the group
        coefficients are computed on small arrays and gathered: ``h = g0[code] + g1[code] * belief``.
        """
        p = ctx.params
        leaf = self.leaf[idx]
        g0m, g1m, g0t, g1t, home_factor = _group_tables(ctx)
        if self._code_base is None:  # region and kin do not change during a run
            self._code_base = self.leaf.astype(np.intp) * 4 + self.kin
        code = self._code_base[idx]
        if ctx.poor_share_leaf.any():
            code = code + 2 * (self.brigade_u[idx] < ctx.poor_share_leaf[leaf])
        belief = self.belief[idx]
        state = self.state[idx]
        h_move = g1m[code]
        h_move *= belief
        h_move += g0m[code]
        h_move *= home_factor[state]
        h_travel = g1t[code]
        h_travel *= belief
        h_travel += g0t[code]
        h_travel *= IS_HOME[state] & (self.away[idx] == 0) & (self.size[idx] - self.stayed[idx] >= 2)
        return h_move, h_travel

    def fire(self, rng: np.random.Generator, ctx, today: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The clocks that fire today. Returns (movers, their reasons, travellers, their reasons)."""
        movers = np.flatnonzero(self.next_move == today)
        travellers = np.flatnonzero(self.next_travel == today)
        # A household whose mover clock fires does not also send a traveller today.
        if len(movers) and len(travellers):
            travellers = np.setdiff1d(travellers, movers, assume_unique=True)
        r_move = self.draw_reasons(movers, rng, ctx, travel=False)
        r_trav = self.draw_reasons(travellers, rng, ctx, travel=True)
        self.reset_clocks(movers, rng)
        self.clock_travel[travellers] = 0.0
        self.h_travel[travellers] = 0.0
        self.next_travel[travellers] = NEVER
        self.thresh_travel[travellers] = rng.exponential(1.0, size=len(travellers))
        return movers, r_move, travellers, r_trav

    def draw_reasons(self, idx, rng, ctx, travel: bool) -> np.ndarray:
        """Main reason of each event, drawn in proportion to the channels' hazards."""
        if len(idx) == 0:
            return np.zeros(0, dtype=np.int8)
        ch = self.channels(idx, ctx, travel=travel)
        tot = ch.sum(axis=0)
        cum = np.cumsum(ch, axis=0) / np.where(tot > 0, tot, 1.0)
        u = rng.random(len(idx))
        return (u[None, :] > cum).sum(axis=0).clip(0, 2).astype(np.int8)


def _group_tables(ctx):
    """Hazard coefficients by (region, poor brigade, kin) group for today's context (computed once a day)."""
    cache = ctx.cache
    if "tables" not in cache:
        p = ctx.params
        push = _push(ctx)
        short = np.stack([ctx.hunger_ok_leaf, ctx.hunger_poor_leaf], axis=1)[:, :, None]  # leaf x poor x 1
        kin = np.array([0.0, 1.0])[None, None, :]  # 1 x 1 x kin
        pu = push[:, None, None]
        rum = pu * (short + p.rumour_floor)
        prop = ctx.propensity_leaf[:, None, None]
        n = len(push)
        g0m = (prop * (pu * p.rate_food_kin * short * kin + p.rate_proper * kin)).reshape(-1)
        g1m = np.broadcast_to(prop * p.rate_rumour * rum, (n, 2, 2)).reshape(-1)
        g0t = (prop * (pu * p.travel_rate_food_kin * short * kin + p.travel_rate_proper * kin)).reshape(-1)
        g1t = np.broadcast_to(prop * p.travel_rate_rumour * rum, (n, 2, 2)).reshape(-1)
        home_factor = np.where(IS_BACK, p.repeat_factor, 1.0) * IS_HOME  # by state
        cache["tables"] = (g0m, g1m, g0t, g1t, home_factor)
    return cache["tables"]


def _push(ctx) -> np.ndarray:
    """Per home region: DPRK pull x education x deterrence ``exp(-risk_aversion * risk)``."""
    if "push" not in ctx.cache:
        ctx.cache["push"] = ctx.pull * ctx.education_leaf * np.exp(-ctx.params.risk_aversion * ctx.risk_leaf)
    return ctx.cache["push"]


def _firing_day(clock, thresh, h, today: int) -> np.ndarray:
    """First day ``t >= today`` with ``clock + h * (t - today + 1) >= thresh`` (NEVER if ``h == 0``)."""
    k = np.maximum(thresh - clock, 1e-12)
    with np.errstate(divide="ignore"):
        k /= h  # +inf where h == 0
    np.ceil(k, out=k)
    k -= 1.0
    np.clip(k, 0.0, float(NEVER - today), out=k)
    k += today
    return k.astype(np.int32)


def _household_sizes(rng: np.random.Generator, n: int, mean: float) -> np.ndarray:
    """Household sizes >= 1 with the given mean (1 + Poisson(mean - 1))."""
    return (1 + rng.poisson(mean - 1.0, size=n)).astype(np.int16)


def _lishu_sizes(rng: np.random.Generator) -> np.ndarray:
    """192 households with exactly 936 people (Doc 4)."""
    sizes = _household_sizes(rng, 192, 936 / 192)
    diff = 936 - int(sizes.sum())
    while diff != 0:
        j = int(rng.integers(192))
        step = 1 if diff > 0 else -1
        if sizes[j] + step >= 1:
            sizes[j] += step
            diff -= step
    return sizes


def build_households(sc: Scenario, tree: RegionTree, rng: np.random.Generator) -> Households:
    """Create every household of the scenario's population at the run's scale.

    Each home region's households are sampled at ``run.scale`` (weight = true / simulated households);
    the Lishu village (Doc 4) is always simulated whole, with weight 1.
    """
    pop = sc.population
    scale = sc.run.scale
    persons: dict[str, float] = {}
    tot_share = sum(pop.yanbian_shares.values()) or 1.0
    for k, s in pop.yanbian_shares.items():
        persons[k] = pop.yanbian_persons * s / tot_share
    persons.update(pop.tonghua_persons)
    persons.update(pop.liaoning_persons)
    if pop.lishu:
        persons["helong"] = max(0.0, persons.get("helong", 0.0) - 936)
    blocks = []  # (leaf id, n simulated, weight, sizes or None)
    for leaf in tree.leaf_ids:
        if leaf == "lishu":
            if pop.lishu:
                blocks.append((leaf, 192, 1.0, _lishu_sizes(rng)))
            continue
        true_hh = persons.get(leaf, 0.0) / pop.household_size_mean
        n_sim = int(round(true_hh * scale))
        if n_sim <= 0:
            continue
        blocks.append((leaf, n_sim, true_hh / n_sim, None))
    # Single Han men (Docs 3, 5), spread over the border cities, one person each.
    han_leaves = ["andong", "yanji_city", "shenyang", "anshan"]
    n_han = int(round(pop.single_han_men * scale))
    han_w = pop.single_han_men / n_han if n_han else 1.0
    n = sum(b[1] for b in blocks) + n_han
    hh = Households(n)
    i = 0
    liaoning = set(tree.leaves_under("liaoning"))
    for leaf, n_sim, w, sizes in blocks:
        sl = slice(i, i + n_sim)
        li = tree.leaf_index[leaf]
        hh.leaf[sl] = li
        hh.weight[sl] = w
        hh.size[sl] = sizes if sizes is not None else _household_sizes(rng, n_sim, pop.household_size_mean)
        share = pop.kin_share_liaoning if li in liaoning else pop.kin_share
        hh.kin[sl] = rng.random(n_sim) < share
        hh.nk_national[sl] = rng.random(n_sim) < pop.nk_national_share
        i += n_sim
    if n_han:
        sl = slice(i, i + n_han)
        hh.leaf[sl] = rng.choice([tree.leaf_index[x] for x in han_leaves], size=n_han)
        hh.weight[sl] = han_w
        hh.size[sl] = 1
        hh.han_single[sl] = True
        i += n_han
    hh.kin |= hh.nk_national
    hh.criminal = rng.random(n) < pop.criminal_share
    # Labourers: working members, binomial in the household size, at least one per household.
    hh.labourers = np.maximum(rng.binomial(hh.size, sc.population.labourer_share), np.minimum(hh.size, 1)).astype(np.int16)
    hh.family_left = rng.random(n) < sc.parameters.family_left_share
    hh.thresh_move = rng.exponential(1.0, size=n)
    hh.thresh_travel = rng.exponential(1.0, size=n)
    return hh
