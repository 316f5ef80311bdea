"""Calibration: an ABC-SMC posterior over the behavioural parameters against the 1960-62 counts.

``bordersim calibrate calibration/abc.yaml`` runs pyabc's ABC-SMC. Each particle is one run of the
scenario at the configuration's scale, seeded from a hash of the calibration seed and the particle's
parameter values (so the same parameters always give the same simulation, whatever the sampler or
worker). The summary statistics are the simulated quantities of the calibration targets
(:mod:`bordersim.targets`), and the distance is built from the observation model:

* a count is compared on the log scale, ``log(sim * f + 1) - log(obs + 1)``, its discrepancy divided
  by the archival record's own uncertainty: the negative-binomial coefficient of variation
  ``sqrt(1/k + 1/(obs + 1))``, plus, for an "incomplete statistics" undercount, half the log-range of
  the recorded fraction (``f`` is the prior's mean fraction; 1 otherwise); an interval or a lower
  bound costs nothing when the simulated value is inside it;
* a share is compared in units of its binomial standard error ``sqrt(p (1 - p) / n)``;
* the distance is the root mean square of these standardized discrepancies.

So every target weighs by how precisely the archive knows it, on a scale where "twice too many" and
"half as many" are equally wrong; pyabc's epsilon schedule (median of the last population's
distances) shrinks the tolerance generation by generation.

pyabc draws its particles from numpy's global generator; ``--seed`` with ``--single-core`` seeds it
(only there) so that a calibration can be repeated exactly. The model itself never uses global
random state.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import math
import sys
import time
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .errors import ScenarioError, from_validation
from .rules import _read_yaml
from .scenario import read_with_extends, validate_scenario
from .sweep import set_path
from .targets import DEFAULT_DISPERSION, FlowIndex, Target, load_targets


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
    data = _read_yaml(path)
    try:
        return ABCConfig.model_validate(data)
    except ValidationError as err:
        raise from_validation(path, err) from None


# -- the simulator --------------------------------------------------------------------------------------
def particle_seed(seed: int, params: dict[str, float]) -> np.random.SeedSequence:
    """A seed that depends only on the calibration seed and the parameter values."""
    h = hashlib.sha256(json.dumps({k: float(params[k]) for k in sorted(params)}, sort_keys=True).encode()).digest()
    return np.random.SeedSequence([seed] + [int.from_bytes(h[i:i + 4], "little") for i in range(0, 16, 4)])


class Simulator:
    """Picklable model function for pyabc: parameters -> simulated target quantities."""

    def __init__(self, base: dict, source: Path, priors: dict[str, Prior], targets: list[Target], scale: float, seed: int):
        self.base = base
        self.source = str(source)
        self.priors = priors
        self.targets = targets
        self.scale = scale
        self.seed = seed

    def scenario(self, params: dict[str, float], scale: float | None = None, replicates: int = 1):
        import copy

        d = copy.deepcopy(self.base)
        for name, prior in self.priors.items():
            set_path(d, prior.path, float(params[name]))
        # Simulate only as far as the last month a fitted target needs.
        last = max(t.period.end for t in self.targets)
        y, mth = int(last[:4]), int(last[5:])
        end = (dt.date(y + (mth == 12), mth % 12 + 1, 1) - dt.timedelta(days=1))
        end = min(end, dt.date.fromisoformat(str(d["run"]["end"])))
        d["run"] = {**d["run"], "scale": scale or self.scale, "replicates": replicates, "end": end.isoformat()}
        d["targets"] = None
        return validate_scenario(d, self.source)

    def __call__(self, params) -> dict[str, float]:
        from .runner import run_replicate

        p = natural(self.priors, params)
        sc = self.scenario(p)
        flows = run_replicate(sc, particle_seed(self.seed, p), 0).flows
        index = FlowIndex(flows)
        out = {}
        for t in self.targets:
            v = float(index.value(t)[0])
            out[t.id] = v if math.isfinite(v) else float("nan")
        return out


# -- the distance ------------------------------------------------------------------------------------------
class ObservationDistance:
    """Root mean square of discrepancies standardized by each archival record's uncertainty (see module doc)."""

    def __init__(self, targets: list[Target], dispersion: float):
        self.targets = targets
        self.k = dispersion

    def z(self, t: Target, sim: float) -> float:
        o = t.observation
        if sim is None or not math.isfinite(sim):
            return 10.0
        if t.kind == "share":
            n = t.sample_size or 100
            if o.type == "interval":
                if o.low <= sim <= o.high:
                    return 0.0
                ref = o.low if sim < o.low else o.high
            else:
                ref = t.value
            sd = math.sqrt(max(ref * (1 - ref), 0.01) / n)
            return (sim - ref) / sd
        fmid, widen = 1.0, 0.0
        if o.type == "undercount":
            pr = o.undercount_prior
            fmid, widen = 0.5 * (pr.low + pr.high), 0.5 * math.log(pr.high / pr.low)
        ls = math.log(sim * fmid + 1.0)
        if o.type == "interval":
            lo, hi = math.log(o.low + 1.0), math.log(o.high + 1.0)
            if lo <= ls <= hi:
                return 0.0
            ref = lo if ls < lo else hi
            obs = o.low if ls < lo else o.high
        elif o.type == "lower_bound":
            ref = math.log(t.value + 1.0)
            if ls >= ref:
                return 0.0
            obs = t.value
        else:
            obs = t.value
            ref = math.log(obs + 1.0)
        sd = math.sqrt(1.0 / self.k + 1.0 / (obs + 1.0)) + widen
        return (ls - ref) / sd

    def __call__(self, x: dict, x0: dict | None = None) -> float:
        zs = [self.z(t, x.get(t.id)) for t in self.targets]
        return float(math.sqrt(np.mean(np.square(zs))))


def natural(priors: dict[str, Prior], params) -> dict[str, float]:
    """Parameter values on their natural scale. pyabc samples a loguniform parameter as its log10, so that
    its prior is flat and the SMC's Gaussian perturbation kernel suits it (a kernel on the natural scale
    of a parameter spanning two orders of magnitude degenerates the importance weights)."""
    return {k: float(10.0 ** params[k]) if p.dist == "loguniform" else float(params[k]) for k, p in priors.items()}


def _prior(priors: dict[str, Prior]):
    import pyabc

    rvs = {}
    for name, p in priors.items():
        lo, hi = (math.log10(p.low), math.log10(p.high)) if p.dist == "loguniform" else (p.low, p.high)
        rvs[name] = pyabc.RV("uniform", lo, hi - lo)
    return pyabc.Distribution(**rvs)


def setup(config_path: Path):
    """Everything a calibration needs: config, base scenario dict, targets, simulator, distance, observed."""
    cfg = load_config(config_path)
    root = config_path.parent
    sc_path = root / cfg.scenario
    base = read_with_extends(sc_path)
    base.pop("extends", None)
    base.pop("posterior", None)  # particles set the parameters themselves, never drawn from an old posterior
    sc = validate_scenario(base, sc_path)
    tfile = root / cfg.targets_file if cfg.targets_file else (sc_path.parent / sc.targets if sc.targets else None)
    if tfile is None:
        raise ScenarioError(config_path, "targets_file: the scenario names no targets; give targets_file")
    all_targets = load_targets(tfile)
    by_id = {t.id: t for t in all_targets}
    if cfg.targets == "calibration":
        targets = [t for t in all_targets if t.role == "calibration"]
    else:
        missing = [i for i in cfg.targets if i not in by_id]
        if missing:
            raise ScenarioError(config_path, f"targets: unknown target ids {missing}")
        targets = [by_id[i] for i in cfg.targets]
        bad = [t.id for t in targets if t.role != "calibration" or t.value is None]
        if bad:
            raise ScenarioError(config_path, f"targets: not calibration targets (validation figures are never fitted): {bad}")
    # Every prior path must be a valid scenario field: try the prior's midpoint once, before anything runs.
    sim = Simulator(base, sc_path, cfg.parameters, targets, cfg.scale, cfg.seed)
    mid = {k: (p.low + p.high) / 2 for k, p in cfg.parameters.items()}
    try:
        sim.scenario(mid)
    except (KeyError, IndexError, TypeError, ValueError) as err:
        raise ScenarioError(config_path, f"parameters: a path does not exist in the scenario ({err})") from None
    except ScenarioError as err:
        raise ScenarioError(config_path, f"parameters: {err.message}") from None
    observed = {t.id: t.observed for t in targets}
    return cfg, base, sc_path, targets, all_targets, tfile, sim, ObservationDistance(targets, cfg.dispersion), observed


# -- running -------------------------------------------------------------------------------------------------
def _patch_pyabc() -> None:
    """pyabc 0.13 reads the previous epsilon with ``DataFrame.loc``, which pandas 3 can return as a
    Series; read it as the last float recorded for that generation instead."""
    import pyabc.inference.smc as smc

    def eps_from_hist(history, t=None):
        pops = history.get_all_populations()
        if len(pops) == 0 or (t is not None and t not in pops.t.values):
            return None
        col = pops.epsilon if t is None else pops.loc[pops.t == t, "epsilon"]
        return float(col.to_numpy()[-1])

    smc.eps_from_hist = eps_from_hist


class _DatabaseLock:
    """An exclusive lock beside the database: two calibrations never write into one history."""

    def __init__(self, db: Path):
        self.path = db.with_name(db.name + ".lock")
        self.fh = None

    def __enter__(self):
        import fcntl

        self.fh = open(self.path, "w")
        try:
            fcntl.flock(self.fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.fh.close()
            raise FileExistsError(f"{self.path}: another calibration is using this database") from None
        return self

    def __exit__(self, *exc):
        import fcntl

        fcntl.flock(self.fh, fcntl.LOCK_UN)
        self.fh.close()


def _sampler(single_core: bool, local_cluster: int | None, scheduler: str | None, workers: int | None):
    import pyabc

    if scheduler or local_cluster:
        from dask.distributed import Client, LocalCluster

        if scheduler:
            client = Client(scheduler)
            cluster = None
        else:
            cluster = LocalCluster(n_workers=local_cluster, threads_per_worker=1, processes=True, dashboard_address=None)
            client = Client(cluster)
        return pyabc.sampler.DaskDistributedSampler(dask_client=client, batch_size=4), (client, cluster)
    if single_core:
        return pyabc.sampler.SingleCoreSampler(), None
    import os

    return pyabc.sampler.MulticoreEvalParallelSampler(n_procs=workers or os.cpu_count() or 1), None


def calibrate(config_path: str | Path, resume: bool = False, force: bool = False, single_core: bool = False,
              local_cluster: int | None = None, scheduler: str | None = None, workers: int | None = None,
              write: bool = True, ppc: bool = True) -> dict:
    """Run (or resume) the ABC-SMC calibration; write the posterior, its summary, figures and the PPC."""
    import pyabc

    config_path = Path(config_path)
    cfg, base, sc_path, targets, all_targets, tfile, sim, distance, observed = setup(config_path)
    out_dir = config_path.parent / cfg.output_dir
    db = (config_path.parent / cfg.database).resolve()
    with _DatabaseLock(db):
        return _calibrate_locked(config_path, cfg, sim, distance, observed, out_dir, db, resume, force, single_core,
                                 local_cluster, scheduler, workers, write, ppc)


def _calibrate_locked(config_path, cfg, sim, distance, observed, out_dir, db, resume, force, single_core,
                      local_cluster, scheduler, workers, write, ppc) -> dict:
    import pyabc

    _patch_pyabc()
    if db.exists() and not (resume or force):
        raise FileExistsError(f"{db} exists: use --resume to continue that calibration or --force to start again")
    if force and db.exists() and not resume:
        db.unlink()
    logging.getLogger("ABC").setLevel(logging.INFO)  # pyabc's progress: generation, epsilon, acceptance, timing
    sampler, cleanup = _sampler(single_core, local_cluster, scheduler, workers)
    if single_core:
        np.random.seed(cfg.seed)  # pyabc samples particles from numpy's global generator
    try:
        abc = pyabc.ABCSMC(sim, _prior(cfg.parameters), pyabc.distance.FunctionDistance(distance),
                           population_size=cfg.population_size, sampler=sampler,
                           transitions=pyabc.MultivariateNormalTransition(scaling=cfg.kernel_scaling))
        t0 = time.perf_counter()
        if resume and db.exists():
            abc.load(f"sqlite:///{db}", _last_run_id(db))
            done = abc.history.n_populations
            print(f"bordersim: resuming {db.name}: {done} generation(s) done", file=sys.stderr)
        else:
            abc.new(f"sqlite:///{db}", observed)
            done = 0
        remaining = max(0, cfg.stopping.max_generations - done)
        if remaining:
            spent = abc.history.total_nr_simulations if done else 0
            history = abc.run(minimum_epsilon=cfg.stopping.min_epsilon, max_nr_populations=remaining,
                              max_total_nr_simulations=max(1, cfg.stopping.max_simulations - spent),
                              max_walltime=dt.timedelta(minutes=cfg.stopping.max_walltime_minutes))
        else:
            history = abc.history
        wall = time.perf_counter() - t0
    finally:
        if cleanup:
            client, cluster = cleanup
            client.close()
            if cluster is not None:
                cluster.close()
    info = run_info(history, wall, cfg)
    if write:
        write_outputs(history, cfg, out_dir, info)
        if ppc:
            posterior_predictive(config_path, out_dir)
        write_report(config_path)
    return info


def write_report(config_path: str | Path) -> Path:
    """``calibration.md``: the run (wall time, simulations, particles, epsilon), the posterior, and the
    posterior predictive check: which targets fall inside their 90% interval and which do not."""
    from .fit import summary_line
    from .runner import atomic_write_text

    config_path = Path(config_path)
    cfg = load_config(config_path)
    out_dir = config_path.parent / cfg.output_dir
    info = json.loads((out_dir / "calibration_run.json").read_text())
    summ = pd.read_csv(out_dir / "posterior_summary.csv")
    lines = [
        "# Calibration report",
        "",
        f"Command: `bordersim calibrate {config_path.as_posix()}` (pyabc ABC-SMC; configuration and priors in `{config_path.name}`).",
        "",
        "| | |",
        "|---|---|",
    ]
    labels = {"effective_sample_size_final": "effective sample size of the final population", "generations": "generations", "simulations": "simulations", "accepted_particles_final": "accepted particles (final)",
              "final_epsilon": "final epsilon (RMS standardized discrepancy)", "wall_seconds_this_session": "wall time of the ABC run, s",
              "population_size": "population size", "scale": "population scale per particle"}
    for k, lab in labels.items():
        v = info.get(k)
        lines.append(f"| {lab} | {v:.3g} |" if isinstance(v, float) else f"| {lab} | {v} |")
    lines += ["", "## Posterior (final generation, weighted)", "",
              "| parameter | prior | median | 50% CI | 90% CI | 90% width / prior width |", "|---|---|---|---|---|---|"]
    for r in summ.itertuples():
        lines.append(f"| `{r.parameter}` | {r.prior} {r.prior_low:.3g}-{r.prior_high:.3g} | {r.median:.3g} | "
                     f"{r.ci50_low:.3g}-{r.ci50_high:.3g} | {r.ci90_low:.3g}-{r.ci90_high:.3g} | {r.ci90_width_over_prior_width:.2f} |")
    fit_path = out_dir / "ppc" / "fit.csv"
    if fit_path.exists():
        fit = pd.read_csv(fit_path)
        lines += ["", "## Posterior predictive check", "",
                  f"The baseline run with parameters drawn from the posterior ({cfg.posterior_predictive.replicates} replicates at "
                  f"scale {cfg.posterior_predictive.scale}; full report in `ppc/fit.md`):", "",
                  f"- **{summary_line(fit, 'calibration')}**;", f"- {summary_line(fit, 'validation')}.", ""]
        miss = fit[(fit.role == "calibration") & fit.observed.notna() & (fit.inside_90 == False)]  # noqa: E712
        if len(miss):
            lines += ["Calibration targets outside their 90% interval:", "",
                      "| target | observed | predicted median | 90% interval |", "|---|---|---|---|"]
            for r in miss.itertuples():
                lines.append(f"| `{r.id}` | {r.observed:.4g} | {r.predicted_median:.4g} | {r.p05:.4g}-{r.p95:.4g} |")
            lines.append("")
        pred = fit[fit.observed.isna()]
        if len(pred):
            lines += ["Withheld figures (validation, never fitted): predictions", "",
                      "| target | predicted median | 50% interval | 90% interval |", "|---|---|---|---|"]
            for r in pred.itertuples():
                lines.append(f"| `{r.id}` | {r.predicted_median:.4g} | {r.p25:.4g}-{r.p75:.4g} | {r.p05:.4g}-{r.p95:.4g} |")
            lines.append("")
    path = out_dir / "calibration.md"
    atomic_write_text(path, "\n".join(lines) + "\n")
    return path


def _last_run_id(db: Path) -> int:
    import sqlite3

    with sqlite3.connect(db) as con:
        row = con.execute("SELECT max(id) FROM abc_smc").fetchone()
    if not row or row[0] is None:
        raise ScenarioError(db, "no calibration run in this database to resume")
    return int(row[0])


def run_info(history, wall: float, cfg: ABCConfig) -> dict:
    pops = history.get_all_populations()
    pops = pops[pops.t >= 0]
    w = np.asarray(history.get_distribution()[1], dtype=float)
    return {
        "effective_sample_size_final": round(float(w.sum() ** 2 / np.sum(w ** 2)), 1),
        "generations": int(history.n_populations),
        "simulations": int(history.total_nr_simulations),
        "accepted_particles_final": int(len(history.get_distribution()[1])),
        "final_epsilon": float(pops.epsilon.iloc[-1]) if len(pops) else float("nan"),
        "wall_seconds_this_session": round(wall, 1),
        "population_size": cfg.population_size,
        "scale": cfg.scale,
    }


# -- outputs ---------------------------------------------------------------------------------------------------
def _wq(x: np.ndarray, w: np.ndarray, qs) -> np.ndarray:
    o = np.argsort(x)
    x, w = x[o], w[o]
    c = (np.cumsum(w) - 0.5 * w) / w.sum()
    return np.interp(qs, c, x)


def write_outputs(history, cfg: ABCConfig, out_dir: Path, info: dict) -> None:
    from .runner import atomic_write_text

    out_dir.mkdir(parents=True, exist_ok=True)
    frames = []
    for t in range(history.max_t + 1):
        df, w = history.get_distribution(t=t)
        df = df.reset_index(drop=True)
        for name, p in cfg.parameters.items():
            if p.dist == "loguniform":
                df[name] = 10.0 ** df[name]
        df.insert(0, "weight", np.asarray(w))
        df.insert(0, "generation", t)
        frames.append(df)
    allpop = pd.concat(frames, ignore_index=True)
    paths = {name: p.path for name, p in cfg.parameters.items()}
    table = allpop.rename(columns=paths)
    tmp = out_dir / ".posterior.parquet.tmp"
    table.to_parquet(tmp, index=False)
    tmp.replace(out_dir / "posterior.parquet")
    final = allpop[allpop.generation == history.max_t]
    rows = []
    for name, p in cfg.parameters.items():
        x, w = final[name].to_numpy(float), final.weight.to_numpy(float)
        q = _wq(x, w, [0.05, 0.25, 0.5, 0.75, 0.95])
        width = (p.high - p.low) if p.dist == "uniform" else math.log(p.high / p.low)
        w90 = (q[4] - q[0]) if p.dist == "uniform" else math.log(q[4] / q[0])
        rows.append({"parameter": name, "path": p.path, "prior": p.dist, "prior_low": p.low, "prior_high": p.high,
                     "median": q[2], "ci50_low": q[1], "ci50_high": q[3], "ci90_low": q[0], "ci90_high": q[4],
                     "ci90_width_over_prior_width": w90 / width})
    summ = pd.DataFrame(rows)
    atomic_write_text(out_dir / "posterior_summary.csv", summ.to_csv(index=False, float_format="%.6g", lineterminator="\n"))
    atomic_write_text(out_dir / "calibration_run.json", json.dumps(info, indent=2) + "\n")
    pops = history.get_all_populations()
    pops = pops[pops.t >= 0]
    _figures(final, cfg, pops, out_dir)


def _figures(final: pd.DataFrame, cfg: ABCConfig, pops: pd.DataFrame, out_dir: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(cfg.parameters)
    n = len(names)
    ncol = 4
    nrow = int(math.ceil(n / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(13, 2.6 * nrow))
    axes = np.atleast_1d(axes).ravel()
    w = final.weight.to_numpy(float)
    for ax, name in zip(axes, names):
        p = cfg.parameters[name]
        x = final[name].to_numpy(float)
        if p.dist == "loguniform":
            bins = np.geomspace(p.low, p.high, 25)
            ax.set_xscale("log")
        else:
            bins = np.linspace(p.low, p.high, 25)
        ax.hist(x, bins=bins, weights=w, density=True, color="#1f77b4", alpha=0.8, label="posterior")
        ax.axhline(1 / (p.high - p.low) if p.dist == "uniform" else 0, color="k", lw=0)
        ax.set_xlim(p.low, p.high)
        ax.set_title(name, fontsize=9)
        ax.tick_params(labelsize=7)
        ax.set_yticks([])
    for ax in axes[n:]:
        ax.set_visible(False)
    fig.suptitle("Posterior marginals (weighted final population; x axis spans the prior)", fontsize=11)
    fig.tight_layout()
    fig.savefig(out_dir / "posterior_marginals.png", dpi=100)
    plt.close(fig)

    fig, axes = plt.subplots(n, n, figsize=(1.6 * n, 1.6 * n))
    for i, a in enumerate(names):
        for j, b in enumerate(names):
            ax = axes[i, j]
            ax.set_xticks([])
            ax.set_yticks([])
            if i == j:
                ax.hist(final[a], bins=15, weights=w, color="#1f77b4")
            elif i > j:
                ax.scatter(final[b], final[a], s=3, c=w, cmap="viridis", alpha=0.7)
                if cfg.parameters[b].dist == "loguniform":
                    ax.set_xscale("log")
                if cfg.parameters[a].dist == "loguniform":
                    ax.set_yscale("log")
            else:
                ax.set_visible(False)
            if j == 0:
                ax.set_ylabel(a, fontsize=6, rotation=0, ha="right")
            if i == n - 1:
                ax.set_xlabel(b, fontsize=6, rotation=45, ha="right")
    fig.suptitle("Posterior pairs (final population; colour: weight)", fontsize=11)
    fig.savefig(out_dir / "posterior_pairs.png", dpi=90, bbox_inches="tight")
    plt.close(fig)

    fig, ax1 = plt.subplots(figsize=(7, 4))
    ax1.plot(pops.t, pops.epsilon, "o-", color="#1f77b4")
    ax1.set_xlabel("generation")
    ax1.set_ylabel("epsilon (RMS standardized discrepancy)", color="#1f77b4")
    ax2 = ax1.twinx()
    ax2.plot(pops.t, pops.particles / pops.samples, "s--", color="#ff7f0e")
    ax2.set_ylabel("acceptance rate", color="#ff7f0e")
    ax1.set_title("ABC-SMC: tolerance and acceptance rate by generation")
    ax1.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out_dir / "epsilon_by_generation.png", dpi=110)
    plt.close(fig)


def posterior_predictive(config_path: Path, out_dir: Path) -> Path:
    """Run the scenario with parameters drawn from the posterior; write the fit report (all targets)."""
    from .fit import write_fit
    from .runner import run_replicates, write_atomic_dir

    cfg = load_config(config_path)
    sc_path = config_path.parent / cfg.scenario
    data = read_with_extends(sc_path)
    data.pop("extends", None)
    import os

    data["posterior"] = {"file": os.path.relpath((out_dir / "posterior.parquet").resolve(), sc_path.parent.resolve()), "mode": "draw"}
    data["run"] = {**data["run"], "replicates": cfg.posterior_predictive.replicates, "scale": cfg.posterior_predictive.scale}
    sc = validate_scenario(data, sc_path)
    results = run_replicates(sc, workers=os.cpu_count() or 1, progress=True, source=str(sc_path))
    flows = pd.concat([r.flows for r in results], ignore_index=True)
    tfile = sc_path.parent / sc.targets

    def fill(tmp: Path) -> None:
        flows.to_csv(tmp / "flows.csv", index=False, float_format="%.3f", lineterminator="\n")
        (tmp / "manifest.json").write_text(json.dumps({"scenario": sc.model_dump(mode="json", by_alias=True),
                                                       "scenario_file": str(sc_path), "seed": sc.run.seed,
                                                       "posterior_predictive": True}, indent=2) + "\n")
        write_fit(flows, tmp, tfile, seed=sc.run.seed, title=f"{sc.name}: posterior predictive check")

    return write_atomic_dir(out_dir / "ppc", fill, force=True)


def cmd_calibrate(args) -> int:
    if args.report_only:
        print(f"bordersim: wrote {write_report(args.config)}", file=sys.stderr)
        return 0
    try:
        info = calibrate(args.config, resume=args.resume, force=args.force, single_core=args.single_core,
                         local_cluster=args.local_cluster, scheduler=args.scheduler, workers=args.workers,
                         ppc=not args.no_ppc)
    except FileExistsError as err:
        print(f"bordersim: error: {err}", file=sys.stderr)
        return 2
    print("bordersim: calibration: " + ", ".join(f"{k} {v}" for k, v in info.items()), file=sys.stderr)
    return 0


def register(sub) -> None:
    c = sub.add_parser("calibrate", help="ABC-SMC calibration against the archival counts (pyabc)")
    c.add_argument("config", help="calibration config, e.g. calibration/abc.yaml")
    c.add_argument("--resume", action="store_true", help="continue the calibration in the config's database")
    c.add_argument("--force", action="store_true", help="discard an existing database and start again")
    c.add_argument("--single-core", action="store_true", help="one process, reproducible with the config's seed")
    c.add_argument("--workers", type=int, help="local processes (default: all cores)")
    c.add_argument("--local-cluster", type=int, metavar="N", help="start a dask LocalCluster with N workers")
    c.add_argument("--scheduler", metavar="tcp://HOST:PORT", help="use an existing dask.distributed scheduler")
    c.add_argument("--no-ppc", action="store_true", help="skip the posterior predictive check")
    c.add_argument("--report-only", action="store_true", help="rewrite calibration.md from the existing outputs")
    c.set_defaults(func=cmd_calibrate)
