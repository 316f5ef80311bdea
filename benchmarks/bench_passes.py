"""The weekly passes over every household at full scale, one by one: milliseconds per call.

Builds the baseline at scale 1.0, runs 100 days, then times each pass ``--calls`` times on that state (after
one warm-up call, so that compiled code is loaded): the weekly belief update, the clocks' update, the
northward beliefs, channels and firing calendar, the month-end stocks. Run it with ``PYTHONPATH`` on an
earlier tree's ``src`` to time the code before a change (a pass the earlier code does not have is skipped).

Usage (from the repository root, the package installed)::

    python benchmarks/bench_passes.py
    git archive 3014728 | tar -x -C /tmp/before && PYTHONPATH=/tmp/before/src python benchmarks/bench_passes.py
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=30)
    args = ap.parse_args(argv)
    import bordersim
    from bordersim.model import BorderModel
    from bordersim.world.loader import load_scenario

    sc = load_scenario(ROOT / "scenarios" / "baseline_1960_1962.yaml")
    sc = sc.model_copy(update={"run": sc.run.model_copy(update={"scale": 1.0})})
    m = BorderModel(sc, rng=1)
    for _ in range(100):
        m.step()
    hh, p, ctx, nw = m.households, m.params, m.ctx, m.north
    rebuttal = ctx.rebuttal_leaf[hh.leaf]
    passes = {
        "rumours.weekly_update": lambda: m.rumours.weekly_update(hh, m.today, p.contact_weight, p.belief_decay, rebuttal),
        "decision.update_hazards": lambda: m.decision.update_hazards(ctx, m.today),
        "north._beliefs": lambda: nw._beliefs(m.today),
        "north._hazards": lambda: nw._hazards(m.today, m.rules.northward, ctx),
        "north._schedule_firing": lambda: nw._schedule_firing(m.today),
        "recorder.take_stock": lambda: m.recorder.take_stock(hh, ctx),
    }
    print(f"bordersim from {Path(bordersim.__file__).parent}")
    for name, f in passes.items():
        try:
            f()
        except AttributeError:
            print(f"{name:26s} (not in this code)")
            continue
        t = time.perf_counter()
        for _ in range(args.calls):
            f()
        print(f"{name:26s} {(time.perf_counter() - t) / args.calls * 1e3:7.2f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
