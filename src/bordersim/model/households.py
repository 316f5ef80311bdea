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
whatever the number of households. The day a clock will fire is known when its hazard is set, and is
entered in the event calendar (:mod:`.calendar`), so a day on which nothing is due costs nothing.

Every draw is a common random number (:mod:`.streams`): a household's ``n``-th intention to move starts
its ``n``-th *journey*, whose row of uniforms (``Households.ju``, columns :data:`~.streams.JOURNEY`)
holds every draw until it is home again (reason, deliberation, route, preparation, crossing point,
guards, drowning, reception, settlement) and the threshold of its next move clock.

What follows a firing clock is the household's decision too (:class:`HouseholdDecision`): a household
that asks to move deliberates, then applies on an authorization letter if it holds one, prepares an
illegal crossing (``p_illegal``; some sell everything, Docs 3, 5) or gives up; after ``prep_days`` it
sets off for a crossing point. A household whose application is refused prepares to cross with
``p_illegal_after_refusal``. Those steps are compiled passes of the day's transitions (:mod:`.routes`).
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np

from ..world.geography import RegionTree
from ..world.scenario import Parameters
from . import clocks
from .blocks import FieldBlocks, Layout
from .calendar import Calendar
from .clocks import NEVER, _draw_reasons, _refresh_clocks
from .measures import MEASURE_INDEX
from .streams import JOURNEY, TRAVEL, Kind, Streams


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
#: States in which the household is present in China: at home, or deciding, applying or preparing to go
#: (its contacts meet it; it counts among those at home for the month-end averages).
PRESENT_STATES = np.concatenate([HOME_STATES, [State.INTENDING, State.APPLIED, State.PREPARING]])
#: Lookup tables: ``IS_HOME[state]`` is faster than ``np.isin``.
IS_HOME = np.isin(np.arange(len(State)), HOME_STATES)
IS_BACK = np.isin(np.arange(len(State)), BACK_STATES)
IS_NK = np.isin(np.arange(len(State)), NK_STATES)
IS_PRESENT = np.isin(np.arange(len(State)), PRESENT_STATES)


class Reason(IntEnum):
    FOOD_KIN = 0
    RUMOUR = 1
    PROPER = 2


REASON_NAMES = ["food_kin", "rumour", "proper"]
#: The intentions' measures: all, and by main reason (the recorder's indices, for the compiled pass).
_INTENDING = (
    MEASURE_INDEX["intending_households"],
    np.array([MEASURE_INDEX[f"intending_households_{r}"] for r in REASON_NAMES], dtype=np.int64),
)
#: "Never" as a day index.


#: The households' fields, one entry per household: ``{field: (dtype, value at the start)}``, held in one block per
#: dtype (:mod:`.blocks`; the compiled passes take the blocks and pick rows by :data:`HB` ... :data:`HU8`).
LAYOUT = Layout(
    {
        "leaf": (np.int16, 0),
        "weight": (np.float64, 1.0),  # households represented by this one (1/scale)
        "size": (np.int16, 0),  # living members
        "labourers": (np.int16, 0),
        "kin": (np.bool_, False),  # kin in the DPRK
        "han_single": (np.bool_, False),
        "nk_national": (np.bool_, False),
        "criminal": (np.bool_, False),  # pending criminal case or "five elements" (Docs 1 (3), 5; Doc 10 Art. 5)
        "brigade_u": (np.float64, 1.0),  # uniform draw of the household's brigade: poor if below the poor share
        "family_left": (np.bool_, False),  # close family stays behind if the household crosses
        "village": (np.int32, 0),
        "belief": (np.float64, 0.0),
        "property_sold": (np.bool_, False),
        "letter_held": (np.bool_, False),  # holds a DPRK authorization letter
        "state": (np.int8, 0),
        "due": (np.int32, -1),  # day of the next scheduled transition
        "since": (np.int32, 0),  # day the current state began
        "post": (np.int16, -1),
        "reason": (np.int8, -1),
        "disaster": (np.bool_, False),  # forced across by a disaster (Doc 10 Art. 1, 4)
        # The last crossing was discovered by Chinese guards (Doc 6's ledger follows "these" crossers' fates).
        "crossing_seen": (np.bool_, False),
        "screened": (np.bool_, False),  # screened at a reception station (Han men, send-back)
        "attempts": (np.int16, 0),
        "drowned": (np.int16, 0),
        "away": (np.int16, 0),  # members visiting the DPRK on a pass
        "away_until": (np.int32, -1),
        "stayed": (np.int16, 0),  # members who stayed in the DPRK after a visit
        # Competing-hazard clocks: cumulative hazard and Exp(1) thresholds.
        "clock_move": (np.float64, 0.0),
        "thresh_move": (np.float64, 0.0),
        "clock_travel": (np.float64, 0.0),
        "thresh_travel": (np.float64, 0.0),
        "h_move": (np.float64, 0.0),
        "h_travel": (np.float64, 0.0),
        # Clocks hold the hazard of days before ``sync``; ``next_*`` is the day each clock fires.
        "sync": (np.int32, 0),
        "next_move": (np.int32, NEVER),
        "next_travel": (np.int32, NEVER),
        # Common random numbers (:mod:`.streams`): the household's stable key, its counters of journeys, travel
        # applications and letters.
        "key": (np.uint64, 0),
        "journeys": (np.int32, 0),
        "travels": (np.int32, 0),
        "letters": (np.int32, 0),
        "letter_wait": (np.int32, 0),  # eligible weeks until the next authorization letter
    },
    "HH",
)
_BLOCK_DTYPES = tuple(np.dtype(t) for t in (np.bool_, np.int8, np.int16, np.int32, np.float64, np.uint64))
#: The rows of each block (:class:`enum.IntEnum`: constants to numba, ``state = i1[HI1.state]``).
HB, HI1, HI2, HI4, HF8, HU8 = (LAYOUT.rows[dt] for dt in _BLOCK_DTYPES)


class Households:
    """All households of a run, as arrays. Built by :func:`build_households`.

    Each field of :data:`LAYOUT` is an attribute, a view of its row in :attr:`fields` (:class:`.blocks.FieldBlocks`):
    numpy code reads and writes ``hh.state[idx]`` as a plain array, a compiled pass takes the blocks
    (:meth:`blocks`). Assigning to a field (``hh.belief = new``) writes into its row."""

    def __init__(self, n: int):
        self.n = n
        self.fields = FieldBlocks(n, LAYOUT)
        self.__dict__.update(self.fields.views())
        # The current journey's and travel application's uniforms (:mod:`.streams`), a row per household.
        self.ju = np.zeros((n, JOURNEY.width))  # widened by the build to one column per member (drowning)
        self.tu = np.zeros((n, TRAVEL.width))
        # The event calendars (:mod:`.calendar`): transitions due, clocks firing, passes expiring; and the
        # households whose state changed today (their hazards are refreshed at the end of the day).
        self.cal_due = Calendar()
        self.cal_move = Calendar()
        self.cal_travel = Calendar()
        self.cal_visit = Calendar()
        self.touched: list[np.ndarray] = []

    def __setattr__(self, name: str, value) -> None:
        if name in LAYOUT.where and name in self.__dict__:
            self.__dict__[name][...] = value  # a field keeps its row: the blocks see the new values
        else:
            object.__setattr__(self, name, value)

    def blocks(self) -> tuple[np.ndarray, ...]:
        """The fields' blocks, in the order of :data:`HB`, :data:`HI1`, :data:`HI2`, :data:`HI4`, :data:`HF8`,
        :data:`HU8` (bool, int8, int16, int32, float64, uint64)."""
        b = self.fields.blocks
        return tuple(b[dt] for dt in _BLOCK_DTYPES)

    def reorder(self, order: np.ndarray) -> None:
        """Store the households in ``order`` (at the build, before anything is scheduled). Fields still holding one
        value throughout (most of them at the build: the journeys' uniforms, the clocks, the counters) are their own
        reordering and are left as they are; the others are permuted in their rows (the blocks stay where they are)."""
        if not self.n:
            return
        for name, a in vars(self).items():
            if isinstance(a, np.ndarray) and a.shape[:1] == (self.n,) and not _constant(a):
                if name in LAYOUT.where:
                    np.take(a, order, out=a)  # buffered: the row is read whole before it is written
                else:
                    object.__setattr__(self, name, a[order])

    # -- bookkeeping -----------------------------------------------------------------------------
    def persons(self, idx: np.ndarray) -> np.ndarray:
        """Weighted persons of households ``idx``."""
        return self.weight[idx] * self.size[idx]

    def at_home(self) -> np.ndarray:
        return IS_HOME[self.state]

    def at_home_in(self, leaves: list[int]) -> np.ndarray:
        """Indices of the households at home in the home regions ``leaves``."""
        return np.flatnonzero(np.isin(self.leaf, leaves) & self.at_home())

    def present(self) -> np.ndarray:
        """Mask of the households present in China (see ``PRESENT_STATES``)."""
        return IS_PRESENT[self.state]

    def in_poor_brigade(self, idx, ctx) -> np.ndarray:
        """Are households ``idx`` in a brigade that can supply only the poor ration today (Doc 6)?"""
        return self.brigade_u[idx] < ctx.poor_share_leaf[self.leaf[idx]]

    def set_state(self, idx: np.ndarray, state: State, today: int, due: np.ndarray | int = -1) -> None:
        self.state[idx] = state
        self.since[idx] = today
        self.schedule(idx, due)
        self.touched.append(idx)

    def schedule(self, idx: np.ndarray, due: np.ndarray | int) -> None:
        """Households ``idx``'s next transition is due on day ``due`` (-1: none), entered in the calendar."""
        self.due[idx] = due
        if not isinstance(due, int) or due >= 0:
            self.cal_due.add(idx, due)

    def start_journey(self, idx: np.ndarray, streams: Streams) -> None:
        """Households ``idx`` set out to leave: their next journey's row of uniforms is drawn (the household's
        key and journey number), and the threshold of the move clock that will follow it (one compiled pass,
        :func:`.clocks.start_journeys`)."""
        clocks.start_journeys(
            np.asarray(idx, dtype=np.int64), self.key, self.journeys, self.ju, self.thresh_move, self.clock_move,
            self.h_move, self.next_move, streams.key_of(Kind.JOURNEY),
        )  # fmt: skip

    def reset_clocks(self, idx: np.ndarray) -> None:
        """Start a fresh move clock (after returning home or dropping an intention); its threshold was drawn
        with the journey that ended."""
        self.clock_move[idx] = 0.0
        self.h_move[idx] = 0.0
        self.next_move[idx] = NEVER

    def total_persons(self) -> float:
        return float(np.sum(self.weight * self.size))


class HouseholdDecision:
    """The household's decision to leave, in the order it happens: hazards, clocks, reasons, intentions
    (the route, legal, illegal or none, preparations and setting off follow in :mod:`.routes`).

    Given the households, the run's parameters, the region tree (crossing points, travel days), the
    recorder and the run's random streams; per call, the day, the day's context and the rules.
    """

    def __init__(self, households: Households, params: Parameters, tree: RegionTree, recorder, streams: Streams):
        self.hh = households
        self.params = params
        self.recorder = recorder
        self.streams = streams
        self.travel_days = tree.travel_days
        cum = np.cumsum(tree.post_weights, axis=1)
        #: Each home region's cumulative crossing-point weights (the route's choice of a post, :func:`.routes.set_offs`).
        self.post_cum = cum / cum[:, -1:]
        self._code_base: np.ndarray | None = None
        self._code_key = b""
        #: Clocks firing before this day are in the calendar; later ones are recomputed before they fire.
        self.horizon = 0

    # -- hazards -----------------------------------------------------------------------------------
    def _codes(self, idx, ctx) -> np.ndarray:
        """Each household's (home region, poor brigade, kin) group: the row of the hazard tables.

        Region, kin and brigade do not change during a run, and the poor brigades' share only on dated
        days: the groups of every household are computed once per poor share and looked up."""
        hh = self.hh
        key = ctx.poor_share_leaf.tobytes() if ctx.any_poor else b""
        if self._code_base is None or self._code_key != key:
            code = hh.leaf.astype(np.intp) * 4 + hh.kin
            if ctx.any_poor:
                code += 2 * hh.in_poor_brigade(slice(None), ctx)
            self._code_base, self._code_key = code, key
        return self._code_base[idx]

    def channels(self, idx, ctx, travel: bool = False) -> np.ndarray:
        """Hazard of each reason channel for households ``idx`` (shape: 3 x len(idx)), per day.

        ``ctx`` is the day's context (rations, risk, education, pull, parameters).
        """
        food_kin, rumour, proper = ctx.channels[int(travel)][:, self._codes(idx, ctx)]
        return np.vstack([food_kin, rumour * self.hh.belief[idx], proper])

    def hazards(self, idx, ctx) -> tuple[np.ndarray, np.ndarray]:
        """Total move and travel hazards of households ``idx``: the sums of :meth:`channels`.

        Within a (region, poor brigade, kin) group the hazard is affine in belief, so it is gathered from
        the channel tables: ``h = (food_kin + proper)[code] + rumour[code] * belief``, times the state's
        factor (at home; ``repeat_factor`` after an earlier attempt); travel needs a household at home with
        nobody away and two members or more. (:meth:`update_hazards` computes the same in its compiled pass.)
        """
        hh = self.hh
        code = self._codes(idx, ctx)
        belief = hh.belief[idx]
        state = hh.state[idx]
        (base_move, base_travel), (slope_move, slope_travel) = ctx.affine  # food_kin + proper; rumour per unit belief
        h_move = (slope_move[code] * belief + base_move[code]) * ctx.home_factor[state]
        h_travel = (slope_travel[code] * belief + base_travel[code]) * _can_travel(
            state, hh.away[idx], hh.size[idx], hh.stayed[idx]
        )
        return h_move, h_travel

    def update_hazards(self, ctx, today: int, idx=None) -> None:
        """Recompute both hazards for every household, or for households ``idx`` (when rations, risk, rules or
        beliefs change); clocks due before the next weekly update are entered in the calendar."""
        self.horizon = today - today % 7 + 7
        self.refresh(np.arange(self.hh.n) if idx is None else idx, ctx, today)

    def refresh(self, idx: np.ndarray, ctx, today: int) -> None:
        """Recompute the hazards of households ``idx`` (after their state changed, or at an update).

        Brings the clocks up to ``today`` under the old hazards, then sets the new ones and the firing days.
        Hazards are constant between updates, so the day a clock reaches its Exp(1) threshold is known in
        advance. Only clocks that reach it before the next weekly update (which recomputes every clock) get
        their day, entered in the calendar; the others are marked NEVER until then. The daily cost is a
        look-up, not a pass over every household. One compiled pass (:func:`_refresh_clocks`) per call.
        """
        hh = self.hh
        idx = np.asarray(idx, dtype=np.int64)
        (base_move, base_travel), (slope_move, slope_travel) = ctx.affine
        moves, travels = _refresh_clocks(
            idx, today, self.horizon, self._codes(slice(None), ctx), hh.belief, hh.state, hh.away, hh.size, hh.stayed,
            np.ascontiguousarray(base_move), np.ascontiguousarray(slope_move), np.ascontiguousarray(base_travel),
            np.ascontiguousarray(slope_travel), ctx.home_factor, IS_HOME, hh.sync,
            hh.clock_move, hh.h_move, hh.thresh_move, hh.next_move,
            hh.clock_travel, hh.h_travel, hh.thresh_travel, hh.next_travel,
        )  # fmt: skip
        hh.cal_move.add(moves, hh.next_move[moves], before=self.horizon)
        hh.cal_travel.add(travels, hh.next_travel[travels], before=self.horizon)

    # -- the clocks fire ---------------------------------------------------------------------------
    def fire(self, ctx, today: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The clocks that fire today. Returns (movers, their reasons, travellers, their reasons).

        A mover starts a journey (its row of uniforms, :meth:`Households.start_journey`); a traveller's
        application draws its row of :data:`~.streams.TRAVEL`; a household whose move clock fires does not also
        send a traveller today. One compiled pass (:func:`.clocks.fire`) once the calendars have said who.
        """
        hh = self.hh
        movers = hh.cal_move.due(today, hh.next_move)
        travellers = hh.cal_travel.due(today, hh.next_travel)
        if len(movers) == 0 and len(travellers) == 0:
            return movers, _NO_REASONS, travellers, _NO_REASONS
        move_table, travel_table = ctx.channels
        travellers, r_move, r_trav = clocks.fire(
            movers, travellers, today, self._codes(slice(None), ctx), hh.belief, move_table, travel_table, hh.key,
            hh.journeys, hh.ju, hh.thresh_move, hh.clock_move, hh.h_move, hh.next_move, self.streams.key_of(Kind.JOURNEY),
            hh.travels, hh.tu, hh.thresh_travel, hh.clock_travel, hh.h_travel, hh.next_travel,
            self.streams.key_of(Kind.TRAVEL),
        )  # fmt: skip
        return movers, r_move, travellers, r_trav

    def draw_reasons(self, idx, ctx, travel: bool, u: np.ndarray) -> np.ndarray:
        """Main reason of each event, drawn in proportion to the channels' hazards (``u``: the events' uniforms)."""
        if len(idx) == 0:
            return _NO_REASONS
        table = ctx.channels[int(travel)]  # as :meth:`channels`, in one compiled pass
        return _draw_reasons(np.asarray(idx, dtype=np.int64), self._codes(slice(None), ctx), self.hh.belief, table, u)

    # -- what a household does next ----------------------------------------------------------------
    def intend(self, idx: np.ndarray, reasons: np.ndarray, today: int) -> None:
        """Households ``idx`` ask to move (Doc 4's "requested a complete household move") and deliberate
        (one compiled pass, :func:`.clocks.intend`)."""
        hh = self.hh
        if len(idx) == 0:
            return
        ends, *events = clocks.intend(
            idx, reasons, today, 1.0 / self.params.deliberation_days, hh.ju, hh.leaf, hh.weight, hh.reason, hh.state,
            hh.since, hh.due, int(State.INTENDING), *_INTENDING,
        )  # fmt: skip
        self.recorder.add_events(*events)
        hh.cal_due.add(idx, ends)
        hh.touched.append(idx)


_NO_REASONS = np.zeros(0, dtype=np.int8)


def _constant(a: np.ndarray) -> bool:
    """Does ``a`` hold one value throughout (every row's bytes those of the first row: exact for any dtype, -0.0 and
    NaN included)?"""
    rows = np.ascontiguousarray(a).view(f"u{a.itemsize}").reshape(len(a), -1)
    return bool((rows == rows[:1]).all())


def channel_tables(p, hunger_ok, hunger_poor, propensity, push) -> np.ndarray:
    """The hazard formula (Doc 4's three reasons), once: each channel's coefficient by (home region, poor
    brigade, kin) group, for a move and for a travel application, for a block of days at once.

    Inputs are (days x home regions) arrays; ``push`` is the DPRK's pull x education x deterrence
    ``exp(-risk_aversion * risk)``. Rows: ``food_kin = rate * shortfall * kin * push``, ``rumour = rate *
    (shortfall + rumour_floor) * push`` (per unit of belief), ``proper = rate * kin``, each times the
    region's propensity. Returns (days, 2 [move, travel], 3 channels, codes); codes ``region * 4 + 2 * poor + kin``.
    """
    days, leaves = propensity.shape
    short = np.stack([hunger_ok, hunger_poor], axis=2)[:, :, :, None]  # days x leaf x poor x 1
    kin = np.array([0.0, 1.0])[None, None, None, :]  # 1 x 1 x 1 x kin
    prop = propensity[:, :, None, None]
    push = push[:, :, None, None]
    shape = (days, leaves, 2, 2)

    def table(a: float, b: float, c: float) -> np.ndarray:
        rows = (a * short * kin * push * prop, b * (short + p.rumour_floor) * push * prop, c * kin * prop)
        return np.stack([np.broadcast_to(r, shape).reshape(days, -1) for r in rows], axis=1)

    move = table(p.rate_food_kin, p.rate_rumour, p.rate_proper)
    travel = table(p.travel_rate_food_kin, p.travel_rate_rumour, p.travel_rate_proper)
    return np.stack([move, travel], axis=1)


def home_factor(p) -> np.ndarray:
    """By state: 0 away from home, ``repeat_factor`` after an earlier attempt, 1 otherwise."""
    return np.where(IS_BACK, p.repeat_factor, 1.0) * IS_HOME


def _can_travel(state, away, size, stayed) -> np.ndarray:
    """May a household send a traveller: at home, nobody away, two members or more who have not stayed?"""
    return IS_HOME[state] & (away == 0) & (size - stayed >= 2)
