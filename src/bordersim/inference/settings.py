"""The settings of a calibration run, the default implausibility cutoff, and the random streams.

Every random number of a run comes from ``SeedSequence([seed, wave, tag])``: a stream per wave and
purpose (the tags below), and simulation ``i`` of wave ``k`` gets ``SeedSequence([seed, k, i])``
(:func:`sim_seed`). So a run is reproducible from its seed and settings, and a resumed run draws
exactly what an uninterrupted one would have.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass

import numpy as np
from scipy.stats import norm, qmc

#: random stream tags of SeedSequence([seed, wave, tag])
STREAM_DESIGN, STREAM_POOL, STREAM_MCMC, STREAM_POOL_MCMC, STREAM_INIT = 1, 2, 3, 4, 5


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


def default_cutoff(n_records: int) -> float:
    return float(norm.isf(0.0027 / (2.0 * max(n_records, 1))))


def rng_stream(seed: int, wave: int, tag: int) -> np.random.Generator:
    """The generator of stream ``tag`` of wave ``wave``."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), int(wave), int(tag)]))


def sim_seed(seed: int, wave: int, index: int) -> np.random.SeedSequence:
    """The seed of simulation ``index`` of wave ``wave``."""
    return np.random.SeedSequence([int(seed), int(wave), int(index)])


def sobol(p: int, n: int, rng) -> np.ndarray:
    """``n`` points of a scrambled Sobol sequence in the unit cube of dimension ``p``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # n need not be a power of two
        return qmc.Sobol(d=p, scramble=True, seed=rng).random(n)
