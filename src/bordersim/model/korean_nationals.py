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
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np

from ..world.geography import RegionTree
from ..world.north import NorthPopulation, NorthValues
from ..world.rules import NorthwardRules
from .north_world import NorthSchedule
from .recorder import Recorder


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

    def _add(self, measure: str, idx: np.ndarray) -> None:
        self.rec.add(measure, self.leaf[idx], self.weight[idx] * self.size[idx])

    def persons_in_china(self) -> np.ndarray:
        return self.weight * self.size * IN_CHINA[self.state]

    def step(self, today: int, rules: NorthwardRules) -> None:
        """Applications decided today; once a week, the pressure, letters and decisions to leave."""
        if self.n == 0:
            return
        self._decide(today, rules)
        if today % 7 == 0:
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

    def _decide(self, today: int, rules: NorthwardRules) -> None:
        rng = self.rng
        due = np.flatnonzero(self.due == today)
        if len(due) == 0:
            return
        self.due[due] = -1
        st = self.state[due]
        ret = due[st == KState.APPLIED_RETURN]
        obstruct = self.sched.obstruction[today, self.leaf[ret]] * (1.0 - rules.kn_obstruction_lifted)
        p_ok = rules.kn_return_approval_prob * (1.0 - obstruct) * ~(self.suspect[ret] & rules.kn_refuse_political_suspects)
        ok = rng.random(len(ret)) < p_ok
        self._add("kn_returned", ret[ok])
        self.state[ret[ok]] = KState.GONE_HOME
        no = ret[~ok]
        self._add("kn_return_refused", no)
        self.letter[no] = False
        illegal = rng.random(len(no)) < self.p.p_illegal_after_refusal
        self._cross(no[illegal])
        self.state[no[~illegal]] = KState.HOME
        ab = due[st == KState.APPLIED_ABROAD]
        ok = rng.random(len(ab)) < rules.kn_abroad_approval_prob
        self._add("kn_abroad_emigrated", ab[ok])
        self.state[ab[ok]] = KState.GONE_ABROAD
        self._add("kn_abroad_denied", ab[~ok])  # Doc 11 (8): denied, "reported ... for [further] review"
        self.abroad_wish[ab[~ok]] = False
        self.state[ab[~ok]] = KState.HOME
        nat = due[st == KState.APPLIED_NATURAL]
        ok = rng.random(len(nat)) < rules.kn_naturalisation_approval_prob
        self._add("kn_naturalised", nat[ok])
        self.state[nat[ok]] = KState.NATURALISED
        self.state[nat[~ok]] = KState.HOME
