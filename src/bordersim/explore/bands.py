"""Background replicates: the calibrated baseline's 90% band, and paired comparisons with it.

**The band.** The page draws, behind its own run, the 5-95% range of the calibrated baseline
(``scenarios/baseline_1960_1962.yaml``, parameters drawn from the posterior replicate by replicate)
at the page's default scale. It is computed, not committed: when the page opens and no cached band
matches, ``band_replicates`` (default 40) replicates run in a separate process (so the page's own
model keeps its core) and the band is drawn, with a progress bar, as they come in. The result is
cached in ``outputs/explore/band-<key>.npz``; the key hashes the scenario files, the posterior, the
rule library and the package's code, the scale, the seed and the number of replicates, so a changed
model never shows a stale band.

**Comparisons.** "Compare with the baseline" runs R replicates of the page's settings with the
seeds (and posterior draws) of R baseline replicates, so that each pair differs only by the
settings: the paired difference, with the spread that remains over replicates, is the answer to
"what if" (the brief's "paired difference between two runs of the same world"). The baseline
replicates are the band's when scale, seed and parameter mode agree.

Replicate ``i`` is seeded as ``bordersim run`` seeds replicate ``i`` (``SeedSequence(seed).spawn``),
so the page's run at the default settings is replicate 0 of the band.
"""

from __future__ import annotations

import hashlib
import json
import logging
import multiprocessing as mp
import os
import threading
import time
import traceback
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import _bordersim as bs
from .series import KEPT, KEPT_INDEX, STOCKS, rollup
from .settings import BASELINE, ScenarioEntry, Settings, resolve

log = logging.getLogger("bordersim.explore")

from .command import DEFAULT_BAND_REPLICATES  # noqa: E402,F401  (one definition, read by the command too)

DEFAULT_COMPARE_REPLICATES = 20


# -- one replicate (runs in the worker process) -------------------------------------------------------


def run_one(entry: ScenarioEntry, settings: Settings, replicate: int) -> tuple[list[str], np.ndarray]:
    """Run replicate ``replicate`` of ``settings`` to the end; its months and kept measures (months x leaves x kept)."""
    res = resolve(settings, {settings.scenario: entry})
    model, _ = bs.replicate_model(res.scenario, entry.path, res.seed, replicate)
    while model.running:
        model.step()
    idx = [list(bs.MEASURES).index(m) for m in KEPT]
    return list(model.recorder.months), model.recorder.data[:, :, idx].astype(np.float32)


# -- cache keys ---------------------------------------------------------------------------------------


def _scenario_files(path: Path) -> list[Path]:
    """A scenario file and every file it extends."""
    out, p = [], Path(path)
    import yaml

    while p is not None and p.exists() and p not in out:
        out.append(p)
        ext = (yaml.safe_load(p.read_text(encoding="utf-8")) or {}).get("extends")
        p = (p.parent / ext) if ext else None
    return out


def cache_key(entry: ScenarioEntry, settings: Settings, replicates: int) -> str:
    h = hashlib.sha256()
    h.update(
        json.dumps(
            [
                settings.describe(),
                settings.levers,
                settings.timeline,
                replicates,
                settings.scale,
                settings.seed,
                settings.posterior,
            ]
        ).encode()
    )
    files = _scenario_files(entry.path)
    try:
        sc = resolve(settings, {settings.scenario: entry}).scenario
        if sc.posterior is not None:
            files.append(Path(entry.path).parent / sc.posterior.file)
    except bs.ScenarioError:
        pass
    for p in files + bs.package_sources():
        h.update(str(p.name).encode())
        h.update(p.read_bytes())
    return h.hexdigest()[:16]


# -- jobs ---------------------------------------------------------------------------------------------


@dataclass
class Job:
    """A set of replicates running in the background; results arrive replicate by replicate."""

    key: str
    label: str
    entry: ScenarioEntry
    settings: Settings
    total: int
    cache: Path | None
    months: list[str] = field(default_factory=list)
    results: dict[int, np.ndarray] = field(default_factory=dict)
    error: str | None = None
    started: float = field(default_factory=time.time)
    finished: float | None = None
    cancelled: bool = False

    @property
    def done(self) -> int:
        return len(self.results)

    @property
    def complete(self) -> bool:
        return self.done >= self.total

    def array(self) -> np.ndarray:
        """Replicates done so far, in replicate order: (replicates, months, leaves, kept)."""
        keys = sorted(self.results)
        return (
            np.stack([self.results[k] for k in keys])
            if keys
            else np.zeros((0, len(self.months), len(bs.TREE.leaf_ids), len(KEPT)))
        )

    def status(self) -> str:
        if self.error:
            return f"{self.label}: failed ({self.error})"
        if self.complete:
            return f"{self.label}: {self.total} replicates"
        return f"{self.label}: {self.done} of {self.total} replicates"


def _save(job: Job) -> None:
    if job.cache is None:
        return
    job.cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = job.cache.with_suffix(".tmp.npz")
    np.savez_compressed(
        tmp,
        data=job.array(),
        months=np.array(job.months),
        kept=np.array(KEPT),
        meta=np.array(
            json.dumps(
                {
                    "label": job.label,
                    "settings": job.settings.describe(),
                    "replicates": job.total,
                    "scenario": str(job.entry.path),
                }
            )
        ),
    )
    tmp.replace(job.cache)


def _load(job: Job) -> bool:
    if job.cache is None or not job.cache.exists():
        return False
    try:
        with np.load(job.cache) as z:
            if list(z["kept"]) != KEPT or z["data"].shape[0] != job.total:
                return False
            job.months = [str(m) for m in z["months"]]
            for i, a in enumerate(z["data"]):
                job.results[i] = a
    except Exception:  # a damaged cache file is recomputed
        log.warning("bordersim explore: ignoring unreadable cache %s", job.cache)
        job.results.clear()
        return False
    job.finished = time.time()
    return True


def _exit_with_parent(parent: int) -> None:
    """In a worker process: exit as soon as the server that started it is gone (even if it was killed)."""

    def watch():
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, name="bordersim-explore-orphan-watch", daemon=True).start()


class JobRunner:
    """Runs replicate jobs in one worker process (shared by every page of the server)."""

    def __init__(self, cache_dir: Path | None = Path("outputs") / "explore", workers: int = 1):
        self.cache_dir = Path(cache_dir) if cache_dir else None
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()
        self.jobs: dict[str, Job] = {}
        self.version = 0

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=mp.get_context("spawn"),
                initializer=_exit_with_parent,
                initargs=(os.getpid(),),
            )
        return self._pool

    def submit(self, kind: str, entry: ScenarioEntry, settings: Settings, replicates: int, label: str) -> Job:
        """Start (or join, or load from the cache) the job for these settings."""
        key = f"{kind}-{cache_key(entry, settings, replicates)}"
        with self._lock:
            if key in self.jobs and not self.jobs[key].error and not self.jobs[key].cancelled:
                return self.jobs[key]
            job = Job(key, label, entry, settings, replicates, self.cache_dir / f"{key}.npz" if self.cache_dir else None)
            self.jobs[key] = job
            if _load(job):
                self.version += 1
                return job
            ex = self._executor()
            for i in range(replicates):
                fut = ex.submit(run_one, entry, settings, i)
                fut.add_done_callback(lambda f, i=i, job=job: self._done(job, i, f))
            self.version += 1
            return job

    def _done(self, job: Job, i: int, fut) -> None:
        with self._lock:
            if fut.cancelled():
                return
            try:
                months, arr = fut.result()
            except Exception as exc:
                job.error = f"{type(exc).__name__}: {exc}"
                log.error(
                    "bordersim explore: replicate %d of %s failed\n%s", i, job.label, "".join(traceback.format_exception(exc))
                )
                self.version += 1
                return
            job.months = months
            job.results[i] = arr
            if job.complete:
                job.finished = time.time()
                try:
                    _save(job)
                except OSError as exc:
                    log.warning("bordersim explore: could not cache %s: %s", job.cache, exc)
            self.version += 1

    def shutdown(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None


# -- what the page draws -------------------------------------------------------------------------------


def band_settings(scale: float, seed: int | None = None, posterior: str = "draw") -> Settings:
    """The calibrated baseline: its own rules and levers, parameters from the posterior."""
    return Settings(scenario=BASELINE, scale=scale, seed=seed, posterior=posterior)


def quantiles(job: Job, region: str, measure: str, q=(0.05, 0.5, 0.95)) -> tuple[list[str], np.ndarray] | None:
    """Monthly quantiles over the job's replicates so far: (months, array len(q) x months)."""
    if job is None or job.done == 0:
        return None
    a = job.array()[..., KEPT_INDEX[measure]]  # reps x months x leaves
    s = a @ rollup(region)
    return job.months, np.quantile(s, q, axis=0)


def per_replicate(job: Job, region: str, measure: str) -> np.ndarray:
    """reps x months for ``region`` and ``measure``."""
    return job.array()[..., KEPT_INDEX[measure]] @ rollup(region)


@dataclass
class Comparison:
    months: list[str]
    rows: list[dict]
    #: measure -> (months, quantiles 3 x months of the paired monthly difference)
    monthly: dict[str, np.ndarray]
    pairs: int


COMPARE_MEASURES = [
    ("attempted", "attempted to cross"),
    ("stopped", "stopped at the border"),
    ("crossed", "got across"),
    ("settled", "settled by the DPRK"),
    ("sent_back", "sent back by the DPRK"),
    ("returned_own", "came home on their own"),
    ("drowned", "drowned"),
    ("legal_emigrated", "left legally"),
    ("in_north_korea_illegal", "crossers in the DPRK at the end"),
    ("in_north_korea", "all from China in the DPRK at the end"),
]


def compare(this: Job, base: Job, region: str = "china") -> Comparison | None:
    """Paired differences (this - baseline) over the months both runs cover, replicate by replicate."""
    n = min(this.done, base.done)
    reps = sorted(set(this.results) & set(base.results))
    if not reps:
        return None
    common = [m for m in this.months if m in set(base.months)]
    if not common:
        return None
    ia = [this.months.index(m) for m in common]
    ib = [base.months.index(m) for m in common]
    a = np.stack([this.results[r] for r in reps])[:, ia]
    b = np.stack([base.results[r] for r in reps])[:, ib]
    w = rollup(region)
    rows, monthly = [], {}
    for m, label in COMPARE_MEASURES:
        k = KEPT_INDEX[m]
        sa, sb = a[..., k] @ w, b[..., k] @ w  # reps x months
        if m in STOCKS:
            ta, tb = sa[:, -1], sb[:, -1]
        else:
            ta, tb = sa.sum(axis=1), sb.sum(axis=1)
        d = ta - tb
        q = lambda x: np.quantile(x, [0.05, 0.5, 0.95])  # noqa: E731
        rows.append(
            {
                "measure": m,
                "label": label,
                "baseline": q(tb),
                "this": q(ta),
                "difference": q(d),
                "share_higher": float(np.mean(d > 0)),
                "share_lower": float(np.mean(d < 0)),
            }
        )
        monthly[m] = np.quantile(sa - sb, [0.05, 0.5, 0.95], axis=0)
    return Comparison(common, rows, monthly, len(reps) if n else 0)
