"""A run's output directory: ``flows.csv``, ``summary.csv``, ``manifest.json``, figures and the fit report.

``run_scenario`` runs every replicate of a scenario, then fills a temporary directory beside the
destination and renames it into place (:func:`bordersim.io.atomic_dir`), so a killed run never leaves
a half-written output directory behind.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from .._version import __version__
from ..archive.report import fit_figures, write_fit
from ..archive.targets import check_targets, targets_path_of  # noqa: F401  (re-exported)
from ..io import atomic_dir, write_json
from ..world.scenario import Scenario
from .drawing import Drawer
from .replicates import run_replicates
from .run_figures import flow_figures


def _git_commit() -> str | None:
    try:
        here = Path(__file__).resolve().parent
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5)
        return out.stdout.strip() or None if out.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


def write_flows(flows: pd.DataFrame, dest: Path) -> None:
    """A run's monthly table as CSV (the one format of ``flows.csv``)."""
    flows.to_csv(dest, index=False, float_format="%.3f", lineterminator="\n")


def run_scenario(
    sc: Scenario,
    out: Path,
    force: bool = False,
    workers: int = 1,
    progress: bool = True,
    source: str | None = None,
    figures: bool = True,
) -> Path:
    """Run ``sc`` and write ``flows.csv``, ``summary.csv``, ``manifest.json`` and figures into ``out``.

    ``source`` is the scenario file (default: the file ``sc`` was loaded from); a scenario that names
    ``targets`` also gets its fit report (``fit.csv``, ``fit.md``, ``fit_*.png``). ``figures=False``
    writes the tables only.
    """
    out = Path(out)
    if out.exists() and not force:
        raise FileExistsError(f"{out} exists (use --force to replace it)")
    source = source if source is not None else sc.source
    check_targets(sc, source)  # a bad targets file is an error now, not after the whole run
    tp = targets_path_of(sc, source)
    # The figures are drawn by a process forked now, which loads matplotlib while the run simulates (the second
    # core), then draws the run's figures and the fit report's side by side.
    with Drawer(figures) as drawer:
        started = dt.datetime.now(dt.UTC)
        t0 = time.perf_counter()
        results = run_replicates(sc, workers=workers, progress=progress, source=source)
        flows = pd.concat([r.flows for r in results], ignore_index=True)
        summary = pd.DataFrame([r.summary for r in results])
        wall = time.perf_counter() - t0
        run = {"flows": flows, "summary": summary, "results": results, "started": started, "wall": wall}
        return atomic_dir(out, lambda tmp: _fill(tmp, sc, source, tp, run, drawer), force=force)


def _fill(tmp: Path, sc: Scenario, source, tp, run: dict, drawer: Drawer) -> None:
    """Write a run's files into ``tmp``: tables, manifest, the fit report, and the figures (sent to ``drawer``)."""
    flows, summary, results = run["flows"], run["summary"], run["results"]
    write_flows(flows, tmp / "flows.csv")
    summary.drop(columns=["seconds"]).to_csv(tmp / "summary.csv", index=False, lineterminator="\n")
    manifest = {
        "scenario": sc.model_dump(mode="json", by_alias=True),
        "scenario_file": source,
        "seed": sc.run.seed,
        "replicates": sc.run.replicates,
        "scale": sc.run.scale,
        "replicate_seeds": "numpy.random.SeedSequence(seed).spawn(replicates)",
        "package_version": __version__,
        "git_commit": _git_commit(),
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "mesa": __import__("mesa").__version__,
        "started_utc": run["started"].isoformat(timespec="seconds"),
        "wall_seconds": round(run["wall"], 3),
        "replicate_seconds": [r.summary["seconds"] for r in results],
    }
    write_json(tmp / "manifest.json", manifest)
    drawer.draw(flow_figures, flows, tmp, title=sc.name)
    if tp is not None:
        fit = write_fit(flows, tmp, tp, seed=sc.run.seed, title=sc.name, figures=False)
        drawer.draw(fit_figures, fit, flows, tp, tmp)
    drawer.join()
