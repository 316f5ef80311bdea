"""People of the northward direction (issue 15): households on the DPRK side and their trips into China.

Households on the DPRK side of the border (the zones facing the model's river segments and crossing points,
:data:`bordersim.world.north.ZONES`) are held as a structure of numpy arrays, like the southward
households: zone, the crossing point they use and the Chinese region it lies in, weight (1/scale), size,
kin in China, contacts in China (gained on an earlier stay), belief about China (work and food there), a
pending criminal case (Doc 1 (3), Doc 10 Art. 5), crossings made, and whether the DPRK has punished a
member (deterrence).

A crossing creates a *trip*: one member or the whole household in China, with its reason (food, work, a
kin visit, a disaster), the day it began, the woman's marriage and children, contacts with South Korean
bodies, the day it was caught and its case. A household has at most one attached trip at a time; a woman
who marries in China, or a crosser allowed to stay, leaves the household (the trip is detached), so that
the household can send someone again. :func:`come_home` ends trips (on their own, or handed back by
China) and :func:`detain` is the DPRK's side of a return (its levers are assumed: the dossier says nothing
of how the DPRK treated its returnees).
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np

from ..world.geography import RegionTree
from ..world.north import NorthPopulation, ZoneTree
from .calendar import Calendar


class HState(IntEnum):
    """Where a DPRK-side household is."""

    HOME = 0  # at home; may decide to cross
    AWAY = 1  # a member (or all) in China on an attached trip
    DETAINED = 2  # a member held by the DPRK after a return or a stop at the river
    EMPTY = 3  # nobody left (all drowned, or the whole household stays in China)


class TState(IntEnum):
    """Where a trip is."""

    VISIT = 0  # visiting kin in China on a permit (legal)
    AT_LARGE = 1  # in China illegally, not in custody
    CUSTODY = 2  # caught by Chinese public security, awaiting the hand-over or instructions
    RESIDENT = 3  # allowed to stay (Doc 1 (2), Doc 2 (3))
    ENDED = 4  # home again, or drowned


class NReason(IntEnum):
    FOOD = 0
    WORK = 1
    KIN = 2
    DISASTER = 3


#: Custody kinds: to be handed over, or a special case waiting for a decision (Doc 1 (2), Doc 11 (6)).
RETURN, SPECIAL = 0, 1


class NorthHouseholds:
    """The DPRK side's households, as arrays. Built by :func:`build_north_households`."""

    def __init__(self, n: int):
        self.n = n
        self.zone = np.zeros(n, dtype=np.int16)  # leaf of the DPRK side's tree
        self.post = np.zeros(n, dtype=np.int16)  # crossing point used (a post of the geography)
        self.leaf = np.zeros(n, dtype=np.int64)  # Chinese home region the post lies in: where crossers arrive
        self.weight = np.ones(n)
        self.size = np.zeros(n, dtype=np.int64)
        self.kin = np.zeros(n, dtype=bool)  # kin in China
        self.contact = np.zeros(n, dtype=bool)  # contacts in China from an earlier stay (employers, brokers)
        self.belief = np.zeros(n)  # belief that there is work and food in China
        self.criminal = np.zeros(n, dtype=bool)
        self.state = np.zeros(n, dtype=np.int8)
        self.trip = np.full(n, -1, dtype=np.int64)  # the attached trip
        self.crossings = np.zeros(n, dtype=np.int32)
        self.fear = np.zeros(n, dtype=bool)  # a member was detained by the DPRK
        self.until = np.full(n, -1, dtype=np.int64)  # last day of detention
        self.releases = Calendar()  # the days detentions end (a day without one costs a look-up)

    def home_persons(self, trips: Trips) -> np.ndarray:
        """Persons of each household at home on the DPRK side (members abroad on an attached trip excluded)."""
        away = np.where(self.trip >= 0, trips.persons[np.maximum(self.trip, 0)], 0)
        return np.where(self.state == HState.EMPTY, 0, self.size - away)


def build_north_households(
    pop: NorthPopulation, scale: float, zones: ZoneTree, tree: RegionTree, rng: np.random.Generator
) -> NorthHouseholds:
    """Every DPRK-side household at the run's scale (weight = true / simulated households of its zone)."""
    blocks = []
    for zid, persons in pop.persons.items():
        true_hh = persons / pop.household_size_mean
        n_sim = int(round(true_hh * scale))
        if n_sim > 0:
            blocks.append((zones.leaf_index[zid], n_sim, true_hh / n_sim))
    hh = NorthHouseholds(sum(b[1] for b in blocks))
    i = 0
    for z, n_sim, w in blocks:
        sl = slice(i, i + n_sim)
        hh.zone[sl] = z
        hh.weight[sl] = w
        hh.size[sl] = 1 + rng.poisson(pop.household_size_mean - 1.0, size=n_sim)
        cum = np.cumsum(zones.post_weights[z])
        hh.post[sl] = np.minimum(np.searchsorted(cum / cum[-1], rng.random(n_sim), side="right"), len(cum) - 1)
        i += n_sim
    hh.leaf[:] = tree.post_location[hh.post]
    hh.kin[:] = rng.random(hh.n) < pop.kin_share
    hh.criminal[:] = rng.random(hh.n) < pop.criminal_share
    return hh


class Trips:
    """Trips into China, as growable arrays (one row per crossing, kept after it ends)."""

    FIELDS = {
        "hh": np.int64,
        "persons": np.int64,
        "weight": np.float64,
        "leaf": np.int64,
        "reason": np.int8,
        "whole": bool,  # the whole household came (return "inconvenient": nothing left at home)
        "female": bool,
        "married": bool,
        "children": np.int64,
        "disaster": bool,
        "criminal": bool,
        "sk": bool,  # contacts with South Korean bodies (the introduction)
        "political": bool,  # counted a counter-revolutionary under Art. 5
        "repeat": bool,  # the household had crossed before
        "attached": bool,
        "state": np.int8,
        "start": np.int64,
        "caught": np.int64,
        "due": np.int64,
        "kind": np.int8,
    }

    def __init__(self, capacity: int = 256):
        self.n = 0
        for name, dtype in self.FIELDS.items():
            setattr(self, name, np.zeros(capacity, dtype=dtype))
        self.state[:] = TState.ENDED
        self.due[:] = -1

    def add(self, k: int, **values) -> np.ndarray:
        """Append ``k`` trips with the given fields (the others zero); returns their indices."""
        need = self.n + k
        cap = len(self.hh)
        if need > cap:
            new = max(need, 2 * cap)
            for name in self.FIELDS:
                a = getattr(self, name)
                b = np.zeros(new, dtype=a.dtype)
                b[:cap] = a
                setattr(self, name, b)
            self.state[cap:] = TState.ENDED
            self.due[cap:] = -1
        idx = np.arange(self.n, need)
        for name, v in values.items():
            getattr(self, name)[idx] = v
        self.caught[idx] = -1
        self.n = need
        return idx

    def in_state(self, state: TState) -> np.ndarray:
        return np.flatnonzero(self.state[: self.n] == state)

    def w(self, idx: np.ndarray) -> np.ndarray:
        """Weighted persons of trips ``idx``."""
        return self.weight[idx] * self.persons[idx]


def detach(hh: NorthHouseholds, trips: Trips, idx: np.ndarray) -> None:
    """Trips ``idx`` leave their households (a marriage in China, a stay allowed): the members no longer count
    in the household, which is free to send someone again (or is empty if the whole household stays)."""
    idx = idx[trips.attached[idx]]
    if len(idx) == 0:
        return
    h = trips.hh[idx]
    hh.size[h] -= trips.persons[idx]
    hh.trip[h] = -1
    hh.state[h] = np.where(hh.size[h] > 0, HState.HOME, HState.EMPTY)
    trips.attached[idx] = False


def come_home(hh: NorthHouseholds, trips: Trips, idx: np.ndarray, today: int, contact_days: float) -> None:
    """Trips ``idx`` end with their members at home on the DPRK side: a stay of ``contact_days`` or more leaves
    contacts in China (the work channel opens) and first-hand belief."""
    if len(idx) == 0:
        return
    trips.state[idx] = TState.ENDED
    h = trips.hh[idx]
    long = (today - trips.start[idx]) >= contact_days
    hh.contact[h[long]] = True
    hh.belief[h[long]] = 1.0
    att = trips.attached[idx]
    ha = h[att]
    hh.trip[ha] = -1
    hh.state[ha] = HState.HOME
    hd = h[~att]  # a married woman or a resident coming back rejoins her household
    np.add.at(hh.size, hd, trips.persons[idx[~att]])
    hh.state[hd[hh.state[hd] == HState.EMPTY]] = HState.HOME
    trips.attached[idx] = False


def detain(hh: NorthHouseholds, h: np.ndarray, today: int, days: np.ndarray) -> None:
    """The DPRK detains a member of households ``h`` for ``days`` (the household waits; it fears afterwards)."""
    free = hh.state[h] == HState.HOME
    h, days = h[free], days[free]
    hh.state[h] = HState.DETAINED
    hh.until[h] = today + days
    hh.releases.add(h, hh.until[h])
    hh.fear[h] = True


def release(hh: NorthHouseholds, today: int) -> None:
    """Detentions ending today."""
    done = hh.releases.due(today, hh.until)  # ``days`` >= 1: a detention ends on its day ``until``
    done = done[hh.state[done] == HState.DETAINED]
    hh.state[done] = HState.HOME
    hh.until[done] = -1
