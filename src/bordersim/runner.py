"""Running scenarios: replicates seeded by ``SeedSequence`` spawning, atomic output directories.

``run_scenario`` runs every replicate of a scenario (in this process or a process pool), then writes
into a temporary directory next to the destination and renames it into place, so a killed run never
leaves a half-written output directory behind.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from . import __version__
from .atomic import write_text
from .model import BorderModel
from .scenario import Scenario


@dataclass
class ReplicateResult:
    replicate: int
    flows: pd.DataFrame
    summary: dict


def replicate_seeds(seed: int, replicates: int) -> list[np.random.SeedSequence]:
    """One child ``SeedSequence`` per replicate: replicate i's stream depends only on (seed, i)."""
    return np.random.SeedSequence(seed).spawn(replicates)


_POSTERIORS: dict[str, pd.DataFrame] = {}


def _posterior_table(path: Path) -> pd.DataFrame:
    key = str(Path(path).resolve())
    if key not in _POSTERIORS:
        df = pd.read_parquet(path)
        _POSTERIORS[key] = df[df.generation == df.generation.max()].reset_index(drop=True)
    return _POSTERIORS[key]


def with_posterior(sc: Scenario, source: str | None, rng: np.random.Generator) -> tuple[Scenario, dict]:
    """The scenario with behavioural parameters from its posterior (a weighted draw, or the weighted median)."""
    from .scenario import validate_scenario
    from .sweep import set_path

    base = Path(source).parent if source else Path(".")
    path = base / sc.posterior.file
    post = _posterior_table(path)
    cols = [c for c in post.columns if c not in ("generation", "weight")]
    w = post.weight.to_numpy(float)
    if sc.posterior.mode == "draw":
        i = int(rng.choice(len(post), p=w / w.sum()))
        values = {c: float(post[c].iloc[i]) for c in cols}
    else:
        from .calibrate import _wq

        values = {c: float(_wq(post[c].to_numpy(float), w, [0.5])[0]) for c in cols}
    d = sc.model_dump(mode="json", by_alias=True, exclude_none=True)
    d.pop("posterior")
    d.pop("extends", None)
    for c, v in values.items():
        set_path(d, c, v)
    targets = d.pop("targets", None)
    new = validate_scenario(d, source or "<scenario>")
    return new.model_copy(update={"targets": targets}), values


def run_replicate(sc: Scenario, seed_seq: np.random.SeedSequence, replicate: int, source: str | None = None) -> ReplicateResult:
    """Run one replicate and return its monthly table and a few end-of-run figures.

    With a ``posterior`` in the scenario, the replicate's seed is split in two: one stream draws the
    parameters, the other drives the model.
    """
    t0 = time.perf_counter()
    drawn = {}
    if sc.posterior is not None:
        draw_ss, seed_seq = seed_seq.spawn(2)
        sc, drawn = with_posterior(sc, source, np.random.default_rng(draw_ss))
    model = BorderModel(sc, rng=np.random.default_rng(seed_seq))
    model.run()
    flows = model.recorder.table(model.tree, replicate)
    summary = {
        "replicate": replicate,
        "households_simulated": int(model.households.n),
        "persons_initial": round(model.initial_persons, 3),
        "persons_accounted_end": round(model.persons_accounted(), 3),
        "dprk_yuan_paid": round(model.settlement.yuan_paid, 3),
        "dprk_people_settled": round(model.settlement.people_settled, 3),
        "seconds": round(time.perf_counter() - t0, 3),
        **{f"param:{k}": v for k, v in drawn.items()},
    }
    return ReplicateResult(replicate, flows, summary)


def _git_commit() -> str | None:
    try:
        here = Path(__file__).resolve().parent
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5)
        return out.stdout.strip() or None if out.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


def _progress(total: int, desc: str):
    """A tqdm bar on a terminal; plain log lines otherwise."""
    if sys.stderr.isatty():
        from tqdm import tqdm

        return tqdm(total=total, desc=desc, unit="rep")
    return _LogProgress(total, desc)


class _LogProgress:
    def __init__(self, total: int, desc: str):
        self.total, self.desc, self.n, self.t0 = total, desc, 0, time.perf_counter()

    def update(self, k: int = 1) -> None:
        self.n += k
        print(f"[{self.desc}] replicate {self.n}/{self.total} done ({time.perf_counter() - self.t0:.1f} s)", file=sys.stderr, flush=True)

    def close(self) -> None:
        pass


def run_replicates(sc: Scenario, workers: int = 1, progress: bool = True, source: str | None = None) -> list[ReplicateResult]:
    """Run all replicates of ``sc``; results are identical whatever ``workers`` is."""
    seeds = replicate_seeds(sc.run.seed, sc.run.replicates)
    bar = _progress(len(seeds), sc.name) if progress else None
    results: list[ReplicateResult] = []
    if workers > 1 and len(seeds) > 1:
        with ProcessPoolExecutor(max_workers=workers) as ex:
            futs = [ex.submit(run_replicate, sc, s, i, source) for i, s in enumerate(seeds)]
            for f in futs:
                results.append(f.result())
                if bar:
                    bar.update(1)
    else:
        for i, s in enumerate(seeds):
            results.append(run_replicate(sc, s, i, source))
            if bar:
                bar.update(1)
    if bar:
        bar.close()
    return sorted(results, key=lambda r: r.replicate)


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (see :mod:`bordersim.atomic`)."""
    write_text(path, text)


def targets_path_of(sc: Scenario, source: str | None) -> Path | None:
    """The scenario's targets file, resolved relative to the scenario file."""
    if not sc.targets:
        return None
    base = Path(source).parent if source else Path(".")
    return base / sc.targets


def write_atomic_dir(dest: Path, fill, force: bool = False) -> Path:
    """Create ``dest`` atomically: ``fill(tmpdir)`` writes into a temporary sibling that is renamed into place."""
    dest = Path(dest)
    if dest.exists() and not force:
        raise FileExistsError(f"{dest} exists (use --force to replace it)")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.tmp-", dir=dest.parent))
    try:
        fill(tmp)
        if dest.exists():
            old = dest.with_name(f".{dest.name}.old-{os.getpid()}")
            dest.rename(old)
            tmp.rename(dest)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dest


def run_scenario(sc: Scenario, out: Path, force: bool = False, workers: int = 1, progress: bool = True,
                 source: str | None = None) -> Path:
    """Run ``sc`` and write ``flows.csv``, ``summary.csv``, ``manifest.json`` and figures into ``out``."""
    out = Path(out)
    if out.exists() and not force:
        raise FileExistsError(f"{out} exists (use --force to replace it)")
    started = dt.datetime.now(dt.timezone.utc)
    t0 = time.perf_counter()
    results = run_replicates(sc, workers=workers, progress=progress, source=source)
    flows = pd.concat([r.flows for r in results], ignore_index=True)
    summary = pd.DataFrame([r.summary for r in results])
    wall = time.perf_counter() - t0

    def fill(tmp: Path) -> None:
        flows.to_csv(tmp / "flows.csv", index=False, float_format="%.3f", lineterminator="\n")
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
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        from .figures import flow_figures

        flow_figures(flows, tmp, title=sc.name)
        tp = targets_path_of(sc, source)
        if tp is not None:
            from .fit import write_fit

            write_fit(flows, tmp, tp, seed=sc.run.seed, title=sc.name)

    return write_atomic_dir(out, fill, force=force)
