"""The world and the authorities' orders, resolved once into day-by-region arrays; the day's context.

At the start of a run every dated entry of the scenario's ``world`` is resolved into a (day x home
region) array (:func:`resolve_schedule`: the latest ``from`` wins, then the deeper region):

* Rations by area and month (Doc 4: from November 1960 "a low food [provisions] standard ... 210
  catties at the very least" in border areas; Doc 6: 360 catties "originally stipulated" by the Jilin
  report of October 1961, "but some production brigades can only provide 200"). The ration a
  household gets is :func:`effective_ration`: the area's standard, raised by food substitutes (Doc 4's
  Lishu canteens), or its poor brigade's supply where that is lower (Doc 6).
* Hunger: the shortfall of the ration below ``food_need`` felt with a memory of
  ``hunger_memory_days`` (stocks run down; resentment builds month by month, Doc 4's Nov-Jan rise).
* Interventions as dated packages (Doc 4's Lishu work from February 1961: substitute foods and
  canteens, ideological education, public rebuttal of rumours, border clearance for people with
  proper reasons; Doc 5's five measures for Liaoning), interception effort by area and date (Docs 3,
  5: "strengthen interception work", May 1961), the attraction of the DPRK, river ice.

Each day :meth:`WorldSchedule.context` cuts the day's row into a :class:`DailyContext` under the rules
in force: what the households, guards and authorities see today.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from ..world.geography import RegionTree
from ..world.rules import RuleSet
from ..world.scenario import Parameters, World
from .households import channel_tables, home_factor


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


def effective_ration(ration: np.ndarray, poor_catties: np.ndarray, poor: np.ndarray) -> np.ndarray:
    """The ration a household actually gets, catties/person/year: its area's (substitutes included), or its
    poor brigade's supply where that is lower (Doc 6: "some production brigades can only provide 200")."""
    return np.where(poor, np.minimum(ration, poor_catties), ration)


class DailyContext:
    """Today's conditions as the households and guards see them (leaf-indexed arrays), read from the
    schedule's (day x region) arrays under the rules in force; the hazard tables of :mod:`.households`
    (``channels``, ``affine``) come from the schedule's per-rules blocks of days, computed once."""

    __slots__ = ("_s", "t", "rules", "_block", "_row")

    def __init__(self, schedule: WorldSchedule, t: int, rules: RuleSet):
        self._s, self.t, self.rules = schedule, t, rules
        self._block = None

    @property
    def params(self) -> Parameters:
        return self._s.params

    def _epoch(self) -> tuple:
        if self._block is None:
            self._block, self._row = self._s.block(self.t, self.rules)
        return self._block

    # -- the hazard tables (households) --------------------------------------------------------------
    @property
    def channels(self) -> np.ndarray:
        """(move/travel, channel, code) coefficients today (see :func:`~.households.channel_tables`)."""
        b = self._epoch()
        return b.channels[self._row]

    @property
    def affine(self) -> np.ndarray:
        """(base, slope) by (move/travel, code): ``h = base + slope * belief``."""
        b = self._epoch()
        return b.affine[self._row]

    @property
    def home_factor(self) -> np.ndarray:
        return self._s.home_factor

    @property
    def any_poor(self) -> bool:
        return bool(self._s.any_poor[self.t])

    # -- today's rows ------------------------------------------------------------------------------
    @property
    def ration_leaf(self) -> np.ndarray:
        return self._s.ration[self.t]

    @property
    def hunger_ok_leaf(self) -> np.ndarray:
        return self._s.hunger_ok[self.t]

    @property
    def hunger_poor_leaf(self) -> np.ndarray:
        return self._s.hunger_poor[self.t]

    @property
    def propensity_leaf(self) -> np.ndarray:
        return self._s.propensity[self.t]

    @property
    def poor_share_leaf(self) -> np.ndarray:
        return self._s.poor_share[self.t]

    @property
    def poor_catties_leaf(self) -> np.ndarray:
        return self._s.poor_catties[self.t]

    @property
    def education_leaf(self) -> np.ndarray:
        return self._s.education[self.t]

    @property
    def rebuttal_leaf(self) -> np.ndarray:
        return self._s.rebuttal[self.t]

    @property
    def permits_leaf(self) -> np.ndarray:
        return self._s.permits[self.t]

    @property
    def risk_leaf(self) -> np.ndarray:
        """Perceived risk: guards, punishment, and being sent back under a return obligation (Doc 10 Art. 4)."""
        return self._s.risk(self.t, self.rules)

    @property
    def effort_post(self) -> np.ndarray:
        return self._s.effort[self.t][self._s.post_location] * self.rules.china.interception_multiplier

    @property
    def pull(self) -> float:
        return float(self._s.pull[self.t]) * self._s.settlement_offer(self.rules)

    @property
    def frozen_post(self) -> np.ndarray:
        """Is each guard post's river frozen today?"""
        return self._s.frozen_post[self.t]

    @property
    def frozen(self) -> dict:
        return {r: bool(f[self.t]) for r, f in self._s.frozen.items()}

    def effective_ration(self, leaf: np.ndarray, poor: np.ndarray) -> np.ndarray:
        """Today's effective ration of households in home regions ``leaf`` (``poor``: in a poor brigade)."""
        return effective_ration(self.ration_leaf[leaf], self.poor_catties_leaf[leaf], poor)


@dataclass
class _Block:
    """The hazard tables of a block of days under one rule set."""

    channels: np.ndarray  # days x 2 x 3 x codes
    affine: np.ndarray  # days x 2 [base, slope] x 2 [move, travel] x codes


#: Days per block of precomputed hazard tables.
BLOCK_DAYS = 32


def _ema(x: np.ndarray, tau: float) -> np.ndarray:
    """Exponential moving average along days (axis 0) with a time constant of ``tau`` days:
    ``y[t] = y[t-1] + a (x[t] - y[t-1])``, ``y[0] = x[0]``, ``a = 1 / max(tau, 1)``.

    Solved in blocks of days, ``y[t0 + k] = c**k y[t0] + a sum_j c**(k - j) x[t0 + j]`` with ``c = 1 - a``,
    the block short enough that ``c**-k`` stays below 1e12 (inputs are shortfalls, never negative).
    """
    a = 1.0 / max(tau, 1.0)
    c = 1.0 - a
    if c <= 0.0:
        return x.astype(float).copy()
    n = len(x)
    out = np.empty(x.shape)
    out[0] = x[0]
    block = int(max(1, min(128, 12 * np.log(10) / -np.log(c))))
    t0 = 0
    while t0 < n - 1:
        k = np.arange(1, min(block, n - 1 - t0) + 1)
        cpow = c ** k.astype(float)
        shape = (-1,) + (1,) * (x.ndim - 1)
        acc = np.cumsum(x[t0 + k] / cpow.reshape(shape), axis=0) * a
        out[t0 + k] = cpow.reshape(shape) * (out[t0] + acc)
        t0 += len(k)
    return out


def hunger(shortfall: np.ndarray, mean_days: float, stages: int) -> np.ndarray:
    """Felt hunger from the ration shortfall (days x regions): an Erlang memory kernel of ``stages`` exponential
    stages with mean ``mean_days`` (household stocks run down first, then hunger and resentment build, Doc 4)."""
    out = shortfall
    for _ in range(stages):
        out = _ema(out, mean_days / stages)
    return out


def _frozen(day: dt.date, freeze: str, thaw: str) -> bool:
    md = day.strftime("%m-%d")
    return md >= freeze or md < thaw if freeze > thaw else freeze <= md < thaw


class WorldSchedule:
    """Every dated condition and order of a run as (day x home region) arrays, resolved once."""

    def __init__(self, world: World, params: Parameters, tree: RegionTree, start: dt.date, n_days: int):
        w, n = world, n_days
        self.params = params
        self.post_location = tree.post_location
        ration = resolve_schedule(w.rations, tree, start, n, lambda e: e.catties, params.food_need)
        subs = resolve_schedule(w.interventions, tree, start, n, lambda e: e.substitutes_to, -1.0)
        self.ration = np.maximum(ration, subs)  # substitutes raise the effective ration (Doc 4)
        self.poor_share = resolve_schedule(w.poor_brigades, tree, start, n, lambda e: e.share, 0.0)
        self.poor_catties = resolve_schedule(w.poor_brigades, tree, start, n, lambda e: e.catties, 0.0)
        need = params.food_need
        short_ok = np.clip((need - self.ration) / need, 0.0, 1.0)
        poor_ration = effective_ration(self.ration, self.poor_catties, self.poor_share > 0)
        short_poor = np.clip((need - poor_ration) / need, 0.0, 1.0)
        self.hunger_ok = hunger(short_ok, params.hunger_memory_days, params.hunger_stages)
        self.hunger_poor = hunger(short_poor, params.hunger_memory_days, params.hunger_stages)
        self.propensity = resolve_schedule(w.propensity, tree, start, n, lambda e: e.value, 1.0)
        self.effort = resolve_schedule(w.interception, tree, start, n, lambda e: e.effort, 1.0)
        self.education = resolve_schedule(w.interventions, tree, start, n, lambda e: e.education, 1.0)
        self.rebuttal = resolve_schedule(w.interventions, tree, start, n, lambda e: e.rebuttal, 0.0)
        self.permits = resolve_schedule(w.interventions, tree, start, n, lambda e: float(e.permits_for_proper_reasons), 0.0)
        pull = np.ones(n)
        for e in sorted(w.dprk_pull, key=lambda e: e.from_):
            pull[max(0, (e.from_ - start).days) :] = e.value
        self.pull = pull
        days = [start + dt.timedelta(days=i) for i in range(n)]
        self.frozen = {r: np.array([_frozen(d, p.freeze, p.thaw) for d in days]) for r, p in w.ice.items()}
        none = np.zeros(n, dtype=bool)
        self.frozen_post = np.stack([self.frozen.get(post.river, none) for post in tree.posts], axis=1)
        self.frozen_share = (self.frozen.get("tumen", none) * 0.5 + self.frozen.get("yalu", none) * 0.5).astype(float)
        self.any_poor = self.poor_share.any(axis=1)
        # Per home region, the days on which an input of the hazards changes (day 0: every region).
        changed = np.zeros((n, len(tree.leaf_ids)), dtype=bool)
        changed[0] = True
        for a in (self.poor_share, self.effort, self.education, self.propensity):
            changed[1:] |= a[1:] != a[:-1]
        changed[1:] |= (self.pull[1:] != self.pull[:-1])[:, None]
        self._changed = changed
        self.home_factor = home_factor(params)
        self._blocks: dict = {}

    def context(self, t: int, rules: RuleSet) -> DailyContext:
        """Day ``t``'s conditions under ``rules``."""
        return DailyContext(self, t, rules)

    def risk(self, t, rules: RuleSet) -> np.ndarray:
        """Perceived risk by home region on day(s) ``t``: guards' effort (x the rule's multiplier), punishment,
        and being sent back under a return obligation (Doc 10 Art. 4)."""
        p = self.params
        return self.effort[t] * rules.china.interception_multiplier + (
            rules.china.punishment + p.return_deterrence * rules.dprk.return_illegal_prob
        )

    def block(self, t: int, rules: RuleSet) -> tuple[_Block, int]:
        """The hazard tables of the block of days holding day ``t`` under ``rules`` (computed on first use),
        and ``t``'s row in it."""
        b0 = t - t % BLOCK_DAYS
        key = (id(rules), b0)
        blk = self._blocks.get(key)
        if blk is None:
            p = self.params
            days = slice(b0, min(b0 + BLOCK_DAYS, len(self.pull)))
            pull = self.pull[days] * self.settlement_offer(rules)
            push = pull[:, None] * self.education[days] * np.exp(-p.risk_aversion * self.risk(days, rules))
            ch = channel_tables(p, self.hunger_ok[days], self.hunger_poor[days], self.propensity[days], push)
            affine = np.stack([ch[:, :, 0] + ch[:, :, 2], ch[:, :, 1]], axis=1)
            blk = self._blocks[key] = _Block(ch, affine)
        return blk, t - b0

    def settlement_offer(self, rules: RuleSet) -> float:
        """Share of the DPRK's pull owed to its settlement offer (Doc 5 (3): the 40 yuan and grain "have had
        a great effect upon the Korean minority in China"): ``1 - a + a * offer``, where ``offer`` is the
        allowance relative to 40 yuan (0 if households are not settled) and ``a`` is ``allowance_pull``."""
        a = self.params.allowance_pull
        offer = rules.dprk.allowance_yuan_per_labourer / 40.0 if rules.dprk.settle_households else 0.0
        return 1.0 - a + a * offer

    def changed(self, t: int) -> np.ndarray:
        """The home regions where an input of the households' hazards changed today (a leaf mask)."""
        return self._changed[t]
