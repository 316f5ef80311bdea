"""The ``bordersim`` command.

    bordersim run SCENARIO.yaml [--out DIR] [--seed N] [--replicates R] [--scale F] [--workers N] [--force] [--ablate M]
    bordersim ablations SCENARIO.yaml [MECHANISM ...] [--replicates R] [--scale F]
    bordersim fit OUT_DIR [--targets calibration/targets.yaml]
    bordersim compare OUT_A OUT_B [...] [--region china] [--out DIR]
    bordersim validate SCENARIO.yaml
    bordersim rules
    bordersim measures

A malformed scenario is a one-line error naming the file, the field and what is wrong (exit code 2).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .errors import ScenarioError

EXIT_USAGE = 2


def _overrides(args) -> dict:
    run = {}
    for key in ("seed", "replicates", "scale"):
        v = getattr(args, key, None)
        if v is not None:
            run[key] = v
    return {"run": run} if run else {}


def cmd_run(args) -> int:
    from .runner import run_scenario
    from .scenario import load_scenario

    sc = load_scenario(args.scenario, _overrides(args), ablations=args.ablate)
    out = Path(args.out) if args.out else Path("outputs") / sc.name
    if out.exists() and not args.force:
        print(f"bordersim: error: {out} exists (use --force to replace it, or --out DIR)", file=sys.stderr)
        return EXIT_USAGE
    print(
        f"bordersim: running {sc.name}: {sc.run.start} to {sc.run.end}, {sc.run.replicates} replicate(s), "
        f"scale {sc.run.scale}, seed {sc.run.seed}",
        file=sys.stderr,
    )
    path = run_scenario(sc, out, force=args.force, workers=args.workers, progress=not args.quiet, source=str(args.scenario))
    print(f"bordersim: wrote {path}/ (flows.csv, summary.csv, manifest.json, figures)", file=sys.stderr)
    return 0


def cmd_fit(args) -> int:
    import json

    from .fit import fit_report, summary_line
    from .targets import load_targets

    out = Path(args.out_dir)
    if not (out / "flows.csv").exists():
        print(f"bordersim: error: {out}: no flows.csv here (run `bordersim run` first)", file=sys.stderr)
        return EXIT_USAGE
    targets = Path(args.targets) if args.targets else None
    if targets is None:
        man = json.loads((out / "manifest.json").read_text()) if (out / "manifest.json").exists() else {}
        rel, src = man.get("scenario", {}).get("targets"), man.get("scenario_file")
        targets = (Path(src).parent / rel) if rel and src else Path("calibration") / "targets.yaml"
    load_targets(targets)  # validate first: a clear error before any work
    fit = fit_report(out, targets)
    print(f"bordersim: {summary_line(fit)}", file=sys.stderr)
    print(f"bordersim: wrote {out}/fit.csv, fit.md and fit_*.png", file=sys.stderr)
    return 0


def cmd_ablations(args) -> int:
    """Run the scenario with and without each mechanism; say which targets each ablation breaks."""
    from .fit import ablation_table, fit_report, summary_line
    from .runner import atomic_write_text, run_scenario
    from .scenario import ABLATIONS, load_scenario

    base = load_scenario(args.scenario, _overrides(args))
    if not base.targets:
        print(f"bordersim: error: {args.scenario}: targets: the scenario names no targets file", file=sys.stderr)
        return EXIT_USAGE
    out = Path(args.out) if args.out else Path("outputs") / f"{base.name}-ablations"
    if out.exists() and not args.force:
        print(f"bordersim: error: {out} exists (use --force to replace it, or --out DIR)", file=sys.stderr)
        return EXIT_USAGE
    out.mkdir(parents=True, exist_ok=True)
    runs = {"baseline": base}
    for mech in args.mechanisms or list(ABLATIONS):
        runs[f"no_{mech}"] = load_scenario(args.scenario, _overrides(args), ablations=[mech])
    fits = {}
    from .runner import targets_path_of

    for name, sc in runs.items():
        print(f"bordersim: {name}", file=sys.stderr)
        run_scenario(sc, out / name, force=True, workers=args.workers, progress=not args.quiet, source=str(args.scenario))
        fits[name] = fit_report(out / name, targets_path_of(sc, str(args.scenario)))
    table = ablation_table(fits["baseline"], {k: v for k, v in fits.items() if k != "baseline"})
    atomic_write_text(out / "ablations.csv", table.to_csv(index=False, lineterminator="\n"))
    # The baseline's fit report states which targets each ablation breaks.
    fit_report(out / "baseline", targets_path_of(base, str(args.scenario)), ablations=table)
    lines = [f"# Ablations: {base.name}", "", f"Baseline: {summary_line(fits['baseline'])}.", "",
             "| ablation | what is switched off | targets broken | targets repaired | inside 90 | Δ log score |", "|---|---|---|---|---|---|"]
    for r in table.itertuples():
        lines.append(f"| {r.ablation} | {ABLATIONS[r.ablation[3:]]} | {r.broken or '-'} | {r.repaired or '-'} | {r.inside_90} | {r.delta_log_score:+.1f} |")
    atomic_write_text(out / "ablations.md", "\n".join(lines) + "\n")
    print(f"bordersim: wrote {out}/ablations.md and a run per ablation", file=sys.stderr)
    return 0


def cmd_compare(args) -> int:
    from .compare import compare_runs

    dirs = [Path(d) for d in args.out_dirs]
    out = Path(args.out) if args.out else Path("outputs") / ("compare-" + "-vs-".join(d.name for d in dirs))[:120]
    try:
        _, text = compare_runs(dirs, out, region=args.region)
    except (FileNotFoundError, ValueError) as err:
        print(f"bordersim: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    print(text)
    print(f"bordersim: wrote {out}/compare.csv, compare.md and compare_flows.png", file=sys.stderr)
    return 0


def cmd_validate(args) -> int:
    from .scenario import load_scenario

    sc = load_scenario(args.scenario)
    rules = ", ".join(f"{r.use} from {r.from_}" for r in sc.rules)
    print(f"{args.scenario}: ok ({sc.name}; {sc.run.start} to {sc.run.end}; rules: {rules})")
    return 0


def cmd_rules(args) -> int:
    from .rules import available_rule_sets, load_rule_set

    for name in available_rule_sets():
        rs = load_rule_set(name)
        print(f"{name:22s} {rs.title}")
    return 0


def cmd_measures(args) -> int:
    from .observation import MEASURES

    for name, (unit, kind, desc) in MEASURES.items():
        print(f"{name:32s} {unit:12s} {kind:6s} {desc}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from .scenario import ABLATIONS

    p = argparse.ArgumentParser(
        prog="bordersim",
        description="Agent-based simulation of migration across the China-North Korea border, 1957-1970 "
        "(built from NKIDP e-Dossier No. 11).",
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    r = sub.add_parser("run", help="run a scenario and write flows, a manifest and figures")
    r.add_argument("scenario", help="scenario YAML file (e.g. scenarios/baseline_1960_1962.yaml)")
    r.add_argument("--out", help="output directory (default: outputs/<scenario name>/)")
    r.add_argument("--seed", type=int, help="random seed (overrides run.seed)")
    r.add_argument("--replicates", type=int, help="number of replicates (overrides run.replicates)")
    r.add_argument("--scale", type=float, help="share of households simulated, e.g. 0.1 (overrides run.scale)")
    r.add_argument("--workers", type=int, default=1, help="processes for replicates (results do not depend on it)")
    r.add_argument("--force", action="store_true", help="replace an existing output directory")
    r.add_argument("--quiet", action="store_true", help="no progress output")
    r.add_argument("--ablate", action="append", choices=sorted(ABLATIONS), metavar="MECHANISM",
                   help=f"switch a mechanism off (repeatable): {', '.join(sorted(ABLATIONS))}")
    r.set_defaults(func=cmd_run)
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
    a.set_defaults(func=cmd_ablations)
    f = sub.add_parser("fit", help="compare a run with the archival targets: fit.csv, fit.md, figures")
    f.add_argument("out_dir", help="a run's output directory (with flows.csv)")
    f.add_argument("--targets", help="targets file (default: the scenario's, else calibration/targets.yaml)")
    f.set_defaults(func=cmd_fit)
    c = sub.add_parser("compare", help="compare runs: headline totals with intervals, monthly flows side by side")
    c.add_argument("out_dirs", nargs="+", help="output directories of `bordersim run`")
    c.add_argument("--region", default="china", help="region to compare (default: china)")
    c.add_argument("--out", help="where to write compare.csv/.md/.png (default: outputs/compare-A-vs-B/)")
    c.set_defaults(func=cmd_compare)
    v = sub.add_parser("validate", help="check a scenario file and exit")
    v.add_argument("scenario")
    v.set_defaults(func=cmd_validate)
    sub.add_parser("rules", help="list the built-in rule sets").set_defaults(func=cmd_rules)
    sub.add_parser("measures", help="list the measures written to flows.csv").set_defaults(func=cmd_measures)
    from .calibrate import register as _register_calibrate

    _register_calibrate(sub)
    from .sweep import register as _register_sweep
    _register_sweep(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except ScenarioError as err:
        print(f"bordersim: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except FileExistsError as err:
        print(f"bordersim: error: {err}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
