"""Reading the monthly recorder: regions rolled up, measures picked, archival targets placed on months.

The recorder's array is months x home regions (leaves of the region tree) x measures; every count is
attributed to the origin region of the household and rolled up to every ancestor (counties to
Yanbian, Jilin and China), as in ``flows.csv``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from . import _bordersim as bs

MEASURE_NAMES = list(bs.MEASURES)
MEASURE_INDEX = {m: i for i, m in enumerate(MEASURE_NAMES)}

#: Measures kept for every background replicate (the band and the comparison).
KEPT = [
    "attempted",
    "detected",
    "stopped",
    "persuaded_back",
    "crossed",
    "crossed_detected",
    "settled",
    "sent_back",
    "repatriated",
    "returned_own",
    "drowned",
    "corpses_found",
    "legal_emigrated",
    "legal_approved",
    "travel_approved",
    "intending_households",
    "intending_households_food_kin",
    "intending_households_rumour",
    "intending_households_proper",
    "travel_applications",
    "travel_applications_food_kin",
    "travel_applications_rumour",
    "travel_applications_proper",
    "in_north_korea",
    "in_north_korea_illegal",
]
KEPT_INDEX = {m: i for i, m in enumerate(KEPT)}
STOCKS = {m for m, (_, kind, _) in bs.MEASURES.items() if kind == "stock"}


def rollup(region: str) -> np.ndarray:
    """0/1 weights of the home regions (leaves) under ``region``."""
    tree = bs.TREE
    return tree.rollup[tree.node_index[region]]


def series(data: np.ndarray, region: str, measure: str, kept: bool = False) -> np.ndarray:
    """Monthly values of ``measure`` for ``region`` from a (…, months, leaves, measures) array."""
    k = KEPT_INDEX[measure] if kept else MEASURE_INDEX[measure]
    return np.tensordot(data[..., k], rollup(region), axes=([data.ndim - 2], [0]))


def month_dates(months: list[str]) -> list[dt.date]:
    """Mid-month dates for plotting 'YYYY-MM' periods."""
    return [dt.date(int(m[:4]), int(m[5:7]), 15) for m in months]


def month_label(m: str) -> str:
    return dt.date(int(m[:4]), int(m[5:7]), 1).strftime("%B %Y")


def month_span(a: str, b: str) -> str:
    """'1961-01', '1961-04' -> 'Jan-Apr 1961'; across years 'Jan 1961-Mar 1962'; a whole year '1961'."""
    da, db = dt.date(int(a[:4]), int(a[5:7]), 1), dt.date(int(b[:4]), int(b[5:7]), 1)
    if da.year == db.year:
        if da.month == 1 and db.month == 12:
            return str(da.year)
        return f"{da:%b}-{db:%b} {da.year}"
    return f"{da:%b %Y}-{db:%b %Y}"


def fmt_date(d: dt.date | None) -> str:
    return "" if d is None else f"{d.day} {d.strftime('%B %Y')}"


# -- archival targets -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Mark:
    """An archival count drawn over its period: the figure, its monthly average and what the archive says."""

    id: str
    region: str
    measure: str
    start: str
    end: str
    value: float
    low: float | None
    high: float | None
    months: int
    observation: str
    role: str
    document: int
    quote: str
    kind: str
    #: Where the figure comes from: "dossier" (``document`` is its number, 0 the introduction) or "brief".
    source: str = "dossier"

    @property
    def per_month(self) -> float:
        return self.value / self.months

    def label(self) -> str:
        d = f"Doc {self.document}" if self.document else "Introduction"
        if self.observation == "interval" and self.low is not None:
            v = f"{self.low:,.0f}-{self.high:,.0f}"
        else:
            v = f"{self.value:,.0f}"
        if self.observation == "lower_bound":
            v = "over " + v
        per = f" ({self.per_month:,.0f}/month)" if self.months > 1 else ""
        span = month_label(self.start) if self.months == 1 else month_span(self.start, self.end)
        note = ", incomplete statistics" if self.observation == "undercount" else ""
        return f"{d}: {v} in {span}{per}{note}"


def default_targets_path() -> Path:
    return bs.PACKAGE_DIR.parents[1] / "calibration" / "targets.yaml"


@lru_cache(maxsize=4)
def marks(path: str | None = None) -> tuple[Mark, ...]:
    """Flow and stock targets with a value, as marks (shares and withheld figures are left out)."""
    p = Path(path) if path else default_targets_path()
    if not p.exists():
        return ()
    out = []
    for t in bs.load_targets(p):
        if t.kind == "share" or t.observed is None:
            continue
        a = dt.date(int(t.period.start[:4]), int(t.period.start[5:]), 1)
        b = dt.date(int(t.period.end[:4]), int(t.period.end[5:]), 1)
        n = (b.year - a.year) * 12 + b.month - a.month + 1
        o = t.observation
        out.append(
            Mark(
                t.id,
                t.region,
                t.measure,
                t.period.start,
                t.period.end,
                float(t.observed),
                o.low,
                o.high,
                n,
                o.type,
                t.role,
                t.document,
                t.quote,
                t.kind,
                t.source,
            )
        )
    return tuple(out)


@lru_cache(maxsize=4)
def withheld(path: str | None = None) -> tuple:
    """Validation targets whose figure is withheld: (id, region, measure, period start, period end)."""
    p = Path(path) if path else default_targets_path()
    if not p.exists():
        return ()
    return tuple((t.id, t.region, t.measure, t.period.start, t.period.end) for t in bs.load_targets(p) if t.observed is None)


@lru_cache(maxsize=4)
def shares(path: str | None = None) -> dict[str, float]:
    """Share targets by id (Doc 4's reason shares, interception shares)."""
    p = Path(path) if path else default_targets_path()
    if not p.exists():
        return {}
    return {t.id: float(t.value) for t in bs.load_targets(p) if t.kind == "share" and t.value is not None}
