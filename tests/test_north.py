"""Both directions across the border (issue 15): hand-computed cases for each northward mechanism, the rules
that act on them, a property test of the food gradient, and the southward simulation left untouched."""

from __future__ import annotations

import copy
import datetime as dt

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numba import njit

from bordersim.cli import main
from bordersim.model import BorderModel, north_people
from bordersim.model.calendar import Calendar
from bordersim.model.china_police import ChinaPolice
from bordersim.model.korean_nationals import KoreanNationals, KState
from bordersim.model.north_day import _cross, day_constants, in_china_pass
from bordersim.model.north_people import (
    HB,
    HF,
    HI,
    TF,
    TI,
    Book,
    HState,
    NorthHouseholds,
    NReason,
    Trips,
    TState,
    book_add,
    book_due,
    come_home,
)
from bordersim.model.north_people import room as event_room
from bordersim.model.recorder import MEASURE_INDEX, NORTH_MEASURES, SOUTH_MEASURES, Recorder
from bordersim.model.rng_handle import current, generator, handle
from bordersim.world.geography import TREE
from bordersim.world.loader import load_scenario, validate_scenario
from bordersim.world.north import ZONE_TREE, NorthParameters, NorthPopulation, resolve_parameters
from bordersim.world.rules import NorthwardRules, available_rule_sets, library_dir, load_rule_set
from bordersim.world.scenario import Parameters

from .conftest import ROOT, small_scenario_dict

P = resolve_parameters(NorthParameters(), Parameters())


def total(rec: Recorder, measure: str) -> float:
    return float(rec.data[:, :, MEASURE_INDEX[measure]].sum())


def northward(rule: str, **levers) -> NorthwardRules:
    """The northward levers of a library rule set, with some changed."""
    return load_rule_set(rule).northward.model_copy(update=levers)


def police_case(n: int, seed: int = 0, **trip):
    """``n`` one-person trips at large in China since day 0, each from its own household, and China's police."""
    hh = NorthHouseholds(n)
    hh.size[:] = 2
    hh.leaf[:] = TREE.leaf_index["hunchun"]
    trips = Trips()
    fields = dict(hh=np.arange(n), persons=1, weight=1.0, leaf=hh.leaf, reason=NReason.FOOD, attached=True)
    fields.update(trip)
    idx = trips.add(n, state=TState.AT_LARGE, start=0, **fields)
    hh.state[:] = HState.AWAY
    hh.trip[:] = idx
    rec = Recorder(dt.date(1964, 1, 1), dt.date(1964, 12, 31), len(TREE.leaf_ids))
    return ChinaPolice(hh, trips, P, rec, np.random.default_rng(seed)), hh, trips, rec, idx


def catch_and_wait(police, trips, idx, nw: NorthwardRules, days: int = 1500, hunger=None):
    police.catch(idx, 0, nw, np.zeros(len(idx)) if hunger is None else hunger, at_river=False)
    for t in range(1, days):
        police.step(t, nw)


# -- the decision ------------------------------------------------------------------------------------
def _fed_world(**north_pop) -> dict:
    d = small_scenario_dict(start="1960-10-01", end="1961-09-30")
    d["world"]["rations"] = [{"from": "1960-10-01", "region": "china", "catties": 360}]
    d["world"]["north"] = {
        "dprk_rations": [{"from": "1960-10-01", "region": "dprk", "catties": 400}],
        "china_pull": [{"from": "1960-10-01", "value": 1.5}],
    }
    d["population"]["north"].update(north_pop)
    return d


def test_a_fed_household_without_kin_in_china_does_not_cross():
    """Food at home and no kin or contacts in China: every channel is zero, whatever China's pull (1.5 here)."""
    m = BorderModel(validate_scenario(_fed_world(kin_share=0.0))).run()
    north = m.north
    assert north.hh.n > 1000 and not north.hh.kin.any()
    assert np.all(north.channels(np.arange(north.hh.n)) == 0.0)
    for measure in ("attempted_north", "legal_visits_north", "drowned_north", "stopped_north_dprk"):
        assert total(m.recorder, measure) == 0.0, measure
    assert north.trips.n == 0
    # The same households with kin in China do visit them (Doc 9 permits): the zero above is the mechanism's.
    m2 = BorderModel(validate_scenario(_fed_world(kin_share=1.0))).run()
    assert total(m2.recorder, "legal_visits_north") > 0


def test_channels_hand_computed():
    """food = rate_food g k push, work = rate_work b (g + floor) ties push, kin = rate_kin kin (docs/ODD.md 7.16)."""
    d = small_scenario_dict(start="1960-10-01", end="1961-03-31")
    d["world"]["north"] = {"dprk_rations": [{"from": "1960-10-01", "region": "musan", "catties": 180}]}
    m = BorderModel(validate_scenario(d))
    for _ in range(120):
        m.step()
    north, hh, t = m.north, m.north.hh, m.today - 1
    i = int(np.flatnonzero(hh.zone == 0)[0])  # a household of Musan, facing the upper Tumen (Helong)
    hh.kin[i], hh.contact[i], hh.belief[i], hh.fear[i] = False, True, 0.4, False
    nw = m.rules.northward
    north._hazards(t, nw, m.ctx)
    p, s = north.p, north.sched
    g = max(0.0, s.hunger[t, 0] - m.ctx.hunger_ok_leaf[hh.leaf[i]])
    push = s.china_pull[t] * np.exp(
        -p.risk_aversion * (s.dprk_guards[t, 0] + nw.dprk_punishment + p.return_deterrence * nw.repatriate_prob)
    )
    food, work, kin = north.channels(np.array([i]))[:, 0]
    assert g > 0.1
    assert food == pytest.approx(p.rate_food * g * 0.4 * push)  # no kin: knows China through belief
    assert work == pytest.approx(p.rate_work * 0.4 * (g + p.work_floor) * 1.0 * push)  # contacts open the work channel
    assert kin == 0.0
    assert p.rate_food == m.params.rate_food_kin and p.rate_work == m.params.rate_rumour  # borrowed: the same machinery


def test_repeat_crossing_is_a_mechanism():
    """A stay of contact_days leaves contacts and belief: the fed household without kin may then cross again for
    work; a short stay does not; a detention by the DPRK deters (``repeat_factor``)."""
    police, hh, trips, rec, idx = police_case(2)
    trips.start[:2] = [0, 25]
    come_home(hh, trips, idx, today=40, contact_days=P.contact_days)
    assert list(hh.contact) == [True, False] and hh.belief[0] == 1.0 and np.all(hh.state == HState.HOME)
    assert np.all(trips.state[idx] == TState.ENDED)
    m = BorderModel(validate_scenario(_fed_world(kin_share=0.0)))
    m.step()
    north, t = m.north, m.today - 1
    i, j = 0, 1
    north.hh.contact[i], north.hh.belief[i] = True, 1.0  # came back from a long stay
    north._hazards(t, m.rules.northward, m.ctx)
    food, work, kin = north.channels(np.array([i, j]))
    assert food[0] == 0.0 and kin[0] == 0.0 and work[0] > 0.0  # fed: no food channel; contacts: work
    assert work[1] == 0.0  # never been: nothing
    north.hh.fear[i] = True  # detained by the DPRK after a return
    north._hazards(t, m.rules.northward, m.ctx)
    assert north.channels(np.array([i]))[1, 0] == pytest.approx(work[0] * north.p.repeat_factor)


# -- what China does with those it catches -------------------------------------------------------------
def test_protocol_1964_returns_with_identity_unless_a_disaster_forced_the_crossing():
    """Doc 10 Art. 4 (1)-(2): returned "with information on their identity", except those forced by a disaster."""
    nw = northward("protocol_1964", repatriate_prob=1.0)
    police, hh, trips, rec, idx = police_case(10)
    trips.disaster[idx[5:]] = True
    catch_and_wait(police, trips, idx, nw)
    assert total(rec, "caught_china") == 10
    assert total(rec, "returned_with_identity_north") == 5 and total(rec, "returned_without_identity_north") == 0
    assert total(rec, "assisted_north") == 5 and np.all(trips.state[idx[5:]] == TState.AT_LARGE)
    assert np.all(trips.state[idx[:5]] == TState.ENDED) and np.all(hh.state[:5] != HState.AWAY)
    # Before the Protocol, disaster victims are illegal crossers like the others, and no identity goes with them.
    police, hh, trips, rec, idx = police_case(10)
    trips.disaster[idx[5:]] = True
    catch_and_wait(police, trips, idx, northward("practice_1961", repatriate_prob=1.0))
    assert total(rec, "returned_without_identity_north") == 10 and total(rec, "assisted_north") == 0


def test_protocol_1964_at_its_own_levels():
    police, hh, trips, rec, idx = police_case(4000, seed=1)
    trips.criminal[idx[:100]] = True
    nw = load_rule_set("protocol_1964").northward
    catch_and_wait(police, trips, idx, nw)
    returned = total(rec, "returned_with_identity_north")
    assert returned == total(rec, "returned_to_dprk") == total(rec, "handed_over_north")
    assert total(rec, "returned_criminals_north") == 100  # Doc 10 Art. 5 (1): always returned
    share = (returned - 100) / 3900
    assert abs(share - nw.repatriate_prob) < 4 * np.sqrt(0.05 * 0.95 / 3900)
    assert returned + total(rec, "released_north") == 4000


def test_1970_returns_sooner_than_1964():
    """Doc 11 (6): "repatriated in a timely manner"; Doc 10 Art. 9 (2)-(3): exchanges arranged between Representatives."""
    means = {}
    for rule in ("protocol_1964", "state_council_1970"):
        police, hh, trips, rec, idx = police_case(3000, seed=2)
        nw = load_rule_set(rule).northward
        catch_and_wait(police, trips, idx, nw, days=400)
        means[rule] = total(rec, "handover_days_north") / total(rec, "handed_over_north")
        assert means[rule] == pytest.approx(nw.return_days, rel=0.12)
    assert means["state_council_1970"] < means["protocol_1964"] / 2


def test_1957_inconvenient_return_may_stay_with_the_dprk_approval():
    """Doc 1 (2): "If it is indeed inconvenient for some of these people to return, then they can continue their
    residency [in China] after the approval of the [North] Korean side"."""
    police, hh, trips, rec, idx = police_case(20)
    trips.married[idx] = True  # married in China: return "inconvenient" (Doc 2 (3): "special circumstances")
    catch_and_wait(police, trips, idx, northward("mfa_1957", inconvenient_stay_prob=1.0))
    assert total(rec, "stay_approved_north") == 20 and total(rec, "returned_to_dprk") == 0
    assert np.all(trips.state[idx] == TState.RESIDENT)
    assert np.all(hh.trip == -1) and np.all(hh.size == 1)  # she has left her household; it may send someone again
    # At the rule file's own level about half stay; under the stringent reading nobody does; nor the convenient.
    for rule, married, expected in [("mfa_1957", True, 0.5), ("protocol_1964_stringent", True, 0.0), ("mfa_1957", False, 0.0)]:
        police, hh, trips, rec, idx = police_case(2000, seed=3)
        trips.married[idx] = married
        catch_and_wait(police, trips, idx, load_rule_set(rule).northward)
        assert total(rec, "stay_approved_north") / 2000 == pytest.approx(expected, abs=0.05), rule


def test_lenient_reading_treats_famine_crossers_as_forced_by_disaster():
    police, hh, trips, rec, idx = police_case(10)
    trips.reason[idx[5:]] = NReason.WORK
    hunger = np.full(10, 0.5)  # above famine_threshold
    catch_and_wait(police, trips, idx, northward("protocol_1964_lenient", repatriate_prob=1.0), hunger=hunger)
    assert total(rec, "assisted_north") == 5 and total(rec, "returned_to_dprk") == 5  # work crossers are not exempt
    police, hh, trips, rec, idx = police_case(10)
    catch_and_wait(police, trips, idx, northward("protocol_1964_stringent"), hunger=hunger)
    assert total(rec, "assisted_north") == 0 and total(rec, "returned_with_identity_north") == 10


def test_1970_seeks_out_the_backlog():
    """Doc 11 (6): "In general, Koreans who illegally crossed the border should be sent back"."""
    police, hh, trips, rec, idx = police_case(4000, seed=4)
    nw = load_rule_set("state_council_1970").northward
    police.round_up(nw.return_backlog, 0, nw, lambda i: np.zeros(len(i)))
    assert total(rec, "caught_china") / 4000 == pytest.approx(nw.return_backlog, abs=0.04)
    assert load_rule_set("protocol_1964").northward.return_backlog == 0.0


# -- the compiled passes ------------------------------------------------------------------------------
@njit
def _draws_through_handle(h, p, sizes, lam):
    rng = generator(h)
    n = len(p)
    u, g, b, k = np.empty(n), np.empty(n, np.int64), np.empty(n, np.int64), np.empty(n, np.int64)
    for i in range(n):
        u[i] = rng.random()
    for i in range(n):
        g[i] = rng.geometric(p[i])
    for i in range(n):
        b[i] = rng.binomial(sizes[i], p[i])
    for i in range(n):
        k[i] = rng.poisson(lam)
    return u, g, b, k


def test_generator_handle_draws_numpys_numbers_from_the_same_generator():
    """The compiled passes draw through a handle (rng_handle): numpy's very numbers, and the generator advanced."""
    ours, ref = np.random.default_rng(8), np.random.default_rng(8)
    p = np.concatenate([ref.random(500), ref.random(500) * 1e-4])  # geometric: the search and the inversion
    ours.random(1000)
    sizes = np.arange(1000) % 40
    u, g, b, k = _draws_through_handle(handle(ours), p, sizes, 0.7)
    assert np.array_equal(u, ref.random(1000)) and np.array_equal(g, ref.geometric(p))
    assert np.array_equal(b, ref.binomial(sizes, p)) and np.array_equal(k, ref.poisson(0.7, 1000))
    assert ours.bit_generator.state == ref.bit_generator.state
    twin = copy.deepcopy(ours)  # a copied owner: its handle is its own, drawing from the copy
    h = current(handle(ours), twin)
    assert not np.array_equal(h, handle(ours)) and _draws_through_handle(h, p, sizes, 0.7)[0][0] == ref.random()
    assert ours.bit_generator.state != twin.bit_generator.state


def test_book_gives_the_calendars_days():
    """The compiled passes' book of days (a ring of lists, entries reused) answers as the Calendar does."""
    rng = np.random.default_rng(3)
    book, cal = Book(slots=5, capacity=4), Calendar()
    scheduled = np.full(60, -1, dtype=np.int64)
    for today in range(200):
        idx = rng.choice(60, size=rng.integers(0, 12), replace=False)
        days = today + 1 + rng.geometric(0.1, size=len(idx))  # some far beyond the ring's five slots
        scheduled[idx] = days
        ring, ent = book.room(len(idx))
        for i, d in zip(idx, days):
            book_add(ring, ent, i, d)
        cal.add(idx, days)
        assert np.array_equal(book_due(*book.room(0), today, scheduled), cal.due(today, scheduled)), today
    assert book.ring[0] < 200  # freed entries are reused


def test_fields_are_rows_of_the_blocks_handed_to_compiled_code():
    """A household's or trip's field is a view of its row in its dtype's block (what the compiled passes read as
    ``hi[HI.state]``): written in place, kept when the trips grow, refused if assigned anew."""
    hh = NorthHouseholds(5)
    hh.state[2], hh.belief[3], hh.kin[4] = HState.AWAY, 0.5, True
    hi, hf, hb = hh.blocks()
    assert hi[HI.state, 2] == HState.AWAY and hf[HF.belief, 3] == 0.5 and hb[HB.kin, 4]
    assert np.all(hh.trip == -1) and np.all(hh.weight == 1.0)  # each field's fill
    with pytest.raises(AttributeError):
        hh.state = np.zeros(5)
    trips = Trips(capacity=4)
    first = trips.add(3, hh=np.arange(3), persons=2, weight=1.5, married=True, state=TState.AT_LARGE)
    trips.add(10, hh=np.arange(10), persons=1, state=TState.VISIT)  # the blocks grow: the views are taken again
    ti, tf, tb = trips.blocks()
    assert ti.shape[1] >= 13 and np.shares_memory(trips.state, ti) and np.shares_memory(trips.married, tb)
    assert np.array_equal(trips.persons[first], [2, 2, 2]) and np.all(trips.married[first]) and not trips.married[3:].any()
    assert np.all(ti[TI.state, 13:] == TState.ENDED) and np.all(ti[TI.due, 13:] == -1) and np.all(tf[TF.weight, first] == 1.5)
    assert north_people.TRIP.rows[north_people.I8] is TI


def test_in_china_pass_against_the_formula_in_numpy():
    """Those at large are caught at ``catch_rate x search x enforcement x protection``, or go home at the own-return
    hazard (docs/ODD.md 7.16), one uniform each: the compiled pass against the formula in numpy, random trips."""
    n, t = 4000, 3
    p = resolve_parameters(NorthParameters(catch_rate=0.3, return_rate=0.04), Parameters())
    nw = northward("protocol_1964_lenient")  # married women and registered children protected
    police, hh, trips, rec, idx = police_case(n, seed=21)
    police.p = p
    rng = np.random.default_rng(22)
    leaves = len(TREE.leaf_ids)
    trips.married[idx], trips.whole[idx] = rng.random(n) < 0.4, rng.random(n) < 0.3
    trips.children[idx], trips.reason[idx] = rng.integers(0, 3, n), rng.integers(0, 4, n)
    trips.leaf[idx] = rng.integers(0, leaves, n)
    trips.start[idx[:50]] = t  # crossed today: not yet
    search = rng.random((t + 1, leaves)) * 4.0
    married, whole = trips.married[idx], trips.whole[idx]
    registered = married & nw.hukou_for_children & (trips.children[idx] > 0)
    protect = (1.0 - p.married_protection * married) * (1.0 - p.hukou_protection * registered)
    catch = p.catch_rate * search[t, trips.leaf[idx]] * nw.enforcement * protect
    own = p.return_rate * (1.0 + p.return_family_factor * ~whole + p.return_property_factor)
    own = np.where(married, own * p.married_return_factor, own)
    own = np.where(trips.reason[idx] == NReason.DISASTER, 1.0 / p.visit_days, own)
    u = np.full(n, 2.0)
    u[50:] = copy.deepcopy(police.rng).random(n - 50)
    caught = u < -np.expm1(-catch)
    home = ~caught & (u < -np.expm1(-catch) + -np.expm1(-own))
    zone_days = np.zeros((2, t + 1, 1))
    args = (
        zone_days,
        search,
        np.zeros(t + 1),
        t,
        day_constants(p, nw),
        police.constants(nw),
        police.handle(),
        np.empty((0, 3)),
        0,
    )
    ev, k = in_china_pass(*hh.blocks(), *trips.blocks(), n, *args)
    assert 100 < caught.sum() < n - 100 and 100 < home.sum() < n - 100
    assert np.array_equal(trips.caught[idx] == t, caught)
    assert np.array_equal(trips.state[idx] == TState.ENDED, home)
    noted = ev[:k, 0].astype(int)
    assert (noted == MEASURE_INDEX["caught_china"]).sum() == caught.sum()
    assert (noted == MEASURE_INDEX["returned_home_own_north"]).sum() == home.sum()


def test_river_pass_against_the_formula_in_numpy():
    """At the DPRK's bank a crosser is stopped at ``1 - exp(-dprk_stop_base x guards x visibility)`` (night, ice), by
    the blocks of uniforms numpy drew (night, then guards); the others land and their trips begin, in order."""
    n, t = 3000, 2
    rng = np.random.default_rng(31)
    n_zones, n_posts = len(ZONE_TREE.leaf_ids), len(TREE.posts)
    hh = NorthHouseholds(n)
    hh.zone[:], hh.post[:] = rng.integers(0, n_zones, n), rng.integers(0, n_posts, n)
    hh.weight[:], hh.size[:] = np.arange(1, n + 1), 3  # a household known by its weight in the events
    trips = Trips(capacity=n)
    police = ChinaPolice(hh, trips, P, Recorder(dt.date(1964, 1, 1), dt.date(1964, 12, 31), len(TREE.leaf_ids)), rng)
    guards, frozen = rng.random((t + 1, n_zones)) * 3.0, rng.random(n_posts) < 0.5
    nw = northward("protocol_1964", dprk_detain_without_identity=0.0)
    u = copy.deepcopy(rng).random((2, n))
    vis = np.where(u[0] < P.p_night, 1.0, P.day_visibility) * np.where(frozen[hh.post], P.ice_visibility, 1.0)
    stop = u[1] < -np.expm1(-P.dprk_stop_base * guards[t, hh.zone] * vis)
    zone_days = np.stack([np.zeros((t + 1, n_zones)), guards])
    posts = np.stack([frozen.astype(float), np.zeros(n_posts), np.zeros(n_posts)])
    h, ones = np.arange(n), np.ones(n, dtype=np.int64)
    events = np.empty((12 * n, 3))  # room made by the caller (the decision)
    args = (zone_days, posts, t, 1.0, day_constants(P, nw), police.constants(nw), police.handle(), events, 0)
    crossers = (h, ones * 0, ones, ones == 0, ones == 0)
    n_trips, ev, k = _cross(*hh.blocks(), *trips.blocks(), 0, *crossers, *hh.releases.room(n), *args)
    assert 300 < stop.sum() < n - 300
    stopped = ev[:k][ev[:k, 0] == MEASURE_INDEX["stopped_north_dprk"], 2]
    assert np.array_equal(stopped, hh.weight[stop])
    assert n_trips == (~stop).sum() and np.array_equal(trips.hh[:n_trips], h[~stop])
    assert np.all(hh.state[stop] == HState.HOME) and np.all(hh.state[~stop] == HState.AWAY)


# -- Korean nationals in China (Doc 11) ----------------------------------------------------------------
class _Pressure:
    def __init__(self, n_days, discrimination, obstruction):
        shape = (n_days, len(TREE.leaf_ids))
        self.discrimination = np.full(shape, discrimination)
        self.obstruction = np.full(shape, obstruction)


def _nationals(rule: str, discrimination=1.0, obstruction=0.7, weeks=150, seed=5):
    pop = NorthPopulation(korean_nationals={"yanji_city": 20_000}, korean_nationals_abroad_share=0.1)
    rec = Recorder(dt.date(1966, 1, 1), dt.date(1966, 12, 31), len(TREE.leaf_ids))
    kn = KoreanNationals(
        pop, P, 1.0, TREE, rec, np.random.default_rng(seed), _Pressure(7 * weeks + 400, discrimination, obstruction)
    )
    nw = load_rule_set(rule).northward
    for t in range(7 * weeks + 300):
        kn.step(t, nw)
    return kn, rec


def test_korean_nationals_under_the_cultural_revolution_and_doc_11():
    kn, rec = _nationals("protocol_1964")
    assert total(rec, "kn_struggled") > 0 and total(rec, "kn_return_refused") > 0.3 * total(rec, "kn_return_applications")
    assert total(rec, "kn_abroad_emigrated") > 0  # no rule against capitalist destinations before 1970
    calm, rec0 = _nationals("protocol_1964", discrimination=0.0, obstruction=0.0)
    assert total(rec0, "kn_struggled") == 0 and total(rec0, "kn_return_applications") < total(rec, "kn_return_applications")
    kn70, rec70 = _nationals("state_council_1970")
    assert total(rec70, "kn_abroad_applications") > 0 and total(rec70, "kn_abroad_emigrated") == 0  # Doc 11 (8): blocked
    assert total(rec70, "kn_abroad_denied") > 0
    assert total(rec70, "kn_struggled") < total(rec, "kn_struggled")  # Doc 11 (1)-(5): relief
    ok = total(rec70, "kn_returned") / max(total(rec70, "kn_return_applications"), 1)
    assert ok > total(rec, "kn_returned") / total(rec, "kn_return_applications")  # Doc 11 (2), (7): obstruction lifted
    assert not (kn70.suspect & (kn70.state == KState.GONE_HOME)).any()  # Doc 11 (7): suspects refused


def test_korean_nationals_week_against_the_formula_in_numpy():
    """The week (KoreanNationals._week): struggled against at ``1 - exp(-kn_struggle_rate d 7)``, letters
    at ``1 - exp(-kn_letter_rate 7 / 365)``, leaving at ``kn_rate_base + kn_rate_discrimination d (1 + suspect)``, by
    the blocks of uniforms numpy drew, for random pressure."""
    pop = NorthPopulation(korean_nationals={"yanji_city": 40_000, "andong": 20_000}, korean_nationals_abroad_share=0.3)
    rec = Recorder(dt.date(1966, 1, 1), dt.date(1966, 12, 31), len(TREE.leaf_ids))
    p = resolve_parameters(NorthParameters(kn_struggle_rate=0.05, kn_letter_rate=20.0, kn_rate_base=0.02), Parameters())
    pressure = _Pressure(8, 0.0, 0.0)
    pressure.discrimination = np.random.default_rng(9).random(pressure.discrimination.shape) * 2.0
    kn = KoreanNationals(pop, p, 1.0, TREE, rec, np.random.default_rng(10), pressure)
    kn.letter[::3] = True
    letter0, wish = kn.letter.copy(), kn.abroad_wish.copy()
    nw = load_rule_set("protocol_1964").northward
    u = copy.deepcopy(kn.rng).random((3, kn.n))
    d = pressure.discrimination[0, kn.leaf] * (1.0 - nw.kn_discrimination_relief)
    struggled = u[0] < -np.expm1(-p.kn_struggle_rate * d * 7.0)
    letter = letter0 | (u[1] < -np.expm1(-p.kn_letter_rate * 7.0 / 365.0))
    leave = u[2] < -np.expm1(-(p.kn_rate_base + p.kn_rate_discrimination * d * (1.0 + struggled)) * 7.0)
    kn.step(0, nw)
    assert 50 < struggled.sum() < kn.n - 50 and 50 < (letter & ~letter0).sum() and 50 < leave.sum() < kn.n - 50
    assert np.array_equal(kn.suspect, struggled) and np.array_equal(kn.letter, letter)
    assert np.array_equal(kn.state == KState.APPLIED_ABROAD, leave & wish)
    assert np.array_equal(kn.state == KState.APPLIED_RETURN, leave & ~wish & letter)
    assert total(rec, "kn_struggled") == pytest.approx((kn.weight * kn.size)[struggled].sum())


# -- rules ---------------------------------------------------------------------------------------------
def test_every_rule_file_sets_every_northward_lever_and_says_what_has_no_flow():
    for name in available_rule_sets():
        raw = yaml.safe_load((library_dir() / f"{name}.yaml").read_text())
        assert set(raw["northward"]) == set(NorthwardRules.model_fields), name
        assert raw.get("no_flow"), name
    r64, r70 = load_rule_set("protocol_1964").northward, load_rule_set("state_council_1970").northward
    assert r70.return_days < r64.return_days  # Doc 11 (6) "in a timely manner"
    assert r70.return_backlog > 0 == r64.return_backlog  # Doc 11 (6) first sentence
    assert r70.kn_abroad_approval_prob == 0 < r64.kn_abroad_approval_prob  # Doc 11 (8)
    assert r70.kn_refuse_political_suspects and not r64.kn_refuse_political_suspects  # Doc 11 (7)
    assert r70.kn_obstruction_lifted > 0 and r70.kn_discrimination_relief > 0  # Doc 11 (1)-(5), (2)
    assert r64.identity_information and r64.disaster_exempt and not load_rule_set("mfa_1957").northward.identity_information
    lenient, stringent = load_rule_set("protocol_1964_lenient").northward, load_rule_set("protocol_1964_stringent").northward
    assert lenient.famine_as_disaster and lenient.hukou_for_children and not stringent.famine_as_disaster
    assert lenient.repatriate_prob < stringent.repatriate_prob and lenient.enforcement < stringent.enforcement


def test_rules_command_lists_clauses_without_a_flow(capsys):
    assert main(["rules"]) == 0
    out = capsys.readouterr().out
    assert "protocol_1964_lenient" in out and "no flow:" in out and "Art. 3 (4)" in out


# -- the two directions together -----------------------------------------------------------------------
def _symmetric(china: float, dprk: float, seed: int) -> dict:
    """Both sides alike but for food: equal populations and kin shares, equal pulls, no rumour seeds or Lishu."""
    d = small_scenario_dict(start="1960-09-01", end="1961-05-31", seed=seed)
    d["population"].update(lishu=False, kin_share=0.55, kin_share_liaoning=0.55)
    d["population"]["north"]["kin_share"] = 0.55
    persons = 20000 + 2500 + 6000
    zones = d["population"]["north"]["persons"]
    for z in zones:
        zones[z] = int(persons * zones[z] / sum(zones.values()))
    d["world"].update(rations=[{"from": "1960-09-01", "region": "china", "catties": china}], poor_brigades=[], interventions=[])
    d["world"].update(rumour_seeds=[], propensity=[], dprk_pull=[{"from": "1960-09-01", "value": 1.0}])
    d["world"]["north"] = {
        "dprk_rations": [{"from": "1960-09-01", "region": "dprk", "catties": dprk}],
        "china_pull": [{"from": "1960-09-01", "value": 1.0}],
    }
    return d


def _net_north(d: dict) -> float:
    m = BorderModel(validate_scenario(d)).run()
    return total(m.recorder, "crossed_north") - total(m.recorder, "crossed")


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(famine=st.floats(150, 240), fed=st.floats(360, 450), seed=st.integers(0, 2**31 - 1))
def test_reversing_the_food_gradient_reverses_the_net_flow(famine, fed, seed):
    """China hungry and the DPRK fed: net flow south; swap the rations, every other input equal: net flow north."""
    assert _net_north(_symmetric(famine, fed, seed)) < 0
    assert _net_north(_symmetric(fed, famine, seed)) > 0


def test_southward_measures_identical_with_the_northward_machinery_off():
    """The northward machinery draws from its own stream and only reads the southward state."""
    d = small_scenario_dict(end="1961-06-30")
    off = copy.deepcopy(d)
    off["population"]["north"] = {"persons": {}, "korean_nationals": {}}
    on_m, off_m = BorderModel(validate_scenario(d)).run(), BorderModel(validate_scenario(off)).run()
    assert on_m.north.hh.n > 0 and off_m.north.hh.n == 0 and off_m.north.kn.n == 0
    south = [MEASURE_INDEX[m] for m in SOUTH_MEASURES]
    assert np.array_equal(on_m.recorder.data[:, :, south], off_m.recorder.data[:, :, south])
    assert (
        total(on_m.recorder, "crossed_north") > 0
        and off_m.recorder.data[:, :, [MEASURE_INDEX[m] for m in NORTH_MEASURES]].sum() > 0
    )
    t_on, t_off = on_m.recorder.table(on_m.tree, 0), off_m.recorder.table(off_m.tree, 0)
    keep = t_on.measure.isin(SOUTH_MEASURES)
    assert t_on[keep].reset_index(drop=True).equals(t_off[t_off.measure.isin(SOUTH_MEASURES)].reset_index(drop=True))


def test_doc2_women_are_part_of_the_northward_flow():
    m = BorderModel(validate_scenario(small_scenario_dict(end="1961-06-30"))).run()
    rec = m.recorder
    assert total(rec, "marriage_crossings_in") > 0
    assert total(rec, "crossed_north") >= total(rec, "marriage_crossings_in")
    assert total(rec, "returned_to_dprk") >= total(rec, "marriage_repatriated")
    staying = total(rec, "marriage_crossings_in") - total(rec, "marriage_repatriated")
    assert rec.data[-1, :, MEASURE_INDEX["staying_approved_north"]].sum() >= staying


def test_the_1990s_reversal_runs_north_and_the_stringent_reading_keeps_fewer():
    """A short, small version of the check: 1993-1996 at 2% scale, the same seed under both readings."""
    stocks, net = {}, {}
    for name in ("reversal_1990s", "reversal_1990s_stringent"):
        sc = load_scenario(ROOT / "scenarios" / f"{name}.yaml", {"run": {"end": "1996-12-31", "scale": 0.02}})
        m = BorderModel(sc.model_copy(update={"posterior": None}), rng=1995).run()
        stocks[name] = m.recorder.data[-1, :, MEASURE_INDEX["in_china_from_dprk"]].sum()
        net[name] = total(m.recorder, "crossed_north") - total(m.recorder, "crossed")
    assert net["reversal_1990s"] > 0 and net["reversal_1990s_stringent"] > 0
    assert stocks["reversal_1990s_stringent"] < stocks["reversal_1990s"]


@settings(max_examples=40, deadline=None)
@given(rows=st.integers(1, 40), k=st.integers(0, 40), need=st.integers(0, 100))
def test_event_rows_grow_keeping_every_row_noted(rows, k, need):
    """``north_people.room``: the event array itself while it has room for ``need`` more rows past ``k``, else a
    larger one holding the ``k`` rows noted, row for row."""
    k = min(k, rows)
    ev = np.arange(rows * 3, dtype=float).reshape(rows, 3) + 0.5
    out = event_room(ev, k, need)
    assert out.shape[0] >= k + need and out.shape[1] == 3
    assert np.array_equal(out[:k], ev[:k])
    assert (out is ev) == (k + need <= rows)
