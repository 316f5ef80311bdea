"""Parameter sweeps: designs, a crash-proof run ledger, local or dask execution, combined results, figures.

A sweep file (YAML) names a base scenario, the varied factors (policy *levers* and *uncertainties*,
in EMA Workbench's vocabulary; NetLogo BehaviorSpace calls both "variables"), a design (full factorial
grid, Latin hypercube, quasi-random Sobol sequence, Saltelli's Sobol design, Morris trajectories),
replicates per point and the *outcomes* to record. Every factor is a dotted path into the scenario
(``parameters.rate_rumour``, ``rule_overrides.china.interception_multiplier``,
``world.rations[1].catties``), so any scenario field can be swept and every value is checked by the
scenario schema.

Run ``i`` of a sweep is a pure function of the sweep and ``i``: its point is ``i // replicates``, its
replicate ``i % replicates`` and its seed ``SeedSequence(seed, spawn_key=(i,))`` (the ``i``-th child
of ``SeedSequence(seed).spawn``). Results are therefore identical whatever executes the runs (this
process, a process pool, a dask cluster) and in whatever order they finish.

The coordinator (this process) keeps the ledger (``ledger.sqlite``, see :mod:`bordersim.ledger`) and
writes each finished run's outcomes to ``runs/<key[:2]>/<key>.parquet`` atomically before marking it
``done``. Re-running the same command on the same directory runs only what is not done.
"""

from __future__ import annotations

import concurrent.futures as cf
import copy
import hashlib
import itertools
import json
import math
import os
import re
import socket
import sys
import time
import traceback
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from . import __version__
from .atomic import write_parquet, write_text
from .errors import ScenarioError, from_validation
from .ledger import Ledger, PlannedRun, utc_now

DESIGNS = ("grid", "lhs", "qmc", "sobol", "morris")
RESULT_COLUMNS = ["run_id", "point_id", "replicate", "outcome", "value"]
SERIES_COLUMNS = ["run_id", "point_id", "replicate", "outcome", "period", "value"]
_RESERVED = {"run_id", "point_id", "replicate", "outcome", "period", "value", "status", "run_key", "seed"}
_MONTH = re.compile(r"^\d{4}-\d{2}$")


# ================================================================================================
# The sweep file
# ================================================================================================


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class FactorSpec(_Spec):
    """One varied factor: a scenario path and either ``values``, a ``range`` or posterior ``draws``."""

    #: Dotted path(s) into the scenario; ``[i]`` indexes a list (``world.rations[1].catties``).
    path: str | list[str] | None = None
    #: Discrete or categorical values (numbers, strings, booleans, lists, mappings).
    values: list[Any] | None = None
    #: Labels for the values in tables and figures (default: the values themselves).
    labels: list[str] | None = None
    #: Continuous range [low, high]; a grid needs ``levels``.
    range: list[float] | None = None
    levels: int | None = Field(default=None, ge=2)
    scale: Literal["linear", "log"] = "linear"
    integer: bool = False
    #: A table of posterior draws (CSV or Parquet; columns are scenario paths, one row per draw).
    draws: str | None = None
    #: Use ``n`` draws (default: all): the first n, or n resampled by weight from a weighted posterior.
    n: int | None = Field(default=None, ge=1)
    description: str = ""

    @model_validator(mode="after")
    def _kind(self):
        given = [k for k in ("values", "range", "draws") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of 'values', 'range' or 'draws'")
        if self.draws is None and not self.path:
            raise ValueError("'path' is required (a dotted path into the scenario)")
        if self.draws is not None and self.path:
            raise ValueError("'draws' sets the paths named by its columns; do not give 'path'")
        if self.values is not None and len(self.values) == 0:
            raise ValueError("'values' is empty")
        if self.labels is not None and (self.values is None or len(self.labels) != len(self.values)):
            raise ValueError("'labels' needs one label per value")
        if self.range is not None:
            if len(self.range) != 2 or not self.range[0] < self.range[1]:
                raise ValueError("'range' must be [low, high] with low < high")
            if self.scale == "log" and self.range[0] <= 0:
                raise ValueError("a log-scaled range must be positive")
        if self.levels is not None and self.range is None:
            raise ValueError("'levels' goes with 'range'")
        return self


class DesignSpec(_Spec):
    """How points are chosen. ``samples``: points (lhs, qmc), base samples N (sobol), trajectories (morris)."""

    type: Literal["grid", "lhs", "qmc", "sobol", "morris"] = "grid"
    samples: int | None = Field(default=None, ge=1)
    #: Morris: levels of the grid the trajectories move on.
    levels: int = Field(default=4, ge=2)
    #: Sobol (Saltelli): also second-order indices (N * (2D + 2) points instead of N * (D + 2)).
    second_order: bool = False
    scramble: bool = True

    @model_validator(mode="after")
    def _samples(self):
        if self.type != "grid" and self.samples is None:
            raise ValueError(f"design {self.type!r} needs 'samples'")
        if self.type == "grid" and self.samples is not None:
            raise ValueError("a grid takes no 'samples' (give each factor 'values' or 'range' with 'levels')")
        return self


class CrossedDesign(_Spec):
    """EMA Workbench style: every policy (lever point) under every scenario (uncertainty point)."""

    levers: DesignSpec
    uncertainties: DesignSpec


class OutcomeSpec(_Spec):
    """A named total (a measure over a region and months) or a monthly series."""

    name: str
    measure: str
    region: str = "china"
    from_: str | None = Field(default=None, alias="from")
    to: str | None = None
    #: A single month (a stock at that month end; or a flow in that month).
    at: str | None = None
    #: How months are combined: sum (default for flows), last (default for stocks), mean, max, min.
    stat: Literal["sum", "mean", "max", "min", "last"] | None = None
    #: Record the monthly series instead of a total.
    series: bool = False

    @field_validator("from_", "to", "at", mode="before")
    @classmethod
    def _month(cls, v):
        if v is None:
            return v
        if hasattr(v, "year") and hasattr(v, "month"):
            return f"{v.year:04d}-{v.month:02d}"
        if isinstance(v, str) and _MONTH.match(v):
            return v
        raise ValueError(f"expected a month YYYY-MM, got {v!r}")

    @model_validator(mode="after")
    def _check(self):
        from .geography import TREE
        from .observation import MEASURES

        if self.measure not in MEASURES:
            raise ValueError(f"unknown measure {self.measure!r} (see `bordersim measures`)")
        if not TREE.is_valid(self.region):
            raise ValueError(f"unknown region {self.region!r} (known: {', '.join(TREE.node_ids)})")
        if self.at is not None and (self.from_ is not None or self.to is not None):
            raise ValueError("give either 'at' or 'from'/'to'")
        if self.series and (self.at is not None or self.stat is not None):
            raise ValueError("a series takes no 'at' or 'stat'")
        if self.from_ and self.to and self.to < self.from_:
            raise ValueError(f"'to' ({self.to}) is before 'from' ({self.from_})")
        return self

    @property
    def unit(self) -> str:
        from .observation import MEASURES

        return MEASURES[self.measure][0]

    @property
    def effective_stat(self) -> str:
        from .observation import MEASURES

        if self.stat:
            return self.stat
        return "last" if MEASURES[self.measure][1] == "stock" else "sum"

    def describe(self) -> str:
        when = f"at {self.at}" if self.at else f"{self.from_ or 'start'} to {self.to or 'end'}"
        kind = "monthly" if self.series else self.effective_stat
        return f"{self.measure}, {self.region}, {when} ({kind}, {self.unit})"


class SweepSpec(_Spec):
    name: str
    description: str = ""
    #: Base scenario, relative to the sweep file.
    scenario: str
    #: Fixed changes to the base scenario for every run: dotted path -> value (e.g. ``run.scale: 0.1``).
    constants: dict[str, Any] = Field(default_factory=dict)
    #: Sweep seed (default: the base scenario's run.seed).
    seed: int | None = Field(default=None, ge=0)
    replicates: int = Field(default=1, ge=1)
    #: ``independent``: run i's seed is child i of the sweep seed; ``common``: replicate r uses child r at
    #: every point (common random numbers: differences between points are not blurred by seed noise).
    seeds: Literal["independent", "common"] = "independent"
    design: DesignSpec | CrossedDesign = DesignSpec()
    levers: dict[str, FactorSpec] = Field(default_factory=dict)
    uncertainties: dict[str, FactorSpec] = Field(default_factory=dict)
    outcomes: list[OutcomeSpec]
    #: Seconds a run may take before it is failed (enforced in local process-pool workers).
    timeout: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _names(self):
        if not self.levers and not self.uncertainties:
            raise ValueError("no factors: give 'levers' and/or 'uncertainties'")
        both = set(self.levers) & set(self.uncertainties)
        if both:
            raise ValueError(f"factor names used twice: {', '.join(sorted(both))}")
        bad = (set(self.levers) | set(self.uncertainties)) & _RESERVED
        if bad:
            raise ValueError(f"reserved factor names: {', '.join(sorted(bad))}")
        names = [o.name for o in self.outcomes]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"outcome names used twice: {', '.join(dup)}")
        if not self.outcomes:
            raise ValueError("no outcomes")
        if isinstance(self.design, CrossedDesign) and (not self.levers or not self.uncertainties):
            raise ValueError("a crossed design needs both levers and uncertainties")
        return self


# ================================================================================================
# Paths into the scenario
# ================================================================================================

_TOKEN = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]")


def parse_path(path: str) -> list[str | int]:
    """``world.rations[1].catties`` -> ``['world', 'rations', 1, 'catties']``."""
    tokens: list[str | int] = []
    for part in path.split("."):
        if not part:
            raise ValueError(f"bad path {path!r}: empty component")
        i = 0
        first = True
        while i < len(part):
            m = _TOKEN.match(part, i)
            if not m or (first and m.group(1) is None) or (not first and m.group(1) is not None):
                raise ValueError(f"bad path {path!r} at {part[i:]!r} (expected name, name[i] or name.name)")
            tokens.append(m.group(1) if m.group(1) is not None else int(m.group(2)))
            i = m.end()
            first = False
    return tokens


def set_path(data: dict, path: str, value: Any) -> None:
    """Set ``value`` at a dotted path in a nested dict/list, creating missing mappings."""
    tokens = parse_path(path)
    node: Any = data
    for j, tok in enumerate(tokens):
        last = j == len(tokens) - 1
        where = _render(tokens[:j]) or "(top level)"
        if isinstance(tok, int):
            if not isinstance(node, list):
                raise ValueError(f"{where} is not a list, cannot index [{tok}]")
            if tok >= len(node):
                raise ValueError(f"{where} has {len(node)} entries, no [{tok}]")
            if last:
                node[tok] = value
            else:
                node = node[tok]
        else:
            if not isinstance(node, dict):
                raise ValueError(f"{where} is not a mapping, cannot set {tok!r}")
            if last:
                node[tok] = value
            else:
                if node.get(tok) is None:
                    node[tok] = [] if isinstance(tokens[j + 1], int) else {}
                node = node[tok]


def _render(tokens: list) -> str:
    out = ""
    for t in tokens:
        out += f"[{t}]" if isinstance(t, int) else ("." if out else "") + t
    return out


# ================================================================================================
# Factors and designs
# ================================================================================================


def _py(v: Any) -> Any:
    """numpy scalars to Python scalars (YAML/JSON friendly)."""
    if isinstance(v, np.generic):
        return v.item()
    return v


def _label(v: Any) -> str:
    v = _py(v)
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, (str, int, bool)):
        return str(v)
    if isinstance(v, list) and v and all(isinstance(x, dict) and "use" in x for x in v):
        return "+".join(str(x["use"]) for x in v)  # a rule timeline
    return json.dumps(v, default=str, separators=(",", ":"))


@dataclass
class Factor:
    name: str
    role: str  # "lever" | "uncertainty"
    spec: FactorSpec
    paths: list[str]
    #: For discrete factors: the values (for draws: dicts path -> value).
    values: list[Any] | None = None
    labels: list[str] | None = None

    @property
    def kind(self) -> str:
        if self.spec.draws is not None:
            return "draws"
        return "continuous" if self.spec.range is not None else "discrete"

    @property
    def numeric(self) -> bool:
        if self.kind == "continuous":
            return True
        if self.kind == "draws":
            return False
        return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in self.values)

    def grid_values(self) -> list[Any]:
        if self.kind == "continuous":
            if self.spec.levels is None:
                raise ValueError("a grid needs 'levels' for a range")
            lo, hi = self.spec.range
            xs = np.geomspace(lo, hi, self.spec.levels) if self.spec.scale == "log" else np.linspace(lo, hi, self.spec.levels)
            return [self._finish(min(max(x, lo), hi)) for x in xs]
        return list(self.values)

    def _finish(self, x: float) -> Any:
        return int(round(float(x))) if self.spec.integer else float(x)

    def from_unit(self, u: float) -> Any:
        """Map u in [0, 1] to a value (uniform over the range, or over the discrete values)."""
        if self.kind == "continuous":
            lo, hi = self.spec.range
            x = math.exp(math.log(lo) + u * (math.log(hi) - math.log(lo))) if self.spec.scale == "log" else lo + u * (hi - lo)
            return self._finish(min(max(x, lo), hi))
        k = len(self.values)
        return self.values[min(int(math.floor(u * k)), k - 1)]

    def extremes(self) -> list[Any]:
        """Values checked against the scenario schema before the sweep starts."""
        if self.kind == "continuous":
            return [self.from_unit(0.0), self.from_unit(1.0)] + (self.grid_values() if self.spec.levels else [])
        return list(self.values)

    def label_of(self, value: Any) -> str:
        if self.values is not None and self.labels is not None:
            for v, lab in zip(self.values, self.labels):
                if v == value:
                    return lab
        return _label(value)

    def apply(self, data: dict, value: Any) -> None:
        if self.kind == "draws":
            for p, v in value.items():
                set_path(data, p, v)
        else:
            for p in self.paths:
                set_path(data, p, copy.deepcopy(value))


def _read_draws(path: Path, n: int | None, seed: int) -> tuple[list[dict], list[str]]:
    """Rows of a draws table (columns: scenario paths). A weighted posterior (``weight``, and ``generation``
    as written by ``bordersim calibrate``) is reduced to its last generation and resampled by weight
    (systematic resampling, seeded by the sweep seed), so that its rows are equally likely."""
    if not path.exists():
        raise ValueError(f"draws file not found: {path}")
    df = pd.read_parquet(path) if path.suffix in (".parquet", ".pq") else pd.read_csv(path)
    if "generation" in df.columns:
        df = df[df.generation == df.generation.max()].drop(columns="generation")
    weights = df.pop("weight").to_numpy(float) if "weight" in df.columns else None
    df = df.drop(columns=[c for c in ("draw", "chain", "iteration", "log_likelihood", "log_posterior") if c in df.columns])
    df = df.reset_index(drop=True)
    if df.empty:
        raise ValueError(f"draws file {path} has no rows")
    if weights is not None:
        if not (np.isfinite(weights).all() and (weights >= 0).all() and weights.sum() > 0):
            raise ValueError(f"draws file {path}: weights must be finite, non-negative and not all zero")
        k = n or len(df)
        rng = np.random.default_rng(np.random.SeedSequence([seed, 0xD4A5]))
        cum = np.cumsum(weights / weights.sum())
        idx = np.searchsorted(cum, (rng.random() + np.arange(k)) / k, side="right").clip(0, len(df) - 1)
        df = df.iloc[idx].reset_index(drop=True)
        labels = [f"particle {i}" for i in idx]
    else:
        if n is not None:
            df = df.head(n)
        labels = [f"draw {i}" for i in range(len(df))]
    for c in df.columns:
        parse_path(c)
    return [{c: _py(v) for c, v in row.items()} for row in df.to_dict(orient="records")], labels


def _unit_design(d: DesignSpec, n_factors: int, rng_seed: np.random.SeedSequence, names: list[str]) -> np.ndarray:
    """A design in the unit hypercube, one row per point."""
    rng = np.random.default_rng(rng_seed)
    if d.type == "lhs":
        from scipy.stats import qmc

        return qmc.LatinHypercube(d=n_factors, rng=rng).random(d.samples)
    if d.type == "qmc":
        from scipy.stats import qmc

        m = int(math.ceil(math.log2(d.samples)))
        return qmc.Sobol(d=n_factors, scramble=d.scramble, rng=rng).random_base2(m)[: d.samples]
    problem = {"num_vars": n_factors, "names": names, "bounds": [[0.0, 1.0]] * n_factors}
    seed = int(rng.integers(0, 2**31 - 1))
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if d.type == "sobol":
            from SALib.sample import sobol

            return sobol.sample(problem, d.samples, calc_second_order=d.second_order, scramble=d.scramble, seed=seed)
        if d.type == "morris":
            from SALib.sample import morris

            return morris.sample(problem, d.samples, num_levels=d.levels, seed=seed)
    raise ValueError(f"unknown design {d.type!r}")


def _points_for(d: DesignSpec, factors: list[Factor], seed_seq: np.random.SeedSequence) -> tuple[list[list[Any]], np.ndarray | None]:
    """(values per point, unit design or None for a grid) for one group of factors."""
    if d.type == "grid":
        grids = [f.grid_values() for f in factors]
        return [list(c) for c in itertools.product(*grids)], None
    U = _unit_design(d, len(factors), seed_seq, [f.name for f in factors])
    return [[f.from_unit(float(u)) for f, u in zip(factors, row)] for row in U], U


# ================================================================================================
# A loaded sweep
# ================================================================================================


@dataclass
class Sweep:
    spec: SweepSpec
    source: Path
    scenario_path: Path
    base: dict
    factors: list[Factor]
    seed: int
    points: list[list[Any]]
    #: The unit-hypercube design (rows = points) for sampled designs; None for grids and crossed designs.
    unit: np.ndarray | None
    fingerprint: str
    _keys: list[str] | None = field(default=None, repr=False)

    @property
    def n_points(self) -> int:
        return len(self.points)

    @property
    def n_runs(self) -> int:
        return self.n_points * self.spec.replicates

    @property
    def levers(self) -> list[Factor]:
        return [f for f in self.factors if f.role == "lever"]

    @property
    def design_type(self) -> str:
        d = self.spec.design
        return d.type if isinstance(d, DesignSpec) else f"crossed({d.levers.type} x {d.uncertainties.type})"

    def point_of(self, run_id: int) -> tuple[int, int]:
        return divmod(run_id, self.spec.replicates)

    def seed_of(self, run_id: int) -> np.random.SeedSequence:
        point, rep = self.point_of(run_id)
        child = rep if self.spec.seeds == "common" else run_id
        return np.random.SeedSequence(self.seed, spawn_key=(child,))

    def params_of(self, point_id: int) -> dict[str, Any]:
        return {f.name: v for f, v in zip(self.factors, self.points[point_id])}

    def scenario_dict(self, point_id: int) -> dict:
        data = copy.deepcopy(self.base)
        for f, v in zip(self.factors, self.points[point_id]):
            f.apply(data, v)
        return data

    def run_key(self, run_id: int, scenario: dict | None = None) -> str:
        point, rep = self.point_of(run_id)
        sc = self.scenario_dict(point) if scenario is None else scenario
        ss = self.seed_of(run_id)
        blob = {
            "scenario": sc,
            "params": {f.name: v for f, v in zip(self.factors, self.points[point])},
            "seed": [ss.entropy, list(ss.spawn_key)],
            "replicate": rep,
            "outcomes": [o.model_dump(mode="json", by_alias=True) for o in self.spec.outcomes],
            "package_version": __version__,
        }
        text = json.dumps(blob, sort_keys=True, default=str, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    def keys(self) -> list[str]:
        if self._keys is None:
            keys = []
            for point in range(self.n_points):
                sc = self.scenario_dict(point)
                for rep in range(self.spec.replicates):
                    keys.append(self.run_key(point * self.spec.replicates + rep, sc))
            self._keys = keys
        return self._keys

    def task(self, run_id: int) -> RunTask:
        point, rep = self.point_of(run_id)
        sc = self.scenario_dict(point)
        ss = self.seed_of(run_id)
        return RunTask(
            run_id=run_id, point_id=point, replicate=rep, key=self.run_key(run_id, sc), scenario=sc,
            scenario_path=str(self.scenario_path), sweep_path=str(self.source), entropy=ss.entropy, spawn_key=tuple(ss.spawn_key),
            outcomes=[o.model_dump(mode="json", by_alias=True) for o in self.spec.outcomes], timeout=self.spec.timeout,
        )

    def points_table(self) -> pd.DataFrame:
        """point_id, one column per factor (labels for non-numeric factors), and u_<factor> for sampled designs."""
        cols: dict[str, list] = {"point_id": list(range(self.n_points))}
        for j, f in enumerate(self.factors):
            vals = [p[j] for p in self.points]
            cols[f.name] = vals if f.numeric else [f.label_of(v) for v in vals]
        df = pd.DataFrame(cols)
        if self.unit is not None:
            for j, f in enumerate(self.factors):
                df[f"u_{f.name}"] = self.unit[:, j]
        return df

    def problem(self) -> dict:
        """SALib's problem (unit bounds: every factor is sampled in [0, 1] and mapped to its values)."""
        names = [f.name for f in self.factors]
        return {"num_vars": len(names), "names": names, "bounds": [[0.0, 1.0]] * len(names)}


def _sweep_error(source: Path, msg: str) -> ScenarioError:
    return ScenarioError(source, msg)


def load_sweep(path: str | Path) -> Sweep:
    """Read and check a sweep file; every factor's values are checked against the scenario schema."""
    from .rules import _read_yaml
    from .scenario import validate_scenario

    source = Path(path)
    raw = _read_yaml(source)
    try:
        spec = SweepSpec.model_validate(raw)
    except ValidationError as err:
        raise from_validation(source, err) from None
    scenario_path = (source.parent / spec.scenario).resolve()
    if not scenario_path.exists():
        raise _sweep_error(source, f"scenario: file not found: {scenario_path}")
    from . import scenario as _scenario

    reader = getattr(_scenario, "read_with_extends", _read_yaml)  # follows `extends:` chains
    base = copy.deepcopy(reader(scenario_path))
    # A sweep records outcomes, not fits: the targets file is not needed (nor checked) on the workers.
    base["targets"] = None
    if "extends" in base:
        base["extends"] = None  # informational only; an absolute path would tie run keys to this machine
    for p, v in spec.constants.items():
        try:
            set_path(base, p, v)
        except ValueError as err:
            raise _sweep_error(source, f"constants.{p}: {err}") from None
    seed = spec.seed if spec.seed is not None else int(base.get("run", {}).get("seed", 1961))
    base.setdefault("run", {})
    base["run"]["seed"] = seed
    base["run"]["replicates"] = 1
    try:
        base_sc = validate_scenario(copy.deepcopy(base), scenario_path)
    except ScenarioError as err:
        raise _sweep_error(source, f"constants: the base scenario with the constants is not valid: {err}") from None

    factors: list[Factor] = []
    for role, group in (("lever", spec.levers), ("uncertainty", spec.uncertainties)):
        for name, fs in group.items():
            where = f"{'levers' if role == 'lever' else 'uncertainties'}.{name}"
            paths = [fs.path] if isinstance(fs.path, str) else list(fs.path or [])
            for p in paths:
                try:
                    parse_path(p)
                except ValueError as err:
                    raise _sweep_error(source, f"{where}.path: {err}") from None
            values, labels = fs.values, fs.labels
            if fs.draws is not None:
                try:
                    values, labels = _read_draws((source.parent / fs.draws).resolve(), fs.n, seed)
                except (ValueError, OSError) as err:
                    raise _sweep_error(source, f"{where}.draws: {err}") from None
            f = Factor(name, role, fs, paths, values=values, labels=labels)
            # Check the factor's values against the schema, the other factors at their base values.
            for v in (f.extremes() if f.kind != "draws" else f.values[:100]):
                data = copy.deepcopy(base)
                try:
                    f.apply(data, v)
                except ValueError as err:
                    raise _sweep_error(source, f"{where} ({', '.join(paths) or 'draws'}): {err}") from None
                try:
                    validate_scenario(data, scenario_path)
                except ScenarioError as err:
                    raise _sweep_error(source, f"{where} ({', '.join(paths) or 'draws'}) = {_label(v)}: {err.message}") from None
            factors.append(f)

    # Outcomes must overlap the run's months.
    from .observation import month_range

    months = month_range(base_sc.run.start, base_sc.run.end)
    for i, o in enumerate(spec.outcomes):
        lo, hi = (o.at, o.at) if o.at else (o.from_ or months[0], o.to or months[-1])
        if hi < months[0] or lo > months[-1]:
            raise _sweep_error(source, f"outcomes[{i}] ({o.name}): {lo} to {hi} is outside the run ({months[0]} to {months[-1]})")

    ss = np.random.SeedSequence([seed, 0x5EED, 0xDE51])  # the design's own stream, apart from the runs' seeds
    d = spec.design
    try:
        if isinstance(d, DesignSpec):
            points, unit = _points_for(d, factors, ss)
        else:
            lev = [f for f in factors if f.role == "lever"]
            unc = [f for f in factors if f.role == "uncertainty"]
            s1, s2 = ss.spawn(2)
            lp, _ = _points_for(d.levers, lev, s1)
            up, _ = _points_for(d.uncertainties, unc, s2)
            points, unit = [a + b for a in lp for b in up], None
    except ValueError as err:
        raise _sweep_error(source, f"design: {err}") from None
    if not points:
        raise _sweep_error(source, "design: no points")
    points = [[_py(v) for v in p] for p in points]
    fp = hashlib.sha256(json.dumps(spec.model_dump(mode="json", by_alias=True), sort_keys=True, default=str).encode()).hexdigest()
    return Sweep(spec, source, scenario_path, base, factors, seed, points, unit, fp)


# ================================================================================================
# One run (executed in a worker: a pure function of the task)
# ================================================================================================


@dataclass(frozen=True)
class RunTask:
    run_id: int
    point_id: int
    replicate: int
    key: str
    scenario: dict
    scenario_path: str
    sweep_path: str
    entropy: int
    spawn_key: tuple
    outcomes: list[dict]
    timeout: float | None = None


class RunTimeout(Exception):
    pass


def _worker_name() -> str:
    try:
        from distributed import get_worker

        return get_worker().address
    except Exception:
        return f"{socket.gethostname()}:{os.getpid()}"


def outcome_table(flows: pd.DataFrame, outcomes: list[OutcomeSpec], run_id: int, point_id: int, replicate: int) -> pd.DataFrame:
    """The run's outcomes as a tidy table (period is None for totals)."""
    rows = []
    for o in outcomes:
        s = flows[(flows.measure == o.measure) & (flows.region == o.region)].groupby("period", sort=True).value.sum()
        lo, hi = (o.at, o.at) if o.at else (o.from_, o.to)
        if lo:
            s = s[s.index >= lo]
        if hi:
            s = s[s.index <= hi]
        if o.series:
            rows += [(run_id, point_id, replicate, o.name, p, round(float(v), 6)) for p, v in s.items()]
            continue
        if s.empty:
            v = float("nan")
        else:
            v = {"sum": s.sum, "mean": s.mean, "max": s.max, "min": s.min, "last": lambda: s.iloc[-1]}[o.effective_stat]()
        rows.append((run_id, point_id, replicate, o.name, None, round(float(v), 6)))
    df = pd.DataFrame(rows, columns=SERIES_COLUMNS)
    return df.astype({"run_id": "int64", "point_id": "int64", "replicate": "int64", "value": "float64"})


def execute(task: RunTask) -> dict:
    """Run one task; never raises for a failure of the run itself (it is returned, with its traceback)."""
    import signal
    import threading

    started, t0 = utc_now(), time.perf_counter()
    out = {"run_id": task.run_id, "key": task.key, "worker": _worker_name(), "started": started}
    alarm = task.timeout is not None and threading.current_thread() is threading.main_thread() and hasattr(signal, "SIGALRM")
    old = None
    try:
        if alarm:
            def _raise(signum, frame):
                raise RunTimeout(f"run took longer than the sweep's timeout ({task.timeout:g} s)")

            old = signal.signal(signal.SIGALRM, _raise)
            signal.setitimer(signal.ITIMER_REAL, task.timeout)
        from .runner import run_replicate
        from .scenario import validate_scenario

        sc = validate_scenario(copy.deepcopy(task.scenario), task.scenario_path)
        res = run_replicate(sc, np.random.SeedSequence(task.entropy, spawn_key=task.spawn_key), task.replicate,
                            source=task.scenario_path)
        outs = [OutcomeSpec.model_validate(o) for o in task.outcomes]
        out.update(status="done", table=outcome_table(res.flows, outs, task.run_id, task.point_id, task.replicate))
    except Exception as exc:  # a failed run is a result, not a crash of the sweep
        msg = f"{type(exc).__name__}: {exc}"
        if isinstance(exc, ScenarioError):
            msg = f"ScenarioError: point {task.point_id}: {exc.message}"
        out.update(status="failed", error=msg, traceback=traceback.format_exc(limit=20))
    finally:
        if alarm:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old)
    out.update(finished=utc_now(), seconds=round(time.perf_counter() - t0, 3))
    return out


def run_index(sweep: Sweep, run_id: int) -> dict:
    """Run ``run_id`` of ``sweep`` (a pure function of the two, up to timing and the worker's name)."""
    return execute(sweep.task(run_id))


# ================================================================================================
# Files
# ================================================================================================


def write_parquet_atomic(df: pd.DataFrame, dest: Path) -> None:
    write_parquet(dest, df)


def write_text_atomic(text: str, dest: Path) -> None:
    write_text(dest, text)


def _intact(path: Path) -> bool:
    """A cheap check of a result file: present and framed by Parquet's magic bytes."""
    try:
        size = path.stat().st_size
        if size < 12:
            return False
        with open(path, "rb") as fh:
            head = fh.read(4)
            fh.seek(-4, os.SEEK_END)
            return head == b"PAR1" and fh.read(4) == b"PAR1"
    except OSError:
        return False


def result_file(key: str) -> str:
    return f"runs/{key[:2]}/{key}.parquet"


class _DirLock:
    """An exclusive lock on a sweep directory (released by the kernel if the process dies)."""

    def __init__(self, path: Path):
        import fcntl

        self.fh = open(path, "a+")
        try:
            fcntl.flock(self.fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self.fh.close()
            raise ScenarioError(path.parent, "another sweep process is working in this directory") from None

    def release(self) -> None:
        self.fh.close()


# ================================================================================================
# Progress
# ================================================================================================


class Progress:
    """Runs done / failed / rate / ETA: a tqdm bar on a terminal, a log line every few seconds otherwise."""

    def __init__(self, total: int, done: int, failed: int, desc: str, enabled: bool = True, every: float = 5.0):
        self.total, self.done, self.failed, self.desc = total, done, failed, desc
        self.start_n, self.t0, self.last, self.every = done + failed, time.perf_counter(), 0.0, every
        self.enabled = enabled
        self.bar = None
        if enabled and sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=total, initial=done + failed, desc=desc, unit="run", dynamic_ncols=True)
            self.bar.set_postfix_str(self._post())

    def _post(self) -> str:
        return f"done {self.done}, failed {self.failed}"

    def rate(self) -> float:
        dt_ = time.perf_counter() - self.t0
        return (self.done + self.failed - self.start_n) / dt_ * 60 if dt_ > 0 else 0.0

    def update(self, ok: bool) -> None:
        if ok:
            self.done += 1
        else:
            self.failed += 1
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix_str(self._post(), refresh=False)
        elif self.enabled:
            now = time.perf_counter()
            if now - self.last >= self.every or self.done + self.failed == self.total:
                self.last = now
                print(self.line(), file=sys.stderr, flush=True)

    def line(self) -> str:
        n = self.done + self.failed
        r = self.rate()
        left = self.total - n
        eta = f"{left / r:.1f} min" if r > 0 and left else ("-" if left else "0 min")
        return f"[{self.desc}] {n}/{self.total} runs: {self.done} done, {self.failed} failed; {r:.1f} runs/min; ETA {eta}"

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


# ================================================================================================
# Executors: one code path for a process pool and dask (both concurrent.futures executors)
# ================================================================================================


class Backend:
    """Creates (and re-creates, if a pool breaks) a concurrent.futures executor."""

    def __init__(self, workers: int | None = None, local_cluster: int | None = None, scheduler: str | None = None):
        self.workers, self.local_cluster, self.scheduler = workers, local_cluster, scheduler
        self.cluster = self.client = None
        self.executor: cf.Executor | None = None
        self.is_dask = local_cluster is not None or scheduler is not None

    def describe(self) -> str:
        if self.scheduler:
            return f"dask cluster at {self.scheduler} ({self.slots} worker threads)"
        if self.local_cluster:
            return f"dask LocalCluster, {self.local_cluster} workers"
        return "this process (serial)" if self.workers == 0 else f"local process pool, {self.workers} workers"

    def start(self) -> cf.Executor:
        if self.is_dask:
            try:
                import logging

                from distributed import Client, LocalCluster
            except ImportError:
                raise ScenarioError("--scheduler/--local-cluster", "dask.distributed is not installed (pip install 'bordersim[sweep]')") from None
            if self.client is None:
                if self.local_cluster:
                    self.cluster = LocalCluster(n_workers=self.local_cluster, threads_per_worker=1, processes=True,
                                                dashboard_address=None, silence_logs=logging.ERROR)
                    self.client = Client(self.cluster)
                else:
                    try:
                        self.client = Client(self.scheduler, timeout="60s")
                    except (OSError, TimeoutError) as err:
                        raise ScenarioError("--scheduler", f"cannot reach the dask scheduler {self.scheduler}: {err}") from None
            self.executor = self.client.get_executor(pure=False)
        elif self.workers == 0:
            self.executor = _SerialExecutor()
        else:
            import multiprocessing as mp

            if "forkserver" in mp.get_all_start_methods():
                ctx = mp.get_context("forkserver")
                # Workers fork from a server that has already imported the model: they start in milliseconds.
                ctx.set_forkserver_preload(["bordersim.sweep", "bordersim.runner"])
            else:
                ctx = mp.get_context("spawn")
            self.executor = cf.ProcessPoolExecutor(max_workers=self.workers, mp_context=ctx, initializer=_watch_coordinator,
                                                   initargs=(os.getpid(),))
        return self.executor

    @property
    def slots(self) -> int:
        if self.client is not None:
            return max(1, sum(self.client.nthreads().values()))
        return max(1, self.workers or 1)

    def restart(self) -> cf.Executor:
        if self.executor is not None and not self.is_dask:
            self.executor.shutdown(wait=False, cancel_futures=True)
        return self.start()

    def close(self) -> None:
        try:
            if self.executor is not None:
                if self.is_dask:
                    self.executor.shutdown(wait=False)
                else:
                    self.executor.shutdown(wait=True, cancel_futures=True)
        finally:
            if self.client is not None:
                self.client.close()
            if self.cluster is not None:
                self.cluster.close()


def _watch_coordinator(pid: int, every: float = 1.0) -> None:
    """Pool-worker initializer: exit when the coordinator is gone (say, killed with SIGKILL), so no idle worker lingers."""
    import threading

    def watch() -> None:
        while True:
            time.sleep(every)
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                os._exit(0)
            except PermissionError:
                pass

    threading.Thread(target=watch, name="bordersim-watch-coordinator", daemon=True).start()


class _SerialExecutor(cf.Executor):
    """Runs each task in this process when submitted (``--workers 0``, for debugging)."""

    def submit(self, fn, *args, **kwargs):
        f: cf.Future = cf.Future()
        try:
            f.set_result(fn(*args, **kwargs))
        except BaseException as exc:
            f.set_exception(exc)
        return f


# ================================================================================================
# The coordinator
# ================================================================================================


@dataclass
class SweepReport:
    out: Path
    total: int
    done: int
    failed: int
    ran: int
    skipped: int
    seconds: float
    backend: str


def _prepare_dir(sweep: Sweep, out: Path, resume: bool) -> None:
    ledger_path = out / "ledger.sqlite"
    if resume and not ledger_path.exists():
        raise ScenarioError(out, "--resume: no sweep here to resume (no ledger.sqlite)")
    out.mkdir(parents=True, exist_ok=True)


def _write_spec(sweep: Sweep, out: Path) -> None:
    info = {
        "name": sweep.spec.name,
        "sweep_file": str(sweep.source),
        "scenario_file": str(sweep.scenario_path),
        "fingerprint": sweep.fingerprint,
        "package_version": __version__,
        "seed": sweep.seed,
        "replicates": sweep.spec.replicates,
        "design": sweep.design_type,
        "spec": sweep.spec.model_dump(mode="json", by_alias=True),
        "factors": [{"name": f.name, "role": f.role, "kind": f.kind, "paths": f.paths, "numeric": f.numeric, "scale": f.spec.scale}
                    for f in sweep.factors],
        "problem": sweep.problem(),
        "n_points": sweep.n_points,
        "n_runs": sweep.n_runs,
        "run_seeds": ("SeedSequence(seed, spawn_key=(run_id,))" if sweep.spec.seeds == "independent"
                      else "SeedSequence(seed, spawn_key=(replicate,))"),
    }
    write_text_atomic(json.dumps(info, indent=2, default=str) + "\n", out / "sweep.json")
    write_text_atomic(sweep.source.read_text(encoding="utf-8"), out / "sweep.yaml")
    write_parquet_atomic(sweep.points_table(), out / "points.parquet")


def run_sweep(sweep: Sweep, out: Path, workers: int | None = None, local_cluster: int | None = None, scheduler: str | None = None,
              resume: bool = False, retry_failed: bool = False, progress: bool = True, figures: bool = True,
              max_attempts: int = 2, _fn=None) -> SweepReport:
    """Run every run of ``sweep`` not yet done in ``out``; then write the combined results and figures."""
    t0 = time.perf_counter()
    out = Path(out)
    _prepare_dir(sweep, out, resume)
    lock = _DirLock(out / ".lock")
    backend = None
    try:
        ledger = Ledger(out / "ledger.sqlite")
        try:
            fp = ledger.get_meta("fingerprint")
            if fp is not None and fp != sweep.fingerprint:
                raise ScenarioError(out, f"this directory holds another sweep ({ledger.get_meta('name')}, a different sweep file); "
                                         "use another --out")
            if fp is None:
                ledger.set_meta("name", sweep.spec.name)
                ledger.set_meta("fingerprint", sweep.fingerprint)
                ledger.set_meta("created_utc", utc_now())
            _write_spec(sweep, out)
            keys = sweep.keys()
            planned = [PlannedRun(k, i, i // sweep.spec.replicates, i % sweep.spec.replicates,
                                  json.dumps([sweep.seed, list(sweep.seed_of(i).spawn_key)]),
                                  json.dumps(sweep.params_of(i // sweep.spec.replicates), default=str, sort_keys=True))
                       for i, k in enumerate(keys)]
            stale = ledger.sync_plan(planned)
            if stale and progress:
                print(f"bordersim: {stale} run(s) are stale (scenario, outcomes or package version changed) and will run again",
                      file=sys.stderr)
            status = ledger.statuses()
            todo = []
            for i, k in enumerate(keys):
                s = status[k]
                if s == "done" and not _intact(out / result_file(k)):
                    s = "pending"  # its result file is gone or damaged: run it again
                if s in ("pending", "running") or (s == "failed" and retry_failed):
                    todo.append(i)
            counts = ledger.counts(set(keys))
            todo_set = set(todo)
            done0 = sum(1 for i, k in enumerate(keys) if status[k] == "done" and i not in todo_set)
            failed0 = sum(1 for k in keys if status[k] == "failed") if not retry_failed else 0
            if progress:
                print(f"bordersim: sweep {sweep.spec.name}: {sweep.n_points} point(s) x {sweep.spec.replicates} replicate(s) = "
                      f"{sweep.n_runs} run(s) ({sweep.design_type}); {done0} done, {counts['failed']} failed, {len(todo)} to run",
                      file=sys.stderr)
            ran = 0
            if todo:
                backend = Backend(workers=workers, local_cluster=local_cluster, scheduler=scheduler)
                backend.start()
                if progress:
                    print(f"bordersim: running on {backend.describe()}", file=sys.stderr)
                bar = Progress(sweep.n_runs, done0, failed0, sweep.spec.name, enabled=progress)
                try:
                    ran = _drive(sweep, out, ledger, backend, todo, bar, max_attempts, _fn or execute)
                finally:
                    bar.close()
            combine(sweep, out, ledger)
        finally:
            ledger.close()
        if figures:
            sweep_figures(out)
        from .ledger import read_ledger

        rows = [r for r in read_ledger(out / "ledger.sqlite") if r["run_key"] in set(sweep.keys())]
        done = sum(r["status"] == "done" for r in rows)
        failed = sum(r["status"] == "failed" for r in rows)
        return SweepReport(out, sweep.n_runs, done, failed, ran, sweep.n_runs - ran, time.perf_counter() - t0,
                           backend.describe() if backend else "nothing to run")
    finally:
        if backend is not None:
            backend.close()
        lock.release()


def _drive(sweep: Sweep, out: Path, ledger: Ledger, backend: Backend, todo: list[int], bar: Progress, max_attempts: int,
           fn=execute) -> int:
    """Submit runs (a bounded window in flight), record each as it finishes; survive broken pools and killed workers."""
    queue: deque[int] = deque(todo)
    suspects: deque[int] = deque()  # runs in flight when a pool broke: re-run alone to find the culprit
    attempts: dict[int, int] = {}
    inflight: dict[cf.Future, tuple[int, bool]] = {}
    ex = backend.executor
    window = max(2, 2 * backend.slots)
    finished = 0

    def submit(batch: list[int], alone: bool) -> None:
        tasks = [sweep.task(i) for i in batch]
        ledger.mark_running_many([t.key for t in tasks])  # one transaction for the round
        for i, t in zip(batch, tasks):
            inflight[ex.submit(fn, t)] = (i, alone)

    def record(results: list[dict], lost: list[tuple[int, str, str | None]]) -> None:
        """Write the finished runs' files, then mark them (and the lost ones) in one transaction."""
        nonlocal finished
        done, failed = [], []
        for res in results:
            if res["status"] == "done":
                rel = result_file(res["key"])
                write_parquet_atomic(res["table"], out / rel)  # in place (and synced) before the ledger says done
                done.append((res["key"], rel, res["worker"], res["started"], res["finished"], res["seconds"]))
            else:
                failed.append((res["key"], res["error"], res.get("traceback"), res.get("worker"), res.get("started"),
                               res.get("finished"), res.get("seconds")))
        failed += [(sweep.keys()[i], err, tb, None, None, None, None) for i, err, tb in lost]
        if done or failed:
            ledger.finish_many(done, failed)
        for _ in done:
            bar.update(True)
        for _ in failed:
            bar.update(False)
        finished += len(done) + len(failed)

    while queue or suspects or inflight:
        if suspects:
            if not inflight:
                submit([suspects.popleft()], True)
        elif queue and len(inflight) < window:
            batch = []
            while queue and len(inflight) + len(batch) < window:
                batch.append(queue.popleft())
            submit(batch, False)
        done, _ = cf.wait(list(inflight), return_when=cf.FIRST_COMPLETED)
        broken = False
        results, lost = [], []
        for fut in done:
            i, alone = inflight.pop(fut)
            try:
                results.append(fut.result())
            except cf.process.BrokenProcessPool:
                broken = True
                attempts[i] = attempts.get(i, 0) + 1
                if alone or attempts[i] >= max_attempts:
                    lost.append((i, "WorkerDied: the worker process running this run died "
                                    "(killed, out of memory, or crashed in native code)", None))
                else:
                    suspects.append(i)
            except Exception as exc:  # dask: KilledWorker, a lost worker, a serialisation error ...
                lost.append((i, f"{type(exc).__name__}: {exc}", traceback.format_exc(limit=5)))
        record(results, lost)
        if broken:
            # The other runs in flight died with the pool too; they are re-run one at a time.
            survivors = []
            for fut, (i, alone) in list(inflight.items()):
                try:
                    survivors.append(fut.result(timeout=0))
                except Exception:
                    attempts[i] = attempts.get(i, 0) + 1
                    suspects.append(i)
            record(survivors, [])
            inflight.clear()
            ex = backend.restart()
    return finished


def combine(sweep: Sweep, out: Path, ledger: Ledger) -> None:
    """results.parquet / results.csv (totals), series.parquet / series.csv, points.csv and runs.csv, written atomically."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    keys = set(sweep.keys())
    rows = [r for r in ledger.rows() if r["run_key"] in keys]
    tables = [pq.read_table(out / r["result_file"]) for r in rows if r["status"] == "done"]
    schema = pa.schema([("run_id", pa.int64()), ("point_id", pa.int64()), ("replicate", pa.int64()), ("outcome", pa.string()),
                        ("period", pa.string()), ("value", pa.float64())])
    allt = pa.concat_tables([t.cast(schema) for t in tables]) if tables else schema.empty_table()
    df = allt.to_pandas()
    order = {o.name: j for j, o in enumerate(sweep.spec.outcomes)}
    df["_o"] = df.outcome.map(order)
    df = df.sort_values(["run_id", "_o", "period"], kind="stable", na_position="first").drop(columns="_o")
    totals = df[df.period.isna()][RESULT_COLUMNS].reset_index(drop=True)
    series = df[df.period.notna()][SERIES_COLUMNS].reset_index(drop=True)
    write_parquet_atomic(totals, out / "results.parquet")
    write_text_atomic(totals.to_csv(index=False, lineterminator="\n"), out / "results.csv")
    if any(o.series for o in sweep.spec.outcomes):
        write_parquet_atomic(series, out / "series.parquet")
        write_text_atomic(series.to_csv(index=False, lineterminator="\n"), out / "series.csv")
    pts = sweep.points_table()
    write_text_atomic(pts[[c for c in pts.columns if not c.startswith("u_")]].to_csv(index=False, lineterminator="\n"),
                      out / "points.csv")
    runs = pd.DataFrame(rows, columns=["run_id", "point_id", "replicate", "run_key", "seed", "status", "attempts", "error", "worker",
                                       "submitted_utc", "started_utc", "finished_utc", "seconds"])
    write_text_atomic(runs.to_csv(index=False, lineterminator="\n"), out / "runs.csv")


# ================================================================================================
# Figures
# ================================================================================================


def _load_dir(out: Path) -> tuple[dict, pd.DataFrame, pd.DataFrame]:
    info = json.loads((out / "sweep.json").read_text())
    points = pd.read_parquet(out / "points.parquet")
    results = pd.read_parquet(out / "results.parquet")
    return info, points, results


def sweep_figures(out: Path) -> list[Path]:
    """outcome_<name>.png (each outcome against each factor), heatmap_<name>.png (two-lever grids), series_<name>.png."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out)
    info, points, results = _load_dir(out)
    spec = info["spec"]
    factors = info["factors"]
    written: list[Path] = []
    if results.empty:
        return written
    data = results.merge(points, on="point_id", how="left")
    outcomes = [o for o in spec["outcomes"] if not o.get("series")]
    for o in outcomes:
        d = data[data.outcome == o["name"]]
        if d.empty:
            continue
        n = len(factors)
        ncols = min(3, n)
        nrows = math.ceil(n / ncols)
        fig, axes = plt.subplots(nrows, ncols, figsize=(4.6 * ncols, 3.6 * nrows), squeeze=False)
        levers = [f["name"] for f in factors if f["role"] == "lever"]
        for ax, f in zip(axes.flat, factors):
            # In a grid of two levers, one line per level of the other lever.
            other = [x for x in levers if x != f["name"]] if f["name"] in levers and len(levers) == 2 else []
            by = other[0] if other and d[other[0]].nunique() <= 6 and info["design"].startswith(("grid", "crossed(grid")) else None
            _factor_panel(ax, d, f, by)
        for ax in list(axes.flat)[n:]:
            ax.set_visible(False)
        fig.suptitle(f"{o['name']}: {OutcomeSpec.model_validate(o).describe()}", fontsize=10)
        fig.tight_layout()
        p = out / f"outcome_{o['name']}.png"
        fig.savefig(p, dpi=110)
        plt.close(fig)
        written.append(p)
        # Heat map of a two-lever grid.
        grid_levers = [f for f in factors if f["role"] == "lever"]
        design = info["design"]
        if len(grid_levers) == 2 and (design == "grid" or design.startswith("crossed(grid")):
            written.append(_heatmap(d, grid_levers, o, out, plt))
    for o in [o for o in spec["outcomes"] if o.get("series")]:
        sp = out / "series.parquet"
        if not sp.exists():
            continue
        s = pd.read_parquet(sp)
        s = s[s.outcome == o["name"]].merge(points, on="point_id", how="left")
        if s.empty:
            continue
        written.append(_series_fig(s, factors, o, out, plt))
    return written


def _is_discrete(col: pd.Series) -> bool:
    return col.nunique() <= 12 or not pd.api.types.is_numeric_dtype(col)


def _factor_panel(ax, d: pd.DataFrame, f: dict, by: str | None = None) -> None:
    import matplotlib.pyplot as plt

    name = f["name"]
    col = d[name]
    role = "lever" if f["role"] == "lever" else "uncertainty"
    if _is_discrete(col):
        numeric = pd.api.types.is_numeric_dtype(col)
        cats = sorted(col.unique()) if numeric else list(dict.fromkeys(col))
        pos = {c: (float(c) if numeric else k) for k, c in enumerate(cats)}
        x = col.map(pos).to_numpy(dtype=float)
        span = (max(pos.values()) - min(pos.values())) or 1.0
        jitter = (np.random.default_rng(0).random(len(x)) - 0.5) * 0.04 * span
        ax.scatter(x + jitter, d.value, s=6 if len(d) > 300 else 14, color="0.6", alpha=0.5 if len(d) > 300 else 0.7, lw=0, label="runs")
        xs = [pos[c] for c in cats]
        if by is not None:
            levels = sorted(d[by].unique()) if pd.api.types.is_numeric_dtype(d[by]) else list(dict.fromkeys(d[by]))
            colours = plt.get_cmap("viridis")(np.linspace(0.0, 0.85, max(2, len(levels))))
            for k, lv in enumerate(levels):
                dd = d[d[by] == lv]
                g = dd.groupby(name).value
                mean = g.mean().reindex(cats)
                sd = dd.groupby([name, "point_id"]).value.std().groupby(level=0).mean().reindex(cats)
                ax.errorbar(xs, mean, yerr=sd.fillna(0) if sd.notna().any() else None, fmt="o-" if numeric else "o", color=colours[k], lw=1.6, ms=4,
                            capsize=3, label=f"{by} = {_label(lv)}")
            ax.set_title("bars: ± sd over replicates", fontsize=8, color="0.3")
        else:
            g = d.groupby(name).value
            mean = g.mean().reindex(cats)
            lo, hi = g.quantile(0.1).reindex(cats), g.quantile(0.9).reindex(cats)
            if numeric:
                ax.fill_between(xs, lo, hi, color="tab:blue", alpha=0.18, lw=0, label="10-90% of runs")
            else:  # categories: no lines between them
                ax.vlines(xs, lo, hi, color="tab:blue", alpha=0.35, lw=6, label="10-90% of runs")
            ax.plot(xs, mean, "o-" if numeric else "o", color="tab:blue", lw=1.8, ms=5, label="mean")
            # Replicate spread at each point: sd over replicates, averaged over the points at this value.
            sd = d.groupby([name, "point_id"]).value.std().groupby(level=0).mean().reindex(cats)
            if sd.notna().any():
                ax.errorbar(xs, mean, yerr=sd.fillna(0), fmt="none", ecolor="tab:red", capsize=3, lw=1, label="± replicate sd")
        if not numeric:
            ax.set_xlim(-0.5, len(cats) - 0.5)
            ax.set_xticks(xs)
            ax.set_xticklabels([str(c) for c in cats], rotation=20, ha="right", fontsize=8)
    else:
        ax.scatter(col, d.value, s=6 if len(d) > 300 else 14, color="0.5", alpha=0.45 if len(d) > 300 else 0.7, lw=0, label="runs")
        if f.get("scale") == "log":
            from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

            ax.set_xscale("log")
            ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
            ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
            ax.xaxis.set_minor_formatter(NullFormatter())
        bins = pd.qcut(col, q=min(10, max(2, col.nunique() // 3)), duplicates="drop")
        g = d.groupby(bins, observed=True)
        xm, ym = g[name].mean(), g.value.mean()
        ax.plot(xm, ym, "o-", color="tab:blue", lw=1.8, ms=4, label="binned mean")
    ax.set_xlabel(f"{name} ({role})")
    ax.set_ylabel(d.outcome.iloc[0])
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="best")


def _heatmap(d: pd.DataFrame, levers: list[dict], o: dict, out: Path, plt) -> Path:
    a, b = levers[0]["name"], levers[1]["name"]
    m = d.groupby([b, a]).value.mean().unstack(a)
    sd = d.groupby([b, a]).value.std().unstack(a)
    fig, ax = plt.subplots(figsize=(1.3 * m.shape[1] + 3, 0.8 * m.shape[0] + 2.2))
    im = ax.imshow(m.to_numpy(dtype=float), origin="lower", aspect="auto", cmap="viridis")
    ax.set_xticks(range(m.shape[1]))
    ax.set_xticklabels([_label(v) for v in m.columns], fontsize=8)
    ax.set_yticks(range(m.shape[0]))
    ax.set_yticklabels([_label(v) for v in m.index], fontsize=8)
    ax.set_xlabel(a)
    ax.set_ylabel(b)
    vals = m.to_numpy(dtype=float)
    vmid = np.nanmean(vals) if np.isfinite(vals).any() else 0
    for i in range(m.shape[0]):
        for j in range(m.shape[1]):
            v = vals[i, j]
            if np.isfinite(v):
                s = sd.iloc[i, j]
                txt = f"{v:,.0f}" + (f"\n±{s:,.0f}" if np.isfinite(s) else "")
                ax.text(j, i, txt, ha="center", va="center", fontsize=7, color="white" if v < vmid else "black")
    unit = OutcomeSpec.model_validate(o).unit
    fig.colorbar(im, ax=ax, label=f"{o['name']} ({unit}), mean over replicates")
    ax.set_title(f"{o['name']}\n(mean ± sd over replicates)", fontsize=10)
    fig.tight_layout()
    p = out / f"heatmap_{o['name']}.png"
    fig.savefig(p, dpi=110)
    plt.close(fig)
    return p


def _series_fig(s: pd.DataFrame, factors: list[dict], o: dict, out: Path, plt) -> Path:
    f = next((f for f in factors if f["role"] == "lever"), factors[0])
    name = f["name"]
    periods = sorted(s.period.unique())
    fig, ax = plt.subplots(figsize=(9, 4.2))
    groups = list(dict.fromkeys(sorted(s[name].unique(), key=str))) if _is_discrete(s[name]) else None
    if groups is None:
        s = s.assign(**{name: pd.qcut(s[name], 4, duplicates="drop").astype(str)})
        groups = sorted(s[name].unique())
    colours = plt.get_cmap("viridis")(np.linspace(0.0, 0.85, max(2, len(groups))))
    x = np.arange(len(periods))
    for k, gv in enumerate(groups):
        g = s[s[name] == gv].groupby("period").value
        m = g.mean().reindex(periods)
        lo, hi = g.quantile(0.1).reindex(periods), g.quantile(0.9).reindex(periods)
        ax.plot(x, m, color=colours[k], lw=1.8, label=f"{name} = {_label(gv) if not isinstance(gv, str) else gv}")
        ax.fill_between(x, lo, hi, color=colours[k], alpha=0.15, lw=0)
    step = max(1, len(periods) // 12)
    ax.set_xticks(x[::step])
    ax.set_xticklabels(periods[::step], rotation=45, ha="right", fontsize=8)
    unit = OutcomeSpec.model_validate(o).unit
    ax.set_ylabel(f"{o['measure']} ({unit}) per month")
    ax.set_title(f"{o['name']}: {o['measure']}, {o['region']}: mean and 10-90% band over runs", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    p = out / f"series_{o['name']}.png"
    fig.savefig(p, dpi=110)
    plt.close(fig)
    return p


# ================================================================================================
# The command
# ================================================================================================


def cmd_sweep(args) -> int:
    sweep = load_sweep(args.sweep)
    out = Path(args.out) if args.out else Path("outputs") / "sweeps" / sweep.spec.name
    workers = args.workers
    if args.local_cluster is None and args.scheduler is None and workers is None:
        workers = os.cpu_count() or 1
    if workers is not None and workers < 0:
        raise ScenarioError("--workers", "must be 0 (this process) or more")
    try:
        rep = run_sweep(sweep, out, workers=workers, local_cluster=args.local_cluster, scheduler=args.scheduler, resume=args.resume,
                        retry_failed=args.retry_failed, progress=not args.quiet, figures=not args.no_figures)
    except KeyboardInterrupt:
        print(f"bordersim: interrupted; finished runs are kept in {out}/ledger.sqlite. Resume with the same command "
              f"(or add --resume).", file=sys.stderr)
        return 130
    print(f"bordersim: {rep.done} of {rep.total} runs done, {rep.failed} failed ({rep.ran} run now, {rep.seconds:.1f} s); "
          f"wrote {out}/results.csv, results.parquet, runs.csv, points.csv and figures", file=sys.stderr)
    if rep.failed:
        print(f"bordersim: failed runs and their errors are in {out}/runs.csv (re-run them with --retry-failed)", file=sys.stderr)
    return 0


def register(sub) -> None:
    """Add the ``sweep`` and ``sensitivity`` subcommands to the ``bordersim`` parser."""
    s = sub.add_parser("sweep", help="run a parameter sweep (grid, LHS, Sobol, Morris) with a resumable run ledger")
    s.add_argument("sweep", help="sweep YAML file (e.g. sweeps/interception_allowance.yaml)")
    s.add_argument("--out", help="sweep directory (default: outputs/sweeps/<sweep name>/)")
    g = s.add_mutually_exclusive_group()
    g.add_argument("--workers", type=int, help="local process pool size (default: all cores; 0 runs in this process)")
    g.add_argument("--local-cluster", type=int, metavar="N", help="start a dask LocalCluster with N worker processes here")
    g.add_argument("--scheduler", metavar="tcp://HOST:PORT", help="send runs to an existing dask.distributed scheduler")
    s.add_argument("--resume", action="store_true", help="continue the sweep in --out (re-running the same command does too)")
    s.add_argument("--retry-failed", action="store_true", help="run failed runs again")
    s.add_argument("--no-figures", action="store_true", help="skip the figures")
    s.add_argument("--quiet", action="store_true", help="no progress output")
    s.set_defaults(func=cmd_sweep)
    from .sensitivity import register as _register_sensitivity

    _register_sensitivity(sub)
