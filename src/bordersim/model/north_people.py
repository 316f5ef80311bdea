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
China) and :func:`detain_members` is the DPRK's side of a return (its levers are assumed: the dossier says
nothing of how the DPRK treated its returnees).

The compiled passes of the northward direction (:mod:`.north_day`, :mod:`.china_police`) act on these arrays
through the compiled helpers below, which do numpy's operations of the code they replaced in its order: a
trip begins (:func:`new_trip`), ends at home (:func:`end_trips`), leaves its household (:func:`detach_trips`),
the DPRK detains and releases (:func:`detain_members`, :func:`release_detained`), the days on which something
is due are kept in a :class:`Book`, and the events for the recorder are noted in an array (:func:`emit`).
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np

from ..world.geography import RegionTree
from ..world.north import NorthPopulation, ZoneTree
from .blocks import FieldBlocks, Layout
from .compiled import compiled


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


#: The states as plain integers, for the compiled passes.
HOME, AWAY, DETAINED, EMPTY = (int(s) for s in HState)
VISIT, AT_LARGE, CUSTODY, RESIDENT, ENDED = (int(s) for s in TState)
FOOD, WORK, KIN, DISASTER = (int(r) for r in NReason)


_USED, _FREE, _HEAD = 0, 1, 2  # ``ring``: entries ever used, the first free entry, then each slot's first entry
_NEXT, _WHO, _DAY = 0, 1, 2  # ``entries``' rows


class Book:
    """The days on which something is due for some households (a clock firing, a detention ending), as two arrays
    that compiled code reads and writes: a ring of ``slots`` lists, an entry kept in the list of its day modulo
    ``slots`` until its day comes (so any day can be entered). As with :class:`~bordersim.model.calendar.Calendar`,
    an entry is not removed when a household's plans change: on its day it is checked against the household's
    current schedule (:func:`book_due`), so entering a day costs an append and a day costs a look-up.

    ``ring``: the entries ever used, the first free entry, then each slot's first entry; ``entries``: a row each
    for the next entry, the household and the day."""

    def __init__(self, slots: int, capacity: int = 256):
        self.ring = np.full(_HEAD + slots, -1, dtype=np.int64)
        self.ring[_USED] = 0
        self.entries = np.full((3, capacity), -1, dtype=np.int64)

    def room(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The book's arrays (for compiled code), with room for ``k`` more entries."""
        cap = self.entries.shape[1]
        if self.ring[_USED] + k > cap:
            new = np.full((3, max(2 * cap, int(self.ring[_USED]) + k)), -1, dtype=np.int64)
            new[:, :cap] = self.entries
            self.entries = new
        return self.ring, self.entries

    def clear(self) -> None:
        self.ring[:] = -1
        self.ring[_USED] = 0


I8, F8, B1 = np.dtype(np.int64), np.dtype(np.float64), np.dtype(np.bool_)
_NEVER = np.iinfo(np.int64).max // 2

#: The households' fields (:mod:`.blocks`): integers, floats and flags, a block each.
HOUSEHOLD = Layout(
    {
        "zone": (I8, 0),  # leaf of the DPRK side's tree
        "post": (I8, 0),  # crossing point used (a post of the geography)
        "leaf": (I8, 0),  # Chinese home region the post lies in: where crossers arrive
        "size": (I8, 0),
        "state": (I8, 0),
        "trip": (I8, -1),  # the attached trip
        "crossings": (I8, 0),
        "until": (I8, -1),  # last day of detention
        "fire_day": (I8, _NEVER),  # the day the decision clock next fires (``Northward._schedule_firing``)
        "weight": (F8, 1.0),
        "belief": (F8, 0.0),  # belief that there is work and food in China
        "ch_food": (F8, 0.0),  # the day's channels (``Northward._hazards``), per day: food, work, kin, their total
        "ch_work": (F8, 0.0),
        "ch_kin": (F8, 0.0),
        "hazard": (F8, 0.0),
        "kin": (B1, False),  # kin in China
        "contact": (B1, False),  # contacts in China from an earlier stay (employers, brokers)
        "criminal": (B1, False),
        "fear": (B1, False),  # a member was detained by the DPRK
    },
    "H",
)
HI, HF, HB = (HOUSEHOLD.rows[d] for d in (I8, F8, B1))

#: The trips' fields.
TRIP = Layout(
    {
        "hh": (I8, 0),
        "persons": (I8, 0),
        "leaf": (I8, 0),
        "reason": (I8, 0),
        "children": (I8, 0),
        "state": (I8, int(TState.ENDED)),
        "start": (I8, 0),
        "caught": (I8, 0),
        "due": (I8, -1),
        "kind": (I8, 0),
        "weight": (F8, 0.0),
        "whole": (B1, False),  # the whole household came (return "inconvenient": nothing left at home)
        "female": (B1, False),
        "married": (B1, False),
        "disaster": (B1, False),
        "criminal": (B1, False),
        "sk": (B1, False),  # contacts with South Korean bodies (the introduction)
        "political": (B1, False),  # counted a counter-revolutionary under Art. 5
        "repeat": (B1, False),  # the household had crossed before
        "attached": (B1, False),
    },
    "T",
)
TI, TF, TB = (TRIP.rows[d] for d in (I8, F8, B1))


class Records:
    """Records whose fields live in :class:`~.blocks.FieldBlocks`; each field an attribute, a view of its row
    (written in place: assigning a field anew would leave the blocks behind, so it is refused)."""

    _layout: Layout

    def _bind(self, n: int) -> None:
        object.__setattr__(self, "fields", FieldBlocks(n, self._layout))
        self._views()

    def _views(self) -> None:
        for name, view in self.fields.views().items():
            object.__setattr__(self, name, view)

    def __setattr__(self, name, value):
        if name in self._layout.spec:
            raise AttributeError(f"{name} is a view of its block: write it in place ({name}[...] = ...)")
        object.__setattr__(self, name, value)

    def blocks(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The integer, float and flag blocks (for compiled code)."""
        b = self.fields.blocks
        return b[I8], b[F8], b[B1]


class NorthHouseholds(Records):
    """The DPRK side's households, as arrays (rows of the blocks of :data:`HOUSEHOLD`). Built by
    :func:`build_north_households`."""

    _layout = HOUSEHOLD

    def __init__(self, n: int):
        self.n = n
        self._bind(n)
        self.releases = Book(128)  # the days detentions end (a day without one costs a look-up)

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


class Trips(Records):
    """Trips into China, as growable arrays (one row per crossing, kept after it ends; rows of the blocks of
    :data:`TRIP`)."""

    _layout = TRIP

    def __init__(self, capacity: int = 256):
        self.n = 0
        self._bind(capacity)

    def reserve(self, k: int) -> None:
        """Room for ``k`` more trips (the blocks grow, at least doubling; new rows ended, not due)."""
        need = self.n + k
        cap = self.fields.n
        if need > cap:
            self.fields.grow(max(need, 2 * cap))
            self._views()

    def add(self, k: int, **values) -> np.ndarray:
        """Append ``k`` trips with the given fields (the others zero); returns their indices."""
        self.reserve(k)
        need = self.n + k
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


def come_home(hh: NorthHouseholds, trips: Trips, idx: np.ndarray, today: int, contact_days: float) -> None:
    """Trips ``idx`` end with their members at home on the DPRK side (:func:`end_trips`)."""
    hi, hf, hb = hh.blocks()
    ti, _, tb = trips.blocks()
    end_trips(hi, hf, hb, ti, tb, np.asarray(idx, dtype=np.int64), today, float(contact_days))


def note_events(recorder, ev: np.ndarray, k: int) -> None:
    """Hand the first ``k`` events noted by a compiled pass (rows of measure, home region, value) to the recorder."""
    if k:
        recorder.add_events(ev[:k, 0].astype(np.intp), ev[:k, 1].astype(np.int64), ev[:k, 2])


# -- compiled helpers (numpy's operations of the code they replaced, in its order) ------------------------------
# Households' blocks are handed as ``hi, hf, hb`` (integers, floats, flags: rows ``HI``, ``HF``, ``HB``), the trips'
# as ``ti, tf, tb``, a book as ``ring, ent``.
@compiled
def room(ev, k, need):
    """The event array ``ev`` (rows of measure, home region, value; ``k`` used), or a larger copy, with room for
    ``need`` more rows."""
    if k + need <= len(ev):
        return ev
    out = np.empty((max(2 * len(ev), k + need), ev.shape[1]))
    for r in range(k):  # element by element: a slice assignment compiles numba's shape-mismatch message (seconds)
        for j in range(ev.shape[1]):
            out[r, j] = ev[r, j]
    return out


@compiled(inline="always")
def emit(ev, k, measure, leaf, value):
    """Note an event in row ``k`` (room made by :func:`room`); returns the next row."""
    ev[k, 0] = measure
    ev[k, 1] = leaf
    ev[k, 2] = value
    return k + 1


@compiled
def book_add(ring, ent, i, day):
    """Enter household ``i`` on ``day`` (a free entry is reused; room made by :meth:`Book.room`)."""
    e = ring[_FREE]
    if e >= 0:
        ring[_FREE] = ent[_NEXT, e]
    else:
        e = ring[_USED]
        ring[_USED] += 1
    s = _HEAD + day % (len(ring) - _HEAD)
    ent[_WHO, e] = i
    ent[_DAY, e] = day
    ent[_NEXT, e] = ring[s]
    ring[s] = e


@compiled
def book_count(ring, ent, today):
    """How many entries the book holds for ``today`` (at least as many as households due)."""
    n = 0
    e = ring[_HEAD + today % (len(ring) - _HEAD)]
    while e >= 0:
        n += ent[_DAY, e] == today
        e = ent[_NEXT, e]
    return n


@compiled
def book_due(ring, ent, today, scheduled):
    """The households entered for ``today`` whose ``scheduled`` day is today (sorted, unique: as
    :meth:`~bordersim.model.calendar.Calendar.due`); today's entries are freed, the slot's later days kept."""
    s = _HEAD + today % (len(ring) - _HEAD)
    out = np.empty(book_count(ring, ent, today), dtype=np.int64)
    n = 0
    e = ring[s]
    ring[s] = -1
    while e >= 0:
        after = ent[_NEXT, e]
        if ent[_DAY, e] == today:
            out[n] = ent[_WHO, e]
            n += 1
            ent[_NEXT, e] = ring[_FREE]
            ring[_FREE] = e
        else:
            ent[_NEXT, e] = ring[s]
            ring[s] = e
        e = after
    out = np.sort(out)
    keep = 0
    for j in range(n):
        i = out[j]
        if (j == 0 or i != out[j - 1]) and scheduled[i] == today:
            out[keep] = i
            keep += 1
    return out[:keep]


@compiled(inline="always")
def new_trip(hi, hf, hb, ti, tf, tb, n, h, reason, persons, whole, female, today, state):
    """Trip ``n`` begins today from household ``h`` (as ``Trips.add`` did: the household's weight, home region and
    criminal case, repeat if it had crossed before; it is away, its crossings counted); returns the next trip's row
    (room made by :meth:`Trips.reserve`)."""
    ti[TI.hh, n] = h
    ti[TI.persons, n] = persons
    tf[TF.weight, n] = hf[HF.weight, h]
    ti[TI.leaf, n] = hi[HI.leaf, h]
    ti[TI.reason, n] = reason
    tb[TB.whole, n] = whole
    tb[TB.female, n] = female
    tb[TB.criminal, n] = hb[HB.criminal, h]
    tb[TB.repeat, n] = hi[HI.crossings, h] > 0
    tb[TB.attached, n] = True
    ti[TI.state, n] = state
    ti[TI.start, n] = today
    ti[TI.caught, n] = -1
    hi[HI.crossings, h] += 1
    hi[HI.state, h] = AWAY
    hi[HI.trip, h] = n
    return n + 1


@compiled
def end_trips(hi, hf, hb, ti, tb, idx, today, contact_days):
    """Trips ``idx`` end with their members at home on the DPRK side: a stay of ``contact_days`` or more leaves
    contacts in China (the work channel opens) and first-hand belief; an attached trip's household is home, a
    married woman or a resident coming back rejoins hers (numpy's order: all ended, contacts, the attached, then
    the others' members added and their empty households home again)."""
    for j in idx:
        ti[TI.state, j] = ENDED
        if (today - ti[TI.start, j]) >= contact_days:
            hb[HB.contact, ti[TI.hh, j]] = True
            hf[HF.belief, ti[TI.hh, j]] = 1.0
    for j in idx:
        if tb[TB.attached, j]:
            hi[HI.trip, ti[TI.hh, j]] = -1
            hi[HI.state, ti[TI.hh, j]] = HOME
    for j in idx:
        if not tb[TB.attached, j]:
            hi[HI.size, ti[TI.hh, j]] += ti[TI.persons, j]
    for j in idx:
        if not tb[TB.attached, j] and hi[HI.state, ti[TI.hh, j]] == EMPTY:
            hi[HI.state, ti[TI.hh, j]] = HOME
    for j in idx:
        tb[TB.attached, j] = False


@compiled
def detach_trips(hi, ti, tb, idx):
    """Trips ``idx`` leave their households (a marriage in China, a stay allowed): the members no longer count in
    the household, which is free to send someone again (or is empty if the whole household stays). A household
    has at most one attached trip, so numpy's whole-array steps are the same trip by trip."""
    for j in idx:
        if tb[TB.attached, j]:
            h = ti[TI.hh, j]
            hi[HI.size, h] -= ti[TI.persons, j]
            hi[HI.trip, h] = -1
            hi[HI.state, h] = HOME if hi[HI.size, h] > 0 else EMPTY
            tb[TB.attached, j] = False


@compiled
def detain_members(hi, hb, ring, ent, h, today, days):
    """The DPRK detains a member of households ``h`` (those at home) for ``days`` (the household waits; it fears
    afterwards), in numpy's order: who is at home is read first, so a household listed twice is detained once,
    until its last listed day."""
    free = np.empty(len(h), dtype=np.bool_)
    for j in range(len(h)):
        free[j] = hi[HI.state, h[j]] == HOME
    for j in range(len(h)):
        if free[j]:
            hi[HI.state, h[j]] = DETAINED
            hi[HI.until, h[j]] = today + days[j]
    for j in range(len(h)):
        if free[j]:
            book_add(ring, ent, h[j], hi[HI.until, h[j]])
            hb[HB.fear, h[j]] = True


@compiled
def release_detained(hi, ring, ent, today):
    """Detentions ending today (``days`` >= 1: a detention ends on its day ``until``)."""
    for i in book_due(ring, ent, today, hi[HI.until]):
        if hi[HI.state, i] == DETAINED:
            hi[HI.state, i] = HOME
            hi[HI.until, i] = -1
