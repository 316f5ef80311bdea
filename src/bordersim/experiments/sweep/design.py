"""A loaded sweep: its factors, the design's points, and each run's scenario, seed and key.

Run ``i`` of a sweep is a pure function of the sweep and ``i``: its point is ``i // replicates``, its
replicate ``i % replicates`` and its seed ``SeedSequence(seed, spawn_key=(i,))`` (the ``i``-th child
of ``SeedSequence(seed).spawn``). Results are therefore identical whatever executes the runs (this
process, a process pool, a dask cluster) and in whatever order they finish.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import ValidationError

from ..._version import __version__
from ...errors import ScenarioError, from_validation
from ...io import read_yaml
from ...model.recorder import month_range
from ...world.loader import read_with_extends, validate_scenario
from ...world.paths import parse_path, set_path
from .spec import DesignSpec, FactorSpec, SweepSpec


def py_value(v: Any) -> Any:
    """numpy scalars to Python scalars (YAML/JSON friendly)."""
    if isinstance(v, np.generic):
        return v.item()
    return v


def label(v: Any) -> str:
    v = py_value(v)
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
        return label(value)

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
    return [{c: py_value(v) for c, v in row.items()} for row in df.to_dict(orient="records")], labels


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


def _points_for(
    d: DesignSpec, factors: list[Factor], seed_seq: np.random.SeedSequence
) -> tuple[list[list[Any]], np.ndarray | None]:
    """(values per point, unit design or None for a grid) for one group of factors."""
    if d.type == "grid":
        grids = [f.grid_values() for f in factors]
        return [list(c) for c in itertools.product(*grids)], None
    U = _unit_design(d, len(factors), seed_seq, [f.name for f in factors])
    return [[f.from_unit(float(u)) for f, u in zip(factors, row)] for row in U], U


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
            # The point: with common seeds two points of a design (a Morris trajectory's repeat) may share values and seed.
            "point": point,
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
            run_id=run_id,
            point_id=point,
            replicate=rep,
            key=self.run_key(run_id, sc),
            scenario=sc,
            scenario_path=str(self.scenario_path),
            sweep_path=str(self.source),
            entropy=ss.entropy,
            spawn_key=tuple(ss.spawn_key),
            outcomes=[o.model_dump(mode="json", by_alias=True) for o in self.spec.outcomes],
            timeout=self.spec.timeout,
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


def load_sweep(path: str | Path) -> Sweep:
    """Read and check a sweep file; every factor's values are checked against the scenario schema."""
    source = Path(path)
    raw = read_yaml(source)
    try:
        spec = SweepSpec.model_validate(raw)
    except ValidationError as err:
        raise from_validation(source, err) from None
    scenario_path = (source.parent / spec.scenario).resolve()
    if not scenario_path.exists():
        raise ScenarioError(source, f"scenario: file not found: {scenario_path}")
    base = copy.deepcopy(read_with_extends(scenario_path))  # follows `extends:` chains
    # A sweep records outcomes, not fits: the targets file is not needed (nor checked) on the workers.
    base["targets"] = None
    if "extends" in base:
        base["extends"] = None  # informational only; an absolute path would tie run keys to this machine
    for p, v in spec.constants.items():
        try:
            set_path(base, p, v)
        except ValueError as err:
            raise ScenarioError(source, f"constants.{p}: {err}") from None
    seed = spec.seed if spec.seed is not None else int(base.get("run", {}).get("seed", 1961))
    base.setdefault("run", {})
    base["run"]["seed"] = seed
    base["run"]["replicates"] = 1
    try:
        base_sc = validate_scenario(copy.deepcopy(base), scenario_path)
    except ScenarioError as err:
        raise ScenarioError(source, f"constants: the base scenario with the constants is not valid: {err}") from None

    factors: list[Factor] = []
    for role, group in (("lever", spec.levers), ("uncertainty", spec.uncertainties)):
        for name, fs in group.items():
            where = f"{'levers' if role == 'lever' else 'uncertainties'}.{name}"
            paths = [fs.path] if isinstance(fs.path, str) else list(fs.path or [])
            for p in paths:
                try:
                    parse_path(p)
                except ValueError as err:
                    raise ScenarioError(source, f"{where}.path: {err}") from None
            values, labels = fs.values, fs.labels
            if fs.draws is not None:
                try:
                    values, labels = _read_draws((source.parent / fs.draws).resolve(), fs.n, seed)
                except (ValueError, OSError) as err:
                    raise ScenarioError(source, f"{where}.draws: {err}") from None
            f = Factor(name, role, fs, paths, values=values, labels=labels)
            # Check the factor's values against the schema, the other factors at their base values.
            for v in f.extremes() if f.kind != "draws" else f.values[:100]:
                data = copy.deepcopy(base)
                try:
                    f.apply(data, v)
                except ValueError as err:
                    raise ScenarioError(source, f"{where} ({', '.join(paths) or 'draws'}): {err}") from None
                try:
                    validate_scenario(data, scenario_path)
                except ScenarioError as err:
                    raise ScenarioError(source, f"{where} ({', '.join(paths) or 'draws'}) = {label(v)}: {err.message}") from None
            factors.append(f)

    # Outcomes must overlap the run's months.
    months = month_range(base_sc.run.start, base_sc.run.end)
    for i, o in enumerate(spec.outcomes):
        lo, hi = (o.at, o.at) if o.at else (o.from_ or months[0], o.to or months[-1])
        if hi < months[0] or lo > months[-1]:
            raise ScenarioError(
                source, f"outcomes[{i}] ({o.name}): {lo} to {hi} is outside the run ({months[0]} to {months[-1]})"
            )

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
        raise ScenarioError(source, f"design: {err}") from None
    if not points:
        raise ScenarioError(source, "design: no points")
    points = [[py_value(v) for v in p] for p in points]
    fp = hashlib.sha256(json.dumps(spec.model_dump(mode="json", by_alias=True), sort_keys=True, default=str).encode()).hexdigest()
    return Sweep(spec, source, scenario_path, base, factors, seed, points, unit, fp)


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
