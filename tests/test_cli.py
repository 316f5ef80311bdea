"""End to end: the command line on a small scenario."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys

import pandas as pd
import pytest
import yaml

from bordersim.cli import main
from bordersim.model import BorderModel
from bordersim.model.recorder import MEASURES
from bordersim.world.geography import TREE
from bordersim.world.loader import load_scenario

from .conftest import BASELINE, ROOT, small_scenario_dict

REQUIRED = [
    "intending_households",
    "travel_applications",
    "authorization_letters",
    "legal_applications",
    "legal_approved",
    "legal_refused",
    "attempted",
    "detected",
    "stopped",
    "persuaded_back",
    "crossed",
    "drowned",
    "corpses_found",
    "settled",
    "allowance_yuan",
    "sent_back",
    "returned_own",
    "in_north_korea",
]


def test_run_writes_everything(small_file, tmp_path):
    out = tmp_path / "out"
    assert main(["run", str(small_file), "--out", str(out), "--replicates", "2", "--quiet"]) == 0
    for f in (
        "flows.csv",
        "summary.csv",
        "manifest.json",
        "flows_by_province.png",
        "stocks_in_north_korea.png",
        "lishu_requests.png",
        "fit.csv",
        "fit.md",
        "fit_targets.png",
        "fit_series.png",
        "fit_lishu.png",
        "fit_jilin_fates.png",
    ):
        assert (out / f).stat().st_size > 0, f
    flows = pd.read_csv(out / "flows.csv")
    assert list(flows.columns) == ["replicate", "period", "region", "measure", "value"]
    assert set(REQUIRED) <= set(flows.measure) and set(flows.measure) == set(MEASURES)
    assert set(flows.region) == set(TREE.node_ids)
    assert sorted(flows.replicate.unique()) == [0, 1]
    assert flows.period.min() == "1960-10" and flows.period.max() == "1961-06"
    assert (flows.value >= 0).all()
    # Counties roll up to Yanbian, Jilin and China.
    f0 = flows[(flows.replicate == 0) & (flows.measure == "attempted")].groupby("region").value.sum()
    yan = ["yanji_city", "yanji_county", "helong", "hunchun", "wangqing", "antu"]
    assert abs(f0[yan].sum() - f0["yanbian"]) < 0.01 * max(1, f0["yanbian"]) + 0.01
    assert abs(f0["yanbian"] + f0["tonghua"] - f0["jilin"]) < 0.01
    assert abs(f0["jilin"] + f0["liaoning"] - f0["china"]) < 0.01
    man = json.loads((out / "manifest.json").read_text())
    assert man["seed"] == 7 and man["replicates"] == 2 and man["scenario"]["name"] == "small"
    assert man["wall_seconds"] > 0 and man["package_version"]
    # Replicates differ (different streams), but both ran the whole period.
    summ = pd.read_csv(out / "summary.csv")
    assert len(summ) == 2 and (abs(summ.persons_initial - summ.persons_accounted_end) < 1e-3).all()


def test_same_seed_same_bytes_and_workers_do_not_matter(small_file, tmp_path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    tables = ["--quiet", "--no-figures"]  # the figures are drawn from flows.csv: test_run_writes_everything
    assert main(["run", str(small_file), "--out", str(a), "--replicates", "2", *tables]) == 0
    assert main(["run", str(small_file), "--out", str(b), "--replicates", "2", *tables]) == 0
    assert main(["run", str(small_file), "--out", str(c), "--replicates", "2", "--workers", "2", *tables]) == 0
    assert (a / "flows.csv").read_bytes() == (b / "flows.csv").read_bytes() == (c / "flows.csv").read_bytes()
    d = tmp_path / "d"
    assert main(["run", str(small_file), "--out", str(d), "--seed", "8", *tables]) == 0
    assert (d / "flows.csv").read_bytes() != (a / "flows.csv").read_bytes()


def test_existing_output_needs_force(small_file, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["run", str(small_file), "--out", str(out), "--quiet", "--no-figures"]) == 0
    stamp = (out / "manifest.json").read_text()
    assert main(["run", str(small_file), "--out", str(out), "--quiet"]) == 2
    assert "exists" in capsys.readouterr().err
    assert (out / "manifest.json").read_text() == stamp
    assert main(["run", str(small_file), "--out", str(out), "--quiet", "--force", "--no-figures"]) == 0
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out.")]  # no temp dirs left


def test_scale_keeps_lishu_whole(tmp_path):
    d = small_scenario_dict()
    d["population"]["yanbian_persons"] = 60000
    p = tmp_path / "s.yaml"
    p.write_text(yaml.safe_dump(d, sort_keys=False))
    out = tmp_path / "o"
    assert main(["run", str(p), "--out", str(out), "--scale", "0.1", "--quiet", "--no-figures"]) == 0
    # Lishu (Doc 4): all 192 households, exactly 936 people, each standing for itself (weight 1).
    sc = load_scenario(p, {"run": {"scale": 0.1}})
    hh = BorderModel(sc, rng=1).households
    lishu = hh.leaf == TREE.leaf_index["lishu"]
    assert lishu.sum() == 192 and hh.size[lishu].sum() == 936 and (hh.weight[lishu] == 1.0).all()
    # Every other home region is a 10% sample of its whole households (weights near 10), and the count in
    # summary.csv is exactly that sample plus the whole village.
    pop = sc.population
    expected = 192 + round(pop.single_han_men * 0.1)
    persons = {k: pop.yanbian_persons * s / sum(pop.yanbian_shares.values()) for k, s in pop.yanbian_shares.items()}
    persons.update(pop.tonghua_persons, **pop.liaoning_persons)
    persons["helong"] -= 936
    expected += sum(round(round(v / pop.household_size_mean) * 0.1) for v in persons.values())
    assert pd.read_csv(out / "summary.csv").households_simulated[0] == expected == len(hh.leaf)
    others = ~lishu & ~hh.han_single
    assert 9 < hh.weight[others].min() <= hh.weight[others].max() < 11


def test_persons_are_whole_at_full_scale(small_file, tmp_path):
    # At scale 1 every household is simulated once (weight 1): no fractional people in summary.csv.
    out = tmp_path / "o"
    assert main(["run", str(small_file), "--out", str(out), "--quiet", "--no-figures"]) == 0
    summ = pd.read_csv(out / "summary.csv")
    assert (summ.persons_initial == summ.persons_initial.round()).all()
    assert (summ.persons_accounted_end == summ.persons_initial).all()


def test_help_and_listing_commands(capsys):
    r = subprocess.run([sys.executable, "-m", "bordersim.cli", "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and "run" in r.stdout and "validate" in r.stdout
    assert main(["rules"]) == 0 and "practice_1961" in capsys.readouterr().out
    assert main(["measures"]) == 0 and "persuaded_back" in capsys.readouterr().out
    assert main(["validate", str(BASELINE)]) == 0 and "ok" in capsys.readouterr().out


def test_fit_command_and_ablation(small_file, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["run", str(small_file), "--out", str(out), "--quiet"]) == 0
    (out / "fit.md").unlink()
    assert main(["fit", str(out)]) == 0
    assert "calibration targets inside their 90% interval" in capsys.readouterr().err
    fit = pd.read_csv(out / "fit.csv")
    assert "jilin_1961_discovered" in set(fit.id) and "inside_90" in fit.columns
    assert "withheld" in (out / "fit.md").read_text()
    abl = tmp_path / "abl"
    assert main(["run", str(small_file), "--out", str(abl), "--quiet", "--no-figures", "--ablate", "rumours"]) == 0
    flows = pd.read_csv(abl / "flows.csv")
    rumour = flows[(flows.measure == "intending_households_rumour") & (flows.region == "china")].value.sum()
    assert rumour == 0
    assert json.loads((abl / "manifest.json").read_text())["scenario"]["name"] == "small-no_rumours"
    assert main(["fit", str(tmp_path / "nothing")]) == 2


# -- no traceback anywhere a user can reach -------------------------------------------------------------
def _cli(*args: str, pre: str = "", cwd=None) -> subprocess.CompletedProcess:
    """``bordersim ARGS`` in a fresh interpreter; ``pre`` runs first (e.g. to hide an optional module)."""
    code = f"import sys; {pre}; from bordersim.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=cwd, timeout=300)


def test_version(capsys):
    from bordersim import __version__

    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"bordersim {__version__}"


@pytest.mark.parametrize("command", ["measures", "rules", "--help"])
def test_a_closed_pipe_ends_quietly(command):
    r = subprocess.run(
        ["bash", "-c", f"set -o pipefail; {sys.executable} -m bordersim.cli {command} | head -1"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0 and r.stderr == "" and len(r.stdout.splitlines()) == 1, (r.returncode, r.stderr)


def test_a_missing_extra_names_the_pip_install(tmp_path):
    hide = "sys.modules['{}'] = None"
    r = _cli("sweep", str(ROOT / "sweeps" / "morris_behaviour.yaml"), "--out", str(tmp_path / "sw"), pre=hide.format("SALib"))
    assert r.returncode == 2 and "Traceback" not in r.stderr and "pip install 'bordersim[sweep]'" in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_an_unexpected_exception_is_one_line_asking_for_a_report(monkeypatch, capsys):
    import bordersim.cli as cli

    def boom(args):
        raise RuntimeError("something no check foresaw\nsecond line")

    monkeypatch.setattr(cli, "cmd_rules", boom)
    monkeypatch.delenv("BORDERSIM_DEBUG", raising=False)
    assert main(["rules"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("bordersim: internal error: RuntimeError: something no check foresaw second")
    assert "please report" in err[0] and "BORDERSIM_DEBUG=1" in err[0]
    monkeypatch.setenv("BORDERSIM_DEBUG", "1")
    with pytest.raises(RuntimeError):
        main(["rules"])


def test_outputs_follow_the_umask(small_file, tmp_path):
    old = os.umask(0o022)
    try:
        out = tmp_path / "o"
        assert main(["run", str(small_file), "--out", str(out), "--quiet", "--end", "1960-10-31"]) == 0
        assert stat.S_IMODE(out.stat().st_mode) == 0o755
        files = list(out.iterdir())
        assert {p.name for p in files} >= {"flows.csv", "fit.md", "fit.csv", "manifest.json", "flows_by_province.png"}
        assert {oct(stat.S_IMODE(p.stat().st_mode)) for p in files} == {"0o644"}
        os.umask(0o027)
        out2 = tmp_path / "o2"
        assert main(["run", str(small_file), "--out", str(out2), "--quiet", "--end", "1960-10-31", "--no-figures"]) == 0
        assert stat.S_IMODE(out2.stat().st_mode) == 0o750
        assert {stat.S_IMODE(p.stat().st_mode) for p in out2.iterdir()} == {0o640}
    finally:
        os.umask(old)


def test_compare_checks_its_inputs(small_file, tmp_path, capsys):
    a, b = tmp_path / "a", tmp_path / "b"
    assert main(["run", str(small_file), "--out", str(a), "--quiet", "--no-figures", "--end", "1960-12-31"]) == 0
    args = ["--out", str(b), "--quiet", "--no-figures", "--end", "1960-12-31", "--scale", "0.5", "--replicates", "2"]
    assert main(["run", str(small_file), *args]) == 0
    capsys.readouterr()
    assert main(["compare", str(a), "--out", str(tmp_path / "c1")]) == 2
    assert "compare needs two runs or more (got 1)" in capsys.readouterr().err
    assert main(["compare", str(a), str(b), "--region", "foo", "--out", str(tmp_path / "c2")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("bordersim: error: --region: unknown region 'foo' (known: china, jilin, yanbian") and "lishu" in err
    assert len(err.strip().splitlines()) == 1
    assert main(["compare", str(a), str(b), "--region", "jilin", "--out", str(tmp_path / "c3")]) == 0
    err = capsys.readouterr().err
    assert "bordersim: warning: the runs were made at different scales (small 1, small' 0.5)" in err
    assert "bordersim: warning: the runs have different numbers of replicates (small 1, small' 2)" in err
    assert (tmp_path / "c3" / "compare.csv").exists()
    (b / "flows.csv").write_text("not,a\nflows,table\n")
    assert main(["compare", str(a), str(b), "--out", str(tmp_path / "c4")]) == 2
    assert "not a flows.csv written by `bordersim run`" in capsys.readouterr().err


def test_a_run_that_covers_no_target_writes_an_empty_fit_report(tmp_path, capsys):
    """The 1990s scenario names the targets file, but three months of 1993 cover none of its targets: the fit
    report is written with its columns and no rows, not an internal error (found by the README's commands)."""
    out = tmp_path / "r90"
    args = ["run", str(ROOT / "scenarios" / "reversal_1990s.yaml"), "--out", str(out), "--quiet", "--no-figures"]
    assert main([*args, "--scale", "0.002", "--replicates", "1", "--end", "1993-03-31"]) == 0
    fit = pd.read_csv(out / "fit.csv")
    assert len(fit) == 0 and {"id", "inside_90", "width90_rel"} <= set(fit.columns)
    assert "0 of 0 calibration targets" in (out / "fit.md").read_text()
