"""30 replicates of the tests' small scenario, both directions: China totals per replicate (run with the code to be
compared; ``tests/test_distribution.py`` compares today's code with them).

    rm -rf /tmp/before && mkdir /tmp/before && git archive 873c67c | tar -x -C /tmp/before
    PYTHONPATH=/tmp/before/src python tests/data/make_pre_speed_totals.py /tmp/before tests/data/pre_speed_totals.csv

(the first argument is the root whose ``tests/conftest.py`` defines the small scenario). Commit 873c67c is the
model before the speed work of issue 10's second round (the northward decisions drawn day by day).
"""

import sys

import pandas as pd

sys.path.insert(0, sys.argv[1])  # tests dir parent (for conftest)
from tests.conftest import small_scenario_dict

from bordersim.experiments.replicates import run_replicates
from bordersim.world.loader import validate_scenario

FLOWS = [
    "intending_households",
    "travel_applications",
    "attempted",
    "detected",
    "crossed",
    "drowned",
    "settled",
    "returned_own",
    "attempted_north",
    "stopped_north_dprk",
    "drowned_north",
    "crossed_north",
    "legal_visits_north",
    "caught_china",
    "returned_to_dprk",
    "returned_home_own_north",
    "married_in_china",
    "kn_returned",
]
STOCKS = ["in_north_korea_illegal", "in_china_from_dprk", "korean_nationals"]


def totals(results):
    rows = []
    for r in results:
        f = r.flows[r.flows.region == "china"]
        row = {"replicate": r.replicate}
        for m in FLOWS + STOCKS:
            x = f[f.measure == m]
            row[m] = float(x[x.period == x.period.max()].value.sum()) if m in STOCKS else float(x.value.sum())
        rows.append(row)
    return pd.DataFrame(rows)


if __name__ == "__main__":
    d = small_scenario_dict(seed=2024, replicates=30, end="1961-12-31")
    out = totals(run_replicates(validate_scenario(d), progress=False))
    out.to_csv(sys.argv[2], index=False, float_format="%.3f")
    print(out.describe().T[["mean", "std"]])
