"""Figures of both directions (issue 15): crossings each way, what China does with North Koreans it catches, the
stocks on each side, and the Korean nationals in China (Doc 11)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..archive.extract import monthly_band
from ..io import plain_numbers, pyplot

CROSSINGS = [
    ("crossed", "south: got across into the DPRK (illegal)", "#d62728", "-"),
    ("legal_emigrated", "south: moved legally to the DPRK", "#d62728", ":"),
    ("crossed_north", "north: got across into China (illegal, incl. Doc 2's women)", "#1f77b4", "-"),
    ("legal_visits_north", "north: visiting kin in China on a permit", "#1f77b4", ":"),
]
TREATMENT = [
    ("caught_china", "caught in China", "#444444", "-"),
    ("returned_with_identity_north", "returned with identity information (Doc 10 Art. 4 (2))", "#8c564b", "-"),
    ("returned_without_identity_north", "returned without it", "#8c564b", "--"),
    ("released_north", "released (tolerated)", "#2ca02c", "-"),
    ("assisted_north", "assisted: not illegal (disaster, Art. 4 (1))", "#17becf", "-"),
    ("stay_approved_north", "allowed to stay (Doc 1 (2), Doc 2 (3))", "#9467bd", "-"),
    ("returned_home_own_north", "went home on their own", "#ff7f0e", ":"),
]
STOCKS = [
    ("in_china_from_dprk", "North Koreans in China", "#1f77b4", "-"),
    ("in_china_from_dprk_illegal", "of which illegally", "#1f77b4", "--"),
    ("repeat_crossers_in_china", "of which on a repeat crossing", "#1f77b4", ":"),
    ("staying_approved_north", "allowed to stay", "#9467bd", "-"),
    ("in_north_korea_illegal", "crossers from China in the DPRK (south)", "#d62728", "-"),
]
NATIONALS = [
    ("kn_struggled", "'criticized and struggled against' (preamble)", "#d62728"),
    ("kn_return_applications", "applied to return home (7)", "#1f77b4"),
    ("kn_returned", "returned home legally (7)", "#2ca02c"),
    ("kn_return_refused", "refused or obstructed", "#8c564b"),
    ("kn_crossed_home", "went home illegally", "#ff7f0e"),
    ("kn_abroad_denied", "denied going to capitalist countries (8)", "#444444"),
    ("kn_naturalised", "naturalised (9)", "#9467bd"),
]


def _axis(ax) -> None:
    import matplotlib.dates as mdates

    loc = mdates.AutoDateLocator(minticks=5, maxticks=12)
    ax.xaxis.set_major_locator(loc)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(loc))
    ax.grid(alpha=0.3)


def _lines(ax, flows, series, n_rep, region="china") -> None:
    for m, lab, color, ls in series:
        s = monthly_band(flows, region, m)
        if s.empty:
            continue
        ax.plot(s.index, s["median"], color=color, ls=ls, lw=1.6, label=lab)
        if n_rep > 1:
            ax.fill_between(s.index, s["lo"], s["hi"], color=color, alpha=0.12, lw=0)


def _yearly(ax, flows, series, region="china") -> None:
    """Yearly totals (median over replicates) as steps: the small flows of Korean nationals read better by year."""
    for m, lab, color in series:
        x = flows[(flows.region == region) & (flows.measure == m)]
        if x.empty:
            continue
        per = x.assign(year=x.period.str[:4]).groupby(["replicate", "year"]).value.sum().groupby("year").median()
        ax.step(pd.to_datetime(per.index + "-07-01"), per.values, where="mid", color=color, lw=1.6, label=lab)


def north_figures(flows: pd.DataFrame, outdir: Path, title: str = "") -> list[Path]:
    """``both_directions.png`` and, when the run has Korean nationals, ``korean_nationals.png``."""
    measures = set(flows.measure.unique())
    if "crossed_north" not in measures:
        return []
    outdir = Path(outdir)
    n_rep = flows.replicate.nunique()
    band = f"median of {n_rep} replicates, shading 5-95%" if n_rep > 1 else "one replicate"
    plt = pyplot()
    paths = []
    long_run = flows.period.nunique() > 36  # small flows of a long run read better by year
    fig, axes = plt.subplots(3, 1, figsize=(11, 11), sharex=True)
    for ax, series, head, unit in [
        (axes[0], CROSSINGS, "Crossings each way", "persons per month"),
        (axes[1], TREATMENT, "North Koreans in China: caught, and what China does with them", "persons per month"),
        (axes[2], STOCKS, "Stocks at month end", "persons"),
    ]:
        if series is TREATMENT and long_run:
            _yearly(ax, flows, [(m, lab, c) for m, lab, c, _ in series])
            unit = "persons per year, median"
        else:
            _lines(ax, flows, series, n_rep)
        ax.set_yscale("symlog", linthresh=10)
        plain_numbers(ax.yaxis)
        ax.set_ylabel(unit + " (log above 10)")
        ax.set_title(head, loc="left", fontweight="bold", fontsize=10)
        ax.legend(fontsize=8, frameon=False, ncol=2, loc="upper left")
        _axis(ax)
    fig.suptitle(f"Both directions across the border (China as a whole)\n{title} ({band})", fontsize=12)
    fig.tight_layout()
    p = outdir / "both_directions.png"
    fig.savefig(p, dpi=110)
    plt.close(fig)
    paths.append(p)

    kn = flows[(flows.region == "china") & (flows.measure == "korean_nationals")]
    if len(kn) and kn.value.max() > 0:
        fig, axes = plt.subplots(2, 1, figsize=(11, 7), sharex=True)
        _lines(axes[0], flows, [("korean_nationals", "Korean nationals in China (month end)", "#1f77b4", "-")], n_rep)
        axes[0].set_ylabel("persons")
        axes[0].set_title("Korean nationals living in China (Doc 11)", loc="left", fontweight="bold", fontsize=10)
        _yearly(axes[1], flows, NATIONALS)
        axes[1].set_yscale("symlog", linthresh=10)
        plain_numbers(axes[1].yaxis)
        axes[1].set_ylabel("persons per year, median (log above 10)")
        axes[1].set_title("Pressure, the legal route home and the blocked options (Doc 11)", loc="left", fontsize=10)
        axes[0].legend(fontsize=8, frameon=False, ncol=2)
        # The yearly series fill the panel from side to side: their legend goes below it.
        axes[1].legend(fontsize=8, frameon=False, ncol=3, loc="upper center", bbox_to_anchor=(0.5, -0.12))
        for ax in axes:
            _axis(ax)
        fig.suptitle(f"{title} ({band})", fontsize=11)
        fig.tight_layout()
        p = outdir / "korean_nationals.png"
        fig.savefig(p, dpi=110)
        plt.close(fig)
        paths.append(p)
    return paths
