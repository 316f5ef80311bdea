"""Comparing runs: headline totals with intervals across replicates, paired differences, monthly flows.

``bordersim compare OUT_A OUT_B [...]`` answers questions such as "what would the 1961 exodus have
looked like under the 1964 rules?" or "what did the 40-yuan allowance do?": each output directory is a
run (``bordersim run``), typically the same world, parameters and seed under different rules or
counterfactuals.

Runs that share their seed, scale and number of replicates, and whose replicates drew the same
parameters (``param:*`` in ``summary.csv``), are *paired*: replicate ``i`` of each run is the same world
(the same posterior draw and, through common random numbers, the same households drawing the same
numbers), so the effect of the change is read replicate by replicate, ``B_i - A_i``, and its interval is
what remains of the uncertainty: the parameters' (the posterior) and the chance that a change of
decisions sets off, no longer the noise of two unrelated simulations. Runs that cannot be paired are
compared side by side only, and the report says why.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from ..archive.extract import monthly_band
from ..io import pyplot, write_text
from ..world.geography import TREE

#: Headline flows (summed over the compared period) and stocks (at its last month).
HEADLINE_FLOWS = [
    "attempted",
    "stopped",
    "crossed",
    "settled",
    "sent_back",
    "repatriated",
    "returned_own",
    "drowned",
    "legal_emigrated",
]
HEADLINE_FLOWS += [  # issue 15: the northward direction
    "crossed_north",
    "crossed_north_repeat",
    "caught_china",
    "returned_to_dprk",
    "returned_with_identity_north",
    "released_north",
    "stay_approved_north",
    "returned_home_own_north",
]
HEADLINE_STOCKS = ["in_north_korea_illegal", "in_north_korea", "in_china_from_dprk"]
#: Derived per replicate: (name, kind, numerator and subtracted flows or ratio)
DERIVED = [
    ("net_flow_north", "total: crossed_north - crossed", ("crossed_north", "crossed"), "difference"),
    (
        "mean_days_to_handover_north",
        "mean: handover_days_north / handed_over_north",
        ("handover_days_north", "handed_over_north"),
        "ratio",
    ),
]
FIGURE_MEASURES = [
    ("crossed", "got across"),
    ("stopped", "stopped at the border"),
    ("settled", "settled by the DPRK"),
    ("sent_back", "sent back / repatriated by the DPRK"),
    ("returned_own", "returned on own initiative"),
    ("drowned", "drowned"),
    ("in_north_korea_illegal", "crossers in the DPRK (month end)"),
    ("crossed_north", "crossed from the DPRK into China"),
    ("in_china_from_dprk", "North Koreans in China (month end)"),
]


def load_run(out_dir: Path) -> tuple[str, pd.DataFrame]:
    out_dir = Path(out_dir)
    flows_path = out_dir / "flows.csv"
    if not flows_path.exists():
        raise FileNotFoundError(f"{out_dir}: no flows.csv here (run `bordersim run` first)")
    name = out_dir.name
    man = out_dir / "manifest.json"
    if man.exists():
        try:
            name = json.loads(man.read_text()).get("scenario", {}).get("name", name)
        except (ValueError, AttributeError):
            raise ValueError(f"{man}: not a manifest written by `bordersim run` (not a JSON mapping)") from None
    try:
        flows = pd.read_csv(flows_path, dtype={"period": str})
    except (ValueError, UnicodeDecodeError) as err:
        raise ValueError(f"{flows_path}: not a flows.csv written by `bordersim run` ({' '.join(str(err).split())})") from None
    missing = [c for c in ("replicate", "period", "region", "measure", "value") if c not in flows.columns]
    if missing:
        raise ValueError(f"{flows_path}: not a flows.csv written by `bordersim run` (no column {', '.join(missing)})")
    return name, flows


def run_identity(out_dir: Path) -> dict:
    """What pairing needs of a run: its seed, scale, replicates and each replicate's drawn parameters."""
    out_dir = Path(out_dir)
    man = json.loads((out_dir / "manifest.json").read_text()) if (out_dir / "manifest.json").exists() else {}
    summ = pd.read_csv(out_dir / "summary.csv") if (out_dir / "summary.csv").exists() else pd.DataFrame()
    params = summ[[c for c in summ.columns if c.startswith("param:")]] if len(summ) else pd.DataFrame()
    return {"seed": man.get("seed"), "scale": man.get("scale"), "replicates": man.get("replicates"), "params": params}


def pairing(identities: dict[str, dict]) -> str | None:
    """Why the runs cannot be paired (``None`` if they can): replicate ``i`` of each must share the seed, the
    scale, the number of replicates and the drawn parameters."""
    names = list(identities)
    ref = identities[names[0]]
    for name in names[1:]:
        other = identities[name]
        for key, what in (("seed", "seeds"), ("scale", "scales"), ("replicates", "replicate counts")):
            if ref[key] is None or other[key] != ref[key]:
                return f"different {what} ({names[0]}: {ref[key]}, {name}: {other[key]})"
        a, b = ref["params"], other["params"]
        if list(a.columns) != list(b.columns) or not np.allclose(a.to_numpy(float), b.to_numpy(float), equal_nan=True):
            return f"the replicates drew different parameters ({names[0]} and {name})"
    return None


def _per_replicate(flows: pd.DataFrame, region: str, measure: str, start: str, end: str) -> pd.Series:
    f = flows[(flows.region == region) & (flows.measure == measure) & (flows.period >= start) & (flows.period <= end)]
    if measure in HEADLINE_STOCKS:
        f = f[f.period == f.period.max()]
    return f.groupby("replicate").value.sum()


def paired_differences(runs: dict[str, pd.DataFrame], region: str, start: str, end: str) -> pd.DataFrame:
    """Each run against the first, replicate by replicate: median and 5-95% range of ``B_i - A_i``, and how many
    pairs went up and down, next to each run's own median and range."""
    names = list(runs)
    ref = names[0]
    rows = []
    for name in names[1:]:
        for m in HEADLINE_FLOWS + HEADLINE_STOCKS:
            a = _per_replicate(runs[ref], region, m, start, end)
            b = _per_replicate(runs[name], region, m, start, end)
            d = (b - a).dropna()
            if d.empty:
                continue
            rows.append(
                {
                    "run": name,
                    "against": ref,
                    "measure": m,
                    "kind": "stock at " + end if m in HEADLINE_STOCKS else "total",
                    "median": d.median(),
                    "p05": d.quantile(0.05),
                    "p95": d.quantile(0.95),
                    "up": int((d > 0).sum()),
                    "down": int((d < 0).sum()),
                    "pairs": len(d),
                    "run_p05": b.quantile(0.05),
                    "run_p95": b.quantile(0.95),
                    "against_p05": a.quantile(0.05),
                    "against_p95": a.quantile(0.95),
                }
            )
    return pd.DataFrame(rows)


def paired_text(tab: pd.DataFrame) -> str:
    """The paired differences as text: 'B - A: median [p05, p95] (up/down of n)' beside each run's own interval."""
    lines = []
    for (run, ref), g in tab.groupby(["run", "against"], sort=False):
        lines.append(f"{run} - {ref}, replicate by replicate:")
        w = max(len(m) for m in g.measure) + 2
        for r in g.itertuples():
            lines.append(
                f"  {r.measure.ljust(w)}{r.median:>+10,.0f} [{r.p05:+,.0f}, {r.p95:+,.0f}]  up {r.up}, down {r.down} of {r.pairs}"
                f"   ({ref}: [{r.against_p05:,.0f}-{r.against_p95:,.0f}], {run}: [{r.run_p05:,.0f}-{r.run_p95:,.0f}])"
            )
    return "\n".join(lines)


def headline(runs: dict[str, pd.DataFrame], region: str, start: str, end: str) -> pd.DataFrame:
    """Median and 5-95% range across replicates of each headline total, one row per run and measure."""
    rows = []
    for name, flows in runs.items():
        f = flows[(flows.region == region) & (flows.period >= start) & (flows.period <= end)]
        for m in HEADLINE_FLOWS + HEADLINE_STOCKS:
            x = f[f.measure == m]
            if m in HEADLINE_STOCKS:
                x = x[x.period == x.period.max()]
            per_rep = x.groupby("replicate").value.sum()
            if per_rep.empty:
                continue
            rows.append(_row(name, m, "stock at " + end if m in HEADLINE_STOCKS else "total", per_rep))
        for m, kind, (a, b), how in DERIVED:
            ta, tb = (f[f.measure == x].groupby("replicate").value.sum() for x in (a, b))
            if ta.empty or tb.empty:
                continue
            per_rep = ta - tb if how == "difference" else (ta / tb.where(tb > 0)).dropna()
            if len(per_rep):
                rows.append(_row(name, m, kind, per_rep))
    return pd.DataFrame(rows)


def _row(name: str, measure: str, kind: str, per_rep: pd.Series) -> dict:
    return {
        "run": name,
        "measure": measure,
        "kind": kind,
        "median": per_rep.median(),
        "p05": per_rep.quantile(0.05),
        "p95": per_rep.quantile(0.95),
        "replicates": len(per_rep),
    }


def table_text(tab: pd.DataFrame) -> str:
    """A plain-text table: measures as rows, runs as columns, 'median [p05-p95]'."""
    runs = list(dict.fromkeys(tab.run))
    cell = {(r.run, r.measure): f"{r.median:,.0f} [{r.p05:,.0f} to {r.p95:,.0f}]" for r in tab.itertuples()}
    measures = list(dict.fromkeys(tab.measure))
    width = max(len(m) for m in measures) + 2
    cols = [max(len(r), *(len(cell.get((r, m), "")) for m in measures)) + 2 for r in runs]
    lines = ["".ljust(width) + "".join(r.rjust(c) for r, c in zip(runs, cols))]
    for m in measures:
        lines.append(m.ljust(width) + "".join(cell.get((r, m), "-").rjust(c) for r, c in zip(runs, cols)))
    return "\n".join(lines)


def compare_figure(runs: dict[str, pd.DataFrame], region: str, start: str, end: str, path: Path) -> None:
    import matplotlib.dates as mdates

    plt = pyplot()
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    n = len(FIGURE_MEASURES)
    ncol = 2
    nrow = int(np.ceil(n / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(12, 2.6 * nrow + 1), sharex=True)
    axes = axes.ravel()
    for ax, (m, label) in zip(axes, FIGURE_MEASURES):
        for i, (name, flows) in enumerate(runs.items()):
            s = monthly_band(flows, region, m, start, end)
            c = colors[i % len(colors)]
            ax.plot(s.index, s["median"].values, color=c, lw=1.8, label=name)
            if flows.replicate.nunique() > 1:
                ax.fill_between(s.index, s["lo"].values, s["hi"].values, color=c, alpha=0.15, lw=0)
        ax.set_title(label, loc="left", fontsize=10)
        ax.grid(alpha=0.3)
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%b\n%Y"))
        ax.set_ylabel("persons" + (" per month" if m not in HEADLINE_STOCKS else ""))
    for ax in axes[n:]:
        ax.set_visible(False)
    for i in range(n):  # date labels under the last visible panel of each column
        if i + ncol >= n:
            axes[i].tick_params(labelbottom=True)
    axes[0].legend(fontsize=9, frameon=False)
    fig.suptitle(
        f"Monthly flows compared ({region}, {start} to {end}); lines: median over replicates, shading: 5-95%", fontsize=11
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _settings(out_dir: Path, flows: pd.DataFrame) -> dict:
    """A run's scale and replicate count (from its manifest; the replicates also from flows.csv)."""
    man = Path(out_dir) / "manifest.json"
    info = {}
    if man.exists():
        try:
            info = json.loads(man.read_text())
        except (ValueError, OSError):
            info = {}
    return {"scale": info.get("scale"), "replicates": int(flows.replicate.nunique()) if len(flows) else 0}


def check_inputs(out_dirs: list[Path], region: str, runs: dict[str, pd.DataFrame], settings: dict, warn) -> None:
    """What a comparison needs: two runs or more, a known region; a warning where the runs differ in kind."""
    if region not in TREE.node_ids:
        raise ValueError(f"--region: unknown region {region!r} (known: {', '.join(TREE.node_ids)})")
    for name, flows in runs.items():
        if not (flows.region == region).any():
            raise ValueError(f"--region: run {name} has no rows for region {region!r}")
    scales = {name: s["scale"] for name, s in settings.items() if s["scale"] is not None}
    if len(set(scales.values())) > 1:
        warn(
            "the runs were made at different scales ("
            + ", ".join(f"{n} {v:g}" for n, v in scales.items())
            + "): sampling noise differs, so compare their intervals with care"
        )
    reps = {name: s["replicates"] for name, s in settings.items()}
    if len(set(reps.values())) > 1:
        warn(
            "the runs have different numbers of replicates ("
            + ", ".join(f"{n} {v}" for n, v in reps.items())
            + "): their 5-95% ranges are not equally precise"
        )


def paired_figure(runs: dict[str, pd.DataFrame], region: str, start: str, end: str, path: Path) -> None:
    """Paired differences ``B_i - A_i`` of each run against the first, by month: for flows the running total
    since the first month (a timing shift nets out, an effect accumulates), for stocks the month-end value;
    median and 5-95% band over pairs."""
    import matplotlib.dates as mdates

    plt = pyplot()
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    names = list(runs)
    ncol, n = 2, len(FIGURE_MEASURES)
    fig, axes = plt.subplots(int(np.ceil(n / ncol)), ncol, figsize=(12, 2.6 * int(np.ceil(n / ncol)) + 1), sharex=True)
    axes = axes.ravel()
    ref = runs[names[0]]
    for ax, (m, label) in zip(axes, FIGURE_MEASURES):
        a = _monthly(ref, region, m, start, end)
        for i, name in enumerate(names[1:]):
            d = _monthly(runs[name], region, m, start, end) - a
            if m not in HEADLINE_STOCKS:
                d = d.cumsum(axis=1)
            x = pd.to_datetime(d.columns + "-15")
            c = colors[(i + 1) % len(colors)]
            ax.plot(x, d.median(axis=0).to_numpy(), color=c, lw=1.8, label=f"{name} - {names[0]}")
            ax.fill_between(x, d.quantile(0.05).to_numpy(), d.quantile(0.95).to_numpy(), color=c, alpha=0.2, lw=0)
        ax.axhline(0, color="#444444", lw=0.8)
        ax.set_title(label + ("" if m in HEADLINE_STOCKS else ", cumulative"), loc="left", fontsize=10)
        ax.grid(alpha=0.3)
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%b\n%Y"))
    for ax in axes[n:]:
        ax.set_visible(False)
    for i in range(n):
        if i + ncol >= n:
            axes[i].tick_params(labelbottom=True)
    axes[0].legend(fontsize=9, frameon=False)
    fig.suptitle(
        f"Paired differences ({region}), persons: flows summed since {start}, stocks at month end; "
        "line: median over replicate pairs, shading: 5-95%",
        fontsize=11,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _monthly(flows: pd.DataFrame, region: str, measure: str, start: str, end: str) -> pd.DataFrame:
    f = flows[(flows.region == region) & (flows.measure == measure) & (flows.period >= start) & (flows.period <= end)]
    return f.pivot_table(index="replicate", columns="period", values="value", aggfunc="sum").sort_index()


def compare_runs(
    out_dirs: list[Path], out: Path, region: str = "china", warn: Callable[[str], None] | None = None
) -> tuple[pd.DataFrame, str]:
    """Compare runs over the months they share; write compare.csv, compare.md and compare_flows.png into ``out``.

    When the runs can be paired (the same seed, scale, replicate count and drawn parameters), also
    compare_paired.csv and compare_paired.png: the differences replicate by replicate (issue 14).
    Refuses fewer than two runs and an unknown region (ValueError); ``warn`` (default:
    :func:`warnings.warn`) is told when the runs differ in scale or in number of replicates.
    """
    warn = warn or (lambda msg: warnings.warn(msg, stacklevel=3))
    if len(out_dirs) < 2:
        raise ValueError(f"compare needs two runs or more (got {len(out_dirs)}): bordersim compare OUT_A OUT_B [...]")
    runs: dict[str, pd.DataFrame] = {}
    settings: dict[str, dict] = {}
    ids: dict[str, dict] = {}
    for d in out_dirs:
        name, flows = load_run(d)
        while name in runs:
            name += "'"
        runs[name] = flows
        settings[name] = _settings(d, flows)
        ids[name] = run_identity(d)
    check_inputs(out_dirs, region, runs, settings, warn)
    start = max(f.period.min() for f in runs.values())
    end = min(f.period.max() for f in runs.values())
    if start > end:
        raise ValueError("the runs share no month")
    tab = headline(runs, region, start, end)
    text = table_text(tab)
    why_not = pairing(ids) if len(runs) > 1 else "a single run"
    out.mkdir(parents=True, exist_ok=True)
    write_text(out / "compare.csv", tab.to_csv(index=False, float_format="%.3f", lineterminator="\n"))
    md = [
        f"# Runs compared: {', '.join(runs)}",
        "",
        f"Region {region}, {start} to {end}. Totals over the period; stocks at {end}. Median over replicates [5% to 95%]; "
        "net_flow_north and the mean days to hand-over are computed per replicate.",
        "",
        "```text",
        text,
        "```",
        "",
    ]
    if why_not is None:
        pairs = paired_differences(runs, region, start, end)
        ptext = paired_text(pairs)
        text = text + "\n\n" + ptext
        write_text(out / "compare_paired.csv", pairs.to_csv(index=False, float_format="%.3f", lineterminator="\n"))
        paired_figure(runs, region, start, end, out / "compare_paired.png")
        md += [
            "## Paired differences",
            "",
            "Replicate i of each run shares its seed and its posterior draw: the difference is read pair by pair,"
            " with the median and the 5%-95% range over pairs (what remains: the parameters' uncertainty and the"
            " chance the change sets off), beside each run's own range.",
            "",
            "```text",
            ptext,
            "```",
            "",
            "![paired differences by month](compare_paired.png)",
            "",
        ]
    else:
        text = text + f"\n\nnot paired: {why_not}"
        md += [f"The runs cannot be paired ({why_not}): they are compared side by side only.", ""]
    md += ["![monthly flows](compare_flows.png)", ""]
    write_text(out / "compare.md", "\n".join(md))
    compare_figure(runs, region, start, end, out / "compare_flows.png")
    return tab, text
