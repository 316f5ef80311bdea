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
from dataclasses import dataclass, field

import numpy as np

from ..world.geography import RegionTree
from ..world.rules import RuleSet
from ..world.scenario import Parameters, World


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


@dataclass
class DailyContext:
    """Today's conditions as the households and guards see them (leaf-indexed arrays)."""

    params: Parameters
    ration_leaf: np.ndarray
    hunger_ok_leaf: np.ndarray
    hunger_poor_leaf: np.ndarray
    propensity_leaf: np.ndarray
    poor_share_leaf: np.ndarray
    poor_catties_leaf: np.ndarray
    education_leaf: np.ndarray
    risk_leaf: np.ndarray
    rebuttal_leaf: np.ndarray
    permits_leaf: np.ndarray
    effort_post: np.ndarray
    pull: float
    frozen: dict = field(default_factory=dict)
    #: Per-day derived tables (filled on first use by the households' decision).
    cache: dict = field(default_factory=dict)

    def effective_ration(self, leaf: np.ndarray, poor: np.ndarray) -> np.ndarray:
        """Today's effective ration of households in home regions ``leaf`` (``poor``: in a poor brigade)."""
        return effective_ration(self.ration_leaf[leaf], self.poor_catties_leaf[leaf], poor)


def _ema(x: np.ndarray, tau: float) -> np.ndarray:
    """Exponential moving average along days (axis 0) with a time constant of ``tau`` days."""
    a = 1.0 / max(tau, 1.0)
    out = np.empty_like(x)
    out[0] = x[0]
    for t in range(1, len(x)):
        out[t] = out[t - 1] + a * (x[t] - out[t - 1])
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

    def context(self, t: int, rules: RuleSet) -> DailyContext:
        """Day ``t``'s conditions under ``rules``."""
        p = self.params
        effort_leaf = self.effort[t] * rules.china.interception_multiplier
        return DailyContext(
            params=p,
            ration_leaf=self.ration[t],
            hunger_ok_leaf=self.hunger_ok[t],
            hunger_poor_leaf=self.hunger_poor[t],
            propensity_leaf=self.propensity[t],
            poor_share_leaf=self.poor_share[t],
            poor_catties_leaf=self.poor_catties[t],
            education_leaf=self.education[t],
            # Perceived risk: guards, punishment, and being sent back under a return obligation (Doc 10 Art. 4).
            risk_leaf=effort_leaf + rules.china.punishment + p.return_deterrence * rules.dprk.return_illegal_prob,
            rebuttal_leaf=self.rebuttal[t],
            permits_leaf=self.permits[t],
            effort_post=effort_leaf[self.post_location],
            pull=float(self.pull[t]) * self._settlement_offer(rules),
            frozen={r: bool(f[t]) for r, f in self.frozen.items()},
        )

    def _settlement_offer(self, rules: RuleSet) -> float:
        """Share of the DPRK's pull owed to its settlement offer (Doc 5 (3): the 40 yuan and grain "have had
        a great effect upon the Korean minority in China"): ``1 - a + a * offer``, where ``offer`` is the
        allowance relative to 40 yuan (0 if households are not settled) and ``a`` is ``allowance_pull``."""
        a = self.params.allowance_pull
        offer = rules.dprk.allowance_yuan_per_labourer / 40.0 if rules.dprk.settle_households else 0.0
        return 1.0 - a + a * offer

    def changed(self, t: int) -> bool:
        """Did any input of the households' hazards change today?"""
        if t == 0:
            return True
        return (
            any(not np.array_equal(a[t], a[t - 1]) for a in (self.poor_share, self.effort, self.education, self.propensity))
            or self.pull[t] != self.pull[t - 1]
        )
