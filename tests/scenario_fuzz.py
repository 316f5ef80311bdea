"""Machine-mutated scenarios: hypothesis strategies and the check that every one ends cleanly.

A mutation starts from one of two scenario files, written to a temporary folder of their own: the
baseline itself (its paths made absolute) or a short file that ``extends:`` the baseline from that
folder and changes a few levers. It then applies one to three operations to the data (delete a key or
an entry, rename a key, retype a value, push a number out of range, duplicate an entry, add an unknown
key, swap two entries) or to the YAML text (delete, insert or duplicate a character or a line, shift
the indentation, truncate the file, duplicate a key).

:func:`check_one` then asserts what a user is promised:

- ``bordersim validate FILE`` exits 0, or exits 2 with exactly one line on stderr naming the file and
  then the field (a dotted path, ``line N``, ``(top level)`` or ``extends``) and never a traceback,
  a pydantic prefix or an internal error;
- every accepted mutation runs (``bordersim run`` at scale 0.002, one replicate, at most 45 days) to
  completion or to such a clean one-line error.

``tests/test_fuzz.py`` runs a few dozen examples in CI; ``benchmarks/fuzz_scenarios.py`` runs the long
mode (2,000 examples or more) and prints the figures: mutations tried, accepted, run, errors by kind.
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import io
import os
import re
import shutil
from collections import Counter
from pathlib import Path

import yaml
from hypothesis import strategies as st

from bordersim.cli import main

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "scenarios" / "baseline_1960_1962.yaml"

#: Values a mutation puts where another value was.
ODD_VALUES = [
    None,
    True,
    False,
    0,
    1,
    -1,
    2,
    0.5,
    -0.001,
    1.5,
    1e300,
    -1e300,
    10**20,
    float("inf"),
    float("nan"),
    "",
    "abc",
    "1960-13-01",
    "1961-02-29",
    "1899-12-31",
    "2101-01-01",
    "1961-01-01",
    "china",
    "lishu",
    "pyongyang",
    "yalu",
    "practice_1961",
    "no_such_rules",
    "../calibration/targets.yaml",
    "../calibration/posterior_summary.csv",
    "posterior.parquet",
    str(ROOT / "README.md"),
    str(ROOT / "calibration"),
    [],
    {},
    [1, 2],
    {"x": 1},
    [{"from": "1960-01-01", "use": "practice_1961"}],
    dt.date(1961, 6, 1),
]
#: Numbers a number is multiplied by.
FACTORS = [0, -1, 1e-9, 1e-3, 0.5, 2, 10, 1e3, 1e6, 1e9, 1e15]
#: Characters a text mutation inserts.
JUNK = [":", "[", "]", "{", "}", "-", "\t", "'", '"', "#", "&", "*", "!", "%", "|", ">", ",", " ", "\n", "\x00", "é"]


def standalone_base() -> dict:
    """The baseline with its paths absolute, so that it is valid in any folder."""
    d = yaml.safe_load(BASELINE.read_text(encoding="utf-8"))
    d["posterior"]["file"] = str((BASELINE.parent / d["posterior"]["file"]).resolve())
    d["targets"] = str((BASELINE.parent / d["targets"]).resolve())
    return d


def extending_base() -> dict:
    """A file of one's own that extends the baseline (its relative paths must still resolve)."""
    return {
        "extends": "@BASELINE@",  # replaced by the baseline's path relative to the folder of the file
        "name": "mine",
        "run": {"end": "1961-06-30"},
        "rule_overrides": {"china": {"interception_multiplier": 1.5}},
        "parameters": {"p_illegal": 0.2},
        "world": {"nk_drownings_per_year": 40, "ice": {"tumen": {"freeze": "11-20", "thaw": "03-30"}}},
    }


def _locations(node, prefix=()):
    """Every path (tuple of keys and indices) into a nested dict/list, the root excluded."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield prefix + (k,)
            yield from _locations(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield prefix + (i,)
            yield from _locations(v, prefix + (i,))


def _parent(data, loc):
    node = data
    for k in loc[:-1]:
        node = node[k]
    return node


def apply_data_op(data: dict, op: str, loc: tuple, value, draw_int) -> str:
    """Apply one data mutation at ``loc``; returns a short description."""
    parent, key = _parent(data, loc), loc[-1]
    where = ".".join(str(x) for x in loc)
    if op == "delete":
        del parent[key]
    elif op == "rename" and isinstance(parent, dict):
        new = str(key)
        cut = draw_int(0, max(0, len(new) - 1))
        new = [new[:cut] + new[cut + 1 :], new + "s", new.upper(), new.replace("_", "-"), new[::-1]][draw_int(0, 4)] or "x"
        parent[new] = parent.pop(key)
    elif op == "scale" and isinstance(parent[key], (int, float)) and not isinstance(parent[key], bool):
        f = FACTORS[draw_int(0, len(FACTORS) - 1)]
        parent[key] = type(parent[key])(parent[key] * f) if parent[key] * f == parent[key] * f else parent[key]
    elif op == "duplicate" and isinstance(parent, list):
        parent.insert(key, copy.deepcopy(parent[key]))
    elif op == "add" and isinstance(parent[key], dict):
        parent[key]["unexpected_" + str(draw_int(0, 9))] = value
    elif op == "swap" and isinstance(parent, list) and len(parent) > 1:
        j = draw_int(0, len(parent) - 1)
        parent[key], parent[j] = parent[j], parent[key]
    else:
        op = "retype"
        parent[key] = copy.deepcopy(value)
    return f"{op} {where}"


def apply_text_op(text: str, op: str, draw_int) -> tuple[str, str]:
    """Apply one mutation to the YAML text; returns (text, description)."""
    lines = text.split("\n")
    i = draw_int(0, max(0, len(lines) - 1))
    pos = draw_int(0, max(0, len(text) - 1))
    if op == "delete_char":
        text = text[:pos] + text[pos + 1 :]
    elif op == "insert_char":
        text = text[:pos] + JUNK[draw_int(0, len(JUNK) - 1)] + text[pos:]
    elif op == "truncate":
        text = text[:pos]
    elif op == "duplicate_line":
        lines.insert(i, lines[i])
        text = "\n".join(lines)
    elif op == "delete_line":
        del lines[i]
        text = "\n".join(lines)
    elif op == "indent":
        lines[i] = " " * draw_int(1, 3) + lines[i]
        text = "\n".join(lines)
    elif op == "dedent":
        lines[i] = lines[i][draw_int(1, 3) :]
        text = "\n".join(lines)
    elif op == "duplicate_key":
        keyed = [j for j, ln in enumerate(lines) if re.match(r"^\s*[A-Za-z_]+:", ln)]
        if keyed:
            j = keyed[i % len(keyed)]
            lines.insert(j + 1, lines[j].split(":")[0] + ": 1")
        text = "\n".join(lines)
    return text, f"{op} line {i + 1}"


#: Changes aimed at what once validated and then crashed a run (issue 12), and at the edges of the model:
#: (dotted path, value; DELETE removes the key). Valid ones must run; the others must be refused clearly.
DELETE = object()
TARGETED = [
    ("world.propensity", DELETE),  # the posterior sets world.propensity[0].value
    ("world.propensity", []),
    ("world.ice.yalu", DELETE),  # ice for one river only
    ("world.ice", {"tumen": {"freeze": "01-01", "thaw": "01-01"}, "yalu": {"freeze": "12-31", "thaw": "01-01"}}),
    ("world.nk_drownings_per_year", 1e12),  # numpy's Poisson refuses a huge mean
    ("world.nk_drownings_per_year", 100_000),
    ("world.nk_marriage_crossings_per_year", 1e300),
    ("posterior.file", str(ROOT / "calibration" / "targets.yaml")),  # not Parquet
    ("posterior.file", str(ROOT / "calibration" / "posterior_summary.csv")),
    ("posterior.file", str(ROOT / "calibration")),
    ("posterior.mode", "median"),
    ("targets", str(ROOT / "calibration" / "abc.yaml")),  # YAML, but not a targets file
    ("targets", str(ROOT / "README.md")),
    ("population.lishu", False),
    ("population.yanbian_persons", 0),
    ("population.liaoning_persons", {}),
    ("population.tonghua_persons", {"changbai": 0}),
    ("population.single_han_men", 0),
    ("population.household_size_mean", 15.0),
    ("population.village_households", 2),
    ("parameters.village_degree", 100),
    ("parameters.group_size", 1.0),
    ("parameters.p_illegal", 1.0),
    ("parameters.rate_food_kin", 10.0),
    ("parameters.drown_base", 1.0),
    ("rule_overrides.china.interception_multiplier", 100.0),
    ("rule_overrides.dprk.capacity_households_per_month", 0.0),
    ("world.rations", []),
    ("world.dprk_pull", []),
    ("world.disasters", [{"date": "1960-09-10", "region": "andong", "share": 1.0}]),
    ("world.rumour_seeds", [{"date": "1960-09-02", "region": "lishu", "share": 1.0}]),
    ("rules", [{"from": "1957-01-01", "use": "protocol_1964"}]),
    ("rules", [{"from": "1957-01-01", "use": "mfa_1957"}, {"from": "1960-09-02", "use": "state_council_1970"}]),
    ("run.start", "1957-12-17"),
    ("run.end", "1960-09-01"),
]


def apply_targeted(data: dict, path: str, value) -> str:
    """Set (or delete) a dotted path, creating mappings on the way; returns a short description."""
    keys = path.split(".")
    node = data
    for k in keys[:-1]:
        if not isinstance(node.get(k), dict):
            node[k] = {}
        node = node[k]
    if value is DELETE:
        node.pop(keys[-1], None)
        return f"targeted delete {path}"
    node[keys[-1]] = copy.deepcopy(value)
    return f"targeted {path} = {value!r}"[:120]


DATA_OPS = ["delete", "rename", "retype", "scale", "duplicate", "add", "swap"] + ["targeted"] * 3
TEXT_OPS = ["delete_char", "insert_char", "truncate", "duplicate_line", "delete_line", "indent", "dedent", "duplicate_key"]


@st.composite
def mutated_scenarios(draw) -> tuple[str, str, list[str]]:
    """(kind, YAML text, descriptions of the mutations)."""
    kind = draw(st.sampled_from(["standalone", "extends"]))
    data = standalone_base() if kind == "standalone" else extending_base()
    done = []

    def draw_int(lo, hi):
        return draw(st.integers(lo, max(lo, hi)))

    n = draw(st.integers(1, 3))
    text_ops = draw(st.integers(0, n)) if draw(st.integers(0, 3)) == 0 else 0  # a quarter of examples damage the text
    for _ in range(n - text_ops):
        locs = list(_locations(data))
        if not locs:
            break
        loc = locs[draw_int(0, len(locs) - 1)]
        op = draw(st.sampled_from(DATA_OPS))
        if op == "targeted":
            done.append(apply_targeted(data, *draw(st.sampled_from(TARGETED))))
            continue
        value = draw(st.sampled_from(ODD_VALUES))
        done.append(apply_data_op(data, op, loc, value, draw_int))
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    for _ in range(text_ops):
        text, what = apply_text_op(text, draw(st.sampled_from(TEXT_OPS)), draw_int)
        done.append(what)
    return kind, text, done


# -- the check ----------------------------------------------------------------------------------------
#: After "bordersim: error: FILE: " comes the field: a dotted path, "line N", "(top level)", "(file)", "extends".
_PART = r"([A-Za-z_][\w-]*|'[^']*'|\"[^\"]*\")(\[\d+\])*"
FIELD = re.compile(rf"^(line \d+|\(top level\)|\(file\)|{_PART}(\.{_PART})*)(: | \()")
FORBIDDEN = ("Traceback", "Value error,", "Assertion failed,", "internal error", "pydantic", "input_value", "[type=")


def _cli(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


def error_kind(message: str) -> str:
    """A short class of an error message, for the fuzzer's figures."""
    m = FIELD.match(message)
    field = m.group(1) if m else "?"
    if field.startswith("line "):
        return "YAML syntax"
    if field == "extends":
        return "extends"
    if "unknown key" in message:
        return "unknown key"
    if "required field is missing" in message:
        return "missing field"
    if re.search(
        r"valid (integer|number|string|boolean|list|dictionary|date)|Input should be an? |expected a (mapping|list)", message
    ):
        return "wrong type"
    if re.search(r"(greater|less) than|finite number", message):
        return "out of range"
    if "file not found" in message or "not a file" in message or "Parquet" in message or "targets:" in message:
        return "file"
    if "rule set" in message:
        return "rule set"
    if "region" in message:
        return "region"
    return "other cross-field"


def _log(stage: str, message: str) -> None:
    """Append a message to the file named by BORDERSIM_FUZZ_LOG (to read what users would read)."""
    if os.environ.get("BORDERSIM_FUZZ_LOG"):
        with open(os.environ["BORDERSIM_FUZZ_LOG"], "a", encoding="utf-8") as fh:
            fh.write(f"{stage}\t{message.strip()}\n")


def _assert_clean_error(code: int, err: str, path: Path, stage: str) -> str:
    _log(stage, err)
    assert code == 2, f"{stage}: exit {code}, stderr {err!r}"
    lines = err.strip().splitlines()
    assert len(lines) == 1, f"{stage}: {len(lines)} lines on stderr: {err!r}"
    prefix = f"bordersim: error: {path}: "
    assert lines[0].startswith(prefix), f"{stage}: the error does not start with the file: {lines[0]!r}"
    rest = lines[0][len(prefix) :]
    assert FIELD.match(rest), f"{stage}: the error does not name a field after the file: {lines[0]!r}"
    for bad in FORBIDDEN:
        assert bad not in err, f"{stage}: {bad!r} in {err!r}"
    return rest


def check_one(kind: str, text: str, workdir: Path, stats: Counter, run: bool = True, figures: bool = False) -> None:
    """Validate the mutated scenario, and run it if it is accepted; record the outcome in ``stats``."""
    folder = workdir / "mine"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    path = folder / "mutated.yaml"
    text = text.replace("@BASELINE@", os.path.relpath(BASELINE, folder))
    path.write_text(text, encoding="utf-8", errors="surrogateescape")
    stats["tried"] += 1
    code, out, err = _cli(["validate", str(path)])
    if code != 0:
        rest = _assert_clean_error(code, err, path, "validate")
        stats[f"refused: {error_kind(rest)}"] += 1
        return
    assert err == "" and out.startswith(f"{path}: ok ("), (out, err)
    stats["accepted"] += 1
    if not run:
        return
    sc = yaml.safe_load(text) or {}
    start = _date(((sc.get("run") or {}) if isinstance(sc, dict) else {}).get("start")) or dt.date(1960, 9, 1)
    end = start + dt.timedelta(days=44)
    argv = ["run", str(path), "--scale", "0.002", "--replicates", "1", "--end", end.isoformat(), "--quiet"]
    argv += ["--out", str(folder / "out")] + ([] if figures else ["--no-figures"])
    code, out, err = _cli(argv)
    stats["run"] += 1
    if code == 0:
        assert (folder / "out" / "flows.csv").exists() and "error" not in err, err
        stats["ran to completion"] += 1
        if figures:
            stats["ran with figures"] += 1
    else:
        rest = _assert_clean_error(code, err, path, "run")
        stats[f"run ended in a clean error: {error_kind(rest)}"] += 1


def _date(v):
    if isinstance(v, dt.date):
        return v
    try:
        return dt.date.fromisoformat(str(v))
    except ValueError:
        return None
