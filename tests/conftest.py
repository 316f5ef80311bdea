"""Shared fixtures: a small scenario that runs in well under a second."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "scenarios" / "baseline_1960_1962.yaml"


def pytest_configure(config):
    """Before the workers start (xdist's controller), compile the model's passes once into numba's cache
    (:mod:`tests.warm_cache`, its two halves side by side): otherwise each worker and each subprocess started
    before the cache is written compiles them again. A failure here is left to the tests to report."""
    if hasattr(config, "workerinput") or not getattr(config.option, "numprocesses", None):
        return
    parts = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.warm_cache", part], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        for part in ("south", "north")
    ]
    for part in parts:
        part.wait()


def small_scenario_dict(**run) -> dict:
    """The baseline world with a small population and a short horizon."""
    data = yaml.safe_load(BASELINE.read_text())
    data = copy.deepcopy(data)
    data["name"] = "small"
    data.pop("posterior", None)  # tests run the scenario's own parameters (the posterior path is relative)
    data["targets"] = str(ROOT / "calibration" / "targets.yaml")
    data["run"].update({"start": "1960-10-01", "end": "1961-06-30", "seed": 7, "replicates": 1, "scale": 1.0})
    data["run"].update(run)
    data["population"] = {
        "yanbian_persons": 20000,
        "tonghua_persons": {"changbai": 1000, "jian": 1000, "hunjiang": 500},
        "liaoning_persons": {"andong": 3000, "anshan": 500, "fushun": 500, "benxi": 500, "shenyang": 1000, "luda": 500},
        "single_han_men": 50,
        # The DPRK side and the Korean nationals in China (issue 15), small as the rest.
        "north": {
            "persons": {"musan": 2000, "hoeryong": 3000, "onsong": 2000, "hyesan": 2000, "manpo": 2000, "sinuiju": 5000},
            "korean_nationals": {"yanji_city": 300, "andong": 200},
        },
    }
    return data


@pytest.fixture
def small_dict():
    return small_scenario_dict()


@pytest.fixture
def small_file(tmp_path):
    p = tmp_path / "small.yaml"
    p.write_text(yaml.safe_dump(small_scenario_dict(), sort_keys=False))
    return p
