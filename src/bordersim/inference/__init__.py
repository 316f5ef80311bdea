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

import importlib

#: Public name -> the submodule that defines it. Submodules are imported on first use (PEP 562), so that
#: importing the observation model (:mod:`.records`) does not load the engine, scipy.stats and the sampler.
_EXPORTS = {
    "PolyEmulator": "emulator",
    "CalibrationResult": "engine",
    "Settings": "engine",
    "calibrate": "engine",
    "default_cutoff": "engine",
    "import_wave0": "engine",
    "run_wave0": "engine",
    "sim_seed": "engine",
    "summary_table": "engine",
    "ess": "mcmc",
    "sample": "mcmc",
    "split_rhat": "mcmc",
    "Param": "params",
    "ParamSpace": "params",
    "predict_records": "predict",
    "CountInterval": "records",
    "ExactCount": "records",
    "ExactShare": "records",
    "ExactValue": "records",
    "LowerBound": "records",
    "Record": "records",
    "RecordSet": "records",
    "ShareInterval": "records",
    "Undercount": "records",
    "log_diff_ndtr": "records",
    "log_uniform_moments": "records",
    "Summary": "summaries",
    "SBCResult": "validation",
    "leave_one_group_out": "validation",
    "sbc": "validation",
}
__all__ = list(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    globals()[name] = value  # the next look-up is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
