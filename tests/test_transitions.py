"""The day's scheduled transitions (one compiled pass, :mod:`bordersim.model.transitions`) against the same formulas
in numpy, to the bit: households in every state with random attributes, all due today."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from bordersim.model import BorderModel
from bordersim.model.border import crossing_outcomes
from bordersim.model.households import Reason, State
from bordersim.model.recorder import MEASURE_INDEX
from bordersim.model.streams import JOURNEY, Kind, exponential, geometric
from bordersim.world.loader import validate_scenario
from bordersim.world.rules import crossing_is_legal

from .conftest import small_scenario_dict

DUE_STATES = [State.INTENDING, State.APPLIED, State.PREPARING, State.TRAVELLING, State.AT_RECEPTION, State.SETTLED]


def _model(seed: int) -> BorderModel:
    """A small model after a day, with 900 households in the due states, random attributes, all due today."""
    d = small_scenario_dict(start="1961-07-10", end="1961-08-30")
    d["parameters"] = {"drown_base": 0.1, "p_illegal": 0.6, "p_sell_property": 0.5}
    d["rule_overrides"] = {
        "dprk": {
            "return_illegal_prob": 0.2,
            "send_back_prob": 0.2,
            "max_wait_days": 9,
            "identity_information": True,
            "return_criminals": True,
        },
        "china": {"approve_nk_nationals_return": True, "legal_approval_prob": 0.5},
    }
    m = BorderModel(validate_scenario(d))
    m.step()
    hh, rng, t = m.households, np.random.default_rng(seed), m.today
    idx = np.sort(rng.choice(hh.n, 900, replace=False))
    hh.start_journey(idx, m.streams)
    hh.state[idx] = rng.choice(DUE_STATES, len(idx))
    hh.due[idx] = t
    hh.cal_due.add(idx, t)
    hh.since[idx] = t - rng.integers(0, 20, len(idx))
    hh.weight[idx] = rng.uniform(1.0, 30.0, len(idx))  # sums that are not exact: numpy's pairwise order matters
    hh.post[idx] = rng.integers(0, len(m.tree.posts), len(idx))
    hh.reason[idx] = rng.integers(0, 3, len(idx))
    hh.belief[:] = rng.random(hh.n)
    for flag, share in (("letter_held", 0.2), ("nk_national", 0.1), ("criminal", 0.1), ("disaster", 0.1),
                        ("screened", 0.4), ("property_sold", 0.3), ("family_left", 0.4), ("crossing_seen", 0.4)):  # fmt: skip
        getattr(hh, flag)[idx] = rng.random(len(idx)) < share
    hh.han_single[idx] |= rng.random(len(idx)) < 0.1
    m.border.recent[:] = rng.uniform(0.0, 50.0, len(m.border.recent))
    m.border._today[:] = rng.uniform(0.0, 50.0, len(m.border.recent))
    m.border._day = t - 3
    at_reception = idx[hh.state[idx] == State.AT_RECEPTION]
    m.settlement.capacity_left = 0.5 * float(hh.weight[at_reception].sum())  # a queue: some get a place, some wait
    return m


def _snapshot(m: BorderModel) -> dict:
    hh, b, s = m.households, m.border, m.settlement
    arrays = {k: v.copy() for k, v in vars(hh).items() if isinstance(v, np.ndarray)}
    posts = {k: getattr(b, k).copy() for k in ("recent", "_today", "group_share")}
    scalars = {k: getattr(s, k) for k in ("capacity_left", "yuan_paid", "people_settled", "people_sent_back")}
    return {
        "arrays": arrays,
        "posts": posts,
        "scalars": scalars,
        "day": b._day,
        "cal": copy.deepcopy(hh.cal_due),
    }


def _restore(m: BorderModel, snap: dict) -> None:
    hh = m.households
    for k, v in snap["arrays"].items():
        setattr(hh, k, v.copy())
    for k, v in snap["posts"].items():
        setattr(m.border, k, v.copy())
    for k, v in snap["scalars"].items():
        setattr(m.settlement, k, v)
    m.border._day = snap["day"]
    hh.cal_due = copy.deepcopy(snap["cal"])
    hh.touched.clear()
    m.border.corpses.pending.clear()


def _outcome(m: BorderModel, events: list) -> dict:
    hh = m.households
    by_cell: dict = {}
    for measures, leaves, values in events:  # each (measure, home region)'s values in the order noted (adding 0
        measures = np.broadcast_to(measures, len(leaves))  # changes no sum: zeros are left out)
        for k, leaf, v in zip(measures.tolist(), np.asarray(leaves).tolist(), np.broadcast_to(values, len(leaves)).tolist()):
            if v != 0.0:
                by_cell.setdefault((k, leaf), []).append(v)
    s = m.settlement
    return {
        "arrays": {k: v.copy() for k, v in vars(hh).items() if isinstance(v, np.ndarray)},
        "events": by_cell,
        "calendar": [hh.cal_due.due(d, hh.due).tolist() for d in range(m.today, m.today + 1000)],  # who is due when
        "touched": np.unique(np.concatenate(hh.touched)).tolist() if hh.touched else [],
        "posts": [m.border.recent.tolist(), m.border._today.tolist(), m.border.group_share.tolist(), m.border._day],
        "totals": [s.capacity_left, s.yuan_paid, s.people_settled, s.people_sent_back],
        "corpses": {d: [[a.tolist() for a in e] for e in v] for d, v in m.border.corpses.pending.items()},
    }


def _compiled(m: BorderModel) -> dict:
    events = []
    m.recorder.add_events = lambda measures, leaves, values: events.append((measures, leaves, values))
    m.transitions.day()
    return _outcome(m, events)


# -- the same day in numpy: the formulas as the numpy code computed them, call by call ---------------------------
def _numpy(m: BorderModel) -> dict:
    events = []
    hh, t, rules, p = m.households, m.today, m.rules, m.params
    china = rules.china

    def add(name, idx, values):
        if len(idx):
            events.append((MEASURE_INDEX[name], hh.leaf[idx], values))

    def home(idx, state):
        hh.set_state(idx, state, t)
        hh.reset_clocks(idx)

    def prepare(idx):
        add("preparing_households", idx, hh.weight[idx])
        hh.set_state(idx, State.PREPARING, t, t + geometric(hh.ju[idx, JOURNEY.PREPARATION], 1.0 / p.prep_days))

    due = hh.cal_due.due(t, hh.due)
    st = hh.state[due]
    idx = due[st == State.INTENDING]  # the route
    legal = hh.letter_held[idx] | (hh.nk_national[idx] & china.approve_nk_nationals_return)
    a = idx[legal]
    add("legal_applications", a, hh.weight[a])
    hh.set_state(a, State.APPLIED, t, t + geometric(hh.ju[a, JOURNEY.PROCESSING], 1.0 / china.legal_processing_days))
    rest = idx[~legal]
    illegal = (hh.ju[rest, JOURNEY.ROUTE] < p.p_illegal) & (hh.reason[rest] != Reason.PROPER)
    prepare(rest[illegal])
    add("lapsed_households", rest[~illegal], hh.weight[rest[~illegal]])
    home(rest[~illegal], State.HOME)
    idx = due[st == State.APPLIED]  # applications decided
    p_ok = np.where(hh.nk_national[idx] & china.approve_nk_nationals_return, 1.0, china.legal_approval_prob)
    ok = hh.ju[idx, JOURNEY.APPROVAL] < np.where(hh.criminal[idx], 0.0, p_ok)
    yes, no = idx[ok], idx[~ok]
    add("legal_approved", yes, hh.weight[yes])
    add("legal_refused", no, hh.weight[no])
    add("legal_emigrated", yes, hh.persons(yes))
    hh.set_state(yes, State.EMIGRATED, t)
    hh.letter_held[no] = False
    again = hh.ju[no, JOURNEY.AFTER_REFUSAL] < p.p_illegal_after_refusal
    prepare(no[again])
    home(no[~again], State.HOME)
    idx = due[st == State.PREPARING]  # setting off
    sell = ~hh.property_sold[idx] & (hh.ju[idx, JOURNEY.SELL] < p.p_sell_property)
    hh.property_sold[idx[sell]] = True
    add("property_sold_households", idx[sell], hh.weight[idx[sell]])
    hh.post[idx] = (hh.ju[idx, JOURNEY.POST][:, None] > m.decision.post_cum[hh.leaf[idx]]).sum(axis=1)
    hh.set_state(idx, State.TRAVELLING, t, t + m.tree.travel_days[hh.leaf[idx]])
    _numpy_crossings(m, due[st == State.TRAVELLING], add, home)
    returned = _numpy_reception(m, due[st == State.AT_RECEPTION], add, home)
    idx = due[st == State.SETTLED]  # going home on their own
    add("returned_own", idx, hh.persons(idx))
    seen = idx[hh.crossing_seen[idx]]
    add("returned_own_of_discovered", seen, hh.persons(seen))
    home(idx, State.RETURNED)
    for group in [*returned, idx]:  # the returnees' stories, group by group
        c = m.rumours.contacts(group)
        uniq, count = np.unique(c, return_counts=True)
        hh.belief[uniq] *= (1 - p.returnee_damp) ** count
    return _outcome(m, events)


def _numpy_crossings(m, idx, add, home):
    hh, t, p, b = m.households, m.today, m.params, m.border
    if not len(idx):
        return
    k = t - b._day
    b.recent = (0.85 * b.recent + 0.15 * b._today) * 0.85 ** (k - 1)
    b._today[:] = 0.0
    b._day = t
    b.group_share = b.recent / (b.recent + b.group_threshold)
    b.effort, b.frozen = m.ctx.effort_post, m.ctx.frozen_post
    post = hh.post[idx].astype(np.int64)
    persons = hh.persons(idx)
    group, _, detected, stopped, persuaded, drowned = crossing_outcomes(
        p, idx, hh.ju, post, b.effort, b.frozen, b.group_share, hh.size, hh.away, hh.stayed, b.route_risk, m.date.month,
        m.rules.china.persuasion_prob,
    )  # fmt: skip
    hh.attempts[idx] += 1
    hh.crossing_seen[idx] = detected
    for name, sel in (("attempted", idx == idx), ("attempted_in_group", group), ("detected", detected),
                      ("stopped", stopped), ("crossed_detected", detected & ~stopped)):  # fmt: skip
        add(name, idx[sel], persons[sel])
    add("attempted_households", idx, hh.weight[idx])
    b._today += np.bincount(post, weights=persons, minlength=len(b.posts))
    add("persuaded_back", idx[stopped & persuaded], persons[stopped & persuaded])
    home(idx[stopped & persuaded], State.PERSUADED_BACK)
    home(idx[stopped & ~persuaded], State.STOPPED)
    go, drowned = idx[~stopped], drowned[~stopped]
    hh.size[go] -= drowned.astype(np.int16)
    hh.drowned[go] += drowned.astype(np.int16)
    add("drowned", go, hh.weight[go] * drowned)
    b.corpses.drowned(hh.leaf[go], drowned, hh.weight[go], hh.nk_national[go], t, m.rules, hh.ju[go])
    add("crossed", go, hh.weight[go] * hh.size[go])
    hh.set_state(go[hh.size[go] == 0], State.DROWNED, t)
    across = go[hh.size[go] > 0]
    add("arrived_reception", across, hh.persons(across))
    hh.screened[across] = False
    wait = geometric(hh.ju[across, JOURNEY.SCREENING], 1.0 / m.rules.dprk.screening_days)
    hh.set_state(across, State.AT_RECEPTION, t, t + wait)


def _numpy_reception(m, idx, add, home) -> list:
    hh, t, p, s, dprk = m.households, m.today, m.params, m.settlement, m.rules.dprk
    new, before = idx[~hh.screened[idx]], idx[hh.screened[idx]]
    hh.screened[new] = True
    legal = crossing_is_legal(m.rules, documents=False, agreed_point=False, hour=12.0, month=m.date.month, disaster=True)
    exempt = hh.disaster[new] & legal
    han = ~exempt & hh.han_single[new] & dprk.return_single_han_men
    crim = ~exempt & ~han & hh.criminal[new] & dprk.return_criminals
    repat = ~exempt & ~han & ~crim & (hh.ju[new, JOURNEY.REPATRIATE] < dprk.return_illegal_prob)
    back = ~exempt & ~han & ~crim & ~repat & (hh.ju[new, JOURNEY.SEND_BACK] < dprk.send_back_prob)
    hh.disaster[new] = False
    add("disaster_assisted_home", new[exempt], hh.persons(new[exempt]))
    home(new[exempt], State.HOME)

    def send_back(g, sub):
        add("sent_back", g, hh.persons(g))
        seen = g[hh.crossing_seen[g]]
        add("sent_back_of_discovered", seen, hh.persons(seen))
        for name in [sub] * bool(sub) + ["returned_with_identity"] * dprk.identity_information:
            add(name, g, hh.persons(g))
        s.people_sent_back += float(hh.persons(g).sum()) if len(g) else 0.0
        home(g, State.SENT_BACK)
        return g

    returned = [send_back(new[han], "sent_back_single_han"), send_back(new[crim], "repatriated_criminals"),
                send_back(new[repat], "repatriated"), send_back(new[back], None)]  # fmt: skip
    cand = np.concatenate([before, new[~(exempt | han | crim | repat | back)]])
    w = hh.weight[cand]
    order = np.argsort(m.streams.uniform(Kind.PLACE, hh.key[cand], m.streams.day0 + t), kind="stable")
    fits = np.cumsum(w[order]) <= s.capacity_left + 1e-9
    chosen = np.zeros(len(cand), dtype=bool)
    chosen[order[fits]] = True
    assert fits.any() and not fits.all()  # the queue was used (everyone fitting is the simpler case)
    s.capacity_left -= float(w[order][fits].sum())
    settle, waiting = cand[chosen], cand[~chosen]
    add("settled", settle, hh.persons(settle))
    add("settled_households", settle, hh.weight[settle])
    add("allowance_yuan", settle, hh.weight[settle] * hh.labourers[settle] * dprk.allowance_yuan_per_labourer)
    add("grain_catties", settle, hh.weight[settle] * hh.size[settle] * dprk.grain_catties_per_person)
    s.yuan_paid += float((hh.weight[settle] * hh.labourers[settle] * dprk.allowance_yuan_per_labourer).sum())
    s.people_settled += float(hh.persons(settle).sum())
    family = hh.family_left[settle] & ~m.rules.china.families_may_follow
    rate = p.return_rate * (1.0 + p.return_family_factor * family + p.return_property_factor * ~hh.property_sold[settle])
    stay = exponential(hh.ju[settle, JOURNEY.STAY]) / np.maximum(rate, 1e-12)
    hh.set_state(settle, State.SETTLED, t, np.where(rate > 0, t + np.minimum(stay, 1e6).astype(np.int64) + 1, -1))
    too_long = t - hh.since[waiting] >= dprk.max_wait_days
    returned.append(send_back(waiting[too_long], None))
    hh.schedule(waiting[~too_long], t + 7)
    return returned


@pytest.mark.parametrize("seed", [1, 2])
def test_the_compiled_transitions_are_the_formulas_in_numpy(seed):
    m = _model(seed)
    snap = _snapshot(m)
    got = _compiled(m)
    _restore(m, snap)
    want = _numpy(m)
    for k, a in want["arrays"].items():
        assert np.array_equal(got["arrays"][k], a), k
    assert got["events"].keys() == want["events"].keys()
    for cell, values in want["events"].items():
        assert got["events"][cell] == values, cell  # the same values, in the same order (sums to the bit)
    for k in ("calendar", "touched", "posts", "totals", "corpses"):
        assert got[k] == want[k], k
    states = set(got["arrays"]["state"][snap["arrays"]["due"] == m.today].tolist())
    assert {State.APPLIED, State.EMIGRATED, State.HOME, State.PREPARING, State.TRAVELLING, State.AT_RECEPTION,
            State.SETTLED, State.SENT_BACK, State.RETURNED, State.STOPPED, State.PERSUADED_BACK} <= states  # fmt: skip
    assert want["corpses"] and got["arrays"]["belief"].tolist() != snap["arrays"]["belief"].tolist()


def test_the_compiled_binomial_is_the_inversion_of_the_cdf():
    """``streams.binomial`` (its loop compiled) is the smallest k with u < P(X <= k), as scipy computes it (away from
    the cdf's steps by more than rounding), at the corpses' sizes; p = 0 and p = 1 as the formulas say."""
    from scipy.stats import binom

    from bordersim.model.streams import binomial

    rng = np.random.default_rng(3)
    u, n, p = rng.random(4000), rng.integers(0, 300, 4000), 0.37
    got = binomial(u, n, p)
    near = np.abs(binom.cdf(got, n, p) - u) < 1e-9
    assert np.array_equal(got[~near], binom.ppf(u, n, p)[~near].astype(np.int64))
    assert (binomial(u, n, 0.0) == 0).all() and np.array_equal(binomial(u, n, 1.0), n)


def test_the_compiled_sum_and_stable_order_are_numpys():
    """``bookkeeping.np_sum`` is ``numpy.sum`` to the bit (its pairwise tree) and ``bookkeeping.stable_order`` is
    ``numpy.argsort(kind="stable")`` (ties in their order), at the sizes of a day's queue and beyond."""
    from bordersim.model.bookkeeping import np_sum, stable_order

    rng = np.random.default_rng(5)
    for n in (0, 1, 7, 8, 9, 127, 128, 129, 300, 1000, 4099):
        a = rng.uniform(0.0, 30.0, n)
        assert np_sum(a, n) == np.sum(a), n
        ties = np.round(a / 10.0)  # many equal values
        assert np.array_equal(stable_order(ties), np.argsort(ties, kind="stable")), n
        assert np.array_equal(stable_order(a), np.argsort(a, kind="stable")), n
