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

The day's decisions on applications and the week's pressure and decisions are compiled passes
(:func:`decide_pass`, :func:`week_pass`, called by :meth:`KoreanNationals.step`) that draw from this group's
generator exactly the numbers numpy's code drew, in its order, and note the events in the order of its
``Recorder.add`` calls.
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np

from ..world.geography import RegionTree
from ..world.north import NorthPopulation, NorthValues
from ..world.rules import NorthwardRules
from .blocks import Layout
from .compiled import compiled
from .north_people import B1, F8, I8, Records, emit, note_events, room
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
#: The households' fields (:mod:`.blocks`).
NATIONALS = Layout(
    {
        "leaf": (I8, 0),
        "size": (I8, 0),
        "state": (I8, 0),
        "due": (I8, -1),
        "weight": (F8, 0.0),
        "abroad_wish": (B1, False),
        "letter": (B1, False),
        "suspect": (B1, False),
    },
    "K",
)
KI, KF, KB = (NATIONALS.rows[d] for d in (I8, F8, B1))
#: The levers and values the compiled passes read (:meth:`KoreanNationals.constants`; indexed by the constants below):
#: the day's rules, then the run's parameters; and the measures they note.
KN_RULES = ("kn_obstruction_lifted", "kn_return_approval_prob", "kn_refuse_political_suspects", "kn_abroad_approval_prob",
            "kn_naturalisation_approval_prob", "kn_discrimination_relief", "kn_processing_days")  # fmt: skip
KN_VALUES = ("p_illegal_after_refusal", "kn_struggle_rate", "kn_letter_rate", "kn_rate_base", "kn_rate_discrimination",
             "p_illegal", "kn_naturalise_rate")  # fmt: skip
(OBSTRUCTION_LIFTED, RETURN_APPROVAL, REFUSE_SUSPECTS, ABROAD_APPROVAL, NATURALISATION_APPROVAL, DISCRIMINATION_RELIEF,
 PROCESSING_DAYS, ILLEGAL_AFTER_REFUSAL, STRUGGLE_RATE, LETTER_RATE, RATE_BASE, RATE_DISCRIMINATION, P_ILLEGAL,
 NATURALISE_RATE) = range(len(KN_RULES) + len(KN_VALUES))  # fmt: skip
(M_RETURNED, M_REFUSED, M_CROSSED, M_EMIGRATED, M_DENIED, M_NATURALISED, M_STRUGGLED, M_ABROAD_APPLICATIONS,
 M_RETURN_APPLICATIONS, M_NATURALISATION_APPLICATIONS) = (
    MEASURE_INDEX[m]
    for m in ("kn_returned", "kn_return_refused", "kn_crossed_home", "kn_abroad_emigrated", "kn_abroad_denied",
              "kn_naturalised", "kn_struggled", "kn_abroad_applications", "kn_return_applications",
              "kn_naturalisation_applications")
)  # fmt: skip


class KoreanNationals(Records):
    """The Korean-national households of the run (rows of the blocks of :data:`NATIONALS`) and their weekly
    decisions."""

    _layout = NATIONALS

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
        self._bind(self.n)
        if leaf:
            self.leaf[:] = np.concatenate(leaf)
            self.weight[:] = np.concatenate(weight)
        self.size[:] = 1 + rng.poisson(pop.korean_nationals_household_size - 1.0, size=self.n)
        self.abroad_wish[:] = rng.random(self.n) < pop.korean_nationals_abroad_share
        self._rules: NorthwardRules | None = None
        self._constants: np.ndarray | None = None
        self._handle: np.ndarray | None = None

    def constants(self, rules: NorthwardRules) -> np.ndarray:
        """The compiled passes' levers and values under ``rules`` (floats, flags as 0/1)."""
        if rules is not self._rules:
            c = [float(getattr(rules, name)) for name in KN_RULES] + [float(getattr(self.p, name)) for name in KN_VALUES]
            self._rules, self._constants = rules, np.array(c)
        return self._constants

    def handle(self) -> np.ndarray:
        """This group's generator's handle for compiled code (:mod:`.rng_handle`)."""
        self._handle = current(self._handle, self.rng)
        return self._handle

    def persons_in_china(self) -> np.ndarray:
        return self.weight * self.size * IN_CHINA[self.state]

    def step(self, today: int, rules: NorthwardRules) -> None:
        """Applications decided today (:func:`decide_pass`); once a week (day 0, 7, ...), the pressure, letters and
        decisions to leave (:func:`week_pass`)."""
        if self.n == 0:
            return
        ki, kf, kb = self.blocks()
        c, handle = self.constants(rules), self.handle()
        ev, k = decide_pass(ki, kf, kb, self.sched.obstruction, today, c, handle, _NO_EVENTS, 0)
        if today % 7 == 0:
            ev, k = week_pass(ki, kf, kb, self.sched.discrimination, today, c, handle, ev, k)
        note_events(self.rec, ev, k)


_NO_EVENTS = np.empty((0, 3))


# -- the compiled passes (the households' blocks ``ki, kf, kb``) -------------------------------------------------
@compiled
def decide_pass(ki, kf, kb, obstruction, today, c, handle, ev, k):
    """The applications decided today (households due today, in their order), as numpy's code did: return
    applications approved (Doc 11 (7): on a letter, suspects refused under ``kn_refuse_political_suspects``;
    obstruction lifted by Doc 11 (2)), the refused going home illegally with ``p_illegal_after_refusal``;
    applications to go abroad (Doc 11 (8)); for citizenship (Doc 11 (9)). numpy's order of draws: a uniform per
    return application, one per refusal, one per application abroad, one per naturalisation. Returns the event
    array and its rows used."""
    leaf, size, state, due, weight = ki[KI.leaf], ki[KI.size], ki[KI.state], ki[KI.due], kf[KF.weight]
    abroad_wish, letter, suspect = kb[KB.abroad_wish], kb[KB.letter], kb[KB.suspect]
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
        k = emit(ev, k, M_RETURNED, leaf[i], weight[i] * size[i])
        state[i] = _GONE_HOME
    no = ret[~ok]
    for i in no:
        k = emit(ev, k, M_REFUSED, leaf[i], weight[i] * size[i])
        letter[i] = False
    for i in no:
        if rng.random() < c[ILLEGAL_AFTER_REFUSAL]:
            k = emit(ev, k, M_CROSSED, leaf[i], weight[i] * size[i])
            state[i] = _CROSSED
        else:
            state[i] = _HOME
    ab = picked[st == _APPLIED_ABROAD]
    ok = np.zeros(len(ab), dtype=np.bool_)
    for a in range(len(ab)):
        ok[a] = rng.random() < c[ABROAD_APPROVAL]
    for i in ab[ok]:
        k = emit(ev, k, M_EMIGRATED, leaf[i], weight[i] * size[i])
        state[i] = _GONE_ABROAD
    for i in ab[~ok]:  # Doc 11 (8): denied, "reported ... for [further] review"
        k = emit(ev, k, M_DENIED, leaf[i], weight[i] * size[i])
        abroad_wish[i] = False
        state[i] = _HOME
    nat = picked[st == _APPLIED_NATURAL]
    for i in nat:
        if rng.random() < c[NATURALISATION_APPROVAL]:
            k = emit(ev, k, M_NATURALISED, leaf[i], weight[i] * size[i])
            state[i] = _NATURALISED
        else:
            state[i] = _HOME
    return ev, k


@compiled
def week_pass(ki, kf, kb, discrimination, today, c, handle, ev, k):
    """The week's decisions of the households at home (in their order): the Cultural Revolution's pressure, less what
    the rules relieve, struggles some against (Doc 11 preamble: "criticized and struggled against"; then political
    suspects); DPRK letters arrive; a household decides to leave (doubled for the struggled against): abroad if it
    has family there (Doc 11 (8)), home on its letter (Doc 11 (7)), or home illegally with ``p_illegal``; those who
    stay may apply for citizenship (Doc 11 (9)). numpy's order of draws: a uniform per household for the struggle,
    one for the letter, one for leaving, the geometric days of the applications abroad, of those home on a letter,
    a uniform per leaver without a letter, one per household staying, the geometric days of the naturalisations."""
    leaf, size, state, weight = ki[KI.leaf], ki[KI.size], ki[KI.state], kf[KF.weight]
    abroad_wish, letter, suspect = kb[KB.abroad_wish], kb[KB.letter], kb[KB.suspect]
    rng = generator(handle)
    home = np.flatnonzero(state == _HOME)
    nh = len(home)
    ev = room(ev, k, 2 * nh)
    d = np.empty(nh)
    for a in range(nh):
        i = home[a]
        d[a] = discrimination[today, leaf[i]] * (1.0 - c[DISCRIMINATION_RELIEF])
        if rng.random() < -np.expm1(-c[STRUGGLE_RATE] * d[a] * 7.0):
            k = emit(ev, k, M_STRUGGLED, leaf[i], weight[i] * size[i])
            suspect[i] = True
    p_letter = -np.expm1(-c[LETTER_RATE] * 7.0 / 365.0)
    for i in home:
        u = rng.random()
        if not letter[i] and u < p_letter:
            letter[i] = True
    leave = np.zeros(nh, dtype=np.bool_)
    for a in range(nh):
        rate = c[RATE_BASE] + c[RATE_DISCRIMINATION] * d[a] * (1.0 + (1.0 if suspect[home[a]] else 0.0))
        leave[a] = rng.random() < -np.expm1(-rate * 7.0)
    go = home[leave]
    k = _apply(ki, kf, go[abroad_wish[go]], _APPLIED_ABROAD, M_ABROAD_APPLICATIONS, today, c, rng, ev, k)  # Doc 11 (8)
    rest = go[~abroad_wish[go]]
    k = _apply(ki, kf, rest[letter[rest]], _APPLIED_RETURN, M_RETURN_APPLICATIONS, today, c, rng, ev, k)  # Doc 11 (7)
    for i in rest[~letter[rest]]:
        if rng.random() < c[P_ILLEGAL]:
            k = emit(ev, k, M_CROSSED, leaf[i], weight[i] * size[i])
            state[i] = _CROSSED
    stay = home[~leave]
    natural = np.zeros(len(stay), dtype=np.bool_)
    for a in range(len(stay)):
        natural[a] = rng.random() < -np.expm1(-c[NATURALISE_RATE] * 7.0)
    k = _apply(ki, kf, stay[natural], _APPLIED_NATURAL, M_NATURALISATION_APPLICATIONS, today, c, rng, ev, k)  # Doc 11 (9)
    return ev, k


@compiled(inline="always")
def _apply(ki, kf, idx, kind, measure, today, c, rng, ev, k):
    """Households ``idx`` apply (state ``kind``): an event each, and the day of the decision, geometric with mean
    ``kn_processing_days``, drawn in their order. Room for the events is made by the caller."""
    for i in idx:
        k = emit(ev, k, measure, ki[KI.leaf, i], kf[KF.weight, i] * ki[KI.size, i])
        ki[KI.state, i] = kind
    for i in idx:
        ki[KI.due, i] = today + rng.geometric(1.0 / c[PROCESSING_DAYS])
    return k
