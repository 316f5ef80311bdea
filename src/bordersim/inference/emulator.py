"""The emulator: E[y | theta] and Var[y | theta] for every summary, fitted on simulations.

Choice: **heteroscedastic polynomial ridge regression with exact leave-one-out (LOO) selection**.

* Mean: for each summary a polynomial of degree 1, 2 or 3 in the standardized unit-cube inputs
  (inputs standardized on the training set, so a small late-wave region is as well conditioned as
  the whole prior), ridge-penalized; degree and penalty are chosen *per summary* by the exact LOO
  error of a linear smoother, ``r_i / (1 - h_ii)``, computed for a whole grid of penalties from one
  eigendecomposition of the Gram matrix. A degree is a candidate only with at least
  ``min_points_per_feature`` simulations per coefficient.
* Variance: the LOO residuals are genuine out-of-sample prediction errors, so their squares measure
  *simulation noise + emulator error* together: exactly the variance the likelihood needs. Their
  log is regressed on a polynomial of degree 0 (a constant), 1 or 2, chosen by LOO (``log r^2`` is
  so noisy, sd 2.2, that spurious heteroscedasticity is the main risk with a few hundred runs, and
  it distorts the posterior's tails), exponentiated, and rescaled so
  that the mean of ``r^2 / v`` on the training set is 1 (this absorbs the ``E log chi^2`` bias
  without assuming Gaussian residuals). The variance is clipped to the range it took on the
  training set (x4 above): it never shrinks when extrapolating.
* Summaries with NaN: each summary is fitted on its finite runs (summaries sharing a missingness
  pattern share one decomposition); a summary with fewer than ``min_finite`` finite runs is not
  emulated (mean NaN), and the engine drops records that need it, saying so.

Why not the alternatives. A Gaussian process on 10,000 points is O(n^3) and its predictive variance
at 1e5 points is O(n^2) each; on local subsets it is still minutes per wave for 30 outputs on one
core. An ensemble of MLPs takes tens of seconds per member, needs a separate variance model, and its
ensemble spread is not a calibrated error. History matching shrinks the region wave by wave, so the
response is locally smooth and a Taylor-like quadratic/cubic fits it well there; LOO makes its own
error honest where it does not. The cost: a 20-parameter cubic (1,771 coefficients) on 10,000 runs
fits in seconds, and 1e5 predictions take about a second (see benchmarks/bench_inference.py).
Persisted as plain arrays (``.npz``), not pickles, so a run directory survives a package move.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

from ..io import write_npz

ALPHA_GRID = np.array([1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0])


def n_features(p: int, degree: int) -> int:
    """Number of monomials of degree 1..degree in p variables (no intercept)."""
    return math.comb(p + degree, degree) - 1


class _Poly:
    """Monomials of standardized inputs up to a degree (no intercept column)."""

    def __init__(self, p: int, degree: int):
        self.p, self.degree = p, degree
        self.combos = [c for d in range(1, degree + 1) for c in itertools.combinations_with_replacement(range(p), d)]
        self.idx2 = np.array([c for c in self.combos if len(c) == 2], int).reshape(-1, 2)
        self.idx3 = np.array([c for c in self.combos if len(c) == 3], int).reshape(-1, 3)

    @property
    def n(self) -> int:
        return len(self.combos)

    def __call__(self, X: np.ndarray) -> np.ndarray:
        parts = [X]
        if self.degree >= 2:
            parts.append(X[:, self.idx2[:, 0]] * X[:, self.idx2[:, 1]])
        if self.degree >= 3:
            parts.append(X[:, self.idx3[:, 0]] * X[:, self.idx3[:, 1]] * X[:, self.idx3[:, 2]])
        return np.concatenate(parts, axis=1) if len(parts) > 1 else X


def _ridge_loo(F: np.ndarray, Y: np.ndarray, alphas=ALPHA_GRID):
    """Ridge with an unpenalized intercept for every column of Y on features F; exact LOO per alpha.

    Returns (best_alpha_index [m], loo_mse [m], coef [F x m], intercept [m], loo_resid [n x m]).
    """
    n = F.shape[0]
    fm = F.mean(0)
    Fc = F - fm
    ym = Y.mean(0)
    Yc = Y - ym
    G = Fc.T @ Fc
    lam, Vec = np.linalg.eigh(G)
    lam = np.maximum(lam, 0.0)
    Q = Fc @ Vec
    Z = Q.T @ Yc
    Q2 = Q * Q
    scale = max(float(lam.mean()), 1e-12)
    m = Y.shape[1]
    best = np.full(m, np.inf)
    best_a = np.zeros(m, int)
    best_res = np.zeros_like(Y)
    for ia, a in enumerate(alphas * scale):
        D = 1.0 / (lam + a)
        h = 1.0 / n + Q2 @ D
        fit = Q @ (D[:, None] * Z)
        res = (Yc - fit) / np.maximum(1.0 - h, 1e-6)[:, None]
        mse = (res * res).mean(0)
        better = mse < best * (1 - 1e-9)
        if better.any():
            best[better] = mse[better]
            best_a[better] = ia
            best_res[:, better] = res[:, better]
    D_best = 1.0 / (lam[:, None] + alphas[best_a][None, :] * scale)
    coef = Vec @ (D_best * Z)
    intercept = ym - fm @ coef
    return best_a, best, coef, intercept, best_res


@dataclass
class SummaryFit:
    """Per-summary fit diagnostics (JSON-able via dict())."""

    emulated: bool
    n: int
    degree: int
    alpha: float
    loo_rmse: float
    sd_y: float
    r2_loo: float
    var_degree: int


class PolyEmulator:
    """Heteroscedastic polynomial ridge emulator (see module docstring).

    ``fit(U, Y)`` with ``U`` [n x p] in the unit cube and ``Y`` [n x m] transformed summaries (NaN
    allowed); ``predict(U)`` returns ``(mean, var)``, each [n x m], where ``var`` is the predictive
    variance of a *new simulation* at ``U`` (simulation noise + emulator error).
    """

    def __init__(
        self,
        max_degree: int = 3,
        min_points_per_feature: float = 2.0,
        max_var_degree: int = 2,
        min_finite: int = 30,
        max_features: int = 2500,
    ):
        # (see the module docstring: the variance model is chosen among degrees 0..max_var_degree by LOO)
        self.max_degree = int(max_degree)
        self.min_ppf = float(min_points_per_feature)
        self.max_var_degree = int(max_var_degree)
        self.min_finite = int(min_finite)
        self.max_features = int(max_features)

    # -- fitting
    def _degree_candidates(self, n: int, p: int, cap: int) -> list[int]:
        out = [
            d for d in range(1, cap + 1) if n >= self.min_ppf * (n_features(p, d) + 1) and n_features(p, d) <= self.max_features
        ]
        return out or [1]

    def fit(self, U: np.ndarray, Y: np.ndarray) -> PolyEmulator:
        U = np.asarray(U, float)
        Y = np.asarray(Y, float)
        n, p = U.shape
        m = Y.shape[1]
        self.p, self.m = p, m
        self.x_mean = U.mean(0)
        self.x_sd = np.maximum(U.std(0), 1e-9)
        X = (U - self.x_mean) / self.x_sd
        deg_max = self.max_degree
        self._allocate(p, m)
        finite = np.isfinite(Y)
        # group summaries by missingness pattern (most runs are complete: usually one group)
        patterns: dict[bytes, list[int]] = {}
        for j in range(m):
            patterns.setdefault(np.packbits(finite[:, j]).tobytes(), []).append(j)
        polys = {d: _Poly(p, d) for d in range(1, max(deg_max, self.max_var_degree) + 1)}
        first = True
        for cols in sorted(patterns.values(), key=len, reverse=True):
            rows = finite[:, cols[0]]
            nr = int(rows.sum())
            if nr < self.min_finite:
                for j in cols:
                    self.fits[j] = SummaryFit(False, nr, 0, 0.0, math.nan, math.nan, math.nan, 0)
                continue
            # the largest missingness group may use the cubic; others at most quadratic (cost)
            cap = deg_max if first else min(deg_max, 2)
            first = False
            self._fit_group(X[rows], Y[np.ix_(rows, cols)], cols, polys, cap)
        return self

    def _allocate(self, p: int, m: int) -> None:
        self.mean_degree = np.zeros(m, int)
        self.var_degree = np.zeros(m, int)
        self.emulated = np.zeros(m, bool)
        self.y_mean = np.zeros(m)
        self.y_sd = np.ones(m)
        nf_max = n_features(p, self.max_degree)
        nf_var = n_features(p, self.max_var_degree)
        self.coef = np.zeros((nf_max, m))
        self.intercept = np.full(m, np.nan)
        self.vcoef = np.zeros((nf_var, m))
        self.vintercept = np.zeros(m)
        self.vscale = np.ones(m)
        self.g_lo = np.zeros(m)
        self.g_hi = np.zeros(m)
        self.v_floor = np.zeros(m)
        self.fits: list[SummaryFit] = [None] * m  # type: ignore

    def _fit_group(self, Xr: np.ndarray, Yr: np.ndarray, cols: list[int], polys: dict, cap: int) -> None:
        """Mean and variance models of the summaries ``cols``, which share their finite runs."""
        nr, p = Xr.shape
        mu = Yr.mean(0)
        sd = Yr.std(0)
        sd = np.where(sd > 1e-12 * np.maximum(1.0, np.abs(mu)), sd, 1.0)
        Ys = (Yr - mu) / sd
        best_mse, best = self._select_mean(Xr, Ys, cols, polys, cap)
        vbest = self._select_variance(Xr, np.column_stack([best[j][4] for j in cols]), cols, polys)
        for k, j in enumerate(cols):
            d, alpha, coef, icpt, res = best[j]
            vd, vc, vi, Fv = vbest[j]
            self.emulated[j] = True
            self.mean_degree[j] = d
            self.y_mean[j], self.y_sd[j] = mu[k], sd[k]
            nf = n_features(p, d)
            self.coef[:nf, j] = coef
            self.intercept[j] = icpt
            g = Fv @ vc + vi
            r2 = res * res
            scale = float(r2.mean() / np.exp(g).mean()) if np.exp(g).mean() > 0 else 1.0
            self.var_degree[j] = vd
            self.vcoef[: n_features(p, vd), j] = vc
            self.vintercept[j] = vi
            self.vscale[j] = max(scale, 1e-300)
            self.g_lo[j] = float(g.min())
            self.g_hi[j] = float(g.max()) + math.log(4.0)
            self.v_floor[j] = 1e-12
            sdy_raw = float(Yr[:, k].std())
            loo_rmse = float(math.sqrt(best_mse[k])) * sd[k]
            r2loo = 1.0 - best_mse[k] if sdy_raw > 0 else math.nan
            self.fits[j] = SummaryFit(True, nr, int(d), float(alpha), loo_rmse, sdy_raw, float(r2loo), int(vd))

    def _select_mean(self, Xr, Ys, cols, polys, cap) -> tuple[np.ndarray, dict]:
        """Per summary, the degree and ridge penalty of least LOO error: ``{j: (degree, alpha, coef,
        intercept, LOO residuals)}`` and the LOO mean squared errors (standardized scale)."""
        nr, p = Xr.shape
        best_mse = np.full(len(cols), np.inf)
        best = {}
        for d in self._degree_candidates(nr, p, cap):
            F = polys[d](Xr)
            ia, mse, coef, icpt, res = _ridge_loo(F, Ys)
            for k, j in enumerate(cols):
                if mse[k] < best_mse[k] * (1 - 1e-9):
                    best_mse[k] = mse[k]
                    best[j] = (d, ALPHA_GRID[ia[k]], coef[:, k], icpt[k], res[:, k])
        return best_mse, best

    def _select_variance(self, Xr, R, cols, polys) -> dict:
        """Variance model on log squared LOO residuals ``R``: ``{j: (degree, coef, intercept, features)}``."""
        nr, p = Xr.shape
        vdeg_c = [
            d
            for d in self._degree_candidates(nr, p, self.max_var_degree)
            if n_features(p, d) * 4 <= nr and d <= self.max_var_degree
        ]
        tiny = 1e-10
        T = np.log(R * R + tiny)
        # degree 0 (a constant variance) is always a candidate: log r^2 has an sd of 2.2 even for
        # Gaussian residuals, so a heteroscedastic model must earn its place by LOO
        tm = T.mean(0)
        vbest_mse = (((T - tm) * nr / (nr - 1)) ** 2).mean(0)
        vbest = {j: (0, np.zeros(0), tm[k], np.zeros((nr, 0))) for k, j in enumerate(cols)}
        for d in vdeg_c:
            F = polys[d](Xr)
            ia, mse, coef, icpt, _ = _ridge_loo(F, T)
            for k, j in enumerate(cols):
                if mse[k] < vbest_mse[k] * (1 - 1e-9):
                    vbest_mse[k] = mse[k]
                    vbest[j] = (d, coef[:, k], icpt[k], F)
        return vbest

    # -- prediction
    def predict(self, U: np.ndarray, chunk: int = 10000) -> tuple[np.ndarray, np.ndarray]:
        U = np.atleast_2d(np.asarray(U, float))
        n = U.shape[0]
        M = np.empty((n, self.m))
        V = np.empty((n, self.m))
        dmax = int(self.mean_degree.max(initial=1))
        vmax = int(self.var_degree.max(initial=0))
        pm = _Poly(self.p, max(dmax, 1))
        pv_deg = max(vmax, 1)
        nfm = n_features(self.p, max(dmax, 1))
        nfv = n_features(self.p, pv_deg)
        for s in range(0, n, chunk):
            X = (U[s : s + chunk] - self.x_mean) / self.x_sd
            F = pm(X)
            M[s : s + chunk] = (F @ self.coef[:nfm] + self.intercept) * self.y_sd + self.y_mean
            Fv = F[:, :nfv] if pv_deg <= dmax else _Poly(self.p, pv_deg)(X)
            g = Fv @ self.vcoef[:nfv] + self.vintercept
            g = np.clip(g, self.g_lo, self.g_hi)
            V[s : s + chunk] = np.maximum(np.exp(g) * self.vscale * self.y_sd**2, self.v_floor)
        M[:, ~self.emulated] = np.nan
        V[:, ~self.emulated] = np.nan
        return M, V

    def diagnostics(self, names: list[str] | None = None) -> list[dict]:
        names = names or [f"y{j}" for j in range(self.m)]
        return [{"summary": nm, **f.__dict__} for nm, f in zip(names, self.fits, strict=False)]

    # -- persistence (plain arrays)
    _ARRAYS = (
        "x_mean",
        "x_sd",
        "mean_degree",
        "var_degree",
        "emulated",
        "y_mean",
        "y_sd",
        "coef",
        "intercept",
        "vcoef",
        "vintercept",
        "vscale",
        "g_lo",
        "g_hi",
        "v_floor",
    )

    def save(self, path) -> None:
        fits = np.array(
            [[f.emulated, f.n, f.degree, f.alpha, f.loo_rmse, f.sd_y, f.r2_loo, f.var_degree] for f in self.fits], float
        )
        write_npz(
            path,
            p=self.p,
            m=self.m,
            settings=np.array([self.max_degree, self.min_ppf, self.max_var_degree, self.min_finite, self.max_features], float),
            fits=fits,
            **{k: getattr(self, k) for k in self._ARRAYS},
        )

    @classmethod
    def load(cls, path) -> PolyEmulator:
        z = np.load(path)
        st = z["settings"]
        e = cls(int(st[0]), float(st[1]), int(st[2]), int(st[3]), int(st[4]))
        e.p, e.m = int(z["p"]), int(z["m"])
        for k in cls._ARRAYS:
            setattr(e, k, z[k])
        e.fits = [
            SummaryFit(bool(r[0]), int(r[1]), int(r[2]), float(r[3]), float(r[4]), float(r[5]), float(r[6]), int(r[7]))
            for r in z["fits"]
        ]
        return e
