"""The fit report: ``fit.csv``, ``fit.md`` and figures of a run against the archival targets.

``fit_report(out_dir)`` reads a run's ``flows.csv``, builds the fit table (:func:`.fit.compare`) and
writes ``fit.csv``, ``fit.md`` and figures: every target's observed value against its predictive
interval; the monthly simulated series with the archival counts drawn over their periods; Doc 4's Lishu
monthly requests; and the fate of the Jilin crossers of 1961 beside Doc 6's breakdown.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from ..io import plain_numbers, pyplot, write_text
from .extract import monthly_band
from .fit import compare, jilin_fates, summary_line
from .observation import CLERK_CV
from .targets import Target, load_targets


def _fmt(x, share=False) -> str:
    if x is None or (isinstance(x, float) and not np.isfinite(x)):
        return "-"
    if share:
        return f"{x:.3f}"
    return f"{x:,.0f}" if abs(x) >= 10 else f"{x:.2f}"


def fit_markdown(fit: pd.DataFrame, targets: list[Target], title: str, n_rep: int, ablations: pd.DataFrame | None = None) -> str:
    by_id = {t.id: t for t in targets}
    lines = [
        f"# Fit report: {title}",
        "",
        f"Simulated: {n_rep} replicate(s). Each target's predictive interval draws what the archive would have recorded "
        f"from the observation model (a clerk's tally error of {CLERK_CV:.0%} around the simulated count; 'incomplete "
        "statistics' as a recorded fraction drawn from its prior; see `bordersim.archive.observation`), so it includes "
        "the model's stochasticity and the archive's own noise. `predicted` is the median record; `sim` the median "
        "simulated quantity before observation; `width` the 90% interval's width over the archival figure (sharpness). "
        "An interval or a lower bound counts as inside when the predicted median falls in the archive's range. "
        "*wide* marks a target inside its 90% interval only because the interval is wide (the median more than 50% "
        "off, or the interval wider than twice the figure).",
        "",
        f"**{summary_line(fit, 'calibration')}.**",
        "",
        f"Validation targets (not used in fitting): {summary_line(fit, 'validation')}; "
        f"{int(fit[(fit.role == 'validation') & fit.observed.isna()].shape[0])} withheld figures are predicted below.",
        "",
        f"{len(targets) - len(fit)} target(s) lie outside the run's months and are not compared.",
        "",
        "Figures: `fit_targets.png` (every target against its interval), `fit_series.png` (monthly series with the archival "
        "counts over their periods), `fit_lishu.png` (Doc 4), `fit_jilin_fates.png` (Doc 6)"
        + (" (the last three only for a run of 1960-62)." if len(targets) > len(fit) else "."),
        "",
    ]
    for role, head in [("calibration", "Calibration targets"), ("validation", "Validation targets (not used in fitting)")]:
        f = fit[fit.role == role]
        lines += [
            f"## {head}",
            "",
            "| target | doc | region | period | observed | predicted | 50% | 90% | sim | in 90 | rel. err. | width | log score |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for r in f.itertuples():
            t = by_id[r.id]
            share = t.kind == "share"
            if r.observation == "interval":
                obs = f"{_fmt(r.observed_low, share)}-{_fmt(r.observed_high, share)}"
            elif r.observation == "lower_bound":
                obs = f">= {_fmt(r.observed, share)}"
            else:
                obs = _fmt(r.observed, share) + (" (undercount)" if r.observation == "undercount" else "")
            if r.observed is None or (isinstance(r.observed, float) and np.isnan(r.observed)):
                obs, inside, rel, ls, wid = "withheld", "-", "-", "-", "-"
            else:
                inside = ("yes (*wide*)" if r.wide_only else "yes") if r.inside_90 else "**no**"
                wid = f"{r.width90_rel:.2f}" if r.width90_rel is not None and np.isfinite(r.width90_rel) else "-"
                rel = f"{r.relative_error:+.0%}" if r.relative_error is not None and np.isfinite(r.relative_error) else "-"
                ls = f"{r.log_score:.2f}" if r.log_score is not None and np.isfinite(r.log_score) else "-inf"
            lines.append(
                f"| `{r.id}` | {r.document} | {r.region} | {r.period} | {obs} | {_fmt(r.predicted_median, share)} | "
                f"{_fmt(r.p25, share)}-{_fmt(r.p75, share)} | {_fmt(r.p05, share)}-{_fmt(r.p95, share)} | "
                f"{_fmt(r.simulated_median, share)} | "
                f"{inside} | {rel} | {wid} | {ls} |"
            )
        lines.append("")
    if ablations is not None and len(ablations):
        lines += [
            "## Ablations",
            "",
            "Which calibration targets each switched-off mechanism breaks (inside the 90% interval with the "
            "mechanism, outside without it), and the change in total log score.",
            "",
        ]
        lines += ["| ablation | targets broken | targets repaired | inside 90 | Δ log score |", "|---|---|---|---|---|"]
        for r in ablations.itertuples():
            lines.append(f"| {r.ablation} | {r.broken or '-'} | {r.repaired or '-'} | {r.inside_90} | {r.delta_log_score:+.1f} |")
        lines.append("")
    lines += ["## Notes on the targets", ""]
    for t in targets:
        if t.source_says and t.id in set(fit.id):
            lines.append(f'- `{t.id}`: the source says "{t.source_says}"; used: {t.value}. {t.notes.split(". ")[0]}.')
    lines.append("")
    return "\n".join(lines)


def _plain_log_ticks(ax) -> None:
    """Ticks of a log axis at 1, 2, 5 x 10^k, written as plain numbers (0.5, 1, 2): easier to read than
    matplotlib's 2x10^-1, and no mathtext to typeset (its first use costs about a second)."""
    lo, hi = ax.get_xlim()
    ax.set_xticks([m * 10.0**k for k in range(-4, 5) for m in (1, 2, 5) if lo <= m * 10.0**k <= hi])
    ax.set_xlim(lo, hi)
    plain_numbers(ax.xaxis)


def _fig_targets(fit: pd.DataFrame, path: Path) -> None:
    plt = pyplot()
    f = fit[fit.observed.notna() & (fit.kind != "share")].copy()
    s = fit[fit.observed.notna() & (fit.kind == "share")].copy()
    fig, axes = plt.subplots(1, 2, figsize=(13, max(5, 0.32 * max(len(f), len(s)) + 1.5)), gridspec_kw={"width_ratios": [1.4, 1]})
    for ax, d, share in [(axes[0], f, False), (axes[1], s, True)]:
        d = d.iloc[::-1]
        y = np.arange(len(d))
        ref = d.observed.to_numpy(dtype=float) if not share else np.ones(len(d))

        def scale(v, ref=ref):
            return v / ref

        color = np.where(d.role == "calibration", "#1f77b4", "#ff7f0e")
        ax.hlines(y, scale(d.p05.to_numpy(float)), scale(d.p95.to_numpy(float)), color=color, lw=1.5)
        ax.hlines(y, scale(d.p25.to_numpy(float)), scale(d.p75.to_numpy(float)), color=color, lw=5)
        ax.plot(scale(d.predicted_median.to_numpy(float)), y, "o", color="white", mec="k", ms=5)
        if share:
            ax.plot(d.observed, y, "kx", ms=8, mew=2, label="archive")
            ax.set_xlabel("share")
            ax.set_title("Shares (x: the archive)", fontsize=10)
        else:
            ax.axvline(1.0, color="k", lw=1.2)
            lo = d.observed_low.to_numpy(dtype=float) / ref
            hi = d.observed_high.to_numpy(dtype=float) / ref
            ok = np.isfinite(lo)
            ax.hlines(y[ok], lo[ok], hi[ok], color="k", lw=3, alpha=0.35)
            ax.set_xscale("log")
            _plain_log_ticks(ax)
            ax.set_xlabel("predicted record / archival value (log scale; 1 = the archive)")
            ax.set_title("Counts, relative to the archive", fontsize=10)
        ax.set_yticks(y)
        ax.set_yticklabels([f"{i}  (Doc {doc})" for i, doc in zip(d.id, d.document)], fontsize=7.5)
        ax.grid(axis="x", alpha=0.3)
    from matplotlib.lines import Line2D

    fig.legend(
        handles=[
            Line2D([], [], color="#1f77b4", lw=4, label="calibration target: 50% (thick) and 90% (thin) predictive interval"),
            Line2D([], [], color="#ff7f0e", lw=4, label="validation target (not fitted)"),
            Line2D([], [], marker="o", color="k", mfc="white", lw=0, label="predicted median"),
            Line2D([], [], color="k", lw=3, alpha=0.35, label="archival interval"),
        ],
        fontsize=8,
        loc="lower center",
        ncol=2,
    )
    fig.suptitle("Every archival target against the model's predictive interval", fontsize=12)
    fig.tight_layout(rect=(0, 0.06, 1, 0.97))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _fig_series(flows: pd.DataFrame, targets: list[Target], path: Path) -> None:
    panels = [
        ("jilin", "detected", "Jilin: discovered crossing (Docs 3, 6)"),
        ("liaoning", "detected", "Liaoning: discovered crossing (Docs 3, 5)"),
        ("jilin", "stopped", "Jilin: stopped, 'convinced to return' (Doc 6)"),
        ("jilin", "returned_own_of_discovered", "Jilin: discovered crossers returned on own initiative (Doc 6)"),
        ("jilin", "sent_back_of_discovered", "Jilin: discovered crossers sent back by the DPRK (Doc 6)"),
        ("jilin", "corpses_found", "Jilin: corpses found (Doc 6)"),
    ]
    import matplotlib.dates as mdates

    plt = pyplot()
    fig, axes = plt.subplots(3, 2, figsize=(12, 10), sharex=True)
    for ax, (region, measure, title) in zip(axes.ravel(), panels):
        s = monthly_band(flows, region, measure)
        ax.plot(s.index, s["median"], color="#1f77b4", lw=1.8, label="model (median)")
        ax.fill_between(s.index, s["lo"], s["hi"], color="#1f77b4", alpha=0.2, lw=0, label="model 5-95%")
        for t in targets:
            if t.region == region and t.measure == measure and t.kind == "flow" and t.observed is not None:
                a = pd.Timestamp(t.period.start + "-01")
                b = pd.Timestamp(t.period.end + "-01") + pd.offsets.MonthEnd(0)
                months = (b.year - a.year) * 12 + b.month - a.month + 1
                col = "k" if t.role == "calibration" else "#ff7f0e"
                ax.hlines(t.observed / months, a, b, color=col, lw=2.5)
                ax.text(a, t.observed / months, f" {t.observed:,.0f} / {months} mo", fontsize=7, va="bottom", color=col)
        ax.set_title(title, fontsize=10, loc="left")
        ax.grid(alpha=0.3)
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%b\n%Y"))
    axes[0, 0].legend(fontsize=8, frameon=False)
    for ax in axes[:, 0]:
        ax.set_ylabel("persons per month")
    fig.suptitle(
        "Monthly model series with the archival counts as monthly averages over their periods\n"
        "(black: calibration target; orange: validation)",
        fontsize=11,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _fig_lishu(flows: pd.DataFrame, targets: list[Target], path: Path) -> None:
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.3))
    for ax, measure, unit in [(axes[0], "intending_households", "households"), (axes[1], "travel_applications", "persons")]:
        s = monthly_band(flows, "lishu", measure)
        s = s[(s.index >= "1960-09-01") & (s.index <= "1961-06-30")]
        x = np.arange(len(s))
        ax.bar(x, s["median"], color="#9ecae1", label="model median")
        ax.errorbar(
            x,
            s["median"],
            yerr=[s["median"] - s["lo"], s["hi"] - s["median"]],
            fmt="none",
            ecolor="#3182bd",
            capsize=3,
            label="model 5-95%",
        )
        labels = [d.strftime("%b %Y") for d in s.index]
        for t in targets:
            if t.region == "lishu" and t.measure == measure and t.period.start == t.period.end:
                month = pd.Timestamp(t.period.start + "-15")
                if month in s.index:
                    i = list(s.index).index(month)
                    if t.observed is not None:
                        ax.plot(i, t.observed, "D", color="k", ms=7, label="Doc 4" if i == 2 else None)
                    else:
                        ax.annotate(
                            "withheld\n(validation)", (i, s["hi"].iloc[i]), ha="center", va="bottom", fontsize=8, color="#e6550d"
                        )
        ax.set_xticks(x)
        ax.set_xticklabels(labels, rotation=45, fontsize=8)
        ax.set_ylabel(f"{unit} per month")
        ax.grid(axis="y", alpha=0.3)
    axes[0].set_title("Lishu: household requests to move (Doc 4: 12, 29, 63)", fontsize=10)
    axes[1].set_title("Lishu: individuals applying to travel (Doc 4: 8, 20, 58)", fontsize=10)
    axes[0].legend(fontsize=8, frameon=False)
    fig.suptitle("Lishu Administrative Area, Helong County (192 households, 936 people); intervention from Feb 1961", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _fig_fates(flows: pd.DataFrame, path: Path) -> pd.DataFrame:
    tab = jilin_fates(flows)
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(10, 4.2))
    y = np.arange(len(tab))
    ax.barh(y + 0.2, tab["archive (Doc 6)"], height=0.38, color="#444444", label="archive (Doc 6, 1961; stock early 1962)")
    ax.barh(y - 0.2, tab["model (median)"], height=0.38, color="#1f77b4", label="model (median over replicates)")
    ax.set_yticks(y)
    ax.set_yticklabels(tab.index)
    ax.invert_yaxis()
    ax.set_xlabel("persons")
    ax.legend(frameon=False, fontsize=9)
    ax.grid(axis="x", alpha=0.3)
    ax.set_title("What happened to the people discovered crossing from Jilin in 1961 (Doc 6: 28,028 discovered)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return tab


def fit_report(
    out_dir: str | Path,
    targets_path: str | Path,
    seed: int | None = None,
    ablations: pd.DataFrame | None = None,
    figures: bool = True,
) -> pd.DataFrame:
    """Compare the run in ``out_dir`` with the targets; write fit.csv, fit.md and (``figures``) the figures there."""
    out_dir = Path(out_dir)
    flows = pd.read_csv(out_dir / "flows.csv", dtype={"period": str})
    return write_fit(flows, out_dir, targets_path, seed=seed, ablations=ablations, figures=figures)


def write_fit(
    flows: pd.DataFrame,
    out_dir: Path,
    targets_path: str | Path,
    seed: int | None = None,
    title: str | None = None,
    ablations: pd.DataFrame | None = None,
    figures: bool = True,
) -> pd.DataFrame:
    """Write fit.csv, fit.md and (unless ``figures`` is false) the fit_*.png figures of ``flows`` into ``out_dir``."""
    targets = load_targets(targets_path)
    man = out_dir / "manifest.json"
    meta = json.loads(man.read_text()) if man.exists() else {}
    if seed is None:
        seed = int(meta.get("seed", 0))
    title = title or meta.get("scenario", {}).get("name", out_dir.name)
    fit = compare(flows, targets, seed=seed)
    write_text(out_dir / "fit.csv", fit.to_csv(index=False, float_format="%.6g", lineterminator="\n"))
    write_text(out_dir / "fit.md", fit_markdown(fit, targets, title, flows.replicate.nunique(), ablations))
    if figures:
        fit_figures(fit, flows, targets_path, out_dir)
    return fit


def fit_figures(fit: pd.DataFrame, flows: pd.DataFrame, targets_path: str | Path, out_dir: Path) -> None:
    """The fit_*.png figures of a fit table (:func:`compare`) and its run's ``flows`` into ``out_dir``."""
    targets = load_targets(targets_path)
    _fig_targets(fit, out_dir / "fit_targets.png")
    if flows.period.min() <= "1962-12" and flows.period.max() >= "1960-09":  # the 1960-62 figures need 1960-62
        _fig_series(flows, targets, out_dir / "fit_series.png")
        _fig_lishu(flows, targets, out_dir / "fit_lishu.png")
        _fig_fates(flows, out_dir / "fit_jilin_fates.png")


def fit_run(out_dir: str | Path, targets: str | Path | None = None) -> pd.DataFrame:
    """The fit table of the run in ``out_dir`` against ``targets`` (default: the targets its scenario names).

    Writes ``fit.csv``, ``fit.md`` and the figures into ``out_dir``, as ``bordersim fit`` does.
    """
    out_dir = Path(out_dir)
    if targets is None:
        man = json.loads((out_dir / "manifest.json").read_text()) if (out_dir / "manifest.json").exists() else {}
        rel, src = man.get("scenario", {}).get("targets"), man.get("scenario_file")
        targets = (Path(src).parent / rel) if rel and src else Path("calibration") / "targets.yaml"
    load_targets(targets)  # validate first: a clear error before any work
    return fit_report(out_dir, targets)
