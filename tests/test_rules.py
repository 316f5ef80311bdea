"""The rule library: each rule file cites its documents and changes exactly what it should."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
import yaml

from bordersim.cli import main
from bordersim.errors import ScenarioError
from bordersim.model import BorderModel
from bordersim.model.households import State
from bordersim.model.recorder import MEASURE_INDEX
from bordersim.world.loader import load_scenario, validate_scenario
from bordersim.world.rules import (
    BorderRules,
    ChinaRules,
    DPRKRules,
    available_rule_sets,
    crossing_is_legal,
    library_dir,
    load_rule_set,
)

from .conftest import ROOT, small_scenario_dict

REGIMES = ["mfa_1957", "marriage_1958", "practice_1961", "leniency_1962", "ccp_1963", "protocol_1964", "state_council_1970"]


def total(m, measure):
    return float(m.recorder.data[:, :, MEASURE_INDEX[measure]].sum())


def model_under(rule: str, overrides=None, **run) -> BorderModel:
    d = small_scenario_dict(**run)
    d["rules"] = [{"from": "1957-01-01", "use": rule}]
    d["rule_overrides"] = overrides or {}
    return BorderModel(validate_scenario(d))


def test_library_has_every_regime_and_each_cites_its_documents():
    assert set(REGIMES) <= set(available_rule_sets())
    for name in REGIMES:
        raw = yaml.safe_load((library_dir() / f"{name}.yaml").read_text())
        rs = load_rule_set(name)
        assert rs.documents and all("Doc " in d for d in rs.documents), name
        # Every lever is set explicitly in the file: nothing silently falls back to a default.
        for section, model in (("china", ChinaRules), ("dprk", DPRKRules), ("border", BorderRules)):
            expected = set(model.model_fields)
            if section == "border" and not raw["border"]["agreed_points_and_hours"]:
                expected.discard("hours")  # opening hours only matter under Doc 10 Art. 3
            assert set(raw[section]) == expected, (name, section, expected ^ set(raw[section]))


def test_regime_levers_follow_the_documents():
    r = {n: load_rule_set(n) for n in REGIMES}
    assert r["mfa_1957"].china.punishment > r["practice_1961"].china.punishment  # Doc 1: "punished severely"
    assert r["mfa_1957"].dprk.return_criminals  # Doc 1 (3)
    assert r["marriage_1958"].china.repatriate_marriage_crossers >= 0.9  # Doc 2 (3)
    assert (
        r["practice_1961"].dprk.allowance_yuan_per_labourer == 40 and r["practice_1961"].dprk.return_single_han_men
    )  # Docs 3, 5
    assert r["leniency_1962"].china.families_may_follow and r["leniency_1962"].dprk.settled_may_stay  # Doc 7 (4)
    assert r["leniency_1962"].china.legal_processing_days < r["practice_1961"].china.legal_processing_days  # Doc 7 (3)
    assert r["ccp_1963"].china.approve_nk_nationals_return  # Doc 8 (2)
    p = r["protocol_1964"]
    assert p.dprk.return_illegal_prob > 0.5 and p.dprk.identity_information and p.dprk.disaster_exempt  # Doc 10 Art. 4
    assert p.border.agreed_points_and_hours and p.border.transit_pass_days == 30  # Doc 10 Art. 3
    assert tuple(p.border.hours.april_september) == (8, 17) and tuple(p.border.hours.october_march) == (9, 16)
    s = r["state_council_1970"]
    assert (
        s.dprk.return_illegal_prob >= p.dprk.return_illegal_prob and s.dprk.screening_days < p.dprk.screening_days
    )  # Doc 11 (6)


def test_crossing_outside_article_3_hours_is_illegal():
    protocol, practice = load_rule_set("protocol_1964"), load_rule_set("practice_1961")
    assert crossing_is_legal(protocol, documents=True, agreed_point=True, hour=10, month=5)
    assert not crossing_is_legal(protocol, documents=True, agreed_point=True, hour=17.5, month=5)  # after 17:00 in May
    assert crossing_is_legal(protocol, documents=True, agreed_point=True, hour=16.5, month=8)
    assert not crossing_is_legal(protocol, documents=True, agreed_point=True, hour=16.5, month=11)  # closes 16:00 Oct-Mar
    assert not crossing_is_legal(protocol, documents=True, agreed_point=True, hour=8.5, month=1)  # opens 9:00 Oct-Mar
    assert not crossing_is_legal(protocol, documents=True, agreed_point=False, hour=10, month=5)  # wrong crossing point
    assert not crossing_is_legal(protocol, documents=False, agreed_point=True, hour=10, month=5)  # no documents
    assert crossing_is_legal(protocol, documents=False, agreed_point=False, hour=2, month=7, disaster=True)  # Art. 4 (1)
    assert crossing_is_legal(practice, documents=True, agreed_point=False, hour=22, month=5)  # no hours rule before 1964
    assert not crossing_is_legal(practice, documents=False, agreed_point=False, hour=2, month=7, disaster=True)


def _arrive(m, idx):
    # A crossing is part of a journey, whose row of uniforms the reception draws from (common random numbers).
    m.households.start_journey(np.asarray(idx), m.streams)
    m.households.set_state(np.asarray(idx), State.AT_RECEPTION, m.today)
    m.households.screened[idx] = False


def test_protocol_returns_illegal_crossers_with_identity_except_disaster_victims():
    m = model_under("protocol_1964", {"dprk": {"return_illegal_prob": 1.0}})
    m.step()
    hh = m.households
    fam = np.flatnonzero(~hh.han_single & ~hh.criminal)[:2]
    hh.disaster[fam[1]] = True
    _arrive(m, fam)
    m.settlement.decide(fam, m.today, m.rules, m.date.month)
    assert hh.state[fam[0]] == State.SENT_BACK
    assert total(m, "repatriated") == pytest.approx(hh.persons(fam[:1]).sum())
    assert total(m, "returned_with_identity") == pytest.approx(hh.persons(fam[:1]).sum())
    assert hh.state[fam[1]] == State.HOME  # assisted and home, not repatriated (Art. 1 (1), Art. 4 (1))
    assert total(m, "disaster_assisted_home") == pytest.approx(hh.persons(fam[1:]).sum())


def test_practice_1961_settles_households_with_40_yuan_and_returns_han_men():
    m = model_under("practice_1961", {"dprk": {"send_back_prob": 0.0}})
    m.step()
    hh = m.households
    fam = np.flatnonzero(~hh.han_single & ~hh.criminal & (hh.labourers == 2))[:1]
    han = np.flatnonzero(hh.han_single)[:1]
    dis = np.flatnonzero(~hh.han_single & ~hh.criminal)[5:6]
    hh.disaster[dis] = True  # no disaster exemption before 1964: treated like any crosser
    _arrive(m, np.concatenate([fam, han, dis]))
    m.settlement.decide(np.concatenate([fam, han, dis]), m.today, m.rules, m.date.month)
    assert hh.state[fam[0]] == State.SETTLED and hh.state[dis[0]] == State.SETTLED
    assert total(m, "allowance_yuan") == pytest.approx(40 * (2 * hh.weight[fam[0]] + hh.labourers[dis[0]] * hh.weight[dis[0]]))
    assert hh.state[han[0]] == State.SENT_BACK and total(m, "sent_back_single_han") == pytest.approx(hh.weight[han[0]])
    assert total(m, "repatriated") == 0 and total(m, "returned_with_identity") == 0


def test_mfa_1957_always_returns_criminals():
    m = model_under("mfa_1957", {"dprk": {"send_back_prob": 0.0}})
    m.step()
    hh = m.households
    crim = np.flatnonzero(hh.criminal & ~hh.han_single)[:3]
    assert len(crim) == 3
    _arrive(m, crim)
    m.settlement.decide(crim, m.today, m.rules, m.date.month)
    assert np.all(hh.state[crim] == State.SENT_BACK)
    assert total(m, "repatriated_criminals") == pytest.approx(hh.persons(crim).sum())


def test_marriage_1958_repatriates_marriage_crossers():
    def share(rule):
        d = small_scenario_dict(end="1961-09-30")
        d["rules"] = [{"from": "1957-01-01", "use": rule}]
        d["world"]["nk_marriage_crossings_per_year"] = 2000
        m = BorderModel(validate_scenario(d)).run()
        return total(m, "marriage_repatriated") / total(m, "marriage_crossings_in")

    assert share("marriage_1958") == pytest.approx(0.9, abs=0.04)
    assert share("mfa_1957") == pytest.approx(0.5, abs=0.06)


def test_leniency_1962_lets_families_follow_so_fewer_go_home():
    def mean_stay(rule):
        m = model_under(rule, {"dprk": {"send_back_prob": 0.0, "capacity_households_per_month": 1e9}})
        m.step()
        hh = m.households
        idx = np.flatnonzero(~hh.han_single & ~hh.criminal)[:3000]
        hh.family_left[idx] = True
        _arrive(m, idx)
        m.settlement.decide(idx, m.today, m.rules, m.date.month)
        assert np.all(hh.state[idx] == State.SETTLED)
        return float(np.mean(hh.due[idx] - m.today))

    assert mean_stay("leniency_1962") > 1.3 * mean_stay("practice_1961")


def test_ccp_1963_approves_dprk_nationals_returning():
    m = model_under("ccp_1963", {"china": {"legal_approval_prob": 0.0}})
    m.step()
    hh = m.households
    nk = np.flatnonzero(hh.nk_national & (hh.state == State.HOME))[:5]
    other = np.flatnonzero(~hh.nk_national & (hh.state == State.HOME))[:5]
    m.authorities.decide_applications(np.concatenate([nk, other]), m.today, m.rules)
    assert np.all(hh.state[nk] == State.EMIGRATED)
    assert not np.any(hh.state[other] == State.EMIGRATED)


def test_state_council_1970_returns_in_a_timely_manner():
    waits = {}
    for rule in ("practice_1961", "state_council_1970"):
        m = model_under(rule)
        m.step()
        idx = np.flatnonzero(m.households.state == State.HOME)[:2000]
        m.households.start_journey(idx, m.streams)  # the reception's draws come from the household's journey
        m.settlement.receive(idx, m.today, m.rules)
        waits[rule] = float(np.mean(m.households.due[idx] - m.today))
    assert waits["state_council_1970"] < 0.6 * waits["practice_1961"]


def test_disaster_victims_cross_and_are_assisted_under_the_protocol():
    d = small_scenario_dict(end="1961-03-31")
    d["rules"] = [{"from": "1957-01-01", "use": "protocol_1964"}]
    d["world"]["disasters"] = [{"date": "1960-12-01", "region": "hunchun", "kind": "flood", "share": 0.2}]
    m = BorderModel(validate_scenario(d)).run()
    assert total(m, "disaster_crossers") > 0
    assert total(m, "disaster_assisted_home") == pytest.approx(total(m, "disaster_crossers"))


def test_rule_switch_can_return_settled_crossers(tmp_path):
    d = small_scenario_dict(end="1961-06-30")
    d["rules"] = [{"from": "1957-01-01", "use": "practice_1961"}, {"from": "1961-06-01", "use": "protocol_1964"}]
    d["rule_overrides"] = {}
    m = BorderModel(validate_scenario(d))
    m.timeline.switches[1] = (
        dt.date(1961, 6, 1),
        load_rule_set("protocol_1964", {"dprk": {"settled_may_stay": False, "return_illegal_prob": 1.0}}),
    )
    while m.date < dt.date(1961, 5, 31):
        m.step()
    settled = np.flatnonzero(m.households.state == State.SETTLED)
    assert len(settled) > 0
    m.step()
    m.step()
    assert not np.any(m.households.state[settled] == State.SETTLED)


def test_famine_scenarios_extend_the_baseline():
    base = load_scenario(ROOT / "scenarios" / "baseline_1960_1962.yaml")
    for name, rule in [("famine_under_protocol_1964", "protocol_1964"), ("famine_under_1970_rules", "state_council_1970")]:
        sc = load_scenario(ROOT / "scenarios" / f"{name}.yaml")
        assert (
            sc.world == base.world
            and sc.parameters == base.parameters
            and sc.run == base.run
            and sc.population == base.population
        )
        assert [r.use for r in sc.rules] == [rule]
        assert sc.targets is not None
    for cf in ("cf_no_allowance", "cf_ration_kept_360", "cf_no_rumours", "cf_doubled_interception", "cf_prompt_legal_channel"):
        sc = load_scenario(ROOT / "scenarios" / f"{cf}.yaml")
        assert sc.run.seed == base.run.seed and sc != base
    replay = load_scenario(ROOT / "scenarios" / "replay_1957_1970.yaml")
    assert [r.use for r in replay.rules] == REGIMES


def test_famine_under_1964_rules_leaves_fewer_in_north_korea(tmp_path):
    outs = {}
    for rule in ("practice_1961", "protocol_1964"):
        d = small_scenario_dict(end="1961-12-31", replicates=3)
        d["rules"] = [{"from": "1957-01-01", "use": rule}]
        d["name"] = rule
        p = tmp_path / f"{rule}.yaml"
        p.write_text(yaml.safe_dump(d, sort_keys=False))
        outs[rule] = tmp_path / rule
        assert main(["run", str(p), "--out", str(outs[rule]), "--quiet", "--no-figures"]) == 0
    assert main(["compare", str(outs["practice_1961"]), str(outs["protocol_1964"]), "--out", str(tmp_path / "cmp")]) == 0
    import pandas as pd

    tab = pd.read_csv(tmp_path / "cmp" / "compare.csv").set_index(["run", "measure"])["median"]
    assert tab["protocol_1964", "in_north_korea_illegal"] < 0.3 * tab["practice_1961", "in_north_korea_illegal"]
    assert tab["protocol_1964", "sent_back"] > 2 * tab["practice_1961", "sent_back"]
    assert (tmp_path / "cmp" / "compare_flows.png").stat().st_size > 0


def test_a_rule_set_beside_the_scenario_validates_and_runs(tmp_path, capsys):
    # One search path for validation and the model: rules/ beside the scenario file, then the library.
    (tmp_path / "rules").mkdir()
    raw = yaml.safe_load((library_dir() / "practice_1961.yaml").read_text())
    raw.update(name="local_1961", title="a local variant of 1961 practice")
    raw["dprk"]["allowance_yuan_per_labourer"] = 0.0
    (tmp_path / "rules" / "local_1961.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    d = small_scenario_dict(end="1960-12-31")
    d["rules"] = [{"from": "1957-01-01", "use": "local_1961"}]
    p = tmp_path / "local.yaml"
    p.write_text(yaml.safe_dump(d, sort_keys=False))
    assert main(["validate", str(p)]) == 0
    assert main(["run", str(p), "--out", str(tmp_path / "out"), "--quiet", "--no-figures"]) == 0, capsys.readouterr().err
    sc = load_scenario(p)
    m = BorderModel(sc).run()
    assert m.rules.name == "local_1961" and m.rules.dprk.allowance_yuan_per_labourer == 0.0
    assert total(m, "allowance_yuan") == 0 and total(m, "settled") > 0


def test_rule_set_overrides_apply_to_their_rule_set_and_rule_overrides_win(tmp_path):
    """A level calibrated for 1961 practice stays in 1961 practice; a scenario's own change holds everywhere."""
    from .conftest import small_scenario_dict

    d = small_scenario_dict(end="1962-06-30")
    d["rules"] = [{"from": "1960-09-01", "use": "practice_1961"}, {"from": "1962-03-24", "use": "leniency_1962"}]
    d["rule_set_overrides"] = {"practice_1961": {"china": {"legal_approval_prob": 0.3}, "dprk": {"send_back_prob": 0.2}}}
    m = BorderModel(validate_scenario(d, tmp_path / "s.yaml"), rng=1)
    (_, r61), (_, r62) = m.timeline.switches
    assert r61.china.legal_approval_prob == 0.3 and r61.dprk.send_back_prob == 0.2
    assert r62.china.legal_approval_prob == 0.95 and r62.dprk.send_back_prob == 0.1  # leniency_1962's own levels
    d["rule_overrides"] = {"china": {"legal_approval_prob": 0.9}}
    m = BorderModel(validate_scenario(d, tmp_path / "s.yaml"), rng=1)
    (_, r61), (_, r62) = m.timeline.switches
    assert r61.china.legal_approval_prob == 0.9 == r62.china.legal_approval_prob
    assert r61.dprk.send_back_prob == 0.2  # untouched by rule_overrides
    d["rule_set_overrides"] = {"practice_1961": {"china": {"legal_approval_probb": 0.3}}}
    with pytest.raises(ScenarioError) as e:
        validate_scenario(d, tmp_path / "s.yaml")
    assert "rule_set_overrides.practice_1961" in str(e.value) and "legal_approval_probb" in str(e.value)
