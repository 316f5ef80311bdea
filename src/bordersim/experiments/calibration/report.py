"""The calibration's outputs: the posterior table and summary, figures, the posterior predictive check
and ``calibration.md``."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import pandas as pd

from ...archive.fit import summary_line
from ...archive.report import write_fit
from ...io import atomic_dir, pyplot, write_json, write_parquet, write_text
from ...world.loader import read_with_extends, validate_scenario
from ..outputs import write_flows
from ..posterior import weighted_quantile
from ..replicates import run_replicates
from .config import ABCConfig, load_config


def write_report(config_path: str | Path) -> Path:
    """``calibration.md``: the run (wall time, simulations, particles, epsilon), the posterior, and the
    posterior predictive check: which targets fall inside their 90% interval and which do not."""
    config_path = Path(config_path)
    cfg = load_config(config_path)
    out_dir = config_path.parent / cfg.output_dir
    info = json.loads((out_dir / "calibration_run.json").read_text())
    summ = pd.read_csv(out_dir / "posterior_summary.csv")
    lines = [
        "# Calibration report",
        "",
        f"Command: `bordersim calibrate {config_path.as_posix()}` "
        f"(pyabc ABC-SMC; configuration and priors in `{config_path.name}`).",
        "",
        "| | |",
        "|---|---|",
    ]
    labels = {
        "effective_sample_size_final": "effective sample size of the final population",
        "generations": "generations",
        "simulations": "simulations",
        "accepted_particles_final": "accepted particles (final)",
        "final_epsilon": "final epsilon (RMS standardized discrepancy)",
        "wall_seconds_this_session": "wall time of the ABC run, s",
        "population_size": "population size",
        "scale": "population scale per particle",
    }
    for k, lab in labels.items():
        v = info.get(k)
        lines.append(f"| {lab} | {v:.3g} |" if isinstance(v, float) else f"| {lab} | {v} |")
    lines += [
        "",
        "## Posterior (final generation, weighted)",
        "",
        "| parameter | prior | median | 50% CI | 90% CI | 90% width / prior width |",
        "|---|---|---|---|---|---|",
    ]
    for r in summ.itertuples():
        lines.append(
            f"| `{r.parameter}` | {r.prior} {r.prior_low:.3g}-{r.prior_high:.3g} | {r.median:.3g} | "
            f"{r.ci50_low:.3g}-{r.ci50_high:.3g} | {r.ci90_low:.3g}-{r.ci90_high:.3g} | {r.ci90_width_over_prior_width:.2f} |"
        )
    fit_path = out_dir / "ppc" / "fit.csv"
    if fit_path.exists():
        fit = pd.read_csv(fit_path)
        lines += [
            "",
            "## Posterior predictive check",
            "",
            f"The baseline run with parameters drawn from the posterior ({cfg.posterior_predictive.replicates} replicates at "
            f"scale {cfg.posterior_predictive.scale}; full report in `ppc/fit.md`):",
            "",
            f"- **{summary_line(fit, 'calibration')}**;",
            f"- {summary_line(fit, 'validation')}.",
            "",
        ]
        miss = fit[(fit.role == "calibration") & fit.observed.notna() & (fit.inside_90 == False)]  # noqa: E712
        if len(miss):
            lines += [
                "Calibration targets outside their 90% interval:",
                "",
                "| target | observed | predicted median | 90% interval |",
                "|---|---|---|---|",
            ]
            for r in miss.itertuples():
                lines.append(f"| `{r.id}` | {r.observed:.4g} | {r.predicted_median:.4g} | {r.p05:.4g}-{r.p95:.4g} |")
            lines.append("")
        pred = fit[fit.observed.isna()]
        if len(pred):
            lines += [
                "Withheld figures (validation, never fitted): predictions",
                "",
                "| target | predicted median | 50% interval | 90% interval |",
                "|---|---|---|---|",
            ]
            for r in pred.itertuples():
                lines.append(f"| `{r.id}` | {r.predicted_median:.4g} | {r.p25:.4g}-{r.p75:.4g} | {r.p05:.4g}-{r.p95:.4g} |")
            lines.append("")
    path = out_dir / "calibration.md"
    write_text(path, "\n".join(lines) + "\n")
    return path


def write_outputs(history, cfg: ABCConfig, out_dir: Path, info: dict) -> None:
    """posterior.parquet (every generation; columns are scenario paths), posterior_summary.csv, calibration_run.json, figures."""
    out_dir.mkdir(parents=True, exist_ok=True)
    frames = []
    for t in range(history.max_t + 1):
        df, w = history.get_distribution(t=t)
        df = df.reset_index(drop=True)
        for name, p in cfg.parameters.items():
            if p.dist == "loguniform":
                df[name] = 10.0 ** df[name]
        df.insert(0, "weight", np.asarray(w))
        df.insert(0, "generation", t)
        frames.append(df)
    allpop = pd.concat(frames, ignore_index=True)
    paths = {name: p.path for name, p in cfg.parameters.items()}
    table = allpop.rename(columns=paths)
    write_parquet(out_dir / "posterior.parquet", table)
    final = allpop[allpop.generation == history.max_t]
    rows = []
    for name, p in cfg.parameters.items():
        x, w = final[name].to_numpy(float), final.weight.to_numpy(float)
        q = weighted_quantile(x, w, [0.05, 0.25, 0.5, 0.75, 0.95])
        width = (p.high - p.low) if p.dist == "uniform" else math.log(p.high / p.low)
        w90 = (q[4] - q[0]) if p.dist == "uniform" else math.log(q[4] / q[0])
        rows.append(
            {
                "parameter": name,
                "path": p.path,
                "prior": p.dist,
                "prior_low": p.low,
                "prior_high": p.high,
                "median": q[2],
                "ci50_low": q[1],
                "ci50_high": q[3],
                "ci90_low": q[0],
                "ci90_high": q[4],
                "ci90_width_over_prior_width": w90 / width,
            }
        )
    summ = pd.DataFrame(rows)
    write_text(out_dir / "posterior_summary.csv", summ.to_csv(index=False, float_format="%.6g", lineterminator="\n"))
    write_json(out_dir / "calibration_run.json", info)
    pops = history.get_all_populations()
    pops = pops[pops.t >= 0]
    _figures(final, cfg, pops, out_dir)


def _figures(final: pd.DataFrame, cfg: ABCConfig, pops: pd.DataFrame, out_dir: Path) -> None:
    plt = pyplot()
    names = list(cfg.parameters)
    n = len(names)
    ncol = 4
    nrow = int(math.ceil(n / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(13, 2.6 * nrow))
    axes = np.atleast_1d(axes).ravel()
    w = final.weight.to_numpy(float)
    for ax, name in zip(axes, names):
        p = cfg.parameters[name]
        x = final[name].to_numpy(float)
        if p.dist == "loguniform":
            bins = np.geomspace(p.low, p.high, 25)
            ax.set_xscale("log")
        else:
            bins = np.linspace(p.low, p.high, 25)
        ax.hist(x, bins=bins, weights=w, density=True, color="#1f77b4", alpha=0.8, label="posterior")
        ax.axhline(1 / (p.high - p.low) if p.dist == "uniform" else 0, color="k", lw=0)
        ax.set_xlim(p.low, p.high)
        ax.set_title(name, fontsize=9)
        ax.tick_params(labelsize=7)
        ax.set_yticks([])
    for ax in axes[n:]:
        ax.set_visible(False)
    fig.suptitle("Posterior marginals (weighted final population; x axis spans the prior)", fontsize=11)
    fig.tight_layout()
    fig.savefig(out_dir / "posterior_marginals.png", dpi=100)
    plt.close(fig)

    fig, axes = plt.subplots(n, n, figsize=(1.6 * n, 1.6 * n))
    for i, a in enumerate(names):
        for j, b in enumerate(names):
            ax = axes[i, j]
            ax.set_xticks([])
            ax.set_yticks([])
            if i == j:
                ax.hist(final[a], bins=15, weights=w, color="#1f77b4")
            elif i > j:
                ax.scatter(final[b], final[a], s=3, c=w, cmap="viridis", alpha=0.7)
                if cfg.parameters[b].dist == "loguniform":
                    ax.set_xscale("log")
                if cfg.parameters[a].dist == "loguniform":
                    ax.set_yscale("log")
            else:
                ax.set_visible(False)
            if j == 0:
                ax.set_ylabel(a, fontsize=6, rotation=0, ha="right")
            if i == n - 1:
                ax.set_xlabel(b, fontsize=6, rotation=45, ha="right")
    fig.suptitle("Posterior pairs (final population; colour: weight)", fontsize=11)
    fig.savefig(out_dir / "posterior_pairs.png", dpi=90, bbox_inches="tight")
    plt.close(fig)

    fig, ax1 = plt.subplots(figsize=(7, 4))
    ax1.plot(pops.t, pops.epsilon, "o-", color="#1f77b4")
    ax1.set_xlabel("generation")
    ax1.set_ylabel("epsilon (RMS standardized discrepancy)", color="#1f77b4")
    ax2 = ax1.twinx()
    ax2.plot(pops.t, pops.particles / pops.samples, "s--", color="#ff7f0e")
    ax2.set_ylabel("acceptance rate", color="#ff7f0e")
    ax1.set_title("ABC-SMC: tolerance and acceptance rate by generation")
    ax1.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out_dir / "epsilon_by_generation.png", dpi=110)
    plt.close(fig)


def posterior_predictive(config_path: Path, out_dir: Path) -> Path:
    """Run the scenario with parameters drawn from the posterior; write the fit report (all targets)."""
    cfg = load_config(config_path)
    sc_path = config_path.parent / cfg.scenario
    data = read_with_extends(sc_path)
    data.pop("extends", None)
    data["posterior"] = {
        "file": os.path.relpath((out_dir / "posterior.parquet").resolve(), sc_path.parent.resolve()),
        "mode": "draw",
    }
    data["run"] = {**data["run"], "replicates": cfg.posterior_predictive.replicates, "scale": cfg.posterior_predictive.scale}
    sc = validate_scenario(data, sc_path)
    results = run_replicates(sc, workers=os.cpu_count() or 1, progress=True, source=str(sc_path))
    flows = pd.concat([r.flows for r in results], ignore_index=True)
    tfile = sc_path.parent / sc.targets

    def fill(tmp: Path) -> None:
        write_flows(flows, tmp / "flows.csv")
        write_json(
            tmp / "manifest.json",
            {
                "scenario": sc.model_dump(mode="json", by_alias=True),
                "scenario_file": str(sc_path),
                "seed": sc.run.seed,
                "posterior_predictive": True,
            },
        )
        write_fit(flows, tmp, tfile, seed=sc.run.seed, title=f"{sc.name}: posterior predictive check")

    return atomic_dir(out_dir / "ppc", fill, force=True)
