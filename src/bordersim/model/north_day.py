"""The northward direction's day in compiled passes (docs/ODD.md 7.16; the mechanisms are described in
:mod:`.north`), called in turn by ``Northward._day``: the households whose decision clock fires decide and cross
(the DPRK's bank, the river, the Chinese bank: :func:`decide_pass`), those at large in China are caught, go home
or marry (:func:`in_china_pass`), permits expire (:func:`visits_end_pass`), then China's police
(:func:`~.china_police.police_day_pass`) and the Korean nationals' applications (:mod:`.korean_nationals`); and
the week's firing days (:func:`schedule_pass`).

Each step draws from the northward generator (:mod:`.rng_handle`) exactly the numbers the numpy code it replaced
drew, in its order (a block of draws per step, element by element in the households' or trips' order), computes
its probabilities with numpy's operations in numpy's order, and notes the recorder's events of each measure in
the order of that code's ``Recorder.add`` calls, so a run gives the same bytes. The Korean nationals' week stays
numpy (:mod:`.korean_nationals`: a few calls a day, compiled it saved nothing at the calibration size for some six
seconds of compile time).

The households' and trips' fields are handed as their blocks (:mod:`.blocks`: ``hi, hf, hb``, ``ti, tf, tb``,
rows by :data:`~.north_people.HI` etc.), never as tuples of arrays: numba's compile time grows with the arrays
handed down the calls.
"""

from __future__ import annotations

import numpy as np

from .china_police import catch_pass, stopped_pass
from .compiled import compiled
from .north_people import (
    AT_LARGE,
    DISASTER,
    EMPTY,
    FOOD,
    HF,
    HI,
    HOME,
    KIN,
    TB,
    TF,
    TI,
    VISIT,
    WORK,
    book_add,
    book_count,
    book_due,
    detach_trips,
    emit,
    end_trips,
    new_trip,
    room,
)
from .recorder import MEASURE_INDEX
from .rng_handle import generator

_NEVER = np.iinfo(np.int64).max // 2

#: The parameters and levers the day's pass reads, in the order of the array built by :func:`day_constants`
#: (indexed by the constants below): the run's parameters (``parameters.north``), then the day's rules.
DAY_VALUES = ("p_illegal", "household_party_share", "female_share", "p_night", "day_visibility", "ice_visibility",
              "dprk_stop_base", "ice_drown_factor", "drown_base", "night_drown_factor", "detection_base", "stop_rate",
              "married_protection", "hukou_protection", "catch_rate", "return_rate", "return_family_factor",
              "return_property_factor", "married_return_factor", "visit_days", "contact_days", "marriage_rate",
              "birth_rate", "overstay_prob")  # fmt: skip
DAY_RULES = ("dprk_passes", "border_watch", "enforcement", "hukou_for_children")
(P_ILLEGAL, PARTY_SHARE, FEMALE_SHARE, P_NIGHT, DAY_VISIBILITY, ICE_VISIBILITY, DPRK_STOP_BASE, ICE_DROWN, DROWN_BASE,
 NIGHT_DROWN, DETECTION_BASE, STOP_RATE, MARRIED_PROTECTION, HUKOU_PROTECTION, CATCH_RATE, RETURN_RATE, FAMILY_FACTOR,
 PROPERTY_FACTOR, MARRIED_RETURN, VISIT_DAYS, CONTACT_DAYS, MARRIAGE_RATE, BIRTH_RATE, OVERSTAY, DPRK_PASSES,
 BORDER_WATCH, ENFORCEMENT, HUKOU) = range(len(DAY_VALUES) + len(DAY_RULES))  # fmt: skip
#: The measures the pass notes (their recorder indices: constants to the compiled code).
(M_VISITS, M_ATTEMPTED, M_ATTEMPTED_FOOD, M_ATTEMPTED_WORK, M_DROWNED, M_CROSSED, M_CROSSED_REPEAT, M_HOME_OWN, M_MARRIED,
 M_BORN, M_HUKOU, M_OVERSTAYED) = (
    MEASURE_INDEX[m]
    for m in ("legal_visits_north", "attempted_north", "attempted_north_food", "attempted_north_work", "drowned_north",
              "crossed_north", "crossed_north_repeat", "returned_home_own_north", "married_in_china",
              "children_born_in_china", "children_hukou", "overstayed_north")
)  # fmt: skip
#: The rows of the day's ``posts`` array (posts x 3): the ice (1.0 frozen), the Chinese guards' effort, the route risk.
P_FROZEN, P_EFFORT, P_RISK = 0, 1, 2
#: The rows of ``zone_days`` (2 x days x zones): felt hunger and the DPRK's guards.
Z_HUNGER, Z_GUARDS = 0, 1


def day_constants(p, rules) -> np.ndarray:
    """The day's pass's constants: the :data:`DAY_VALUES` of ``p`` (``parameters.north`` resolved) and the
    :data:`DAY_RULES` of ``rules`` (the northward rules; flags as 0/1)."""
    return np.array([float(getattr(p, name)) for name in DAY_VALUES] + [float(getattr(rules, name)) for name in DAY_RULES])


@compiled
def schedule_pass(live, hi, hf, fring, fent, t, horizon, handle):
    """The day each household's clock next fires under the hazards just computed (``Northward._schedule_firing``):
    every clock reset, then for households ``live`` in their order the first firing, geometric with the daily
    probability ``max(1 - exp(-hazard), 1e-15)`` (today's trial the first), entered in the firing book
    (``fring, fent``) if it falls before ``horizon`` (the next recomputation)."""
    rng = generator(handle)
    fire_day, hazard = hi[HI.fire_day], hf[HF.hazard]
    fire_day.fill(_NEVER)
    for i in live:
        fire_day[i] = t + rng.geometric(max(-np.expm1(-hazard[i]), 1e-15)) - 1
        if fire_day[i] < horizon:
            book_add(fring, fent, i, fire_day[i])


@compiled
def decide_pass(
    hi, hf, hb, ti, tf, tb, n, fring, fent, rring, rent, zone_days, posts, t, horizon, flood, visit_days, c, cp, handle, ev
):
    """The households whose clock fires today decide and cross (:func:`_due_to_fire`, :func:`_decide`); returns the
    trips' new count, the event array and its rows used.

    ``fring, fent``: the firing book, ``rring, rent``: the releases' (:class:`~.north_people.Book`); ``zone_days``:
    felt hunger and the DPRK's guards (2 x days x zones), ``posts``: today's ice, the Chinese guards' effort and the
    route risk (3 x posts); ``t`` today, ``horizon`` the firing book's, ``flood`` the drowning factor of the month,
    ``visit_days`` the length of a kin visit; ``c``, ``cp``: the constants of the day (:func:`day_constants`) and
    of the police (:func:`~.china_police.police_constants`); ``handle``: the northward generator's
    (:mod:`.rng_handle`). If the trips have no room for the households that may decide today, returns ``-k`` having
    done nothing: room for ``k`` more trips is to be made before calling again."""
    need = book_count(fring, fent, t)  # at most this many households decide today
    if n + need > ti.shape[1]:
        return -need, ev, 0
    fire = _due_to_fire(hi, hf, fring, fent, t, horizon, handle)
    if len(fire) == 0:
        return n, ev, 0
    return _decide(
        hi, hf, hb, ti, tf, tb, n, fire, rring, rent, zone_days, posts, t, flood, visit_days, c, cp, handle, ev, np.int64(0)
    )


@compiled(inline="always")
def _due_to_fire(hi, hf, fring, fent, t, horizon, handle):
    """The households at home whose clock fires today (``Northward._due_to_fire``). The clocks of the others that
    fire today (away, detained) are lost: a household decides only at home, so the next firing of every household
    due (not empty) is drawn, in their order (the daily chances are independent, so the first firing on a day at
    home comes the same way), and entered if it falls before ``horizon``."""
    rng = generator(handle)
    state, fire_day, hazard = hi[HI.state], hi[HI.fire_day], hf[HF.hazard]
    due = book_due(fring, fent, t, fire_day)
    due = due[state[due] != EMPTY]  # nobody left to decide
    for i in due:
        fire_day[i] = t + rng.geometric(max(-np.expm1(-hazard[i]), 1e-15))
        if fire_day[i] < horizon:
            book_add(fring, fent, i, fire_day[i])
    return due[state[due] == HOME]


@compiled(inline="always")
def _decide(hi, hf, hb, ti, tf, tb, n, fire, rring, rent, zone_days, posts, t, flood, visit_days, c, cp, handle, ev, k):
    """The decision of the households ``fire`` (docs/ODD.md 7.16): the reason drawn in proportion to the channels
    (``(u > cumsum / sum)`` counted, as numpy's code); a kin visit gets a permit with ``dprk_passes`` (Doc 9; Doc 10
    Art. 3 (3)) or lapses; a food or work intention becomes an illegal crossing with ``p_illegal``, by the whole
    household (food, two or more members) with ``household_party_share``, else one member (a woman with
    ``female_share``). numpy's order of draws: a uniform per household for the reason, one per kin visit for the
    permit, one per household for the crossing, one per crosser for the party, one per crosser for a woman."""
    rng = generator(handle)
    size = hi[HI.size]
    nf = len(fire)
    ev = room(ev, k, 12 * nf)
    reason = np.empty(nf, dtype=np.int64)
    for a in range(nf):
        i = fire[a]
        c0, c1, c2 = hf[HF.ch_food, i], hf[HF.ch_work, i], hf[HF.ch_kin, i]
        s = c0 + c1 + c2
        u = rng.random()
        reason[a] = min(max((u > c0 / s) + (u > (c0 + c1) / s) + (u > (c0 + c1 + c2) / s), 0), 2)
    for a in range(nf):
        if reason[a] == KIN and rng.random() < c[DPRK_PASSES]:  # Doc 9 (2); Doc 10 Art. 3 (3): "valid for one-month"
            i = fire[a]
            ti[TI.due, n] = t + visit_days
            n = new_trip(hi, hf, hb, ti, tf, tb, n, i, KIN, 1, False, False, t, VISIT)
            k = emit(ev, k, M_VISITS, hi[HI.leaf, i], hf[HF.weight, i])
    go = np.zeros(nf, dtype=np.bool_)
    for a in range(nf):
        u = rng.random()
        go[a] = reason[a] != KIN and u < c[P_ILLEGAL]
    h, r = fire[go], reason[go]
    whole = np.zeros(len(h), dtype=np.bool_)
    persons = np.ones(len(h), dtype=np.int64)
    female = np.zeros(len(h), dtype=np.bool_)
    for a in range(len(h)):
        u = rng.random()
        whole[a] = r[a] == FOOD and size[h[a]] >= 2 and u < c[PARTY_SHARE]
        if whole[a]:
            persons[a] = size[h[a]]
    for a in range(len(h)):
        u = rng.random()
        female[a] = not whole[a] and u < c[FEMALE_SHARE]
    if len(h) == 0:
        return n, ev, k
    return _cross(
        hi, hf, hb, ti, tf, tb, n, h, r, persons, whole, female, rring, rent, zone_days, posts, t, flood, c, cp, handle, ev, k
    )


@compiled
def _cross(
    hi, hf, hb, ti, tf, tb, n, h, reason, persons, whole, female, rring, rent, zone_days, posts, t, flood, c, cp, handle, ev, k
):
    """Illegal crossings into China today: the DPRK's bank, the river, the Chinese bank (``Northward._cross``). The
    DPRK's guards stop some (dated effort, by day or night, on ice or not) and detain some of them
    (:func:`~.china_police.stopped_pass`); the river drowns some (the southward formula: route risk, night, ice,
    July-August floods); the living land (:func:`_land`). numpy's order of draws: a uniform per crosser for the
    night, one for the DPRK's guards, the stopped's draws, then a binomial per crosser not stopped for the drowned.
    Room for the events is made by the caller."""
    rng = generator(handle)
    leaf, weight, size, state, zone = hi[HI.leaf], hf[HF.weight], hi[HI.size], hi[HI.state], hi[HI.zone]
    frozen, route_risk = posts[P_FROZEN], posts[P_RISK]
    nh = len(h)
    for a in range(nh):
        k = emit(ev, k, M_ATTEMPTED, leaf[h[a]], weight[h[a]] * persons[a])
    for a in range(nh):
        if reason[a] == FOOD:
            k = emit(ev, k, M_ATTEMPTED_FOOD, leaf[h[a]], weight[h[a]] * persons[a])
    for a in range(nh):
        if reason[a] == WORK:
            k = emit(ev, k, M_ATTEMPTED_WORK, leaf[h[a]], weight[h[a]] * persons[a])
    post = hi[HI.post][h]
    night = np.zeros(nh, dtype=np.bool_)
    vis = np.empty(nh)
    for a in range(nh):
        night[a] = rng.random() < c[P_NIGHT]
        vis[a] = (1.0 if night[a] else c[DAY_VISIBILITY]) * (c[ICE_VISIBILITY] if frozen[post[a]] != 0 else 1.0)
    stop = np.zeros(nh, dtype=np.bool_)
    for a in range(nh):
        stop[a] = rng.random() < -np.expm1(-c[DPRK_STOP_BASE] * zone_days[Z_GUARDS, t, zone[h[a]]] * vis[a])
    ev, k = stopped_pass(hi, hf, hb, rring, rent, h[stop], persons[stop], t, cp, handle, ev, k)
    go = np.flatnonzero(~stop)
    h, reason, persons, whole, female = h[go], reason[go], persons[go], whole[go], female[go]
    night, vis, post = night[go], vis[go], post[go]
    for a in range(len(h)):
        season = c[ICE_DROWN] if frozen[post[a]] != 0 else flood
        p_drown = min(max(c[DROWN_BASE] * route_risk[post[a]] * (c[NIGHT_DROWN] if night[a] else 1.0) * season, 0.0), 1.0)
        drowned = rng.binomial(persons[a], p_drown)
        if drowned:
            k = emit(ev, k, M_DROWNED, leaf[h[a]], weight[h[a]] * drowned)
        size[h[a]] -= drowned
        persons[a] -= drowned
    for a in range(len(h)):
        if size[h[a]] == 0:
            state[h[a]] = EMPTY
        if persons[a] <= 0:
            hi[HI.crossings, h[a]] += 1
    ok = np.flatnonzero(persons > 0)
    if len(ok) == 0:
        return n, ev, k
    h, reason, persons, whole, female, vis, post = h[ok], reason[ok], persons[ok], whole[ok], female[ok], vis[ok], post[ok]
    return _land(
        hi, hf, hb, ti, tf, tb, n, h, reason, persons, whole, female, vis, post, zone_days, posts, t, c, cp, handle, ev, k
    )


@compiled(inline="always")
def _land(hi, hf, hb, ti, tf, tb, n, h, reason, persons, whole, female, vis, post, zone_days, posts, t, c, cp, handle, ev, k):
    """The living reach the Chinese bank: their trips begin (at large), and the Chinese guards (the southward effort
    at the post, times ``border_watch``) discover some as they land and catch some of those
    (:func:`~.china_police.catch_pass`). numpy's order of draws: a uniform per trip for the discovery, then one per
    trip for the catch, then the catch's. Room for the events is made by the caller."""
    rng = generator(handle)
    effort = posts[P_EFFORT]
    first = n
    for a in range(len(h)):
        n = new_trip(hi, hf, hb, ti, tf, tb, n, h[a], reason[a], persons[a], whole[a], female[a], t, AT_LARGE)
    for j in range(first, n):
        k = emit(ev, k, M_CROSSED, ti[TI.leaf, j], tf[TF.weight, j] * ti[TI.persons, j])
    for j in range(first, n):
        if tb[TB.repeat, j]:
            k = emit(ev, k, M_CROSSED_REPEAT, ti[TI.leaf, j], tf[TF.weight, j] * ti[TI.persons, j])
    det = np.zeros(len(h), dtype=np.bool_)
    for a in range(len(h)):
        e = effort[post[a]] * c[BORDER_WATCH]
        det[a] = rng.random() < -np.expm1(-c[DETECTION_BASE] * e * vis[a] * (persons[a] / 5.0) ** 0.25)
    caught = np.zeros(len(h), dtype=np.bool_)
    for a in range(len(h)):
        u = rng.random()
        caught[a] = det[a] and u < -np.expm1(-c[STOP_RATE] * (effort[post[a]] * c[BORDER_WATCH]))
    idx = np.arange(first, n)[caught]
    ev, k = catch_pass(ti, tf, tb, idx, t, _home_hunger(hi, ti, idx, zone_days, t), np.bool_(True), cp, handle, ev, k)
    return n, ev, k


@compiled(inline="always")
def _home_hunger(hi, ti, idx, zone_days, t):
    """Felt hunger today in the home zone of each of trips ``idx``."""
    out = np.empty(len(idx))
    for a in range(len(idx)):
        out[a] = zone_days[Z_HUNGER, t, hi[HI.zone, ti[TI.hh, idx[a]]]]
    return out


@compiled
def in_china_pass(hi, hf, hb, ti, tf, tb, n, zone_days, enforcement, sk, t, c, cp, handle, ev, k):
    """Those at large since before today (``Northward._in_china``): caught inland by public security (``catch_rate`` x
    the dated search x the rule's ``enforcement``; married women protected, more so when their children have
    hukou), home on their own (the southward settlers' own-return hazard, Doc 6: family and property at home pull;
    a married woman rarely; a disaster's crossers when the flood recedes), or on to :func:`_marry_and_meet`. numpy's
    order of draws: one uniform per trip (caught, home, or neither), then the catch's, then the marriages'."""
    rng = generator(handle)
    state, start = ti[TI.state], ti[TI.start]
    n_at = 0
    for j in range(n):
        n_at += state[j] == AT_LARGE and start[j] < t
    if n_at == 0:
        return ev, k
    a_idx = np.empty(n_at, dtype=np.int64)
    fate = np.zeros(n_at, dtype=np.int8)  # 0 neither, 1 caught, 2 home
    a = 0
    for j in range(n):
        if state[j] == AT_LARGE and start[j] < t:
            a_idx[a] = j
            a += 1
    for a in range(n_at):
        j = a_idx[a]
        married = tb[TB.married, j]
        registered = married and c[HUKOU] != 0 and ti[TI.children, j] > 0
        protect = (1.0 - c[MARRIED_PROTECTION] * (1.0 if married else 0.0)) * (
            1.0 - c[HUKOU_PROTECTION] * (1.0 if registered else 0.0)
        )
        catch = c[CATCH_RATE] * enforcement[t, ti[TI.leaf, j]] * c[ENFORCEMENT] * protect
        family_home = 0.0 if tb[TB.whole, j] else 1.0
        own = c[RETURN_RATE] * (1.0 + c[FAMILY_FACTOR] * family_home + c[PROPERTY_FACTOR])
        if married:
            own = own * c[MARRIED_RETURN]
        if ti[TI.reason, j] == DISASTER:  # the flood recedes
            own = 1.0 / c[VISIT_DAYS]
        u = rng.random()
        if u < -np.expm1(-catch):
            fate[a] = 1
        elif u < -np.expm1(-catch) + -np.expm1(-own):
            fate[a] = 2
    caught = a_idx[fate == 1]
    ev, k = catch_pass(ti, tf, tb, caught, t, _home_hunger(hi, ti, caught, zone_days, t), np.bool_(False), cp, handle, ev, k)
    back = a_idx[fate == 2]
    ev = room(ev, k, 4 * n_at)
    for j in back:
        k = emit(ev, k, M_HOME_OWN, ti[TI.leaf, j], tf[TF.weight, j] * ti[TI.persons, j])
    if len(back):
        end_trips(hi, hf, hb, ti, tb, back, t, c[CONTACT_DAYS])
    rest = a_idx[fate == 0]
    if len(rest) == 0:
        return ev, k
    return _marry_and_meet(hi, ti, tf, tb, rest, sk, t, c, handle, ev, k)


@compiled(inline="always")
def _marry_and_meet(hi, ti, tf, tb, idx, sk, t, c, handle, ev, k):
    """Trips ``idx`` still at large: a single woman marries (then she leaves her household, :func:`detach_trips`),
    the married have children (registered under ``hukou_for_children``), anyone may meet South Korean bodies (a
    dated rate). numpy's order of draws: a uniform per single woman, a Poisson per married woman (the newly wed
    included), then, on days with contacts, a uniform per trip. Room for the events is made by the caller."""
    rng = generator(handle)
    married, leaf, weight = tb[TB.married], ti[TI.leaf], tf[TF.weight]
    wed = np.zeros(len(idx), dtype=np.bool_)
    for a in range(len(idx)):
        j = idx[a]
        if tb[TB.female, j] and not married[j]:
            wed[a] = rng.random() < -np.expm1(-c[MARRIAGE_RATE])
    for j in idx[wed]:
        married[j] = True
        k = emit(ev, k, M_MARRIED, leaf[j], weight[j] * ti[TI.persons, j])
    if wed.any():
        detach_trips(hi, ti, tb, idx[wed])  # she forms a household in China
    for j in idx:
        if married[j]:
            born = rng.poisson(c[BIRTH_RATE] / 365.0)
            if born:
                ti[TI.children, j] += born
                k = emit(ev, k, M_BORN, leaf[j], weight[j] * born)
                if c[HUKOU] != 0:
                    k = emit(ev, k, M_HUKOU, leaf[j], weight[j] * born)
    rate = sk[t] / 365.0
    if rate > 0:
        for j in idx:
            u = rng.random()
            if not tb[TB.sk, j] and u < -np.expm1(-rate):
                tb[TB.sk, j] = True
    return ev, k


@compiled
def visits_end_pass(hi, hf, hb, ti, tf, tb, n, t, c, handle, ev, k):
    """Permits expire (``Northward._visits_end``): the visitor goes home, or stays on illegally (``overstay_prob``).
    numpy's order of draws: a uniform per visit ending today, in the trips' order."""
    rng = generator(handle)
    state, due = ti[TI.state], ti[TI.due]
    n_due = 0
    for j in range(n):
        n_due += state[j] == VISIT and due[j] <= t
    if n_due == 0:
        return ev, k
    ev = room(ev, k, n_due)
    home = np.empty(n_due, dtype=np.int64)
    n_home = 0
    for j in range(n):
        if state[j] == VISIT and due[j] <= t:
            if rng.random() < c[OVERSTAY]:
                state[j] = AT_LARGE
                due[j] = -1
                k = emit(ev, k, M_OVERSTAYED, ti[TI.leaf, j], tf[TF.weight, j] * ti[TI.persons, j])
            else:
                home[n_home] = j
                n_home += 1
    if n_home:
        end_trips(hi, hf, hb, ti, tb, home[:n_home], t, c[CONTACT_DAYS])
    return ev, k
