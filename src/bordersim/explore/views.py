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
from .figures import View, flows_figure, lishu_figure, stocks_figure
from .map import map_figure
from .series import fmt_date, series
from .session import Snapshot
from .settings import LEVERS, Settings, resolve, rule_info, rule_values

TABS = ["Flows by province", "People in the DPRK", "Lishu (Doc 4)", "Map", "Rules in force", "Compare with the baseline", "About"]


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
    lever_rows = []
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
        lever_rows.append(
            f"<tr><td><code>{_E(path)}</code>{note}</td><td>{shown}</td>"
            f"<td>{_E(comment) or '<i>no comment in the file</i>'}</td></tr>"
        )
    docs = "".join(f"<li>{_E(d)}</li>" for d in info.documents)
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
        "(document and article):</p>"
        "<table class='bs-table'><tr><th>lever</th><th>value</th><th>the rule file says</th></tr>"
        + "".join(lever_rows)
        + "</table>"
        f"<p style='color:#555;font-size:90%'>Source: <code>src/bordersim/data/rules/{_E(now)}.yaml</code>. "
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
