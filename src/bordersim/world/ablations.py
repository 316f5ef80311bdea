"""Ablations: the mechanisms a run can switch off (``bordersim run --ablate M``, ``bordersim ablations``).

Kept apart from the loader, with no dependency, so that the command line can list them without
building the scenario schema.
"""

from __future__ import annotations

import copy

from ..errors import ScenarioError

#: Mechanisms that ``--ablate`` can switch off, and how (pattern-oriented testing).
ABLATIONS = {
    "rumours": "no rumour seeds, no rumour channel, no letters from settled crossers (Docs 4 (2), 5 (3))",
    "kin": "no household has kin in the DPRK: no food-and-kin or proper-reason channel, no authorization letters (Docs 4, 6)",
    "interception": "guards make no effort: nobody is discovered or stopped (Docs 3, 5, 6)",
    "allowance": "the DPRK pays no settling-in allowance (Docs 3, 5)",
    "north": "no households on the DPRK side and no Korean nationals in China (issue 15): southward measures unchanged",
}


def _section(d: dict, key: str) -> dict:
    """``d[key]`` as a mapping to change (created if missing; a throwaway if it is not a mapping: validation says so)."""
    value = d.setdefault(key, {})
    return value if isinstance(value, dict) else {}


def ablate(data: dict, mechanisms: list[str]) -> dict:
    """Return a copy of a raw scenario dict with the named mechanisms switched off."""
    d = copy.deepcopy(data)
    for mech in mechanisms:
        if mech not in ABLATIONS:
            raise ScenarioError("--ablate", f"unknown mechanism {mech!r} (known: {', '.join(ABLATIONS)})")
        params, world, over = _section(d, "parameters"), _section(d, "world"), _section(d, "rule_overrides")
        if mech == "rumours":
            world["rumour_seeds"] = []
            params.update(rate_rumour=0.0, travel_rate_rumour=0.0, letter_send_rate=0.0)
        elif mech == "kin":
            _section(d, "population").update(kin_share=0.0, kin_share_liaoning=0.0, nk_national_share=0.0)
        elif mech == "interception":
            world["interception"] = [{"from": _section(d, "run").get("start", "1900-01-01"), "region": "china", "effort": 0.0}]
            _section(over, "china")["interception_multiplier"] = 0.0
        elif mech == "allowance":
            _section(over, "dprk")["allowance_yuan_per_labourer"] = 0.0
        elif mech == "north":
            d.setdefault("population", {}).setdefault("north", {}).update(persons={}, korean_nationals={})
    if mechanisms:
        d["name"] = f"{d.get('name', 'scenario')}-no_{'-no_'.join(mechanisms)}"
    return d
