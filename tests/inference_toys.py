"""Toy simulators with known answers for the inference engine's tests (no bordersim model code)."""

from __future__ import annotations

import numpy as np

from bordersim.inference import (
    CountInterval,
    ExactCount,
    ExactShare,
    ExactValue,
    LowerBound,
    Param,
    ParamSpace,
    Settings,
    Summary,
    Undercount,
)

#: small, fast settings for tests
FAST = dict(pool_size=3000, n_chains=24, n_burn=300, n_steps=500, max_steps=2000, target_ess=500, n_draws=2000, batch_size=32)


class LinearGaussian:
    """y = a + B w + sigma e on identity summaries, w the working coordinates (one log parameter);
    records y_obs = y + c e'. With a wide box prior the posterior of w is Gaussian and analytic."""

    def __init__(self, seed=42, m=5, sigma=0.15, c=0.1):
        rng = np.random.default_rng(seed)
        self.params = [Param("a", -3, 3), Param("b", -3, 3), Param("c", 1e-3, 1e3, log=True)]
        self.space = ParamSpace(self.params)
        p = len(self.params)
        self.m, self.sigma, self.c = m, sigma, c
        self.B = rng.normal(0, 1, (m, p))
        self.a = rng.normal(0, 1, m)
        self.w_true = np.array([0.5, -1.0, 0.8])
        self.y_obs = self.a + self.B @ self.w_true + np.sqrt(sigma**2 + c**2) * rng.standard_normal(m)
        self.summaries = [Summary(f"y{j}", "identity") for j in range(m)]
        self.records = [ExactValue(f"r{j}", f"y{j}", float(self.y_obs[j]), sd=c, group=f"g{j % 2}") for j in range(m)]
        self.calls: list[tuple[int, int, int]] = []

    def working(self, th):
        return np.column_stack([th[:, 0], th[:, 1], np.log10(th[:, 2])])

    def simulate(self, th, seeds):
        W = self.working(th)
        out = np.empty((len(th), self.m))
        for i, s in enumerate(seeds):
            self.calls.append(tuple(int(x) for x in s.entropy))
            r = np.random.default_rng(s)
            out[i] = self.a + self.B @ W[i] + self.sigma * r.standard_normal(self.m)
        return out

    def analytic(self):
        S_inv = np.eye(self.m) / (self.sigma**2 + self.c**2)
        P = self.B.T @ S_inv @ self.B
        cov = np.linalg.inv(P)
        mean = cov @ self.B.T @ S_inv @ (self.y_obs - self.a)
        return mean, cov


class PoissonToy:
    """Counts ~ Poisson(exp(b0 + B w)) (log1p summaries) and a binomial share (logit summary), with
    every record type; w the working coordinates of three parameters (one log-uniform)."""

    def __init__(self):
        self.params = [Param("rate", 0.0, 1.0), Param("detect", 0.1, 0.9), Param("scale", 0.1, 10.0, log=True)]
        self.space = ParamSpace(self.params)
        self.b0 = np.array([4.0, 5.0, 3.5, 4.5])
        self.B = np.array([[1.5, 0.0, 0.6], [0.0, 1.2, 0.5], [1.0, -1.0, 0.0], [0.5, 0.5, 0.8]])
        self.summaries = [Summary(f"n{j}", "log1p") for j in range(4)] + [Summary("share", "logit")]
        self.calls = []

    def means(self, W):
        lam = np.exp(self.b0 + W @ self.B.T)
        p = 1.0 / (1.0 + np.exp(-(-0.5 + 1.5 * W[:, 1] - 0.5 * W[:, 0])))
        return lam, p

    def working(self, th):
        return np.column_stack([th[:, 0], th[:, 1], np.log10(th[:, 2])])

    def simulate(self, th, seeds):
        W = self.working(th)
        lam, p = self.means(W)
        out = np.empty((len(th), 5))
        for i, s in enumerate(seeds):
            self.calls.append(tuple(int(x) for x in s.entropy))
            r = np.random.default_rng(s)
            out[i, :4] = r.poisson(lam[i])
            out[i, 4] = r.binomial(200, p[i]) / 200.0
        return out

    def records(self, theta=(0.6, 0.4, 2.0), seed=0):
        """Records drawn from the model's observation process at ``theta``."""
        rng = np.random.default_rng(seed)
        y = self.simulate(np.array([theta], float), [np.random.SeedSequence([seed, 99])])[0]
        self.calls.clear()
        n = np.log1p(y[:4])
        recs = [
            ExactCount("exact", "n0", float(np.expm1(n[0] + rng.normal(0, 0.05))), cv=0.05, group="A"),
            Undercount(
                "under", "n1", float(np.expm1(n[1] + np.log(rng.uniform(0.7, 1.0)))), f_low=0.7, f_high=1.0, cv=0.02, group="A"
            ),
            CountInterval("range", "n2", float(np.expm1(n[2] - 0.15)), float(np.expm1(n[2] + 0.25)), group="B"),
            LowerBound("atleast", "n3", float(np.expm1(n[3] - 0.3)), group="B"),
            ExactShare("share", "share", float(np.clip(y[4], 0.01, 0.99)), sd=0.05, group="B"),
        ]
        return recs


def fast_settings(**kw) -> Settings:
    d = dict(FAST)
    d.update(kw)
    return Settings(**d)
