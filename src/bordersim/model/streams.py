"""Common random numbers: every random draw is a function of who draws, what for, and which time.

A uniform is ``hash(stream, kind, who, occurrence, column)``: a counter-based generator (the
technique of Starsim and of Salmon et al.'s Philox/Threefry), here the splitmix64 finalizer applied
twice in numpy, the uniform taken from the top 53 bits. Nothing is drawn "next" from a shared
sequence, so a draw does not depend on what other households drew before it, nor on how many of
them there are, nor on what the rules made them do: the same household facing the same situation
draws the same number in two runs that share a stream (common random numbers). A policy lever then
changes only the decisions it really affects, and the difference between two runs is the lever's
effect, not a reshuffle of every later draw.

* ``stream``: the replicate's seed (``numpy.random.SeedSequence`` spawning, as before), so the same
  scenario and seed give the same outputs at any worker count, and replicate ``i`` of two scenarios
  with the same seed share their streams.
* ``kind``: what the draw is for (:class:`Kind`).
* ``who``: a household's stable key, ``(home region, index within the region)`` (:func:`household_keys`),
  so that a change in one region's population does not shift another's; a village's key for its
  brigade; the absolute day (days since 1957-01-01) for events of the world that touch no household
  (DPRK residents drowning, DPRK women crossing to marry).
* ``occurrence``: a per-household counter of that kind (the household's ``n``-th intention to move,
  ``n``-th travel application, ``n``-th authorization letter), or the absolute day.
* ``column``: several numbers for one occurrence (a journey's deliberation, route, crossing point,
  guards, drowning of each member, reception...), see :data:`JOURNEY`.

A *journey* begins when a household sets out to leave: its move clock fires (an intention, Doc 4), a
letter makes it apply at once (Docs 6, 7), or a disaster forces it across (Doc 10 Art. 1). Its row
holds every draw until the household is home again, and the threshold of its next move clock.

Exponential, geometric, Poisson and binomial draws are inverse CDFs of these uniforms; binomials over
the members of a household use one uniform per member.
"""

from __future__ import annotations

import datetime as dt
import math
import zlib
from enum import IntEnum
from statistics import NormalDist

import numpy as np

from .compiled import compiled

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_OCC = np.uint64(0xD1B54A32D192ED03)
_S30, _S27, _S31, _S11, _S32 = (np.uint64(s) for s in (30, 27, 31, 11, 32))
#: Column offsets: any odd 64-bit constant times the column number keeps the columns' inputs apart.
_COLUMN = np.arange(1, 129, dtype=np.uint64) * np.uint64(0x8CB92BA72F3D8DD7)
_UNIT = 2.0**-53
#: Day 0 of the absolute day count that keys the world's events (the dossier starts in 1957).
EPOCH = dt.date(1957, 1, 1)


class Kind(IntEnum):
    """What a draw is for (one key per kind: two kinds never share a number)."""

    BUILD = 1  # a household's size, kin, nationality, criminal case, family left behind, first clocks
    MEMBERS = 2  # one uniform per member at the build (labourers)
    NETWORK = 3  # the household's place in its village, its village and kin contacts
    BRIGADE = 4  # a village's brigade standing (poor or not, Doc 6)
    LISHU = 5  # the adjustment of Lishu's sizes to exactly 936 people (Doc 4)
    JOURNEY = 6  # everything that follows the household's n-th intention to move (see JOURNEY)
    TRAVEL = 7  # the household's n-th travel application (see TRAVEL)
    LETTER = 8  # the household's n-th authorization letter and the application on it (see LETTER)
    WRITE = 9  # a settled household writes home this week (keyed by the day)
    PLACE = 10  # the order in which waiting households get a settlement place (keyed by the day)
    RUMOUR_SEED = 11  # chosen as a "bad element" by a rumour seed (keyed by the day)
    DISASTER = 12  # forced across by a disaster (keyed by the day)
    REPATRIATE = 13  # a settled household returned when a new regime forbids staying (keyed by the day)
    MARRIAGE = 14  # DPRK women crossing to marry (keyed by the day; no household)
    NK_DROWNING = 15  # DPRK residents drowned in the rivers and their corpses (keyed by the day; no household)


class Columns:
    """Named columns of one occurrence's row of uniforms."""

    def __init__(self, *names: str, members: int = 0):
        self.names = names
        for i, name in enumerate(names):
            setattr(self, name, i)
        #: First of the per-member columns (``members`` of them follow the named ones).
        self.MEMBER0 = len(names)
        self.width = len(names) + members

    def with_members(self, members: int) -> Columns:
        return Columns(*self.names, members=members)


#: A household's build: size, kin in the DPRK, DPRK nationality, criminal case, close family left behind
#: if it crosses, the Exp(1) thresholds of its first move and travel clocks, the weeks to its first
#: authorization letter, and (single Han men) its city.
BUILD = Columns("SIZE", "KIN", "NK_NATIONAL", "CRIMINAL", "FAMILY_LEFT", "THRESH_MOVE", "THRESH_TRAVEL", "LETTER_WAIT", "CITY")
#: A journey: what follows the household's n-th intention to move, in the order it happens (one row per
#: intention; the members' drowning draws follow the named columns).
JOURNEY = Columns(
    "REASON",  # main reason, in proportion to the channels (Doc 4)
    "NEXT_THRESH",  # the Exp(1) threshold of the next move clock
    "DELIBERATION",  # days deliberating
    "ROUTE",  # prepares an illegal crossing (p_illegal)
    "PROCESSING",  # days until an application on an authorization letter is decided (Docs 6, 7)
    "APPROVAL",  # the application approved
    "AFTER_REFUSAL",  # prepares one after a refused application (p_illegal_after_refusal)
    "PREPARATION",  # days preparing
    "SELL",  # sells everything (Docs 3, 5)
    "POST",  # the crossing point
    "GROUP",  # joins an organised group (Docs 3, 5)
    "NIGHT",  # crosses at night
    "DETECT",  # discovered by the guards
    "STOP",  # stopped
    "PERSUADE",  # persuaded home rather than detained (Doc 6)
    "CORPSES_FOUND",  # corpses of drowned members found (Doc 6)
    "CORPSES_IDENTIFIED",  # ... and identified
    "CORPSES_DELAY",  # days until they are found
    "SCREENING",  # days at the reception station
    "REPATRIATE",  # returned under a return obligation (Doc 10 Art. 4)
    "SEND_BACK",  # sent back (Docs 3, 5, 6)
    "STAY",  # time settled before going home on its own (Doc 6)
)
#: A travel application: reason, approval, staying on in the DPRK, the next travel clock's threshold.
TRAVEL = Columns("REASON", "APPROVAL", "OVERSTAY", "NEXT_THRESH")
#: An authorization letter: applying on it at once, and the eligible weeks until the next letter (after a
#: refusal takes this one away).
LETTER = Columns("APPLY_AT_ONCE", "NEXT_WAIT")


@compiled(inline="always")
def mix64(x):
    """The splitmix64 finalizer of one uint64 (a bijection with full avalanche); uint64 arithmetic wraps."""
    x ^= x >> _S30
    x *= _M1
    x ^= x >> _S27
    x *= _M2
    x ^= x >> _S31
    return x


@compiled
def _uniforms(who, occurrence, kind_key, cols):
    """Row ``i``: ``mix64(mix64(who[i] x golden + kind_key) + occurrence[i] x occ + column constant) >> 11``
    scaled to [0, 1), one column per constant (see :meth:`Streams.uniforms`)."""
    n = len(who)
    out = np.empty((n, cols))
    for i in range(n):
        a = mix64(who[i] * _GOLDEN + kind_key) + occurrence[i] * _OCC
        for c in range(cols):
            out[i, c] = (mix64(a + _COLUMN[c]) >> _S11) * _UNIT
    return out


def block_code(name: str) -> int:
    """A stable 32-bit code of a block of households (a home region's id): its CRC-32."""
    return zlib.crc32(name.encode())


def household_keys(code: int, n: int, first: int = 0) -> np.ndarray:
    """Keys ``(code, first), ..., (code, first + n - 1)``: a block's households by their index in the block."""
    return (np.uint64(code) << _S32) | np.arange(first, first + n, dtype=np.uint64)


def absolute_day(day: dt.date) -> int:
    return (day - EPOCH).days


class Streams:
    """The replicate's counter-based random numbers (see the module docstring).

    ``seed``: a ``numpy.random.SeedSequence`` (a replicate's) or an int.
    """

    def __init__(self, seed):
        ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
        words = ss.generate_state(len(Kind) + 1, np.uint64)
        #: One 64-bit key per kind, from the replicate's seed.
        self._kind_key = {k: np.uint64(words[i]) for i, k in enumerate(Kind)}
        #: The absolute day (days since :data:`EPOCH`) of the run's day 0: events keyed by the day use it.
        self.day0 = 0

    def uniforms(self, kind: Kind, who: np.ndarray, occurrence, cols: int = 1) -> np.ndarray:
        """Uniforms in [0, 1), shape ``(len(who), cols)``: row ``i`` belongs to ``(who[i], occurrence[i])``."""
        who = np.asarray(who, dtype=np.uint64)
        occurrence = np.asarray(occurrence, dtype=np.uint64)
        if occurrence.ndim == 0:  # one occurrence for all (np.full: cheaper than broadcast_to on small arrays)
            occurrence = np.full(len(who), occurrence, dtype=np.uint64)
        if cols > len(_COLUMN):
            raise ValueError(f"at most {len(_COLUMN)} uniforms per row (asked for {cols})")
        return _uniforms(who, occurrence, self._kind_key[kind], cols)

    def key_of(self, kind: Kind) -> np.uint64:
        """The 64-bit key of ``kind`` in this replicate (what a compiled pass passes to ``_uniforms``)."""
        return self._kind_key[kind]

    def uniform(self, kind: Kind, who: np.ndarray, occurrence) -> np.ndarray:
        """One uniform per ``(who, occurrence)`` (shape ``(len(who),)``)."""
        return self.uniforms(kind, who, occurrence, 1)[:, 0]


# -- distributions from uniforms (inverse CDFs) ------------------------------------------------------
def exponential(u: np.ndarray) -> np.ndarray:
    """Exp(1) from uniforms in [0, 1)."""
    return -np.log1p(-u)


def geometric(u: np.ndarray, p) -> np.ndarray:
    """Geometric on 1, 2, ... with success probability ``p`` (numpy's convention), from uniforms."""
    if np.ndim(p) == 0:
        p = float(p)
        if p >= 1.0:
            return np.ones(len(u), dtype=np.int64)
        k = np.log1p(-u)
        k *= 1.0 / math.log1p(-p)
        return np.floor(k).astype(np.int64) + 1
    p = np.asarray(p, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        k = np.floor(np.log1p(-u) / np.log1p(-np.minimum(p, 1.0)))
    return np.where(p >= 1.0, 1, k.astype(np.int64) + 1)


def poisson(u: np.ndarray, lam) -> np.ndarray:
    """Poisson(``lam``) by inversion (``lam`` small, as for daily counts of rare events)."""
    u = np.asarray(u, dtype=float)
    lam = np.broadcast_to(np.asarray(lam, dtype=float), u.shape)
    k = np.zeros(u.shape, dtype=np.int64)
    pmf = np.exp(-lam)
    cdf = pmf.copy()
    more = u >= cdf
    i = 0
    while more.any() and i < 1000:
        i += 1
        k += more
        pmf = pmf * lam / i
        cdf = cdf + pmf
        more &= u >= cdf
    return k


def binomial(u: np.ndarray, n: np.ndarray, p) -> np.ndarray:
    """Binomial(``n``, ``p``) by inversion: one uniform per draw (monotone in ``p`` and in ``n``)."""
    u = np.asarray(u, dtype=float)
    n = np.asarray(n, dtype=np.int64)
    p = float(p)
    if p <= 0.0 or not len(u):
        return np.zeros(len(u), dtype=np.int64)
    if p >= 1.0:
        return n.copy()
    big = n > 1000  # (1 - p) ** n would underflow: a normal approximation (only at scales below 0.01)
    if big.any():
        out = np.empty(len(u), dtype=np.int64)
        out[~big] = binomial(u[~big], n[~big], p)
        z = np.array([NormalDist().inv_cdf(min(max(x, 1e-12), 1 - 1e-12)) for x in u[big]])
        nb = n[big]
        out[big] = np.clip(np.rint(nb * p + z * np.sqrt(nb * p * (1 - p))), 0, nb)
        return out
    return _binomial(u, n, (1.0 - p) ** n, p / (1.0 - p))


@compiled
def _binomial(u, n, pmf0, r):
    """The inversion of :func:`binomial`, one draw at a time: from ``pmf = (1 - p) ** n`` (``pmf0``, numpy's power),
    ``pmf <- pmf (n - k) / (k + 1) r`` (``r = p / (1 - p)``) and ``k <- k + 1`` while ``u >= cdf`` and ``k < n``."""
    out = np.zeros(len(u), dtype=np.int64)
    for j in range(len(u)):
        pmf = pmf0[j]
        cdf = pmf
        k = 0
        while u[j] >= cdf and k < n[j]:
            pmf = pmf * (n[j] - k) / (k + 1) * r
            k += 1
            cdf = cdf + pmf
        out[j] = k
    return out


def members_below(u_members: np.ndarray, size: np.ndarray, p) -> np.ndarray:
    """How many of each household's ``size`` members drew below ``p`` (one uniform per member)."""
    m = u_members.shape[1]
    live = np.arange(m)[None, :] < np.asarray(size)[:, None]
    p = np.asarray(p, dtype=float)
    return ((u_members < (p[:, None] if p.ndim else p)) & live).sum(axis=1)
