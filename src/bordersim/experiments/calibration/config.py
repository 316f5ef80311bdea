"""The calibration's configuration (``calibration/calibrate.yaml``): the free parameters and their priors
(each with the reason for its range), the targets to fit, the scale of each simulation, the waves'
design and budget, the posterior predictive check, the leave-one-source-out validation and the
simulation-based calibration (parameter recovery)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ...errors import from_validation
from ...inference import Param
from ...io import read_yaml


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class Prior(_Strict):
    """A free parameter: where it lives in the scenario (a dotted path) and its prior."""

    path: str
    dist: Literal["uniform", "loguniform"]
    low: float
    high: float
    #: Why this range (shown in the calibration report).
    why: str = ""

    @model_validator(mode="after")
    def _bounds(self):
        if not (math.isfinite(self.low) and math.isfinite(self.high)):
            raise ValueError("low and high must be finite")
        if not self.high > self.low:
            raise ValueError("high must be greater than low")
        if self.dist == "loguniform" and self.low <= 0:
            raise ValueError("a loguniform prior needs low > 0")
        return self

    def param(self, name: str) -> Param:
        return Param(name, self.low, self.high, log=self.dist == "loguniform")


class Design(_Strict):
    """The waves: ``n0`` simulations over the prior, then ``n_wave`` per wave (bordersim.inference.Settings)."""

    n0: Annotated[int, Field(ge=10)] = 1500
    n_wave: Annotated[int, Field(ge=10)] = 500
    batch_size: Annotated[int, Field(ge=1)] = 25
    replicate_fraction: Annotated[float, Field(ge=0, le=0.5)] = 0.05


class Budget(_Strict):
    """When to stop if the posterior has not converged first."""

    max_waves: Annotated[int, Field(ge=1)] = 8
    max_simulations: Annotated[int, Field(ge=1)] = 12_000
    max_wall_minutes: Annotated[float, Field(gt=0)] = 25.0


class PPC(_Strict):
    """The posterior predictive check: real runs of the scenario with parameters drawn from the posterior."""

    replicates: Annotated[int, Field(ge=2)] = 30
    scale: Annotated[float, Field(gt=0, le=1)] = 0.1


class LeaveOneOut(_Strict):
    """Leave one source out: fit without a group of targets, predict them (with real runs)."""

    groups: list[str] = Field(default_factory=list)
    replicates: Annotated[int, Field(ge=2)] = 20
    scale: Annotated[float, Field(gt=0, le=1)] = 0.1
    #: Waves of the refit without the group (they start from the full run's wave 0, which does not depend on the targets).
    n_wave: Annotated[int, Field(ge=20)] = 300
    max_waves: Annotated[int, Field(ge=1)] = 3


class SBC(_Strict):
    """Simulation-based calibration: synthetic archives from known parameters, recalibrated at reduced budget."""

    archives: Annotated[int, Field(ge=2)] = 10
    n_wave: Annotated[int, Field(ge=20)] = 300
    max_waves: Annotated[int, Field(ge=1)] = 3


class CalibrationConfig(_Strict):
    scenario: str
    parameters: dict[str, Prior]
    #: Target ids to fit, or "calibration" for every target whose role is calibration.
    targets: list[str] | Literal["calibration"] = "calibration"
    targets_file: str | None = None
    #: Share of households simulated in each run (Lishu, Doc 4, is always whole).
    scale: Annotated[float, Field(gt=0, le=1)] = 0.05
    seed: Annotated[int, Field(ge=0)] = 1961
    #: The run directory (waves, simulations, emulators) that ``--resume`` continues; relative to this file.
    run_dir: str = "run"
    #: Where posterior.parquet, posterior_summary.csv, the report and the figures go (relative to this file).
    output_dir: str = "."
    design: Design = Design()
    budget: Budget = Budget()
    posterior_predictive: PPC = PPC()
    leave_one_out: LeaveOneOut = LeaveOneOut()
    sbc: SBC = SBC()

    @model_validator(mode="after")
    def _some(self):
        if not self.parameters:
            raise ValueError("parameters: at least one free parameter is needed")
        return self


def load_config(path: str | Path) -> CalibrationConfig:
    path = Path(path)
    data = read_yaml(path)
    try:
        return CalibrationConfig.model_validate(data)
    except ValidationError as err:
        raise from_validation(path, err) from None
