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
NonNeg = Annotated[float, Field(ge=0.0)]
Date = Annotated[dt.date, Field(strict=False)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


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
    interception_multiplier: NonNeg = 1.0
    #: Share of people stopped at the border who are persuaded to return home (Doc 6: 7,939 "convinced to return").
    persuasion_prob: Prob = 0.9
    #: Perceived severity of punishment of illegal crossing, in units of the risk scale (Doc 1: "punished severely").
    punishment: NonNeg = 0.5
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
    allowance_yuan_per_labourer: NonNeg = 40.0
    #: Grain given at settlement, catties per person ("a fixed amount of grain", Docs 3, 5; amount assumed).
    grain_catties_per_person: NonNeg = 100.0
    #: Unmarried Han Chinese men are returned in a timely manner (Docs 3, 5).
    return_single_han_men: bool = True
    #: Share of other arrivals sent back to China (Doc 6: 2,361 sent back in 1961).
    send_back_prob: Prob = 0.1
    #: Households the reception stations can settle per month, all stations together (Doc 6: many cannot settle).
    capacity_households_per_month: NonNeg = 3000.0
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

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, populate_by_name=True)


def library_dir() -> Path:
    """Directory of the built-in rule library."""
    return Path(str(resources.files("bordersim.world") / "data" / "rules"))


def available_rule_sets() -> list[str]:
    return sorted(p.stem for p in library_dir().glob("*.yaml"))


def rule_search_path(scenario_file: str | Path | None) -> list[Path]:
    """Where a scenario's rule sets are looked up: ``rules/`` beside the scenario file, then the library.

    The one search path: validation (:func:`bordersim.world.loader.validate_scenario`) and the model
    (:class:`bordersim.model.BorderModel`) both use it, so a rule set that validates also runs.
    """
    local = [Path(scenario_file).parent / "rules"] if scenario_file is not None else []
    return local + [library_dir()]


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
