"""Replicates: ``SeedSequence`` spawning and running one or all replicates of a scenario.

Replicate ``i`` of a scenario with seed ``s`` is driven by child ``i`` of ``SeedSequence(s)``, so its
stream depends only on ``(s, i)``: results are identical whatever executes them. With a ``posterior``
in the scenario the replicate's seed is split in two: one stream draws the parameters
(:mod:`.posterior`), the other drives the model.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..model import BorderModel
from ..world.scenario import Scenario
from .executor import Executor, Progress
from .posterior import with_posterior


@dataclass
class ReplicateResult:
    replicate: int
    flows: pd.DataFrame
    summary: dict


def replicate_seeds(seed: int, replicates: int) -> list[np.random.SeedSequence]:
    """One child ``SeedSequence`` per replicate: replicate i's stream depends only on (seed, i)."""
    return np.random.SeedSequence(seed).spawn(replicates)


def run_replicate(sc: Scenario, seed_seq: np.random.SeedSequence, replicate: int, source: str | None = None) -> ReplicateResult:
    """Run one replicate and return its monthly table and a few end-of-run figures.

    ``source`` is the scenario file its relative paths start from (default: the file it was loaded from).
    """
    t0 = time.perf_counter()
    source = source if source is not None else sc.source
    drawn = {}
    if sc.posterior is not None:
        # The children of ``seed_seq.spawn(2)``, built without spawning (so the same seed always splits alike).
        draw_ss, seed_seq = (np.random.SeedSequence(seed_seq.entropy, spawn_key=(*seed_seq.spawn_key, k)) for k in (0, 1))
        sc, drawn = with_posterior(sc, source, np.random.default_rng(draw_ss))
    model = BorderModel(sc, rng=seed_seq)
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


def run_replicates(sc: Scenario, workers: int = 1, progress: bool = True, source: str | None = None) -> list[ReplicateResult]:
    """Run all replicates of ``sc`` (``workers`` > 1: on a local process pool); results do not depend on ``workers``."""
    seeds = replicate_seeds(sc.run.seed, sc.run.replicates)
    bar = Progress(len(seeds), sc.name, unit="replicate", enabled=progress, every=0.0)
    results: list[ReplicateResult] = []
    try:
        if workers > 1 and len(seeds) > 1:
            with Executor(workers=workers) as ex:
                pool = ex.start()
                futs = [pool.submit(run_replicate, sc, s, i, source) for i, s in enumerate(seeds)]
                for f in futs:
                    results.append(f.result())
                    bar.update()
        else:
            for i, s in enumerate(seeds):
                results.append(run_replicate(sc, s, i, source))
                bar.update()
    finally:
        bar.close()
    return sorted(results, key=lambda r: r.replicate)
