"""The calibration's configuration (``calibration/abc.yaml``): the free parameters and their priors,
the targets to fit, the population size, stopping rules, the scale of each particle's run and the
posterior predictive check."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ...archive.observation import DEFAULT_DISPERSION
from ...errors import from_validation
from ...io import read_yaml


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class Prior(_Strict):
    """A free parameter: where it lives in the scenario (a dotted path) and its prior."""

    path: str
    dist: Literal["uniform", "loguniform"]
    low: float
    high: float
    #: Why this range (shown in docs and the summary).
    why: str = ""

    @model_validator(mode="after")
    def _bounds(self):
        if not self.high > self.low:
            raise ValueError("high must be greater than low")
        if self.dist == "loguniform" and self.low <= 0:
            raise ValueError("a loguniform prior needs low > 0")
        return self


class Stopping(_Strict):
    min_epsilon: Annotated[float, Field(ge=0)] = 0.0
    max_generations: Annotated[int, Field(ge=1)] = 10
    max_simulations: Annotated[int, Field(ge=1)] = 10_000
    max_walltime_minutes: Annotated[float, Field(gt=0)] = 55.0


class PPC(_Strict):
    """The posterior predictive check: runs of the scenario with parameters drawn from the posterior."""

    replicates: Annotated[int, Field(ge=1)] = 40
    scale: Annotated[float, Field(gt=0, le=1)] = 0.1


class ABCConfig(_Strict):
    scenario: str
    parameters: dict[str, Prior]
    #: Target ids to fit, or "calibration" for every target whose role is calibration.
    targets: list[str] | Literal["calibration"] = "calibration"
    targets_file: str | None = None
    population_size: Annotated[int, Field(ge=2)] = 100
    stopping: Stopping = Stopping()
    scale: Annotated[float, Field(gt=0, le=1)] = 0.05
    seed: Annotated[int, Field(ge=0)] = 1961
    database: str = "abc.db"
    dispersion: Annotated[float, Field(gt=0)] = DEFAULT_DISPERSION
    #: Scaling of the SMC perturbation kernel's covariance (pyabc MultivariateNormalTransition): above 1
    #: smooths the proposal, which keeps importance weights from collapsing in many dimensions.
    kernel_scaling: Annotated[float, Field(gt=0)] = 1.0
    #: Where posterior.parquet, posterior_summary.csv and the figures go (relative to this file).
    output_dir: str = "."
    posterior_predictive: PPC = PPC()


def load_config(path: str | Path) -> ABCConfig:
    path = Path(path)
    data = read_yaml(path)
    try:
        return ABCConfig.model_validate(data)
    except ValidationError as err:
        raise from_validation(path, err) from None


def natural(priors: dict[str, Prior], params) -> dict[str, float]:
    """Parameter values on their natural scale. pyabc samples a loguniform parameter as its log10, so that
    its prior is flat and the SMC's Gaussian perturbation kernel suits it (a kernel on the natural scale
    of a parameter spanning two orders of magnitude degenerates the importance weights)."""
    return {k: float(10.0 ** params[k]) if p.dist == "loguniform" else float(params[k]) for k, p in priors.items()}
