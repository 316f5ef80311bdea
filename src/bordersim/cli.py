"""The ``bordersim`` command: it parses arguments and calls the layers below.

    bordersim run SCENARIO.yaml [--out DIR] [--seed N] [--replicates R] [--scale F] [--workers N] [--force] [--ablate M]
    bordersim ablations SCENARIO.yaml [MECHANISM ...] [--replicates R] [--scale F]
    bordersim fit OUT_DIR [--targets calibration/targets.yaml]
    bordersim compare OUT_A OUT_B [...] [--region china] [--out DIR]
    bordersim calibrate calibration/abc.yaml [--resume] [--local-cluster N | --scheduler tcp://HOST:PORT]
    bordersim sweep SWEEP.yaml [--out DIR] [--workers N | --local-cluster N | --scheduler tcp://HOST:PORT] [--resume]
    bordersim sensitivity SWEEP_DIR
    bordersim validate SCENARIO.yaml
    bordersim rules
    bordersim measures

A malformed scenario is a one-line error naming the file, the field and what is wrong (exit code 2).
"""

from __future__ import annotations

import argparse
import sys

from .errors import ScenarioError
from .world.ablations import ABLATIONS

EXIT_USAGE = 2
#: Commands that need the model, the archive or the experiments (imported only when one of them runs).
HEAVY = {"run", "fit", "ablations", "compare", "calibrate", "sweep", "sensitivity"}


def _error(message: str) -> int:
    print(f"bordersim: error: {message}", file=sys.stderr)
    return EXIT_USAGE


# -- the light commands (the heavy ones are in bordersim.experiments.commands) -----------------------
def cmd_validate(args) -> int:
    from .world.loader import load_scenario

    sc = load_scenario(args.scenario)
    rules = ", ".join(f"{r.use} from {r.from_}" for r in sc.rules)
    print(f"{args.scenario}: ok ({sc.name}; {sc.run.start} to {sc.run.end}; rules: {rules})")
    return 0


def cmd_rules(args) -> int:
    from .world.rules import available_rule_sets, load_rule_set

    for name in available_rule_sets():
        print(f"{name:22s} {load_rule_set(name).title}")
    return 0


def cmd_measures(args) -> int:
    from .model.recorder import MEASURES

    for name, (unit, kind, desc) in MEASURES.items():
        print(f"{name:32s} {unit:12s} {kind:6s} {desc}")
    return 0


# -- the parser: one small function per command ------------------------------------------------------
def _add_run(sub) -> None:
    r = sub.add_parser("run", help="run a scenario and write flows, a manifest and figures")
    r.add_argument("scenario", help="scenario YAML file (e.g. scenarios/baseline_1960_1962.yaml)")
    r.add_argument("--out", help="output directory (default: outputs/<scenario name>/)")
    r.add_argument("--seed", type=int, help="random seed (overrides run.seed)")
    r.add_argument("--replicates", type=int, help="number of replicates (overrides run.replicates)")
    r.add_argument("--scale", type=float, help="share of households simulated, e.g. 0.1 (overrides run.scale)")
    r.add_argument("--workers", type=int, default=1, help="processes for replicates (results do not depend on it)")
    r.add_argument("--force", action="store_true", help="replace an existing output directory")
    r.add_argument("--quiet", action="store_true", help="no progress output")
    r.add_argument(
        "--ablate",
        action="append",
        choices=sorted(ABLATIONS),
        metavar="MECHANISM",
        help=f"switch a mechanism off (repeatable): {', '.join(sorted(ABLATIONS))}",
    )
    r.set_defaults(func="run")


def _add_ablations(sub) -> None:
    a = sub.add_parser("ablations", help="run with each mechanism switched off; report which targets each breaks")
    a.add_argument("scenario")
    a.add_argument("mechanisms", nargs="*", choices=sorted(ABLATIONS) + [], metavar="MECHANISM", help="default: all")
    a.add_argument("--out", help="output directory (default: outputs/<scenario name>-ablations/)")
    a.add_argument("--seed", type=int)
    a.add_argument("--replicates", type=int)
    a.add_argument("--scale", type=float)
    a.add_argument("--workers", type=int, default=1)
    a.add_argument("--force", action="store_true")
    a.add_argument("--quiet", action="store_true")
    a.set_defaults(func="ablations")


def _add_fit_and_compare(sub) -> None:
    f = sub.add_parser("fit", help="compare a run with the archival targets: fit.csv, fit.md, figures")
    f.add_argument("out_dir", help="a run's output directory (with flows.csv)")
    f.add_argument("--targets", help="targets file (default: the scenario's, else calibration/targets.yaml)")
    f.set_defaults(func="fit")
    c = sub.add_parser("compare", help="compare runs: headline totals with intervals, monthly flows side by side")
    c.add_argument("out_dirs", nargs="+", help="output directories of `bordersim run`")
    c.add_argument("--region", default="china", help="region to compare (default: china)")
    c.add_argument("--out", help="where to write compare.csv/.md/.png (default: outputs/compare-A-vs-B/)")
    c.set_defaults(func="compare")


def _add_listings(sub) -> None:
    v = sub.add_parser("validate", help="check a scenario file and exit")
    v.add_argument("scenario")
    v.set_defaults(func=cmd_validate)
    sub.add_parser("rules", help="list the built-in rule sets").set_defaults(func=cmd_rules)
    sub.add_parser("measures", help="list the measures written to flows.csv").set_defaults(func=cmd_measures)


def _add_calibrate(sub) -> None:
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
    c.set_defaults(func="calibrate")


def _add_sweep(sub) -> None:
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
    s.set_defaults(func="sweep")
    e = sub.add_parser("sensitivity", help="Morris effects or Sobol indices of a finished sweep (SALib)")
    e.add_argument("sweep_dir", help="a sweep directory (written by `bordersim sweep`)")
    e.add_argument("--outcome", action="append", help="analyse only this outcome (repeatable; default: every total)")
    e.add_argument("--conf-level", type=float, default=0.95, help="confidence level of the bootstrap intervals")
    e.add_argument("--resamples", type=int, default=1000, help="bootstrap resamples")
    e.set_defaults(func="sensitivity")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="bordersim",
        description="Agent-based simulation of migration across the China-North Korea border, 1957-1970 "
        "(built from NKIDP e-Dossier No. 11).",
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in (_add_run, _add_ablations, _add_fit_and_compare, _add_listings, _add_calibrate, _add_sweep):
        add(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    func = args.func
    if args.command in HEAVY:
        from .experiments import commands

        func = getattr(commands, f"cmd_{func}")
    try:
        return func(args)
    except (ScenarioError, FileExistsError) as err:
        return _error(str(err))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
