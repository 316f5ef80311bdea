"""Sensitivity analysis of sweeps: Morris and Sobol indices on a known function, then end to end."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bordersim.cli import main
from bordersim.experiments.sensitivity import analyse, run_sensitivity
from bordersim.experiments.sweep.design import load_sweep
from bordersim.experiments.sweep.results import write_spec
from bordersim.io import write_parquet

from .test_sweep import write_sweep

FACTORS = {
    "levers": {
        "a": {"path": "rule_overrides.china.interception_multiplier", "range": [0.5, 2.0]},
        "b": {"path": "rule_overrides.dprk.allowance_yuan_per_labourer", "range": [0, 80]},
    },
    "uncertainties": {"c": {"path": "parameters.rate_rumour", "range": [0.01, 0.04]}},
}


def fake_sweep_dir(tmp_path, design, replicates=2, fail_points=()):
    """A sweep directory whose 'runs' are y = 100 u_a + 10 u_b (+ replicate noise): no model runs needed."""
    sw = load_sweep(
        write_sweep(
            tmp_path,
            name=f"fake_{design['type']}",
            design=design,
            replicates=replicates,
            outcomes=[{"name": "y", "measure": "crossed"}, {"name": "flat", "measure": "crossed"}],
            **FACTORS,
        )
    )
    out = tmp_path / f"out_{design['type']}"
    out.mkdir()
    write_spec(sw, out)
    rng = np.random.default_rng(0)
    rows = []
    for i in range(sw.n_runs):
        p, r = sw.point_of(i)
        if p in fail_points:
            continue
        ua, ub, uc = sw.unit[p]
        rows.append((i, p, r, "y", 100 * ua + 10 * ub + rng.normal(0, 0.01)))
        rows.append((i, p, r, "flat", 5.0))
    write_parquet(out / "results.parquet", pd.DataFrame(rows, columns=["run_id", "point_id", "replicate", "outcome", "value"]))
    return sw, out


def test_morris_effects_of_a_known_function(tmp_path):
    sw, out = fake_sweep_dir(tmp_path, {"type": "morris", "samples": 20, "levels": 4}, fail_points={3})
    table, notes = analyse(out, resamples=200)
    mu = table[(table.outcome == "y") & (table["index"] == "mu_star")].set_index("factor")
    assert mu.value["a"] == pytest.approx(100, rel=0.01) and mu.value["b"] == pytest.approx(10, rel=0.01)
    assert mu.value["c"] == pytest.approx(0, abs=0.05)
    assert (mu.conf >= 0).all() and mu.loc["a", "role"] == "lever" and mu.loc["c", "role"] == "uncertainty"
    # The trajectory holding the failed point is dropped, the others are used.
    assert notes["y"]["blocks"] == 20 and notes["y"]["blocks_used"] == 19
    assert notes["flat"]["skipped"] == "the outcome does not vary"
    run_sensitivity(out, resamples=200)
    assert (out / "sensitivity.csv").exists() and (out / "sensitivity_morris.png").stat().st_size > 10_000
    md = (out / "sensitivity.md").read_text()
    assert "| a | lever | 100.0" in md and "Not analysed: the outcome does not vary" in md


def test_sobol_indices_of_a_known_function(tmp_path):
    sw, out = fake_sweep_dir(tmp_path, {"type": "sobol", "samples": 256}, replicates=1)
    table, _ = analyse(out, outcomes=["y"], resamples=200)
    s = table[table.outcome == "y"].pivot_table(index="factor", columns="index", values="value")
    # Var(100 U) : Var(10 U) = 100 : 1 -> S1 = ST = 0.990 and 0.0099; c has no effect.
    assert s.loc["a", "S1"] == pytest.approx(0.990, abs=0.03) and s.loc["a", "ST"] == pytest.approx(0.990, abs=0.03)
    assert s.loc["b", "ST"] == pytest.approx(0.0099, abs=0.01) and abs(s.loc["c", "ST"]) < 0.005
    run_sensitivity(out, resamples=200)
    assert (out / "sensitivity_sobol.png").stat().st_size > 10_000


def test_sensitivity_end_to_end_and_design_check(tmp_path, capsys):
    sw = write_sweep(
        tmp_path,
        name="mor",
        design={"type": "morris", "samples": 3, "levels": 4},
        replicates=1,
        outcomes=[
            {"name": "crossed_jilin", "measure": "crossed", "region": "jilin"},
            {"name": "in_nk_end", "measure": "in_north_korea", "at": "1961-01"},
        ],
        levers={"interception": {"path": "rule_overrides.china.interception_multiplier", "range": [0.25, 3.0]}},
        uncertainties={"rumour": {"path": "parameters.rate_rumour", "range": [0.005, 0.05]}},
    )
    out = tmp_path / "mor_out"
    assert main(["sweep", str(sw), "--out", str(out), "--workers", "2", "--quiet"]) == 0
    assert (out / "outcome_crossed_jilin.png").exists()
    assert main(["sensitivity", str(out), "--resamples", "100"]) == 0
    printed = capsys.readouterr().out
    assert "# Sensitivity: mor" in printed and "| interception | lever |" in printed
    t = pd.read_csv(out / "sensitivity.csv")
    assert set(t.factor) == {"interception", "rumour"} and set(t.outcome) == {"crossed_jilin", "in_nk_end"}
    assert set(t["index"]) == {"mu_star", "mu", "sigma"}
    # A grid allows neither Morris nor Sobol indices: a clear error, exit 2.
    grid = write_sweep(
        tmp_path,
        name="grid",
        replicates=1,
        outcomes=[{"name": "crossed", "measure": "crossed"}],
        levers={"interception": {"path": "rule_overrides.china.interception_multiplier", "values": [1.0]}},
    )
    gout = tmp_path / "grid_out"
    assert main(["sweep", str(grid), "--out", str(gout), "--workers", "0", "--quiet", "--no-figures"]) == 0
    assert main(["sensitivity", str(gout)]) == 2
    assert "Morris effects need design type 'morris'" in capsys.readouterr().err
    assert main(["sensitivity", str(tmp_path / "nowhere")]) == 2
