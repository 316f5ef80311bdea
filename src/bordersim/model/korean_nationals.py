"""Korean nationals living in China (Doc 11), a group of their own (issue 15).

Doc 11 (19 August 1970), preamble: "Korean nationals have been writing to [government] departments to report
that they have been discriminated against and beaten. During the Cultural Revolution, they were criticized
and struggled against, their homes were ransacked, and their passports were confiscated". Its points (1)-(5)
order that they be "treated as friends", not attacked or detained by work units, not transferred to lower
levels; (7) that those with an "authorization letter" who apply to return home be approved unless they are
"suspects in serious political cases"; (8) that applications to go to "South Korea, Hong Kong, Macau, or
other capitalist countries" be denied; (9) that applications for Chinese citizenship be reviewed.

Households of DPRK citizens in the Chinese regions (``population.north.korean_nationals``; assumed sizes),
as arrays, each week:

* the Cultural Revolution's pressure (``world.north.korean_nationals_pressure``: discrimination and
  obstruction, dated), less what the rules in force relieve (``kn_discrimination_relief``,
  ``kn_obstruction_lifted``), struggles some against (then political suspects: ``kn_struggled``);
* DPRK authorization letters arrive (``kn_letter_rate``);
* a household decides to leave at ``kn_rate_base + kn_rate_discrimination x discrimination`` (doubled for
  those struggled against): to a capitalist country if it has family there (an application decided under
  ``kn_abroad_approval_prob``: 0 from 1970, a blocked option), home on its letter (decided under
  ``kn_return_approval_prob``, times one minus the obstruction, political suspects refused under
  ``kn_refuse_political_suspects``), or, without a letter, home illegally with ``p_illegal``;
* some apply for Chinese citizenship (``kn_naturalise_rate``; ``kn_naturalisation_approval_prob``).

Refused returnees go home illegally with ``p_illegal_after_refusal`` (as the southward households do).
Those who go (home, abroad, illegally) leave the model; the naturalised leave the group. This group does not
cross the border through the southward machinery: its illegal departures are counted (``kn_crossed_home``)
but not resolved at a post.

The day's decisions on applications are a compiled pass (:func:`decide_pass`, called by the northward day's
pass or by :meth:`KoreanNationals.step`) that draws from this group's generator exactly the numbers numpy's
code drew, in its order; the week's pressure and decisions are numpy's.
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np
from numba import njit

from ..world.geography import RegionTree
from ..world.north import NorthPopulation, NorthValues
from ..world.rules import NorthwardRules
from .north_people import emit, note_events, room
from .north_world import NorthSchedule
from .recorder import MEASURE_INDEX, Recorder
from .rng_handle import current, generator


class KState(IntEnum):
    HOME = 0
    APPLIED_RETURN = 1
    APPLIED_ABROAD = 2
    APPLIED_NATURAL = 3
    GONE_HOME = 4
    GONE_ABROAD = 5
    NATURALISED = 6
    CROSSED = 7


#: States in which a household is still a Korean-national household in China.
IN_CHINA = np.array([True, True, True, True, False, False, False, False])
_HOME, _APPLIED_RETURN, _APPLIED_ABROAD, _APPLIED_NATURAL, _GONE_HOME, _GONE_ABROAD, _NATURALISED, _CROSSED = range(len(KState))
#: The levers and values :func:`decide_pass` reads (:meth:`KoreanNationals.constants`), and the measures it notes.
DECIDE_RULES = ("kn_obstruction_lifted", "kn_return_approval_prob", "kn_refuse_political_suspects", "kn_abroad_approval_prob",
                "kn_naturalisation_approval_prob")  # fmt: skip
OBSTRUCTION_LIFTED, RETURN_APPROVAL, REFUSE_SUSPECTS, ABROAD_APPROVAL, NATURALISATION_APPROVAL, ILLEGAL_AFTER_REFUSAL = range(6)
DECIDE_MEASURES = ("kn_returned", "kn_return_refused", "kn_crossed_home", "kn_abroad_emigrated", "kn_abroad_denied",
                   "kn_naturalised")  # fmt: skip
M_RETURNED, M_REFUSED, M_CROSSED, M_EMIGRATED, M_DENIED, M_NATURALISED = range(len(DECIDE_MEASURES))


class KoreanNationals:
    """The Korean-national households of the run (arrays) and their weekly decisions."""

    def __init__(
        self,
        pop: NorthPopulation,
        p: NorthValues,
        scale: float,
        tree: RegionTree,
        recorder: Recorder,
        rng: np.random.Generator,
        sched: NorthSchedule,
    ):
        self.p, self.rec, self.rng, self.sched = p, recorder, rng, sched
        leaf, weight, n_sim_all = [], [], 0
        for region, persons in pop.korean_nationals.items():
            true_hh = persons / pop.korean_nationals_household_size
            n_sim = int(round(true_hh * scale))
            if n_sim > 0:
                leaf.append(np.full(n_sim, tree.leaf_index[region], dtype=np.int64))
                weight.append(np.full(n_sim, true_hh / n_sim))
                n_sim_all += n_sim
        self.n = n_sim_all
        self.leaf = np.concatenate(leaf) if leaf else np.zeros(0, dtype=np.int64)
        self.weight = np.concatenate(weight) if weight else np.zeros(0)
        self.size = 1 + rng.poisson(pop.korean_nationals_household_size - 1.0, size=self.n)
        self.abroad_wish = rng.random(self.n) < pop.korean_nationals_abroad_share
        self.letter = np.zeros(self.n, dtype=bool)
        self.suspect = np.zeros(self.n, dtype=bool)
        self.state = np.zeros(self.n, dtype=np.int8)
        self.due = np.full(self.n, -1, dtype=np.int64)
        self._rules: NorthwardRules | None = None
        self._constants: tuple[np.ndarray, np.ndarray] | None = None
        self._handle: np.ndarray | None = None
        self._arrays: tuple | None = None

    def arrays(self) -> tuple:
        """The arrays :func:`decide_pass` reads and writes, in its order (built once: only ever written in place)."""
        if self._arrays is None:
            self._arrays = self.leaf, self.weight, self.size, self.abroad_wish, self.letter, self.suspect, self.state, self.due
        return self._arrays

    def constants(self, rules: NorthwardRules) -> tuple[np.ndarray, np.ndarray]:
        """:func:`decide_pass`'s levers and values under ``rules`` (floats, flags as 0/1) and its measures' indices."""
        if rules is not self._rules:
            c = [float(getattr(rules, name)) for name in DECIDE_RULES] + [float(self.p.p_illegal_after_refusal)]
            self._rules = rules
            self._constants = np.array(c), np.array([MEASURE_INDEX[m] for m in DECIDE_MEASURES], dtype=np.int64)
        return self._constants

    def handle(self) -> np.ndarray:
        """This group's generator's handle for compiled code (:mod:`.rng_handle`)."""
        self._handle = current(self._handle, self.rng)
        return self._handle

    def _add(self, measure: str, idx: np.ndarray) -> None:
        self.rec.add(measure, self.leaf[idx], self.weight[idx] * self.size[idx])

    def persons_in_china(self) -> np.ndarray:
        return self.weight * self.size * IN_CHINA[self.state]

    def step(self, today: int, rules: NorthwardRules) -> None:
        """Applications decided today (:func:`decide_pass`); once a week, the pressure, letters and decisions to leave."""
        if self.n == 0:
            return
        c, handle = self.constants(rules), self.handle()
        ev, k = decide_pass(self.arrays(), self.sched.obstruction, today, c, handle, np.empty((0, 3)), 0)
        note_events(self.rec, ev, k)
        self.week(today, rules)

    def week(self, today: int, rules: NorthwardRules) -> None:
        """Once a week (day 0, 7, ...): the pressure, letters and decisions to leave (:meth:`_week`)."""
        if self.n and today % 7 == 0:
            self._week(today, rules)

    def _apply(self, idx: np.ndarray, state: KState, measure: str, today: int, rules: NorthwardRules) -> None:
        self._add(measure, idx)
        self.state[idx] = state
        self.due[idx] = today + self.rng.geometric(1.0 / rules.kn_processing_days, size=len(idx))

    def _week(self, today: int, rules: NorthwardRules) -> None:
        p, rng = self.p, self.rng
        home = np.flatnonzero(self.state == KState.HOME)
        d = self.sched.discrimination[today, self.leaf[home]] * (1.0 - rules.kn_discrimination_relief)
        struggled = home[rng.random(len(home)) < -np.expm1(-p.kn_struggle_rate * d * 7.0)]
        self._add("kn_struggled", struggled)  # Doc 11 preamble: "criticized and struggled against"
        self.suspect[struggled] = True
        got = home[~self.letter[home] & (rng.random(len(home)) < -np.expm1(-p.kn_letter_rate * 7.0 / 365.0))]
        self.letter[got] = True
        rate = p.kn_rate_base + p.kn_rate_discrimination * d * (1.0 + self.suspect[home])
        leave = rng.random(len(home)) < -np.expm1(-rate * 7.0)
        go = home[leave]
        abroad = go[self.abroad_wish[go]]
        self._apply(abroad, KState.APPLIED_ABROAD, "kn_abroad_applications", today, rules)  # Doc 11 (8)
        rest = go[~self.abroad_wish[go]]
        on_letter = rest[self.letter[rest]]
        self._apply(on_letter, KState.APPLIED_RETURN, "kn_return_applications", today, rules)  # Doc 11 (7)
        no_letter = rest[~self.letter[rest]]
        self._cross(no_letter[rng.random(len(no_letter)) < p.p_illegal])
        stay = home[~leave]
        natural = stay[rng.random(len(stay)) < -np.expm1(-p.kn_naturalise_rate * 7.0)]
        self._apply(natural, KState.APPLIED_NATURAL, "kn_naturalisation_applications", today, rules)  # Doc 11 (9)

    def _cross(self, idx: np.ndarray) -> None:
        self._add("kn_crossed_home", idx)
        self.state[idx] = KState.CROSSED


@njit(cache=True)
def decide_pass(kn, obstruction, today, constants, handle, ev, k):
    """The applications decided today (households due today, in their order; ``obstruction``: days x regions), as
    numpy's code did: return applications approved (Doc 11 (7): on a letter, suspects refused under
    ``kn_refuse_political_suspects``; obstruction lifted by Doc 11 (2)), the refused going home illegally with
    ``p_illegal_after_refusal``; applications to go abroad (Doc 11 (8)); for citizenship (Doc 11 (9)). numpy's order
    of draws: a uniform per return application, one per refusal, one per application abroad, one per
    naturalisation. Returns the event array and its rows used."""
    leaf, weight, size, abroad_wish, letter, suspect, state, due = kn
    c, m = constants
    rng = generator(handle)
    picked = np.flatnonzero(due == today)
    if len(picked) == 0:
        return ev, k
    ev = room(ev, k, 2 * len(picked))
    st = state[picked]
    due[picked] = -1
    ret = picked[st == _APPLIED_RETURN]
    ok = np.zeros(len(ret), dtype=np.bool_)
    for a in range(len(ret)):
        i = ret[a]
        obstruct = obstruction[today, leaf[i]] * (1.0 - c[OBSTRUCTION_LIFTED])
        refused = suspect[i] and c[REFUSE_SUSPECTS] != 0
        ok[a] = rng.random() < c[RETURN_APPROVAL] * (1.0 - obstruct) * (0.0 if refused else 1.0)
    for i in ret[ok]:
        k = emit(ev, k, m[M_RETURNED], leaf[i], weight[i] * size[i])
        state[i] = _GONE_HOME
    no = ret[~ok]
    for i in no:
        k = emit(ev, k, m[M_REFUSED], leaf[i], weight[i] * size[i])
        letter[i] = False
    for i in no:
        if rng.random() < c[ILLEGAL_AFTER_REFUSAL]:
            k = emit(ev, k, m[M_CROSSED], leaf[i], weight[i] * size[i])
            state[i] = _CROSSED
        else:
            state[i] = _HOME
    ab = picked[st == _APPLIED_ABROAD]
    ok = np.zeros(len(ab), dtype=np.bool_)
    for a in range(len(ab)):
        ok[a] = rng.random() < c[ABROAD_APPROVAL]
    for i in ab[ok]:
        k = emit(ev, k, m[M_EMIGRATED], leaf[i], weight[i] * size[i])
        state[i] = _GONE_ABROAD
    for i in ab[~ok]:  # Doc 11 (8): denied, "reported ... for [further] review"
        k = emit(ev, k, m[M_DENIED], leaf[i], weight[i] * size[i])
        abroad_wish[i] = False
        state[i] = _HOME
    nat = picked[st == _APPLIED_NATURAL]
    for i in nat:
        if rng.random() < c[NATURALISATION_APPROVAL]:
            k = emit(ev, k, m[M_NATURALISED], leaf[i], weight[i] * size[i])
            state[i] = _NATURALISED
        else:
            state[i] = _HOME
    return ev, k
