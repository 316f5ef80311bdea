"""Chinese local authorities: the legal channel, travel passes, and DPRK women crossing to marry.

(Their orders on rations, interventions and interception are dated inputs, resolved into day-by-region
arrays by :mod:`bordersim.model.schedule`.)

* The authorization-letter channel (Docs 6, 7): the DPRK issues "authorization letters" to kin in
  China; holders apply; the authorities decide slowly and strictly in 1961 (Yanbian: 2,667 letters,
  about 1,778 applications, 1,053 approved, 735 refused), promptly and leniently from March 1962
  (Doc 7 (3)). A refused household is handed back to its own decision (it may prepare to cross).
* Doc 4's individual travel applications are decided at once, proper reasons favoured; approved
  travellers come back when their pass expires, or stay.
* DPRK women crossing into China to marry (Doc 2) are repatriated "in principle".
"""

from __future__ import annotations

import mesa
import numpy as np

from ..world.rules import RuleSet
from ..world.scenario import Parameters
from .bookkeeping import (
    J_APPROVAL,
    L_PROCESSING,
    M_APPROVED,
    M_EMIGRATED,
    M_LEGAL_APPLICATIONS,
    M_REFUSED,
    buffers,
    close,
    geometric,
    geometric_factor,
    log_uniforms,
    note,
    set_state,
)
from .compiled import compiled
from .households import HB, HF8, HI2, IS_HOME, REASON_NAMES, Households, Reason, State
from .measures import MEASURE_INDEX
from .population import letter_weeks
from .recorder import Recorder
from .schedule import DailyContext
from .streams import LETTER, TRAVEL, Kind, Streams, poisson


class ChineseAuthorities(mesa.Agent):
    """Provincial and local authorities of Jilin and Liaoning, as one agent acting by region.

    Registered with the model (Mesa); it acts on what it is given: the households, the run's parameters,
    recorder and random streams, and per call the day and the rules in force. An application draws from
    the applicant's journey, a travel application from its own row (:data:`~.streams.TRAVEL`), a letter
    from the household's letters (:data:`~.streams.LETTER`); DPRK women crossing to marry from the world's
    stream, keyed by the day.
    """

    def __init__(
        self,
        model: mesa.Model,
        households: Households,
        params: Parameters,
        recorder: Recorder,
        streams: Streams,
        crossing_leaves: np.ndarray,
        marriage_crossings_per_year: float,
        n_days: int,
    ):
        super().__init__(model)
        self.hh = households
        self.params = params
        self.recorder = recorder
        self.streams = streams
        self.crossing_leaves = crossing_leaves
        # DPRK women crossing to marry, each day (Poisson), drawn for the run at once.
        days = np.arange(n_days, dtype=np.uint64) + np.uint64(streams.day0)
        self.marriages = poisson(streams.uniform(Kind.MARRIAGE, days, 0), marriage_crossings_per_year / 365.0)

    # -- the authorization-letter channel (Docs 6, 7) ---------------------------------------------
    def issue_letters(self, days: int, today: int, rules: RuleSet) -> None:
        """DPRK authorization letters reach kin households at home: each eligible household gets one in a given
        week with probability ``1 - exp(-letter_rate * 7 / 365)``, drawn as the number of eligible weeks it
        waits (geometric, :data:`~.streams.LETTER`). ``days`` is 7 (the call is weekly)."""
        hh, p = self.hh, self.params
        got = _letters_due(hh.kin, hh.letter_held, hh.state, IS_HOME, hh.letter_wait)
        if len(got) == 0:
            return
        hh.letter_held[got] = True
        row = self.streams.uniforms(Kind.LETTER, hh.key[got], hh.letters[got], LETTER.width)
        hh.letters[got] += 1
        hh.letter_wait[got] = letter_weeks(row[:, LETTER.NEXT_WAIT], p.letter_rate)
        self.recorder.add("authorization_letters", hh.leaf[got], hh.weight[got])
        apply = got[(row[:, LETTER.APPLY_AT_ONCE] < p.p_apply_on_letter) & (hh.state[got] == State.HOME)]
        hh.start_journey(apply, self.streams)  # applying at once on the letter: a journey begins
        self.receive_applications(apply, today, rules)

    def receive_applications(self, idx: np.ndarray, today: int, rules: RuleSet) -> None:
        """Households ``idx`` apply to move on their authorization letter (one compiled pass, as in the day's
        transitions: :func:`receive_application`)."""
        hh = self.hh
        if len(idx) == 0:
            return
        idx = np.asarray(idx, dtype=np.int64)
        bi, bv = buffers(len(idx))
        _, i1, i2, i4, f8, _ = hh.blocks()
        _receive_applications(i1, i2, i4, f8, bi, bv, idx, log_uniforms(hh, idx), today, processing_factor(rules))
        close(bi, bv, hh, self.recorder)

    def decide_applications(self, idx: np.ndarray, today: int, rules: RuleSet) -> np.ndarray:
        """Decide pending applications under the rules in force today; returns the refused households (one compiled
        pass, :func:`decide_applications`)."""
        if len(idx) == 0:
            return idx
        idx = np.asarray(idx, dtype=np.int64)
        bi, bv = buffers(len(idx))
        china = rules.china
        hb, i1, i2, i4, f8, _ = self.hh.blocks()
        no = decide_applications(
            hb, i1, i2, i4, f8, self.hh.ju, bi, bv, idx, today, china.approve_nk_nationals_return, china.legal_approval_prob
        )
        close(bi, bv, self.hh, self.recorder)
        return idx[no]

    # -- travel passes (Doc 4; Doc 10 Art. 3) -----------------------------------------------------
    def travel_applications(self, idx: np.ndarray, reasons: np.ndarray, today: int, rules: RuleSet, ctx: DailyContext) -> None:
        """Individuals of households ``idx`` apply to travel (Doc 4); decided at once: approved with
        ``travel_approval_prob``, or for proper reasons with ``travel_approval_prob_proper`` (always where a permit
        order is in force). Approved travellers are away until their pass expires (Doc 10 Art. 3 (3): a one-month
        pass). One compiled pass (:func:`_decide_travel`)."""
        hh = self.hh
        if len(idx) == 0:
            return
        china = rules.china
        days = rules.border.transit_pass_days or self.params.visit_days
        go, *events = _decide_travel(
            idx, reasons, today + days, hh.leaf, hh.weight, hh.tu, ctx.permits_leaf, china.travel_approval_prob,
            china.travel_approval_prob_proper, hh.away, hh.away_until, *_TRAVEL_MEASURES,
        )  # fmt: skip
        self.recorder.add_events(*events)
        hh.cal_visit.add(go, today + days)

    def visits_end(self, today: int) -> None:
        """Travellers whose pass expires today come back, or stay (``overstay_prob``)."""
        hh = self.hh
        idx = hh.cal_visit.due(today, hh.away_until)
        if len(idx) == 0:
            return
        stay = hh.tu[idx, TRAVEL.OVERSTAY] < self.params.overstay_prob
        s = idx[stay]
        self.recorder.add("overstayed", hh.leaf[s], hh.weight[s])
        hh.stayed[s] += hh.away[s]
        hh.away[idx] = 0
        hh.away_until[idx] = -1

    # -- DPRK women crossing to marry (Doc 2) -------------------------------------------------------
    def marriage_crossings(self, rules: RuleSet, today: int) -> None:
        """DPRK women crossing into China to marry Chinese men (Doc 2): repatriated "in principle" or, with
        special circumstances, allowed to marry and stay."""
        k = int(self.marriages[today]) if today < len(self.marriages) else 0
        if k == 0:
            return
        who = np.full(k, self.streams.day0 + today, dtype=np.uint64)
        u = self.streams.uniforms(Kind.MARRIAGE, who, np.arange(1, k + 1), 2)
        leaves = self.crossing_leaves[(u[:, 0] * len(self.crossing_leaves)).astype(np.int64)].astype(np.int64)
        self.recorder.add("marriage_crossings_in", leaves, 1.0)
        back = u[:, 1] < rules.china.repatriate_marriage_crossers
        self.recorder.add("marriage_repatriated", leaves[back], 1.0)


@compiled
def _letters_due(kin, held, state, is_home, wait):
    """A week of waiting for a letter, in one pass: each eligible household (kin in the DPRK, no letter held, at
    home) counts down a week; returns those whose wait is over."""
    got = np.empty(len(kin), dtype=np.int64)
    n = 0
    for i in range(len(kin)):
        if kin[i] and not held[i] and is_home[state[i]]:
            wait[i] -= 1
            if wait[i] <= 0:
                got[n] = i
                n += 1
    return got[:n]


#: The travel applications' measures: all, by main reason, approved, refused (the recorder's indices).
_TRAVEL_MEASURES = (
    MEASURE_INDEX["travel_applications"],
    np.array([MEASURE_INDEX[f"travel_applications_{r}"] for r in REASON_NAMES], dtype=np.int64),
    MEASURE_INDEX["travel_approved"],
    MEASURE_INDEX["travel_refused"],
)
_T_APPROVAL, _PROPER = TRAVEL.APPROVAL, int(Reason.PROPER)


@compiled
def _decide_travel(
    idx, reasons, until, leaf, weight, tu, permits, p_ok, p_ok_proper, away, away_until, applied, by_reason, approved, refused
):
    """Travel applications of households ``idx`` decided (see :meth:`ChineseAuthorities.travel_applications`): the
    approved travellers are away until day ``until``. Returns (the approved, and the events as (measures, leaves,
    values): per household an application, one by its reason, and an approval or a refusal, in the households'
    order as the recorder's ``add_by_reason`` and ``add`` note them)."""
    n = len(idx)
    go = np.empty(n, dtype=np.int64)
    n_go = 0
    ms = np.empty(3 * n, dtype=np.int64)
    lv = np.empty(3 * n, dtype=np.int64)
    vals = np.empty(3 * n)
    for j in range(n):
        i = idx[j]
        r = reasons[j]
        if r == _PROPER:
            p = 1.0 if permits[leaf[i]] > 0 else p_ok_proper
        else:
            p = p_ok
        ok = tu[i, _T_APPROVAL] < p
        ms[3 * j], ms[3 * j + 1], ms[3 * j + 2] = applied, by_reason[r], approved if ok else refused
        lv[3 * j] = lv[3 * j + 1] = lv[3 * j + 2] = leaf[i]
        vals[3 * j] = vals[3 * j + 1] = vals[3 * j + 2] = weight[i]
        if ok:
            go[n_go] = i
            n_go += 1
            away[i] += 1
            away_until[i] = until
    return go[:n_go], ms, lv, vals


def processing_factor(rules: RuleSet) -> float:
    """The geometric factor of the days until an application is decided (``legal_processing_days``, Docs 6, 7)."""
    return geometric_factor(1.0 / rules.china.legal_processing_days)


@compiled(cache=False)
def receive_application(i1, i2, i4, f8, bi, bv, i, log_u, today, f_processing):
    """Household ``i`` applies to move on its authorization letter (``legal_applications``); the application is
    decided after a geometric number of days (``log_u``: the household's ``log1p(-u)`` row, ``L_PROCESSING``). The
    households' blocks and the buffers as in :mod:`.bookkeeping`."""
    note(bi, bv, M_LEGAL_APPLICATIONS, i2[HI2.leaf, i], f8[HF8.weight, i])
    set_state(i1, i4, bi, i, State.APPLIED, today, today + geometric(log_u[L_PROCESSING], f_processing))


@compiled
def _receive_applications(i1, i2, i4, f8, bi, bv, idx, log_u, today, f_processing):
    """:func:`receive_application` for households ``idx`` (rows of ``log_u``), in order."""
    for j in range(len(idx)):
        receive_application(i1, i2, i4, f8, bi, bv, idx[j], log_u[j], today, f_processing)


@compiled(cache=False)
def decide_applications(hb, i1, i2, i4, f8, ju, bi, bv, idx, today, approve_nk, p_approve):
    """Pending applications of households ``idx`` decided, in order; returns the positions (in ``idx``) of the
    refused. Approved with ``p_approve`` (``legal_approval_prob``), always for DPRK nationals' requests to return
    where the rule approves them (Doc 8 (2)), never with a pending case (Doc 1 (4), Doc 11 (7)). Approved:
    ``legal_approved``, ``legal_emigrated`` (persons), emigrated; refused: ``legal_refused`` and the letter is
    taken away (the household's decision follows: :func:`~.routes.after_refusals`)."""
    refused = np.empty(len(idx), dtype=np.int64)
    n = 0
    for j in range(len(idx)):
        i = idx[j]
        p_ok = 1.0 if hb[HB.nk_national, i] and approve_nk else p_approve
        if hb[HB.criminal, i]:
            p_ok = 0.0
        leaf, w = i2[HI2.leaf, i], f8[HF8.weight, i]
        if ju[i, J_APPROVAL] < p_ok:
            note(bi, bv, M_APPROVED, leaf, w)
            note(bi, bv, M_EMIGRATED, leaf, w * i2[HI2.size, i])
            set_state(i1, i4, bi, i, State.EMIGRATED, today, -1)
        else:
            note(bi, bv, M_REFUSED, leaf, w)
            hb[HB.letter_held, i] = False
            refused[n] = j
            n += 1
    return refused[:n]
