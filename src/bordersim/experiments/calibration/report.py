"""The calibration's outputs: the posterior and its summary, the run report, figures and ``calibration.md``.

* ``posterior.parquet``: the posterior draws (columns ``generation``, ``weight`` and one per parameter,
  named by its scenario path: what a scenario's ``posterior:`` reads);
* ``posterior_summary.csv``: per parameter its prior, median, 50% and 90% credible intervals and the
  90% width over the prior width (on the prior's own scale: log for a log-uniform prior);
* ``calibration_run.json``: the engine's report (why it stopped, every wave, MCMC diagnostics,
  correlations, shrinkage, residual correlations, the emulator's fit of each record) and timings;
* figures: ``posterior_marginals.png``, ``posterior_correlations.png``, ``waves.png``, ``pit.png``;
* ``calibration.md``: all of it in words and tables, with the checks of :mod:`.validation`.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from ...archive.fit import summary_line
from ...io import pyplot, write_json, write_parquet, write_text
from .config import load_config
from .setup import CalibrationSetup
from .validation import group_scores, path_posterior, pit_values


def write_outputs(s: CalibrationSetup, result, wall: float) -> None:
    """posterior.parquet (scenario paths as columns), posterior_summary.csv, calibration_run.json and figures."""
    out = s.out_dir
    out.mkdir(parents=True, exist_ok=True)
    write_parquet(out / "posterior.parquet", path_posterior(s, result.posterior))
    summ = result.summary.copy()
    summ.insert(1, "path", [s.cfg.parameters[n].path for n in summ.parameter])
    summ.insert(2, "prior", [s.cfg.parameters[n].dist for n in summ.parameter])
    write_text(out / "posterior_summary.csv", summ.to_csv(index=False, float_format="%.6g", lineterminator="\n"))
    report = dict(result.report)
    report["wall_seconds"] = round(wall, 1)
    report["scale_per_simulation"] = s.cfg.scale
    report["priors"] = {n: p.model_dump() for n, p in s.cfg.parameters.items()}
    write_json(out / "calibration_run.json", report)
    _fig_marginals(s, result.posterior, out / "posterior_marginals.png")
    _fig_correlations(report, out / "posterior_correlations.png")
    _fig_waves(report, out / "waves.png")


def _fig_marginals(s: CalibrationSetup, post: pd.DataFrame, path: Path) -> None:
    plt = pyplot()
    names = list(s.cfg.parameters)
    ncol = 4
    nrow = int(math.ceil(len(names) / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(13, 2.4 * nrow))
    axes = np.atleast_1d(axes).ravel()
    for ax, name in zip(axes, names, strict=False):
        p = s.cfg.parameters[name]
        x = post[name].to_numpy(float)
        log = p.dist == "loguniform"
        bins = np.geomspace(p.low, p.high, 31) if log else np.linspace(p.low, p.high, 31)
        ax.hist(x, bins=bins, density=False, color="#1f77b4", alpha=0.85)
        ax.axhline(len(x) / 30, color="k", lw=1, ls="--")  # the prior, flat on its own scale
        if log:
            ax.set_xscale("log")
        ax.set_xlim(p.low, p.high)
        ax.set_title(name, fontsize=9)
        ax.tick_params(labelsize=7)
        ax.set_yticks([])
    for ax in axes[len(names) :]:
        ax.set_visible(False)
    fig.suptitle("Posterior marginals (bars) against the prior (dashed; flat on its scale); x axis spans the prior", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _fig_correlations(report: dict, path: Path) -> None:
    plt = pyplot()
    names = report["posterior_correlation"]["names"]
    c = np.array(report["posterior_correlation"]["matrix"], dtype=float)
    fig, ax = plt.subplots(figsize=(0.42 * len(names) + 3, 0.42 * len(names) + 2))
    im = ax.imshow(c, vmin=-1, vmax=1, cmap="RdBu_r")
    ax.set_xticks(range(len(names)), names, rotation=90, fontsize=7)
    ax.set_yticks(range(len(names)), names, fontsize=7)
    fig.colorbar(im, ax=ax, shrink=0.7, label="posterior correlation (on the prior's scale)")
    ax.set_title("Posterior correlations between parameters", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _fig_waves(report: dict, path: Path) -> None:
    plt = pyplot()
    w = report["waves"]
    k = [x["wave"] for x in w]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 3.8))
    a1.semilogy(k, [max(x["nroy_fraction"], 1e-300) for x in w], "o-")
    a1.set_xlabel("wave")
    a1.set_ylabel("share of the prior not ruled out")
    a1.set_title("History matching: the non-implausible region", fontsize=10)
    med = [float(np.median(list(x["posterior_width90_ratio"].values()))) for x in w]
    a2.plot(k, med, "s-", color="#ff7f0e")
    a2.set_xlabel("wave")
    a2.set_ylabel("median 90% width / prior width")
    a2.set_ylim(0, 1)
    a2.set_title("Posterior width by wave", fontsize=10)
    for a in (a1, a2):
        a.grid(alpha=0.3)
        a.set_xticks(k)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _fig_pit(pits: dict[str, np.ndarray], path: Path) -> None:
    plt = pyplot()
    fig, axes = plt.subplots(1, len(pits), figsize=(4.2 * len(pits), 3.4), squeeze=False)
    for ax, (label, v) in zip(axes[0], pits.items(), strict=True):
        v = v[np.isfinite(v)]
        ax.hist(v, bins=np.linspace(0, 1, 11), color="#1f77b4", edgecolor="white")
        ax.axhline(len(v) / 10, color="k", ls="--", lw=1)
        ax.set_xlabel("PIT (share of the predictive record below the figure)")
        ax.set_title(f"{label} ({len(v)} figures)", fontsize=10)
    axes[0][0].set_ylabel("targets")
    fig.suptitle("Probability integral transforms: flat if the predictive distributions are calibrated", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _table(summ: pd.DataFrame, cfg) -> list[str]:
    lines = [
        "| parameter | prior | median | 50% CI | 90% CI | 90% width / prior width | why this prior |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in summ.itertuples():
        p = cfg.parameters[r.parameter]
        lines.append(
            f"| `{r.parameter}` | {r.prior} {r.prior_low:.3g}-{r.prior_high:.3g} | {r.median:.3g} | {r.q25:.3g}-{r.q75:.3g} | "
            f"{r.q05:.3g}-{r.q95:.3g} | {r.width90_over_prior:.2f} | {p.why} |"
        )
    return lines


def _waves(rep: dict) -> list[str]:
    lines = ["| wave | simulations (total) | share of the prior not ruled out | median 90% width / prior | min ESS | max R-hat |"]
    lines.append("|---|---|---|---|---|---|")
    for w in rep["waves"]:
        med = float(np.median(list(w["posterior_width90_ratio"].values())))
        lines.append(
            f"| {w['wave']} | {w['n_new']} ({w['n_total']}) | {w['nroy_fraction']:.3g} | {med:.2f} | "
            f"{w['mcmc']['min_ess']:.0f} | {w['mcmc']['max_rhat']:.3f} |"
        )
    return lines


def _correlations(rep: dict, top: int = 8) -> list[str]:
    names = rep["posterior_correlation"]["names"]
    c = np.array(rep["posterior_correlation"]["matrix"], dtype=float)
    iu = np.triu_indices(len(names), 1)
    order = np.argsort(-np.abs(c[iu]))[:top]
    return [f"- `{names[iu[0][o]]}` and `{names[iu[1][o]]}`: {c[iu[0][o], iu[1][o]]:+.2f}" for o in order]


def write_report(config_path: str | Path) -> Path:
    """``calibration.md``: the method and why it stopped, the waves, the posterior with shrinkage and
    correlations, the posterior predictive check (coverage with sharpness and error), leave one source
    out, simulation-based calibration, and the predictions of the withheld figures."""
    config_path = Path(config_path)
    cfg = load_config(config_path)
    out = config_path.parent / cfg.output_dir
    rep = json.loads((out / "calibration_run.json").read_text())
    summ = pd.read_csv(out / "posterior_summary.csv")
    lines = [
        "# Calibration report",
        "",
        f"Command: `bordersim calibrate {config_path.as_posix()}` (configuration, priors and the reason for each range in "
        f"`{config_path.name}`). Method: {rep['method']} (see `bordersim/inference/engine.py` for why not ABC-SMC).",
        "",
        f"**Stopped: {rep['stop_reason']}** ({rep['stop_detail']}). {rep['n_waves']} waves, {rep['n_simulations']:,} simulations "
        f"at scale {rep['scale_per_simulation']}, {rep['wall_seconds'] / 60:.1f} minutes on this machine. "
        f"Posterior sample: {len(pd.read_parquet(out / 'posterior.parquet'))} draws, effective sample size "
        f"{rep['mcmc']['min_ess']:.0f} (smallest over parameters), split R-hat at most {rep['mcmc']['max_rhat']:.3f}. "
        f"Median 90% credible width / prior width: **{rep['median_shrinkage']:.2f}**.",
        "",
        "## Waves",
        "",
        *_waves(rep),
        "",
        "## Posterior",
        "",
        *_table(summ, cfg),
        "",
        "Strongest posterior correlations (on the priors' scales; `posterior_correlations.png`):",
        "",
        *_correlations(rep),
        "",
    ]
    lines += _checks(out, cfg)
    path = out / "calibration.md"
    write_text(path, "\n".join(lines) + "\n")
    return path


def _checks(out: Path, cfg) -> list[str]:
    lines: list[str] = []
    pits = {}
    fit_path = out / "ppc" / "fit.csv"
    if fit_path.exists():
        fit = pd.read_csv(fit_path)
        pits["posterior predictive, calibration targets"] = pit_values(fit[fit.role == "calibration"])
        ppc = cfg.posterior_predictive
        lines += [
            "## Posterior predictive check",
            "",
            f"The scenario run with parameters drawn from the posterior ({ppc.replicates} replicates at scale {ppc.scale}; "
            "full report in `ppc/fit.md`):",
            "",
            f"- **{summary_line(fit, 'calibration')}**;",
            f"- {summary_line(fit, 'validation')}.",
            "",
        ]
        miss = fit[(fit.role == "calibration") & fit.observed.notna() & ~fit.inside_90.astype(bool)]
        wide = fit[(fit.role == "calibration") & fit.wide_only.fillna(False).astype(bool)]
        for label, df in (("outside their 90% interval", miss), ("inside only because the interval is wide", wide)):
            if len(df):
                lines += [f"Calibration targets {label}:", "", "| target | observed | predicted median | 90% interval |"]
                lines.append("|---|---|---|---|")
                lines += [
                    f"| `{r.id}` | {r.observed:.4g} | {r.predicted_median:.4g} | {r.p05:.4g}-{r.p95:.4g} |"
                    for r in df.itertuples()
                ]
                lines.append("")
        pred = fit[fit.observed.isna()]
        if len(pred):
            lines += ["Withheld figures (never fitted): predictions", "", "| target | predicted median | 50% | 90% |"]
            lines.append("|---|---|---|---|")
            lines += [
                f"| `{r.id}` | {r.predicted_median:.4g} | {r.p25:.4g}-{r.p75:.4g} | {r.p05:.4g}-{r.p95:.4g} |"
                for r in pred.itertuples()
            ]
            lines.append("")
        val = fit[(fit.role == "validation") & fit.observed.notna()]
        pits["posterior predictive, validation targets"] = pit_values(val)
    lines += _loo(out, pits)
    lines += _sbc(out)
    if pits:
        _fig_pit(pits, out / "pit.png")
        lines += ["PIT histograms: `pit.png`.", ""]
    return lines


def _loo(out: Path, pits: dict) -> list[str]:
    table = out / "loo" / "loo.csv"
    if not table.exists():
        return []
    loo = pd.read_csv(table)
    lines = [
        "## Validation out of sample: leave one source out",
        "",
        "Each source group refitted away (from the full run's wave 0), its targets predicted with real runs at the refitted "
        "posterior (`loo/<group>/run/fit.md`):",
        "",
        "| left out | refit stopped | held-out targets inside 90% | median abs. error | median 90% width / obs. | "
        "median interval score / obs. | median CRPS / obs. |",
        "|---|---|---|---|---|---|---|",
    ]
    held_pits = []
    for r in loo.itertuples():
        fit = pd.read_csv(out / "loo" / r.group / "run" / "fit.csv")
        held = fit[fit.group == r.group]
        sc = group_scores(held)
        held_pits.append(pit_values(held))
        lines.append(
            f"| `{r.group}` | {r.stop_reason} | {sc['inside_90']} of {sc['n']} | {sc['median_abs_relative_error']:.0%} | "
            f"{sc['median_width90_rel']:.2f} | {sc['median_interval_score_rel']:.2f} | {sc['median_crps_rel']:.2f} |"
        )
    if held_pits:
        pits["left out, predicted"] = np.concatenate(held_pits)
    return lines + [""]


def _sbc(out: Path) -> list[str]:
    path = out / "sbc" / "sbc.json"
    if not path.exists():
        return []
    d = json.loads(path.read_text())
    c = d["coverage"]
    o = c["overall"]
    lines = [
        "## Parameter recovery (simulation-based calibration)",
        "",
        f"{c['n_archives']} synthetic archives drawn from the model and its observation model at known parameters "
        "(`bordersim calibrate ... --sbc`), each recalibrated at a reduced budget: the truth fell inside the 50% credible "
        f"interval in {o['coverage50']:.0%} and inside the 90% interval in {o['coverage90']:.0%} of "
        f"{o['n_intervals']} intervals (expected 50% and 90%; binomial ranges {o['expected_range50'][0]:.0%}-"
        f"{o['expected_range50'][1]:.0%} and {o['expected_range90'][0]:.0%}-{o['expected_range90'][1]:.0%}).",
        "",
        "| parameter | inside 50% | inside 90% | mean rank |",
        "|---|---|---|---|",
    ]
    for name, v in c["per_parameter"].items():
        lines.append(f"| `{name}` | {v['coverage50']:.0%} | {v['coverage90']:.0%} | {v['mean_rank']:.2f} |")
    return lines + [""]
