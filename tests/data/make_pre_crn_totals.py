"""30 replicates of the tests' small scenario: China totals per replicate (run with the code to be compared).

    git archive 3571d47 | tar -x -C /tmp/before
    PYTHONPATH=/tmp/before/src python tests/data/make_pre_crn_totals.py /tmp/before tests/data/pre_crn_totals.csv

(the first argument is the root whose ``tests/conftest.py`` defines the small scenario).
"""

import sys

import pandas as pd

sys.path.insert(0, sys.argv[1])  # tests dir parent (for conftest)
from tests.conftest import small_scenario_dict

from bordersim.experiments.replicates import run_replicates
from bordersim.world.loader import validate_scenario

MEASURES = [
    "intending_households",
    "travel_applications",
    "legal_applications",
    "attempted",
    "detected",
    "stopped",
    "crossed",
    "drowned",
    "settled",
    "sent_back",
    "returned_own",
    "corpses_found",
    "in_north_korea_illegal",
]


def totals(results):
    rows = []
    for r in results:
        f = r.flows[r.flows.region == "china"]
        row = {"replicate": r.replicate}
        for m in MEASURES:
            x = f[f.measure == m]
            row[m] = float(x[x.period == x.period.max()].value.sum()) if m == "in_north_korea_illegal" else float(x.value.sum())
        rows.append(row)
    return pd.DataFrame(rows)


d = small_scenario_dict(seed=2024, replicates=30, end="1961-12-31")
out = totals(run_replicates(validate_scenario(d), progress=False))
out.to_csv(sys.argv[2], index=False, float_format="%.3f")
print(out.describe().T[["mean", "std"]])
