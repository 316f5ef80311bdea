"""30 replicates of the tests' small scenario: China totals per replicate, run with the code to be compared
(``tests/test_distribution.py`` compares today's code with them).

    rm -rf /tmp/before && mkdir /tmp/before && git archive 3571d47 | tar -x -C /tmp/before
    PYTHONPATH=/tmp/before/src python tests/data/make_reference_totals.py /tmp/before pre_crn tests/data/pre_crn_totals.csv

    rm -rf /tmp/before && mkdir /tmp/before && git archive 873c67c | tar -x -C /tmp/before
    PYTHONPATH=/tmp/before/src python tests/data/make_reference_totals.py /tmp/before pre_speed tests/data/pre_speed_totals.csv

(the first argument is the root whose ``tests/conftest.py`` defines the small scenario). Commit 3571d47 is the
model before the common random numbers (numpy's sequential generator; southward measures only), 873c67c the
model before the speed work of issue 10's second round (the northward decisions drawn day by day; both
directions).
"""

import sys

import pandas as pd

sys.path.insert(0, sys.argv[1])  # tests dir parent (for conftest)
from tests.conftest import small_scenario_dict

from bordersim.experiments.replicates import run_replicates
from bordersim.world.loader import validate_scenario

#: Per set: the flows (summed over the run) and the stocks (at the last month end).
PRE_CRN_FLOWS = [
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
]
PRE_SPEED_FLOWS = [
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
SETS = {
    "pre_crn": (PRE_CRN_FLOWS, ["in_north_korea_illegal"]),
    "pre_speed": (PRE_SPEED_FLOWS, ["in_north_korea_illegal", "in_china_from_dprk", "korean_nationals"]),
}


def totals(results, flows, stocks):
    rows = []
    for r in results:
        f = r.flows[r.flows.region == "china"]
        row = {"replicate": r.replicate}
        for m in flows + stocks:
            x = f[f.measure == m]
            row[m] = float(x[x.period == x.period.max()].value.sum()) if m in stocks else float(x.value.sum())
        rows.append(row)
    return pd.DataFrame(rows)


if __name__ == "__main__":
    d = small_scenario_dict(seed=2024, replicates=30, end="1961-12-31")
    out = totals(run_replicates(validate_scenario(d), progress=False), *SETS[sys.argv[2]])
    out.to_csv(sys.argv[3], index=False, float_format="%.3f")
    print(out.describe().T[["mean", "std"]])
