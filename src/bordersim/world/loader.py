"""Loading scenarios: YAML files, ``extends:`` chains, command-line overrides, ablations, validation.

``load_scenario(path)`` reads the file with ``yaml.safe_load``, follows ``extends:``, merges
overrides, switches off ablated mechanisms and validates the result against
:mod:`bordersim.world.scenario`. Validation also loads every rule set of the timeline from the one
rule search path (:func:`bordersim.world.rules.rule_search_path`: ``rules/`` beside the scenario,
then the library) and checks that the targets and posterior files exist.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import ValidationError

from ..errors import ScenarioError, from_validation
from ..io import read_yaml
from .ablations import ablate
from .rules import deep_merge, load_rule_set, rule_search_path
from .scenario import Scenario


#: Mechanisms that ``--ablate`` can switch off, and how (pattern-oriented testing).
def load_scenario(path: str | Path, overrides: dict | None = None, ablations: list[str] | None = None) -> Scenario:
    """Read and validate a scenario file; ``overrides`` (nested dict) is merged first (e.g. from the CLI)."""
    path = Path(path)
    data = read_with_extends(path)
    if overrides:
        data = deep_merge(data, overrides)
    if ablations:
        data = ablate(data, ablations)
    return validate_scenario(data, path)


def read_with_extends(path: Path, _seen: tuple = ()) -> dict:
    """Read a scenario file; ``extends: other.yaml`` deep-merges this file over that one.

    Mappings merge key by key; lists (rations, rules, ...) are replaced whole. A ``targets`` path
    inherited from the base is rewritten relative to this file.
    """
    path = Path(path)
    if path.resolve() in _seen:
        raise ScenarioError(path, f"extends: circular chain {' -> '.join(str(p) for p in _seen + (path,))}")
    data = read_yaml(path)
    base_ref = data.pop("extends", None)
    if base_ref is None:
        return data
    if not isinstance(base_ref, str):
        raise ScenarioError(path, "extends: expected the path of a scenario file")
    base_path = path.parent / base_ref
    if not base_path.exists():
        raise ScenarioError(path, f"extends: file not found: {base_path}")
    base = read_with_extends(base_path, _seen + (path.resolve(),))
    if "targets" in base and "targets" not in data and base["targets"]:
        base["targets"] = os.path.relpath(base_path.parent / base["targets"], path.parent)
    merged = deep_merge(base, data)
    merged["extends"] = str(base_path)
    return merged


def validate_scenario(data: dict, path: str | Path | None = None) -> Scenario:
    """Validate a raw scenario dict read from ``path`` (paths inside it are relative to that file)."""
    source = None if path is None else str(path)
    path = "<scenario>" if path is None else path
    try:
        sc = Scenario.model_validate(data)
    except ValidationError as err:
        raise from_validation(path, err) from None
    sc._source = source
    # Rule sets must exist (in the one search path the model uses too) and overrides must be valid for each.
    search = rule_search_path(source)
    for name in sc.rule_set_overrides:
        try:
            load_rule_set(name, sc.overrides_for(name), search=search)
        except ScenarioError as err:
            raise ScenarioError(
                path, f"rule_set_overrides.{name}: {err.message if err.path.startswith('rule set') else err}"
            ) from None
    for i, sw in enumerate(sc.rules):
        try:
            load_rule_set(sw.use, sc.overrides_for(sw.use), search=search)
        except ScenarioError as err:
            raise ScenarioError(path, f"rules[{i}].use: {err.message if err.path.startswith('rule set') else err}") from None
    if sc.rules[0].from_ > sc.run.start:
        raise ScenarioError(path, f"rules[0].from: the first rule set must start on or before run.start ({sc.run.start})")
    if sc.targets is not None:
        tp = Path(path).parent / sc.targets
        if not tp.exists():
            raise ScenarioError(path, f"targets: file not found: {tp}")
    if sc.posterior is not None:
        pp = Path(path).parent / sc.posterior.file
        if not pp.exists():
            raise ScenarioError(path, f"posterior.file: file not found: {pp} (run `bordersim calibrate calibration/abc.yaml`)")
    return sc
