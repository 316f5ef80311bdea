"""`bordersim explore` without a browser: settings, the stepped session, the band, the figures, the command."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
import yaml

from bordersim.explore import settings as st  # noqa: E402
from bordersim.explore.bands import JobRunner, band_settings, compare  # noqa: E402
from bordersim.explore.series import MEASURE_INDEX, marks, series  # noqa: E402
from bordersim.explore.session import Session  # noqa: E402

SMALL = 0.02


def _crossed(snap) -> float:
    return float(snap.data[:, :, MEASURE_INDEX["crossed"]].sum())


def test_levers_and_timeline_become_scenario_overrides():
    cat = st.catalogue()
    s = (
        st.Settings(scale=SMALL, timeline="protocol_1964")
        .with_lever("allowance", 0)
        .with_lever("ration", 300)
        .with_lever("return", 0.5)
    )
    res = st.resolve(s, cat)
    sc = res.scenario
    assert [(r.from_, r.use) for r in sc.rules] == [(dt.date(1960, 9, 1), "protocol_1964")]
    assert sc.rule_overrides["dprk"] == {"allowance_yuan_per_labourer": 0.0, "return_illegal_prob": 0.5}
    assert st.jilin_famine_ration(sc) == 300
    # Doc 6's restoration to 360 in October 1961 is kept
    assert any(r.region == "jilin" and r.from_ == dt.date(1961, 10, 1) and r.catties == 360 for r in sc.world.rations)
    assert st.rule_values(sc, "allowance") == [("protocol_1964", 0.0)]
    base = st.resolve(st.Settings(scale=SMALL), cat).scenario
    assert st.rule_values(base, "return") == [("practice_1961", 0.0), ("leniency_1962", 0.0)]
    # the files; the posterior sets 1961
    assert st.rule_values(base, "approval") == [("practice_1961", 0.5), ("leniency_1962", 0.95)]


def test_documented_timeline_starts_with_the_rule_in_force():
    tl = st.timeline_entries(st.TIMELINE_DOCUMENTED, dt.date(1960, 9, 1))
    assert tl[0] == {"from": dt.date(1960, 9, 1), "use": "marriage_1958"}
    assert [e["use"] for e in tl[1:]] == ["practice_1961", "leniency_1962", "ccp_1963", "protocol_1964", "state_council_1970"]


def test_rule_files_are_read_with_the_citation_of_each_lever():
    from bordersim.world.rules import available_rule_sets, load_rule_set

    for name in available_rule_sets():
        info = st.rule_info(name)
        rs = load_rule_set(name)
        assert info.documents and info.title == rs.title
        for lv in st.LEVERS:
            if lv.rule_path:
                sec, field = lv.rule_path
                value, _comment = info.levers[f"{sec}.{field}"]
                assert float(value) == pytest.approx(getattr(getattr(rs, sec), field)), (name, field)
    assert "Art. 4 (2)" in st.rule_info("protocol_1964").levers["dprk.return_illegal_prob"][1]
    assert "forty yuan" in st.rule_info("practice_1961").levers["dprk.allowance_yuan_per_labourer"][1]


def test_session_steps_a_day_a_month_and_resets():
    s = Session(st.Settings(scale=SMALL))
    try:
        s.step_day()
        assert s.wait_idle()
        snap = s.snapshot()
        assert snap.today == 1 and snap.date == dt.date(1960, 9, 1)
        s.step_month()
        assert s.wait_idle()
        snap = s.snapshot()
        assert snap.date == dt.date(1960, 9, 30) and snap.months_closed == 1
        s.step_month()
        assert s.wait_idle()
        assert s.snapshot().date == dt.date(1960, 10, 31)
        s.reset()
        assert s.wait_idle()
        assert s.snapshot().today == 0
    finally:
        s.close()


def test_switching_to_the_1964_protocol_runs_back_to_the_same_date_and_changes_the_outcome():
    s = Session(st.Settings(scale=SMALL))
    try:
        for _ in range(8):
            s.step_month()
        assert s.wait_idle()
        before = s.snapshot()
        s.apply(s.settings.replace(timeline="protocol_1964"))
        assert s.wait_idle()
        after = s.snapshot()
        assert after.date == before.date == dt.date(1961, 4, 30)
        assert after.rules_name == "protocol_1964"
        assert _crossed(after) < 0.8 * _crossed(before)
    finally:
        s.close()


def test_page_run_is_replicate_0_of_bordersim_run():
    from bordersim.experiments.replicates import replicate_seeds, run_replicate

    s = Session(st.Settings(scale=SMALL))
    try:
        s.play()
        assert s.wait_idle(120)
        snap = s.snapshot()
        sc = snap.resolved.scenario
        flows = run_replicate(sc, replicate_seeds(sc.run.seed, 1)[0], 0, str(snap.resolved.entry.path)).flows
        x = flows[(flows.region == "china") & (flows.measure == "crossed")].value.to_numpy()
        np.testing.assert_allclose(series(snap.data, "china", "crossed"), x, atol=1e-2)
    finally:
        s.close()


def test_band_and_paired_comparison_in_the_background(tmp_path):
    cat = st.catalogue()
    jr = JobRunner(cache_dir=tmp_path)
    try:
        base = jr.submit("base", cat[st.BASELINE], band_settings(SMALL), 2, "baseline")
        other = st.Settings(scenario="famine_under_protocol_1964", scale=SMALL)
        run = jr.submit("run", cat[other.scenario], other, 2, "protocol")
        import time

        t_end = time.time() + 120
        while not (base.complete and run.complete) and time.time() < t_end and not (base.error or run.error):
            time.sleep(0.1)
        assert base.complete and run.complete, (base.status(), run.status())
        assert (tmp_path / f"{base.key}.npz").exists()
        # The cache is read back, not recomputed
        again = JobRunner(cache_dir=tmp_path).submit("base", cat[st.BASELINE], band_settings(SMALL), 2, "baseline")
        assert again.complete and np.array_equal(again.array(), base.array())
        cmp = compare(run, base, "jilin")
        rows = {r["measure"]: r for r in cmp.rows}
        assert cmp.pairs == 2
        assert rows["crossed"]["difference"][1] < 0  # the Protocol's returns deter crossing
        assert rows["sent_back"]["difference"][1] > 0
    finally:
        jr.shutdown()


def test_figures_and_map_draw(tmp_path):
    from bordersim.explore.views import FIGURE_TABS, draw_tab, rules_html

    s = Session(st.Settings(scale=SMALL).with_lever("allowance", 0))
    try:
        for _ in range(6):
            s.step_month()
        assert s.wait_idle()
        snap = s.snapshot()
        for tab in FIGURE_TABS:
            png = draw_tab(tab, snap, None)
            assert png[:8] == b"\x89PNG\r\n\x1a\n", tab
        html = rules_html(snap)
        assert "practice_1961" in html and "set on this page" in html and "forty yuan" in html
    finally:
        s.close()
    assert any(m.id == "jilin_1961_discovered" and m.value == 28028 for m in marks())


def test_explore_command_without_the_extra_says_how_to_install(monkeypatch, capsys):
    import importlib.util

    from bordersim.cli import main

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name.startswith("solara") else real(name, *a))
    assert main(["explore"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "bordersim: error: `bordersim explore` needs the optional dependencies: pip install 'bordersim[explore]'"


def test_explore_command_warns_off_loopback_and_checks_the_scenario(monkeypatch, capsys, tmp_path):
    from bordersim.cli import main
    from bordersim.explore import command

    served = []
    monkeypatch.setattr(command, "serve", lambda host, port: served.append((host, port)) or 0)
    assert main(["explore", "--port", "9999"]) == 0
    assert served[-1] == ("127.0.0.1", 9999) and "warning" not in capsys.readouterr().err
    assert main(["explore", "--host", "0.0.0.0", "--port", "9998"]) == 0
    assert "no authentication" in capsys.readouterr().err
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\n")
    assert main(["explore", str(bad)]) == 2
    assert str(bad) in capsys.readouterr().err


def test_the_1990s_scenarios_are_offered_at_a_small_scale():
    cat = st.catalogue()
    for key in ("reversal_1990s", "reversal_1990s_stringent"):
        assert cat[key].label.startswith("1990s reversal 1993-2012: "), cat[key].label
        assert st.scale_for(key, st.DEFAULT_SCALE) == 0.05  # 7,305 days: the scenario file's own scale
    assert st.scale_for("reversal_1990s", 0.02) == 0.02  # never larger than the page's
    assert st.scale_for(st.BASELINE, 0.05, "reversal_1990s", 0.25) == 0.25  # back to the page's default
    assert st.scale_for(st.BASELINE, 0.1, st.BASELINE) == 0.1


def test_rule_files_are_read_with_the_citation_of_each_northward_lever():
    from bordersim.world.rules import NorthwardRules, available_rule_sets, load_rule_set

    for name in available_rule_sets():
        info, rs = st.rule_info(name), load_rule_set(name)
        for field in NorthwardRules.model_fields:
            if f"northward.{field}" in info.levers:
                written = yaml.safe_load(info.levers[f"northward.{field}"][0])
                assert written == pytest.approx(getattr(rs.northward, field)), (name, field)
    assert "Art. 4 (2)" in st.rule_info("protocol_1964").levers["northward.identity_information"][1]
    assert "Doc 1 (2)" in st.rule_info("practice_1961").levers["northward.repatriate_prob"][1]


def test_both_directions_panel_reads_the_northward_measures():
    """The panel's numbers are the recorder's, read the way flows.csv is written (`Recorder.table`)."""
    from bordersim.explore import figures
    from bordersim.explore.views import BOTH_TABLE, both_directions, both_html, draw_tab, rules_html
    from bordersim.world.geography import TREE

    s = Session(st.Settings(scenario="reversal_1990s", scale=SMALL))
    try:
        for _ in range(18):  # January 1993 to June 1994
            s.step_month()
        assert s.wait_idle(120)
        snap = s.snapshot()
        assert snap.months_closed == 18 and snap.date == dt.date(1994, 6, 30)
        flows = s.model.recorder.table(TREE, 0)
        china = flows[flows.region == "china"]
        rows = {r.measure: r for r in both_directions(snap)}
        assert list(rows) == [m for _, m, _, _ in BOTH_TABLE]
        for m, r in rows.items():
            x = china[china.measure == m].set_index("period").value
            expected = x["1994-06"] if r.kind == "stock" else x.sum()
            assert r.value == pytest.approx(expected, abs=0.01), m
        # by hand: China is every leaf, so a total is the sum of the whole column of the recorder's array
        k = MEASURE_INDEX["crossed_north"]
        assert rows["crossed_north"].value == pytest.approx(s.model.recorder.data[:, :, k].sum())
        # the reversal: far more cross north than south (a few southward crossings remain, drawn with the
        # posterior's rates), and North Koreans are in China at the month end
        assert rows["crossed_north"].value > 1000 and rows["crossed_north"].value > 20 * rows["crossed"].value
        assert rows["caught_china"].value > 0 and rows["in_china_from_dprk"].value > 0
        assert rows["crossed_north_repeat"].value <= rows["crossed_north"].value
        assert rows["in_china_from_dprk_illegal"].value <= rows["in_china_from_dprk"].value
        html = both_html(snap)
        assert f"{rows['crossed_north'].value:,.0f}" in html and "at the end of June 1994" in html
        assert "1 January 1993 to 30 June 1994" in html
        for doc in ("Doc 1 (2)", "Doc 10 Arts. 4-5", "Doc 11 (6)"):
            assert doc in html, doc
        # the figure draws the table's northward measures
        drawn = {m for _, _, lines in figures.BOTH_ROWS for m, *_ in lines}
        assert {m for m, r in rows.items() if r.direction == "north"} <= drawn | {"returned_home_own_north"}
        assert draw_tab("Both directions", snap, None)[:8] == b"\x89PNG\r\n\x1a\n"
        rules = rules_html(snap)
        assert "The northward direction" in rules and "northward.famine_as_disaster" in rules
    finally:
        s.close()
