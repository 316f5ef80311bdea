"""Compile the model's passes once, into numba's cache, before the suite's processes start (see conftest).

A cold cache is compiled by every process that starts before it is written: both xdist workers and every
``bordersim`` subprocess a test starts meanwhile (the CLI's, the calibration's and the sweep's workers). Run here
first, they all load it instead. Two months of the small scenario call every compiled pass of both directions.

``python -m tests.warm_cache south`` compiles the southward day only (the northward day a no-op), ``north`` the
northward day and the rest of the southward day but its scheduled transitions: run side by side, the two
compile the passes in about half the time of one process (numba compiles one function at a time), and the
union of what they cache is what a whole run compiles (``all``, the default).
"""

from __future__ import annotations

import sys


def main(part: str = "all") -> int:
    from bordersim.model import BorderModel
    from bordersim.world.loader import validate_scenario

    from .conftest import small_scenario_dict

    model = BorderModel(validate_scenario(small_scenario_dict(end="1960-11-30")))
    if part == "south":
        model.north.step = lambda *args: None
    elif part == "north":
        model._scheduled_transitions = lambda: None
    model.run()
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
