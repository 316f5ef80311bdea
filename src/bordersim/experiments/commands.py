"""What each heavy command of ``bordersim`` does once its arguments are parsed (:mod:`bordersim.cli` parses
them and imports this module only for these commands, so that ``bordersim --help`` and ``bordersim
validate`` start without the model, pandas or matplotlib)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from ..archive.fit import summary_line
from ..archive.report import fit_run
from ..errors import ScenarioError
from ..world.loader import load_scenario
from .ablations import run_ablations
from .calibration.report import write_report
from .calibration.run import calibrate, calibrate_out_of_sample, calibrate_synthetic
from .compare import compare_runs
from .outputs import run_scenario
from .sensitivity import run_sensitivity
from .sweep.design import load_sweep
from .sweep.execution import run_sweep

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
    what = "flows.csv, summary.csv, manifest.json" + ("" if args.no_figures else ", figures")
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


def cmd_calibrate(args) -> int:
    if args.report_only:
        print(f"bordersim: wrote {write_report(args.config)}", file=sys.stderr)
        return 0
    backend = {"workers": args.workers, "local_cluster": args.local_cluster, "scheduler": args.scheduler}
    if args.sbc:
        info = calibrate_synthetic(args.config, **backend)
        print("bordersim: simulation-based calibration: " + ", ".join(f"{k} {v}" for k, v in info.items()), file=sys.stderr)
        return 0
    if args.loo:
        info = calibrate_out_of_sample(args.config, **backend)
        print("bordersim: leave one source out: " + "; ".join(f"{k}: {v}" for k, v in info.items()), file=sys.stderr)
        return 0
    info = calibrate(args.config, resume=args.resume, force=args.force, validate=not args.no_checks, **backend)
    print("bordersim: calibration: " + ", ".join(f"{k} {v}" for k, v in info.items()), file=sys.stderr)
    return 0


def cmd_sweep(args) -> int:
    sweep = load_sweep(args.sweep)
    out = Path(args.out) if args.out else Path("outputs") / "sweeps" / sweep.spec.name
    workers = args.workers
    if args.local_cluster is None and args.scheduler is None and workers is None:
        workers = os.cpu_count() or 1
    if workers is not None and workers < 0:
        raise ScenarioError("--workers", "must be 0 (this process) or more")
    try:
        rep = run_sweep(
            sweep,
            out,
            workers=workers,
            local_cluster=args.local_cluster,
            scheduler=args.scheduler,
            resume=args.resume,
            retry_failed=args.retry_failed,
            progress=not args.quiet,
            figures=not args.no_figures,
        )
    except KeyboardInterrupt:
        print(
            f"bordersim: interrupted; finished runs are kept in {out}/ledger.sqlite. Resume with the same command "
            f"(or add --resume).",
            file=sys.stderr,
        )
        return 130
    print(
        f"bordersim: {rep.done} of {rep.total} runs done, {rep.failed} failed ({rep.ran} run now, {rep.seconds:.1f} s); "
        f"wrote {out}/results.csv, results.parquet, runs.csv, points.csv and figures",
        file=sys.stderr,
    )
    if rep.failed:
        print(f"bordersim: failed runs and their errors are in {out}/runs.csv (re-run them with --retry-failed)", file=sys.stderr)
    return 0


def cmd_sensitivity(args) -> int:
    if not 0 < args.conf_level < 1:
        raise ScenarioError("--conf-level", "must be between 0 and 1")
    _, md = run_sensitivity(Path(args.sweep_dir), args.outcome, args.conf_level, args.resamples)
    print(md.read_text(), end="")
    print(f"bordersim: wrote {md.parent}/sensitivity.csv, sensitivity.md and a figure", file=sys.stderr)
    return 0
