"""The archival targets: every count parsed, mapped to the model and compared; each observation type
against a hand-computed case."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from bordersim.archive.extract import simulated
from bordersim.archive.fit import compare
from bordersim.archive.observation import likelihood, predictive_draws
from bordersim.archive.targets import Target, load_targets
from bordersim.errors import ScenarioError

ROOT = Path(__file__).resolve().parents[1]
TARGETS = ROOT / "calibration" / "targets.yaml"
SOURCE = ROOT.parent / "shared" / "sources" / "nkidp-e-dossier-11.txt"


def _target(**kw) -> Target:
    base = dict(
        id="t",
        document=6,
        doc_date="1962-03-23",
        quote="q",
        region="jilin",
        period={"start": "1961-01", "end": "1961-12"},
        kind="flow",
        measure="detected",
        numerator=None,
        denominator=None,
        unit="persons",
        value=100.0,
        observation={"type": "exact"},
        role="calibration",
    )
    base.update(kw)
    return Target.model_validate(base)


def _flows(values: dict[tuple[str, str, str], list[float]]) -> pd.DataFrame:
    rows = []
    for (region, period, measure), vals in values.items():
        for rep, v in enumerate(vals):
            rows.append({"replicate": rep, "period": period, "region": region, "measure": measure, "value": v})
    return pd.DataFrame(rows)


def test_every_target_parses_and_is_in_the_source():
    targets = load_targets(TARGETS)
    assert len(targets) >= 30
    ids = [t.id for t in targets]
    assert len(set(ids)) == len(ids)
    # Key archival figures are all there.
    values = {t.id: t.value for t in targets}
    for tid, v in [
        ("jilin_1961_discovered", 28028),
        ("jilin_1961_persuaded_back", 7939),
        ("jilin_1961_returned_own", 7528),
        ("jilin_1961_sent_back", 2361),
        ("jilin_1962_02_in_north_korea", 7034),
        ("jilin_1961_corpses_found", 243),
        ("yanbian_1961_authorization_letters", 2667),
        ("yanbian_1961_legal_approved", 1053),
        ("yanbian_1961_legal_refused", 735),
        ("lishu_1960_11_household_requests", 12),
        ("lishu_1960_12_household_requests", 29),
        ("lishu_1961_01_household_requests", 63),
        ("lishu_1960_11_travel_applications", 8),
        ("lishu_1960_12_travel_applications", 20),
        ("lishu_1961_01_travel_applications", 58),
        ("andong_1961_preparing_households", 1843),
        ("andong_1961_property_sold_households", 153),
        ("intro_1961_corpses_found", 245),
    ]:
        assert values[tid] == v, tid
    # Withheld figures are validation targets without a value.
    withheld = [t for t in targets if t.value is None]
    assert len(withheld) >= 4 and all(t.role == "validation" for t in withheld)
    # The source's slips are recorded.
    slips = {t.id: t.source_says for t in targets if t.source_says}
    assert any("0.08 percent" in s for s in slips.values())
    assert any("52.3 percent" in s for s in slips.values())
    assert any("1,778" in s for s in slips.values())


@pytest.mark.skipif(not SOURCE.exists(), reason="shared/sources not beside the repo")
def test_quotes_are_verbatim():
    text = re.sub(r"\s+", " ", SOURCE.read_text(encoding="utf-8"))
    for t in load_targets(TARGETS):
        assert re.sub(r"\s+", " ", t.quote) in text, t.id


def test_every_target_is_compared(tmp_path):
    targets = load_targets(TARGETS)
    # A fake run in which every measure is 10 per month everywhere.
    import datetime as dt

    from bordersim.model.recorder import MEASURES, month_range
    from bordersim.world.geography import TREE

    months = month_range(dt.date(1960, 9, 1), dt.date(1962, 12, 31))
    idx = pd.MultiIndex.from_product(
        [[0, 1], months, TREE.node_ids, list(MEASURES)], names=["replicate", "period", "region", "measure"]
    )
    flows = pd.DataFrame({"value": 10.0}, index=idx).reset_index()
    fit = compare(flows, targets)
    assert list(fit.id) == [t.id for t in targets]
    with_value = fit[fit.observed.notna()]
    assert with_value.simulated_median.notna().all() and with_value.inside_90.notna().all()
    t = next(x for x in targets if x.id == "jilin_1961_discovered")
    assert simulated(flows, t).tolist() == [120.0, 120.0]  # 12 months x 10
    t = next(x for x in targets if x.id == "jilin_1962_02_in_north_korea")
    assert simulated(flows, t).tolist() == [10.0, 10.0]  # a stock: one month


def test_bad_targets_file(tmp_path):
    p = tmp_path / "t.yaml"
    p.write_text(
        "version: 1\ntargets:\n  - id: x\n    document: 6\n    doc_date: 1962-03-23\n    quote: q\n    region: jilin\n"
        "    period: {start: '1961-01', end: '1961-12'}\n    kind: flow\n    measure: detectd\n    unit: persons\n"
        "    value: 1\n    observation: {type: exact}\n    role: calibration\n"
    )
    with pytest.raises(ScenarioError) as e:
        load_targets(p)
    assert "targets[0]" in str(e.value) and "unknown measure 'detectd'" in str(e.value)


# -- the observation types, hand-computed --------------------------------------------------------------
def test_exact_is_negative_binomial():
    t = _target(value=100)
    k = 20.0
    mu = 120.0
    expected = stats.nbinom.pmf(100, k, k / (k + mu))
    assert likelihood(t, np.array([mu]), dispersion=k) == pytest.approx(expected)
    # A mixture over replicates.
    both = 0.5 * (stats.nbinom.pmf(100, k, k / (k + 80)) + stats.nbinom.pmf(100, k, k / (k + 120)))
    assert likelihood(t, np.array([80.0, 120.0]), dispersion=k) == pytest.approx(both)


def test_interval_is_probability_of_the_interval():
    t = _target(value=1788, observation={"type": "interval", "low": 1778, "high": 1788})
    k, mu = 20.0, 1700.0
    d = stats.nbinom(k, k / (k + mu))
    assert likelihood(t, np.array([mu]), dispersion=k) == pytest.approx(d.cdf(1788) - d.cdf(1777))
    assert t.observed == 1783


def test_lower_bound_is_survival():
    t = _target(
        value=7000,
        kind="stock",
        period={"start": "1962-02", "end": "1962-02"},
        measure="in_north_korea_illegal",
        observation={"type": "lower_bound"},
    )
    k, mu = 20.0, 6000.0
    assert likelihood(t, np.array([mu]), dispersion=k) == pytest.approx(stats.nbinom(k, k / (k + mu)).sf(6999))
    # Far above the bound: almost certain.
    assert likelihood(t, np.array([50000.0]), dispersion=k) > 0.999


def test_undercount_averages_over_the_recorded_fraction():
    t = _target(value=100, observation={"type": "undercount", "undercount_prior": {"low": 0.5, "high": 1.0}})
    k, mu = 20.0, 160.0
    f = 0.5 + 0.5 * (np.arange(21) + 0.5) / 21
    expected = np.mean(stats.nbinom.pmf(100, k, k / (k + mu * f)))
    assert likelihood(t, np.array([mu]), dispersion=k) == pytest.approx(expected)
    # A true count of 160 recorded as 100 is likelier under an undercount than as an exact record.
    assert expected > likelihood(_target(value=100), np.array([mu]), dispersion=k)
    # Predictive draws sit between 0.5 and 1.0 of the simulated count on average.
    draws = predictive_draws(t, np.array([mu]), np.random.default_rng(1), draws=4000, dispersion=k)
    assert 0.70 * mu < draws.mean() < 0.80 * mu


def test_share_is_binomial_of_the_sample_size():
    t = _target(
        kind="share",
        measure=None,
        numerator="intending_households_rumour",
        denominator="intending_households",
        unit="proportion",
        value=0.5238,
        sample_size=63,
        region="lishu",
        period={"start": "1961-01", "end": "1961-01"},
    )
    assert likelihood(t, np.array([0.4])) == pytest.approx(stats.binom.pmf(33, 63, 0.4))
    flows = _flows(
        {("lishu", "1961-01", "intending_households_rumour"): [20, 30], ("lishu", "1961-01", "intending_households"): [40, 50]}
    )
    assert simulated(flows, t).tolist() == [0.5, 0.6]


def test_compare_flags_inside_and_outside():
    t_in = _target(id="a", value=100)
    t_out = _target(id="b", value=1000)
    flows = _flows({("jilin", "1961-05", "detected"): [95, 100, 105, 110]})
    fit = compare(flows, [t_in, t_out]).set_index("id")
    assert bool(fit.loc["a", "inside_90"]) and not bool(fit.loc["b", "inside_90"])
    assert fit.loc["b", "relative_error"] == pytest.approx((fit.loc["b", "predicted_median"] - 1000) / 1000)
    assert fit.loc["a", "log_score"] > fit.loc["b", "log_score"]
