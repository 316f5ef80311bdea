"""The sweep file: factors (policy *levers* and *uncertainties*), the design and the outcomes, validated.

A sweep file (YAML) names a base scenario, the varied factors (policy *levers* and *uncertainties*,
in EMA Workbench's vocabulary; NetLogo BehaviorSpace calls both "variables"), a design (full factorial
grid, Latin hypercube, quasi-random Sobol sequence, Saltelli's Sobol design, Morris trajectories),
replicates per point and the *outcomes* to record. Every factor is a dotted path into the scenario
(``parameters.rate_rumour``, ``rule_overrides.china.interception_multiplier``,
``world.rations[1].catties``), so any scenario field can be swept and every value is checked by the
scenario schema.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ...model.measures import MEASURES
from ...world.geography import TREE

_RESERVED = {"run_id", "point_id", "replicate", "outcome", "period", "value", "status", "run_key", "seed"}
_MONTH = re.compile(r"^\d{4}-\d{2}$")


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
        return MEASURES[self.measure][0]

    @property
    def effective_stat(self) -> str:
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
    #: ``common`` (default): replicate r uses child r of the sweep seed at every point, so that points can be
    #: paired (common random numbers: the same households draw the same numbers at every point, and a lever's
    #: effect is not blurred by seed noise); ``independent``: run i's seed is child i of the sweep seed.
    seeds: Literal["independent", "common"] = "common"
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
