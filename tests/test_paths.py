"""Paths in scenarios: relative to the file that wrote them, through any chain of ``extends:``; rule
sets beside the scenario (or beside a file it extends); cross-field checks that make a validated
scenario run (posterior columns, ice for every river, bounds)."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest
import yaml

from bordersim.cli import main
from bordersim.errors import ScenarioError
from bordersim.world.loader import load_scenario
from bordersim.world.rules import library_dir

from .conftest import BASELINE, ROOT


def _write(path: Path, data: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _short_run(path: Path, out: Path) -> None:
    argv = ["run", str(path), "--out", str(out), "--scale", "0.005", "--end", "1960-10-31", "--quiet", "--no-figures"]
    assert main(argv) == 0
    assert (out / "flows.csv").exists() and (out / "fit.csv").exists()


def test_a_scenario_in_my_own_folder_extends_the_baseline(tmp_path, capsys):
    # Deeper than scenarios/, so that "../calibration/..." relative to the new file would name nothing.
    mine = _write(
        tmp_path / "studies" / "guards" / "more_guards.yaml",
        {
            "extends": os.path.relpath(BASELINE, tmp_path / "studies" / "guards"),
            "name": "more_guards",
            "rule_overrides": {"china": {"interception_multiplier": 1.5}},
        },
    )
    sc = load_scenario(mine)
    post, targets = mine.parent / sc.posterior.file, mine.parent / sc.targets
    assert post.resolve() == (ROOT / "calibration" / "posterior.parquet").resolve()
    assert targets.resolve() == (ROOT / "calibration" / "targets.yaml").resolve()
    assert main(["validate", str(mine)]) == 0 and "ok (more_guards" in capsys.readouterr().out
    _short_run(mine, tmp_path / "out")


def test_paths_follow_the_file_that_wrote_them_through_a_chain(tmp_path):
    # tmp/a/mid.yaml extends the baseline and brings its own targets; tmp/b/c/child.yaml extends mid.
    a, c = tmp_path / "a", tmp_path / "b" / "c"
    (a / "data").mkdir(parents=True)
    (a / "data" / "targets.yaml").write_text((ROOT / "calibration" / "targets.yaml").read_text())
    _write(a / "mid.yaml", {"extends": os.path.relpath(BASELINE, a), "name": "mid", "targets": "data/targets.yaml"})
    child = _write(c / "child.yaml", {"extends": "../../a/mid.yaml", "name": "child", "posterior": {"mode": "median"}})
    sc = load_scenario(child)
    assert (c / sc.targets).resolve() == (a / "data" / "targets.yaml").resolve()
    # posterior: the child changed its mode only; the file the baseline named is kept, from the child's folder.
    assert sc.posterior.mode == "median" and (c / sc.posterior.file).resolve() == (ROOT / "calibration" / "posterior.parquet")
    _short_run(child, tmp_path / "out")


def test_a_missing_inherited_file_names_the_file_and_the_field(tmp_path):
    a = tmp_path / "a"
    _write(a / "mid.yaml", {"extends": os.path.relpath(BASELINE, a), "name": "mid", "targets": "nowhere.yaml"})
    child = _write(tmp_path / "b" / "child.yaml", {"extends": "../a/mid.yaml", "name": "child"})
    with pytest.raises(ScenarioError) as exc:
        load_scenario(child)
    msg = str(exc.value)
    assert msg.startswith(f"{child}: targets: file not found: ") and msg.endswith("nowhere.yaml") and "/a/" in msg


def _local_rule_set(folder: Path, name: str = "local_1961") -> None:
    raw = yaml.safe_load((library_dir() / "practice_1961.yaml").read_text())
    raw.update(name=name, title="a local variant of 1961 practice")
    raw["dprk"]["allowance_yuan_per_labourer"] = 0.0
    _write(folder / "rules" / f"{name}.yaml", raw)


def test_a_rule_set_beside_a_file_up_the_chain_is_found_by_validation_and_run(tmp_path):
    a = tmp_path / "a"
    _local_rule_set(a)
    _write(
        a / "mid.yaml",
        {"extends": os.path.relpath(BASELINE, a), "name": "mid", "rules": [{"from": "1960-09-01", "use": "local_1961"}]},
    )
    child = _write(tmp_path / "b" / "child.yaml", {"extends": "../a/mid.yaml", "name": "child"})
    assert main(["validate", str(child)]) == 0
    _short_run(child, tmp_path / "out")
    flows = pd.read_csv(tmp_path / "out" / "flows.csv")
    assert flows[flows.measure == "allowance_yuan"].value.sum() == 0  # the local rule set was the one in force


def test_an_unknown_rule_set_lists_where_it_was_looked_for(tmp_path):
    child = _write(
        tmp_path / "child.yaml",
        {"extends": os.path.relpath(BASELINE, tmp_path), "name": "c", "rules": [{"from": "1960-09-01", "use": "nope"}]},
    )
    with pytest.raises(ScenarioError, match=r"rules\[0\]\.use: unknown rule set 'nope' \(available: .*practice_1961.*searched"):
        load_scenario(child)


# -- cross-field checks: a scenario that validates runs ------------------------------------------------
def _baseline_here(tmp_path: Path, **changes) -> Path:
    d = yaml.safe_load(BASELINE.read_text())
    d["posterior"]["file"] = str(ROOT / "calibration" / "posterior.parquet")
    d["targets"] = str(ROOT / "calibration" / "targets.yaml")
    for key, value in changes.items():
        node = d
        *parents, last = key.split(".")
        for k in parents:
            node = node[k]
        if value is None:
            del node[last]
        else:
            node[last] = value
    return _write(tmp_path / "s.yaml", d)


@pytest.mark.parametrize(
    "changes, needle",
    [
        # The posterior sets world.propensity[0].value: a scenario without propensity entries cannot take it.
        ({"world.propensity": None}, "posterior.file: column 'world.propensity[0].value' is not a field of this scenario"),
        ({"world.ice": {"tumen": {"freeze": "11-25", "thaw": "03-25"}}}, "world.ice: no freeze and thaw dates for the yalu"),
        ({"world.nk_drownings_per_year": 1e12}, "world.nk_drownings_per_year: Input should be less than or equal to 100000"),
        ({"world.nk_marriage_crossings_per_year": 1e300}, "world.nk_marriage_crossings_per_year: Input should be less"),
        ({"parameters": {"rate_rumour": float("inf")}}, "parameters.rate_rumour: Input should be a finite number"),
        (
            {"population": {"yanbian_persons": 10**12}},
            "population.yanbian_persons: Input should be less than or equal to 5000000",
        ),
        ({"run.end": "2500-01-01"}, "run: end: 2500-01-01 is outside 1900-01-01 to 2100-12-31"),
        ({"posterior": {"file": str(ROOT / "calibration" / "posterior_summary.csv")}}, "posterior.file: "),
        ({"posterior": {"file": str(ROOT / "calibration")}}, "posterior.file: not a file: "),
        ({"targets": str(ROOT / "README.md")}, "targets: "),
    ],
)
def test_what_would_crash_a_run_is_refused_at_validation(tmp_path, capsys, changes, needle):
    p = _baseline_here(tmp_path, **changes)
    assert main(["validate", str(p)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"bordersim: error: {p}: ") and needle in err and len(err.strip().splitlines()) == 1, err


def test_a_posterior_that_is_not_parquet_says_so(tmp_path):
    p = _baseline_here(tmp_path, posterior={"file": str(ROOT / "calibration" / "posterior_summary.csv")})
    with pytest.raises(ScenarioError, match=r"posterior\.file: .*posterior_summary\.csv: not a Parquet table"):
        load_scenario(p)


def test_posterior_values_outside_the_schema_are_refused(tmp_path):
    post = pd.read_parquet(ROOT / "calibration" / "posterior.parquet")
    post.loc[post.index[-1], "parameters.p_illegal"] = 1.7  # a probability above 1, in the last generation
    post.to_parquet(tmp_path / "post.parquet", index=False)
    p = _baseline_here(tmp_path, posterior={"file": str(tmp_path / "post.parquet"), "mode": "draw"})
    with pytest.raises(ScenarioError, match=r"posterior\.file: .*maximum values do not fit: parameters\.p_illegal: "):
        load_scenario(p)
