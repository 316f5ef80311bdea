"""Scenarios: a world, a rule timeline, behavioural parameters and run settings, validated strictly.

The schema of a scenario file, validated by pydantic in strict mode (reading, ``extends:``, overrides
and ablations are in :mod:`bordersim.world.loader`): an unknown key, a wrong type, a probability
outside [0, 1], a negative ration, an end before the start, an unknown region or rule set, or a
missing file is a :class:`~bordersim.errors.ScenarioError` whose one-line message names the file,
the field path and what is wrong.

Dated world entries (rations, interception effort, interventions, ...) follow one rule: on a given
day, for a given home region, the entry with the latest ``from`` among those covering that region
(the region itself or an ancestor) and not yet expired (``to``) applies; on equal dates the more
specific region wins. "The most recent instruction applies."
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from .geography import POSTS, TREE
from .north import NorthParameters, NorthPopulation, NorthWorld
from .rules import RuleSwitch, deep_merge, rule_search_path

# Every number has bounds (and must be finite), so that a scenario that validates also runs: no
# overflow in a hazard, no Poisson mean numpy refuses, no population too large for memory.
Prob = Annotated[float, Field(ge=0.0, le=1.0)]
#: A hazard per day (per unit of its driver): zero to ten a day.
Rate = Annotated[float, Field(ge=0.0, le=10.0)]
#: A multiplier or weight (1 = as documented, 0 = switched off): zero to a hundred.
Factor = Annotated[float, Field(ge=0.0, le=100.0)]
#: Grain per person per year, catties: zero to 2,000 (the documents' rations are 200 to 360).
Catties = Annotated[float, Field(ge=0.0, le=2000.0)]
#: Persons of one region: zero to five million (1,339,569 Koreans lived in all of China in 1964).
Persons = Annotated[int, Field(ge=0, le=5_000_000)]
#: A yearly number of background events (drownings, marriage crossings): zero to 100,000.
PerYear = Annotated[float, Field(ge=0.0, le=100_000.0)]
#: A mean duration in days: at least a day, at most ten years.
Days = Annotated[float, Field(ge=1.0, le=3650.0)]
Date = Annotated[dt.date, Field(strict=False)]
#: Run dates: 1900 to 2100, at most fifty years long (the dossier's period is 1957-1970).
FIRST_DATE, LAST_DATE, MAX_RUN_DAYS = dt.date(1900, 1, 1), dt.date(2100, 12, 31), 366 * 50


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True, allow_inf_nan=False)


def _check_region(v: str) -> str:
    if not TREE.is_valid(v):
        raise ValueError(f"unknown region {v!r} (known: {', '.join(TREE.node_ids)})")
    return v


Region = Annotated[str, Field(description="a region id of the region tree")]


class _Dated(_Strict):
    from_: Date = Field(alias="from")
    to: Date | None = None
    region: Region = "china"

    _v_region = field_validator("region")(classmethod(lambda cls, v: _check_region(v)))

    @model_validator(mode="after")
    def _order(self):
        if self.to is not None and self.to < self.from_:
            raise ValueError(f"'to' ({self.to}) is before 'from' ({self.from_})")
        return self


class Ration(_Dated):
    """Grain ration standard, catties per person per year (Doc 4: 210 at least in border areas from Nov 1960)."""

    catties: Catties


class PoorBrigades(_Dated):
    """A share of production brigades that can supply only ``catties`` (Doc 6: "some ... only 200 catties")."""

    share: Prob
    catties: Catties


class Interception(_Dated):
    """Border guard effort (1 = the 1960 level) on the posts used by this region's people (Docs 3, 5)."""

    effort: Factor


class Intervention(_Dated):
    """A local package of measures (Doc 4's Lishu work; Doc 5's five measures; Doc 6's 1961 Jilin report).

    ``substitutes_to``: food substitutes and canteens raise the effective ration to this many catties;
    ``education``: multiplier (<1 lowers) on the hazard of forming an intention to leave;
    ``rebuttal``: weekly share of rumour belief removed by public rebuttal;
    ``permits_for_proper_reasons``: travel applications with proper reasons are approved.
    """

    substitutes_to: Catties | None = None
    education: Factor = 1.0
    rebuttal: Prob = 0.0
    permits_for_proper_reasons: bool = False


class Propensity(_Dated):
    """Local intensity of the outflow not explained by the modelled causes (multiplies intention hazards).

    Doc 4's Lishu counts come from one village, chosen for a "model investigation": whether it was
    typical of Yanbian or unusually affected is open, so ``value`` (1 = typical) is calibrated.
    """

    value: Annotated[float, Field(ge=0.0, le=1000.0)]


class RumourSeed(_Strict):
    """ "Bad elements" start spreading rumours (Doc 4 (2), Doc 5 (4)): a share of households become stubborn believers."""

    date: Date
    region: Region = "china"
    share: Prob
    belief: Prob = 1.0
    #: How long the seeds keep spreading before they are "isolated" or lose interest, days.
    active_days: Annotated[int, Field(gt=0, le=3650)] = 120

    _v_region = field_validator("region")(classmethod(lambda cls, v: _check_region(v)))


class Disaster(_Strict):
    """A flood, fire or other disaster that forces people across the border (Doc 10 Art. 1 (1), Art. 4 (1))."""

    date: Date
    region: Region
    kind: Literal["flood", "fire", "typhoon", "labour incident", "other"] = "flood"
    #: Share of the region's households at home forced across.
    share: Prob

    _v_region = field_validator("region")(classmethod(lambda cls, v: _check_region(v)))


class DatedValue(_Strict):
    from_: Date = Field(alias="from")
    value: Factor


class IcePeriod(_Strict):
    """Annual freeze-up and break-up of a river, as MM-DD strings."""

    freeze: str
    thaw: str

    @field_validator("freeze", "thaw")
    @classmethod
    def _mmdd(cls, v: str) -> str:
        try:
            dt.datetime.strptime(f"2001-{v}", "%Y-%m-%d")
        except ValueError:
            raise ValueError(f"expected MM-DD, got {v!r}") from None
        return v


class World(_Strict):
    """Exogenous conditions and dated events."""

    rations: list[Ration]
    poor_brigades: list[PoorBrigades] = Field(default_factory=list)
    interception: list[Interception] = Field(default_factory=list)
    interventions: list[Intervention] = Field(default_factory=list)
    rumour_seeds: list[RumourSeed] = Field(default_factory=list)
    propensity: list[Propensity] = Field(default_factory=list)
    #: Relative attraction of conditions in the DPRK (1 = 1960-61: work, food, settlement; Doc 3, intro).
    dprk_pull: list[DatedValue] = Field(default_factory=lambda: [DatedValue(**{"from": dt.date(1957, 1, 1), "value": 1.0})])
    ice: dict[Literal["tumen", "yalu"], IcePeriod] = Field(
        default_factory=lambda: {
            "tumen": IcePeriod(freeze="11-25", thaw="03-25"),
            "yalu": IcePeriod(freeze="12-10", thaw="03-10"),
        }
    )
    #: Drownings of DPRK residents in the border rivers per year (a source of the "Korean" corpses, Doc 6).
    #: Not given by the dossier: calibrated (calibration/abc.yaml) against Doc 6's share of Korean corpses.
    nk_drownings_per_year: PerYear = 30.0
    #: DPRK women crossing into China illegally to marry Chinese men, per year (Doc 2; level assumed).
    nk_marriage_crossings_per_year: PerYear = 20.0
    disasters: list[Disaster] = Field(default_factory=list)
    #: The northward direction's dated conditions: DPRK rations, China's pull, guards, enforcement (issue 15).
    north: NorthWorld = NorthWorld()

    @field_validator("ice")
    @classmethod
    def _every_river(cls, v: dict) -> dict:
        rivers = sorted({p.river for p in POSTS})
        missing = [r for r in rivers if r not in v]
        if missing:
            raise ValueError(f"no freeze and thaw dates for the {' and '.join(missing)} (give every river: {', '.join(rivers)})")
        return v


class Population(_Strict):
    """Who lives where. Sources: PBoC Jilin branch, Apr 1962 (580,000 ethnic Koreans in Yanbian, via the brief);
    Doc 4 (Lishu: 192 households, 936 people, so about 4.9 per household). Populations outside Yanbian are
    not given by the sources and are parameters (plausible ranges in docs/ODD.md)."""

    yanbian_persons: Persons = 580_000
    #: Shares of Yanbian's Koreans by county (assumed; Lishu's 936 are taken out of Helong).
    yanbian_shares: dict[str, Prob] = Field(
        default_factory=lambda: {
            "yanji_city": 0.14,
            "yanji_county": 0.26,
            "helong": 0.21,
            "hunchun": 0.14,
            "wangqing": 0.14,
            "antu": 0.11,
        }
    )
    #: Ethnic Koreans of the Tonghua border counties (assumed; plausible range 20,000-80,000 in all).
    tonghua_persons: dict[str, Persons] = Field(default_factory=lambda: {"changbai": 15_000, "jian": 20_000, "hunjiang": 10_000})
    #: Ethnic Koreans of Liaoning's border and hinterland cities (assumed; plausible range 60,000-200,000 in all).
    liaoning_persons: dict[str, Persons] = Field(
        default_factory=lambda: {
            "andong": 60_000,
            "anshan": 12_000,
            "fushun": 15_000,
            "benxi": 10_000,
            "shenyang": 35_000,
            "luda": 8_000,
        }
    )
    household_size_mean: Annotated[float, Field(gt=1.0, le=15.0)] = 4.9
    #: Share of household members who are labourers (for the 40-yuan allowance).
    labourer_share: Prob = 0.45
    #: Share of households with kin in the DPRK (Doc 4 (1): "utilized their family connections").
    kin_share: Prob = 0.55
    #: Share of Liaoning's (mostly urban, later-settled) households with kin in the DPRK.
    kin_share_liaoning: Prob = 0.4
    #: Single Han men in the border cities who join the flow (Docs 3, 5: returned by the DPRK), persons.
    single_han_men: Annotated[int, Field(ge=0, le=1_000_000)] = 1500
    #: Share of households that are DPRK nationals living in China (Docs 1, 8, 11).
    nk_national_share: Prob = 0.02
    #: Share of households with a pending criminal case or among "the five social elements and smugglers"
    #: (Doc 5); treated differently by Doc 1 (3) and Doc 10 Art. 5. Assumed.
    criminal_share: Prob = 0.002
    #: Include the Lishu Administrative Area (Doc 4) as an explicit, always fully simulated village.
    lishu: bool = True
    #: Households per village (hamlet) in the social network.
    village_households: Annotated[int, Field(ge=2, le=10_000)] = 40
    #: The DPRK side's households and the Korean nationals living in China (issue 15; :mod:`.north`).
    north: NorthPopulation = NorthPopulation()

    @field_validator("yanbian_shares", "tonghua_persons", "liaoning_persons")
    @classmethod
    def _regions(cls, v: dict) -> dict:
        for k in v:
            _check_region(k)
            if not TREE.by_id[k].posts:
                raise ValueError(f"{k!r} is not a home region")
        return v


class Parameters(_Strict):
    """Behavioural parameters (the calibration's free parameters live here). Rates are per day."""

    #: Ration that counts as enough, catties/person/year (Doc 6: the 360 originally stipulated).
    food_need: Annotated[float, Field(gt=0.0, le=2000.0)] = 360.0
    #: Mean delay, in days, with which a ration shortfall is felt as hunger: household stocks run down, then
    #: hunger and resentment build (Doc 4: requests rose month by month from the November 1960 cut; Doc 6:
    #: still "not eased" in March 1962). The memory kernel is Erlang with ``hunger_stages`` stages.
    hunger_memory_days: Days = 45.0
    #: Stages of the hunger kernel: 1 = felt at once and forgotten exponentially; 2 or more = a delayed
    #: onset (stocks first, then hunger), the kernel's mean staying ``hunger_memory_days``.
    hunger_stages: Annotated[int, Field(ge=1, le=4)] = 2
    #: Hazard of a household move intention per unit food shortfall, for households with kin (Doc 4 reason 1).
    rate_food_kin: Rate = 0.016
    #: Hazard per unit rumour belief (Doc 4 reason 2), scaled by (shortfall + rumour_floor).
    rate_rumour: Rate = 0.023
    rumour_floor: Factor = 0.15
    #: Background hazard for households with kin and proper reasons (Doc 4 reason 3).
    rate_proper: Rate = 0.0001
    #: Same three, for one member applying to travel (Doc 4's individual applications).
    travel_rate_food_kin: Rate = 0.013
    travel_rate_rumour: Rate = 0.007
    travel_rate_proper: Rate = 0.0003
    #: Share of the DPRK's pull owed to the settlement offer (allowance, grain, work; Doc 5 (3)); assumed.
    allowance_pull: Prob = 0.3
    #: Weight of perceived risk against leaving; risk = guard effort + punishment + return_deterrence x return share.
    risk_aversion: Factor = 0.8
    #: Hazard multiplier for households that have come back (returned, sent back, persuaded back).
    repeat_factor: Factor = 0.5
    #: Mean days between forming an intention and choosing a route.
    deliberation_days: Days = 10.0
    #: Probability that an intending household without an authorization letter prepares an illegal crossing.
    p_illegal: Prob = 0.1
    #: Same after a refused legal application.
    p_illegal_after_refusal: Prob = 0.3
    #: DPRK authorization letters per kin household per year. Calibrated against Doc 6's 2,667 letters
    #: received in Yanbian in 1961 (the count is a target, not an input).
    letter_rate: Annotated[float, Field(ge=0.0, le=365.0)] = 0.04
    #: Share of letter holders at home who apply. Calibrated against Doc 6's "about 1,778 applications".
    p_apply_on_letter: Prob = 0.8
    #: Probability that a household setting off on an illegal crossing has sold all its property first
    #: (Docs 3, 5). Calibrated against Andong's 153 households that "sold all of their property and
    #: attempted"; not set from 153 / 1,843.
    p_sell_property: Prob = 0.5
    #: Mean days of preparation before setting off.
    prep_days: Days = 25.0
    #: Share of individual (non-group) crossings made at night (Docs 3, 5: "secretly at night").
    p_night: Prob = 0.85
    #: Persons per day attempting at a post at which half of the households join organised groups (Docs 3, 5).
    group_threshold_persons: Annotated[float, Field(gt=0.0, le=1_000_000.0)] = 40.0
    #: Persons in an organised group (Docs 3, 5: "two groups of fifty people at Jiulian City").
    group_size: Annotated[float, Field(ge=1.0, le=10_000.0)] = 50.0
    #: Detection intensity per unit guard effort at night; day and ice multiply it.
    detection_base: Factor = 1.0
    day_visibility: Factor = 2.5
    ice_visibility: Factor = 1.3
    #: Intensity of stopping a detected party per unit effort; a group of fifty divides it by (1 + group_force).
    stop_rate: Factor = 0.5
    group_force: Factor = 2.0
    #: Drowning probability per person per crossing of open water; multiplied by route risk, night and season.
    drown_base: Prob = 0.02
    ice_drown_factor: Factor = 0.15
    flood_drown_factor: Factor = 2.0
    night_drown_factor: Factor = 1.5
    #: Corpses: found (Doc 6: "we found 243 corpses"), found after a delay, identified by nationality.
    corpse_found_prob: Prob = 0.7
    corpse_delay_days: Days = 12.0
    #: Share of found corpses identified by nationality. Calibrated against Doc 6's 82 + 11 of 243.
    corpse_identify_prob: Prob = 0.5
    #: Weight of the return obligation in perceived risk: those who will be sent back are deterred (Doc 10 Art. 4).
    return_deterrence: Factor = 1.0
    #: Identification probability of a corpse when corpses are investigated (Doc 10 Art. 1 (5)).
    corpse_identify_prob_investigated: Prob = 0.8
    #: Hazard that a settled household goes home on its own (Doc 6: family or property left in China).
    return_rate: Rate = 0.002
    return_family_factor: Factor = 1.0
    return_property_factor: Factor = 1.0
    #: Share of households that leave close family behind when they cross (Doc 6: "still have family [in China]").
    family_left_share: Prob = 0.5
    #: Letters home from settled crossers (Doc 5 (3)): hazard per settled household; belief added to contacts.
    letter_send_rate: Rate = 0.05
    letter_boost: Prob = 0.2
    #: Disappointed returnees lower their contacts' belief by this share (brief; Doc 6).
    returnee_damp: Prob = 0.1
    #: Weekly rumour dynamics: weight of neighbours' mean belief; forgetting.
    contact_weight: Prob = 0.35
    belief_decay: Prob = 0.04
    #: Social ties per household: within the village and kin elsewhere in the county.
    village_degree: Annotated[int, Field(ge=0, le=100)] = 6
    kin_degree: Annotated[int, Field(ge=0, le=100)] = 2
    #: Visits on a permit: days away (Doc 4 (4): "return at a set-time"; one month in Doc 10 Art. 3); share who stay.
    visit_days: Annotated[int, Field(ge=1, le=3650)] = 30
    overstay_prob: Prob = 0.1
    #: The northward decision (issue 15; :mod:`.north`): unset rates borrow the southward ones above.
    north: NorthParameters = NorthParameters()


class RunSettings(_Strict):
    start: Date
    end: Date
    seed: Annotated[int, Field(ge=0, lt=2**63)] = 1961
    replicates: Annotated[int, Field(ge=1, le=10_000)] = 1
    #: Share of households simulated (counts are scaled back); observed villages are always whole.
    scale: Annotated[float, Field(gt=0.0, le=1.0)] = 1.0

    @model_validator(mode="after")
    def _order(self):
        if self.end < self.start:
            raise ValueError(f"end ({self.end}) is before start ({self.start})")
        for name in ("start", "end"):
            if not FIRST_DATE <= getattr(self, name) <= LAST_DATE:
                raise ValueError(f"{name}: {getattr(self, name)} is outside {FIRST_DATE} to {LAST_DATE}")
        if (self.end - self.start).days + 1 > MAX_RUN_DAYS:
            raise ValueError(f"a run of {(self.end - self.start).days + 1:,} days is longer than fifty years")
        return self


class Posterior(_Strict):
    """Behavioural parameters from a calibration posterior (``calibration/posterior.parquet``).

    ``draw``: each replicate draws one particle of the final generation (by weight), so the run's
    intervals carry parameter uncertainty as well as stochastic noise; ``median``: every replicate
    uses the weighted posterior median of each parameter.
    """

    file: str
    mode: Literal["draw", "median"] = "draw"


class Scenario(_Strict):
    """A complete, validated scenario."""

    name: str
    description: str = ""
    run: RunSettings
    population: Population = Population()
    world: World
    rules: list[RuleSwitch]
    #: Per-scenario changes of single rules, e.g. ``{dprk: {allowance_yuan_per_labourer: 0}}`` (every rule set).
    rule_overrides: dict = Field(default_factory=dict)
    #: Changes of single levers of one named rule set only, e.g. ``{practice_1961: {china: {legal_approval_prob:
    #: 0.6}}}``: how a calibration sets a lever that the archive informs for the period of that rule set
    #: without carrying it into other regimes (the 1964 or 1970 replays). ``rule_overrides`` win over them.
    rule_set_overrides: dict[str, dict] = Field(default_factory=dict)
    parameters: Parameters = Parameters()
    #: Archival targets to compare with (path relative to the scenario file).
    targets: str | None = None
    #: The scenario this one was built on (resolved path; informational, set by the loader).
    extends: str | None = None
    #: Draw behavioural parameters from a calibration posterior (path relative to the scenario file).
    posterior: Posterior | None = None

    #: The file the scenario was read from (set by the loader; not part of the scenario's content).
    _source: str | None = PrivateAttr(default=None)

    @field_validator("rules")
    @classmethod
    def _nonempty(cls, v):
        if not v:
            raise ValueError("at least one rule set is needed")
        return v

    @property
    def source(self) -> str | None:
        """The scenario file this scenario was validated from (None if built in memory)."""
        return self._source

    def overrides_for(self, rule_set: str) -> dict | None:
        """The lever changes that apply to rule set ``rule_set``: its own (``rule_set_overrides``: e.g. a
        level calibrated for that regime), then ``rule_overrides``, which win: a scenario's or a
        counterfactual's change of a lever holds under every rule set, the calibrated ones included."""
        own = self.rule_set_overrides.get(rule_set)
        if not own:
            return self.rule_overrides or None
        return deep_merge(own, self.rule_overrides or {})

    def rule_search_path(self) -> list[Path]:
        """Where its rule sets are found: ``rules/`` beside the scenario file, then the built-in library."""
        return rule_search_path(self._source)
