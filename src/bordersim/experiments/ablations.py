"""Ablations: the scenario with each mechanism switched off in turn, and which targets each one carries.

Every run writes its own output directory with a fit report; ``ablations.csv`` and ``ablations.md``
say, per mechanism, which calibration targets fall outside their 90% interval without it (and which
come inside), and the change in total log score. The baseline's ``fit.md`` gets the same table.
"""

from __future__ import annotations

from pathlib import Path

from ..archive.fit import ablation_table, summary_line
from ..archive.report import fit_report
from ..io import write_text
from ..world.ablations import ABLATIONS
from ..world.loader import load_scenario
from .outputs import run_scenario, targets_path_of


def run_ablations(
    scenario: str | Path,
    out: Path,
    mechanisms: list[str] | None = None,
    overrides: dict | None = None,
    workers: int = 1,
    progress: bool = True,
    log=None,
    figures: bool = True,
) -> Path:
    """Run the scenario and each ablation into ``out``; returns ``out / "ablations.md"``."""
    source = str(scenario)
    base = load_scenario(scenario, overrides)
    out.mkdir(parents=True, exist_ok=True)
    runs = {"baseline": base}
    for mech in mechanisms or list(ABLATIONS):
        runs[f"no_{mech}"] = load_scenario(scenario, overrides, ablations=[mech])
    fits = {}
    for name, sc in runs.items():
        if log:
            log(name)
        run_scenario(sc, out / name, force=True, workers=workers, progress=progress, source=source, figures=figures)
        fits[name] = fit_report(out / name, targets_path_of(sc, source), figures=figures)
    table = ablation_table(fits["baseline"], {k: v for k, v in fits.items() if k != "baseline"})
    write_text(out / "ablations.csv", table.to_csv(index=False, lineterminator="\n"))
    # The baseline's fit report states which targets each ablation breaks.
    fit_report(out / "baseline", targets_path_of(base, source), ablations=table, figures=figures)
    lines = [
        f"# Ablations: {base.name}",
        "",
        f"Baseline: {summary_line(fits['baseline'])}.",
        "",
        "| ablation | what is switched off | targets broken | targets repaired | inside 90 | Δ log score |",
        "|---|---|---|---|---|---|",
    ]
    for r in table.itertuples():
        lines.append(
            f"| {r.ablation} | {ABLATIONS[r.ablation[3:]]} | {r.broken or '-'} | {r.repaired or '-'} | "
            f"{r.inside_90} | {r.delta_log_score:+.1f} |"
        )
    write_text(out / "ablations.md", "\n".join(lines) + "\n")
    return out / "ablations.md"
