"""Archival targets: the schema of ``calibration/targets.yaml`` and its loading.

``calibration/targets.yaml`` holds every count in the dossier (see calibration/README.md), each with
the document, the quote, the region and period, what is counted (``kind``: a ``flow`` summed over the
period, a ``stock`` at its end, a ``share`` of two sums), how the archive observed it (``observation``:
see :mod:`bordersim.archive.observation`) and whether it is used for fitting (``calibration``) or held
out (``validation``).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ..errors import ScenarioError, from_validation
from ..io import read_yaml
from ..model.measures import MEASURES
from ..world.geography import TREE
from ..world.scenario import Scenario

Month = Annotated[str, Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class Period(_Strict):
    start: Month
    end: Month

    @model_validator(mode="after")
    def _order(self):
        if self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")
        return self


class Range(_Strict):
    low: Annotated[float, Field(ge=0)]
    high: Annotated[float, Field(ge=0)]


class Observation(_Strict):
    """How the archive observed the figure (the observation model of each type: :mod:`.observation`)."""

    type: Literal["exact", "interval", "lower_bound", "undercount"]
    low: float | None = None
    high: float | None = None
    undercount_prior: Range | None = None

    @model_validator(mode="after")
    def _fields(self):
        if self.type == "interval" and (self.low is None or self.high is None or self.high < self.low):
            raise ValueError("an interval needs low <= high")
        if self.type == "undercount":
            pr = self.undercount_prior
            if pr is None or not (0 < pr.low <= pr.high <= 1):
                raise ValueError("an undercount needs undercount_prior with 0 < low <= high <= 1")
        return self


MeasureRef = str | list[str]


class Target(_Strict):
    """One archival figure."""

    id: str
    #: Where the figure and its quote come from: the dossier (the default; ``document`` is its number, 0 for the
    #: introduction), or the project brief (``shared/BRIEF.md``) for the loose published estimates of the 1990s
    #: that the dossier does not print (validation only; the brief names no single publication).
    source: Literal["dossier", "brief"] = "dossier"
    document: Annotated[int, Field(ge=0, le=11)]
    doc_date: Annotated[dt.date, Field(strict=False)]
    quote: str
    region: str
    period: Period
    kind: Literal["flow", "stock", "share"]
    measure: str | None = None
    numerator: MeasureRef | None = None
    denominator: MeasureRef | None = None
    unit: Literal["persons", "households", "applications", "letters", "corpses", "proportion"]
    value: float | None
    observation: Observation
    role: Literal["calibration", "validation"]
    #: The source the figure belongs to, for leave-one-source-out validation (e.g. ``doc4_lishu``).
    group: str = "other"
    #: How ``value`` (and an interval's ``low`` and ``high``) follow from numbers printed in the source, when
    #: they are not printed in the quote itself: an arithmetic expression (``"4,701 - 1,985"``), or a mapping
    #: ``{value: ..., low: ..., high: ...}``. Checked against the source by the tests.
    derivation: str | dict[Literal["value", "low", "high"], str] | None = None
    source_says: str | None = None
    notes: str = ""
    #: For shares: the number of cases the archival share was computed from (binomial n).
    sample_size: Annotated[int, Field(gt=0)] | None = None

    @field_validator("region")
    @classmethod
    def _region(cls, v):
        if not TREE.is_valid(v):
            raise ValueError(f"unknown region {v!r}")
        return v

    @model_validator(mode="after")
    def _measures(self):
        refs = [self.measure] if self.kind != "share" else as_list(self.numerator) + as_list(self.denominator)
        if self.kind == "share" and (not self.numerator or not self.denominator):
            raise ValueError("a share needs numerator and denominator")
        if self.kind != "share" and not self.measure:
            raise ValueError("a flow or stock needs a measure")
        for m in refs:
            if m not in MEASURES:
                raise ValueError(f"unknown measure {m!r} (see `bordersim measures`)")
        if self.kind == "stock" and self.period.start != self.period.end:
            raise ValueError("a stock is observed at one month: period.start must equal period.end")
        if self.value is None and self.role != "validation":
            raise ValueError("only validation targets may have no value (withheld figures)")
        if self.source != "dossier" and self.role != "validation":
            raise ValueError("a figure from outside the dossier can only be a validation target")
        return self

    @property
    def observed(self) -> float | None:
        """The point value compared with the model (the midpoint for an interval)."""
        if self.observation.type == "interval":
            return 0.5 * (self.observation.low + self.observation.high)
        return self.value


def as_list(x) -> list[str]:
    if x is None:
        return []
    return [x] if isinstance(x, str) else list(x)


class TargetFile(_Strict):
    version: Literal[1]
    targets: list[Target]

    @field_validator("targets")
    @classmethod
    def _unique(cls, v):
        seen = set()
        for t in v:
            if t.id in seen:
                raise ValueError(f"duplicate target id {t.id!r}")
            seen.add(t.id)
        return v


def load_targets(path: str | Path) -> list[Target]:
    """Read and validate a targets file (one-line errors naming the file and the field)."""
    path = Path(path)
    data = read_yaml(path)
    try:
        return TargetFile.model_validate(data).targets
    except ValidationError as err:
        raise from_validation(path, err) from None


def targets_path_of(sc: Scenario, source: str | None = None) -> Path | None:
    """The scenario's targets file, resolved relative to the scenario file."""
    if not sc.targets:
        return None
    source = source if source is not None else sc.source
    base = Path(source).parent if source else Path(".")
    return base / sc.targets


def check_targets(sc: Scenario, source: str | None = None) -> None:
    """The scenario's targets file is a valid targets file (checked before a run, not after it)."""
    tp = targets_path_of(sc, source)
    if tp is None:
        return
    try:
        load_targets(tp)
    except ScenarioError as err:
        raise ScenarioError(source if source is not None else sc.source or "<scenario>", f"targets: {err}") from None
