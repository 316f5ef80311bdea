"""The recorder of what happened: the measures and their monthly counts by home region.

The recorder accumulates every event of a run by month and home region, in persons (weighted back to
the full population when a run is scaled) unless a measure's name says households, applications or
letters. *Actual* measures (``attempted``, ``crossed``, ``drowned``) are what happened; *observed*
measures (``detected``, ``crossed_detected``, ``corpses_found`` and the nationality split) are what
Chinese border guards could have written down: Doc 3's "according to incomplete statistics ... we
discovered 4,701 people crossing", Doc 6's "found 243 corpses". The archival observation model
(undercount of what was discovered, conflicting reports) sits on top of these in
:mod:`bordersim.archive.observation`.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from .compiled import compiled
from .households import IS_NK, IS_PRESENT, NK_STATES, REASON_NAMES, Households, State
from .measures import AVERAGES, MEASURE_INDEX, MEASURES, NORTH_MEASURES, SOUTH_MEASURES  # noqa: F401  (re-exported)

#: States counted in the month-end stocks (``take_stock``).
ILLEGAL_STATES = [State.AT_RECEPTION, State.SETTLED]
PREP_STATES = [State.PREPARING, State.TRAVELLING]
TO_GO_STATES = [State.INTENDING, State.APPLIED, State.PREPARING, State.TRAVELLING]


def month_range(start: dt.date, end: dt.date) -> list[str]:
    out = []
    y, m = start.year, start.month
    while (y, m) <= (end.year, end.month):
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


class Recorder:
    """Monthly counts by home region and measure.

    :meth:`add` only notes the day's events; they are added into the month's counts in one pass
    (:meth:`flush`) when the month changes, at the month-end stocks, or when :attr:`data` is read.
    """

    def __init__(self, start: dt.date, end: dt.date, n_leaves: int):
        self.start = start
        self.months = month_range(start, end)
        self.n_leaves = n_leaves
        self._data = np.zeros((len(self.months), n_leaves, len(MEASURES)))
        self.month = 0
        self.weights_for_avg = np.zeros((len(self.months), n_leaves))
        self._events: list[tuple[int | np.ndarray, np.ndarray, np.ndarray | float]] = []

    @property
    def data(self) -> np.ndarray:
        """months x home regions x measures (every event noted so far included)."""
        self.flush()
        return self._data

    def set_day(self, day: dt.date) -> None:
        month = (day.year - self.start.year) * 12 + day.month - self.start.month
        if month != self.month:
            self.flush()
            self.month = month

    def add(self, measure: str, leaves: np.ndarray, values: np.ndarray | float) -> None:
        """Add ``values`` (per element, or one value for all) to ``measure`` at the elements' home regions."""
        if len(leaves):
            self._events.append((MEASURE_INDEX[measure], leaves, values))

    def add_events(self, measures: np.ndarray, leaves: np.ndarray, values: np.ndarray) -> None:
        """Add events of several measures at once (``measures``: one :data:`MEASURE_INDEX` value per element), as a
        compiled pass emits them. Two events of the same measure and home region are summed in the order they were
        noted, whether by :meth:`add` or here, so a compiled mechanism that notes them in the order of the calls it
        replaces gives the same sums to the bit."""
        if len(leaves):
            self._events.append((np.asarray(measures, dtype=np.intp), leaves, values))

    def flush(self) -> None:
        """Add the events noted since the last flush into the current month's counts (one bincount)."""
        events = self._events
        if not events:
            return
        m = len(MEASURES)
        lens = [len(leaves) for _, leaves, _ in events]
        cells = np.concatenate([leaves for _, leaves, _ in events]).astype(np.intp) * m
        kinds = [k for k, _, _ in events]
        cells += np.repeat(np.array([k if type(k) is int else 0 for k in kinds]), lens)
        bulk = [i for i, k in enumerate(kinds) if type(k) is not int]  # from add_events: one measure per element
        if bulk:
            at = np.cumsum([0, *lens])
            for i in bulk:
                cells[at[i] : at[i + 1]] += kinds[i]
        values = np.concatenate([v if type(v) is np.ndarray else np.full(len(leaves), v, dtype=float) for _, leaves, v in events])
        events.clear()
        size = self.n_leaves * m
        self._data[self.month] += np.bincount(cells, weights=values, minlength=size).reshape(self.n_leaves, -1)

    def add_by_reason(self, measure: str, leaves: np.ndarray, values: np.ndarray, reasons: np.ndarray) -> None:
        """Add to ``measure`` and, by each element's main reason, to ``measure_<reason>`` (Doc 4's three reasons)."""
        self.add(measure, leaves, values)
        for r, name in enumerate(REASON_NAMES):
            s = reasons == r
            self.add(f"{measure}_{name}", leaves[s], values[s])

    def set_stock(self, measure: str, leaves: np.ndarray, values: np.ndarray) -> None:
        self._data[self.month, :, MEASURE_INDEX[measure]] = np.bincount(leaves, weights=values, minlength=self.n_leaves)

    def take_stock(self, hh: Households, ctx) -> None:
        """The month-end stocks: who is in North Korea, at reception, preparing, in China; mean belief and ration.

        Persons and households are counted by (home region, state) in one pass each; the stocks are sums of
        states (``_STOCK_STATES``)."""
        self.flush()
        n_states = len(State)
        ration = ctx.effective_ration(hh.leaf, hh.in_poor_brigade(slice(None), ctx))
        persons, households, seen_illegal, abroad, belief_sum, ration_sum, present = _stock_sums(
            hh.leaf, hh.state, hh.weight, hh.size, hh.away, hh.stayed, hh.crossing_seen, hh.belief, ration,
            IS_NK, IS_PRESENT, self.n_leaves, n_states,
        )  # fmt: skip
        data, k = self._data[self.month], MEASURE_INDEX
        data[:, k["in_north_korea"]] = persons[:, NK_STATES].sum(axis=1) + abroad
        data[:, k["in_north_korea_illegal"]] = persons[:, ILLEGAL_STATES].sum(axis=1)
        data[:, k["in_north_korea_of_discovered"]] = seen_illegal[:, ILLEGAL_STATES].sum(axis=1)
        data[:, k["at_reception"]] = persons[:, State.AT_RECEPTION]
        data[:, k["preparing_stock_households"]] = households[:, PREP_STATES].sum(axis=1)
        data[:, k["preparing_to_go_households"]] = households[:, TO_GO_STATES].sum(axis=1)
        in_china = [s for s in range(n_states) if not IS_NK[s] and s != State.DROWNED]
        data[:, k["population_china"]] = persons[:, in_china].sum(axis=1) - abroad
        for measure, num in (("mean_belief", belief_sum), ("mean_ration", ration_sum)):
            data[:, k[measure]] = np.divide(num, present, out=np.zeros_like(num), where=present > 0)
        self.weights_for_avg[self.month] = present

    def table(self, tree, replicate: int):
        """The tidy monthly table (a pandas DataFrame): replicate, period, region, measure, value (every node of the tree)."""
        import pandas as pd

        d = self.data  # months x leaves x measures
        nodes = np.einsum("nl,tlm->tnm", tree.rollup, d)
        # Averages roll up with person weights, not by summing.
        w = self.weights_for_avg
        wn = np.einsum("nl,tl->tn", tree.rollup, w)
        for m in AVERAGES:
            k = MEASURE_INDEX[m]
            num = np.einsum("nl,tl->tn", tree.rollup, d[:, :, k] * w)
            nodes[:, :, k] = np.divide(num, wn, out=np.zeros_like(num), where=wn > 0)
        t, n, m = nodes.shape
        names = list(MEASURES)
        df = pd.DataFrame(
            {
                "replicate": np.full(t * n * m, replicate, dtype=np.int64),
                "period": np.repeat(self.months, n * m),
                "region": np.tile(np.repeat(tree.node_ids, m), t),
                "measure": np.tile(names, t * n),
                "value": np.round(nodes.reshape(-1), 3),
            }
        )
        return df


@compiled
def _stock_sums(leaf, state, weight, size, away, stayed, seen, belief, ration, is_nk, is_present, n_leaves, n_states):
    """The month-end sums in one pass over the households, by (home region, state): persons, households, persons
    whose crossing was discovered; by home region: members abroad on a pass or staying on (households not in
    the DPRK), and belief x persons, ration x persons and persons of the households present in China (the
    weights of the averages). Summed in the households' order, as ``numpy.bincount`` does."""
    persons = np.zeros((n_leaves, n_states))
    households = np.zeros((n_leaves, n_states))
    seen_persons = np.zeros((n_leaves, n_states))
    abroad = np.zeros(n_leaves)
    belief_sum = np.zeros(n_leaves)
    ration_sum = np.zeros(n_leaves)
    present = np.zeros(n_leaves)
    for i in range(len(leaf)):
        r, s, w = leaf[i], state[i], weight[i]
        wp = w * size[i]
        persons[r, s] += wp
        households[r, s] += w
        if seen[i]:
            seen_persons[r, s] += wp
        abroad[r] += w * (0 if is_nk[s] else away[i] + stayed[i])
        pw = wp * (1.0 if is_present[s] else 0.0)
        belief_sum[r] += belief[i] * pw
        ration_sum[r] += ration[i] * pw
        present[r] += pw
    return persons, households, seen_persons, abroad, belief_sum, ration_sum, present
