"""A generic inference engine: history matching in waves with an emulator, and a Gaussian
synthetic likelihood sampled by MCMC on the emulator.

Nothing here imports the rest of bordersim: the caller supplies parameters, summaries (with their
transforms), archival records (the observation model) and a batch simulator.

    from bordersim.inference import Param, Summary, Undercount, ExactShare, calibrate, Settings

    params = [Param("detection_base", 0.05, 0.6), Param("letter_rate", 1e-3, 1e-1, log=True)]
    summaries = [Summary("jilin_1961_discovered", "log1p"), Summary("lishu_share_food_kin", "logit")]
    records = [Undercount("doc6_discovered", "jilin_1961_discovered", 28028, f_low=0.8, f_high=1.0, cv=0.02, group="doc6"),
               ExactShare("lishu_food_kin", "lishu_share_food_kin", 0.523, sd=0.05, group="lishu")]

    def simulate(thetas, seeds):          # [n x p] natural scale, n SeedSequences -> [n x m]
        return np.array([run_model(t, s) for t, s in zip(thetas, seeds)])

    res = calibrate(params, summaries, records, simulate, "calibration/run", seed=1961,
                    settings=Settings(n0=1500, n_wave=500), executor=None)
    res.posterior        # generation, weight, one column per parameter (natural scale)
    res.summary          # median, 50% and 90% intervals, 90% width / prior width
    res.report           # JSON-able: stop reason, waves, MCMC diagnostics, correlations, record fit

Modules: :mod:`.params`, :mod:`.summaries`, :mod:`.records` (observation model),
:mod:`.emulator`, :mod:`.mcmc`, :mod:`.engine` (the entry points; the waves in :mod:`.waves`,
:mod:`.analysis`, :mod:`.nroy`, :mod:`.report`, the settings in :mod:`.settings`), :mod:`.store`
(run directory), :mod:`.validation` (posterior predictive, SBC, leave-one-group-out).
"""

from .emulator import PolyEmulator
from .engine import CalibrationResult, Settings, calibrate, default_cutoff, import_wave0, run_wave0, sim_seed, summary_table
from .mcmc import ess, sample, split_rhat
from .params import Param, ParamSpace
from .predict import predict_records
from .records import (
    CountInterval,
    ExactCount,
    ExactShare,
    ExactValue,
    LowerBound,
    Record,
    RecordSet,
    ShareInterval,
    Undercount,
    log_diff_ndtr,
    log_uniform_moments,
)
from .summaries import Summary
from .validation import SBCResult, leave_one_group_out, sbc

__all__ = [
    "Param",
    "ParamSpace",
    "Summary",
    "Record",
    "RecordSet",
    "ExactCount",
    "Undercount",
    "CountInterval",
    "LowerBound",
    "ExactShare",
    "ShareInterval",
    "ExactValue",
    "log_diff_ndtr",
    "log_uniform_moments",
    "PolyEmulator",
    "sample",
    "ess",
    "split_rhat",
    "Settings",
    "calibrate",
    "CalibrationResult",
    "run_wave0",
    "import_wave0",
    "sim_seed",
    "summary_table",
    "default_cutoff",
    "predict_records",
    "sbc",
    "SBCResult",
    "leave_one_group_out",
]
