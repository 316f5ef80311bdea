"""Benchmark of the inference engine at the real problem's size: 20 parameters, 32 summaries,
10,000 simulations (synthetic data from a smooth nonlinear, heteroscedastic generator).

    .venv/bin/python benchmarks/bench_inference.py [--quick] [--engine]

Times: emulator fit (degree/penalty selection by exact LOO, mean + variance model), prediction of
1e5 points, one posterior MCMC with the default settings on a 32-record likelihood (ESS, R-hat),
and with ``--engine`` a whole calibrate() run with a free simulator (the engine's own overhead per
wave, excluding simulation time). Single-threaded BLAS is forced, as on a shared 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

# single-threaded BLAS: set before numpy is imported
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")

import numpy as np  # noqa: E402

from bordersim.inference import (  # noqa: E402
    CountInterval,
    ExactCount,
    ExactShare,
    LowerBound,
    Param,
    ParamSpace,
    PolyEmulator,
    RecordSet,
    Settings,
    Summary,
    Undercount,
    calibrate,
    default_cutoff,
    sample,
)

P, M = 20, 32


class Generator:
    """y_j = log-rate (counts) or logit (shares): linear + a few interactions + a sine, noise sd
    depending on theta; 28 count summaries and 4 shares."""

    def __init__(self, seed=0):
        rng = np.random.default_rng(seed)
        self.b0 = rng.uniform(3, 8, M)
        self.B = rng.normal(0, 1.0, (M, P)) * (rng.random((M, P)) < 0.3)
        self.C = rng.normal(0, 0.5, (M, P, P)) * (rng.random((M, P, P)) < 0.02)
        self.k = rng.integers(0, P, M)
        self.params = [
            Param(f"p{i:02d}", 0.0, 1.0, log=False) if i % 4 else Param(f"p{i:02d}", 0.01, 1.0, log=True) for i in range(P)
        ]
        self.summaries = [Summary(f"s{j:02d}", "log1p") for j in range(28)] + [
            Summary(f"s{j:02d}", "logit") for j in range(28, M)
        ]

    def mean_sd(self, U):
        X = U - 0.5
        mu = self.b0 + X @ self.B.T + np.einsum("ni,jik,nk->nj", X, self.C, X) + 0.3 * np.sin(3 * X[:, self.k])
        mu[:, 28:] = mu[:, 28:] - self.b0[28:]  # shares near 0.5
        sd = 0.05 + 0.1 * U[:, :1] + 0.02 * np.abs(X[:, 1:2])
        return mu, np.broadcast_to(sd, mu.shape)

    def simulate_u(self, U, rng):
        mu, sd = self.mean_sd(U)
        y = mu + sd * rng.standard_normal(mu.shape)
        out = np.expm1(y)
        out[:, 28:] = 1 / (1 + np.exp(-y[:, 28:]))
        return y, out

    def records(self, u_true, rng):
        y, _ = self.simulate_u(u_true[None], rng)
        y = y[0]
        recs = []
        for j, s in enumerate(self.summaries):
            if j >= 28:
                recs.append(ExactShare(f"r{j}", s.name, float(1 / (1 + np.exp(-y[j]))), sd=0.05))
            elif j % 4 == 0:
                recs.append(Undercount(f"r{j}", s.name, float(np.expm1(y[j] + np.log(0.85))), f_low=0.7, f_high=1.0, cv=0.02))
            elif j % 4 == 1:
                recs.append(CountInterval(f"r{j}", s.name, float(np.expm1(y[j] - 0.1)), float(np.expm1(y[j] + 0.2))))
            elif j % 4 == 2:
                recs.append(LowerBound(f"r{j}", s.name, float(np.expm1(y[j] - 0.2))))
            else:
                recs.append(ExactCount(f"r{j}", s.name, float(np.expm1(y[j])), cv=0.02))
        return recs


def _meta(load_before) -> dict:
    import datetime
    import hashlib
    import platform
    import subprocess

    import scipy

    root = Path(__file__).resolve().parents[1]
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True).stdout.strip()
    except OSError:
        commit = None
    h = hashlib.sha256()
    for f in sorted((root / "src" / "bordersim" / "inference").glob("*.py")):
        h.update(f.read_bytes())
    return {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": platform.platform(),
        "processor": platform.processor(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "git_commit": commit,
        "sha256_inference_sources": h.hexdigest(),
        "loadavg_before": list(load_before),
        "loadavg_after": list(os.getloadavg()),
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="2,000 simulations instead of 10,000")
    ap.add_argument("--engine", action="store_true", help="also time a whole calibrate() run")
    ap.add_argument("--out", default=None)
    ap.add_argument("--keep", default=None, help="copy the engine's run directory here")
    ap.add_argument("--max-waves", type=int, default=6)
    a = ap.parse_args()
    load_before = os.getloadavg()
    n = 2000 if a.quick else 10000
    g = Generator()
    rng = np.random.default_rng(1)
    out = {"p": P, "m": M, "n": n}
    # a localized training set (as in a late wave): a box of width 0.3 around the truth
    u_true = rng.uniform(0.3, 0.7, P)
    U = np.clip(u_true + rng.uniform(-0.15, 0.15, (n, P)), 0, 1)
    Y, _ = g.simulate_u(U, rng)
    t = time.perf_counter()
    emu = PolyEmulator().fit(U, Y)
    out["emulator_fit_s"] = time.perf_counter() - t
    out["emulator_degrees"] = np.bincount(emu.mean_degree, minlength=4)[1:].tolist()
    Ut = np.clip(u_true + rng.uniform(-0.15, 0.15, (100_000, P)), 0, 1)
    t = time.perf_counter()
    Mt, Vt = emu.predict(Ut)
    out["predict_1e5_s"] = time.perf_counter() - t
    mu, sd = g.mean_sd(Ut[:5000])
    z = (mu + sd * rng.standard_normal(mu.shape) - Mt[:5000]) / np.sqrt(Vt[:5000])
    out["holdout_z_sd_median"] = float(np.median(z.std(0)))
    out["holdout_z_sd_range"] = [float(z.std(0).min()), float(z.std(0).max())]
    out["loo_rmse_over_noise_median"] = float(np.median([f.loo_rmse for f in emu.fits]) / np.median(sd))
    # one posterior MCMC with the default settings
    rs = RecordSet(g.records(u_true, rng), g.summaries)
    c = default_cutoff(len(rs))
    s = Settings()

    def logp(Uq):
        Mq, Vq = emu.predict(Uq)
        ll = rs.loglik(Mq, Vq)
        inside = np.all((Uq >= u_true - 0.15) & (Uq <= u_true + 0.15), 1)
        return np.where(inside, ll, -np.inf)

    Mp, Vp = emu.predict(Ut[:20000])
    lp0 = rs.loglik(Mp, Vp)
    order = np.argsort(-lp0)[: s.n_chains * 4]
    u0 = Ut[:20000][order[::4]]
    t = time.perf_counter()
    res = sample(
        logp,
        u0,
        np.random.default_rng(2),
        n_burn=s.n_burn,
        n_steps=s.n_steps,
        max_steps=s.max_steps,
        target_ess=s.target_ess,
        rhat_max=s.rhat_max,
    )
    out["mcmc_s"] = time.perf_counter() - t
    out["mcmc"] = {
        "chains": s.n_chains,
        "steps": res.n_steps,
        "burn": res.n_burn,
        "min_ess": float(res.ess.min()),
        "max_rhat": float(res.rhat.max()),
        "acceptance": res.acceptance,
        "converged": res.converged,
    }
    out["cutoff"] = c
    print(json.dumps(out, indent=2))
    if a.engine:
        tmp = Path(tempfile.mkdtemp(prefix="bench_inference_"))
        space = ParamSpace(g.params)

        def simulate(th, seeds):
            u = space.unit_from_natural(th)
            outs = []
            for i, sd_ in enumerate(seeds):
                _, o = g.simulate_u(u[i : i + 1], np.random.default_rng(sd_))
                outs.append(o[0])
            return np.array(outs)

        recs = g.records(u_true, np.random.default_rng(3))
        st = Settings(n0=1500, n_wave=500, max_waves=a.max_waves, max_simulations=10000)
        t = time.perf_counter()
        r = calibrate(g.params, g.summaries, recs, simulate, tmp / "run", seed=1, settings=st, log=print)
        eng = {
            "wall_s": time.perf_counter() - t,
            "stop_reason": r.report["stop_reason"],
            "n_simulations": r.report["n_simulations"],
            "waves": [
                {
                    "wave": w["wave"],
                    "n_total": w["n_total"],
                    "nroy_fraction": w["nroy_fraction"],
                    "seconds": {k: round(v, 2) for k, v in w["seconds"].items()},
                    "min_ess": w["mcmc"]["min_ess"],
                    "max_rhat": w["mcmc"]["max_rhat"],
                    "mcmc_steps": w["mcmc"]["steps"],
                    "posterior_stable": w["posterior_stable"],
                    "emulator_check_ok": w["emulator_check_ok"],
                    "resid_sd_range": [
                        min((c["resid_sd"] for c in w["emulator_check"].values()), default=None),
                        max((c["resid_sd"] for c in w["emulator_check"].values()), default=None),
                    ],
                    "unstable_parameters": [k for k, v in w["posterior_changes"].items() if not v["ok"]],
                }
                for w in r.report["waves"]
            ],
            "median_width90_over_prior": r.report["median_shrinkage"],
            "truth_inside90": float(
                np.mean(
                    (r.summary.q05.to_numpy() <= space.natural_from_unit(u_true[None])[0])
                    & (space.natural_from_unit(u_true[None])[0] <= r.summary.q95.to_numpy())
                )
            ),
        }
        out["engine"] = eng
        print(json.dumps(eng, indent=2))
        if a.keep:
            shutil.copytree(tmp / "run", a.keep, dirs_exist_ok=True)
        shutil.rmtree(tmp, ignore_errors=True)
    out["meta"] = _meta(load_before)
    if a.out:
        from bordersim.inference._atomic import write_text

        write_text(a.out, json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
