"""The northward direction's dated conditions, resolved once into day-by-zone and day-by-region arrays.

``world.north`` (:mod:`bordersim.world.north`) holds dated entries: rations on the DPRK side by zone, the
DPRK's guards, China's search for illegal North Koreans by Chinese region, China's pull for North Koreans,
contacts with South Korean bodies, the Cultural Revolution's pressure on Korean nationals, disasters.
They are resolved by the same rule as the southward world (:func:`bordersim.model.schedule.resolve_schedule`:
the latest ``from`` wins, then the deeper region), and felt hunger on the DPRK side by the same memory kernel
(:func:`bordersim.model.schedule.hunger`) with the same ``food_need``, ``hunger_memory_days`` and
``hunger_stages`` (borrowed unless ``parameters.north`` sets its own).

China's own conditions for a North Korean, food above all, are the southward world's (its rations and felt
hunger at the Chinese region where the crossing point lies): read from the day's
:class:`~bordersim.model.schedule.DailyContext`, never written.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from ..world.geography import RegionTree
from ..world.north import ZONE_TREE, NorthValues, NorthWorld, ZoneTree
from .schedule import hunger, resolve_schedule


def _series(entries, start: dt.date, n_days: int, default: float) -> np.ndarray:
    """A national series of dated values (the latest ``from`` applies)."""
    out = np.full(n_days, default)
    for e in sorted(entries, key=lambda e: e.from_):
        out[max(0, (e.from_ - start).days) :] = e.value
    return out


class NorthSchedule:
    """Every dated condition of the northward direction as arrays, resolved once at start-up."""

    def __init__(
        self, world: NorthWorld, p: NorthValues, tree: RegionTree, start: dt.date, n_days: int, zones: ZoneTree = ZONE_TREE
    ):
        n = n_days
        self.ration = resolve_schedule(world.dprk_rations, zones, start, n, lambda e: e.catties, p.food_need)
        short = np.clip((p.food_need - self.ration) / p.food_need, 0.0, 1.0)
        #: Felt hunger on the DPRK side (days x zones), the southward kernel (Doc 4's month-by-month rise).
        self.hunger = hunger(short, p.hunger_memory_days, int(p.hunger_stages))
        self.dprk_guards = resolve_schedule(world.dprk_guards, zones, start, n, lambda e: e.effort, 1.0)
        self.enforcement = resolve_schedule(world.china_enforcement, tree, start, n, lambda e: e.level, 1.0)
        self.discrimination = resolve_schedule(world.korean_nationals_pressure, tree, start, n, lambda e: e.discrimination, 0.0)
        self.obstruction = resolve_schedule(world.korean_nationals_pressure, tree, start, n, lambda e: e.obstruction, 0.0)
        self.china_pull = _series(world.china_pull, start, n, 0.2)
        self.sk_contacts = _series(world.south_korean_contacts, start, n, 0.0)
        self.disasters: dict[int, list] = {}
        for d in world.disasters:
            self.disasters.setdefault((d.date - start).days, []).append(d)
