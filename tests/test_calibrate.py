"""Calibration end to end: a tiny history-matching run writes every output, is reproducible, resumes
after a kill without repeating a simulation, runs on dask; its configuration is checked; the
simulator's summaries are the fit report's numbers."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from bordersim.archive.extract import FlowIndex, TargetReader
from bordersim.archive.targets import load_targets
from bordersim.errors import ScenarioError
from bordersim.experiments.calibration.config import load_config
from bordersim.experiments.calibration.run import calibrate, calibrate_out_of_sample
from bordersim.experiments.calibration.setup import setup
from bordersim.model.model import BorderModel
from bordersim.world.loader import validate_scenario

from .conftest import ROOT, small_scenario_dict

FIT = [
    "lishu_1960_11_household_requests",
    "lishu_1960_12_household_requests",
    "lishu_1961_01_household_requests",
    "lishu_1961_01_household_share_rumour",
]


def tiny_config(tmp_path: Path, waves=2, n0=40, n_wave=20, **extra) -> Path:
    d = small_scenario_dict(end="1961-03-31")
    d["population"].update({"yanbian_persons": 6000, "liaoning_persons": {"andong": 1000}, "tonghua_persons": {"jian": 500}})
    (tmp_path / "scenario.yaml").write_text(yaml.safe_dump(d, sort_keys=False))
    cfg = {
        "scenario": "scenario.yaml",
        "targets": FIT,
        "scale": 1.0,
        "seed": 5,
        "run_dir": "run",
        "design": {"n0": n0, "n_wave": n_wave, "batch_size": 10, "replicate_fraction": 0.1},
        "budget": {"max_waves": waves, "max_simulations": 400, "max_wall_minutes": 5},
        "posterior_predictive": {"replicates": 2, "scale": 1.0},
        "parameters": {
            "rate_food_kin": {"path": "parameters.rate_food_kin", "dist": "loguniform", "low": 0.005, "high": 0.05},
            "lishu": {"path": "world.propensity[0].value", "dist": "uniform", "low": 1.0, "high": 10.0},
        },
    }
    cfg.update(extra)
    p = tmp_path / "calibrate.yaml"
    p.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return p


def simulations(run_dir: Path) -> pd.DataFrame:
    frames = [pd.read_parquet(f) for f in sorted(run_dir.glob("wave_*/batch_*.parquet"))]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["wave", "index"])


def test_config_errors(tmp_path):
    p = tiny_config(tmp_path)
    cfg = yaml.safe_load(p.read_text())
    cfg["parameters"]["bad"] = {"path": "parameters.rate_rumor", "dist": "uniform", "low": 0, "high": 1}
    p.write_text(yaml.safe_dump(cfg))
    with pytest.raises(ScenarioError) as e:
        setup(p)
    assert "rate_rumor" in str(e.value)
    # A prior whose upper end is not a valid value of its field (a probability above 1).
    cfg["parameters"]["bad"] = {"path": "parameters.p_illegal", "dist": "uniform", "low": 0.1, "high": 1.5}
    p.write_text(yaml.safe_dump(cfg))
    with pytest.raises(ScenarioError) as e:
        setup(p)
    assert "high end" in str(e.value) and "p_illegal" in str(e.value)
    cfg["parameters"].pop("bad")
    cfg["targets"] = ["lishu_1961_02_household_requests"]  # withheld: validation only
    p.write_text(yaml.safe_dump(cfg))
    with pytest.raises(ScenarioError) as e:
        setup(p)
    assert "validation figures are never fitted" in str(e.value)
    cfg["targets"] = FIT
    cfg["parameters"]["x"] = {"path": "parameters.p_illegal", "dist": "loguniform", "low": 0.0, "high": 1.0}
    p.write_text(yaml.safe_dump(cfg))
    with pytest.raises(ScenarioError) as e:
        load_config(p)
    assert "loguniform prior needs low > 0" in str(e.value)


def test_documented_config_frees_the_parameters_once_set_from_the_archive():
    s = setup(ROOT / "calibration" / "calibrate.yaml")
    names = set(s.cfg.parameters)
    for freed in (
        "letter_rate",
        "p_apply_on_letter",
        "legal_approval_prob",
        "corpse_identify_prob",
        "p_sell_property",
        "nk_drownings_per_year",
        "send_back_prob",
    ):
        assert freed in names, freed
    assert all(p.why for p in s.cfg.parameters.values())
    assert {t.role for t in s.targets} == {"calibration"} and len(s.targets) >= 30
    # Levers calibrated for 1961 practice are written for that rule set only, not for every regime.
    assert s.cfg.parameters["legal_approval_prob"].path.startswith("rule_set_overrides.practice_1961.")


def test_simulator_summaries_are_the_fit_reports_numbers(tmp_path):
    """The calibration reads each target from the recorder's array; the fit report from flows.csv: the same."""
    targets = [t for t in load_targets(ROOT / "calibration" / "targets.yaml") if t.role == "calibration"]
    d = small_scenario_dict(end="1962-03-31")
    d.pop("targets")
    sc = validate_scenario(d, tmp_path / "x.yaml")
    model = BorderModel(sc, rng=np.random.default_rng(3)).run()
    from_array = TargetReader(targets, model.tree, model.recorder.months).values(model.recorder.data)
    from_table = np.array([FlowIndex(model.recorder.table(model.tree, 0)).value(t)[0] for t in targets])
    np.testing.assert_allclose(from_array, from_table, rtol=1e-6, atol=2e-3, equal_nan=True)


def test_a_simulation_without_the_northward_direction_gives_the_full_models_summaries(tmp_path):
    """The calibration skips the northward direction (no target reads it); its summaries must be the full model's."""
    s = setup(tiny_config(tmp_path))
    sim, theta, seed = s.simulator, np.array([0.02, 5.0]), np.random.SeedSequence(11)
    full = BorderModel(sim.scenario({"rate_food_kin": 0.02, "lishu": 5.0}), rng=seed).run()
    assert full.north.hh.n > 0  # the tiny scenario has people on the DPRK side
    want = TargetReader(sim.targets, full.tree, full.recorder.months).values(full.recorder.data)
    np.testing.assert_array_equal(sim.one(theta, seed), want)


def test_tiny_calibration_writes_everything_and_is_reproducible(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    info = calibrate(tiny_config(a), workers=2)
    assert info["waves"] == 2 and info["stop_reason"] in {"max_waves", "converged"}
    for f in (
        "posterior.parquet",
        "posterior_summary.csv",
        "calibration_run.json",
        "calibration.md",
        "posterior_marginals.png",
        "posterior_correlations.png",
        "waves.png",
        "pit.png",
        "ppc/fit.md",
        "ppc/fit.csv",
    ):
        assert (a / f).stat().st_size > 0, f
    post = pd.read_parquet(a / "posterior.parquet")
    assert set(post.columns) == {"generation", "weight", "parameters.rate_food_kin", "world.propensity[0].value"}
    assert len(post) >= 1000 and post["parameters.rate_food_kin"].between(0.005, 0.05).all()
    summ = pd.read_csv(a / "posterior_summary.csv")
    assert list(summ.parameter) == ["rate_food_kin", "lishu"]
    assert ((summ.q05 <= summ["median"]) & (summ["median"] <= summ.q95)).all()
    assert summ.width90_over_prior.between(0, 1).all()
    fit = pd.read_csv(a / "ppc" / "fit.csv")
    assert {"calibration", "validation"} <= set(fit.role)
    md = (a / "calibration.md").read_text()
    assert "Stopped:" in md and "effective sample size" in md and "90% width / observed" in md
    # The same seed gives the same posterior, whatever the number of workers.
    calibrate(tiny_config(b), workers=1, validate=False)
    pd.testing.assert_frame_equal(post, pd.read_parquet(b / "posterior.parquet"))
    # An existing run: refused without --resume or --force.
    with pytest.raises(FileExistsError):
        calibrate(tiny_config(a), workers=1, validate=False)


def test_resume_after_kill_repeats_no_simulation(tmp_path):
    p = tiny_config(tmp_path, waves=2)  # killed in wave 0: resumed there, then a wave fitted on the resumed one
    proc = subprocess.Popen(
        [sys.executable, "-m", "bordersim.cli", "calibrate", str(p), "--workers", "1", "--no-checks"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    run = tmp_path / "run" / "wave0"
    deadline = time.time() + 240
    try:
        while time.time() < deadline and proc.poll() is None:
            if len(list(run.glob("wave_0/batch_*.parquet"))) >= 2:  # killed in the middle of wave 0
                break
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    before = simulations(run)
    assert 0 < len(before) < 40 + 20 * 2
    calibrate(p, resume=True, workers=1, validate=False)
    after = simulations(run)
    assert not after.duplicated(["wave", "index"]).any()  # every simulation exactly once
    kept = before.merge(after, on=["wave", "index"], suffixes=("_before", "_after"))
    assert len(kept) == len(before)  # what was on disk before the kill was kept, not recomputed
    assert (kept.batch_seconds_before == kept.batch_seconds_after).all()
    # And the result is that of an uninterrupted run.
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    calibrate(tiny_config(fresh, waves=2), workers=1, validate=False)
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "posterior.parquet"), pd.read_parquet(fresh / "posterior.parquet"))


def test_calibration_on_a_dask_local_cluster(tmp_path):
    pytest.importorskip("distributed")
    info = calibrate(tiny_config(tmp_path, waves=1), local_cluster=2, validate=False)
    assert info["waves"] == 1 and (tmp_path / "posterior.parquet").exists()


def test_leave_one_out_predicts_the_held_out_group(tmp_path):
    targets = FIT + ["yanbian_1961_authorization_letters"]
    p = tiny_config(
        tmp_path,
        waves=1,
        targets=targets,
        leave_one_out={"groups": ["doc4_lishu"], "replicates": 2, "scale": 1.0, "n_wave": 20, "max_waves": 1},
    )
    calibrate(p, workers=2, validate=False)
    calibrate_out_of_sample(p, workers=2)
    loo = pd.read_csv(tmp_path / "loo" / "loo.csv")
    assert list(loo.group) == ["doc4_lishu"] and loo.held_out_n.iloc[0] > 0
    held = pd.read_csv(tmp_path / "loo" / "doc4_lishu" / "run" / "fit.csv")
    assert set(FIT) <= set(held.id)
    assert "leave one source out" in (tmp_path / "calibration.md").read_text()
