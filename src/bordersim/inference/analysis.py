"""The analysis of one wave: emulator, out-of-sample check, history matching, posterior, convergence.

:func:`analyze_wave` runs, on every simulation so far, the steps described in :mod:`.engine`:

1. the training set (the runs in NROY_{k-1}, topped up with the least implausible others) and the
   emulator fitted on it; records whose summary could not be emulated are dropped;
2. :func:`emulator_check`: the previous wave's emulator on this wave's new runs inside NROY_{k-1};
3. history matching (:func:`.nroy.narrow_nroy`);
4. :func:`posterior_mcmc`: the synthetic-likelihood posterior on NROY_{k-1}, sampled by MCMC;
5. :func:`convergence_test`: has the posterior stopped moving since the previous wave;
6. the emulator diagnostics with the simulation noise measured on replicate pairs.
"""

from __future__ import annotations

import math
import time
import warnings

import numpy as np
import pandas as pd
from scipy.stats import norm

from .emulator import PolyEmulator
from .mcmc import MCMCResult, sample
from .nroy import Cascade, initial_pool, narrow_nroy
from .params import ParamSpace
from .settings import STREAM_INIT, STREAM_MCMC, Settings, rng_stream


def analyze_wave(run, k: int, df: pd.DataFrame, cascade: Cascade, prev: dict | None) -> tuple[dict, dict, MCMCResult]:
    """Analysis of wave ``k`` on the simulations ``df`` of waves 0..k, given the previous wave's
    ``prev``; extends ``cascade`` and saves the analysis. Returns the analysis (JSON-able), the
    wave's state handed to the next one, and the posterior MCMC run."""
    s = run.s
    tA = time.perf_counter()
    U, Y = run.arrays(df)
    wave = df["wave"].to_numpy(int)
    train = training_set(cascade, U, run.min_train)
    emu = PolyEmulator(max_degree=s.max_degree, min_points_per_feature=s.min_points_per_feature).fit(U[train], Y[train])
    emu.save(run.store.emulator_path(k))
    t_fit = time.perf_counter() - tA
    # records whose summary could not be emulated are dropped (and said so)
    dropped = [r.id for r, j in zip(run.records, run.records.col, strict=True) if not emu.emulated[j]]
    rs = run.records.subset(exclude_ids=dropped) if dropped else run.records
    used = rs.used_summaries()
    # out-of-sample check of the previous emulator on this wave's new simulations
    check, emu_ok = {}, None
    if prev is not None:
        check, emu_ok = emulator_check(prev["emulator"], U, Y, wave == k, cascade, used, run.snames, s)
    # history matching on the NROY pool (subset simulation when NROY is a small share of the pool)
    pool = prev["pool_u"] if prev is not None else initial_pool(run.p, s, run.seed)
    frac_prev = prev["analysis"]["nroy_fraction"] if prev is not None else 1.0
    cascade_upto = len(cascade)  # the posterior is restricted to NROY_{k-1}
    hm, frac, new_pool = narrow_nroy(
        k, emu, rs, cascade, pool, frac_prev, cutoff=run.cutoff, settings=s, seed=run.seed, log=run.log
    )
    t_hm = time.perf_counter() - tA - t_fit
    # posterior by MCMC on the emulator
    prev_post = prev["posterior_u"] if prev is not None else None
    res = posterior_mcmc(emu, rs, cascade, cascade_upto, new_pool, prev_post, U[train], s, run.seed, k)
    post_u = res.thinned(s.n_draws)
    t_mcmc = time.perf_counter() - tA - t_fit - t_hm
    stats = posterior_stats(run.space, post_u)
    # convergence
    changes, post_ok = {}, None
    if prev is not None:
        changes, post_ok = convergence_test(prev["analysis"], stats, res.ess, run.space.names, s)
    converged = bool(post_ok and emu_ok and res.converged)
    # emulator diagnostics + noise decomposition
    noise_var = noise_from_replicates(df[train].reset_index(drop=True), Y[train])
    emu_diag = emulator_diagnostics(emu, noise_var, run.snames, used)
    analysis = {
        "wave": k,
        "n_new": int((wave == k).sum()),
        "n_total": int(len(df)),
        "n_train": int(train.sum()),
        "cutoff": run.cutoff,
        "nroy_fraction": frac,
        "nroy_fraction_of_previous": hm["fraction"],
        "nroy_empty": bool(hm["empty"]),
        "nroy_levels": hm["levels"],
        "min_implausibility": hm["min_I"],
        "records_dropped": dropped,
        "emulator": emu_diag,
        "emulator_check": check,
        "emulator_check_ok": emu_ok,
        "posterior": stats,
        "posterior_changes": changes,
        "posterior_stable": post_ok,
        "mcmc": res.report(run.space.names),
        "converged": converged,
        "seconds": {"emulator_fit": t_fit, "history_matching": t_hm, "mcmc": t_mcmc, "analysis": time.perf_counter() - tA},
    }
    arrays = {"posterior_u": post_u, "pool_u": new_pool, "chains_logp_last": res.logp[:, -1]}
    run.store.save_analysis(k, analysis, arrays)
    cur = {"analysis": analysis, "posterior_u": post_u, "pool_u": new_pool, "emulator": emu, "records": rs}
    return analysis, cur, res


def training_set(cascade: Cascade, U: np.ndarray, min_train: int) -> np.ndarray:
    """The simulations in NROY_{k-1} (all of them at wave 0); at least ``min_train`` of them (or all),
    topping up with the least implausible others."""
    score = cascade.score(U) if len(cascade) else np.zeros(len(U))
    train = score <= 1.0
    if train.sum() < min(min_train, len(U)):
        order = np.argsort(score, kind="stable")
        train = np.zeros(len(U), bool)
        train[order[: min(min_train, len(U))]] = True
    return train


def emulator_check(
    prev_emu: PolyEmulator,
    U: np.ndarray,
    Y: np.ndarray,
    is_new: np.ndarray,
    cascade: Cascade,
    used,
    snames: list[str],
    s: Settings,
) -> tuple[dict, bool]:
    """Standardized residuals of the previous emulator on the new runs (``is_new``) inside NROY_{k-1},
    per summary that a record uses: ``({summary: stats}, every sd within resid_sd)``. A summary with
    fewer than ``min_resid_n`` finite new values, or a constant one, is degenerate and passes."""
    # the new runs inside NROY_{k-1}, where the posterior lives (jittered draws outside it only
    # show how a polynomial extrapolates, which the cascade already guards against)
    new = is_new.copy()
    if len(cascade):
        new[new] = cascade.ok(U[new])
    M, V = prev_emu.predict(U[new])
    Z = (Y[new] - M) / np.sqrt(V)
    check = {}
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
        check[snames[j]] = {
            "n": int(len(zj)),
            "n_outside_nroy": int(is_new.sum() - new.sum()),
            "resid_sd": sd,
            "resid_mad_sd": mad,
            "resid_mean": float(zj.mean()) if len(zj) else math.nan,
            "degenerate": bool(degenerate),
            "ok": bool(ok),
        }
        emu_ok = emu_ok and ok
    return check, emu_ok


def posterior_mcmc(
    emu: PolyEmulator,
    rs,
    cascade: Cascade,
    cascade_upto: int,
    pool: np.ndarray,
    prev_post: np.ndarray | None,
    U_train: np.ndarray,
    s: Settings,
    seed: int,
    k: int,
) -> MCMCResult:
    """MCMC on ``log p(records | y ~ N(m_k, v_k))`` restricted to NROY_{k-1} (the first
    ``cascade_upto`` waves of ``cascade``), started from the pool and the previous posterior."""

    def logp(Uq):
        M, V = emu.predict(Uq)
        return rs.loglik(M, V)

    def in_nroy(Uq):
        return cascade.ok(Uq, cascade_upto)

    constraint = in_nroy if cascade_upto else None
    u0 = mcmc_start(logp, constraint, pool, prev_post, U_train, s.n_chains, rng_stream(seed, k, STREAM_INIT))
    return sample(
        logp,
        u0,
        rng_stream(seed, k, STREAM_MCMC),
        n_burn=s.n_burn,
        n_steps=s.n_steps,
        max_steps=s.max_steps,
        target_ess=s.target_ess,
        rhat_max=s.rhat_max,
        constraint=constraint,
    )


def mcmc_start(logp, constraint, pool, prev_post, U_train, n_chains: int, rng) -> np.ndarray:
    """The chains' starting points: tempered resampling of up to 20,000 candidates (the pool and the
    previous posterior draws; the training runs too if none of them has a finite density)."""
    cand = pool if prev_post is None else np.vstack([pool, prev_post])
    cand = cand[np.linspace(0, len(cand) - 1, min(len(cand), 20000)).astype(int)]

    def logp_c(Uq):
        ll = logp(Uq)
        return np.where(constraint(Uq), ll, -np.inf) if constraint is not None else ll

    lpc = logp_c(cand)
    if not np.isfinite(lpc).any():
        cand = np.vstack([cand, U_train])
        lpc = logp_c(cand)
    return tempered_start(cand, lpc, n_chains, rng)


def tempered_start(U: np.ndarray, lp: np.ndarray, n: int, rng) -> np.ndarray:
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


def posterior_stats(space: ParamSpace, Ud: np.ndarray) -> dict:
    """Per parameter (working scale): quantiles, mean, sd, 90% width and its ratio to the prior's."""
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


def convergence_test(prev_analysis: dict, stats: dict, ess: np.ndarray, names: list[str], s: Settings) -> tuple[dict, bool]:
    """Has every marginal stopped moving since the previous wave: median shift < ``median_tol`` sd and
    90% width change < ``width_tol``, each plus the Monte Carlo error of the difference at a
    family-wise 5% level. Returns ``({parameter: changes}, all ok)``."""
    changes = {}
    post_ok = True
    ess_now = dict(zip(names, ess, strict=True))
    # family-wise (Bonferroni over the parameters, 5%) multiplier of the Monte Carlo error
    z_fw = float(norm.isf(0.05 / (2.0 * len(names))))
    for nm in names:
        a, b = prev_analysis["posterior"][nm], stats[nm]
        shift = abs(b["median"] - a["median"]) / max(b["sd"], 1e-300)
        wchg = b["width90"] / max(a["width90"], 1e-300) - 1.0
        # Monte Carlo error of the two estimates (Gaussian approximations: se(median) = 1.25 sd / sqrt(ESS),
        # se(90% width) / width = 0.885 / sqrt(ESS)); a change smaller than twice it is not detectable
        e1 = max(float(prev_analysis["mcmc"]["ess"].get(nm) or 1.0), 1.0)
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
    return changes, post_ok


def noise_from_replicates(df: pd.DataFrame, Y: np.ndarray) -> np.ndarray:
    """Per-summary simulation-noise variance from replicate pairs (var of a difference / 2)."""
    if df.empty or "replicate_of" not in df:
        return np.full(Y.shape[1], np.nan)
    key = {(w, i): r for r, (w, i) in enumerate(zip(df["wave"].to_numpy(), df["index"].to_numpy(), strict=True))}
    pairs = [
        (key[(w, s)], r)
        for r, (w, s) in enumerate(zip(df["wave"].to_numpy(), df["replicate_of"].to_numpy(), strict=True))
        if s >= 0 and (w, s) in key
    ]
    if not pairs:
        return np.full(Y.shape[1], np.nan)
    a, b = np.array(pairs).T
    d = Y[a] - Y[b]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(d * d, 0) / 2.0


def emulator_diagnostics(emu: PolyEmulator, noise_var: np.ndarray, snames: list[str], used) -> list[dict]:
    """The emulator's per-summary diagnostics, with its LOO error split into simulation noise (from
    the replicates) and emulator error."""
    emu_diag = []
    for d in emu.diagnostics(snames):
        j = snames.index(d["summary"])
        nv = noise_var[j]
        d["noise_sd"] = float(math.sqrt(nv)) if np.isfinite(nv) else None
        d["emulator_sd"] = (
            float(math.sqrt(max(d["loo_rmse"] ** 2 - nv, 0.0))) if np.isfinite(nv) and np.isfinite(d["loo_rmse"]) else None
        )
        d["used_by_records"] = bool(j in used)
        emu_diag.append(d)
    return emu_diag
