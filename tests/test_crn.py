"""Common random numbers (docs/ODD.md, stochasticity): a change affects only the decisions it really touches.

Each test would catch a broken pairing: a draw that depends on the order of other draws, on how many
households there are, or on what the rules made other households do.
"""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest

from bordersim.experiments.replicates import replicate_seeds, run_replicate
from bordersim.model import BorderModel
from bordersim.model.streams import Kind, Streams, binomial, geometric, household_keys, poisson
from bordersim.world.geography import TREE
from bordersim.world.loader import validate_scenario

from .conftest import small_scenario_dict

CORPSES = {"corpses_found", "corpses_chinese", "corpses_korean", "corpses_unidentified"}


def flows(d: dict, replicate: int = 0) -> pd.DataFrame:
    sc = validate_scenario(d)
    return run_replicate(sc, replicate_seeds(sc.run.seed, replicate + 1)[replicate], replicate).flows


def _yanbian(f: pd.DataFrame) -> pd.DataFrame:
    regions = {"yanbian", *[r.id for r in TREE.regions if "yanbian" in TREE.ancestors(r.id)]}
    return f[f.region.isin(regions)].reset_index(drop=True)


# -- the streams -----------------------------------------------------------------------------------
def test_a_draw_depends_only_on_who_what_and_when():
    s = Streams(np.random.SeedSequence(11))
    keys = household_keys(123, 10)
    u = s.uniforms(Kind.JOURNEY, keys, np.arange(10), 4)
    # The same (household, occurrence) in another order, or among other households, draws the same numbers.
    perm = np.array([3, 7, 0, 9])
    assert np.array_equal(s.uniforms(Kind.JOURNEY, keys[perm], np.arange(10)[perm], 4), u[perm])
    assert np.array_equal(s.uniforms(Kind.JOURNEY, keys[:2], [0, 1], 4), u[:2])
    # Another kind, occurrence or seed draws other numbers.
    assert not np.allclose(s.uniforms(Kind.TRAVEL, keys, np.arange(10), 4), u)
    assert not np.allclose(s.uniforms(Kind.JOURNEY, keys, np.arange(10) + 1, 4), u)
    assert not np.allclose(Streams(np.random.SeedSequence(12)).uniforms(Kind.JOURNEY, keys, np.arange(10), 4), u)


def test_uniforms_and_derived_draws_have_their_distributions():
    s = Streams(5)
    u = s.uniform(Kind.BUILD, household_keys(1, 200_000), 0)
    assert 0 <= u.min() and u.max() < 1
    assert np.histogram(u, bins=10, range=(0, 1))[0] == pytest.approx(np.full(10, 20_000), rel=0.03)
    assert abs(np.corrcoef(u[:-1], u[1:])[0, 1]) < 0.01  # neighbouring keys are not correlated
    assert geometric(u, 0.1).mean() == pytest.approx(10.0, rel=0.02)  # numpy's convention: support 1, 2, ...
    assert geometric(u, 1.0).max() == 1
    assert poisson(u, 2.5).mean() == pytest.approx(2.5, rel=0.02)
    assert poisson(u, 2.5).var() == pytest.approx(2.5, rel=0.03)
    b = binomial(u, np.full(len(u), 12), 0.3)
    assert b.mean() == pytest.approx(3.6, rel=0.02) and b.var() == pytest.approx(12 * 0.3 * 0.7, rel=0.03)
    assert np.all(binomial(u, np.full(len(u), 12), 0.4) >= b)  # inversion: monotone in p


# -- pairing ---------------------------------------------------------------------------------------
def test_doubling_dprk_drownings_changes_the_corpses_and_nothing_else():
    """DPRK residents drowned in the rivers touch no household: every other measure is byte-identical."""
    d = small_scenario_dict(end="1961-12-31")
    d2 = copy.deepcopy(d)
    d2["world"]["nk_drownings_per_year"] = 2 * d["world"]["nk_drownings_per_year"]
    a, b = flows(d), flows(d2)
    other = ~a.measure.isin(CORPSES)
    assert a[other].value.to_numpy().tobytes() == b[other].value.to_numpy().tobytes()
    assert a[other].astype(str).equals(b[other].astype(str))
    corpses = a.measure == "corpses_korean"
    assert b[corpses].value.sum() > a[corpses].value.sum()


def _settled(d: dict, allowance: float, seed: int) -> float:
    d = copy.deepcopy(d)
    d["run"]["seed"] = seed
    d["rule_overrides"] = {"dprk": {"allowance_yuan_per_labourer": allowance}}
    f = flows(d)
    return float(f[(f.region == "china") & (f.measure == "settled")].value.sum())


def test_raising_the_allowance_never_lowers_the_settled_count_of_a_pair():
    """40 -> 44 yuan per labourer at fixed parameters: the DPRK's pull rises (allowance_pull), more households
    intend earlier; on common random numbers every replicate pair settles at least as many people."""
    d = small_scenario_dict(end="1961-12-31")
    d["parameters"] = {"allowance_pull": 0.5}
    diffs = [_settled(d, 44, seed) - _settled(d, 40, seed) for seed in range(8)]
    assert all(x >= 0 for x in diffs), diffs
    assert sum(x > 0 for x in diffs) >= 6, diffs


def test_a_change_in_liaoning_leaves_yanbian_as_it_was():
    """Liaoning's interception effort touches only Liaoning's households: Yanbian's flows are byte-identical, as long
    as the two provinces do not meet. They meet at the DPRK's settlement capacity, shared by all crossers: when it
    binds, Liaoning's crossers take places Yanbian's would have had."""

    def liaoning_effort(effort: float, capacity: float | None = None) -> dict:
        d = small_scenario_dict(end="1961-12-31")
        d["world"]["interception"] = [e for e in d["world"]["interception"] if e["region"] != "liaoning"] + [
            {"from": "1961-03-01", "region": "liaoning", "effort": effort}
        ]
        if capacity is not None:
            d["rule_overrides"] = {"dprk": {"capacity_households_per_month": capacity}}
        return d

    a, b = _yanbian(flows(liaoning_effort(1.0))), _yanbian(flows(liaoning_effort(4.0)))
    assert a.value.to_numpy().tobytes() == b.value.to_numpy().tobytes()
    la, lb = flows(liaoning_effort(1.0)), flows(liaoning_effort(4.0))
    liaoning = (la.region == "liaoning") & la.measure.isin(["attempted", "detected", "stopped"])
    assert not np.array_equal(la[liaoning].value.to_numpy(), lb[liaoning].value.to_numpy())  # Liaoning did change
    # With a capacity that binds, the provinces interact through the DPRK's places.
    a, b = _yanbian(flows(liaoning_effort(1.0, 3))), _yanbian(flows(liaoning_effort(4.0, 3)))
    settled = a.measure == "settled"
    assert not np.array_equal(a[settled].value.to_numpy(), b[settled].value.to_numpy())


def test_a_region_population_change_keeps_the_other_households():
    """Household keys are (home region, index in the region): doubling Andong's population leaves every other
    household's build as it was."""
    d = small_scenario_dict()
    d2 = copy.deepcopy(d)
    d2["population"]["liaoning_persons"]["andong"] *= 2
    a, b = BorderModel(validate_scenario(d)), BorderModel(validate_scenario(d2))
    andong = TREE.leaf_index["andong"]
    ka, kb = a.households, b.households
    keep_a, keep_b = ka.leaf != andong, kb.leaf != andong
    oa, ob = np.argsort(ka.key[keep_a]), np.argsort(kb.key[keep_b])
    assert np.array_equal(ka.key[keep_a][oa], kb.key[keep_b][ob])
    for name in ("size", "kin", "labourers", "thresh_move", "brigade_u"):
        assert np.array_equal(getattr(ka, name)[keep_a][oa], getattr(kb, name)[keep_b][ob]), name


def test_compare_pairs_runs_that_share_seed_scale_replicates_and_draws(tmp_path):
    import yaml

    from bordersim.cli import main

    outs = {}
    for name, allowance, seed in (("base", 40, 7), ("more", 44, 7), ("other_seed", 44, 8)):
        d = small_scenario_dict(end="1961-06-30", replicates=2, seed=seed)
        d["name"] = name
        d["parameters"] = {"allowance_pull": 0.5}
        d["rule_overrides"] = {"dprk": {"allowance_yuan_per_labourer": allowance}}
        p = tmp_path / f"{name}.yaml"
        p.write_text(yaml.safe_dump(d, sort_keys=False))
        outs[name] = tmp_path / name
        assert main(["run", str(p), "--out", str(outs[name]), "--quiet", "--no-figures"]) == 0
    assert main(["compare", str(outs["base"]), str(outs["more"]), "--out", str(tmp_path / "paired")]) == 0
    pairs = pd.read_csv(tmp_path / "paired" / "compare_paired.csv").set_index("measure")
    assert pairs.loc["settled", "pairs"] == 2 and pairs.loc["settled", "down"] == 0
    a, b = (pd.read_csv(outs[k] / "flows.csv") for k in ("base", "more"))

    def per_rep(f):
        return f[(f.region == "china") & (f.measure == "attempted")].groupby("replicate").value.sum()

    assert pairs.loc["attempted", "median"] == pytest.approx((per_rep(b) - per_rep(a)).median(), abs=1e-3)
    assert (tmp_path / "paired" / "compare_paired.png").stat().st_size > 0
    assert "Paired differences" in (tmp_path / "paired" / "compare.md").read_text()
    # Different seeds: side by side only, and the report says why.
    assert main(["compare", str(outs["base"]), str(outs["other_seed"]), "--out", str(tmp_path / "unpaired")]) == 0
    assert not (tmp_path / "unpaired" / "compare_paired.csv").exists()
    assert "different seeds" in (tmp_path / "unpaired" / "compare.md").read_text()
