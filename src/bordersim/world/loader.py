"""Loading scenarios: YAML files, ``extends:`` chains, command-line overrides, ablations, validation.

``load_scenario(path)`` reads the file with ``yaml.safe_load``, follows ``extends:``, merges
overrides, switches off ablated mechanisms and validates the result against
:mod:`bordersim.world.scenario`. Validation also loads every rule set of the timeline from the one
rule search path (:func:`bordersim.world.rules.rule_search_path`: ``rules/`` beside the scenario and
beside each file it extends, then the library), checks that the targets file is a YAML file, and
reads the posterior: a Parquet table whose every column is a field of this scenario and whose
values the scenario's schema accepts. So a scenario that validates also runs.

Relative paths (``targets``, ``posterior.file``) are relative to the file that wrote them: a path
inherited through ``extends:`` is rewritten relative to the file that extends it, through any chain.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path

import numpy as np
from pydantic import ValidationError

from ..errors import ScenarioError, from_validation
from ..io import read_yaml
from .ablations import ablate
from .paths import set_path
from .rules import deep_merge, load_rule_set, rule_search_path
from .scenario import Scenario

#: The fields of a scenario that hold a path (relative to the file that sets them).
PATH_FIELDS = (("targets",), ("posterior", "file"))


def load_scenario(path: str | Path, overrides: dict | None = None, ablations: list[str] | None = None) -> Scenario:
    """Read and validate a scenario file; ``overrides`` (nested dict) is merged first (e.g. from the CLI)."""
    path = Path(path)
    data = read_with_extends(path)
    if overrides:
        data = deep_merge(data, overrides)
    if ablations:
        data = ablate(data, ablations)
    return validate_scenario(data, path)


def _rebase_paths(data: dict, base_dir: Path, new_dir: Path) -> None:
    """Rewrite the relative paths of ``data`` (written in ``base_dir``) relative to ``new_dir``, in place."""
    for field in PATH_FIELDS:
        node = data
        for key in field[:-1]:
            node = node.get(key) if isinstance(node, dict) else None
        value = node.get(field[-1]) if isinstance(node, dict) else None
        if isinstance(value, str) and value and not os.path.isabs(value):
            node[field[-1]] = os.path.relpath(base_dir / value, new_dir)


def read_with_extends(path: Path, _seen: tuple = ()) -> dict:
    """Read a scenario file; ``extends: other.yaml`` deep-merges this file over that one.

    Mappings merge key by key; lists (rations, rules, ...) are replaced whole. Every relative path
    the base wrote (``targets``, ``posterior.file``) is rewritten relative to this file, so it still
    names the same file, however long the chain.
    """
    path = Path(path)
    if path.resolve() in _seen:
        raise ScenarioError(path, f"extends: circular chain {' -> '.join(str(p) for p in _seen + (path,))}")
    data = read_yaml(path)
    base_ref = data.pop("extends", None)
    if base_ref is None:
        return data
    if not isinstance(base_ref, str) or not base_ref.strip():
        raise ScenarioError(path, "extends: expected the path of a scenario file")
    base_path = path.parent / base_ref
    if not base_path.is_file():
        raise ScenarioError(path, f"extends: {'not a file' if base_path.exists() else 'file not found'}: {base_path}")
    try:
        base = read_with_extends(base_path, _seen + (path.resolve(),))
    except ScenarioError as err:  # the error is in the base (or further up): name this file first
        raise ScenarioError(path, f"extends: {err}") from None
    _rebase_paths(base, base_path.parent, path.parent)
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
        if not tp.is_file():
            raise ScenarioError(path, f"targets: {'not a file' if tp.exists() else 'file not found'}: {tp}")
        try:
            read_yaml(tp)
        except ScenarioError as err:
            raise ScenarioError(path, f"targets: {err}") from None
    if sc.posterior is not None:
        check_posterior(sc, path)
    return sc


# -- the posterior ----------------------------------------------------------------------------------
_POSTERIORS: dict[tuple, object] = {}


def read_posterior(path: Path) -> dict[str, np.ndarray]:
    """The last generation of a posterior table (Parquet, from ``bordersim calibrate``), checked and cached:
    ``{column: values}`` with ``weight`` and one column per scenario path (read with pyarrow alone, so that
    ``bordersim validate`` does not load pandas).

    A one-line ScenarioError naming the file if it is not a Parquet table with ``generation``,
    ``weight`` (finite, not negative, not all zero) and numeric, finite parameter columns.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(path)
    key = (str(path.resolve()), path.stat().st_mtime_ns)
    if key in _POSTERIORS:
        return _POSTERIORS[key]
    try:
        table = pq.ParquetFile(path).read()  # not read_table: it loads pyarrow.dataset (0.25 s)
    except Exception as exc:  # pyarrow raises its own types for a file that is not Parquet
        raise ScenarioError(path, f"not a Parquet table ({type(exc).__name__}): write it with `bordersim calibrate`") from None
    names = [c for c in table.column_names if not c.startswith("__")]  # pandas' index columns
    missing = [c for c in ("generation", "weight") if c not in names]
    if missing:
        raise ScenarioError(path, f"no {' or '.join(missing)} column (a posterior from `bordersim calibrate` has both)")
    params = [c for c in names if c not in ("generation", "weight")]
    if not params:
        raise ScenarioError(path, "no parameter columns (one column per scenario path, e.g. parameters.rate_rumour)")
    cols = {}
    for c in ["generation", "weight", *params]:
        kind = table.schema.field(c).type
        if not (pa.types.is_integer(kind) or pa.types.is_floating(kind)):
            raise ScenarioError(path, f"column {c!r}: expected numbers, got {kind}")
        cols[c] = np.array(table.column(c).to_pylist(), dtype=float)  # not to_numpy: it loads pandas (0.25 s)
    gen = cols.pop("generation")
    if len(gen) == 0:
        raise ScenarioError(path, "no particles (the table is empty)")
    last = {c: v[gen == np.nanmax(gen)] if np.isfinite(gen).any() else v[:0] for c, v in cols.items()}
    if len(last["weight"]) == 0 or not all(np.isfinite(v).all() for v in last.values()):
        raise ScenarioError(path, "the last generation has a missing or infinite value")
    if (last["weight"] < 0).any() or last["weight"].sum() <= 0:
        raise ScenarioError(path, "weight: weights must be zero or more and not all zero")
    _POSTERIORS.clear()  # one posterior at a time is the common case; keep memory flat
    _POSTERIORS[key] = last
    return last


def posterior_values(table: dict[str, np.ndarray], row: int) -> dict[str, float]:
    """Parameter values of one particle (row) of a posterior table."""
    return {c: float(v[row]) for c, v in table.items() if c != "weight"}


def apply_posterior_values(sc: Scenario, values: dict[str, float]) -> dict:
    """The scenario as a raw dict with ``values`` (posterior column -> value) set, and its posterior removed."""
    d = sc.model_dump(mode="json", by_alias=True, exclude_none=True)
    d.pop("posterior")
    for c, v in values.items():
        set_path(d, c, v)
    return d


def check_posterior(sc: Scenario, path: str | Path) -> None:
    """The posterior file exists, is a posterior, and its smallest and largest values fit the scenario."""
    pp = Path(path).parent / sc.posterior.file
    if not pp.is_file():
        what = "not a file" if pp.exists() else "file not found"
        raise ScenarioError(path, f"posterior.file: {what}: {pp} (run `bordersim calibrate calibration/calibrate.yaml`)")
    try:
        table = read_posterior(pp)
    except ScenarioError as err:
        raise ScenarioError(path, f"posterior.file: {err}") from None
    cols = [c for c in table if c != "weight"]
    base = sc.model_dump(mode="json", by_alias=True, exclude_none=True)  # dumped once (pydantic's dump is the cost)
    base.pop("posterior")
    base.pop("targets", None)  # checked above
    for extreme in ("min", "max"):
        d = copy.deepcopy(base)
        for c in cols:
            try:
                set_path(d, c, float(getattr(table[c], extreme)()))
            except ValueError as err:
                raise ScenarioError(path, f"posterior.file: column {c!r} is not a field of this scenario: {err}") from None
        try:
            validate_scenario(d, path)
        except ScenarioError as err:
            raise ScenarioError(path, f"posterior.file: {pp}: its {extreme}imum values do not fit: {err.message}") from None
