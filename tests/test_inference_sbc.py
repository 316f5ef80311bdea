"""Checking the inference engine itself: simulation-based calibration (parameter recovery on
synthetic archives) and leave-one-group-out, on the Poisson toy (every record type). Small budgets;
the file runs in well under a minute."""

from __future__ import annotations

import numpy as np
import pandas as pd

from bordersim.inference import RecordSet, calibrate, import_wave0, leave_one_group_out, run_wave0, sbc

from .inference_toys import PoissonToy, fast_settings

SBC_SETTINGS = dict(n0=160, n_wave=64, max_waves=2, n_burn=200, n_steps=300, max_steps=600, target_ess=300, pool_size=2000)


def test_sbc_coverage_is_near_nominal(tmp_path):
    toy = PoissonToy()
    recs = toy.records()
    st = fast_settings(**SBC_SETTINGS)
    out = sbc(toy.params, toy.summaries, recs, toy.simulate, tmp_path, n_archives=10, seed=4, settings=st)
    t = out.table
    assert len(t) == 10 * 3 and t["archive"].nunique() == 10
    cov = out.coverage["overall"]
    # 30 intervals: binomial 95% ranges are about [0.33, 0.67] for 50% and [0.77, 1.0] for 90%
    assert 0.30 <= cov["coverage50"] <= 0.75, out.coverage
    assert cov["coverage90"] >= 0.75, out.coverage
    assert 0.25 <= t["rank"].mean() <= 0.75
    # the truths are distinct wave-0 runs, left out of their own archive's wave 0
    assert t.groupby("archive")["truth_index"].first().nunique() == 10
    w0 = pd.read_parquet(tmp_path / "archive_00" / "wave_0" / "batch_9999.parquet")
    assert int(t.loc[t.archive == 0, "truth_index"].iloc[0]) not in set(w0["index"])
    # wave 0 ran once, for all archives
    assert len(toy.calls) == len(set(toy.calls))
    assert sum(1 for c in toy.calls if c[1] == 0) == st.n0


def test_sbc_with_a_broken_likelihood_undercovers(tmp_path):
    """The check has teeth: ignoring the emulator's variance (simulation noise + emulator error)
    makes the posteriors overconfident, and SBC sees it."""
    from bordersim.inference import engine

    toy = PoissonToy()
    recs = toy.records()
    st = fast_settings(**SBC_SETTINGS)
    orig = engine.PolyEmulator.predict

    def no_variance(self, U, chunk=10000):
        M, V = orig(self, U, chunk)
        return M, V * 1e-4

    engine.PolyEmulator.predict = no_variance
    try:
        out = sbc(toy.params, toy.summaries, recs, toy.simulate, tmp_path, n_archives=5, seed=4, settings=st)
    finally:
        engine.PolyEmulator.predict = orig
    assert out.coverage["overall"]["coverage90"] < 0.75, out.coverage


def test_leave_one_group_out_predicts_the_held_out_records(tmp_path):
    toy = PoissonToy()
    recs = toy.records()
    st = fast_settings(**SBC_SETTINGS)
    out = leave_one_group_out(toy.params, toy.summaries, recs, toy.simulate, tmp_path, seed=2, settings=st)
    assert set(out) == {"A", "B"}
    for g, o in out.items():
        pred = o["predictions"]
        held = RecordSet(recs, toy.summaries).subset(groups=[g])
        assert list(pred["id"]) == held.ids
        assert pred["pred_q05"].le(pred["pred_median"]).all() and pred["pred_median"].le(pred["pred_q95"]).all()
        assert np.isfinite(pred["log_pred_density"]).all()
        assert o["result"].records.ids == [r.id for r in recs if r.group != g]
        assert 0.0 <= o["summary"]["coverage90"] <= 1.0
    # the records were drawn from the model: most held-out ones are predicted within 90%
    allp = pd.concat([o["predictions"] for o in out.values()])
    assert allp["inside90"].mean() >= 0.6
    # the wave 0 of every fit is the shared one (simulated once)
    assert sum(1 for c in toy.calls if c[1] == 0) == st.n0


def test_import_wave0_drops_rows_and_their_replicates(tmp_path):
    toy = PoissonToy()
    st = fast_settings(n0=64, n_wave=32, max_waves=1)
    df0 = run_wave0(toy.params, toy.summaries, toy.simulate, tmp_path / "base", seed=1, settings=st)
    rep = df0[df0["replicate_of"] >= 0].iloc[0]
    src = int(rep["replicate_of"])
    import_wave0(tmp_path / "base", tmp_path / "dst", [src])
    recs = toy.records()  # (draws the records with one simulation, then clears the call log)
    toy.calls.extend([("wave0",)] * len(df0))
    n_before = len(toy.calls)
    res = calibrate(toy.params, toy.summaries, recs, toy.simulate, tmp_path / "dst", seed=1, settings=st)
    assert len(toy.calls) == n_before  # nothing simulated again
    assert res.report["n_simulations"] == len(df0) - 1
