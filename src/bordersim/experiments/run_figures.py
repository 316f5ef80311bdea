"""Figures of a run: monthly flows by province, stocks in North Korea, Lishu's requests (Doc 4), both directions (issue 15)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..archive.extract import monthly_band
from ..io import pyplot
from .north_figures import north_figures

FLOW_STYLE = {
    "attempted": ("attempted (actual)", "#444444", "-"),
    "detected": ("discovered by guards", "#1f77b4", "--"),
    "stopped": ("stopped at the border", "#2ca02c", "-"),
    "crossed": ("got across", "#d62728", "-"),
    "settled": ("settled by the DPRK", "#9467bd", "-"),
    "sent_back": ("sent back by the DPRK", "#8c564b", "-"),
    "returned_own": ("returned on own initiative", "#ff7f0e", "-"),
}


def _dates(ax) -> None:
    import matplotlib.dates as mdates

    ax.xaxis.set_major_locator(mdates.MonthLocator(bymonth=(1, 4, 7, 10)))
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%b\n%Y"))
    ax.grid(alpha=0.3)


def flow_figures(flows: pd.DataFrame, outdir: Path, title: str = "") -> list[Path]:
    """Write the run's figures into ``outdir``; returns their paths."""
    outdir = Path(outdir)
    n_rep = flows.replicate.nunique()
    band = f"lines: median of {n_rep} replicates; shading: 5-95% range" if n_rep > 1 else "one replicate"
    plt = pyplot()
    paths = []
    fig, axes = plt.subplots(2, 1, figsize=(11, 8.5), sharex=True)
    for ax, (region, label) in zip(axes, [("jilin", "Jilin"), ("liaoning", "Liaoning")]):
        for m, (lab, color, ls) in FLOW_STYLE.items():
            s = monthly_band(flows, region, m)
            ax.plot(s.index, s["median"], color=color, ls=ls, lw=1.8, label=lab)
            if n_rep > 1:
                ax.fill_between(s.index, s["lo"], s["hi"], color=color, alpha=0.15, lw=0)
        ax.set_title(label, loc="left", fontweight="bold")
        ax.set_ylabel("persons per month")
        _dates(ax)
    axes[0].legend(ncol=2, fontsize=9, frameon=False)
    fig.suptitle(f"Monthly flows of ethnic Koreans across the border, by province of origin\n{title} ({band})", fontsize=12)
    fig.tight_layout()
    p = outdir / "flows_by_province.png"
    fig.savefig(p, dpi=110)
    plt.close(fig)
    paths.append(p)

    fig, ax = plt.subplots(figsize=(11, 4.5))
    for region, color in [("jilin", "#1f77b4"), ("liaoning", "#d62728")]:
        for m, ls, lab in [
            ("in_north_korea_illegal", "-", "crossers in the DPRK"),
            ("in_north_korea", ":", "all from China in the DPRK (incl. legal)"),
        ]:
            s = monthly_band(flows, region, m)
            ax.plot(s.index, s["median"], color=color, ls=ls, lw=1.8, label=f"{region.capitalize()}: {lab}")
            if n_rep > 1:
                ax.fill_between(s.index, s["lo"], s["hi"], color=color, alpha=0.12, lw=0)
    ax.set_ylabel("persons at month end")
    ax.set_title(f"People from China in North Korea, by province of origin ({band})")
    ax.legend(fontsize=9, frameon=False)
    _dates(ax)
    fig.tight_layout()
    p = outdir / "stocks_in_north_korea.png"
    fig.savefig(p, dpi=110)
    plt.close(fig)
    paths.append(p)

    if (flows.region == "lishu").any():
        fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharex=True)
        for ax, base, unit in [(axes[0], "intending_households", "households"), (axes[1], "travel_applications", "persons")]:
            bottom = None
            for reason, color in [("food_kin", "#1f77b4"), ("rumour", "#d62728"), ("proper", "#2ca02c")]:
                s = monthly_band(flows, "lishu", f"{base}_{reason}")["median"]
                ax.bar(s.index, s.values, width=25, bottom=bottom, color=color, label=reason.replace("_", " + "))
                bottom = s.values if bottom is None else bottom + s.values
            ax.set_ylabel(f"{unit} per month (median)")
            _dates(ax)
        axes[0].set_title("Lishu: household move requests, by main reason", fontsize=10)
        axes[1].set_title("Lishu: individual travel applications, by reason", fontsize=10)
        axes[0].legend(frameon=False, fontsize=9)
        fig.suptitle("Lishu Administrative Area, Helong County (Doc 4: 192 households, 936 people)", fontsize=11)
        fig.tight_layout()
        p = outdir / "lishu_requests.png"
        fig.savefig(p, dpi=110)
        plt.close(fig)
        paths.append(p)
    return paths + north_figures(flows, outdir, title)  # issue 15: both directions, Korean nationals
