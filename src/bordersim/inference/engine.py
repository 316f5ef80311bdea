"""History matching in waves with an emulator, and a Gaussian synthetic likelihood sampled by MCMC.

One call, :func:`calibrate`, runs the whole loop in a run directory (see :mod:`.store`):

1. **Wave 0**: a scrambled Sobol design over the prior (``n0`` points; each point is marginally a
   prior draw, which is what makes wave 0 reusable for simulation-based calibration), plus a few
   *replicates* (the same theta with another seed) that measure the simulation noise alone.
2. **Each wave k**:

   * fit the emulator :class:`~.emulator.PolyEmulator` on every simulation so far that lies in the
     non-implausible region of the earlier waves (NROY_{k-1}: "not ruled out yet"; at least
     ``min_train`` points, topping up with the least implausible others);
   * history matching: the implausibility ``I(theta) = max_r |z_r(theta)|`` over records, with
     ``z_r`` the record's discrepancy standardized by emulator variance + record noise (0 inside a
     range). The cutoff is the 3-sigma rule made Bonferroni-safe for the number of records,
     ``c = Phi^-1(1 - 0.0027 / (2 R))`` (3.0 for one record, 4.1 for 32): if the emulator variance
     is honest, the truth is wrongly ruled out with probability <= 0.27%. NROY_k = NROY_{k-1} and
     ``I_k <= c``; its share of the prior is estimated on a pool of points uniform on NROY_{k-1}
     (a Sobol sample of the prior at first), multiplying the survival rates wave by wave. With 30
     records in 20 dimensions NROY is soon far smaller than 1/pool size, so when fewer than 10% of
     the pool survive, *subset simulation* takes over: the level is lowered through the pool's
     10% quantiles of ``I``, the pool refilled uniformly on each level set by an MCMC on its
     indicator, and the conditional shares multiplied (Au & Beck 2001). The pool handed on is
     uniform on NROY_k;
   * the posterior: ``log p(theta | records) = log prior + sum_r log p(record_r | y ~ N(m_k, v_k))``
     (:mod:`.records`), where ``m_k, v_k`` are the emulator's mean and predictive variance
     (simulation noise + emulator error, both from leave-one-out residuals), restricted to
     NROY_{k-1}, where the emulator was trained: outside it a polynomial extrapolates and
     earlier, valid emulators have already ruled it out. Sampled by :func:`.mcmc.sample`;
   * the next wave's design: ``posterior_share`` of it from posterior draws jittered by
     ``jitter`` x the posterior covariance (in logit space: the proposal is "slightly inflated"),
     the rest uniform on NROY_k (so the emulator keeps seeing the region it must rule on), plus
     replicates. Every random stream is ``SeedSequence([seed, wave, stream])``; simulation ``i`` of
     wave ``k`` gets ``SeedSequence([seed, k, i])``.

3. **Stopping** (checked after each wave's analysis; the first that holds):

   * ``converged``: (a) between the last two waves, every marginal's median moved by less than
     ``median_tol`` (0.2) posterior sds and its 90% width changed by less than ``width_tol``
     (10%), each plus the Monte Carlo error of the difference (from the two MCMC runs' ESS: at
     ESS 1000 a median is only known to 0.04 sd and a 90% width to 3%, so a smaller movement
     cannot be told from sampling noise), taken at a family-wise 5% level over the p parameters
     (z = 1.96 for p = 1, 3.02 for p = 20): with 20 marginals, 2-sigma allowances fail one
     parameter by chance in most waves. Why 0.2 and not 0.1: with 1,000-2,000
     runs in NROY and 20 parameters, the emulator's own estimation error moves the posterior by
     0.15-0.4 sd from one refit to the next (measured on the benchmark), so 0.1 is rarely reached
     within a 30-minute budget; and a 90% interval off by 0.2 sd still covers 89.3% instead of
     90% (0.1 sd: 89.8%). ``median_tol=0.1`` is a setting away;
     (b) the *previous* emulator predicted this wave's new simulations inside NROY_{k-1} (run
     after it was fitted, mostly in the posterior region) with standardized residuals whose sd
     lies in ``resid_sd`` ([0.7, 1.3]) for every summary a record uses: the variance the
     likelihood assumed was right, out of sample. (With 300+ new runs the sd is known to +-0.05;
     the band admits a variance between half and 1.7 times the truth. It is loose on purpose: a
     variance that is too large errs on the safe side, and SBC checks the whole chain);
     (c) the MCMC passed (ESS >= ``target_ess`` for every parameter, R-hat <= ``rhat_max``);
   * ``max_waves``, ``max_simulations``: the next wave would exceed the budget;
   * ``max_wall_time``: the next wave (estimated from the last one's simulation and analysis
     time) would end after ``max_wall_minutes`` from the start of this invocation.

Why this design and not ABC-SMC: ABC spends every simulation on an accept/reject decision at a
tolerance, so with 30 summaries it needs far more runs than a 30-minute budget allows, and its
importance weights degenerate (the ESS of 56 of 150 we had). Here every simulation improves a
regression; the MCMC runs on the emulator, where 1e5 likelihood evaluations take a second, so
ESS >= 500 costs seconds; and history matching spends the simulations where the posterior is.

Assumptions worth knowing (reported, not hidden): records are conditionally independent given
theta (two records of one summary, or summaries with correlated simulation noise, are then
over-counted; the run report gives the residual correlations between the record summaries so this
can be checked); the Gaussian form on the transformed scale; and a polynomial emulator that must
be adequate inside NROY (the out-of-sample residual check says whether it was).
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import Future, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import norm, qmc

from ..io import jsonable, write_json, write_parquet, write_text
from .emulator import PolyEmulator, n_features
from .mcmc import MCMCResult, sample, unit_to_z, z_to_unit
from .params import Param, ParamSpace
from .records import Record, RecordSet
from .store import RunStore
from .summaries import Summary, transform_matrix

#: random stream tags of SeedSequence([seed, wave, tag])
_DESIGN, _POOL, _MCMC, _POOLMCMC, _INIT = 1, 2, 3, 4, 5


@dataclass
class Settings:
    """Budget, design, emulator, MCMC and convergence settings (defaults sized for ~20 parameters)."""

    # design
    n0: int = 1500
    n_wave: int = 500
    batch_size: int = 50
    replicate_fraction: float = 0.05
    posterior_share: float = 0.7
    jitter: float = 0.5
    cutoff: float | None = None
    pool_size: int = 20000
    min_train: int | None = None
    # emulator
    max_degree: int = 3
    min_points_per_feature: float = 2.0
    # MCMC
    n_chains: int = 64
    n_burn: int = 1000
    n_steps: int = 2000
    max_steps: int = 16000
    target_ess: float = 1000.0
    rhat_max: float = 1.05
    n_draws: int = 4000
    # convergence
    median_tol: float = 0.2
    width_tol: float = 0.1
    resid_sd: tuple[float, float] = (0.7, 1.3)
    min_resid_n: int = 20
    # budget (not part of the run's identity: a resumed run may be given more)
    max_waves: int = 6
    max_simulations: int = 10000
    max_wall_minutes: float = 30.0

    BUDGET = ("max_waves", "max_simulations", "max_wall_minutes")

    def design_dict(self) -> dict:
        d = asdict(self)
        for k in self.BUDGET:
            d.pop(k)
        d["resid_sd"] = list(self.resid_sd)
        return d


Simulate = Callable[[np.ndarray, list], np.ndarray]


@dataclass
class CalibrationResult:
    space: ParamSpace
    summaries: list[Summary]
    records: RecordSet
    posterior: pd.DataFrame
    posterior_u: np.ndarray
    summary: pd.DataFrame
    report: dict
    emulator: PolyEmulator
    cascade: list
    run_dir: Path
    mcmc: MCMCResult | None = None
    data: pd.DataFrame | None = field(default=None, repr=False)

    def predict_records(
        self, records: RecordSet | Sequence[Record] | None = None, n_draws: int = 2000, seed: int = 0
    ) -> pd.DataFrame:
        """Posterior predictive of ``records`` (default: the fitted ones) from the emulator."""
        from .validation import predict_records

        rs = (
            records
            if isinstance(records, RecordSet)
            else RecordSet(records if records is not None else self.records.records, self.summaries)
        )
        return predict_records(self.emulator, rs, self.posterior_u, n_draws=n_draws, seed=seed)


# -- helpers --------------------------------------------------------------------------------------------
def default_cutoff(n_records: int) -> float:
    return float(norm.isf(0.0027 / (2.0 * max(n_records, 1))))


def _rng(seed: int, wave: int, tag: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([int(seed), int(wave), int(tag)]))


def sim_seed(seed: int, wave: int, index: int) -> np.random.SeedSequence:
    """The seed of simulation ``index`` of wave ``wave``."""
    return np.random.SeedSequence([int(seed), int(wave), int(index)])


def _sobol(p: int, n: int, rng) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # n need not be a power of two
        return qmc.Sobol(d=p, scramble=True, seed=rng).random(n)


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


class Cascade:
    """The emulators of the earlier waves and their cutoffs: NROY membership of unit-cube points."""

    def __init__(self):
        self.items: list[tuple[PolyEmulator, RecordSet, float]] = []

    def add(self, emu, rs, cutoff):
        self.items.append((emu, rs, cutoff))

    def __len__(self):
        return len(self.items)

    def score(self, U, upto: int | None = None) -> np.ndarray:
        """max over waves of I_w / c_w (<= 1: not ruled out)."""
        U = np.atleast_2d(U)
        out = np.zeros(len(U))
        for emu, rs, c in self.items[:upto]:
            M, V = emu.predict(U)
            out = np.maximum(out, rs.implausibility(M, V) / c)
        return out

    def ok(self, U, upto: int | None = None) -> np.ndarray:
        """Not ruled out by any wave (the latest, most restrictive emulator first; early exit)."""
        U = np.atleast_2d(U)
        keep = np.ones(len(U), bool)
        for emu, rs, c in reversed(self.items[:upto]):
            idx = np.flatnonzero(keep)
            if not len(idx):
                break
            M, V = emu.predict(U[idx])
            keep[idx[rs.implausibility(M, V) > c]] = False
        return keep


def _tempered_start(U: np.ndarray, lp: np.ndarray, n: int, rng) -> np.ndarray:
    """``n`` distinct, over-dispersed starting points: importance resampling from ``U`` with weights
    exp(beta lp), beta the largest in [0, 1] whose weights keep an ESS of at least 2n."""
    fin = np.isfinite(lp)
    U, lp = U[fin], lp[fin]
    if len(U) <= n:
        idx = rng.choice(len(U), n, replace=True)
        return U[idx]
    want = min(2 * n, len(U) / 2)
    lo, hi = 0.0, 1.0

    def w_of(b):
        w = np.exp(b * (lp - lp.max()))
        return w / w.sum()

    def ess(w):
        return 1.0 / np.sum(w * w)

    if ess(w_of(1.0)) >= want:
        beta = 1.0
    else:
        for _ in range(40):
            mid = 0.5 * (lo + hi)
            if ess(w_of(mid)) >= want:
                lo = mid
            else:
                hi = mid
        beta = lo
    w = w_of(beta)
    nz = int((w > 0).sum())
    idx = rng.choice(len(U), n, replace=nz < n, p=w)
    return U[idx]


def _posterior_stats(space: ParamSpace, Ud: np.ndarray) -> dict:
    W = space.working_from_unit(Ud)
    q = np.quantile(W, [0.05, 0.25, 0.5, 0.75, 0.95], axis=0)
    sd = W.std(0)
    out = {}
    for j, nm in enumerate(space.names):
        out[nm] = {
            "median": float(q[2, j]),
            "q05": float(q[0, j]),
            "q25": float(q[1, j]),
            "q75": float(q[3, j]),
            "q95": float(q[4, j]),
            "mean": float(W[:, j].mean()),
            "sd": float(sd[j]),
            "width90": float(q[4, j] - q[0, j]),
            "width90_ratio": float((q[4, j] - q[0, j]) / space.working_width[j]),
        }
    return out


def _noise_from_replicates(df: pd.DataFrame, Y: np.ndarray) -> np.ndarray:
    """Per-summary simulation-noise variance from replicate pairs (var of a difference / 2)."""
    if df.empty or "replicate_of" not in df:
        return np.full(Y.shape[1], np.nan)
    key = {(w, i): r for r, (w, i) in enumerate(zip(df["wave"].to_numpy(), df["index"].to_numpy()))}
    pairs = [
        (key[(w, s)], r)
        for r, (w, s) in enumerate(zip(df["wave"].to_numpy(), df["replicate_of"].to_numpy()))
        if s >= 0 and (w, s) in key
    ]
    if not pairs:
        return np.full(Y.shape[1], np.nan)
    a, b = np.array(pairs).T
    d = Y[a] - Y[b]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(d * d, 0) / 2.0


# -- the engine ------------------------------------------------------------------------------------------
class _Run:
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
        rng = _rng(self.seed, k, _DESIGN)
        s = self.s
        if k == 0:
            n_rep = _n_replicates(s.n0, s.replicate_fraction)
            n_main = s.n0 - n_rep
            U = _sobol(self.p, n_main, rng)
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
        s = self.s
        tA = time.perf_counter()
        U, Y = self.arrays(df)
        wave = df["wave"].to_numpy(int)
        # training set: the simulations in NROY_{k-1}
        score = cascade.score(U) if len(cascade) else np.zeros(len(U))
        train = score <= 1.0
        if train.sum() < min(self.min_train, len(U)):
            order = np.argsort(score, kind="stable")
            train = np.zeros(len(U), bool)
            train[order[: min(self.min_train, len(U))]] = True
        emu = PolyEmulator(max_degree=s.max_degree, min_points_per_feature=s.min_points_per_feature).fit(U[train], Y[train])
        emu.save(self.store.emulator_path(k))
        t_fit = time.perf_counter() - tA
        # records whose summary could not be emulated are dropped (and said so)
        dropped = [r.id for r, j in zip(self.records, self.records.col) if not emu.emulated[j]]
        rs = self.records.subset(exclude_ids=dropped) if dropped else self.records
        used = rs.used_summaries()
        # out-of-sample check of the previous emulator on this wave's new simulations
        check = {}
        emu_ok = None
        if prev is not None:
            prev_emu = prev["emulator"]
            # the new runs inside NROY_{k-1}, where the posterior lives (jittered draws outside it only
            # show how a polynomial extrapolates, which the cascade already guards against)
            new = wave == k
            if len(cascade):
                new[new] = cascade.ok(U[new])
            M, V = prev_emu.predict(U[new])
            Z = (Y[new] - M) / np.sqrt(V)
            emu_ok = True
            for j in used:
                zj = Z[:, j]
                zj = zj[np.isfinite(zj)]
                yj = Y[new][:, j]
                yj = yj[np.isfinite(yj)]
                degenerate = len(yj) < s.min_resid_n or float(np.std(yj)) <= 1e-12 * max(1.0, float(np.abs(yj).mean()))
                sd = float(zj.std()) if len(zj) else math.nan
                mad = float(1.4826 * np.median(np.abs(zj - np.median(zj)))) if len(zj) else math.nan
                ok = degenerate or (s.resid_sd[0] <= sd <= s.resid_sd[1])
                check[self.snames[j]] = {
                    "n": int(len(zj)),
                    "n_outside_nroy": int((wave == k).sum() - new.sum()),
                    "resid_sd": sd,
                    "resid_mad_sd": mad,
                    "resid_mean": float(zj.mean()) if len(zj) else math.nan,
                    "degenerate": bool(degenerate),
                    "ok": bool(ok),
                }
                emu_ok = emu_ok and ok
        # history matching on the NROY pool (subset simulation when NROY is a small share of the pool)
        pool = prev["pool_u"] if prev is not None else _sobol(self.p, s.pool_size, _rng(self.seed, 0, _POOL))
        frac_prev = prev["analysis"]["nroy_fraction"] if prev is not None else 1.0
        hm = self._history_match(k, emu, rs, pool, cascade)
        nroy_empty = hm["empty"]
        frac = frac_prev * hm["fraction"] if not nroy_empty else frac_prev
        cascade_upto = len(cascade)  # the posterior is restricted to NROY_{k-1}
        if not nroy_empty:
            cascade.add(emu, rs, self.cutoff)
            new_pool = hm["pool"]
            if len(new_pool) < s.pool_size // 2:
                new_pool = self._refill_pool(k, new_pool, cascade.ok)
        else:
            new_pool = pool
            self.log(
                f"wave {k}: no non-implausible point found (least implausible: I = {hm['min_I']:.2f} > {self.cutoff:.2f}); "
                "this wave does not narrow NROY"
            )
        t_hm = time.perf_counter() - tA - t_fit

        # posterior by MCMC on the emulator
        def logp(Uq):
            M, V = emu.predict(Uq)
            return rs.loglik(M, V)

        def in_nroy(Uq):
            return cascade.ok(Uq, cascade_upto)

        constraint = in_nroy if cascade_upto else None

        cand = new_pool if prev is None else np.vstack([new_pool, prev["posterior_u"]])
        cand = cand[np.linspace(0, len(cand) - 1, min(len(cand), 20000)).astype(int)]

        def logp_c(Uq):
            ll = logp(Uq)
            return np.where(in_nroy(Uq), ll, -np.inf) if constraint is not None else ll

        lpc = logp_c(cand)
        if not np.isfinite(lpc).any():
            cand = np.vstack([cand, U[train]])
            lpc = logp_c(cand)
        u0 = _tempered_start(cand, lpc, s.n_chains, _rng(self.seed, k, _INIT))
        res = sample(
            logp,
            u0,
            _rng(self.seed, k, _MCMC),
            n_burn=s.n_burn,
            n_steps=s.n_steps,
            max_steps=s.max_steps,
            target_ess=s.target_ess,
            rhat_max=s.rhat_max,
            constraint=constraint,
        )
        post_u = res.thinned(s.n_draws)
        t_mcmc = time.perf_counter() - tA - t_fit - t_hm
        stats = _posterior_stats(self.space, post_u)
        # convergence
        changes = {}
        post_ok = None
        if prev is not None:
            post_ok = True
            ess_now = dict(zip(self.space.names, res.ess))
            # family-wise (Bonferroni over the parameters, 5%) multiplier of the Monte Carlo error
            z_fw = float(norm.isf(0.05 / (2.0 * self.p)))
            for nm in self.space.names:
                a, b = prev["analysis"]["posterior"][nm], stats[nm]
                shift = abs(b["median"] - a["median"]) / max(b["sd"], 1e-300)
                wchg = b["width90"] / max(a["width90"], 1e-300) - 1.0
                # Monte Carlo error of the two estimates (Gaussian approximations: se(median) = 1.25 sd / sqrt(ESS),
                # se(90% width) / width = 0.885 / sqrt(ESS)); a change smaller than twice it is not detectable
                e1 = max(float(prev["analysis"]["mcmc"]["ess"].get(nm) or 1.0), 1.0)
                e2 = max(float(ess_now[nm]), 1.0)
                mc_med = z_fw * 1.2533 * math.sqrt(1.0 / e1 + 1.0 / e2)
                mc_w = z_fw * 0.885 * math.sqrt(1.0 / e1 + 1.0 / e2)
                ok = shift < s.median_tol + mc_med and abs(wchg) < s.width_tol + mc_w
                changes[nm] = {
                    "median_shift_sd": shift,
                    "width_change": wchg,
                    "mc_allowance_median_sd": mc_med,
                    "mc_allowance_width": mc_w,
                    "ok": bool(ok),
                }
                post_ok = post_ok and ok
        converged = bool(post_ok and emu_ok and res.converged)
        # emulator diagnostics + noise decomposition
        noise_var = _noise_from_replicates(df[train].reset_index(drop=True), Y[train])
        emu_diag = []
        for d in emu.diagnostics(self.snames):
            j = self.snames.index(d["summary"])
            nv = noise_var[j]
            d["noise_sd"] = float(math.sqrt(nv)) if np.isfinite(nv) else None
            d["emulator_sd"] = (
                float(math.sqrt(max(d["loo_rmse"] ** 2 - nv, 0.0))) if np.isfinite(nv) and np.isfinite(d["loo_rmse"]) else None
            )
            d["used_by_records"] = bool(j in used)
            emu_diag.append(d)
        analysis = {
            "wave": k,
            "n_new": int((wave == k).sum()),
            "n_total": int(len(df)),
            "n_train": int(train.sum()),
            "cutoff": self.cutoff,
            "nroy_fraction": frac,
            "nroy_fraction_of_previous": hm["fraction"],
            "nroy_empty": bool(nroy_empty),
            "nroy_levels": hm["levels"],
            "min_implausibility": hm["min_I"],
            "records_dropped": dropped,
            "emulator": emu_diag,
            "emulator_check": check,
            "emulator_check_ok": emu_ok,
            "posterior": stats,
            "posterior_changes": changes,
            "posterior_stable": post_ok,
            "mcmc": res.report(self.space.names),
            "converged": converged,
            "seconds": {"emulator_fit": t_fit, "history_matching": t_hm, "mcmc": t_mcmc, "analysis": time.perf_counter() - tA},
        }
        arrays = {"posterior_u": post_u, "pool_u": new_pool, "chains_logp_last": res.logp[:, -1]}
        self.store.save_analysis(k, analysis, arrays)
        self._last_mcmc = res
        return analysis, {"analysis": analysis, "posterior_u": post_u, "pool_u": new_pool, "emulator": emu, "records": rs}

    def _history_match(self, k: int, emu, rs, pool: np.ndarray, cascade: Cascade) -> dict:
        """NROY_k within NROY_{k-1}: the share of ``pool`` (uniform on NROY_{k-1}) with I_k <= cutoff,
        and a pool uniform on NROY_k. When fewer than ``p0`` = 10% of the pool survive, subset
        simulation (Au & Beck 2001): the level is lowered to the pool's 10% quantile of I_k, the pool
        refilled uniformly on that level set by MCMC, and the conditional shares multiplied, until the
        cutoff is reached; so a region of 1e-8 of the prior is found and measured with ~8 levels.
        If the levels stop falling above the cutoff, no non-implausible point was found."""
        p0, c = 0.1, self.cutoff

        def imp(Uq):
            M, V = emu.predict(Uq)
            return rs.implausibility(M, V)

        I = imp(pool)
        frac, levels, level_prev = 1.0, [], math.inf
        for it in range(15):
            surv = I <= c
            if surv.mean() >= p0 or not len(pool):
                break
            level = float(np.quantile(I, p0))
            if not np.isfinite(level) or level >= 0.98 * level_prev:  # no progress towards the cutoff
                break
            frac *= float(np.mean(I <= level))
            levels.append(level)
            level_prev = level
            seeds = pool[I <= level]
            ok_prev = cascade.ok

            def inside(Uq, level=level, ok_prev=ok_prev):
                return ok_prev(Uq) & (imp(Uq) <= level)

            pool = self._refill_pool(k * 100 + it + 1, seeds, inside)
            I = imp(pool)
        surv = I <= c
        return {
            "fraction": frac * float(surv.mean()),
            "pool": pool[surv],
            "empty": not bool(surv.any()),
            "levels": levels,
            "min_I": float(np.min(I)) if len(I) else math.inf,
        }

    def _refill_pool(self, tag: int, seeds_u: np.ndarray, inside) -> np.ndarray:
        """``pool_size`` points ~uniform on {inside}: an MCMC on its indicator started from ``seeds_u``."""
        s = self.s
        C = max(8, min(s.n_chains, 2 * (len(seeds_u) // 2)))
        C += C % 2
        rng = _rng(self.seed, tag, _POOLMCMC)
        u0 = seeds_u[rng.choice(len(seeds_u), C, replace=len(seeds_u) < C)]
        steps = int(math.ceil(s.pool_size / C)) * 2
        res = sample(
            lambda Uq: np.zeros(len(Uq)),
            u0,
            rng,
            n_burn=max(100, s.n_burn // 5),
            n_steps=steps,
            max_steps=steps,
            target_ess=0.0,
            rhat_max=math.inf,
            p_de=0.3,
            constraint=inside,
        )
        return res.thinned(s.pool_size)

    # -- the loop
    def run(self) -> CalibrationResult:
        s = self.s
        self.store.root.mkdir(parents=True, exist_ok=True)
        self.store.check_config(self.config(), self.resume)
        cascade = Cascade()
        prev = None
        waves = []
        k = 0
        stop, detail = None, ""
        self._last_mcmc = None
        while True:
            design = self.store.load_design(k)
            if design is None:
                design = self.design(k, prev)
                self.store.save_design(k, design)
            t_sim = self.run_wave(k, design)
            df = self.data(k)
            if self.store.analysis_done(k):
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
                self._last_mcmc = None
                self.log(f"wave {k}: loaded from {self.store.wave_dir(k)}")
            else:
                analysis, cur = self.analyze(k, df, cascade, prev)
                self.log(
                    f"wave {k}: {analysis['n_total']} sims, NROY {analysis['nroy_fraction']:.3g} of the prior, "
                    f"min ESS {analysis['mcmc']['min_ess']:.0f}, converged={analysis['converged']}"
                )
            waves.append(analysis)
            if t_sim > 0:
                per_sim = t_sim / max(analysis["n_new"], 1)
            else:  # loaded from disk: the recorded batch times (an over-estimate when batches ran in parallel)
                wk = df[df["wave"] == k]
                per_sim = float(wk.drop_duplicates("batch_seconds")["batch_seconds"].sum()) / max(len(wk), 1) if len(wk) else 0.0
            wave_cost = per_sim * s.n_wave + analysis["seconds"]["analysis"]
            prev = cur
            n_total = analysis["n_total"]
            elapsed = time.perf_counter() - self.t0
            if analysis["converged"]:
                stop, detail = (
                    "converged",
                    (
                        f"wave {k}: since wave {k - 1} every median moved < {s.median_tol} sd and every 90% "
                        f"width changed < {s.width_tol:.0%} (each plus its Monte Carlo error); the wave-{k - 1} "
                        f"emulator's standardized residuals on the new runs in NROY had sd in "
                        f"[{s.resid_sd[0]}, {s.resid_sd[1]}] for every record's summary; the MCMC reached "
                        f"ESS >= {s.target_ess:.0f} and R-hat <= {s.rhat_max}"
                    ),
                )
                break
            if k + 1 >= s.max_waves:
                stop, detail = "max_waves", f"{k + 1} waves done (max_waves={s.max_waves}) before convergence"
                break
            if n_total + s.n_wave > s.max_simulations:
                stop, detail = (
                    "max_simulations",
                    f"{n_total} simulations done; another wave of {s.n_wave} would exceed {s.max_simulations}",
                )
                break
            if wave_cost is not None and elapsed + wave_cost > 60.0 * s.max_wall_minutes:
                stop, detail = (
                    "max_wall_time",
                    (
                        f"{elapsed / 60:.1f} min elapsed; another wave (about {wave_cost / 60:.1f} min) "
                        f"would exceed {s.max_wall_minutes} min"
                    ),
                )
                break
            k += 1
        return self.finish(k, waves, prev, cascade, stop, detail, df)

    # -- outputs
    def finish(self, k, waves, cur, cascade, stop, detail, df) -> CalibrationResult:
        post_u = cur["posterior_u"]
        nat = self.space.natural_from_unit(post_u)
        posterior = pd.DataFrame(
            {
                "generation": np.full(len(post_u), k, int),
                "weight": np.ones(len(post_u)),
                **{nm: nat[:, j] for j, nm in enumerate(self.space.names)},
            }
        )
        summary = summary_table(self.space, post_u)
        final = waves[-1]
        W = self.space.working_from_unit(post_u)
        corr = np.corrcoef(W.T).reshape(self.p, self.p) if self.p > 1 else np.ones((1, 1))
        # residual correlation between record summaries (independence check), final emulator, training runs
        U, Y = self.arrays(df)
        emu = cur["emulator"]
        rs = cur["records"]
        used = rs.used_summaries()
        M, V = emu.predict(U)
        Zr = (Y - M) / np.sqrt(V)
        inside = cascade.ok(U, max(len(cascade) - 1, 0)) if len(cascade) else np.ones(len(U), bool)
        Zu = Zr[inside][:, used]
        ok_rows = np.isfinite(Zu).all(1)
        with np.errstate(invalid="ignore", divide="ignore"):
            rc = np.corrcoef(Zu[ok_rows].T) if ok_rows.sum() > 3 and len(used) > 1 else np.eye(len(used))
        off = np.abs(rc - np.eye(len(used))) if len(used) > 1 else np.zeros((1, 1))
        top = []
        if len(used) > 1:
            iu = np.triu_indices(len(used), 1)
            order = np.argsort(-np.nan_to_num(off[iu]))[:10]
            top = [
                {"a": self.snames[used[iu[0][o]]], "b": self.snames[used[iu[1][o]]], "corr": float(rc[iu[0][o], iu[1][o]])}
                for o in order
            ]
        fit = self._record_fit(emu, rs, post_u)
        report = {
            "method": "history matching in waves with a polynomial-ridge emulator; Gaussian synthetic likelihood sampled by ensemble MCMC on the emulator",
            "stop_reason": stop,
            "stop_detail": detail,
            "converged": stop == "converged",
            "final_wave": k,
            "n_waves": k + 1,
            "n_simulations": int(final["n_total"]),
            "wall_seconds_this_invocation": time.perf_counter() - self.t0,
            "seed": self.seed,
            "settings": {**self.s.design_dict(), **{b: getattr(self.s, b) for b in Settings.BUDGET}},
            "cutoff": self.cutoff,
            "nroy_fraction": final["nroy_fraction"],
            "records_used": rs.ids,
            "records_dropped": final["records_dropped"],
            "waves": [
                {
                    "wave": w["wave"],
                    "n_new": w["n_new"],
                    "n_total": w["n_total"],
                    "n_train": w["n_train"],
                    "nroy_fraction": w["nroy_fraction"],
                    "nroy_empty": w["nroy_empty"],
                    "emulator_loo_rmse": {d["summary"]: d["loo_rmse"] for d in w["emulator"]},
                    "emulator_r2_loo": {d["summary"]: d["r2_loo"] for d in w["emulator"]},
                    "emulator_check": w["emulator_check"],
                    "emulator_check_ok": w["emulator_check_ok"],
                    "posterior_median": {nm: v["median"] for nm, v in w["posterior"].items()},
                    "posterior_width90_ratio": {nm: v["width90_ratio"] for nm, v in w["posterior"].items()},
                    "posterior_changes": w["posterior_changes"],
                    "posterior_stable": w["posterior_stable"],
                    "mcmc": {kk: w["mcmc"][kk] for kk in ("min_ess", "max_rhat", "acceptance", "steps", "converged")},
                    "seconds": w["seconds"],
                }
                for w in waves
            ],
            "emulator_final": final["emulator"],
            "mcmc": final["mcmc"],
            "posterior": final["posterior"],
            "posterior_correlation": {"names": self.space.names, "matrix": corr.tolist()},
            "shrinkage_width90_over_prior": {nm: final["posterior"][nm]["width90_ratio"] for nm in self.space.names},
            "median_shrinkage": float(np.median([final["posterior"][nm]["width90_ratio"] for nm in self.space.names])),
            "record_residual_correlation_top": top,
            "record_fit": fit,
        }
        report = jsonable(report)
        root = self.store.root
        write_parquet(root / "posterior.parquet", posterior)
        write_text(root / "posterior_summary.csv", summary.to_csv(index=False))
        write_json(root / "run_report.json", report)
        return CalibrationResult(
            self.space, self.summaries, rs, posterior, post_u, summary, report, emu, cascade.items, root, self._last_mcmc, df
        )

    def _record_fit(self, emu, rs, post_u) -> list[dict]:
        from .validation import predict_records

        if not len(rs):
            return []
        pr = predict_records(emu, rs, post_u, n_draws=min(2000, len(post_u)), seed=self.seed)
        return pr.to_dict(orient="records")


def summary_table(space: ParamSpace, post_u: np.ndarray) -> pd.DataFrame:
    """Median, 50% and 90% intervals (natural scale), and 90% width / prior width (working scale)."""
    W = space.working_from_unit(post_u)
    N = space.natural_from_unit(post_u)
    rows = []
    for j, prm in enumerate(space.params):
        qn = np.quantile(N[:, j], [0.05, 0.25, 0.5, 0.75, 0.95])
        qw = np.quantile(W[:, j], [0.05, 0.95])
        rows.append(
            {
                "parameter": prm.name,
                "median": qn[2],
                "q05": qn[0],
                "q25": qn[1],
                "q75": qn[3],
                "q95": qn[4],
                "mean": float(N[:, j].mean()),
                "sd": float(N[:, j].std()),
                "prior_low": prm.low,
                "prior_high": prm.high,
                "log": prm.log,
                "width90_over_prior": float((qw[1] - qw[0]) / space.working_width[j]),
            }
        )
    return pd.DataFrame(rows)


def calibrate(
    space: ParamSpace | Sequence[Param],
    summaries: Sequence[Summary],
    records: RecordSet | Sequence[Record],
    simulate: Simulate,
    run_dir: str | Path,
    *,
    seed: int = 0,
    settings: Settings | None = None,
    executor=None,
    resume: bool = True,
    log: Callable[[str], None] | None = None,
) -> CalibrationResult:
    """Calibrate ``simulate`` against ``records`` (see the module docstring).

    ``simulate(thetas, seeds)`` gets ``thetas`` [n x p] on the natural scale and a list of ``n``
    ``numpy.random.SeedSequence`` and returns [n x m] raw summaries (an array in the order of
    ``summaries``, or a DataFrame with their names as columns; NaN allowed). With ``executor``
    (anything with ``submit(fn, *args)`` returning futures: concurrent.futures, dask), the batches
    of a wave run concurrently on it. ``resume=True`` continues the run in ``run_dir`` (nothing on
    disk is recomputed); a run directory holding a different run is an error.
    """
    return _Run(space, summaries, records, simulate, run_dir, seed, settings, executor, resume, log).run()


def run_wave0(
    space, summaries, simulate, run_dir, *, seed: int = 0, settings: Settings | None = None, executor=None, log=None
) -> pd.DataFrame:
    """Run only wave 0 (independent of the records) into ``run_dir``: the shared start of leave-one-
    group-out fits and synthetic-archive calibrations. Returns its simulations."""
    r = _Run(space, summaries, [], simulate, run_dir, seed, settings, executor, True, log)
    r.store.root.mkdir(parents=True, exist_ok=True)
    design = r.store.load_design(0)
    if design is None:
        design = r.design(0, None)
        r.store.save_design(0, design)
    r.run_wave(0, design)
    return r.store.load_wave(0)


def import_wave0(src_dir: str | Path, dst_dir: str | Path, exclude_index: Sequence[int] = ()) -> None:
    """Copy wave 0's design and simulations from ``src_dir`` into a fresh run directory ``dst_dir``
    (optionally without some design rows, e.g. the truth of a synthetic archive)."""
    src, dst = RunStore(src_dir), RunStore(dst_dir)
    design = src.load_design(0)
    if design is None:
        raise FileNotFoundError(f"{src_dir}: no wave 0 design")
    sims = src.load_wave(0)
    if len(sims) != len(design):
        raise ValueError(f"{src_dir}: wave 0 is incomplete ({len(sims)} of {len(design)} simulations)")
    if dst.load_design(0) is not None:
        raise FileExistsError(f"{dst_dir}: wave 0 exists already")
    ex = set(int(i) for i in exclude_index)
    design = design[~design["index"].isin(ex)].reset_index(drop=True)
    sims = sims[~sims["index"].isin(ex)].reset_index(drop=True)
    # a replicate whose original is gone is no longer a replicate pair
    sims.loc[sims["replicate_of"].isin(ex), "replicate_of"] = -1
    design.loc[design["replicate_of"].isin(ex), "replicate_of"] = -1
    dst.save_design(0, design)
    dst.save_batch(0, 9999, sims)
    write_text(dst.wave_dir(0) / "imported", f"{Path(src_dir).resolve()}\nexcluded: {sorted(ex)}\n")
