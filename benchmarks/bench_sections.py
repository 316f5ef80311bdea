"""Where a replicate's time goes, by mechanism: each of the model's main methods wrapped in a timer.

Runs ``--replicates`` replicates of a scenario (at ``--scale``, default the scenario's) with a timer around
each method listed in ``SECTIONS`` and prints, per method, the total seconds, the calls and the milliseconds
per call. Nested sections are counted in each (``Northward.step`` includes ``Northward._decide``); the timers
add a little to every call, so the total is somewhat above an untimed run's. A method the code does not have
is skipped (for running it on an earlier tree with ``PYTHONPATH``).

Usage (from the repository root, the package installed)::

    python benchmarks/bench_sections.py scenarios/baseline_1960_1962.yaml --scale 1.0
    python benchmarks/bench_sections.py benchmarks/calibration_size.yaml --replicates 5
"""

from __future__ import annotations

import argparse
import collections
import importlib
import time

SECTIONS = {
    "bordersim.model.model:BorderModel": ["_scheduled_transitions", "arrive_at_river", "_switch_rules", "_seed_rumours"],
    "bordersim.model.households:HouseholdDecision": ["update_hazards", "refresh", "fire", "intend", "choose_route", "set_off"],
    "bordersim.model.border:Border": ["cross"],
    "bordersim.model.rumours:RumourNetwork": ["week"],
    "bordersim.model.border:Corpses": ["step", "drowned"],
    "bordersim.model.settlement:SettlementAgent": ["step", "receive", "decide", "return_home"],
    "bordersim.model.authorities:ChineseAuthorities": [
        "travel_applications",
        "issue_letters",
        "marriage_crossings",
        "visits_end",
    ],
    "bordersim.model.recorder:Recorder": ["take_stock"],
    "bordersim.model.north:Northward": [
        "step",
        "_beliefs",
        "_hazards",
        "_schedule_firing",
        "_day",
        "_decide",
        "_in_china",
        "_visits_end",
    ],
    "bordersim.model.china_police:ChinaPolice": ["step"],
    "bordersim.model.korean_nationals:KoreanNationals": ["step"],
}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("scenario")
    ap.add_argument("--scale", type=float)
    ap.add_argument("--replicates", type=int, default=1)
    args = ap.parse_args(argv)
    from bordersim.experiments.replicates import replicate_seeds, run_replicate
    from bordersim.world.loader import load_scenario

    spent: collections.Counter = collections.Counter()
    calls: collections.Counter = collections.Counter()

    def timed(label, f):
        def g(*a, **k):
            t = time.perf_counter()
            try:
                return f(*a, **k)
            finally:
                spent[label] += time.perf_counter() - t
                calls[label] += 1

        return g

    for where, names in SECTIONS.items():
        module, cls_name = where.split(":")
        cls = getattr(importlib.import_module(module), cls_name)
        for name in names:
            if hasattr(cls, name):
                setattr(cls, name, timed(f"{cls_name}.{name}", getattr(cls, name)))
    sc = load_scenario(args.scenario)
    if args.scale:
        sc = sc.model_copy(update={"run": sc.run.model_copy(update={"scale": args.scale})})
    seconds = [run_replicate(sc, s, i).summary["seconds"] for i, s in enumerate(replicate_seeds(sc.run.seed, args.replicates))]
    print(f"replicate_seconds {', '.join(f'{x:.2f}' for x in seconds)} (timed)")
    for label, v in spent.most_common():
        print(f"{label:40s} {v:7.3f} s {calls[label]:7d} calls {1e3 * v / calls[label]:8.3f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
