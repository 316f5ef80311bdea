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
from numba import njit

from ..world.geography import RegionTree
from ..world.north import NorthPopulation, ZoneTree


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


class Book:
    """The days on which something is due for some households (a clock firing, a detention ending), as arrays that
    compiled code reads and writes: a ring of ``slots`` lists, an entry kept in the list of its day modulo
    ``slots`` until its day comes (so any day can be entered). As with :class:`~bordersim.model.calendar.Calendar`,
    an entry is not removed when a household's plans change: on its day it is checked against the household's
    current schedule (:func:`book_due`), so entering a day costs an append and a day costs a look-up."""

    def __init__(self, slots: int, capacity: int = 256):
        self.head = np.full(slots, -1, dtype=np.int64)  # first entry of each slot's list
        self.next = np.full(capacity, -1, dtype=np.int64)
        self.who = np.zeros(capacity, dtype=np.int64)
        self.day = np.zeros(capacity, dtype=np.int64)
        self.meta = np.array([0, -1], dtype=np.int64)  # entries ever used, first free entry

    def room(self, k: int) -> tuple:
        """The book's arrays (for compiled code), with room for ``k`` more entries."""
        cap = len(self.who)
        if self.meta[0] + k > cap:
            new = max(2 * cap, int(self.meta[0]) + k)
            for name in ("next", "who", "day"):
                a = np.full(new, -1, dtype=np.int64)
                a[:cap] = getattr(self, name)
                setattr(self, name, a)
        return self.head, self.next, self.who, self.day, self.meta

    def clear(self) -> None:
        self.head[:] = -1
        self.meta[:] = (0, -1)


class NorthHouseholds:
    """The DPRK side's households, as arrays. Built by :func:`build_north_households`."""

    #: The arrays handed to the compiled passes, in this order (:meth:`arrays`; the ``H_`` constants index them).
    FIELDS = ("zone", "post", "leaf", "weight", "size", "kin", "contact", "belief", "criminal", "state", "trip", "crossings",
              "fear", "until")  # fmt: skip

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
        self.releases = Book(128)  # the days detentions end (a day without one costs a look-up)
        self._arrays: tuple | None = None

    def arrays(self) -> tuple:
        """The arrays (for compiled code), in the order of :attr:`FIELDS` (built once: the arrays are only ever
        written in place)."""
        if self._arrays is None:
            self._arrays = tuple(getattr(self, name) for name in self.FIELDS)
        return self._arrays

    def home_persons(self, trips: Trips) -> np.ndarray:
        """Persons of each household at home on the DPRK side (members abroad on an attached trip excluded)."""
        away = np.where(self.trip >= 0, trips.persons[np.maximum(self.trip, 0)], 0)
        return np.where(self.state == HState.EMPTY, 0, self.size - away)


(H_ZONE, H_POST, H_LEAF, H_WEIGHT, H_SIZE, H_KIN, H_CONTACT, H_BELIEF, H_CRIMINAL, H_STATE, H_TRIP, H_CROSSINGS, H_FEAR,
 H_UNTIL) = range(len(NorthHouseholds.FIELDS))  # fmt: skip


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

    #: The fields, in the order of :meth:`arrays` (the ``T_`` constants index them).
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
        self._arrays: tuple | None = None

    def reserve(self, k: int) -> None:
        """Room for ``k`` more trips (the arrays grow, at least doubling; new rows ended, not due)."""
        need = self.n + k
        cap = len(self.hh)
        if need <= cap:
            return
        new = max(need, 2 * cap)
        for name in self.FIELDS:
            a = getattr(self, name)
            b = np.zeros(new, dtype=a.dtype)
            b[:cap] = a
            setattr(self, name, b)
        self.state[cap:] = TState.ENDED
        self.due[cap:] = -1
        self._arrays = None

    def arrays(self) -> tuple:
        """The field arrays (for compiled code), in the order of :attr:`FIELDS` (built again when they grow: they
        are otherwise only ever written in place)."""
        if self._arrays is None:
            self._arrays = tuple(getattr(self, name) for name in self.FIELDS)
        return self._arrays

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


(T_HH, T_PERSONS, T_WEIGHT, T_LEAF, T_REASON, T_WHOLE, T_FEMALE, T_MARRIED, T_CHILDREN, T_DISASTER, T_CRIMINAL, T_SK,
 T_POLITICAL, T_REPEAT, T_ATTACHED, T_STATE, T_START, T_CAUGHT, T_DUE, T_KIND) = range(len(Trips.FIELDS))  # fmt: skip


def come_home(hh: NorthHouseholds, trips: Trips, idx: np.ndarray, today: int, contact_days: float) -> None:
    """Trips ``idx`` end with their members at home on the DPRK side (:func:`end_trips`)."""
    end_trips(hh.arrays(), trips.arrays(), np.asarray(idx, dtype=np.int64), today, float(contact_days))


def note_events(recorder, ev: np.ndarray, k: int) -> None:
    """Hand the first ``k`` events noted by a compiled pass (rows of measure, home region, value) to the recorder."""
    if k:
        recorder.add_events(ev[:k, 0].astype(np.intp), ev[:k, 1].astype(np.int64), ev[:k, 2])


# -- compiled helpers (numpy's operations of the code they replaced, in its order) ------------------------------
@njit(cache=True)
def room(ev, k, need):
    """The event array ``ev`` (rows of measure, home region, value; ``k`` used), or a larger copy, with room for
    ``need`` more rows."""
    if k + need <= len(ev):
        return ev
    out = np.empty((max(2 * len(ev), k + need), 3))
    out[:k] = ev[:k]
    return out


@njit(cache=True)
def emit(ev, k, measure, leaf, value):
    """Note an event in row ``k`` (room made by :func:`room`); returns the next row."""
    ev[k, 0] = measure
    ev[k, 1] = leaf
    ev[k, 2] = value
    return k + 1


@njit(cache=True)
def book_add(book, i, day):
    """Enter household ``i`` on ``day`` (a free entry is reused; room made by :meth:`Book.room`)."""
    head, nxt, who, dday, meta = book
    e = meta[1]
    if e >= 0:
        meta[1] = nxt[e]
    else:
        e = meta[0]
        meta[0] += 1
    s = day % len(head)
    who[e] = i
    dday[e] = day
    nxt[e] = head[s]
    head[s] = e


@njit(cache=True)
def book_count(book, today):
    """How many entries the book holds for ``today`` (at least as many as households due)."""
    head, nxt, who, dday, meta = book
    n = 0
    e = head[today % len(head)]
    while e >= 0:
        n += dday[e] == today
        e = nxt[e]
    return n


@njit(cache=True)
def book_due(book, today, scheduled):
    """The households entered for ``today`` whose ``scheduled`` day is today (sorted, unique: as
    :meth:`~bordersim.model.calendar.Calendar.due`); today's entries are freed, the slot's later days kept."""
    head, nxt, who, dday, meta = book
    s = today % len(head)
    out = np.empty(book_count(book, today), dtype=np.int64)
    n = 0
    e = head[s]
    head[s] = -1
    while e >= 0:
        after = nxt[e]
        if dday[e] == today:
            out[n] = who[e]
            n += 1
            nxt[e] = meta[1]
            meta[1] = e
        else:
            nxt[e] = head[s]
            head[s] = e
        e = after
    out = np.sort(out)
    keep = 0
    for j in range(n):
        i = out[j]
        if (j == 0 or i != out[j - 1]) and scheduled[i] == today:
            out[keep] = i
            keep += 1
    return out[:keep]


@njit(cache=True)
def new_trip(hh, tr, n, h, reason, persons, whole, female, today, state):
    """Trip ``n`` begins today from household ``h`` (as ``Trips.add`` and ``Northward._new_trips`` did: the
    household's weight, home region and criminal case, repeat if it had crossed before; it is away, its
    crossings counted); returns the next trip's row (room made by :meth:`Trips.reserve`)."""
    tr[T_HH][n] = h
    tr[T_PERSONS][n] = persons
    tr[T_WEIGHT][n] = hh[H_WEIGHT][h]
    tr[T_LEAF][n] = hh[H_LEAF][h]
    tr[T_REASON][n] = reason
    tr[T_WHOLE][n] = whole
    tr[T_FEMALE][n] = female
    tr[T_CRIMINAL][n] = hh[H_CRIMINAL][h]
    tr[T_REPEAT][n] = hh[H_CROSSINGS][h] > 0
    tr[T_ATTACHED][n] = True
    tr[T_STATE][n] = state
    tr[T_START][n] = today
    tr[T_CAUGHT][n] = -1
    hh[H_CROSSINGS][h] += 1
    hh[H_STATE][h] = AWAY
    hh[H_TRIP][h] = n
    return n + 1


@njit(cache=True)
def end_trips(hh, tr, idx, today, contact_days):
    """Trips ``idx`` end with their members at home on the DPRK side: a stay of ``contact_days`` or more leaves
    contacts in China (the work channel opens) and first-hand belief; an attached trip's household is home, a
    married woman or a resident coming back rejoins hers (numpy's order: all ended, contacts, the attached, then
    the others' members added and their empty households home again)."""
    size, state, trip, contact, belief = hh[H_SIZE], hh[H_STATE], hh[H_TRIP], hh[H_CONTACT], hh[H_BELIEF]
    t_hh, attached = tr[T_HH], tr[T_ATTACHED]
    for j in idx:
        tr[T_STATE][j] = ENDED
        if (today - tr[T_START][j]) >= contact_days:
            contact[t_hh[j]] = True
            belief[t_hh[j]] = 1.0
    for j in idx:
        if attached[j]:
            trip[t_hh[j]] = -1
            state[t_hh[j]] = HOME
    for j in idx:
        if not attached[j]:
            size[t_hh[j]] += tr[T_PERSONS][j]
    for j in idx:
        if not attached[j] and state[t_hh[j]] == EMPTY:
            state[t_hh[j]] = HOME
    for j in idx:
        attached[j] = False


@njit(cache=True)
def detach_trips(hh, tr, idx):
    """Trips ``idx`` leave their households (a marriage in China, a stay allowed): the members no longer count in
    the household, which is free to send someone again (or is empty if the whole household stays). A household
    has at most one attached trip, so numpy's whole-array steps are the same trip by trip."""
    size, state = hh[H_SIZE], hh[H_STATE]
    for j in idx:
        if tr[T_ATTACHED][j]:
            h = tr[T_HH][j]
            size[h] -= tr[T_PERSONS][j]
            hh[H_TRIP][h] = -1
            state[h] = HOME if size[h] > 0 else EMPTY
            tr[T_ATTACHED][j] = False


@njit(cache=True)
def detain_members(hh, book, h, today, days):
    """The DPRK detains a member of households ``h`` (those at home) for ``days`` (the household waits; it fears
    afterwards), in numpy's order: who is at home is read first, so a household listed twice is detained once,
    until its last listed day."""
    state, until = hh[H_STATE], hh[H_UNTIL]
    free = np.empty(len(h), dtype=np.bool_)
    for j in range(len(h)):
        free[j] = state[h[j]] == HOME
    for j in range(len(h)):
        if free[j]:
            state[h[j]] = DETAINED
            until[h[j]] = today + days[j]
    for j in range(len(h)):
        if free[j]:
            book_add(book, h[j], until[h[j]])
            hh[H_FEAR][h[j]] = True


@njit(cache=True)
def release_detained(hh, book, today):
    """Detentions ending today (``days`` >= 1: a detention ends on its day ``until``)."""
    state, until = hh[H_STATE], hh[H_UNTIL]
    for i in book_due(book, today, until):
        if state[i] == DETAINED:
            state[i] = HOME
            until[i] = -1
