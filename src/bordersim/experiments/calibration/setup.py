"""Setting up a calibration: the configuration, its scenario and targets, the simulator and the
parameter space, all checked before anything runs (every prior path at both ends of its range)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ...archive.observation import EPS, record_for, transform_of
from ...archive.targets import Target, load_targets
from ...errors import ScenarioError
from ...inference import ParamSpace, Settings, Summary
from ...world.loader import read_with_extends, validate_scenario
from .config import CalibrationConfig, load_config
from .simulator import Simulator


@dataclass
class CalibrationSetup:
    """Everything a calibration needs, checked before anything runs."""

    config_path: Path
    cfg: CalibrationConfig
    base: dict
    scenario_path: Path
    targets: list[Target]
    all_targets: list[Target]
    targets_file: Path
    simulator: Simulator
    space: ParamSpace

    @property
    def root(self) -> Path:
        return self.config_path.parent

    @property
    def run_dir(self) -> Path:
        """The calibration's waves (wave 0 is shared with leave-one-out fits and synthetic archives)."""
        return self.root / self.cfg.run_dir / "wave0"

    @property
    def out_dir(self) -> Path:
        return self.root / self.cfg.output_dir

    def summaries(self) -> list[Summary]:
        return [Summary(t.id, transform_of(t), eps=EPS) for t in self.targets]

    def records(self) -> list:
        return [record_for(t) for t in self.targets]

    def settings(self, n_wave: int | None = None, max_waves: int | None = None) -> Settings:
        d, b = self.cfg.design, self.cfg.budget
        return Settings(
            n0=d.n0,
            n_wave=n_wave or d.n_wave,
            batch_size=d.batch_size,
            replicate_fraction=d.replicate_fraction,
            max_waves=max_waves or b.max_waves,
            max_simulations=b.max_simulations,
            max_wall_minutes=b.max_wall_minutes,
        )


def _fitted_targets(cfg: CalibrationConfig, all_targets: list[Target], config_path: Path) -> list[Target]:
    if cfg.targets == "calibration":
        return [t for t in all_targets if t.role == "calibration"]
    by_id = {t.id: t for t in all_targets}
    missing = [i for i in cfg.targets if i not in by_id]
    if missing:
        raise ScenarioError(config_path, f"targets: unknown target ids {missing}")
    targets = [by_id[i] for i in cfg.targets]
    bad = [t.id for t in targets if t.role != "calibration" or t.value is None]
    if bad:
        raise ScenarioError(config_path, f"targets: not calibration targets (validation figures are never fitted): {bad}")
    return targets


def setup(config_path: str | Path) -> CalibrationSetup:
    """Read and check the configuration, its scenario and targets; build the simulator."""
    config_path = Path(config_path)
    cfg = load_config(config_path)
    sc_path = config_path.parent / cfg.scenario
    base = read_with_extends(sc_path)
    base.pop("extends", None)
    base.pop("posterior", None)  # simulations set the parameters themselves, never drawn from an old posterior
    sc = validate_scenario(base, sc_path)
    tfile = config_path.parent / cfg.targets_file if cfg.targets_file else (sc_path.parent / sc.targets if sc.targets else None)
    if tfile is None:
        raise ScenarioError(config_path, "targets_file: the scenario names no targets; give targets_file")
    all_targets = load_targets(tfile)
    targets = _fitted_targets(cfg, all_targets, config_path)
    sim = Simulator(base, sc_path, cfg.parameters, targets, cfg.scale)
    # Every prior path must be a valid scenario field, at both ends of its range: checked before anything runs.
    for end in ("low", "high"):
        try:
            sim.scenario({k: getattr(p, end) for k, p in cfg.parameters.items()})
        except (KeyError, IndexError, TypeError, ValueError) as err:
            raise ScenarioError(config_path, f"parameters: a path does not exist in the scenario ({err})") from None
        except ScenarioError as err:
            raise ScenarioError(config_path, f"parameters: the prior's {end} end does not validate: {err.message}") from None
    space = ParamSpace([p.param(name) for name, p in cfg.parameters.items()])
    return CalibrationSetup(config_path, cfg, base, sc_path, targets, all_targets, tfile, sim, space)
