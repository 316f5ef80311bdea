"""Rules as data: the border regimes of 1957-1970 as named, validated rule sets.

A rule set holds the policy levers the model reads, split by who applies them: the Chinese side
(approval of legal departures, interception, persuasion, punishment) and the North Korean side
(settling crossers, the 40-yuan allowance, sending people back, returning single Han men). Each
rule file in ``bordersim/world/data/rules/`` cites the document and article it encodes. A scenario's
``rules:`` timeline switches rule sets by date (at the start of the given day), and
``rule_overrides`` changes single levers for one scenario.
"""

from __future__ import annotations

import datetime as dt
import json
from importlib import resources
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ..errors import ScenarioError, from_validation
from ..io import read_yaml

Prob = Annotated[float, Field(ge=0.0, le=1.0)]
#: A multiplier or weight (1 = as documented, 0 = switched off): zero to a hundred.
Factor = Annotated[float, Field(ge=0.0, le=100.0)]
Date = Annotated[dt.date, Field(strict=False)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)


class ChinaRules(_Strict):
    """What the Chinese authorities do (Docs 1, 4-8, 11)."""

    #: Share of applications on DPRK authorization letters approved (Doc 6: 1,053 of 1,788 decided in 1961).
    legal_approval_prob: Prob = 0.59
    #: Mean days to decide an application (Docs 6-7: "too strict ... and too slow").
    legal_processing_days: Annotated[float, Field(ge=1, le=3650)] = 90.0
    #: Share of individual travel applications approved (Doc 4 (4): permits for proper reasons).
    travel_approval_prob: Prob = 0.3
    #: Same, for applicants with proper reasons (visiting the sick, the elderly joining children).
    travel_approval_prob_proper: Prob = 0.8
    #: Multiplier on guard effort everywhere (interception "strengthened", Docs 3, 5).
    interception_multiplier: Factor = 1.0
    #: Share of people stopped at the border who are persuaded to return home (Doc 6: 7,939 "convinced to return").
    persuasion_prob: Prob = 0.9
    #: Perceived severity of punishment of illegal crossing, in units of the risk scale (Doc 1: "punished severely").
    punishment: Factor = 0.5
    #: Families of settled crossers may follow them (Doc 7 (4b)): family left in China no longer pulls them home.
    families_may_follow: bool = False
    #: DPRK nationals in China asking to return are approved (Doc 8 (2), Doc 11 (7)).
    approve_nk_nationals_return: bool = False
    #: Share of DPRK women who crossed illegally to marry Chinese men who are sent back (Doc 2 (3):
    #: "in principle we will repatriate all of them", special circumstances excepted).
    repatriate_marriage_crossers: Prob = 0.5


class DPRKRules(_Strict):
    """What the North Korean side does with people who arrive (Docs 3, 5, 6, 7, 10, 11)."""

    #: Whole households are settled on agricultural cooperatives (Docs 3, 5).
    settle_households: bool = True
    #: Settling-in allowance per labourer, yuan (Docs 3, 5: "forty yuan").
    allowance_yuan_per_labourer: Annotated[float, Field(ge=0.0, le=100_000.0)] = 40.0
    #: Grain given at settlement, catties per person ("a fixed amount of grain", Docs 3, 5; amount assumed).
    grain_catties_per_person: Annotated[float, Field(ge=0.0, le=100_000.0)] = 100.0
    #: Unmarried Han Chinese men are returned in a timely manner (Docs 3, 5).
    return_single_han_men: bool = True
    #: Share of other arrivals sent back to China (Doc 6: 2,361 sent back in 1961).
    send_back_prob: Prob = 0.1
    #: Households the reception stations can settle per month, all stations together (Doc 6: many cannot settle).
    capacity_households_per_month: Annotated[float, Field(ge=0.0, le=1e9)] = 3000.0
    #: Share of illegal crossers the DPRK returns to China (Doc 10 Art. 4 (2), from 1964).
    return_illegal_prob: Prob = 0.0
    #: Those forced across by a disaster are not illegal crossers (Doc 10 Art. 1 and 4).
    disaster_exempt: bool = False
    #: Settled crossers may stay if the DPRK will settle them (Doc 7 (4a)); if not, a rule switch returns them.
    settled_may_stay: bool = True
    #: Crossers with a pending criminal case are returned (Doc 1 (3): "absolutely repatriate"; Doc 10 Art. 5).
    return_criminals: bool = False
    #: Returned crossers are handed over with information on their identity (Doc 10 Art. 4 (2)).
    identity_information: bool = False
    #: Mean days at a reception station before the DPRK decides (reception stations, Docs 3, 5; assumed).
    screening_days: Annotated[float, Field(ge=1, le=3650)] = 7.0
    #: Longest wait for a place before being sent back (Doc 6: "most of them cannot settle down").
    max_wait_days: Annotated[float, Field(ge=1, le=3650)] = 60.0


class Hours(_Strict):
    """Opening hours of the agreed crossing points, Beijing time (Doc 10 Art. 3 (4) (a))."""

    april_september: Annotated[tuple[int, int], Field(strict=False)] = (8, 17)
    october_march: Annotated[tuple[int, int], Field(strict=False)] = (9, 16)

    @model_validator(mode="after")
    def _order(self):
        for name in ("april_september", "october_march"):
            lo, hi = getattr(self, name)
            if not 0 <= lo < hi <= 24:
                raise ValueError(f"{name}: opening hours must satisfy 0 <= open < close <= 24, got {lo}-{hi}")
        return self


class BorderRules(_Strict):
    """How crossings are classified and handled at the line itself (Doc 10 Arts. 1, 3, 4)."""

    #: Crossing only at agreed points, within agreed hours, with documents (Doc 10 Art. 3 (1)-(4), Art. 4 (1)).
    agreed_points_and_hours: bool = False
    hours: Hours = Hours()
    #: Validity of a border resident's transit pass to visit relatives, days (Doc 10 Art. 3 (3): one month).
    transit_pass_days: Annotated[int, Field(ge=1, le=3650)] | None = None
    #: Corpses are investigated for nationality and cause of death (Doc 10 Art. 1 (5)).
    corpses_investigated: bool = False


Days = Annotated[float, Field(ge=1, le=3650)]


class NorthwardRules(_Strict):
    """The northward direction (issue 15): what China does with people who cross from the DPRK into China
    and with Korean nationals living in China, and what the DPRK does with its returned citizens.

    China's side: Doc 1 (2)-(3), Doc 2 (3), Doc 10 Arts. 1 (1), 4, 5 (1), 9 (2)-(3), Doc 11 (6); its lenient
    and stringent readings (the introduction: China "has vacillated between leniency and stringency").
    Korean nationals in China: Doc 8 (2), Doc 11 (1)-(9). The DPRK's treatment of returnees is not in the
    dossier: every DPRK lever is assumed. Read when used: on the day a crosser is caught (how the case is
    classified), on the day of the hand-over (identity information), daily (risk, search, watch).
    """

    #: Share of caught illegal crossers (not exempt, not criminals, not allowed to stay) handed back to the DPRK;
    #: the rest are released (Doc 1 (2): "we should, in principle, repatriate them"; Doc 10 Art. 4 (2): "will be
    #: returned"; Doc 11 (6): "should be sent back"; lenient reading: toleration, the introduction).
    repatriate_prob: Prob = 0.9
    #: Mean days from being caught to the hand-over (Doc 10 Art. 9 (2)-(3): exchanges at agreed locations;
    #: Doc 11 (6): "repatriated in a timely manner").
    return_days: Days = 30.0
    #: Share of those for whom return "is indeed inconvenient" (married in China, or the whole household came)
    #: who may stay with the DPRK's approval (Doc 1 (2); Doc 2 (3): women with "special circumstances").
    inconvenient_stay_prob: Prob = 0.5
    #: Mean days before such a case is decided (the DPRK's approval, Doc 1 (2); Doc 11 (6): "If there is a
    #: special situation, report and request for instructions").
    special_case_days: Days = 30.0
    #: Those forced across by a disaster are not illegal crossers: assisted, not returned (Doc 10 Arts. 1 (1), 4 (1)).
    disaster_exempt: bool = False
    #: The lenient reading of Art. 4: a food crossing in a famine counts as forced by "disaster" (the introduction:
    #: "rather generously interpreted Article Four ... except when border crossing is as a result of 'disaster'").
    famine_as_disaster: bool = False
    #: Crossers with a pending criminal case are returned, whatever else (Doc 1 (3): "absolutely repatriate";
    #: Doc 10 Art. 5 (1): "Elements that cross the border after committing crimes should be returned").
    return_criminals: bool = True
    #: Share of North Koreans with South Korean contacts treated as counter-revolutionaries under Art. 5 (1) and
    #: returned absolutely (the introduction: those with "relationships with South Korean bodies like churches and
    #: advocacy organizations, particularly those that are designed to overthrow the North Korean government").
    article5_sk_contact_share: Prob = 0.0
    #: Hand-overs carry information on identity and situation (Doc 10 Art. 4 (2)).
    identity_information: bool = False
    #: Multiplier on public security's search for illegal North Koreans inside China.
    enforcement: Factor = 1.0
    #: Multiplier on the Chinese guards' watch for northward crossers at the river.
    border_watch: Factor = 1.0
    #: At the switch to this rule set, share of the illegal North Koreans at large who are sought out and caught
    #: (Doc 11 (6): "In general, Koreans who illegally crossed the border should be sent back").
    return_backlog: Prob = 0.0
    #: Children of mixed couples get hukou (the introduction's generous reading of Art. 4).
    hukou_for_children: bool = False
    #: DPRK: share of kin-visit requests for which the DPRK issues a border-resident permit (Doc 9 (2): since
    #: 8 June 1955, "Ordinary [North] Korean nationals ... are eligible to obtain this permit"; Doc 10 Art. 3 (3)).
    dprk_passes: Prob = 0.5
    #: DPRK: perceived severity of punishment for leaving illegally, in units of the risk scale (assumed).
    dprk_punishment: Factor = 0.5
    #: DPRK: share of returnees it detains, when handed over with identity information and without (assumed).
    dprk_detain_with_identity: Prob = 0.5
    dprk_detain_without_identity: Prob = 0.2
    #: DPRK: mean days of detention (assumed).
    dprk_detention_days: Days = 30.0
    #: Korean nationals: share of return applications on an authorization letter approved (Doc 8 (2): "we will
    #: approve each of these requests"; Doc 11 (7)).
    kn_return_approval_prob: Prob = 0.9
    #: Korean nationals: mean days to decide an application.
    kn_processing_days: Days = 60.0
    #: Korean nationals: "suspects in serious political cases" are refused (Doc 11 (7)).
    kn_refuse_political_suspects: bool = False
    #: Share of the Cultural Revolution's obstruction of returns removed (Doc 11 (2): "Problems which arose during
    #: the Cultural Revolution are to be handled swiftly"; (7)).
    kn_obstruction_lifted: Prob = 0.0
    #: Share of the discrimination push removed (Doc 11 (1)-(5): no discrimination, no attacks or detention by
    #: work units, no transfers to lower levels, no political campaigns).
    kn_discrimination_relief: Prob = 0.0
    #: Applications to go to South Korea, Hong Kong, Macau or other capitalist countries approved (Doc 11 (8):
    #: "From today onwards ... will be denied"; before 1970 no rule is documented).
    kn_abroad_approval_prob: Prob = 0.5
    #: Applications for Chinese citizenship approved (Doc 11 (9): reviewed, then "letters of naturalization").
    kn_naturalisation_approval_prob: Prob = 0.5


class RuleSet(_Strict):
    """A named border regime."""

    name: str
    title: str = ""
    #: Document and article citations for the rule set as a whole.
    documents: list[str] = Field(default_factory=list)
    description: str = ""
    china: ChinaRules = ChinaRules()
    dprk: DPRKRules = DPRKRules()
    border: BorderRules = BorderRules()
    #: The northward direction and Korean nationals in China (issue 15).
    northward: NorthwardRules = NorthwardRules()
    #: Clauses of the rule set's documents that still have no flow to act on in the model (``bordersim rules``).
    no_flow: list[str] = Field(default_factory=list)


def crossing_is_legal(
    rules: RuleSet, documents: bool, agreed_point: bool, hour: float, month: int, disaster: bool = False
) -> bool:
    """Is a crossing legal under ``rules``?

    Doc 10 Art. 4 (1): "Those who do not hold legal documents or have used a crossing point not
    specified in the documents will be treated as illegal border crossers. However, those who were
    forced to cross the border as a result of a disaster will not be treated as illegal border
    crossers." Art. 3 (4): crossings only from 8:00 to 17:00 (April-September) or 9:00 to 16:00
    (October-March), Beijing time. Before the Protocol, a crossing is legal with documents alone.
    """
    if disaster and rules.dprk.disaster_exempt:
        return True
    if not documents:
        return False
    b = rules.border
    if not b.agreed_points_and_hours:
        return True
    lo, hi = b.hours.april_september if 4 <= month <= 9 else b.hours.october_march
    return agreed_point and lo <= hour < hi


class RuleSwitch(_Strict):
    """One entry of a scenario's rule timeline: from this day on, use this rule set."""

    from_: Date = Field(alias="from")
    use: str

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, populate_by_name=True, allow_inf_nan=False)


def library_dir() -> Path:
    """Directory of the built-in rule library."""
    return Path(str(resources.files("bordersim.world") / "data" / "rules"))


def available_rule_sets() -> list[str]:
    return sorted(p.stem for p in library_dir().glob("*.yaml"))


def rule_search_path(scenario_file: str | Path | None) -> list[Path]:
    """Where a scenario's rule sets are looked up: ``rules/`` beside the scenario file, then beside each
    file it ``extends:`` (nearest first), then the library.

    The one search path: validation (:func:`bordersim.world.loader.validate_scenario`) and the model
    (:class:`bordersim.model.BorderModel`) both use it, so a rule set that validates also runs. It is
    found from the scenario file alone, so a sweep's or a pool's worker finds the same rule sets.
    """
    dirs: list[Path] = []
    path = Path(scenario_file) if scenario_file is not None else None
    seen: set[Path] = set()
    while path is not None and path.resolve() not in seen:
        seen.add(path.resolve())
        local = path.parent / "rules"
        if local not in dirs:
            dirs.append(local)
        path = _extends_of(path)
    return dirs + [library_dir()]


def _extends_of(path: Path) -> Path | None:
    """The file that the scenario file ``path`` extends (None if none, or if it cannot be read)."""
    try:
        ref = read_yaml(path).get("extends")
    except ScenarioError:
        return None
    return path.parent / ref if isinstance(ref, str) and ref.strip() else None


def load_rule_set(name: str, overrides: dict | None = None, search: list[Path] | None = None) -> RuleSet:
    """Load the rule set ``name`` from the first of ``search`` that has it (default: the library), applying ``overrides``."""
    dirs = list(search) if search is not None else [library_dir()]
    for d in dirs:
        path = Path(d) / f"{name}.yaml"
        if path.exists():
            break
    else:
        raise ScenarioError(
            f"rule set {name!r}",
            f"unknown rule set {name!r} (available: {', '.join(available_rule_sets())}; "
            f"searched {', '.join(str(d) for d in dirs)})",
        )
    # Validated rule sets are kept per process, keyed by the file's content and the overrides (every replicate
    # and particle loads the same few; a rule set is never changed once loaded).
    key = (str(path.resolve()), path.read_bytes(), json.dumps(overrides or {}, sort_keys=True, default=str))
    cached = _RULE_SETS.get(key)
    if cached is not None:
        return cached
    data = read_yaml(path)
    if data.get("name") != name:
        raise ScenarioError(path, f"name: must be {name!r} (the file name), got {data.get('name')!r}")
    if overrides:
        data = deep_merge(data, overrides)
    try:
        rs = RuleSet.model_validate(data)
    except ValidationError as err:
        raise from_validation(path, err) from None
    if len(_RULE_SETS) > 256:
        _RULE_SETS.clear()
    _RULE_SETS[key] = rs
    return rs


_RULE_SETS: dict[tuple, RuleSet] = {}


def deep_merge(base: dict, over: dict) -> dict:
    """Recursively merge ``over`` into a copy of ``base``."""
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = v
    return out


class RuleTimeline:
    """The rule sets of a run and the day each takes effect."""

    def __init__(self, switches: list[tuple[dt.date, RuleSet]]):
        if not switches:
            raise ValueError("a rule timeline needs at least one entry")
        self.switches = sorted(switches, key=lambda s: s[0])

    def active(self, day: dt.date) -> RuleSet:
        """The rule set in force on ``day`` (a switch dated ``day`` is already in force)."""
        current = self.switches[0][1]
        for start, rs in self.switches:
            if start <= day:
                current = rs
            else:
                break
        return current
