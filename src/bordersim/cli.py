"""The ``bordersim`` command: it parses arguments and calls the layers below.

    bordersim run SCENARIO.yaml [--out DIR] [--seed N] [--replicates R] [--scale F] [--workers N] [--force] [--ablate M]
    bordersim ablations SCENARIO.yaml [MECHANISM ...] [--replicates R] [--scale F]
    bordersim fit OUT_DIR [--targets calibration/targets.yaml]
    bordersim compare OUT_A OUT_B [...] [--region china] [--out DIR]
    bordersim calibrate calibration/calibrate.yaml [--resume] [--loo] [--sbc] [--local-cluster N | --scheduler tcp://HOST:PORT]
    bordersim sweep SWEEP.yaml [--out DIR] [--workers N | --local-cluster N | --scheduler tcp://HOST:PORT] [--resume]
    bordersim sensitivity SWEEP_DIR
    bordersim validate SCENARIO.yaml
    bordersim rules
    bordersim measures
    bordersim explore [SCENARIO] [--port P] [--host H]
    bordersim --version

A malformed scenario is a one-line error naming the file, the field and what is wrong (exit code 2);
a bad flag is an error naming the flag. No path ends in a traceback: a missing optional extra names
the ``pip install`` to run, a closed pipe (``bordersim measures | head -1``) ends quietly, and an
unexpected exception is one line asking for a bug report (``BORDERSIM_DEBUG=1`` shows the traceback).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from typing import Annotated

from ._version import __version__
from .errors import ScenarioError, plain_message
from .explore.command import register as _add_explore
from .world.ablations import ABLATIONS

EXIT_USAGE = 2
EXIT_BUG = 1
#: Optional extras: the module a command imports -> the extra that installs it.
#: Commands that need the model, the archive or the experiments (imported only when one of them runs:
#: ``bordersim --help`` and ``bordersim validate`` start without the model, pandas or matplotlib).
HEAVY = {"run", "fit", "ablations", "compare"}  # in bordersim.experiments.commands
STUDY = {"calibrate", "sweep", "sensitivity"}  # in bordersim.experiments.study_commands (the engine, dask, SALib)
EXTRAS = {"SALib": "sweep", "distributed": "sweep", "dask": "sweep"}


def _error(message: str) -> int:
    print(f"bordersim: error: {message}", file=sys.stderr)
    return EXIT_USAGE


def _missing_extra(module: str) -> str:
    extra = EXTRAS[module]
    return (
        f"this needs {module}, which is not installed: pip install 'bordersim[{extra}]' "
        f"(in a clone: .venv/bin/pip install -e '.[{extra}]')"
    )


# -- flags: each checked against the schema's own bounds, and an error names the flag --------------------
def _schema_flag(field: str, kind: type):
    """An argparse type for the flag that overrides ``run.<field>``, checked as the scenario schema checks it."""
    adapter = None

    def convert(text: str):
        nonlocal adapter
        from pydantic import TypeAdapter, ValidationError

        from .world.scenario import RunSettings

        if adapter is None:  # built on first use: the schema is not imported for --help
            adapter = TypeAdapter(Annotated[kind, *RunSettings.model_fields[field].metadata])
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {'an integer' if kind is int else 'a number'}, got {text!r}") from None
        try:
            return adapter.validate_python(value)
        except ValidationError as err:
            msg = plain_message(err.errors()[0]["msg"]).replace("Input should be", "must be")
            raise argparse.ArgumentTypeError(f"{msg} (got {text})") from None

    convert.__name__ = kind.__name__
    return convert


def _at_least(low: int):
    def convert(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be {low} or more (got {text})")
        return value

    convert.__name__ = "int"
    return convert


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date YYYY-MM-DD, got {text!r}") from None


_SEED, _REPLICATES, _SCALE = _schema_flag("seed", int), _schema_flag("replicates", int), _schema_flag("scale", float)


# -- the light commands (the heavy ones are in bordersim.experiments.commands) -----------------------
def cmd_validate(args) -> int:
    from .archive.targets import check_targets
    from .world.loader import load_scenario

    sc = load_scenario(args.scenario)
    check_targets(sc)
    rules = ", ".join(f"{r.use} from {r.from_}" for r in sc.rules)
    print(f"{args.scenario}: ok ({sc.name}; {sc.run.start} to {sc.run.end}; rules: {rules})")
    return 0


def cmd_rules(args) -> int:
    from .world import rules

    for name in rules.available_rule_sets():
        rs = rules.load_rule_set(name)
        print(f"{name:24s} {rs.title}")
        for clause in rs.no_flow:  # issue 15: what the rule set's documents say that no simulated flow obeys
            print(f"{'':24s}   no flow: {clause}")
    return 0


def cmd_measures(args) -> int:
    from .model.measures import MEASURES

    for name, (unit, kind, desc) in MEASURES.items():
        print(f"{name:32s} {unit:12s} {kind:6s} {desc}")
    return 0


# -- the parser: one small function per command ------------------------------------------------------
def _add_run(sub) -> None:
    r = sub.add_parser("run", help="run a scenario and write flows, a manifest and figures")
    r.add_argument("scenario", help="scenario YAML file (e.g. scenarios/baseline_1960_1962.yaml)")
    r.add_argument("--out", help="output directory (default: outputs/<scenario name>/)")
    r.add_argument("--seed", type=_SEED, help="random seed (overrides run.seed)")
    r.add_argument("--replicates", type=_REPLICATES, help="number of replicates (overrides run.replicates)")
    r.add_argument("--scale", type=_SCALE, help="share of households simulated, e.g. 0.1 (overrides run.scale)")
    r.add_argument("--end", type=_date, metavar="YYYY-MM-DD", help="last day of the run (overrides run.end)")
    r.add_argument("--workers", type=_at_least(1), default=1, help="processes for replicates (results do not depend on it)")
    r.add_argument("--force", action="store_true", help="replace an existing output directory")
    r.add_argument("--quiet", action="store_true", help="no progress output")
    r.add_argument("--no-figures", action="store_true", help="write the tables only (flows, summary, manifest, fit)")
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
    a.add_argument("--seed", type=_SEED)
    a.add_argument("--replicates", type=_REPLICATES)
    a.add_argument("--scale", type=_SCALE)
    a.add_argument("--end", type=_date, metavar="YYYY-MM-DD", help="last day of the runs (overrides run.end)")
    a.add_argument("--workers", type=_at_least(1), default=1)
    a.add_argument("--force", action="store_true")
    a.add_argument("--quiet", action="store_true")
    a.add_argument("--no-figures", action="store_true", help="write the tables only")
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
    c = sub.add_parser("calibrate", help="calibrate against the archival counts (history matching, emulator, MCMC)")
    c.add_argument("config", help="calibration config, e.g. calibration/calibrate.yaml")
    c.add_argument("--resume", action="store_true", help="continue the calibration in the config's run directory")
    c.add_argument("--force", action="store_true", help="discard an existing run directory and start again")
    c.add_argument("--workers", type=_at_least(1), help="local processes for the simulations (default: all cores)")
    c.add_argument("--local-cluster", type=_at_least(1), metavar="N", help="start a dask LocalCluster with N workers")
    c.add_argument("--scheduler", metavar="tcp://HOST:PORT", help="use an existing dask.distributed scheduler")
    c.add_argument("--no-checks", action="store_true", help="skip the posterior predictive check")
    c.add_argument("--loo", action="store_true", help="after a calibration: leave each source group out and predict it (loo/)")
    c.add_argument("--sbc", action="store_true", help="after a calibration: recover known parameters (synthetic archives, sbc/)")
    c.add_argument("--report-only", action="store_true", help="rewrite calibration.md from the existing outputs")
    c.set_defaults(func="calibrate")


def _add_sweep(sub) -> None:
    s = sub.add_parser("sweep", help="run a parameter sweep (grid, LHS, Sobol, Morris) with a resumable run ledger")
    s.add_argument("sweep", help="sweep YAML file (e.g. sweeps/interception_allowance.yaml)")
    s.add_argument("--out", help="sweep directory (default: outputs/sweeps/<sweep name>/)")
    g = s.add_mutually_exclusive_group()
    g.add_argument("--workers", type=_at_least(0), help="local process pool size (default: all cores; 0 runs in this process)")
    g.add_argument(
        "--local-cluster", type=_at_least(1), metavar="N", help="start a dask LocalCluster with N worker processes here"
    )
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
    e.add_argument("--resamples", type=_at_least(1), default=1000, help="bootstrap resamples")
    e.set_defaults(func="sensitivity")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="bordersim",
        description="Agent-based simulation of migration across the China-North Korea border, 1957-1970 "
        "(built from NKIDP e-Dossier No. 11).",
    )
    p.add_argument("--version", action="version", version=f"bordersim {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in (_add_run, _add_ablations, _add_fit_and_compare, _add_listings, _add_calibrate, _add_sweep, _add_explore):
        add(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the command; every way it can end is an exit code and at most one line on stderr."""
    try:
        try:
            args = build_parser().parse_args(argv)
        except SystemExit as exit_:  # --help, --version, or a flag error argparse has printed
            return exit_.code if isinstance(exit_.code, int) else EXIT_USAGE
        func = args.func
        if args.command in HEAVY:
            from .experiments import commands

            func = getattr(commands, f"cmd_{func}")
        elif args.command in STUDY:
            from .experiments import study_commands

            func = getattr(study_commands, f"cmd_{func}")
        code = func(args)
        sys.stdout.flush()  # a closed pipe shows up here, inside the handlers, not at interpreter exit
        return code
    except (ScenarioError, FileExistsError) as err:
        return _error(str(err))
    except BrokenPipeError:  # `bordersim measures | head -1`: the reader has what it wanted
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except ModuleNotFoundError as err:
        root = (err.name or "").split(".")[0]
        if root not in EXTRAS:
            return _bug(err)
        return _error(_missing_extra(root))
    except KeyboardInterrupt:
        print("bordersim: interrupted", file=sys.stderr)
        return 130
    except OSError as err:
        where = f"{err.filename}: " if err.filename else ""
        return _error(f"{where}{err.strerror or err}")
    except Exception as err:
        return _bug(err)


def _bug(err: BaseException) -> int:
    """An exception no check foresaw: one line and a request to report it (``BORDERSIM_DEBUG=1`` re-raises)."""
    if os.environ.get("BORDERSIM_DEBUG"):
        raise err
    msg = " ".join(str(err).split())[:300]
    print(
        f"bordersim: internal error: {type(err).__name__}: {msg} (a bug: please report it with the command that "
        f"caused it; BORDERSIM_DEBUG=1 shows the traceback)",
        file=sys.stderr,
    )
    return EXIT_BUG


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
