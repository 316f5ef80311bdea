"""Figures of a finished sweep: each outcome against each factor, heat maps of two-lever grids, series."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from ...io import pyplot
from .design import label as _label
from .results import read_sweep_dir
from .spec import OutcomeSpec


def sweep_figures(out: Path) -> list[Path]:
    """outcome_<name>.png (each outcome against each factor), heatmap_<name>.png (two-lever grids), series_<name>.png."""
    plt = pyplot()
    out = Path(out)
    info, points, results = read_sweep_dir(out)
    spec = info["spec"]
    factors = info["factors"]
    written: list[Path] = []
    if results.empty:
        return written
    data = results.merge(points, on="point_id", how="left")
    outcomes = [o for o in spec["outcomes"] if not o.get("series")]
    for o in outcomes:
        d = data[data.outcome == o["name"]]
        if d.empty:
            continue
        n = len(factors)
        ncols = min(3, n)
        nrows = math.ceil(n / ncols)
        fig, axes = plt.subplots(nrows, ncols, figsize=(4.6 * ncols, 3.6 * nrows), squeeze=False)
        levers = [f["name"] for f in factors if f["role"] == "lever"]
        for ax, f in zip(axes.flat, factors):
            # In a grid of two levers, one line per level of the other lever.
            other = [x for x in levers if x != f["name"]] if f["name"] in levers and len(levers) == 2 else []
            by = (
                other[0] if other and d[other[0]].nunique() <= 6 and info["design"].startswith(("grid", "crossed(grid")) else None
            )
            _factor_panel(ax, d, f, by)
        for ax in list(axes.flat)[n:]:
            ax.set_visible(False)
        fig.suptitle(f"{o['name']}: {OutcomeSpec.model_validate(o).describe()}", fontsize=10)
        fig.tight_layout()
        p = out / f"outcome_{o['name']}.png"
        fig.savefig(p, dpi=110)
        plt.close(fig)
        written.append(p)
        # Heat map of a two-lever grid.
        grid_levers = [f for f in factors if f["role"] == "lever"]
        design = info["design"]
        if len(grid_levers) == 2 and (design == "grid" or design.startswith("crossed(grid")):
            written.append(_heatmap(d, grid_levers, o, out, plt))
    for o in [o for o in spec["outcomes"] if o.get("series")]:
        sp = out / "series.parquet"
        if not sp.exists():
            continue
        s = pd.read_parquet(sp)
        s = s[s.outcome == o["name"]].merge(points, on="point_id", how="left")
        if s.empty:
            continue
        written.append(_series_fig(s, factors, o, out, plt))
    return written


def _is_discrete(col: pd.Series) -> bool:
    return col.nunique() <= 12 or not pd.api.types.is_numeric_dtype(col)


def _factor_panel(ax, d: pd.DataFrame, f: dict, by: str | None = None) -> None:
    plt = pyplot()
    name = f["name"]
    col = d[name]
    role = "lever" if f["role"] == "lever" else "uncertainty"
    if _is_discrete(col):
        numeric = pd.api.types.is_numeric_dtype(col)
        cats = sorted(col.unique()) if numeric else list(dict.fromkeys(col))
        pos = {c: (float(c) if numeric else k) for k, c in enumerate(cats)}
        x = col.map(pos).to_numpy(dtype=float)
        span = (max(pos.values()) - min(pos.values())) or 1.0
        jitter = (np.random.default_rng(0).random(len(x)) - 0.5) * 0.04 * span
        ax.scatter(
            x + jitter, d.value, s=6 if len(d) > 300 else 14, color="0.6", alpha=0.5 if len(d) > 300 else 0.7, lw=0, label="runs"
        )
        xs = [pos[c] for c in cats]
        if by is not None:
            levels = sorted(d[by].unique()) if pd.api.types.is_numeric_dtype(d[by]) else list(dict.fromkeys(d[by]))
            colours = plt.get_cmap("viridis")(np.linspace(0.0, 0.85, max(2, len(levels))))
            for k, lv in enumerate(levels):
                dd = d[d[by] == lv]
                g = dd.groupby(name).value
                mean = g.mean().reindex(cats)
                sd = dd.groupby([name, "point_id"]).value.std().groupby(level=0).mean().reindex(cats)
                ax.errorbar(
                    xs,
                    mean,
                    yerr=sd.fillna(0) if sd.notna().any() else None,
                    fmt="o-" if numeric else "o",
                    color=colours[k],
                    lw=1.6,
                    ms=4,
                    capsize=3,
                    label=f"{by} = {_label(lv)}",
                )
            ax.set_title("bars: ± sd over replicates", fontsize=8, color="0.3")
        else:
            g = d.groupby(name).value
            mean = g.mean().reindex(cats)
            lo, hi = g.quantile(0.1).reindex(cats), g.quantile(0.9).reindex(cats)
            if numeric:
                ax.fill_between(xs, lo, hi, color="tab:blue", alpha=0.18, lw=0, label="10-90% of runs")
            else:  # categories: no lines between them
                ax.vlines(xs, lo, hi, color="tab:blue", alpha=0.35, lw=6, label="10-90% of runs")
            ax.plot(xs, mean, "o-" if numeric else "o", color="tab:blue", lw=1.8, ms=5, label="mean")
            # Replicate spread at each point: sd over replicates, averaged over the points at this value.
            sd = d.groupby([name, "point_id"]).value.std().groupby(level=0).mean().reindex(cats)
            if sd.notna().any():
                ax.errorbar(xs, mean, yerr=sd.fillna(0), fmt="none", ecolor="tab:red", capsize=3, lw=1, label="± replicate sd")
        if not numeric:
            ax.set_xlim(-0.5, len(cats) - 0.5)
            ax.set_xticks(xs)
            ax.set_xticklabels([str(c) for c in cats], rotation=20, ha="right", fontsize=8)
    else:
        ax.scatter(
            col, d.value, s=6 if len(d) > 300 else 14, color="0.5", alpha=0.45 if len(d) > 300 else 0.7, lw=0, label="runs"
        )
        if f.get("scale") == "log":
            from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

            ax.set_xscale("log")
            ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
            ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
            ax.xaxis.set_minor_formatter(NullFormatter())
        bins = pd.qcut(col, q=min(10, max(2, col.nunique() // 3)), duplicates="drop")
        g = d.groupby(bins, observed=True)
        xm, ym = g[name].mean(), g.value.mean()
        ax.plot(xm, ym, "o-", color="tab:blue", lw=1.8, ms=4, label="binned mean")
    ax.set_xlabel(f"{name} ({role})")
    ax.set_ylabel(d.outcome.iloc[0])
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="best")


def _heatmap(d: pd.DataFrame, levers: list[dict], o: dict, out: Path, plt) -> Path:
    a, b = levers[0]["name"], levers[1]["name"]
    m = d.groupby([b, a]).value.mean().unstack(a)
    sd = d.groupby([b, a]).value.std().unstack(a)
    fig, ax = plt.subplots(figsize=(1.3 * m.shape[1] + 3, 0.8 * m.shape[0] + 2.2))
    im = ax.imshow(m.to_numpy(dtype=float), origin="lower", aspect="auto", cmap="viridis")
    ax.set_xticks(range(m.shape[1]))
    ax.set_xticklabels([_label(v) for v in m.columns], fontsize=8)
    ax.set_yticks(range(m.shape[0]))
    ax.set_yticklabels([_label(v) for v in m.index], fontsize=8)
    ax.set_xlabel(a)
    ax.set_ylabel(b)
    vals = m.to_numpy(dtype=float)
    vmid = np.nanmean(vals) if np.isfinite(vals).any() else 0
    for i in range(m.shape[0]):
        for j in range(m.shape[1]):
            v = vals[i, j]
            if np.isfinite(v):
                s = sd.iloc[i, j]
                txt = f"{v:,.0f}" + (f"\n±{s:,.0f}" if np.isfinite(s) else "")
                ax.text(j, i, txt, ha="center", va="center", fontsize=7, color="white" if v < vmid else "black")
    unit = OutcomeSpec.model_validate(o).unit
    fig.colorbar(im, ax=ax, label=f"{o['name']} ({unit}), mean over replicates")
    ax.set_title(f"{o['name']}\n(mean ± sd over replicates)", fontsize=10)
    fig.tight_layout()
    p = out / f"heatmap_{o['name']}.png"
    fig.savefig(p, dpi=110)
    plt.close(fig)
    return p


def _series_fig(s: pd.DataFrame, factors: list[dict], o: dict, out: Path, plt) -> Path:
    f = next((f for f in factors if f["role"] == "lever"), factors[0])
    name = f["name"]
    periods = sorted(s.period.unique())
    fig, ax = plt.subplots(figsize=(9, 4.2))
    groups = list(dict.fromkeys(sorted(s[name].unique(), key=str))) if _is_discrete(s[name]) else None
    if groups is None:
        s = s.assign(**{name: pd.qcut(s[name], 4, duplicates="drop").astype(str)})
        groups = sorted(s[name].unique())
    colours = plt.get_cmap("viridis")(np.linspace(0.0, 0.85, max(2, len(groups))))
    x = np.arange(len(periods))
    for k, gv in enumerate(groups):
        g = s[s[name] == gv].groupby("period").value
        m = g.mean().reindex(periods)
        lo, hi = g.quantile(0.1).reindex(periods), g.quantile(0.9).reindex(periods)
        ax.plot(x, m, color=colours[k], lw=1.8, label=f"{name} = {_label(gv) if not isinstance(gv, str) else gv}")
        ax.fill_between(x, lo, hi, color=colours[k], alpha=0.15, lw=0)
    step = max(1, len(periods) // 12)
    ax.set_xticks(x[::step])
    ax.set_xticklabels(periods[::step], rotation=45, ha="right", fontsize=8)
    unit = OutcomeSpec.model_validate(o).unit
    ax.set_ylabel(f"{o['measure']} ({unit}) per month")
    ax.set_title(f"{o['name']}: {o['measure']}, {o['region']}: mean and 10-90% band over runs", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    p = out / f"series_{o['name']}.png"
    fig.savefig(p, dpi=110)
    plt.close(fig)
    return p
