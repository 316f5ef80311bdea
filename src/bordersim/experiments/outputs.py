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
from ..archive.report import write_fit
from ..archive.targets import check_targets, targets_path_of  # noqa: F401  (re-exported)
from ..io import atomic_dir, write_json
from ..world.scenario import Scenario
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


def _figures_beside(flows: pd.DataFrame, outdir: Path, title: str):
    """Start drawing the run's figures in a forked process (where fork exists); returns it, or None."""
    import multiprocessing as mp

    if "fork" not in mp.get_all_start_methods():
        return None
    proc = mp.get_context("fork").Process(target=flow_figures, args=(flows, outdir), kwargs={"title": title})
    proc.start()
    return proc


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
    started = dt.datetime.now(dt.UTC)
    t0 = time.perf_counter()
    results = run_replicates(sc, workers=workers, progress=progress, source=source)
    flows = pd.concat([r.flows for r in results], ignore_index=True)
    summary = pd.DataFrame([r.summary for r in results])
    wall = time.perf_counter() - t0

    def fill(tmp: Path) -> None:
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
            "started_utc": started.isoformat(timespec="seconds"),
            "wall_seconds": round(wall, 3),
            "replicate_seconds": [r.summary["seconds"] for r in results],
        }
        write_json(tmp / "manifest.json", manifest)
        tp = targets_path_of(sc, source)
        # With a fit report to write, the run's figures are drawn beside it in a forked process (the second core).
        drawing = _figures_beside(flows, tmp, sc.name) if figures and tp is not None else None
        if figures and drawing is None:
            flow_figures(flows, tmp, title=sc.name)
        if tp is not None:
            write_fit(flows, tmp, tp, seed=sc.run.seed, title=sc.name, figures=figures)
        if drawing is not None:
            drawing.join()
            if drawing.exitcode != 0:
                raise RuntimeError(f"drawing the run's figures failed (exit code {drawing.exitcode})")

    return atomic_dir(out, fill, force=force)
