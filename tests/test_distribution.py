"""The common random numbers and the speed work changed how the model draws, not what it does: 30 replicates agree
with 30 of the model before each change (issue 10, issue 14).

``tests/data/pre_crn_totals.csv`` holds China's totals in 30 replicates of the tests' small scenario (seed
2024, October 1960 to December 1961), written by ``tests/data/make_reference_totals.py`` with the code of commit
3571d47 (numpy's sequential generator). The same 30 replicates of today's code are compared measure by measure
with a two-sample Kolmogorov-Smirnov test; the family of 13 tests is held to a 1% error rate (Bonferroni,
p < 0.01 / 13). Seeds are fixed, so the outcome is deterministic; the second test shows the comparison has the
power to see a real change of a mechanism.

``tests/data/pre_speed_totals.csv`` holds the same 30 replicates' totals of both directions (southward and northward
flows, stocks), written by the same script with the code of commit 873c67c, before the
second round of speed work (the northward decisions drawn day by day); the third test compares today's code with
it in the same way.
"""

from __future__ import annotations

import functools
from pathlib import Path

import pandas as pd
from scipy import stats

from bordersim.experiments.replicates import run_replicates
from bordersim.world.loader import validate_scenario

from .conftest import small_scenario_dict

REFERENCE = Path(__file__).parent / "data" / "pre_crn_totals.csv"
PRE_SPEED = Path(__file__).parent / "data" / "pre_speed_totals.csv"
STOCKS = {"in_north_korea_illegal", "in_china_from_dprk", "korean_nationals"}


@functools.cache
def _china_flows(parameters: tuple = ()) -> tuple[pd.DataFrame, ...]:
    """China's monthly flows in 30 replicates of the small scenario (run once per parameter set for all tests)."""
    d = small_scenario_dict(seed=2024, replicates=30, end="1961-12-31")
    if parameters:
        d["parameters"] = dict(parameters)
    return tuple(r.flows[r.flows.region == "china"] for r in run_replicates(validate_scenario(d), progress=False))


def totals(parameters: dict | None = None, reference: Path = REFERENCE) -> pd.DataFrame:
    rows = []
    measures = [c for c in pd.read_csv(reference, nrows=0).columns if c != "replicate"]
    for f in _china_flows(tuple(sorted((parameters or {}).items()))):
        row = {}
        for m in measures:
            x = f[f.measure == m]
            row[m] = float(x[x.period == x.period.max()].value.sum()) if m in STOCKS else float(x.value.sum())
        rows.append(row)
    return pd.DataFrame(rows)


def p_values(now: pd.DataFrame, reference: Path = REFERENCE) -> dict[str, float]:
    before = pd.read_csv(reference)
    return {m: float(stats.ks_2samp(before[m], now[m]).pvalue) for m in now.columns}


def test_thirty_replicates_agree_with_the_model_before_common_random_numbers():
    p = p_values(totals())
    alpha = 0.01 / len(p)
    assert min(p.values()) > alpha, {m: round(v, 4) for m, v in p.items()}


def test_the_comparison_sees_a_changed_mechanism():
    # Households a third more likely to choose the illegal route (p_illegal 0.10 -> 0.13): a real change of the
    # distributions of the crossings (about +30%), which the same threshold must reject.
    p = p_values(totals({"p_illegal": 0.13}))
    alpha = 0.01 / len(p)
    rejected = {m for m, v in p.items() if v < alpha}
    assert {"attempted", "detected", "crossed"} <= rejected, {m: round(v, 6) for m, v in p.items()}


def test_thirty_replicates_of_both_directions_agree_with_the_model_before_the_speed_work():
    now = totals(reference=PRE_SPEED)
    assert set(now.columns) >= {"attempted", "crossed", "attempted_north", "crossed_north", "legal_visits_north"}
    p = p_values(now, PRE_SPEED)
    alpha = 0.01 / len(p)
    assert min(p.values()) > alpha, {m: round(v, 4) for m, v in p.items()}
