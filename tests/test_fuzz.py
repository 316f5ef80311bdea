"""Property test: machine-mutated scenarios end in a result or a clear one-line error, never a traceback.

The mutations and the check are in :mod:`tests.scenario_fuzz`. CI runs ``BORDERSIM_FUZZ_EXAMPLES``
examples (default 60, derandomized so a run is repeatable); the long mode is
``benchmarks/fuzz_scenarios.py`` (2,000 examples or more, a benchmark or a nightly job), which sets
the same variable and writes the figures to ``BORDERSIM_FUZZ_STATS``.
"""

from __future__ import annotations

import json
import os
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings

from .scenario_fuzz import check_one, mutated_scenarios

EXAMPLES = int(os.environ.get("BORDERSIM_FUZZ_EXAMPLES", "60"))
#: Every accepted mutation runs; one run in FIGURES_EVERY also draws the figures (they take seconds).
FIGURES_EVERY = int(os.environ.get("BORDERSIM_FUZZ_FIGURES_EVERY", "8"))
STATS: Counter = Counter()


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    yield tmp_path_factory.mktemp("fuzz")
    if os.environ.get("BORDERSIM_FUZZ_STATS"):
        with open(os.environ["BORDERSIM_FUZZ_STATS"], "w", encoding="utf-8") as fh:
            json.dump(dict(STATS), fh, indent=2, sort_keys=True)
    print("\nfuzz:", ", ".join(f"{k} {v}" for k, v in sorted(STATS.items())))


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
@given(case=mutated_scenarios())
def test_mutated_scenarios_validate_cleanly_and_accepted_ones_run(workdir, case):
    kind, text, _mutations = case
    old = os.environ.get("BORDERSIM_DEBUG")
    os.environ["BORDERSIM_DEBUG"] = "1"  # an unforeseen exception propagates (and hypothesis shrinks it)
    try:
        figures = FIGURES_EVERY > 0 and STATS["accepted"] % FIGURES_EVERY == 0
        check_one(kind, text, workdir, STATS, run=True, figures=figures)
    finally:
        if old is None:
            os.environ.pop("BORDERSIM_DEBUG", None)
        else:
            os.environ["BORDERSIM_DEBUG"] = old


def test_the_fuzzer_refuses_and_accepts_some(workdir):
    """The mix is useful only if it exercises both sides (checked after the property test has run)."""
    if STATS["tried"] < 20:
        pytest.skip("the property test did not run first")
    assert STATS["accepted"] >= 3 and STATS["tried"] - STATS["accepted"] >= 10, dict(STATS)
    assert STATS["run"] == STATS["accepted"]
