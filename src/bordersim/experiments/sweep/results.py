"""A sweep's files: the result file of each run, the sweep's description, the combined results.

``results.parquet`` / ``results.csv`` (totals), ``series.parquet`` / ``series.csv`` (monthly series),
``points.csv``, ``runs.csv``, ``sweep.json``, ``sweep.yaml`` and ``points.parquet``, all written
atomically (:mod:`bordersim.io`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd

from ..._version import __version__
from ...errors import ScenarioError
from ...io import write_json, write_parquet, write_text
from .design import Sweep
from .ledger import Ledger

RESULT_COLUMNS = ["run_id", "point_id", "replicate", "outcome", "value"]
SERIES_COLUMNS = ["run_id", "point_id", "replicate", "outcome", "period", "value"]


def intact(path: Path) -> bool:
    """A cheap check of a result file: present and framed by Parquet's magic bytes."""
    try:
        size = path.stat().st_size
        if size < 12:
            return False
        with open(path, "rb") as fh:
            head = fh.read(4)
            fh.seek(-4, os.SEEK_END)
            return head == b"PAR1" and fh.read(4) == b"PAR1"
    except OSError:
        return False


def result_file(key: str) -> str:
    return f"runs/{key[:2]}/{key}.parquet"


def write_spec(sweep: Sweep, out: Path) -> None:
    info = {
        "name": sweep.spec.name,
        "sweep_file": str(sweep.source),
        "scenario_file": str(sweep.scenario_path),
        "fingerprint": sweep.fingerprint,
        "package_version": __version__,
        "seed": sweep.seed,
        "replicates": sweep.spec.replicates,
        "design": sweep.design_type,
        "spec": sweep.spec.model_dump(mode="json", by_alias=True),
        "factors": [
            {"name": f.name, "role": f.role, "kind": f.kind, "paths": f.paths, "numeric": f.numeric, "scale": f.spec.scale}
            for f in sweep.factors
        ],
        "problem": sweep.problem(),
        "n_points": sweep.n_points,
        "n_runs": sweep.n_runs,
        "run_seeds": (
            "SeedSequence(seed, spawn_key=(run_id,))"
            if sweep.spec.seeds == "independent"
            else "SeedSequence(seed, spawn_key=(replicate,))"
        ),
    }
    write_json(out / "sweep.json", info)
    write_text(out / "sweep.yaml", sweep.source.read_text(encoding="utf-8"))
    write_parquet(out / "points.parquet", sweep.points_table())


def combine(sweep: Sweep, out: Path, ledger: Ledger) -> None:
    """results.parquet / results.csv (totals), series.parquet / series.csv, points.csv and runs.csv, written atomically."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    keys = set(sweep.keys())
    rows = [r for r in ledger.rows() if r["run_key"] in keys]
    tables = [pq.read_table(out / r["result_file"]) for r in rows if r["status"] == "done"]
    schema = pa.schema(
        [
            ("run_id", pa.int64()),
            ("point_id", pa.int64()),
            ("replicate", pa.int64()),
            ("outcome", pa.string()),
            ("period", pa.string()),
            ("value", pa.float64()),
        ]
    )
    allt = pa.concat_tables([t.cast(schema) for t in tables]) if tables else schema.empty_table()
    df = allt.to_pandas()
    order = {o.name: j for j, o in enumerate(sweep.spec.outcomes)}
    df["_o"] = df.outcome.map(order)
    df = df.sort_values(["run_id", "_o", "period"], kind="stable", na_position="first").drop(columns="_o")
    totals = df[df.period.isna()][RESULT_COLUMNS].reset_index(drop=True)
    series = df[df.period.notna()][SERIES_COLUMNS].reset_index(drop=True)
    write_parquet(out / "results.parquet", totals)
    write_text(out / "results.csv", totals.to_csv(index=False, lineterminator="\n"))
    if any(o.series for o in sweep.spec.outcomes):
        write_parquet(out / "series.parquet", series)
        write_text(out / "series.csv", series.to_csv(index=False, lineterminator="\n"))
    pts = sweep.points_table()
    write_text(
        out / "points.csv", pts[[c for c in pts.columns if not c.startswith("u_")]].to_csv(index=False, lineterminator="\n")
    )
    runs = pd.DataFrame(
        rows,
        columns=[
            "run_id",
            "point_id",
            "replicate",
            "run_key",
            "seed",
            "status",
            "attempts",
            "error",
            "worker",
            "submitted_utc",
            "started_utc",
            "finished_utc",
            "seconds",
        ],
    )
    write_text(out / "runs.csv", runs.to_csv(index=False, lineterminator="\n"))


def read_sweep_dir(out: Path) -> tuple[dict, pd.DataFrame, pd.DataFrame]:
    """A finished sweep's description (``sweep.json``), points and total outcomes."""
    out = Path(out)
    for f in ("sweep.json", "points.parquet", "results.parquet"):
        if not (out / f).exists():
            raise ScenarioError(out, f"no {f} here (is this a sweep directory? run `bordersim sweep` first)")
    info = json.loads((out / "sweep.json").read_text())
    points = pd.read_parquet(out / "points.parquet")
    results = pd.read_parquet(out / "results.parquet")
    return info, points, results
