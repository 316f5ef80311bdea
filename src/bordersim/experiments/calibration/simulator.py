"""The simulator calibration calls: a particle's parameters -> the simulated quantities of the fitted targets.

Each particle is one run of the scenario at the configuration's scale, seeded from a hash of the
calibration seed and the particle's parameter values (so the same parameters always give the same
simulation, whatever the sampler or worker), and simulated only as far as the last fitted month.

A particle costs the simulation and little else: the target quantities are read straight from the
recorder's numpy array (months x home regions x measures) through a :class:`TargetIndex` built once (no
pandas, no monthly table), and :class:`BatchSimulator` keeps its worker processes between batches.

* :meth:`Simulator.__call__` is pyabc's model: ``{name: value}`` -> ``{target id: value}``;
* :meth:`Simulator.summary` runs one parameter vector and returns the summary vector (``np.ndarray``);
* :meth:`BatchSimulator.simulate` is ``simulate(thetas, seeds) -> np.ndarray[n, m]`` for emulator-based
  inference (rows of ``thetas`` in the order of :attr:`Simulator.names`, natural scale).
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import json
import math
from pathlib import Path

import numpy as np

from ...archive.targets import Target, as_list
from ...model.model import BorderModel
from ...model.recorder import AVERAGES, MEASURE_INDEX, month_range
from ...world.geography import TREE
from ...world.loader import validate_scenario
from ...world.paths import set_path
from .config import Prior, natural


def particle_seed(seed: int, params: dict[str, float]) -> np.random.SeedSequence:
    """A seed that depends only on the calibration seed and the parameter values."""
    h = hashlib.sha256(json.dumps({k: float(params[k]) for k in sorted(params)}, sort_keys=True).encode()).digest()
    return np.random.SeedSequence([seed] + [int.from_bytes(h[i : i + 4], "little") for i in range(0, 16, 4)])


class TargetIndex:
    """Where each target's quantity lies in a recorder's array: built once per calibration, read per particle.

    A ``flow`` sums its measures over the region's home regions and the period's months; a ``stock`` reads
    the period's last month; a ``share`` divides two such sums (the same quantities as
    :class:`bordersim.archive.extract.FlowIndex` reads from ``flows.csv``, without rounding to 3 decimals).
    """

    def __init__(self, targets: list[Target], start: dt.date, end: dt.date):
        months = {m: i for i, m in enumerate(month_range(start, end))}
        self.ids = [t.id for t in targets]
        self._terms: list[tuple] = []
        for t in targets:
            first = t.period.end if t.kind == "stock" else t.period.start
            span = [months[m] for m in month_range(_month(first), _month(t.period.end)) if m in months]
            leaves = np.flatnonzero(TREE.rollup[TREE.node_index[t.region]])
            parts = [as_list(t.numerator), as_list(t.denominator)] if t.kind == "share" else [[t.measure]]
            for ms in parts:
                if any(m in AVERAGES for m in ms):
                    raise ValueError(f"target {t.id}: averages are not summed over regions")
            cells = [np.array([MEASURE_INDEX[m] for m in ms]) for ms in parts]
            self._terms.append((t.kind == "share", np.array(span, dtype=np.int64), leaves, cells))

    def values(self, data: np.ndarray) -> np.ndarray:
        """Each target's quantity in a recorder's ``data`` (months x home regions x measures)."""
        out = np.empty(len(self._terms))
        for i, (share, months, leaves, cells) in enumerate(self._terms):
            if len(months) == 0:
                out[i] = np.nan
                continue
            block = data[months][:, leaves]
            sums = [float(block[:, :, c].sum()) for c in cells]
            if share:
                out[i] = sums[0] / sums[1] if sums[1] > 0 else np.nan
            else:
                out[i] = sums[0]
        return out


def _month(period: str) -> dt.date:
    return dt.date(int(period[:4]), int(period[5:]), 1)


class Simulator:
    """Picklable model function for pyabc: parameters -> simulated target quantities."""

    def __init__(self, base: dict, source: Path, priors: dict[str, Prior], targets: list[Target], scale: float, seed: int):
        self.base = base
        self.source = str(source)
        self.priors = priors
        self.targets = targets
        self.scale = scale
        self.seed = seed
        self._index: TargetIndex | None = None

    @property
    def names(self) -> list[str]:
        """The free parameters, in the order of a parameter vector."""
        return list(self.priors)

    def scenario(self, params: dict[str, float], scale: float | None = None, replicates: int = 1):
        d = copy.deepcopy(self.base)
        for name, prior in self.priors.items():
            set_path(d, prior.path, float(params[name]))
        # Simulate only as far as the last month a fitted target needs.
        last = max(t.period.end for t in self.targets)
        y, mth = int(last[:4]), int(last[5:])
        end = dt.date(y + (mth == 12), mth % 12 + 1, 1) - dt.timedelta(days=1)
        end = min(end, dt.date.fromisoformat(str(d["run"]["end"])))
        d["run"] = {**d["run"], "scale": scale or self.scale, "replicates": replicates, "end": end.isoformat()}
        d["targets"] = None
        return validate_scenario(d, self.source)

    def summary(self, params: dict[str, float], seed: np.random.SeedSequence | None = None) -> np.ndarray:
        """Run one parameter set (natural scale) and return the target quantities, in the order of the targets."""
        sc = self.scenario(params)
        model = BorderModel(sc, rng=seed if seed is not None else particle_seed(self.seed, params)).run()
        if self._index is None:
            self._index = TargetIndex(self.targets, sc.run.start, sc.run.end)
        return self._index.values(model.recorder.data)

    def __call__(self, params) -> dict[str, float]:
        values = self.summary(natural(self.priors, params))
        return {t.id: float(v) if math.isfinite(v) else float("nan") for t, v in zip(self.targets, values, strict=True)}


_WORKER_SIMULATOR: Simulator | None = None


def _start_worker(sim: Simulator) -> None:
    """Pool initializer: the simulator is sent to each worker once, not with every particle."""
    global _WORKER_SIMULATOR
    _WORKER_SIMULATOR = sim


def _summary_task(theta: np.ndarray, entropy, spawn_key, sim: Simulator | None = None) -> np.ndarray:
    sim = sim if sim is not None else _WORKER_SIMULATOR
    params = {k: float(v) for k, v in zip(sim.names, theta, strict=True)}
    return sim.summary(params, np.random.SeedSequence(entropy, spawn_key=tuple(spawn_key)))


def _ready() -> bool:
    return True


class BatchSimulator:
    """``simulate(thetas, seeds) -> np.ndarray[n, m]`` on persistent worker processes (kept between batches).

    ``thetas``: (n, k) parameter vectors on the natural scale, columns in the order of ``simulator.names``;
    ``seeds``: n ints or ``SeedSequence`` s. Row ``i`` of the result is the summary vector (the fitted targets'
    quantities, columns in the order of ``simulator.targets``) of ``thetas[i]`` run with ``seeds[i]``; results
    do not depend on ``workers``. The workers fork from a server that has imported the model, receive the
    simulator once, and stay up until :meth:`close`.
    """

    def __init__(self, simulator: Simulator, workers: int = 1):
        self.simulator = simulator
        self.workers = workers
        self._pool = None

    def _start(self):
        import concurrent.futures as cf
        import multiprocessing as mp

        ctx = mp.get_context("forkserver") if "forkserver" in mp.get_all_start_methods() else mp.get_context("spawn")
        if ctx.get_start_method() == "forkserver":
            ctx.set_forkserver_preload(["bordersim.experiments.calibration.simulator"])
        self._pool = cf.ProcessPoolExecutor(self.workers, mp_context=ctx, initializer=_start_worker, initargs=(self.simulator,))
        for f in [self._pool.submit(_ready) for _ in range(self.workers)]:  # start every worker now
            f.result()

    def simulate(self, thetas, seeds) -> np.ndarray:
        thetas = np.atleast_2d(np.asarray(thetas, dtype=float))
        seqs = [s if isinstance(s, np.random.SeedSequence) else np.random.SeedSequence(int(s)) for s in seeds]
        if len(seqs) != len(thetas):
            raise ValueError(f"{len(thetas)} parameter vectors but {len(seqs)} seeds")
        args = [(th, s.entropy, s.spawn_key) for th, s in zip(thetas, seqs, strict=True)]
        if self.workers <= 1:
            rows = [_summary_task(*a, sim=self.simulator) for a in args]
        else:
            if self._pool is None:
                self._start()
            rows = [f.result() for f in [self._pool.submit(_summary_task, *a) for a in args]]
        return np.vstack(rows) if rows else np.zeros((0, len(self.simulator.targets)))

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __enter__(self) -> BatchSimulator:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
