"""Global sensitivity analysis of a finished sweep with SALib.

* A ``morris`` design gives Morris elementary effects for each outcome: ``mu_star`` (mean absolute
  effect of moving a factor by one Morris step, in outcome units, with a bootstrap confidence
  interval), ``mu`` (signed) and ``sigma`` (spread: interactions or non-linearity).
* A ``sobol`` design (Saltelli's scheme) gives Sobol first-order (``S1``) and total (``ST``) indices
  with bootstrap confidence intervals (and second-order ``S2`` if the design has them).

Factors are sampled in the unit hypercube and mapped to their ranges or values, so effects are per
unit of a factor's *range* and comparable across factors. Replicates of a point are averaged;
points with no finished run drop their whole Morris trajectory or Saltelli block.
"""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import ScenarioError
from ..io import pyplot, write_text
from .sweep.results import read_sweep_dir

COLUMNS = ["outcome", "method", "factor", "role", "index", "value", "conf"]


def _unit_matrix(info: dict, points: pd.DataFrame) -> np.ndarray:
    names = info["problem"]["names"]
    return points.sort_values("point_id")[[f"u_{n}" for n in names]].to_numpy(dtype=float)


def analyse(
    out: Path, outcomes: list[str] | None = None, conf_level: float = 0.95, resamples: int = 1000
) -> tuple[pd.DataFrame, dict]:
    """Sensitivity indices of every total outcome: a tidy table and notes per outcome."""
    info, points, results = read_sweep_dir(out)
    design = info["design"]
    if design not in ("morris", "sobol"):
        raise ScenarioError(
            out,
            f"the design is {design!r}: Morris effects need design type 'morris' and Sobol indices need type "
            "'sobol' (Saltelli's scheme) in the sweep file",
        )
    spec = info["spec"]
    names_all = [o["name"] for o in spec["outcomes"] if not o.get("series")]
    if outcomes:
        bad = [o for o in outcomes if o not in names_all]
        if bad:
            raise ScenarioError(out, f"unknown outcome(s) {', '.join(bad)} (totals of this sweep: {', '.join(names_all)})")
        names_all = outcomes
    problem = dict(info["problem"])
    problem["bounds"] = [list(b) for b in problem["bounds"]]
    d = problem["num_vars"]
    roles = {f["name"]: f["role"] for f in info["factors"]}
    X = _unit_matrix(info, points)
    n_points = len(X)
    seed = int(info["seed"])
    rows, notes = [], {}
    for name in names_all:
        r = results[results.outcome == name]
        y = r.groupby("point_id").value.mean().reindex(range(n_points)).to_numpy(dtype=float)
        noise = r.groupby("point_id").value.std().mean() if info["replicates"] > 1 else float("nan")
        block = d + 1 if design == "morris" else (2 * d + 2 if spec["design"].get("second_order") else d + 2)
        nblocks = n_points // block
        ok = np.isfinite(y[: nblocks * block]).reshape(nblocks, block).all(axis=1)
        keep = np.repeat(ok, block)
        Xk, yk = X[: nblocks * block][keep], y[: nblocks * block][keep]
        note = {
            "points": n_points,
            "blocks": int(nblocks),
            "blocks_used": int(ok.sum()),
            "replicate_sd": noise,
            "mean": float(np.nanmean(y)) if np.isfinite(y).any() else float("nan"),
            "sd": float(np.nanstd(y)) if np.isfinite(y).any() else float("nan"),
        }
        notes[name] = note
        if ok.sum() < 2:
            note["skipped"] = "fewer than 2 complete trajectories/blocks (failed runs?)"
            continue
        if np.nanstd(yk) == 0:
            note["skipped"] = "the outcome does not vary"
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if design == "morris":
                from SALib.analyze import morris

                si = morris.analyze(
                    problem,
                    Xk,
                    yk,
                    num_resamples=resamples,
                    conf_level=conf_level,
                    num_levels=int(spec["design"].get("levels", 4)),
                    seed=seed,
                )
                for j, f in enumerate(problem["names"]):
                    rows.append((name, "morris", f, roles[f], "mu_star", float(si["mu_star"][j]), float(si["mu_star_conf"][j])))
                    rows.append((name, "morris", f, roles[f], "mu", float(si["mu"][j]), float("nan")))
                    rows.append((name, "morris", f, roles[f], "sigma", float(si["sigma"][j]), float("nan")))
            else:
                from SALib.analyze import sobol

                second = bool(spec["design"].get("second_order"))
                si = sobol.analyze(
                    problem, yk, calc_second_order=second, num_resamples=resamples, conf_level=conf_level, seed=seed
                )
                for j, f in enumerate(problem["names"]):
                    rows.append((name, "sobol", f, roles[f], "S1", float(si["S1"][j]), float(si["S1_conf"][j])))
                    rows.append((name, "sobol", f, roles[f], "ST", float(si["ST"][j]), float(si["ST_conf"][j])))
                if second:
                    for j in range(d):
                        for k in range(j + 1, d):
                            pair = f"{problem['names'][j]}:{problem['names'][k]}"
                            rows.append((name, "sobol", pair, "pair", "S2", float(si["S2"][j, k]), float(si["S2_conf"][j, k])))
    table = pd.DataFrame(rows, columns=COLUMNS)
    return table, notes


def _markdown(table: pd.DataFrame, notes: dict, info: dict, conf_level: float) -> str:
    design = info["design"]
    pct = f"{conf_level:.0%}"
    lines = [
        f"# Sensitivity: {info['name']}",
        "",
        f"Design: {design}, {info['n_points']} points x {info['replicates']} replicate(s); factors sampled in [0, 1] and "
        f"mapped to their ranges: a Morris effect is the change in the outcome over a factor's full range. "
        f"± is the {pct} bootstrap interval.",
        "",
    ]
    for name, note in notes.items():
        lines.append(f"## {name}")
        lines.append("")
        lines.append(
            f"Mean {note['mean']:,.1f}, sd over points {note['sd']:,.1f}"
            + (f", mean sd over replicates {note['replicate_sd']:,.1f}" if np.isfinite(note["replicate_sd"]) else "")
            + f"; {note['blocks_used']} of {note['blocks']} {'trajectories' if design == 'morris' else 'blocks'} complete."
        )
        lines.append("")
        if "skipped" in note:
            lines += [f"Not analysed: {note['skipped']}.", ""]
            continue
        t = table[(table.outcome == name)]
        if design == "morris":
            w = t.pivot_table(index=["factor", "role"], columns="index", values="value", sort=False).reset_index()
            c = t[t["index"] == "mu_star"].set_index("factor").conf
            w = w.sort_values("mu_star", ascending=False)
            lines += ["| factor | role | mu* | ± | mu | sigma |", "|---|---|---|---|---|---|"]
            for r in w.itertuples():
                lines.append(f"| {r.factor} | {r.role} | {r.mu_star:,.2f} | {c[r.factor]:,.2f} | {r.mu:,.2f} | {r.sigma:,.2f} |")
        else:
            t1 = t[t["index"].isin(["S1", "ST"])]
            v = t1.pivot_table(index=["factor", "role"], columns="index", values="value", sort=False)
            c = t1.pivot_table(index=["factor", "role"], columns="index", values="conf", sort=False)
            v = v.sort_values("ST", ascending=False)
            lines += ["| factor | role | S1 | ± | ST | ± |", "|---|---|---|---|---|---|"]
            for (f, role), r in v.iterrows():
                lines.append(
                    f"| {f} | {role} | {r.S1:.3f} | {c.loc[(f, role), 'S1']:.3f} | {r.ST:.3f} | {c.loc[(f, role), 'ST']:.3f} |"
                )
            s2 = t[t["index"] == "S2"]
            if not s2.empty:
                lines += ["", "| pair | S2 | ± |", "|---|---|---|"]
                for r in s2.sort_values("value", ascending=False).itertuples():
                    lines.append(f"| {r.factor} | {r.value:.3f} | {r.conf:.3f} |")
        lines.append("")
    return "\n".join(lines)


def figure(table: pd.DataFrame, notes: dict, info: dict, path: Path, conf_level: float) -> Path | None:
    plt = pyplot()
    names = [n for n in notes if "skipped" not in notes[n]]
    if not names:
        return None
    design = info["design"]
    ncols = min(2, len(names))
    nrows = math.ceil(len(names) / ncols)
    nf = info["problem"]["num_vars"]
    fig, axes = plt.subplots(nrows, ncols, figsize=(6.2 * ncols, max(3.0, 0.45 * nf + 1.8) * nrows + 0.6), squeeze=False)
    colours = {"lever": "tab:blue", "uncertainty": "tab:orange"}
    for ax, name in zip(axes.flat, names):
        t = table[table.outcome == name]
        if design == "morris":
            m = t[t["index"] == "mu_star"].sort_values("value")
            y = np.arange(len(m))
            ax.barh(y, m.value, xerr=m.conf, color=[colours.get(r, "0.5") for r in m.role], capsize=3, alpha=0.85)
            ax.set_xlabel(f"mu*: mean |effect| of a factor's full range\n(outcome units; ± {conf_level:.0%} CI)", fontsize=9)
        else:
            s1 = t[t["index"] == "S1"].set_index("factor")
            st = t[t["index"] == "ST"].set_index("factor").sort_values("value")
            s1 = s1.reindex(st.index)
            y = np.arange(len(st))
            colour = [colours.get(r, "0.5") for r in st.role]
            for off, tab, alpha, hatch, label in ((0.2, st, 0.9, None, "total (ST)"), (-0.2, s1, 0.45, "//", "first order (S1)")):
                ax.barh(
                    y + off, tab.value, height=0.38, xerr=tab.conf, capsize=3, color=colour, alpha=alpha, hatch=hatch, label=label
                )
            ax.axvline(0, color="0.3", lw=0.8)
            ax.set_xlabel(f"Sobol index (± {conf_level:.0%} CI)")
            m = st
        ax.set_yticks(y)
        ax.set_yticklabels(m.index if design != "morris" else m.factor, fontsize=8)
        ax.set_title(name, fontsize=10)
        ax.grid(axis="x", alpha=0.3)
    for ax in list(axes.flat)[len(names) :]:
        ax.set_visible(False)
    from matplotlib.patches import Patch

    handles = [Patch(color=c, label=r) for r, c in colours.items()]
    if design != "morris":
        handles += [Patch(facecolor="0.35", label="total (ST)"), Patch(facecolor="0.8", hatch="//", label="first order (S1)")]
    fig.legend(handles=handles, loc="lower center", fontsize=8, ncol=len(handles), frameon=False)
    fig.suptitle(f"{'Morris elementary effects' if design == 'morris' else 'Sobol indices'}: {info['name']}", fontsize=11)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def run_sensitivity(
    out: Path, outcomes: list[str] | None = None, conf_level: float = 0.95, resamples: int = 1000
) -> tuple[pd.DataFrame, Path]:
    out = Path(out)
    table, notes = analyse(out, outcomes, conf_level, resamples)
    info = json.loads((out / "sweep.json").read_text())
    write_text(out / "sensitivity.csv", table.to_csv(index=False, lineterminator="\n"))
    md = _markdown(table, notes, info, conf_level)
    write_text(out / "sensitivity.md", md + "\n")
    figure(table, notes, info, out / f"sensitivity_{info['design']}.png", conf_level)
    return table, out / "sensitivity.md"
