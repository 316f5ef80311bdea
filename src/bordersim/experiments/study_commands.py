"""What the study commands of ``bordersim`` (calibrate, sweep, sensitivity) do once their arguments are
parsed (:mod:`bordersim.cli` imports this module only for them)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from ..errors import ScenarioError
from .calibration.report import write_report
from .calibration.run import calibrate, calibrate_out_of_sample, calibrate_synthetic
from .sensitivity import run_sensitivity
from .sweep.design import load_sweep
from .sweep.execution import run_sweep


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
