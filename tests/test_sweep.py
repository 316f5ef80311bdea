"""Sweeps: paths, designs, seeds, the ledger, failures, SIGKILL and resume, worker counts, dask."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from bordersim.cli import main
from bordersim.errors import ScenarioError
from bordersim.experiments.sweep.design import load_sweep
from bordersim.experiments.sweep.execution import execute, run_sweep
from bordersim.world.paths import parse_path, set_path

from .conftest import ROOT, small_scenario_dict

OUTCOMES = [
    {"name": "crossed_jilin", "measure": "crossed", "region": "jilin", "from": "1960-11", "to": "1961-01"},
    {"name": "in_nk_end", "measure": "in_north_korea", "at": "1961-01"},
    {"name": "crossed_monthly", "measure": "crossed", "series": True},
]


def write_sweep(tmp_path: Path, name: str = "sw", **over) -> Path:
    """A small scenario (4 months) and a sweep over it, written to tmp_path."""
    sc = small_scenario_dict(end="1961-01-31")
    (tmp_path / "small.yaml").write_text(yaml.safe_dump(sc, sort_keys=False))
    spec = {
        "name": name,
        "scenario": "small.yaml",
        "seed": 11,
        "replicates": 2,
        "levers": {
            "interception": {"path": "rule_overrides.china.interception_multiplier", "values": [0.5, 2.0]},
            "allowance": {"path": "rule_overrides.dprk.allowance_yuan_per_labourer", "values": [0, 40]},
        },
        "outcomes": OUTCOMES,
    }
    spec.update(over)
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def ledger_rows(out: Path) -> list[dict]:
    con = sqlite3.connect(f"file:{out / 'ledger.sqlite'}?mode=ro", uri=True, timeout=30)
    try:
        con.row_factory = sqlite3.Row
        return [dict(r) for r in con.execute("SELECT * FROM runs ORDER BY run_id")]
    finally:
        con.close()


# -- paths ---------------------------------------------------------------------------------------


def test_paths_set_dict_keys_and_list_indices():
    assert parse_path("world.rations[1].catties") == ["world", "rations", 1, "catties"]
    assert parse_path("a[0][2].b") == ["a", 0, 2, "b"]
    d = {"world": {"rations": [{"catties": 360}, {"catties": 210}]}}
    set_path(d, "world.rations[1].catties", 180)
    set_path(d, "rule_overrides.china.interception_multiplier", 2.0)
    assert d["world"]["rations"][1]["catties"] == 180 and d["world"]["rations"][0]["catties"] == 360
    assert d["rule_overrides"] == {"china": {"interception_multiplier": 2.0}}
    for bad in ("world..x", "world.[1]", "1abc", "a[x]", "a.b-c"):
        with pytest.raises(ValueError):
            parse_path(bad)
    with pytest.raises(ValueError, match="has 2 entries"):
        set_path(d, "world.rations[5].catties", 1)
    with pytest.raises(ValueError, match="not a list"):
        set_path(d, "world[0]", 1)


# -- checking a sweep file -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "levers, needle",
    [
        (
            {"x": {"path": "parameters.rate_rumor", "values": [0.01]}},
            "levers.x (parameters.rate_rumor) = 0.01: parameters.rate_rumor: unknown key",
        ),
        (
            {"x": {"path": "parameters.p_illegal", "range": [0.1, 1.5]}},
            "levers.x (parameters.p_illegal) = 1.5: parameters.p_illegal",
        ),
        (
            {"x": {"path": "world.rations[9].catties", "values": [200]}},
            "levers.x (world.rations[9].catties): world.rations has 5 entries",
        ),
        ({"x": {"path": "rules", "values": [[{"from": "1960-09-01", "use": "no_such_rules"}]]}}, "levers.x (rules)"),
        ({"x": {"path": "parameters.rate_rumour"}}, "levers.x: give exactly one of"),
        ({"x": {"path": "parameters..rate", "values": [1]}}, "levers.x.path: bad path"),
    ],
)
def test_bad_factor_is_a_clear_error_before_any_run(tmp_path, capsys, levers, needle):
    sw = write_sweep(tmp_path, levers=levers)
    out = tmp_path / "out"
    assert main(["sweep", str(sw), "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"bordersim: error: {sw}: ") and needle in err, err
    assert len(err.strip().splitlines()) == 1
    assert not out.exists()


@pytest.mark.parametrize(
    "outcomes, needle",
    [
        ([{"name": "a", "measure": "crosed"}], "unknown measure 'crosed'"),
        ([{"name": "a", "measure": "crossed", "region": "mars"}], "unknown region 'mars'"),
        ([{"name": "a", "measure": "crossed", "from": "1965-01"}], "outside the run"),
        ([{"name": "a", "measure": "crossed", "from": "Jan 1961"}], "expected a month YYYY-MM"),
        ([{"name": "a", "measure": "crossed"}, {"name": "a", "measure": "drowned"}], "outcome names used twice: a"),
    ],
)
def test_bad_outcome_is_a_clear_error(tmp_path, outcomes, needle):
    sw = write_sweep(tmp_path, outcomes=outcomes)
    with pytest.raises(ScenarioError, match=needle):
        load_sweep(sw)


# -- designs and seeds ---------------------------------------------------------------------------


def test_designs_and_value_mapping(tmp_path):
    base = {
        "levers": {
            "interception": {"path": "rule_overrides.china.interception_multiplier", "range": [0.5, 2.0], "levels": 4},
            "ration": {
                "path": ["world.rations[1].catties", "world.rations[2].catties"],
                "range": [150, 360],
                "integer": True,
                "levels": 3,
            },
        },
        "uncertainties": {
            "rumour": {"path": "parameters.rate_rumour", "range": [0.005, 0.05], "scale": "log", "levels": 2},
            "rules": {"path": "rules", "values": [[{"from": "1960-09-01", "use": "practice_1961"}]], "labels": ["1961"]},
        },
    }
    sw = load_sweep(write_sweep(tmp_path, **base))
    assert sw.n_points == 4 * 3 * 2 * 1 and sw.n_runs == 48 and sw.unit is None
    assert sorted({p[0] for p in sw.points}) == [0.5, 1.0, 1.5, 2.0]
    assert sorted({p[1] for p in sw.points}) == [150, 255, 360]
    assert sorted({p[2] for p in sw.points}) == pytest.approx([0.005, 0.05])
    d = sw.scenario_dict(5)
    assert d["world"]["rations"][1]["catties"] == d["world"]["rations"][2]["catties"] == sw.points[5][1]
    assert d["rule_overrides"]["china"]["interception_multiplier"] == sw.points[5][0]
    assert d["run"]["seed"] == 11 and d["targets"] is None

    for design, n in (
        ({"type": "lhs", "samples": 10}, 10),
        ({"type": "qmc", "samples": 8}, 8),
        ({"type": "sobol", "samples": 8}, 8 * (4 + 2)),
        ({"type": "morris", "samples": 3, "levels": 4}, 3 * (4 + 1)),
    ):
        s = load_sweep(write_sweep(tmp_path, design=design, **base))
        assert s.n_points == n and s.unit.shape == (n, 4), design
        assert all(
            0.5 <= p[0] <= 2.0 and 150 <= p[1] <= 360 and isinstance(p[1], int) and 0.005 <= p[2] <= 0.05 for p in s.points
        )
        # The design is a function of the sweep seed: the same file gives the same points.
        assert load_sweep(write_sweep(tmp_path, design=design, **base)).points == s.points
    if True:  # LHS: each factor's strata are covered once
        s = load_sweep(write_sweep(tmp_path, design={"type": "lhs", "samples": 10}, **base))
        assert sorted((s.unit[:, 0] * 10).astype(int).tolist()) == list(range(10))
    # EMA-style crossing: every policy under every scenario.
    s = load_sweep(
        write_sweep(tmp_path, design={"levers": {"type": "grid"}, "uncertainties": {"type": "lhs", "samples": 5}}, **base)
    )
    assert s.n_points == 12 * 5 and s.design_type == "crossed(grid x lhs)"


def test_run_seed_depends_only_on_sweep_seed_and_run_index(tmp_path):
    sw = load_sweep(write_sweep(tmp_path, replicates=3, seeds="independent"))
    children = np.random.SeedSequence(11).spawn(sw.n_runs)
    for i in range(sw.n_runs):
        assert sw.seed_of(i).generate_state(4).tolist() == children[i].generate_state(4).tolist()
    common = load_sweep(write_sweep(tmp_path, name="c", replicates=3, seeds="common"))
    assert common.seed_of(4).generate_state(2).tolist() == np.random.SeedSequence(11).spawn(3)[1].generate_state(2).tolist()
    # Keys are distinct and stable.
    assert (
        len(set(sw.keys())) == sw.n_runs
        and sw.keys() == load_sweep(write_sweep(tmp_path, replicates=3, seeds="independent")).keys()
    )


def test_execute_is_a_pure_function_of_sweep_and_index(tmp_path):
    sw = load_sweep(write_sweep(tmp_path))
    a, b = execute(sw.task(3)), execute(sw.task(3))
    assert a["status"] == "done", a.get("error")
    pd.testing.assert_frame_equal(a["table"], b["table"])
    t = a["table"]
    assert list(t.columns) == ["run_id", "point_id", "replicate", "outcome", "period", "value"]
    assert set(t.outcome) == {"crossed_jilin", "in_nk_end", "crossed_monthly"}
    assert (t.run_id == 3).all() and (t.point_id == 1).all() and (t.replicate == 1).all()
    assert t[t.outcome == "crossed_monthly"].period.tolist() == ["1960-10", "1960-11", "1960-12", "1961-01"]


# -- running ----------------------------------------------------------------------------------------


def test_sweep_same_results_on_1_and_2_workers_and_in_process(tmp_path):
    sw = write_sweep(tmp_path)
    outs = {}
    for w in (1, 2, 0):
        outs[w] = tmp_path / f"w{w}"
        assert main(["sweep", str(sw), "--out", str(outs[w]), "--workers", str(w), "--quiet"]) == 0
    for f in ("results.csv", "series.csv", "points.csv", "results.parquet"):
        assert (outs[1] / f).read_bytes() == (outs[2] / f).read_bytes() == (outs[0] / f).read_bytes(), f
    res = pd.read_csv(outs[2] / "results.csv")
    assert list(res.columns) == ["run_id", "point_id", "replicate", "outcome", "value"]
    assert len(res) == 8 * 2 and sorted(res.run_id.unique()) == list(range(8))
    pts = pd.read_csv(outs[2] / "points.csv")
    assert list(pts.columns) == ["point_id", "interception", "allowance"] and len(pts) == 4
    runs = pd.read_csv(outs[2] / "runs.csv")
    assert (runs.status == "done").all() and runs.worker.notna().all() and (runs.seconds > 0).all()
    rows = ledger_rows(outs[2])
    assert len(rows) == 8 and {r["status"] for r in rows} == {"done"}
    assert all((outs[2] / r["result_file"]).exists() and len(r["run_key"]) == 64 for r in rows)
    con = sqlite3.connect(outs[2] / "ledger.sqlite")
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    con.close()
    for f in ("outcome_crossed_jilin.png", "outcome_in_nk_end.png", "heatmap_crossed_jilin.png", "series_crossed_monthly.png"):
        assert (outs[2] / f).stat().st_size > 10_000, f
    # Runs differ between points (the levers matter) and between replicates (different seeds).
    cj = res[res.outcome == "crossed_jilin"].set_index("run_id").value
    assert cj[0] != cj[1] and cj.nunique() > 4
    # Re-running the same command runs nothing and changes nothing.
    before = (outs[2] / "results.csv").read_bytes()
    assert main(["sweep", str(sw), "--out", str(outs[2]), "--workers", "2", "--quiet", "--no-figures"]) == 0
    assert (outs[2] / "results.csv").read_bytes() == before
    assert [r["attempts"] for r in ledger_rows(outs[2])] == [1] * 8
    # A damaged result file (say, after a power cut) is detected and its run is run again.
    victim = outs[2] / ledger_rows(outs[2])[5]["result_file"]
    victim.write_bytes(victim.read_bytes()[:20])
    assert main(["sweep", str(sw), "--out", str(outs[2]), "--workers", "1", "--quiet", "--no-figures"]) == 0
    assert [r["attempts"] for r in ledger_rows(outs[2])] == [1] * 5 + [2] + [1] * 2
    assert (outs[2] / "results.csv").read_bytes() == before


def test_failed_runs_are_recorded_and_the_rest_complete(tmp_path, capsys):
    # Each value is valid on its own, but a start after the end is not: those two points fail in the workers.
    sw = write_sweep(
        tmp_path,
        replicates=1,
        levers={
            "start": {"path": "run.start", "values": ["1960-10-01", "1960-12-15"]},
            "end": {"path": "run.end", "values": ["1961-01-31", "1960-11-30"]},
        },
        outcomes=[{"name": "crossed", "measure": "crossed"}],
    )
    out = tmp_path / "out"
    assert main(["sweep", str(sw), "--out", str(out), "--workers", "2"]) == 0
    err = capsys.readouterr().err  # the progress line: done / failed / rate / ETA
    assert "[sw] 4/4 runs: 3 done, 1 failed; " in err and " runs/min; ETA " in err
    assert "4 of 4 runs done" not in err and "3 of 4 runs done, 1 failed" in err and "--retry-failed" in err
    rows = ledger_rows(out)
    status = {r["run_id"]: r["status"] for r in rows}
    assert status == {0: "done", 1: "done", 2: "done", 3: "failed"}
    bad = rows[3]
    assert bad["error"].startswith("ScenarioError: point 3: ") and "before start" in bad["error"]
    assert "Traceback" in bad["traceback"] and bad["result_file"] is None
    res = pd.read_csv(out / "results.csv")
    assert sorted(res.run_id) == [0, 1, 2]
    runs = pd.read_csv(out / "runs.csv")
    assert runs.loc[runs.run_id == 3, "error"].str.contains("before start").all()
    # A re-run leaves failed runs alone; --retry-failed runs them again (and they fail again).
    assert main(["sweep", str(sw), "--out", str(out), "--quiet", "--no-figures"]) == 0
    assert ledger_rows(out)[3]["attempts"] == 1
    assert main(["sweep", str(sw), "--out", str(out), "--quiet", "--no-figures", "--retry-failed"]) == 0
    assert ledger_rows(out)[3]["attempts"] == 2 and ledger_rows(out)[3]["status"] == "failed"


def _die_on_odd_runs(task):
    """A run function that kills its worker process for odd run ids (as a segfault or the OOM killer would)."""
    if task.run_id % 2:
        os._exit(1)
    return execute(task)


def test_a_worker_that_dies_fails_its_run_and_never_hangs(tmp_path):
    sw = write_sweep(tmp_path, replicates=1, outcomes=[{"name": "crossed", "measure": "crossed"}])
    out = tmp_path / "out"
    t0 = time.perf_counter()
    rep = run_sweep(load_sweep(sw), out, workers=2, progress=False, figures=False, _fn=_die_on_odd_runs)
    assert time.perf_counter() - t0 < 120
    rows = ledger_rows(out)
    assert [r["status"] for r in rows] == ["done", "failed", "done", "failed"]
    assert all(r["error"].startswith("WorkerDied") for r in rows if r["status"] == "failed")
    assert (rep.done, rep.failed) == (2, 2)


def test_timeout_fails_slow_runs(tmp_path):
    sw = write_sweep(tmp_path, replicates=1, timeout=0.001, outcomes=[{"name": "crossed", "measure": "crossed"}])
    out = tmp_path / "out"
    rep = run_sweep(load_sweep(sw), out, workers=1, progress=False, figures=False)
    assert rep.failed == 4
    assert all("timeout" in r["error"] for r in ledger_rows(out))


def test_resume_needs_a_sweep_and_a_directory_holds_one_sweep(tmp_path, capsys):
    sw = write_sweep(
        tmp_path,
        replicates=1,
        levers={"interception": {"path": "rule_overrides.china.interception_multiplier", "values": [1.0]}},
        outcomes=[{"name": "crossed", "measure": "crossed"}],
    )
    out = tmp_path / "out"
    assert main(["sweep", str(sw), "--out", str(out), "--resume", "--quiet"]) == 2
    assert "no sweep here to resume" in capsys.readouterr().err
    assert main(["sweep", str(sw), "--out", str(out), "--workers", "1", "--quiet", "--no-figures"]) == 0
    other = write_sweep(tmp_path, name="other", replicates=2, outcomes=[{"name": "crossed", "measure": "crossed"}])
    assert main(["sweep", str(other), "--out", str(out), "--quiet"]) == 2
    assert "holds another sweep" in capsys.readouterr().err


def test_sigkill_mid_sweep_then_resume_loses_and_duplicates_nothing(tmp_path):
    sw = write_sweep(
        tmp_path,
        replicates=3,
        levers={
            "interception": {"path": "rule_overrides.china.interception_multiplier", "values": [0.5, 1.0, 2.0]},
            "allowance": {"path": "rule_overrides.dprk.allowance_yuan_per_labourer", "values": [0, 40]},
        },
    )  # 18 runs
    n = 18
    ref = tmp_path / "ref"
    assert main(["sweep", str(sw), "--out", str(ref), "--workers", "2", "--quiet", "--no-figures"]) == 0

    out = tmp_path / "killed"
    cmd = [
        sys.executable,
        "-m",
        "bordersim.cli",
        "sweep",
        str(sw),
        "--out",
        str(out),
        "--workers",
        "2",
        "--quiet",
        "--no-figures",
    ]
    proc = subprocess.Popen(cmd, cwd=tmp_path, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    done_at_kill = None
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            if (out / "ledger.sqlite").exists():
                try:
                    rows = ledger_rows(out)
                except sqlite3.OperationalError:
                    rows = []
                done = sum(r["status"] == "done" for r in rows)
                if done >= 3:
                    os.killpg(proc.pid, signal.SIGKILL)  # the coordinator and its pool workers, mid-sweep
                    done_at_kill = done
                    break
            time.sleep(0.02)
    finally:
        if proc.poll() is None and done_at_kill is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    assert done_at_kill is not None, proc.stderr.read().decode()
    rows = ledger_rows(out)
    status = [r["status"] for r in rows]
    assert len(rows) == n and 3 <= status.count("done") < n, status
    assert not (out / "results.csv").exists()
    done_keys = {r["run_key"] for r in rows if r["status"] == "done"}
    mtimes = {k: (out / "runs" / k[:2] / f"{k}.parquet").stat().st_mtime_ns for k in done_keys}

    res = subprocess.run(cmd + ["--resume"], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    rows = ledger_rows(out)
    assert [r["status"] for r in rows] == ["done"] * n
    # Finished runs were not run again; every run is there exactly once.
    for r in rows:
        if r["run_key"] in done_keys:
            assert r["attempts"] == 1 and (out / r["result_file"]).stat().st_mtime_ns == mtimes[r["run_key"]]
    # Exactly one result file per run, and nothing else: no hidden temporary file of a write the kill
    # interrupted (the resumed sweep removes those before it starts).
    files = sorted(str(p.relative_to(out)) for p in (out / "runs").rglob("*") if p.is_file())
    assert files == sorted(r["result_file"] for r in rows), files
    results = pd.read_csv(out / "results.csv")
    assert results.groupby(["run_id", "outcome"]).size().eq(1).all() and sorted(results.run_id.unique()) == list(range(n))
    # Identical to the sweep that was never interrupted.
    assert (out / "results.csv").read_bytes() == (ref / "results.csv").read_bytes()
    assert (out / "series.csv").read_bytes() == (ref / "series.csv").read_bytes()


def test_resume_removes_the_temporary_file_a_kill_mid_write_leaves(tmp_path):
    # The cause of the old flaky kill/resume test, made deterministic: a SIGKILL between mkstemp and the
    # rename leaves runs/<xx>/.<key>.parquet.<random>.tmp behind; the next run of the sweep removes it.
    sw = write_sweep(tmp_path, replicates=1, outcomes=[{"name": "crossed", "measure": "crossed"}])
    out = tmp_path / "out"
    assert main(["sweep", str(sw), "--out", str(out), "--workers", "0", "--quiet", "--no-figures"]) == 0
    before = (out / "results.csv").read_bytes()
    key = ledger_rows(out)[1]["run_key"]
    stale = out / "runs" / key[:2] / f".{key}.parquet.k1ll3d.tmp"
    stale.write_bytes(b"PAR1 half a file")
    (out / "runs" / "zz").mkdir()
    other = out / "runs" / "zz" / ".zz.parquet.x.tmp"
    other.write_bytes(b"")
    assert main(["sweep", str(sw), "--out", str(out), "--resume", "--quiet", "--no-figures"]) == 0
    assert not stale.exists() and not other.exists() and not list((out / "runs").rglob(".*"))
    assert [r["attempts"] for r in ledger_rows(out)] == [1] * 4  # nothing was run again
    assert (out / "results.csv").read_bytes() == before


def test_dask_local_cluster_gives_the_same_results(tmp_path):
    distributed = pytest.importorskip("distributed")
    sw = write_sweep(tmp_path)
    ref = tmp_path / "pool"
    run_sweep(load_sweep(sw), ref, workers=2, progress=False, figures=False)
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    try:
        out = tmp_path / "dask"
        assert (
            main(["sweep", str(sw), "--out", str(out), "--scheduler", cluster.scheduler_address, "--quiet", "--no-figures"]) == 0
        )
        assert (out / "results.csv").read_bytes() == (ref / "results.csv").read_bytes()
        assert (out / "series.csv").read_bytes() == (ref / "series.csv").read_bytes()
        workers = {r["worker"] for r in ledger_rows(out)}
        assert workers and all(w.startswith("tcp://127.0.0.1:") for w in workers), workers  # dask worker addresses
    finally:
        cluster.close()
    # --local-cluster starts (and stops) its own cluster.
    out2 = tmp_path / "local"
    assert main(["sweep", str(sw), "--out", str(out2), "--local-cluster", "2", "--quiet", "--no-figures"]) == 0
    assert (out2 / "results.csv").read_bytes() == (ref / "results.csv").read_bytes()


def test_example_sweeps_are_valid():
    for f in sorted((ROOT / "sweeps").glob("*.yaml")):
        sw = load_sweep(f)
        assert sw.n_runs > 0 and sw.spec.outcomes, f


def test_posterior_draws_as_an_uncertainty(tmp_path):
    # As `bordersim calibrate` writes it: generations, weights, one column per scenario path.
    post = pd.DataFrame(
        {
            "generation": [0, 0, 1, 1, 1],
            "weight": [0.5, 0.5, 0.0, 0.25, 0.75],
            "parameters.rate_rumour": [0.9, 0.9, 0.011, 0.022, 0.033],
            "parameters.p_illegal": [0.9, 0.9, 0.11, 0.12, 0.13],
        }
    )
    post.to_parquet(tmp_path / "posterior.parquet", index=False)
    spec = dict(
        replicates=1,
        levers={},
        uncertainties={"posterior": {"draws": "posterior.parquet", "n": 8}},
        outcomes=[{"name": "crossed", "measure": "crossed"}],
    )
    sw = load_sweep(write_sweep(tmp_path, **spec))
    rows = [p[0] for p in sw.points]
    assert sw.n_points == 8
    # Only the last generation, by weight: the zero-weight particle never appears, the heaviest most often.
    rr = [r["parameters.rate_rumour"] for r in rows]
    assert set(rr) <= {0.022, 0.033} and rr.count(0.033) == 6 and rr.count(0.022) == 2
    d = sw.scenario_dict(0)
    assert d["parameters"]["rate_rumour"] == rows[0]["parameters.rate_rumour"]
    assert d["parameters"]["p_illegal"] == rows[0]["parameters.p_illegal"]
    labels = sw.points_table().posterior.tolist()  # the particle (row of the last generation) each draw is
    assert set(labels) == {"particle 1", "particle 2"} and labels.count("particle 2") == 6
    assert load_sweep(write_sweep(tmp_path, **spec)).points == sw.points  # resampling is seeded by the sweep
    # A plain CSV of draws: rows in order.
    pd.DataFrame({"parameters.rate_rumour": [0.01, 0.02, 0.03]}).to_csv(tmp_path / "draws.csv", index=False)
    spec["uncertainties"] = {"posterior": {"draws": "draws.csv"}}
    sw = load_sweep(write_sweep(tmp_path, **spec))
    assert [p[0]["parameters.rate_rumour"] for p in sw.points] == [0.01, 0.02, 0.03]
    assert sw.points_table().posterior.tolist() == ["draw 0", "draw 1", "draw 2"]
    # A bad column is a clear error.
    pd.DataFrame({"parameters.rate_rumor": [0.01]}).to_csv(tmp_path / "bad.csv", index=False)
    spec["uncertainties"] = {"posterior": {"draws": "bad.csv"}}
    with pytest.raises(ScenarioError, match=r"uncertainties.posterior \(draws\) = .*parameters.rate_rumor: unknown key"):
        load_sweep(write_sweep(tmp_path, **spec))
    done = execute(load_sweep(write_sweep(tmp_path, **{**spec, "uncertainties": {"posterior": {"draws": "draws.csv"}}})).task(2))
    assert done["status"] == "done", done.get("error")
