"""Calibration with pyabc: a tiny ABC-SMC run end to end, resumable, reproducible, and on dask."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest
import yaml

from bordersim.archive.targets import load_targets
from bordersim.errors import ScenarioError
from bordersim.experiments.calibration.config import load_config
from bordersim.experiments.calibration.distance import ObservationDistance
from bordersim.experiments.calibration.run import calibrate, setup
from bordersim.experiments.calibration.simulator import particle_seed

from .conftest import ROOT, small_scenario_dict

pytest.importorskip("pyabc")

FIT = [
    "lishu_1960_11_household_requests",
    "lishu_1960_12_household_requests",
    "lishu_1961_01_household_requests",
    "lishu_1961_01_household_share_rumour",
]


def tiny_config(tmp_path, generations=2, population=4, **extra) -> os.PathLike:
    d = small_scenario_dict(end="1961-03-31")
    d["population"].update({"yanbian_persons": 6000, "liaoning_persons": {"andong": 1000}, "tonghua_persons": {"jian": 500}})
    (tmp_path / "scenario.yaml").write_text(yaml.safe_dump(d, sort_keys=False))
    cfg = {
        "scenario": "scenario.yaml",
        "targets": FIT,
        "population_size": population,
        "scale": 1.0,
        "seed": 5,
        "database": "abc.db",
        "stopping": {"max_generations": generations, "max_simulations": 400, "max_walltime_minutes": 5, "min_epsilon": 0.0},
        "posterior_predictive": {"replicates": 2, "scale": 1.0},
        "parameters": {
            "rate_food_kin": {"path": "parameters.rate_food_kin", "dist": "loguniform", "low": 0.005, "high": 0.05},
            "lishu": {"path": "world.propensity[0].value", "dist": "uniform", "low": 1.0, "high": 10.0},
        },
    }
    cfg.update(extra)
    p = tmp_path / "abc.yaml"
    p.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return p


def generations(db) -> list[int]:
    with sqlite3.connect(db) as con:
        return [r[0] for r in con.execute("SELECT t FROM populations WHERE t >= 0 ORDER BY t")]


def test_distance_hand_computed():
    targets = {t.id: t for t in load_targets(ROOT / "calibration" / "targets.yaml")}
    d = ObservationDistance([targets["lishu_1961_01_household_requests"]], dispersion=20)
    # exact count 63: log(sim + 1) - log(64), over sqrt(1/20 + 1/64)
    z = (np.log(127) - np.log(64)) / np.sqrt(1 / 20 + 1 / 64)
    assert d({"lishu_1961_01_household_requests": 126.0}) == pytest.approx(abs(z))
    iv = ObservationDistance([targets["yanbian_1961_legal_applications"]], 20)  # interval 1,778-1,788
    assert iv({"yanbian_1961_legal_applications": 1780.0}) == 0.0
    share = ObservationDistance([targets["lishu_1961_01_household_share_rumour"]], 20)
    p, n = targets["lishu_1961_01_household_share_rumour"].value, 63
    assert share({"lishu_1961_01_household_share_rumour": 0.4}) == pytest.approx(abs(0.4 - p) / np.sqrt(p * (1 - p) / n))
    und = ObservationDistance([targets["jilin_1961_discovered"]], 20)  # undercount prior 0.74-1.0
    assert und({"jilin_1961_discovered": 28028 / 0.87}) == pytest.approx(0.0, abs=1e-9)
    zu = (np.log(28028 / 0.6 * 0.87 + 1) - np.log(28029)) / (np.sqrt(1 / 20 + 1 / 28029) + 0.5 * np.log(1 / 0.74))
    assert und({"jilin_1961_discovered": 28028 / 0.6}) == pytest.approx(abs(zu))


def test_particle_seed_depends_only_on_seed_and_values():
    a = particle_seed(1, {"x": 0.1, "y": 2.0}).generate_state(4)
    b = particle_seed(1, {"y": 2.0, "x": 0.1}).generate_state(4)
    c = particle_seed(1, {"x": 0.1000001, "y": 2.0}).generate_state(4)
    assert (a == b).all() and not (a == c).all()


def test_config_errors(tmp_path):
    p = tiny_config(tmp_path)
    cfg = yaml.safe_load(p.read_text())
    cfg["parameters"]["bad"] = {"path": "parameters.rate_rumor", "dist": "uniform", "low": 0, "high": 1}
    p.write_text(yaml.safe_dump(cfg))
    with pytest.raises(ScenarioError) as e:
        setup(p)
    assert "rate_rumor" in str(e.value)
    cfg["parameters"].pop("bad")
    cfg["targets"] = ["lishu_1961_02_household_requests"]  # withheld: validation only
    p.write_text(yaml.safe_dump(cfg))
    with pytest.raises(ScenarioError) as e:
        setup(p)
    assert "validation figures are never fitted" in str(e.value)


def test_tiny_calibration_writes_everything(tmp_path):
    p = tiny_config(tmp_path)
    info = calibrate(p, workers=2)
    assert info["generations"] == 2 and info["accepted_particles_final"] == 4
    for f in (
        "posterior.parquet",
        "posterior_summary.csv",
        "posterior_marginals.png",
        "posterior_pairs.png",
        "epsilon_by_generation.png",
        "calibration_run.json",
        "ppc/fit.md",
        "ppc/fit.csv",
    ):
        assert (tmp_path / f).exists(), f
    post = pd.read_parquet(tmp_path / "posterior.parquet")
    assert set(post.columns) == {"generation", "weight", "parameters.rate_food_kin", "world.propensity[0].value"}
    assert post.generation.max() == 1 and post["parameters.rate_food_kin"].between(0.005, 0.05).all()
    summ = pd.read_csv(tmp_path / "posterior_summary.csv")
    assert list(summ.parameter) == ["rate_food_kin", "lishu"]
    assert (summ.ci90_low <= summ["median"]).all() and (summ["median"] <= summ.ci90_high).all()
    fit = pd.read_csv(tmp_path / "ppc" / "fit.csv")
    assert {"calibration", "validation"} <= set(fit.role)
    # Existing database: refuse to overwrite without --resume or --force.
    with pytest.raises(FileExistsError):
        calibrate(p, workers=1, ppc=False)


def test_single_core_with_seed_is_reproducible(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    calibrate(tiny_config(a), single_core=True, ppc=False)
    calibrate(tiny_config(b), single_core=True, ppc=False)
    pa, pb = pd.read_parquet(a / "posterior.parquet"), pd.read_parquet(b / "posterior.parquet")
    pd.testing.assert_frame_equal(pa, pb)


def test_resume_after_kill_does_not_repeat_generations(tmp_path):
    p = tiny_config(tmp_path, generations=3)
    env = dict(os.environ)
    proc = subprocess.Popen(
        [sys.executable, "-m", "bordersim.cli", "calibrate", str(p), "--single-core", "--no-ppc"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    db = tmp_path / "abc.db"
    deadline = time.time() + 240
    try:
        while time.time() < deadline:
            if db.exists():
                try:
                    if len(generations(db)) >= 1:
                        break
                except sqlite3.Error:
                    pass
            if proc.poll() is not None:
                break
            time.sleep(0.2)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    done = generations(db)
    assert 1 <= len(done) <= 3
    calibrate(p, resume=True, single_core=True, ppc=False)
    after = generations(db)
    assert after == list(range(3))  # every generation exactly once
    post = pd.read_parquet(tmp_path / "posterior.parquet")
    assert sorted(post.generation.unique()) == [0, 1, 2]


def test_calibration_on_a_dask_local_cluster(tmp_path):
    pytest.importorskip("distributed")
    info = calibrate(tiny_config(tmp_path, generations=1), local_cluster=2, ppc=False)
    assert info["generations"] == 1 and info["accepted_particles_final"] == 4


def test_the_documented_config_is_valid():
    cfg = load_config(ROOT / "calibration" / "abc.yaml")
    assert cfg.targets == "calibration" and len(cfg.parameters) == 9
    assert all(p.why for p in cfg.parameters.values())
    setup(ROOT / "calibration" / "abc.yaml")  # every path exists in the baseline scenario


def test_the_simulator_reads_targets_from_the_recorder_as_the_flows_table_does(tmp_path):
    """No pandas per particle: the target index over the recorder's array gives what FlowIndex reads from flows.csv."""
    from bordersim.archive.extract import FlowIndex
    from bordersim.experiments.calibration.simulator import BatchSimulator, TargetIndex
    from bordersim.model import BorderModel

    s = setup(tiny_config(tmp_path))
    sim = s.simulator
    params = {"rate_food_kin": 0.02, "lishu": 5.0}
    sc = sim.scenario(params)
    model = BorderModel(sc, rng=particle_seed(5, params)).run()
    flows = FlowIndex(model.recorder.table(model.tree, 0))
    index = TargetIndex(s.targets, sc.run.start, sc.run.end)
    got = index.values(model.recorder.data)
    want = np.array([flows.value(t)[0] for t in s.targets])
    assert got == pytest.approx(want, rel=1e-6, abs=2e-3)  # flows.csv rounds to 3 decimals
    assert sim.summary(params) == pytest.approx(got)
    # The batch interface: one row per parameter vector and seed, the same whatever the number of workers.
    thetas = np.array([[0.02, 5.0], [0.01, 2.0], [0.04, 8.0]])
    one = BatchSimulator(sim, workers=1).simulate(thetas, [1, 2, 3])
    with BatchSimulator(sim, workers=2) as batch:
        two = batch.simulate(thetas, [1, 2, 3])
        again = batch.simulate(thetas[:1], [1])  # the workers persist between batches
    assert one.shape == (3, len(s.targets)) and np.array_equal(one, two) and np.array_equal(again[0], one[0])
    assert not np.array_equal(one[0], one[1])
