"""The page's figures (matplotlib, object API only, so they can be drawn from any thread), as PNG bytes.

Every figure states its units, marks the date the run has reached, and draws the rule switches of
the run's timeline, so that a change of regime can be read off the curves. Archival counts are
drawn over the months they cover, at their monthly average, with the document they come from
(black: used in calibration; orange: held out for validation).
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass, field

import matplotlib

matplotlib.use("Agg")
import matplotlib.dates as mdates  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from .bands import Comparison, Job, quantiles  # noqa: E402
from .series import Mark, marks, month_dates, month_label, series, shares, withheld  # noqa: E402

RUN = "#b2182b"
RUN_OBS = "#2166ac"
BAND = "#969696"
CAL = "#111111"
VAL = "#e6550d"


@dataclass
class View:
    """What a figure needs: the run's months and data, how far it got, its rule switches, the band."""

    months: list[str]
    data: np.ndarray  # months x leaves x measures
    month: int  # month in progress (-1 before the start)
    closed: int  # months whose month end is reached
    date: dt.date | None
    switches: list[tuple[dt.date, str]]
    band: Job | None = None
    title: str = ""
    targets_path: str | None = None
    extra: dict = field(default_factory=dict)

    @property
    def dates(self) -> list[dt.date]:
        return month_dates(self.months)


def png(fig: Figure, dpi: int = 90) -> bytes:
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def _axis_dates(ax, view: View, labels: bool = True) -> None:
    d0, d1 = view.dates[0], view.dates[-1]
    years = (d1 - d0).days / 365.25
    if years > 4:
        ax.xaxis.set_major_locator(mdates.YearLocator())
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y"))
    else:
        ax.xaxis.set_major_locator(mdates.MonthLocator(bymonth=(1, 4, 7, 10)))
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%b\n%Y"))
    ax.set_xlim(dt.date(d0.year, d0.month, 1), d1 + dt.timedelta(days=16))
    ax.tick_params(labelbottom=labels, labelsize=8)
    ax.grid(alpha=0.25)


def _switch_lines(ax, view: View, label: bool) -> None:
    for day, name in view.switches[1:]:
        if view.dates[0] <= day <= view.dates[-1] + dt.timedelta(days=16):
            ax.axvline(day, color="#555555", lw=0.8, ls=":", zorder=1)
            if label:
                ax.annotate(
                    name,
                    (day, 1.0),
                    xycoords=("data", "axes fraction"),
                    xytext=(2, -2),
                    textcoords="offset points",
                    fontsize=7,
                    color="#333333",
                    va="top",
                    rotation=0,
                )
    if view.date is not None:
        ax.axvline(view.date, color=RUN, lw=1.0, alpha=0.6, zorder=1)


def _run_line(ax, view: View, y: np.ndarray, color: str, ls: str = "-", label: str | None = None, stock: bool = False) -> None:
    """The run so far: complete months as a line; the month in progress (flows only) as an open dot."""
    dates = view.dates
    n = view.closed
    if n > 0:
        ax.plot(dates[:n], y[:n], color=color, ls=ls, lw=1.8, label=label, zorder=4)
    elif label:
        ax.plot([], [], color=color, ls=ls, lw=1.8, label=label)
    if not stock and n <= view.month < len(dates):
        ax.plot([dates[view.month]], [y[view.month]], marker="o", mfc="white", mec=color, ms=5, ls="none", zorder=5)
        if n > 0:
            ax.plot(dates[n - 1 : view.month + 1], y[n - 1 : view.month + 1], color=color, ls=":", lw=1.0, zorder=4)


def _band(ax, view: View, region: str, measure: str) -> bool:
    if view.band is None or view.band.done < min(view.band.total, 5):
        return False
    q = quantiles(view.band, region, measure)
    if q is None:
        return False
    bm, arr = q
    idx = {m: i for i, m in enumerate(bm)}
    sel = [(d, idx[m]) for d, m in zip(view.dates, view.months) if m in idx]
    if not sel:
        return False
    ds = [d for d, _ in sel]
    ii = [i for _, i in sel]
    ax.fill_between(ds, arr[0, ii], arr[2, ii], color=BAND, alpha=0.35, lw=0, zorder=2, step=None)
    return True


def _marks(ax, view: View, region: str, measures: tuple[str, ...], style: str = "-") -> list[Mark]:
    shown = []
    for mk in marks(view.targets_path):
        if mk.region != region or mk.measure not in measures:
            continue
        a = dt.date(int(mk.start[:4]), int(mk.start[5:]), 1)
        b = dt.date(int(mk.end[:4]), int(mk.end[5:]), 28)
        if b < dt.date(int(view.months[0][:4]), int(view.months[0][5:]), 1) or a > view.dates[-1]:
            continue
        col = CAL if mk.role == "calibration" else VAL
        if mk.kind == "stock":
            ax.plot([dt.date(a.year, a.month, 15)], [mk.value], marker="D", color=col, ms=6, zorder=6, ls="none")
        elif mk.observation == "interval" and mk.low is not None:
            ax.fill_between([a, b], mk.low / mk.months, mk.high / mk.months, color=col, alpha=0.3, lw=0, zorder=5)
        else:
            ax.hlines(mk.per_month, a, b, color=col, lw=2.6, zorder=6, linestyles=style)
            if mk.months == 1:
                ax.plot([dt.date(a.year, a.month, 15)], [mk.value], marker="D", color=col, ms=5, zorder=6, ls="none")
        shown.append(mk)
    return shown


def _mark_notes(ax, shown: list[Mark], y0: float = 0.96) -> None:
    """List the archival counts drawn in a panel, in its upper left corner, in their colours."""
    for k, mk in enumerate(shown):
        ax.text(
            0.01,
            y0 - 0.13 * k,
            mk.label(),
            transform=ax.transAxes,
            fontsize=6.8,
            va="top",
            zorder=7,
            color=CAL if mk.role == "calibration" else VAL,
            bbox={"facecolor": "white", "alpha": 0.75, "edgecolor": "none", "pad": 0.6},
        )


#: Rows of the flows figure: (main measure, label, observed companion or None, its label).
FLOW_ROWS = [
    ("attempted", "attempted to cross", None, None),
    ("detected", "discovered by Chinese guards (observed)", None, None),
    ("stopped", "stopped at the border", "persuaded_back", "of whom persuaded to go home"),
    ("crossed", "got across alive", "crossed_detected", "of whom seen crossing by the guards"),
    ("settled", "settled by the DPRK", None, None),
    ("sent_back", "sent back by the DPRK", "sent_back_of_discovered", "of whom seen crossing (Doc 6's ledger)"),
    ("returned_own", "came home on their own", "returned_own_of_discovered", "of whom seen crossing (Doc 6's ledger)"),
    ("drowned", "drowned in the Yalu and Tumen", "corpses_found", "corpses found (observed)"),
]


def flows_figure(
    view: View,
    provinces=(
        ("jilin", "Jilin (Yanbian and Tonghua border counties)"),
        ("liaoning", "Liaoning (Andong and the cities crossing there)"),
    ),
) -> bytes:
    n = len(FLOW_ROWS)
    fig = Figure(figsize=(13, 1.55 * n + 1.3))
    axes = fig.subplots(n, len(provinces), sharex=True, squeeze=False)
    band_drawn = False
    marks_drawn = {"calibration": False, "validation": False}
    for j, (region, title) in enumerate(provinces):
        for i, (m, label, obs, obs_label) in enumerate(FLOW_ROWS):
            ax = axes[i, j]
            band_drawn |= _band(ax, view, region, m)
            _run_line(ax, view, series(view.data, region, m), RUN, label="this run" if (i, j) == (0, 0) else None)
            if obs:
                _run_line(ax, view, series(view.data, region, obs), RUN_OBS, ls="--", label=obs_label)
            shown = _marks(ax, view, region, (m, obs) if obs else (m,))
            for mk in shown:
                marks_drawn[mk.role] = True
            _mark_notes(ax, shown, y0=0.96 if i else 0.80)
            _switch_lines(ax, view, label=i == 0)
            _axis_dates(ax, view, labels=i == n - 1)
            ax.set_ylim(bottom=0)
            ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:,.0f}"))
            ax.tick_params(axis="y", labelsize=7.5)
            ax.set_title(label + (f"  (dashed blue: {obs_label})" if obs else ""), loc="left", fontsize=9, pad=2)
            if j == 0:
                ax.set_ylabel("persons\nper month", fontsize=7.5)
        axes[0, j].text(0.0, 1.32, title, transform=axes[0, j].transAxes, fontsize=11, fontweight="bold", va="bottom")
    handles = [matplotlib.lines.Line2D([], [], color=RUN, lw=1.8, label="this run (open dot: month in progress)")]
    if band_drawn:
        b = view.band
        handles.append(
            matplotlib.patches.Patch(
                color=BAND, alpha=0.35, label=f"calibrated baseline, 5-95% of {b.done} replicates at scale {b.settings.scale:g}"
            )
        )
    if marks_drawn["calibration"]:
        handles.append(
            matplotlib.lines.Line2D(
                [], [], color=CAL, lw=2.6, label="archival count, monthly average over its period (calibration)"
            )
        )
    if marks_drawn["validation"]:
        handles.append(matplotlib.lines.Line2D([], [], color=VAL, lw=2.6, label="archival count held out (validation)"))
    handles.append(matplotlib.lines.Line2D([], [], color="#555555", ls=":", lw=0.8, label="rule switch"))
    fig.legend(handles=handles, loc="upper center", ncol=3, fontsize=8.5, frameon=False, bbox_to_anchor=(0.5, 0.995))
    fig.subplots_adjust(left=0.07, right=0.99, top=1 - 1.05 / (1.55 * n + 1.3), bottom=0.04, hspace=0.42, wspace=0.12)
    return png(fig)


def stocks_figure(view: View) -> bytes:
    """People from China in the DPRK at month end: illegal crossers and the legal or visiting rest."""
    fig = Figure(figsize=(13, 4.6))
    axes = fig.subplots(1, 2, sharex=True)
    for ax, (region, title) in zip(axes, [("jilin", "Jilin"), ("liaoning", "Liaoning")]):
        n = view.closed
        d = view.dates[:n]
        total = series(view.data, region, "in_north_korea")[:n]
        illegal = series(view.data, region, "in_north_korea_illegal")[:n]
        legal = np.maximum(total - illegal, 0)
        if n:
            ax.stackplot(
                d,
                illegal,
                legal,
                colors=["#d6604d", "#4393c3"],
                alpha=0.85,
                labels=["crossed illegally (at reception or settled)", "legal emigrants and visitors"],
            )
        else:
            ax.plot([], [])
        if view.band is not None and view.band.done >= min(view.band.total, 5):
            q = quantiles(view.band, region, "in_north_korea_illegal")
            if q:
                idx = {m: i for i, m in enumerate(q[0])}
                sel = [(dd, idx[m]) for dd, m in zip(view.dates, view.months) if m in idx]
                if sel:
                    ax.plot([s[0] for s in sel], q[1][0, [s[1] for s in sel]], color="#67001f", lw=0.9, ls="--")
                    ax.plot(
                        [s[0] for s in sel],
                        q[1][2, [s[1] for s in sel]],
                        color="#67001f",
                        lw=0.9,
                        ls="--",
                        label="illegal crossers, calibrated baseline 5-95%",
                    )
        shown = _marks(ax, view, region, ("in_north_korea_illegal", "in_north_korea_of_discovered"))
        for mk in shown:  # the archival stocks join the legend, so nothing is written over the curves
            col = CAL if mk.role == "calibration" else VAL
            ax.plot(
                [],
                [],
                marker="D",
                ls="none",
                color=col,
                label=mk.label().replace(" in ", " crossers still in the DPRK, end of ", 1),
            )
        _switch_lines(ax, view, label=True)
        _axis_dates(ax, view)
        ax.set_ylim(bottom=0)
        ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:,.0f}"))
        ax.set_title(f"{title}: people from China in the DPRK at month end", loc="left", fontsize=10)
        ax.set_ylabel("persons")
        ax.legend(loc="upper left", fontsize=8, frameon=False)
    fig.tight_layout()
    return png(fig)


def lishu_figure(view: View) -> bytes:
    """Doc 4's Lishu study: household move requests and travel applications by main reason."""
    fig = Figure(figsize=(13, 4.4))
    axes = fig.subplots(1, 2, sharex=True)
    reasons = [
        ("food_kin", "low ration and kin in the DPRK", "#2166ac"),
        ("rumour", "rumours", "#b2182b"),
        ("proper", "proper reasons (elderly, spouses, the sick)", "#1a9850"),
    ]
    dates = view.dates
    n = max(0, view.month + 1)
    w = 20 if len(dates) < 40 else max(3, int(600 / len(dates)))
    for ax, base, unit, title in [
        (axes[0], "intending_households", "households", "household requests to move"),
        (axes[1], "travel_applications", "persons", "individual applications to travel"),
    ]:
        bottom = np.zeros(n)
        for r, lab, col in reasons:
            y = series(view.data, "lishu", f"{base}_{r}")[:n]
            ax.bar(dates[:n], y, width=w, bottom=bottom, color=col, label=lab, alpha=0.9)
            bottom = bottom + y
        shown = False
        for mk in marks(view.targets_path):
            if mk.region == "lishu" and mk.measure == base and mk.months == 1:
                day = dt.date(int(mk.start[:4]), int(mk.start[5:]), 15)
                if dates[0] <= day <= dates[-1]:
                    ax.plot(
                        [day],
                        [mk.value],
                        marker="D",
                        color=CAL if mk.role == "calibration" else VAL,
                        ms=7,
                        ls="none",
                        label="Doc 4's count" if not shown else None,
                        zorder=6,
                    )
                    ax.annotate(f"{mk.value:,.0f}", (day, mk.value), xytext=(5, 2), textcoords="offset points", fontsize=8)
                    shown = True
        for _id, region, measure, a, _b in withheld(view.targets_path):
            if region == "lishu" and measure == base:
                day = dt.date(int(a[:4]), int(a[5:]), 15)
                if dates[0] <= day <= dates[-1]:
                    ax.axvline(day, ymin=0, ymax=0.5, color=VAL, lw=0.8, ls="--")
                    ax.annotate(
                        "withheld by the\neditors (to predict)",
                        (day, 0.5),
                        xycoords=("data", "axes fraction"),
                        xytext=(3, 0),
                        textcoords="offset points",
                        fontsize=7,
                        color=VAL,
                        ha="left",
                        va="bottom",
                    )
        _switch_lines(ax, view, label=False)
        _axis_dates(ax, view)
        if len(dates) <= 40:
            pass
        ax.set_ylabel(f"{unit} per month")
        ax.set_title(f"Lishu: {title}, by main reason", loc="left", fontsize=10)
        ax.legend(fontsize=8, frameon=False, loc="upper right")
    # Doc 4's January 1961 shares against the run's
    sh = shares(view.targets_path)
    jan = "1961-01"
    txt = []
    if jan in view.months and view.months.index(jan) <= view.month:
        i = view.months.index(jan)
        tot = series(view.data, "lishu", "intending_households")[i]
        if tot > 0:
            for r, lab, _ in reasons:
                doc = sh.get(f"lishu_1961_01_household_share_{r}")
                run = series(view.data, "lishu", f"intending_households_{r}")[i] / tot
                if doc is not None:
                    txt.append(f"{lab.split(' (')[0]}: Doc 4 {doc:.0%}, this run {run:.0%}")
    fig.suptitle(
        "Lishu Administrative Area, Dehua Commune, Helong County (Doc 4: 192 households, 936 people; always simulated whole)",
        fontsize=10,
    )
    if txt:
        fig.text(0.5, 0.01, "Household requests of January 1961 by main reason: " + "; ".join(txt), ha="center", fontsize=9)
    fig.tight_layout(rect=(0, 0.05 if txt else 0, 1, 0.97))
    return png(fig)


def compare_figure(cmp: Comparison, labels: dict[str, str]) -> bytes:
    """Monthly paired differences, this setting minus the baseline: median and 5-95% over pairs."""
    ms = ["crossed", "settled", "sent_back", "returned_own", "in_north_korea_illegal", "in_north_korea"]
    fig = Figure(figsize=(13, 5.8))
    axes = fig.subplots(2, 3, sharex=True).ravel()
    dates = month_dates(cmp.months)
    for ax, m in zip(axes, ms):
        q = cmp.monthly[m]
        ax.fill_between(dates, q[0], q[2], color="#4393c3", alpha=0.3, lw=0, label="5-95% of pairs")
        ax.plot(dates, q[1], color="#08519c", lw=1.8, label="median difference")
        ax.axhline(0, color="black", lw=0.8)
        ax.set_title(labels.get(m, m).replace(" at the end", " (at month end)"), loc="left", fontsize=9.5)
        ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:+,.0f}"))
        ax.grid(alpha=0.25)
        ax.tick_params(labelsize=8)
        years = (dates[-1] - dates[0]).days / 365.25
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y" if years > 4 else "%b\n%Y"))
        if years <= 4:
            ax.xaxis.set_major_locator(mdates.MonthLocator(bymonth=(1, 7)))
    for ax in axes[::3]:
        ax.set_ylabel("persons (per month;\nstocks at month end)", fontsize=8)
    axes[0].legend(fontsize=8, frameon=False)
    fig.suptitle(
        f"This setting minus the calibrated baseline, replicate by replicate "
        f"({cmp.pairs} pairs with the same seeds and parameter draws), China",
        fontsize=10,
    )
    fig.tight_layout()
    return png(fig)


# -- both directions (issue 15) ---------------------------------------------------------------------------

NORTH = "#2166ac"
SOUTH = "#b2182b"
#: Rows of the both-directions figure: (title, unit, [(measure, label, colour, line style)]).
BOTH_ROWS = [
    (
        "Crossings each way: illegal, alive",
        "persons per month",
        [
            ("crossed", "southward: from China into the DPRK", SOUTH, "-"),
            ("crossed_north", "northward: from the DPRK into China (incl. Doc 2's women crossing to marry)", NORTH, "-"),
            ("crossed_north_repeat", "of whom had crossed before (repeat crossers)", NORTH, "--"),
        ],
    ),
    (
        "North Koreans caught in China, and what China does with them",
        "persons per month",
        [
            ("caught_china", "caught in China, at the river or inland (Doc 1 (2), Doc 10 Art. 4)", "#252525", "-"),
            (
                "returned_with_identity_north",
                "returned to the DPRK with identity information (Doc 10 Art. 4 (2))",
                "#8c510a",
                "-",
            ),
            ("returned_without_identity_north", "returned without it (before the 1964 Protocol)", "#8c510a", "--"),
            (
                "stay_approved_north",
                "allowed to stay: return 'inconvenient' (Doc 1 (2)), or to marry (Doc 2 (3))",
                "#762a83",
                "-",
            ),
            ("released_north", "caught and released (tolerated)", "#1b7837", "-"),
            ("assisted_north", "not illegal: forced across by a disaster, assisted (Doc 10 Art. 4 (1))", "#35978f", ":"),
            ("returned_home_own_north", "went home on their own (may cross again)", "#e08214", ":"),
        ],
    ),
    (
        "Stocks on each side",
        "persons at month end",
        [
            ("in_china_from_dprk", "North Koreans in China (at large, in custody, visiting, staying)", NORTH, "-"),
            ("in_china_from_dprk_illegal", "of which illegally (at large or in custody)", NORTH, "--"),
            ("in_north_korea_illegal", "crossers from China in the DPRK (illegally; at reception or settled)", SOUTH, "-"),
        ],
    ),
]
BOTH_CAPTION = (
    "Doc 1 (2), 17 December 1957: 'For [North] Korean citizens who have illegally crossed the border into China, we should, "
    "in principle, repatriate them'; if 'it is indeed inconvenient' for some to return, they may stay\n"
    "'after the approval of the [North] Korean side'.   Doc 10 Arts. 4-5, the Protocol of 9 June 1964: 'Illegal border "
    "crossers will be returned to the other side with information on their identity and specific situation';\n"
    "'those who were forced to cross the border as a result of a disaster will not be treated as illegal border crossers' "
    "(Art. 4 (1)); 'Elements that cross the border after committing crimes should be returned' (Art. 5 (1)).\n"
    "Doc 11 (6), 19 August 1970: 'those who illegally cross the border will, in principle, be repatriated in a timely "
    "manner'.   The dossier counts no northward crossing: the northward levers are the rule files' readings\n"
    "(tab 'Rules in force'), most of them assumed.   Northward counts are placed at the Chinese region of the crossing "
    "point, southward ones at the crossers' home region.   Vertical scales: logarithmic above 10 persons."
)
#: The figure's own footnote (the quotations are in the caption under it, :data:`BOTH_CAPTION`).
BOTH_FOOTNOTE = (
    "Sources: Doc 1 (2), 1957; Doc 10 Arts. 4-5, the 1964 Protocol; Doc 11 (6), 1970 (quoted under the figure). The dossier "
    "counts no northward crossing: the northward levers are the rule files' readings, most of them assumed.\n"
    "Northward counts are placed at the Chinese region of the crossing point, southward ones at the crossers' home region. "
    "Vertical scales: logarithmic above 10 persons."
)
#: Runs longer than this many months draw the treatment row as yearly averages (monthly counts of a few
#: dozen, at a small scale, are mostly sampling noise over twenty years).
LONG_RUN_MONTHS = 72


def _stock_marks(ax, view: View, region: str, measures: tuple[str, ...]) -> list[Mark]:
    """Archival stocks (the 1990s validation intervals): a diamond at the month, with the interval as a bar."""
    shown = []
    for mk in marks(view.targets_path):
        if mk.region != region or mk.measure not in measures or mk.kind != "stock":
            continue
        if mk.start not in view.months:
            continue
        day = view.dates[view.months.index(mk.start)]
        col = CAL if mk.role == "calibration" else VAL
        if mk.observation == "interval" and mk.low is not None:
            ax.vlines(day, mk.low, mk.high, color=col, lw=3.0, alpha=0.8, zorder=6)
            ax.plot([day, day], [mk.low, mk.high], marker="_", ms=10, mew=2, color=col, ls="none", zorder=6)
        else:
            ax.plot([day], [mk.value], marker="D", color=col, ms=6, zorder=6, ls="none")
        shown.append(mk)
    return shown


def _stock_mark_label(mk: Mark) -> str:
    """'published estimates (the brief), Dec 2000: 10,000-300,000 North Koreans in China (validation)'."""
    span = dt.date(int(mk.start[:4]), int(mk.start[5:]), 1).strftime("%b %Y")
    v = f"{mk.low:,.0f}-{mk.high:,.0f}" if mk.observation == "interval" and mk.low is not None else f"{mk.value:,.0f}"
    what = "illegally in China" if mk.measure.endswith("_illegal") else "in China"
    src = (
        "published estimates (the brief)"
        if mk.source == "brief"
        else (f"Doc {mk.document}" if mk.document else "the introduction")
    )
    role = "held out, validation" if mk.role == "validation" else "calibration"
    return f"{src}, {span}: {v}\nNorth Koreans {what} ({role})"


def _yearly_average(view: View, y: np.ndarray) -> tuple[list[dt.date], np.ndarray]:
    """Monthly average of each calendar year over the complete months, as step points (start and end of each year)."""
    n = view.closed
    years = sorted({m[:4] for m in view.months[:n]})
    xs, ys = [], []
    for yr in years:
        idx = [i for i, m in enumerate(view.months[:n]) if m.startswith(yr)]
        avg = float(np.mean(y[idx]))
        xs += [dt.date(int(yr), int(view.months[idx[0]][5:]), 1), dt.date(int(yr), int(view.months[idx[-1]][5:]), 28)]
        ys += [avg, avg]
    return xs, np.array(ys)


def _wrap(label: str, width: int = 58) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(label, width)) if "\n" not in label else label


def both_directions_figure(view: View, region: str = "china", region_label: str = "China as a whole") -> bytes:
    """Both directions across the border: crossings each way, China's treatment of North Koreans, the stocks."""
    n = len(BOTH_ROWS)
    height = 3.0 * n + 1.6
    fig = Figure(figsize=(13, height))
    axes = fig.subplots(n, 1, sharex=True, squeeze=False)[:, 0]
    long_run = len(view.months) > LONG_RUN_MONTHS
    for i, (ax, (title, unit, lines)) in enumerate(zip(axes, BOTH_ROWS)):
        stock = unit.endswith("month end")
        yearly = long_run and i == 1
        for m, label, color, ls in lines:
            y = series(view.data, region, m)
            if yearly:
                xs, ys = _yearly_average(view, y)
                ax.plot(xs, ys, color=color, ls=ls, lw=1.6, label=_wrap(label), zorder=4)
            else:
                _run_line(ax, view, y, color, ls=ls, label=_wrap(label), stock=stock)
        if stock:
            for mk in _stock_marks(ax, view, region, ("in_china_from_dprk", "in_china_from_dprk_illegal")):
                ax.plot([], [], color=VAL if mk.role == "validation" else CAL, lw=3.0, label=_stock_mark_label(mk))
        _switch_lines(ax, view, label=i == 0)
        _axis_dates(ax, view, labels=i == n - 1)
        ax.set_yscale("symlog", linthresh=10, linscale=0.6)
        ax.set_ylim(bottom=0)
        if ax.get_ylim()[1] < 1000:  # few decades: ticks at 1, 2 and 5 times each power of ten
            ax.yaxis.set_major_locator(matplotlib.ticker.SymmetricalLogLocator(base=10, linthresh=10, subs=(1, 2, 5)))
        ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:,.0f}"))
        ax.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.tick_params(axis="y", labelsize=8)
        shown_unit = "persons per month, averaged over each year" if yearly else unit
        ax.set_title(f"{title} ({shown_unit})", loc="left", fontsize=10, fontweight="bold", pad=4)
        ax.set_ylabel(f"{unit}\n(log above 10)", fontsize=8)
        ax.legend(loc="upper left", bbox_to_anchor=(1.008, 1.0), fontsize=7.8, frameon=False, borderaxespad=0, labelspacing=0.7)
    period = f"{month_label(view.months[0])} to {month_label(view.months[-1])}"
    reached = f"the run has reached {view.date.day} {view.date:%B %Y}" if view.date is not None else "the run has not started"
    fig.text(
        0.01,
        1 - 0.12 / height,
        f"Both directions across the border, {region_label}: {view.title}, {period}",
        fontsize=11.5,
        fontweight="bold",
        va="top",
    )
    fig.text(
        0.01,
        1 - 0.42 / height,
        f"{reached} (solid red line); open dot: the month in progress; dotted: rule switches",
        fontsize=9,
        color="#333333",
        va="top",
    )
    fig.text(0.01, 0.006, BOTH_FOOTNOTE, fontsize=7.8, color="#333333", va="bottom", ha="left", linespacing=1.4)
    fig.subplots_adjust(left=0.065, right=0.64, top=1 - 0.95 / height, bottom=0.85 / height, hspace=0.3)
    return png(fig)
