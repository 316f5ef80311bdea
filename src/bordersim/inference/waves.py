"""The wave loop of a calibration run (see :mod:`.engine`): for wave k = 0, 1, ... its design, its
simulations (in batches, resumable), its analysis (:mod:`.analysis`), then the stop rules; at the
end the outputs (:mod:`.report`).

Everything a wave produces is written to the run directory (:mod:`.store`) as soon as it exists,
and read back instead of recomputed when the run is resumed.
"""

from __future__ import annotations

import time
from concurrent.futures import Future, as_completed

import numpy as np
import pandas as pd

from .analysis import analyze_wave
from .emulator import PolyEmulator, n_features
from .mcmc import unit_to_z, z_to_unit
from .nroy import Cascade
from .params import ParamSpace
from .records import RecordSet
from .report import CalibrationResult, finish
from .settings import STREAM_DESIGN, Settings, default_cutoff, rng_stream, sim_seed, sobol
from .store import RunStore
from .summaries import transform_matrix


def _n_replicates(n_total: int, frac: float) -> int:
    return min(int(round(frac * n_total)), n_total // 2)


def _with_replicates(U: np.ndarray, n_rep: int, rng) -> pd.DataFrame:
    n = len(U)
    n_rep = min(int(n_rep), n)
    rep_of = np.full(n + n_rep, -1, int)
    if n_rep:
        src = np.sort(rng.choice(n, n_rep, replace=False))
        U = np.vstack([U, U[src]])
        rep_of[n:] = src
    return pd.DataFrame({"index": np.arange(len(U)), "replicate_of": rep_of, **{f"u{j}": U[:, j] for j in range(U.shape[1])}})


def _design_u(design: pd.DataFrame, p: int) -> np.ndarray:
    return design[[f"u{j}" for j in range(p)]].to_numpy(float)


class _Run:
    """One calibration run in one run directory."""

    def __init__(self, space, summaries, records, simulate, run_dir, seed, settings, executor, resume, log):
        self.space = space if isinstance(space, ParamSpace) else ParamSpace(space)
        self.summaries = list(summaries)
        self.records = records if isinstance(records, RecordSet) else RecordSet(records, self.summaries)
        self.simulate = simulate
        self.store = RunStore(run_dir)
        self.seed = int(seed)
        self.s = settings or Settings()
        self.executor = executor
        self.resume = resume
        self.log = log or (lambda msg: None)
        self.p = self.space.p
        self.m = len(self.summaries)
        self.snames = [s.name for s in self.summaries]
        self.cutoff = self.s.cutoff if self.s.cutoff is not None else default_cutoff(len(self.records))
        nf2 = n_features(self.p, 2)
        self.min_train = self.s.min_train or max(200, 3 * (nf2 + 1))
        self.t0 = time.perf_counter()
        self.last_mcmc = None  # the posterior MCMC of the last wave analysed in this invocation

    # -- configuration identity
    def config(self) -> dict:
        return {
            "format": "bordersim.inference/1",
            "seed": self.seed,
            "parameters": self.space.to_list(),
            "summaries": [s.to_dict() for s in self.summaries],
            "records": self.records.fingerprint(),
            "settings": self.s.design_dict(),
        }

    # -- designs
    def design(self, k: int, prev: dict | None) -> pd.DataFrame:
        """Wave 0: a scrambled Sobol design over the prior. Later waves: ``posterior_share`` of
        jittered posterior draws (logit space), the rest from the NROY pool. Plus replicates."""
        rng = rng_stream(self.seed, k, STREAM_DESIGN)
        s = self.s
        if k == 0:
            n_rep = _n_replicates(s.n0, s.replicate_fraction)
            n_main = s.n0 - n_rep
            U = sobol(self.p, n_main, rng)
        else:
            n_rep = _n_replicates(s.n_wave, s.replicate_fraction)
            n_main = s.n_wave - n_rep
            post, pool = prev["posterior_u"], prev["pool_u"]
            n_post = int(round(s.posterior_share * n_main)) if len(pool) else n_main
            n_pool = n_main - n_post
            Zp = unit_to_z(post)
            cov = np.cov(Zp.T).reshape(self.p, self.p)
            pick = rng.choice(len(post), n_post, replace=n_post > len(post))
            Z = Zp[pick] + s.jitter * rng.multivariate_normal(
                np.zeros(self.p), cov, n_post, method="cholesky" if np.all(np.linalg.eigvalsh(cov) > 0) else "eigh"
            )
            parts = [z_to_unit(Z)]
            if n_pool:
                parts.append(pool[rng.choice(len(pool), n_pool, replace=n_pool > len(pool))])
            U = np.clip(np.vstack(parts), 1e-9, 1 - 1e-9)
        return _with_replicates(U, n_rep, rng)

    # -- simulations
    def run_wave(self, k: int, design: pd.DataFrame) -> float:
        """Simulate the batches of wave ``k`` not yet on disk; returns the seconds it took (0 if none)."""
        done = self.store.done_indices(k)
        idx = design["index"].to_numpy(int)
        B = max(1, int(self.s.batch_size))
        chunks = [(j, idx[a : a + B]) for j, a in enumerate(range(0, len(idx), B))]
        todo = [(j, c) for j, c in chunks if not set(c.tolist()) <= done]
        if not todo:
            return 0.0
        U = _design_u(design.set_index("index"), self.p)
        pos = {i: r for r, i in enumerate(idx)}
        t = time.perf_counter()
        self.log(f"wave {k}: simulating {sum(len(c) for _, c in todo)} runs in {len(todo)} batches")

        def job(j, c):
            rows = np.array([pos[i] for i in c])
            theta = self.space.natural_from_unit(U[rows])
            seeds = [sim_seed(self.seed, k, int(i)) for i in c]
            return rows, theta, seeds

        def finish(j, c, rows, theta, seeds, out, elapsed):
            out = self._check_output(out, len(c))
            df = pd.DataFrame(
                {
                    "index": c.astype(int),
                    "wave": k,
                    "replicate_of": design["replicate_of"].to_numpy(int)[rows],
                    "seed_wave": k,
                    "seed_index": c.astype(int),
                    "batch_seconds": float(elapsed),
                }
            )
            for jj, nm in enumerate(self.space.names):
                df[f"u_{nm}"] = U[rows, jj]
                df[f"theta_{nm}"] = theta[:, jj]
            for jj, nm in enumerate(self.snames):
                df[f"s_{nm}"] = out[:, jj]
            self.store.save_batch(k, j, df)

        if self.executor is None:
            for j, c in todo:
                rows, theta, seeds = job(j, c)
                tb = time.perf_counter()
                out = self.simulate(theta, seeds)
                finish(j, c, rows, theta, seeds, out, time.perf_counter() - tb)
        else:
            futs = {}
            meta = {}
            for j, c in todo:
                rows, theta, seeds = job(j, c)
                f = self.executor.submit(self.simulate, theta, seeds)
                futs[f] = j
                meta[j] = (c, rows, theta, seeds, time.perf_counter())
            first_err = None
            it = as_completed(futs) if all(isinstance(f, Future) for f in futs) else list(futs)
            for f in it:
                j = futs[f]
                c, rows, theta, seeds, tb = meta[j]
                try:
                    out = f.result()
                except BaseException as err:  # write what finished, then raise
                    first_err = first_err or err
                    continue
                finish(j, c, rows, theta, seeds, out, time.perf_counter() - tb)
            if first_err is not None:
                raise first_err
        return time.perf_counter() - t

    def _check_output(self, out, n) -> np.ndarray:
        if isinstance(out, pd.DataFrame):
            missing = [s for s in self.snames if s not in out.columns]
            if missing:
                raise ValueError(f"simulate returned no columns {missing}")
            out = out[self.snames].to_numpy(float)
        out = np.asarray(out, float)
        if out.shape != (n, self.m):
            raise ValueError(f"simulate returned shape {out.shape}; expected ({n}, {self.m})")
        return out

    # -- data
    def data(self, upto: int) -> pd.DataFrame:
        frames = [self.store.load_wave(k) for k in range(upto + 1)]
        return pd.concat([f for f in frames if not f.empty], ignore_index=True)

    def arrays(self, df: pd.DataFrame):
        U = df[[f"u_{nm}" for nm in self.space.names]].to_numpy(float)
        X = df[[f"s_{nm}" for nm in self.snames]].to_numpy(float)
        return U, transform_matrix(self.summaries, X)

    # -- analysis of one wave
    def analyze(self, k: int, df: pd.DataFrame, cascade: Cascade, prev: dict | None) -> tuple[dict, dict]:
        analysis, cur, self.last_mcmc = analyze_wave(self, k, df, cascade, prev)
        return analysis, cur

    def load_analysis(self, k: int, cascade: Cascade) -> tuple[dict, dict]:
        """The analysis of wave ``k`` from disk (its emulator rejoins ``cascade``)."""
        analysis, arrays = self.store.load_analysis(k)
        emu = PolyEmulator.load(self.store.emulator_path(k))
        dropped = analysis["records_dropped"]
        rs = self.records.subset(exclude_ids=dropped) if dropped else self.records
        if not analysis["nroy_empty"]:
            cascade.add(emu, rs, analysis["cutoff"])
        cur = {
            "analysis": analysis,
            "posterior_u": arrays["posterior_u"],
            "pool_u": arrays["pool_u"],
            "emulator": emu,
            "records": rs,
        }
        self.last_mcmc = None
        return analysis, cur

    # -- the loop
    def run(self) -> CalibrationResult:
        self.store.root.mkdir(parents=True, exist_ok=True)
        self.store.check_config(self.config(), self.resume)
        cascade = Cascade()
        prev = None
        waves = []
        k = 0
        self.last_mcmc = None
        while True:
            design = self.store.load_design(k)
            if design is None:
                design = self.design(k, prev)
                self.store.save_design(k, design)
            t_sim = self.run_wave(k, design)
            df = self.data(k)
            if self.store.analysis_done(k):
                analysis, cur = self.load_analysis(k, cascade)
                self.log(f"wave {k}: loaded from {self.store.wave_dir(k)}")
            else:
                analysis, cur = self.analyze(k, df, cascade, prev)
                self.log(
                    f"wave {k}: {analysis['n_total']} sims, NROY {analysis['nroy_fraction']:.3g} of the prior, "
                    f"min ESS {analysis['mcmc']['min_ess']:.0f}, converged={analysis['converged']}"
                )
            waves.append(analysis)
            wave_cost = self._wave_cost(k, t_sim, analysis, df)
            prev = cur
            stop, detail = self._stop_rule(k, analysis, time.perf_counter() - self.t0, wave_cost)
            if stop is not None:
                break
            k += 1
        return finish(self, k, waves, prev, cascade, stop, detail, df)

    def _wave_cost(self, k: int, t_sim: float, analysis: dict, df: pd.DataFrame) -> float:
        """The expected seconds of another wave: its simulations at this wave's rate, and an analysis."""
        if t_sim > 0:
            per_sim = t_sim / max(analysis["n_new"], 1)
        else:  # loaded from disk (a resumed run, or a wave 0 shared by leave-one-out and SBC): the recorded times
            per_sim = recorded_seconds_per_simulation(df[df["wave"] == k], parallel=self.executor is not None)
        return per_sim * self.s.n_wave + analysis["seconds"]["analysis"]

    def _stop_rule(self, k: int, analysis: dict, elapsed: float, wave_cost: float) -> tuple[str | None, str]:
        """The first stop rule that holds after wave ``k``: ``(reason, detail)``, or ``(None, "")``."""
        s = self.s
        n_total = analysis["n_total"]
        if analysis["converged"]:
            return (
                "converged",
                (
                    f"wave {k}: since wave {k - 1} every median moved < {s.median_tol} sd and every 90% "
                    f"width changed < {s.width_tol:.0%} (each plus its Monte Carlo error); the wave-{k - 1} "
                    f"emulator's standardized residuals on the new runs in NROY had sd in "
                    f"[{s.resid_sd[0]}, {s.resid_sd[1]}] for every record's summary; the MCMC reached "
                    f"ESS >= {s.target_ess:.0f} and R-hat <= {s.rhat_max}"
                ),
            )
        if k + 1 >= s.max_waves:
            return "max_waves", f"{k + 1} waves done (max_waves={s.max_waves}) before convergence"
        if n_total + s.n_wave > s.max_simulations:
            return (
                "max_simulations",
                f"{n_total} simulations done; another wave of {s.n_wave} would exceed {s.max_simulations}",
            )
        if wave_cost is not None and elapsed + wave_cost > 60.0 * s.max_wall_minutes:
            return (
                "max_wall_time",
                (
                    f"{elapsed / 60:.1f} min elapsed; another wave (about {wave_cost / 60:.1f} min) "
                    f"would exceed {s.max_wall_minutes} min"
                ),
            )
        return None, ""


def recorded_seconds_per_simulation(wave: pd.DataFrame, parallel: bool) -> float:
    """Wall seconds per simulation of a wave loaded from disk, from its batches' ``batch_seconds``.

    On an executor every batch is submitted at once and its time counts from submission, so the
    largest is the wave's wall time; in this process the batches ran one after another and their
    times add up. (Summing submission-based times over-estimated a wave by half the number of
    batches: a refit after a shared wave 0 then stopped at once on its time budget.)"""
    if not len(wave):
        return 0.0
    times = wave.drop_duplicates("batch_seconds")["batch_seconds"]  # one value per batch
    total = float(times.max()) if parallel else float(times.sum())
    return total / len(wave)
