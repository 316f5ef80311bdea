"""End to end: the command line on a small scenario."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import yaml

from bordersim.cli import main
from bordersim.model.recorder import MEASURES
from bordersim.world.geography import TREE

from .conftest import BASELINE, small_scenario_dict

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
    assert main(["run", str(small_file), "--out", str(a), "--replicates", "2", "--quiet"]) == 0
    assert main(["run", str(small_file), "--out", str(b), "--replicates", "2", "--quiet"]) == 0
    assert main(["run", str(small_file), "--out", str(c), "--replicates", "2", "--workers", "2", "--quiet"]) == 0
    assert (a / "flows.csv").read_bytes() == (b / "flows.csv").read_bytes() == (c / "flows.csv").read_bytes()
    d = tmp_path / "d"
    assert main(["run", str(small_file), "--out", str(d), "--seed", "8", "--quiet"]) == 0
    assert (d / "flows.csv").read_bytes() != (a / "flows.csv").read_bytes()


def test_existing_output_needs_force(small_file, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["run", str(small_file), "--out", str(out), "--quiet"]) == 0
    stamp = (out / "manifest.json").read_text()
    assert main(["run", str(small_file), "--out", str(out), "--quiet"]) == 2
    assert "exists" in capsys.readouterr().err
    assert (out / "manifest.json").read_text() == stamp
    assert main(["run", str(small_file), "--out", str(out), "--quiet", "--force"]) == 0
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out.")]  # no temp dirs left


def test_scale_keeps_lishu_whole(tmp_path):
    d = small_scenario_dict()
    d["population"]["yanbian_persons"] = 60000
    p = tmp_path / "s.yaml"
    p.write_text(yaml.safe_dump(d, sort_keys=False))
    out = tmp_path / "o"
    assert main(["run", str(p), "--out", str(out), "--scale", "0.1", "--quiet"]) == 0
    summ = pd.read_csv(out / "summary.csv")
    # Households simulated: about 10% of the others plus all 192 of Lishu.
    assert summ.households_simulated[0] < 0.2 * (60000 + 11000) / 4.9 + 192


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
    assert main(["run", str(small_file), "--out", str(abl), "--quiet", "--ablate", "rumours"]) == 0
    flows = pd.read_csv(abl / "flows.csv")
    rumour = flows[(flows.measure == "intending_households_rumour") & (flows.region == "china")].value.sum()
    assert rumour == 0
    assert json.loads((abl / "manifest.json").read_text())["scenario"]["name"] == "small-no_rumours"
    assert main(["fit", str(tmp_path / "nothing")]) == 2
