"""Bad input gets a one-line error naming the file, the field and what is wrong."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml

from bordersim.cli import main
from bordersim.errors import ScenarioError
from bordersim.world.loader import load_scenario

from .conftest import BASELINE, small_scenario_dict


def _write(tmp_path, data, name="bad.yaml"):
    p = tmp_path / name
    p.write_text(yaml.safe_dump(data, sort_keys=False))
    return p


def _error(tmp_path, data) -> str:
    p = _write(tmp_path, data)
    with pytest.raises(ScenarioError) as exc:
        load_scenario(p)
    msg = str(exc.value)
    assert "\n" not in msg
    assert msg.startswith(str(p))
    return msg


def test_misspelt_key_is_an_error(tmp_path):
    d = small_scenario_dict()
    d["parameters"] = {"rate_rumor": 0.01}  # American spelling of a real key
    msg = _error(tmp_path, d)
    assert "parameters.rate_rumor" in msg and "unknown key" in msg


def test_misspelt_top_level_key(tmp_path):
    d = small_scenario_dict()
    d["wrold"] = d.pop("world")
    msg = _error(tmp_path, d)
    assert "wrold: unknown key" in msg and "world: required field is missing" in msg


def test_wrong_type(tmp_path):
    d = small_scenario_dict()
    d["run"]["seed"] = "abc"
    assert "run.seed" in _error(tmp_path, d)


def test_probability_out_of_range(tmp_path):
    d = small_scenario_dict()
    d["parameters"] = {"p_night": 1.5}
    msg = _error(tmp_path, d)
    assert "parameters.p_night" in msg and "less than or equal to 1" in msg


def test_negative_ration(tmp_path):
    d = small_scenario_dict()
    d["world"]["rations"][1]["catties"] = -5
    msg = _error(tmp_path, d)
    assert "world.rations[1].catties" in msg and "greater than or equal to 0" in msg


def test_end_before_start(tmp_path):
    d = small_scenario_dict(start="1961-01-01", end="1960-12-31")
    msg = _error(tmp_path, d)
    assert "run" in msg and "before start" in msg


def test_unknown_region(tmp_path):
    d = small_scenario_dict()
    d["world"]["interception"][0]["region"] = "pyongyang"
    msg = _error(tmp_path, d)
    assert "world.interception[0].region" in msg and "unknown region 'pyongyang'" in msg


def test_unknown_rule_set(tmp_path):
    d = small_scenario_dict()
    d["rules"] = [{"from": "1960-01-01", "use": "practise_1961"}]
    msg = _error(tmp_path, d)
    assert "rules[0].use" in msg and "practise_1961" in msg and "practice_1961" in msg


def test_bad_rule_override(tmp_path):
    d = small_scenario_dict()
    d["rule_overrides"] = {"dprk": {"allowance_yuan": 0}}
    msg = _error(tmp_path, d)
    assert "dprk.allowance_yuan" in msg and "unknown key" in msg


def test_missing_file(tmp_path):
    with pytest.raises(ScenarioError) as exc:
        load_scenario(tmp_path / "nope.yaml")
    assert "nope.yaml: file not found" in str(exc.value)


def test_invalid_yaml(tmp_path):
    p = tmp_path / "broken.yaml"
    p.write_text("name: x\nrun: [unclosed\n")
    with pytest.raises(ScenarioError) as exc:
        load_scenario(p)
    assert "not valid YAML" in str(exc.value)


@pytest.mark.parametrize(
    "line, text, needle",
    [
        (12, "  seed 1961", "line 12: not valid YAML: could not find expected ':'"),  # the key without its colon
        (17, "    - {from: 1960-09-01, region: china, catties: 360", "line 17: not valid YAML"),  # an unclosed brace
        (13, "  seed: 1", "line 13: not valid YAML: duplicate key 'seed' (first on line 12)"),
        (13, "\treplicates: 1", "line 13: not valid YAML"),
    ],
)
def test_a_yaml_mistake_is_named_on_its_own_line(tmp_path, line, text, needle):
    lines = BASELINE.read_text().split("\n")
    assert lines[11].startswith("  seed:") and lines[16].startswith("    - {from: 1960-09-01")
    lines[line - 1] = text
    p = tmp_path / "typo.yaml"
    p.write_text("\n".join(lines))
    with pytest.raises(ScenarioError) as exc:
        load_scenario(p)
    assert str(exc.value).startswith(f"{p}: {needle}"), str(exc.value)


def test_no_pydantic_prefix_in_messages(tmp_path):
    d = small_scenario_dict(start="1961-01-01", end="1960-12-31")
    msg = _error(tmp_path, d)
    assert msg.endswith("run: end (1960-12-31) is before start (1961-01-01)") and "Value error" not in msg


def test_yaml_tags_are_not_executed(tmp_path):
    # Under yaml.unsafe_load (or yaml.load with the full loader) this tag calls os.mkdir and creates the
    # marker: it must not exist afterwards, and the error must be about the tag, not about a field.
    marker = tmp_path / "executed"
    p = tmp_path / "evil.yaml"
    d = small_scenario_dict()
    d.pop("description")
    p.write_text(f"description: !!python/object/apply:os.mkdir [{str(marker)!r}]\n" + yaml.safe_dump(d, sort_keys=False))
    with pytest.raises(ScenarioError) as exc:
        load_scenario(p)
    assert not marker.exists(), "a YAML tag was executed"
    assert str(exc.value).startswith(f"{p}: line 1: not valid YAML") and "tag" in str(exc.value)


def test_cli_error_exit_code_and_one_line(tmp_path, capsys):
    d = small_scenario_dict()
    d["run"]["replicats"] = 3
    p = _write(tmp_path, d)
    code = main(["run", str(p), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert err == [f"bordersim: error: {p}: run.replicats: unknown key (check the spelling; unknown keys are not ignored)"]
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "flags, needle",
    [
        (["--scale", "0"], "argument --scale: must be greater than 0 (got 0)"),
        (["--scale", "2"], "argument --scale: must be less than or equal to 1 (got 2)"),
        (["--scale", "nan"], "argument --scale: must be"),
        (["--replicates", "0"], "argument --replicates: must be greater than or equal to 1 (got 0)"),
        (["--replicates", "two"], "argument --replicates: expected an integer, got 'two'"),
        (["--seed", "-1"], "argument --seed: must be greater than or equal to 0 (got -1)"),
        (["--workers", "0"], "argument --workers: must be 1 or more (got 0)"),
        (["--end", "1961-13-01"], "argument --end: expected a date YYYY-MM-DD"),
        (["--end", "1950-01-01"], "bordersim: error: --end 1950-01-01: run: end (1950-01-01) is before start"),
    ],
)
def test_cli_bad_flags_are_blamed_on_the_flag(tmp_path, capsys, flags, needle):
    p = _write(tmp_path, small_scenario_dict(), "ok.yaml")
    assert main(["run", str(p), *flags, "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert needle in err and "run.scale" not in err and "run.replicates" not in err and "Traceback" not in err, err
    assert not (tmp_path / "o").exists()


def test_console_script_no_traceback(tmp_path):
    d = small_scenario_dict()
    d["world"]["rations"][0]["catties"] = -1
    p = _write(tmp_path, d)
    r = subprocess.run([sys.executable, "-m", "bordersim.cli", "validate", str(p)], capture_output=True, text=True)
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    assert "world.rations[0].catties" in r.stderr
