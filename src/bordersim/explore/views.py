"""From a session's snapshot to what the page shows: headline numbers, figure PNGs (cached), rule tables.

Independent of Solara, so that the page stays a thin layer and all of this can be tested and
benchmarked without a browser. :class:`FigureCache` draws a figure only when what it shows has
changed, and can be filled from a background thread (the page's poller) so that drawing never
holds up a button press.
"""

from __future__ import annotations

import html
import threading
from dataclasses import dataclass
from pathlib import Path

import yaml

from . import _bordersim as bs
from .bands import Job
from .figures import BOTH_CAPTION, View, both_directions_figure, flows_figure, lishu_figure, stocks_figure
from .map import map_figure
from .series import STOCKS, fmt_date, month_label, series
from .session import Snapshot
from .settings import LEVERS, Settings, resolve, rule_info, rule_values

TABS = [
    "Flows by province",
    "People in the DPRK",
    "Both directions",
    "Lishu (Doc 4)",
    "Map",
    "Rules in force",
    "Compare with the baseline",
    "About",
]
#: The tabs showing a figure (drawn in the background by the page's poller).
FIGURE_TABS = TABS[:5]


def make_view(snap: Snapshot, band: Job | None, targets_path: str | None = None) -> View | None:
    if snap.data is None or snap.resolved is None:
        return None
    sc = snap.resolved.scenario
    switches = [(r.from_, r.use) for r in sc.rules]
    if targets_path is None and sc.targets:
        targets_path = str((Path(snap.resolved.entry.path).parent / sc.targets).resolve())
    return View(
        snap.months,
        snap.data,
        snap.month,
        snap.months_closed,
        snap.date,
        switches,
        band=band,
        title=sc.name,
        targets_path=targets_path,
    )


HEADLINE = [
    ("attempted", "attempted to cross"),
    ("detected", "discovered by guards"),
    ("stopped", "stopped at the border"),
    ("crossed", "got across"),
    ("settled", "settled by the DPRK"),
    ("sent_back", "sent back by the DPRK"),
    ("returned_own", "came home on their own"),
    ("drowned", "drowned"),
    ("legal_emigrated", "left legally"),
]


def headline(snap: Snapshot, region: str = "china") -> list[tuple[str, str]]:
    """Totals since the start of the run, and the stocks at the last month end."""
    if snap.data is None:
        return []
    out = [(label, f"{series(snap.data, region, m).sum():,.0f}") for m, label in HEADLINE]
    if snap.months_closed > 0:
        i = snap.months_closed - 1
        tot = series(snap.data, region, "in_north_korea")[i]
        ill = series(snap.data, region, "in_north_korea_illegal")[i]
        out.append(("in the DPRK illegally", f"{ill:,.0f}"))
        out.append(("in the DPRK legally or visiting", f"{max(tot - ill, 0):,.0f}"))
    return out


#: The both-directions panel's table: (label, measure, direction, a sub-row of the row above). Flows are totals
#: since the start of the run, stocks at the last month end reached.
BOTH_TABLE = [
    ("got across into the DPRK, illegally", "crossed", "south", False),
    ("got across into China, illegally", "crossed_north", "north", False),
    ("of whom had crossed before (repeat crossers)", "crossed_north_repeat", "north", True),
    ("North Koreans caught in China (Doc 1 (2), Doc 10 Art. 4)", "caught_china", "north", False),
    ("returned to the DPRK with identity information (Doc 10 Art. 4 (2))", "returned_with_identity_north", "north", True),
    ("returned to the DPRK without it", "returned_without_identity_north", "north", True),
    ("allowed to stay in China (Doc 1 (2), Doc 2 (3))", "stay_approved_north", "north", True),
    ("released (tolerated)", "released_north", "north", True),
    ("not illegal: forced across by a disaster, assisted (Doc 10 Art. 4 (1))", "assisted_north", "north", True),
    ("North Koreans who went home on their own", "returned_home_own_north", "north", False),
    ("North Koreans in China", "in_china_from_dprk", "north", False),
    ("of which illegally", "in_china_from_dprk_illegal", "north", True),
    ("crossers from China in the DPRK, illegally", "in_north_korea_illegal", "south", False),
]


@dataclass(frozen=True)
class BothRow:
    label: str
    measure: str
    direction: str  # "north" (DPRK to China) or "south"
    sub: bool
    #: "flow": total over the months so far; "stock": at the last month end reached (value None before the first).
    kind: str
    value: float | None


def both_directions(snap: Snapshot, region: str = "china") -> list[BothRow]:
    """The both-directions table: northward totals beside the southward crossings, and the stocks on each side."""
    if snap.data is None:
        return []
    out = []
    for label, m, direction, sub in BOTH_TABLE:
        y = series(snap.data, region, m)
        if m in STOCKS:
            value = float(y[snap.months_closed - 1]) if snap.months_closed > 0 else None
            out.append(BothRow(label, m, direction, sub, "stock", value))
        else:
            out.append(BothRow(label, m, direction, sub, "flow", float(y.sum())))
    return out


def both_html(snap: Snapshot) -> str:
    """What goes under the both-directions figure: its caption (the documents quoted) and the table, with periods and units."""
    rows = both_directions(snap)
    if not rows:
        return ""
    arrows = {"north": "&uarr; DPRK to China", "south": "&darr; China to the DPRK"}
    flow_head = f"{fmt_date(snap.start)} to {fmt_date(snap.date)}" if snap.date else "(the run has not started)"
    stock_head = (
        f"at the end of {month_label(snap.months[snap.months_closed - 1])}" if snap.months_closed > 0 else "(no month end yet)"
    )

    def tr(r: BothRow) -> str:
        v = "&ndash;" if r.value is None else f"{r.value:,.0f}"
        pad = " style='padding-left:22px'" if r.sub else ""
        return (
            f"<tr><td{pad}>{_E(r.label)}</td><td>{arrows[r.direction]}</td>"
            f"<td style='text-align:right'>{v}</td><td><code>{r.measure}</code></td></tr>"
        )

    return (
        f"<p class='bs-note' style='max-width:1150px;margin:2px 0 10px'>{_E(' '.join(BOTH_CAPTION.split()))}</p>"
        "<p style='margin:6px 0 2px'><b>Both directions, China as a whole</b> (persons, scaled back to the whole "
        f"population from scale {snap.settings.scale:g})</p>"
        "<table class='bs-table bs-both'>"
        f"<tr><th>flows: totals since the start of the run</th><th>direction</th><th>{_E(flow_head)}</th>"
        "<th>measure (flows.csv)</th></tr>"
        + "".join(tr(r) for r in rows if r.kind == "flow")
        + f"<tr><th>stocks</th><th></th><th>{_E(stock_head)}</th><th></th></tr>"
        + "".join(tr(r) for r in rows if r.kind == "stock")
        + "</table>"
    )


class FigureCache:
    """PNG bytes per tab, redrawn only when the key of what the tab shows changes."""

    def __init__(self):
        self._lock = threading.Lock()
        self._store: dict[str, tuple[object, bytes]] = {}

    def get(self, tab: str, key, draw) -> bytes:
        with self._lock:
            hit = self._store.get(tab)
        if hit is not None and hit[0] == key:
            return hit[1]
        data = draw()
        with self._lock:
            self._store[tab] = (key, data)
        return data

    def peek(self, tab: str):
        with self._lock:
            hit = self._store.get(tab)
        return hit[1] if hit else None

    def has(self, tab: str, key) -> bool:
        with self._lock:
            hit = self._store.get(tab)
        return hit is not None and hit[0] == key


def figure_key(tab: str, snap: Snapshot, band: Job | None, extra: tuple = ()) -> tuple:
    """What a tab's figure depends on: settings, how far the model is, the band's progress, the tab's own options."""
    b = (band.key, band.done) if band is not None else None
    return (tab, snap.settings, snap.today, snap.resolved is not None, b, extra)


def draw_tab(tab: str, snap: Snapshot, band: Job | None, map_measure: str = "crossed", map_window: str = "run") -> bytes | None:
    view = make_view(snap, band)
    if view is None:
        return None
    if tab == "Flows by province":
        return flows_figure(view)
    if tab == "People in the DPRK":
        return stocks_figure(view)
    if tab == "Both directions":
        return both_directions_figure(view)
    if tab == "Lishu (Doc 4)":
        return lishu_figure(view)
    if tab == "Map":
        return map_figure(
            snap.data, snap.months, snap.month, snap.resolved.scenario, map_measure, map_window, fmt_date(snap.start)
        )
    return None


# -- the rules tab ---------------------------------------------------------------------------------------

_E = html.escape


def rules_html(snap: Snapshot) -> str:
    """The run's rule timeline and the rule set in force, every lever with the comment citing it."""
    if snap.resolved is None:
        return ""
    sc = snap.resolved.scenario
    now = snap.rules_name
    rows = []
    for r in sc.rules:
        info = rule_info(r.use)
        cls = ' style="background:#fff3cd;font-weight:600"' if r.use == now else ""
        rows.append(f"<tr{cls}><td>{_E(fmt_date(r.from_))}</td><td><code>{_E(r.use)}</code></td><td>{_E(info.title)}</td></tr>")
    info = rule_info(now)
    page_levers = {lv.rule_path: lv for lv in LEVERS if lv.rule_path}
    overrides = sc.rule_overrides or {}
    lever_rows, north_rows = [], []
    for path, (value, comment) in info.levers.items():
        parts = path.split(".")
        in_force = snap.rules
        for p in parts:
            in_force = getattr(in_force, p, None) if in_force is not None else None
        written = yaml.safe_load(value) if value else None
        shown = _E(value)
        differs = (
            in_force is not None
            and not isinstance(in_force, (tuple, list))
            and written != in_force
            and not (
                isinstance(written, (int, float))
                and isinstance(in_force, (int, float))
                and abs(float(written) - float(in_force)) < 1e-12
            )
        )
        if differs:
            sec, name = parts[0], parts[-1]
            lv = page_levers.get((sec, name))
            if lv and snap.settings.lever(lv.key) is not None:
                who = "set on this page"
            elif f"rule_overrides.{path}" in snap.drawn or f"rule_set_overrides.{now}.{path}" in snap.drawn:
                who = "drawn from the calibration's posterior"
            elif name in overrides.get(sec, {}):
                who = "set by the scenario (rule_overrides)"
            else:
                who = "overridden"
            v = f"{in_force:.4g}" if isinstance(in_force, float) else str(in_force)
            shown = f"<b>{_E(v)}</b><br><small>file: {_E(value)}; {who}</small>"
        note = ""
        if (parts[0], parts[-1]) in page_levers and len(parts) == 2:
            note = (
                f' <span title="{_E(page_levers[(parts[0], parts[-1])].source)}" style="color:#2166ac">&#9679; page lever</span>'
            )
        (north_rows if parts[0] == "northward" else lever_rows).append(
            f"<tr><td><code>{_E(path)}</code>{note}</td><td>{shown}</td>"
            f"<td>{_E(comment) or '<i>no comment in the file</i>'}</td></tr>"
        )
    docs = "".join(f"<li>{_E(d)}</li>" for d in info.documents)
    head = "<table class='bs-table'><tr><th>lever</th><th>value</th><th>the rule file says</th></tr>"
    north = ""
    if north_rows:
        north = (
            "<p style='margin:10px 0 2px'><b>The northward direction</b>: what China does with North Koreans who cross "
            "into China, and Korean nationals in China (<code>northward</code>; Doc 1 (2), Doc 2 (3), Doc 10 Arts. 4-5, "
            "Doc 11 (6)-(9); for the 1990s readings, the introduction). The dossier counts no northward crossing, so "
            "every share and delay here is the rule file's reading, most of them assumed:</p>"
            + head
            + "".join(north_rows)
            + "</table>"
        )
    return (
        "<h3 style='margin:4px 0'>Rule timeline of this run</h3>"
        "<table class='bs-table'><tr><th>from</th><th>rule set</th><th>title</th></tr>" + "".join(rows) + "</table>"
        f"<h3 style='margin:14px 0 4px'>In force on {_E(fmt_date(snap.date) or fmt_date(snap.start))}: "
        f"<code>{_E(now)}</code></h3>"
        f"<p style='margin:2px 0'><b>{_E(info.title)}</b></p>"
        f"<p style='margin:2px 0;color:#555'>{_E(info.header)}</p>"
        f"<p style='margin:6px 0'>{_E(info.description)}</p>"
        f"<p style='margin:6px 0 2px'><b>Documents</b> (as quoted in the rule file):</p><ul style='margin:0'>{docs}</ul>"
        "<p style='margin:10px 0 2px'><b>Every lever of the rule set</b>, its value and the rule file's comment "
        "(document and article):</p>" + head + "".join(lever_rows) + "</table>" + north + "<p style='color:#555;font-size:90%'>"
        f"Source: <code>src/bordersim/world/data/rules/{_E(now)}.yaml</code>. "
        "A value set on this page applies under every rule set of the timeline.</p>"
    )


def lever_defaults(snap_settings: Settings, cat) -> dict[str, list[tuple[str, float]]]:
    """What the scenario and its rule files give each lever, without the page's values."""
    base = resolve(snap_settings.replace(levers=()), cat).scenario
    return {lv.key: rule_values(base, lv.key) for lv in LEVERS}


@dataclass
class CompareRow:
    label: str
    baseline: str
    this: str
    difference: str
    direction: str


def compare_rows(cmp) -> list[CompareRow]:
    out = []
    for r in cmp.rows:
        f = lambda q: f"{q[1]:,.0f} [{q[0]:,.0f} to {q[2]:,.0f}]"  # noqa: E731
        d = r["difference"]
        out.append(
            CompareRow(
                r["label"],
                f(r["baseline"]),
                f(r["this"]),
                f"{d[1]:+,.0f} [{d[0]:+,.0f} to {d[2]:+,.0f}]",
                f"{r['share_higher']:.0%} higher, {r['share_lower']:.0%} lower",
            )
        )
    return out


def drawn_text(snap: Snapshot) -> str:
    if not snap.drawn:
        return "No posterior: the scenario's own parameter values."
    return "; ".join(f"{k.split('.')[-1].replace('[0]', '')} = {v:.4g}" for k, v in snap.drawn.items())


def measure_unit(m: str) -> str:
    return bs.MEASURES[m][0]
