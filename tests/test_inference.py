"""The inference engine (bordersim.inference): record likelihoods, emulator, sampler, the waves,
resume, determinism, degenerate summaries. Toy simulators only; the whole file runs in well under a
minute."""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pytest
from scipy import integrate

from bordersim.inference import (
    CountInterval,
    ExactCount,
    ExactShare,
    ExactValue,
    LowerBound,
    Param,
    PolyEmulator,
    RecordSet,
    ShareInterval,
    Summary,
    Undercount,
    calibrate,
    ess,
    log_diff_ndtr,
    log_uniform_moments,
    sample,
    split_rhat,
)
from bordersim.inference.emulator import _Poly, _ridge_loo

from .inference_toys import LinearGaussian, PoissonToy, fast_settings


def _phi(x):
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def _logpdf(x, m, v):
    return -0.5 * math.log(2 * math.pi * v) - (x - m) ** 2 / (2 * v)


# -- records: hand-computed likelihoods -------------------------------------------------------------------
def test_exact_count_loglik_is_the_convolved_normal_density_of_log1p_record():
    r = ExactCount("x", "s", 100.0, cv=0.1)
    m, v = 4.6, 0.04
    # log1p(100) = log 101; variance 0.04 + 0.1^2 = 0.05; Jacobian of log1p: -log 101
    want = _logpdf(math.log(101), m, 0.05) - math.log(101)
    assert r.loglik(m, v) == pytest.approx(want, abs=1e-12)
    assert want == pytest.approx(-4.03848, abs=1e-5)
    assert r.z(m, v) == pytest.approx(abs(math.log(101) - 4.6) / math.sqrt(0.05))


def test_log_uniform_moments_are_exact():
    a, b = 0.6, 1.0
    m1 = integrate.quad(lambda f: math.log(f) / (b - a), a, b)[0]
    m2 = integrate.quad(lambda f: math.log(f) ** 2 / (b - a), a, b)[0]
    mu, var = log_uniform_moments(a, b)
    assert mu == pytest.approx(m1, abs=1e-12)
    assert var == pytest.approx(m2 - m1**2, abs=1e-12)
    assert mu == pytest.approx((-0.6 * math.log(0.6)) / 0.4 - 1.0)
    assert log_uniform_moments(0.8, 0.8) == (pytest.approx(math.log(0.8)), 0.0)


def test_undercount_shifts_the_mean_by_E_log_f_and_adds_its_variance():
    r = Undercount("x", "s", 50.0, f_low=0.6, f_high=1.0, cv=0.02)
    mu, vf = log_uniform_moments(0.6, 1.0)
    m, v = 4.6, 0.04
    want = _logpdf(math.log(51), m + mu, v + vf + 0.02**2) - math.log(51)
    assert r.loglik(m, v) == pytest.approx(want, abs=1e-12)
    # a record that undercounts is best explained by a larger true value
    ms = np.linspace(3, 6, 301)
    assert ms[np.argmax(r.loglik(ms, 0.04))] == pytest.approx(math.log(51) - mu, abs=0.01)


def test_count_interval_is_the_probability_of_the_range():
    r = CountInterval("x", "s", 80.0, 150.0, cv=0.05)
    m, v = 4.6, 0.04
    s = math.sqrt(v + 0.05**2)
    want = math.log(_phi((math.log(151) - m) / s) - _phi((math.log(81) - m) / s))
    assert r.loglik(m, v) == pytest.approx(want, abs=1e-12)
    assert r.z(m, v) == 0.0  # inside the range: no discrepancy
    assert r.z(5.5, v) == pytest.approx((5.5 - math.log(151)) / s)


def test_lower_bound_is_the_survival_probability():
    r = LowerBound("x", "s", 350.0)
    m, v = 5.5, 0.09
    want = math.log(1.0 - _phi((math.log(351) - m) / 0.3))
    assert r.loglik(m, v) == pytest.approx(want, abs=1e-12)
    assert r.z(m, v) == pytest.approx((math.log(351) - m) / 0.3)
    assert r.z(7.0, v) == 0.0


def test_share_records_on_the_logit_scale():
    r = ExactShare("x", "s", 0.3, sd=0.1)
    m, v = -0.8, 0.1
    t = math.log(0.3 / 0.7)
    want = _logpdf(t, m, 0.1 + 0.01) - math.log(0.3 * 0.7)
    assert r.loglik(m, v) == pytest.approx(want, abs=1e-12)
    ri = ShareInterval("y", "s", 0.2, 0.4)
    s = math.sqrt(v)
    want = math.log(_phi((math.log(0.4 / 0.6) - m) / s) - _phi((math.log(0.2 / 0.8) - m) / s))
    assert ri.loglik(m, v) == pytest.approx(want, abs=1e-12)


def test_log_diff_ndtr_is_stable_in_both_tails():
    assert log_diff_ndtr(-1.0, 1.0) == pytest.approx(math.log(_phi(1) - _phi(-1)))
    assert log_diff_ndtr(30.0, 31.0) == pytest.approx(float(log_diff_ndtr(-31.0, -30.0)))
    far = log_diff_ndtr(np.array([-40.0, 8.0]), np.array([-39.0, np.inf]))
    assert np.all(np.isfinite(far))
    assert far[0] == pytest.approx(-(39**2) / 2 - math.log(39 * math.sqrt(2 * math.pi)), abs=0.01)
    assert log_diff_ndtr(1.0, 1.0) == -np.inf


def test_record_set_vectorized_equals_per_record_and_subsets():
    s = [Summary("a"), Summary("b", "logit")]
    recs = [
        ExactCount("r1", "a", 100.0, cv=0.1, group="g1"),
        Undercount("r2", "a", 50.0, f_low=0.6, group="g1"),
        CountInterval("r3", "a", 80, 150, group="g2"),
        LowerBound("r4", "a", 60, group="g2"),
        ExactShare("r5", "b", 0.3, sd=0.1, group="g2"),
        ShareInterval("r6", "b", 0.2, 0.4, group="g3"),
    ]
    rs = RecordSet(recs, s)
    rng = np.random.default_rng(0)
    M = np.column_stack([rng.normal(4.5, 0.5, 7), rng.normal(-0.8, 0.5, 7)])
    V = rng.uniform(0.01, 0.3, (7, 2))
    each = np.array([[r.loglik(M[i, j], V[i, j]) for r, j in zip(recs, rs.col, strict=True)] for i in range(7)])
    assert np.allclose(rs.loglik_each(M, V), each)
    assert np.allclose(rs.loglik(M, V), each.sum(1))
    zs = np.array([[r.z(M[i, j], V[i, j]) for r, j in zip(recs, rs.col, strict=True)] for i in range(7)])
    assert np.allclose(rs.implausibility(M, V), zs.max(1))
    assert rs.subset(exclude_groups=["g2"]).ids == ["r1", "r2", "r6"]
    assert rs.subset(groups=["g2"]).ids == ["r3", "r4", "r5"]
    with pytest.raises(ValueError, match="needs a logit summary"):
        RecordSet([ExactShare("bad", "a", 0.5)], s)
    with pytest.raises(ValueError, match="duplicate"):
        RecordSet([ExactCount("r", "a", 1.0), ExactCount("r", "a", 2.0)], s)


def test_synthetic_records_follow_the_observation_model():
    rng = np.random.default_rng(1)
    r = Undercount("x", "s", 10.0, f_low=0.5, f_high=1.0, cv=0.05)
    vals = np.array([math.log1p(r.synthesize(6.0, rng).value) for _ in range(4000)])
    mu, vf = log_uniform_moments(0.5, 1.0)
    assert vals.mean() == pytest.approx(6.0 + mu, abs=0.01)
    assert vals.var() == pytest.approx(vf + 0.05**2, rel=0.08)
    ri = CountInterval("i", "s", 100, 200)
    w = math.log(201) - math.log(101)
    inside = [
        (lambda q: math.log1p(q.low) <= 5.0 + 1e-9 and math.log1p(q.high) >= 5.0 - 1e-9)(ri.synthesize(5.0, rng))
        for _ in range(200)
    ]
    assert all(inside)
    q = ri.synthesize(5.0, rng)
    assert math.log1p(q.high) - math.log1p(q.low) == pytest.approx(w)


# -- emulator ---------------------------------------------------------------------------------------------
def test_ridge_loo_matches_scikit_learn_ridgecv():
    from sklearn.linear_model import RidgeCV

    rng = np.random.default_rng(3)
    X = rng.random((200, 3))
    F = _Poly(3, 2)(X)
    Y = np.column_stack(
        [X[:, 0] ** 2 - X[:, 1] + 0.1 * rng.standard_normal(200), np.sin(3 * X[:, 2]) + 0.05 * rng.standard_normal(200)]
    )
    Fc = F - F.mean(0)
    scale = np.linalg.eigvalsh(Fc.T @ Fc).clip(0).mean()
    a = 1e-3
    _, mse, coef, icpt, res = _ridge_loo(F, Y, alphas=np.array([a]))
    sk = RidgeCV(alphas=[a * scale], fit_intercept=True, store_cv_results=True).fit(F, Y)
    assert np.allclose(coef.T, sk.coef_, atol=1e-8)
    assert np.allclose(icpt, sk.intercept_, atol=1e-8)
    assert np.allclose((res**2), sk.cv_results_[:, :, 0], rtol=1e-6, atol=1e-10)


def test_emulator_variance_is_calibrated_out_of_sample_and_survives_save_load(tmp_path):
    rng = np.random.default_rng(1)
    n, p = 2000, 4

    def truth(U):
        mu = np.column_stack([np.sin(3 * U[:, 0]) + U[:, 1] ** 2, 2 * U[:, 2] - U[:, 3] * U[:, 0]])
        sd = np.column_stack([0.1 + 0.2 * U[:, 0], np.full(len(U), 0.05)])
        return mu, sd

    U = rng.random((n, p))
    mu, sd = truth(U)
    Y = mu + sd * rng.standard_normal(mu.shape)
    emu = PolyEmulator().fit(U, Y)
    Ut = rng.random((5000, p))
    mt, st = truth(Ut)
    Yt = mt + st * rng.standard_normal(mt.shape)
    M, V = emu.predict(Ut)
    z = (Yt - M) / np.sqrt(V)
    assert np.all(np.abs(z.std(0) - 1.0) < 0.08)
    # heteroscedastic: the predicted sd follows the true one
    assert np.corrcoef(np.sqrt(V[:, 0]), st[:, 0])[0, 1] > 0.9
    emu.save(tmp_path / "e.npz")
    M2, V2 = PolyEmulator.load(tmp_path / "e.npz").predict(Ut)
    assert np.array_equal(M, M2) and np.array_equal(V, V2)


def test_emulator_handles_nan_and_constant_summaries():
    rng = np.random.default_rng(2)
    U = rng.random((300, 3))
    Y = np.column_stack([U[:, 0] + 0.1 * rng.standard_normal(300), np.full(300, 2.0), np.full(300, np.nan), U[:, 1]])
    Y[:40, 3] = np.nan
    emu = PolyEmulator().fit(U, Y)
    M, V = emu.predict(rng.random((10, 3)))
    assert np.all(np.isfinite(M[:, [0, 1, 3]])) and np.all(np.isnan(M[:, 2]))
    assert np.allclose(M[:, 1], 2.0) and np.all(V[:, 1] < 1e-8)
    assert emu.fits[3].n == 260 and not emu.fits[2].emulated


# -- sampler ----------------------------------------------------------------------------------------------
def test_ess_of_ar1_chains_matches_its_autocorrelation_time():
    rng = np.random.default_rng(0)
    C, N, rho = 8, 4000, 0.8
    x = np.zeros((C, N))
    e = rng.standard_normal((C, N))
    for t in range(1, N):
        x[:, t] = rho * x[:, t - 1] + math.sqrt(1 - rho**2) * e[:, t]
    tau = (1 + rho) / (1 - rho)
    assert ess(x) == pytest.approx(C * N / tau, rel=0.15)
    assert split_rhat(x) < 1.01
    x[0] += 3.0  # one chain elsewhere
    assert split_rhat(x) > 1.1


def test_sampler_recovers_a_correlated_gaussian_in_the_cube():
    mu = np.array([0.3, 0.6])
    cov = np.array([[0.004, 0.0035], [0.0035, 0.004]])
    P = np.linalg.inv(cov)

    def lp(U):
        d = U - mu
        return -0.5 * np.einsum("ij,jk,ik->i", d, P, d)

    rng = np.random.default_rng(5)
    res = sample(lp, rng.uniform(0.2, 0.8, (16, 2)), rng, n_burn=400, n_steps=1500, target_ess=1500)
    f = res.flat()
    assert res.converged and res.ess.min() >= 1500
    assert np.allclose(f.mean(0), mu, atol=0.01)
    assert np.allclose(np.cov(f.T), cov, rtol=0.12)


# -- the engine on a model with an analytic posterior -------------------------------------------------------
def test_linear_gaussian_posterior_matches_the_analytic_one(tmp_path):
    toy = LinearGaussian()
    st = fast_settings(n0=256, n_wave=128, max_waves=5)
    res = calibrate(toy.params, toy.summaries, toy.records, toy.simulate, tmp_path / "run", seed=3, settings=st)
    mean, cov = toy.analytic()
    sd = np.sqrt(np.diag(cov))
    W = toy.space.working_from_unit(res.posterior_u)
    assert np.all(np.abs(W.mean(0) - mean) < 0.2 * sd), (W.mean(0), mean)
    assert np.all(np.abs(W.std(0) / sd - 1.0) < 0.12), (W.std(0), sd)
    assert np.allclose(np.corrcoef(W.T), cov / np.outer(sd, sd), atol=0.08)
    q05, q95 = np.quantile(W, [0.05, 0.95], axis=0)
    assert np.all((q05 <= toy.w_true) & (toy.w_true <= q95))
    rep = res.report
    assert rep["stop_reason"] == "converged" and rep["mcmc"]["min_ess"] >= 500
    assert rep["n_simulations"] == st.n0 + rep["final_wave"] * st.n_wave  # replicates included, exactly
    assert all(0 < w["nroy_fraction"] <= 1 for w in rep["waves"])
    # outputs the existing posterior readers expect
    post = pd.read_parquet(tmp_path / "run" / "posterior.parquet")
    assert list(post.columns) == ["generation", "weight", "a", "b", "c"] and len(post) >= 2000
    assert (post["generation"] == rep["final_wave"]).all() and (post["weight"] == 1.0).all()
    summ = pd.read_csv(tmp_path / "run" / "posterior_summary.csv")
    assert {"median", "q05", "q25", "q75", "q95", "width90_over_prior"} <= set(summ.columns)
    assert (tmp_path / "run" / "run_report.json").exists()


# -- resume, determinism ---------------------------------------------------------------------------------
class Crash(RuntimeError):
    pass


def test_resume_after_a_crash_recomputes_nothing_and_gives_the_same_posterior(tmp_path):
    st = fast_settings(n0=128, n_wave=64, max_waves=3, batch_size=32)
    toy = LinearGaussian()
    ref = calibrate(toy.params, toy.summaries, toy.records, toy.simulate, tmp_path / "ref", seed=11, settings=st)
    ref_calls = list(toy.calls)
    assert len(ref_calls) == len(set(ref_calls)) == ref.report["n_simulations"]

    toy2 = LinearGaussian()
    batches = {"n": 0}

    def crashing(th, seeds):
        if batches["n"] == 5:  # wave 0 has 4 batches: crash in wave 1, after its first batch
            raise Crash("killed")
        batches["n"] += 1
        return toy2.simulate(th, seeds)

    with pytest.raises(Crash):
        calibrate(toy2.params, toy2.summaries, toy2.records, crashing, tmp_path / "run", seed=11, settings=st)
    first = list(toy2.calls)
    assert len(first) == 5 * 32  # 4 batches of wave 0 and the first of wave 1 ran and are on disk
    assert len(list((tmp_path / "run" / "wave_1").glob("batch_*.parquet"))) == 1
    assert (tmp_path / "run" / "wave_0" / "analysis.json").exists()
    res = calibrate(toy2.params, toy2.summaries, toy2.records, toy2.simulate, tmp_path / "run", seed=11, settings=st)
    allc = list(toy2.calls)
    assert len(allc) == len(set(allc)), "a simulation ran twice"
    assert sorted(allc) == sorted(ref_calls)
    assert np.array_equal(res.posterior_u, ref.posterior_u)
    pd.testing.assert_frame_equal(
        pd.read_parquet(tmp_path / "run" / "posterior.parquet"), pd.read_parquet(tmp_path / "ref" / "posterior.parquet")
    )
    # a finished run resumed again simulates nothing
    n = len(toy2.calls)
    again = calibrate(toy2.params, toy2.summaries, toy2.records, toy2.simulate, tmp_path / "run", seed=11, settings=st)
    assert len(toy2.calls) == n and np.array_equal(again.posterior_u, ref.posterior_u)


def test_a_different_run_in_the_same_directory_is_refused(tmp_path):
    st = fast_settings(n0=64, n_wave=32, max_waves=1)
    toy = LinearGaussian()
    calibrate(toy.params, toy.summaries, toy.records, toy.simulate, tmp_path / "run", seed=1, settings=st)
    with pytest.raises(ValueError, match="differs"):
        calibrate(toy.params, toy.summaries, toy.records, toy.simulate, tmp_path / "run", seed=2, settings=st)
    with pytest.raises(FileExistsError):
        calibrate(toy.params, toy.summaries, toy.records, toy.simulate, tmp_path / "run", seed=1, settings=st, resume=False)


def test_same_seed_same_posterior_whatever_the_executor(tmp_path):
    st = fast_settings(n0=128, n_wave=64, max_waves=2)
    toy = PoissonToy()
    recs = toy.records()
    a = calibrate(toy.params, toy.summaries, recs, toy.simulate, tmp_path / "a", seed=5, settings=st)
    with ThreadPoolExecutor(2) as ex:
        b = calibrate(toy.params, toy.summaries, recs, toy.simulate, tmp_path / "b", seed=5, settings=st, executor=ex)
    c = calibrate(toy.params, toy.summaries, recs, toy.simulate, tmp_path / "c", seed=6, settings=st)
    assert np.array_equal(a.posterior_u, b.posterior_u)
    assert not np.array_equal(a.posterior_u, c.posterior_u)


# -- degenerate summaries ---------------------------------------------------------------------------------
def test_all_nan_and_constant_summaries_do_not_crash(tmp_path):
    toy = LinearGaussian()
    summaries = toy.summaries + [Summary("dead", "log1p"), Summary("flat", "identity"), Summary("holes", "identity")]

    def simulate(th, seeds):
        base = toy.simulate(th, seeds)
        holes = base[:, 0].copy()
        holes[::3] = np.nan
        return np.column_stack([base, np.full(len(th), np.nan), np.full(len(th), 7.0), holes])

    records = toy.records + [
        ExactCount("on_dead", "dead", 10.0),
        ExactValue("on_flat", "flat", 7.0, sd=0.1),
        ExactValue("on_holes", "holes", float(toy.y_obs[0]), sd=0.5),
    ]
    st = fast_settings(n0=192, n_wave=96, max_waves=2)
    res = calibrate(toy.params, summaries, records, simulate, tmp_path / "run", seed=2, settings=st)
    assert res.report["records_dropped"] == ["on_dead"]
    assert "on_dead" not in res.records.ids and "on_flat" in res.records.ids
    assert np.isfinite(res.posterior_u).all() and res.report["mcmc"]["min_ess"] > 0


def test_one_parameter_one_summary(tmp_path):
    def sim(th, seeds):
        return np.array([[np.random.default_rng(s).poisson(100 * th[i, 0])] for i, s in enumerate(seeds)], float)

    st = fast_settings(n0=128, n_wave=64, max_waves=3, n_chains=16)
    r = calibrate(
        [Param("k", 0.1, 10, log=True)],
        [Summary("n")],
        [ExactCount("obs", "n", 250.0, cv=0.05)],
        sim,
        tmp_path / "run",
        seed=1,
        settings=st,
    )
    q05, q95 = r.summary.loc[0, ["q05", "q95"]]
    # log1p(record) ~ N(log(100 k), 1/(100 k) + 0.05^2): k = 2.5 within about +-13% (90%)
    assert q05 < 2.5 < q95 and 2.0 < q05 and q95 < 3.1


def test_a_loaded_waves_cost_counts_batches_submitted_together_once():
    """Batches on an executor are timed from their common submission: the wave took the longest of them,
    not their sum (the sum once stopped every leave-one-out refit after the shared wave 0)."""
    from bordersim.inference.waves import recorded_seconds_per_simulation

    wave = pd.DataFrame({"batch_seconds": np.repeat([10.0, 20.0, 30.0], 5)})  # 3 batches of 5 runs
    assert recorded_seconds_per_simulation(wave, parallel=True) == pytest.approx(30.0 / 15)
    assert recorded_seconds_per_simulation(wave, parallel=False) == pytest.approx(60.0 / 15)
    assert recorded_seconds_per_simulation(wave.iloc[:0], parallel=True) == 0.0
