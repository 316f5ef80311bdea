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

Where the code is, along the data flow: :mod:`.settings` (the settings, the cutoff, the random
streams); :mod:`.waves` (the wave loop: designs, simulations, the stop rules); :mod:`.analysis` (one
wave: training set, emulator, its out-of-sample check, posterior MCMC, convergence test);
:mod:`.nroy` (the cascade of emulators, history matching with subset simulation, pool refills);
:mod:`.report` (the posterior, its summary and the run report). This module holds the entry points.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ..io import write_text
from .emulator import PolyEmulator
from .params import Param, ParamSpace
from .records import Record, RecordSet
from .report import CalibrationResult, summary_table
from .settings import Settings, default_cutoff, sim_seed
from .store import RunStore
from .summaries import Summary
from .waves import _Run

#: the entry points, the types they take and return, and (importable from here as before) the emulator class
__all__ = [
    "Settings",
    "CalibrationResult",
    "calibrate",
    "run_wave0",
    "import_wave0",
    "sim_seed",
    "default_cutoff",
    "summary_table",
    "PolyEmulator",
    "Simulate",
]

Simulate = Callable[[np.ndarray, list], np.ndarray]


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
