"""What the run commands of ``bordersim`` (run, fit, ablations, compare) do once their arguments are parsed.

:mod:`bordersim.cli` parses the arguments and imports this module only for these commands, so that
``bordersim --help`` and ``bordersim validate`` start without the model, pandas or matplotlib; the study
commands (calibrate, sweep, sensitivity) are in :mod:`.study_commands`, so that a run does not load the
inference engine, dask or SALib."""

from __future__ import annotations

import sys
from pathlib import Path

from ..archive.fit import summary_line
from ..archive.report import fit_run
from ..errors import ScenarioError
from ..world.loader import load_scenario
from .ablations import run_ablations
from .compare import compare_runs
from .outputs import run_scenario

EXIT_USAGE = 2


def _error(message: str) -> int:
    print(f"bordersim: error: {message}", file=sys.stderr)
    return EXIT_USAGE


def _overrides(args) -> dict:
    keys = ("seed", "replicates", "scale", "end")
    run = {key: getattr(args, key) for key in keys if getattr(args, key, None) is not None}
    return {"run": run} if run else {}


def _load(args, ablations=None):
    """The scenario with the flags' overrides; an error that only the flags cause names the flags, not the file."""
    over = _overrides(args)
    try:
        return load_scenario(args.scenario, over, ablations=ablations)
    except ScenarioError as err:
        if not over:
            raise
        try:
            load_scenario(args.scenario, ablations=ablations)
        except ScenarioError:
            raise err from None
        flags = " ".join(f"--{k} {v}" for k, v in over["run"].items())
        raise ScenarioError(flags, f"{err.message} (the scenario file is valid without these flags)") from None


def cmd_run(args) -> int:
    sc = _load(args, ablations=args.ablate)
    out = Path(args.out) if args.out else Path("outputs") / sc.name
    if out.exists() and not args.force:
        return _error(f"{out} exists (use --force to replace it, or --out DIR)")
    print(
        f"bordersim: running {sc.name}: {sc.run.start} to {sc.run.end}, {sc.run.replicates} replicate(s), "
        f"scale {sc.run.scale}, seed {sc.run.seed}",
        file=sys.stderr,
    )
    path = run_scenario(
        sc,
        out,
        force=args.force,
        workers=args.workers,
        progress=not args.quiet,
        source=str(args.scenario),
        figures=not args.no_figures,
    )
    fit = ", fit.csv, fit.md" if (path / "fit.csv").exists() else ""
    what = "flows.csv, summary.csv, manifest.json" + fit + ("" if args.no_figures else ", figures")
    print(f"bordersim: wrote {path}/ ({what})", file=sys.stderr)
    return 0


def cmd_fit(args) -> int:
    out = Path(args.out_dir)
    if not (out / "flows.csv").exists():
        return _error(f"{out}: no flows.csv here (run `bordersim run` first)")
    try:
        fit = fit_run(out, args.targets)
    except ValueError as err:  # a damaged manifest.json or flows.csv
        return _error(f"{out}: cannot read this run ({' '.join(str(err).split())[:200]})")
    print(f"bordersim: {summary_line(fit)}", file=sys.stderr)
    print(f"bordersim: wrote {out}/fit.csv, fit.md and fit_*.png", file=sys.stderr)
    return 0


def cmd_ablations(args) -> int:
    base = _load(args)
    if not base.targets:
        return _error(f"{args.scenario}: targets: the scenario names no targets file")
    out = Path(args.out) if args.out else Path("outputs") / f"{base.name}-ablations"
    if out.exists() and not args.force:
        return _error(f"{out} exists (use --force to replace it, or --out DIR)")
    run_ablations(
        args.scenario,
        out,
        args.mechanisms,
        _overrides(args),
        workers=args.workers,
        progress=not args.quiet,
        log=lambda name: print(f"bordersim: {name}", file=sys.stderr),
        figures=not args.no_figures,
    )
    print(f"bordersim: wrote {out}/ablations.md and a run per ablation", file=sys.stderr)
    return 0


def cmd_compare(args) -> int:
    dirs = [Path(d) for d in args.out_dirs]
    out = Path(args.out) if args.out else Path("outputs") / ("compare-" + "-vs-".join(d.name for d in dirs))[:120]
    try:
        _, text = compare_runs(
            dirs, out, region=args.region, warn=lambda msg: print(f"bordersim: warning: {msg}", file=sys.stderr)
        )
    except (FileNotFoundError, ValueError) as err:
        return _error(str(err))
    print(text)
    print(f"bordersim: wrote {out}/compare.csv, compare.md and compare_flows.png", file=sys.stderr)
    return 0
