"""Inputs of the northward direction (issue 15): the DPRK side of the border, its households' conditions,
China's conditions for North Koreans, and Korean nationals living in China (Doc 11).

The introduction: "Prior to the 1990s, migration between the two countries was mainly a one-way traffic
of ethnic Koreans of Chinese nationality heading south towards North Korea. Some contra-flow took place
as North Korean women who had married Chinese men attempted ... to move to China (Document No. 2)"; "what
was very new about the 1990s was not inter-country migration itself but the reversal of migration flow
patterns"; "The pull and push factors shaping North Koreans' decision-making were that China's economy
developed exponentially at the same time as North Korea's economy tanked."

Three parts of a scenario, each one field of the existing schema (:mod:`bordersim.world.scenario`):

* ``population.north`` (:class:`NorthPopulation`): households on the DPRK side of the river segments
  and crossing points of :mod:`bordersim.world.geography` (the towns the posts face: Musan, Hoeryong,
  Onsong, Hyesan, Manpo, Sinuiju), with kin in China or not; Korean nationals living in China (Doc 11).
* ``world.north`` (:class:`NorthWorld`): dated conditions: the DPRK's rations by zone, China's pull for
  North Koreans (work and food), the DPRK's guards, China's search for illegal North Koreans (the early
  2000s round-ups of the introduction), South Korean bodies in the border area, disasters on the DPRK
  side (Doc 10 Art. 1), the Cultural Revolution's pressure on Korean nationals (Doc 11 preamble).
* ``parameters.north`` (:class:`NorthParameters`): the northward decision. Most of its rates are
  *borrowed* (``None``, the default) from the southward parameter of the same role, so that the same
  machinery, with the southward flow's calibrated rates, runs the other way: the people on both banks
  are Koreans of the border region with the same habits (Doc 5: "the habit among ethnic Koreans to move
  around"; the introduction: "cross-border migration was already a familiar coping strategy for Koreans
  living in the China/DPRK border region"). That is an assumption, not a calibration of the north: no
  northward figure is fitted.

Nothing here is read by the southward simulation: these inputs change no southward measure.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Annotated, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .geography import TREE

Prob = Annotated[float, Field(ge=0.0, le=1.0)]
#: Non-negative levels, rates and factors; bounded like the southward schema's, so that whatever validates runs.
NonNeg = Annotated[float, Field(ge=0.0, le=100_000.0)]
Pos = Annotated[float, Field(gt=0.0, le=100_000.0)]
Days = Annotated[float, Field(ge=1.0, le=3650.0)]
Date = Annotated[dt.date, Field(strict=False)]


# -- the DPRK side of the border ------------------------------------------------------------------
@dataclass(frozen=True)
class Zone:
    """A node of the DPRK side's region tree: the zone facing one river segment (leaves) or a province."""

    id: str
    name: str
    parent: str | None
    #: Crossing posts (ids of :data:`bordersim.world.geography.POSTS`) used by people of this zone, with weights.
    posts: dict[str, float] = field(default_factory=dict)


_ANDONG_POINTS = ("gulouzi", "hushan", "jiulian_city", "langtao", "anning")

#: The DPRK side: each leaf is the zone facing one of the model's posts, named after the town the post's
#: ``station`` label gives (assumed geography: the dossier names no place on the DPRK side but Sinuiju, Doc 5).
ZONES: list[Zone] = [
    Zone("dprk", "DPRK border region", None),
    Zone("north_hamgyong", "North Hamgyong (the Tumen)", "dprk"),
    Zone("ryanggang", "Ryanggang (the upper Yalu)", "dprk"),
    Zone("chagang", "Chagang (the middle Yalu)", "dprk"),
    Zone("north_pyongan", "North Pyongan (the lower Yalu)", "dprk"),
    Zone("musan", "Musan, facing Helong and Antu", "north_hamgyong", {"tumen_upper": 1.0}),
    Zone("hoeryong", "Hoeryong, facing Yanji and Helong", "north_hamgyong", {"tumen_middle": 1.0}),
    Zone("onsong", "Onsong, facing Hunchun and Wangqing", "north_hamgyong", {"tumen_lower": 1.0}),
    Zone("hyesan", "Hyesan, facing Changbai", "ryanggang", {"yalu_upper": 1.0}),
    Zone("manpo", "Manpo, facing Ji'an and Hunjiang", "chagang", {"yalu_middle": 1.0}),
    Zone("sinuiju", "Sinuiju, facing Andong", "north_pyongan", {p: 0.2 for p in _ANDONG_POINTS}),
]


class ZoneTree:
    """The DPRK side's tree, with the interface :func:`bordersim.model.schedule.resolve_schedule` reads
    (``leaf_ids``, ``depth``, ``leaves_under``), and each leaf's crossing posts."""

    def __init__(self, zones: list[Zone] | None = None):
        self.zones = list(zones or ZONES)
        self.by_id = {z.id: z for z in self.zones}
        self.node_ids = [z.id for z in self.zones]
        self.leaf_ids = [z.id for z in self.zones if z.posts]
        self.leaf_index = {z: i for i, z in enumerate(self.leaf_ids)}
        self.post_weights = np.zeros((len(self.leaf_ids), len(TREE.post_ids)))
        for j, leaf in enumerate(self.leaf_ids):
            w = self.by_id[leaf].posts
            for pid, x in w.items():
                self.post_weights[j, TREE.post_index[pid]] = x / sum(w.values())

    def ancestors(self, zid: str) -> list[str]:
        out, parent = [], self.by_id[zid].parent
        while parent is not None:
            out.append(parent)
            parent = self.by_id[parent].parent
        return out

    def depth(self, zid: str) -> int:
        return len(self.ancestors(zid))

    def leaves_under(self, zid: str) -> list[int]:
        return [i for i, leaf in enumerate(self.leaf_ids) if leaf == zid or zid in self.ancestors(leaf)]

    def is_valid(self, zid: str) -> bool:
        return zid in self.by_id


ZONE_TREE = ZoneTree()


def _zone(v: str) -> str:
    if not ZONE_TREE.is_valid(v):
        raise ValueError(f"unknown DPRK zone {v!r} (known: {', '.join(ZONE_TREE.node_ids)})")
    return v


def _china_region(v: str) -> str:
    if not TREE.is_valid(v):
        raise ValueError(f"unknown region {v!r} (known: {', '.join(TREE.node_ids)})")
    return v


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True, allow_inf_nan=False)


class _ZoneDated(_Strict):
    from_: Date = Field(alias="from")
    to: Date | None = None
    region: str = "dprk"

    _v_region = field_validator("region")(classmethod(lambda cls, v: _zone(v)))

    @model_validator(mode="after")
    def _order(self):
        if self.to is not None and self.to < self.from_:
            raise ValueError(f"'to' ({self.to}) is before 'from' ({self.from_})")
        return self


class _ChinaDated(_ZoneDated):
    region: str = "china"

    _v_region = field_validator("region")(classmethod(lambda cls, v: _china_region(v)))


class DPRKRation(_ZoneDated):
    """The ration households of a DPRK zone get, catties per person per year (the DPRK's public distribution).
    Not in the dossier: every entry of a scenario is dated and marked assumed."""

    catties: NonNeg


class DPRKGuards(_ZoneDated):
    """Effort of the DPRK's own border guards on its bank (1 = the 1960s level; assumed)."""

    effort: NonNeg


class ChinaEnforcement(_ChinaDated):
    """How hard Chinese public security searches for illegal North Koreans inside China (1 = ordinary), by the
    Chinese region they live in; a campaign is a dated entry (the introduction: "rounding up and sending
    hundreds of North Koreans who had previously lived illegally but relatively securely in China")."""

    level: NonNeg


class KoreanNationalsPressure(_ChinaDated):
    """The Cultural Revolution's pressure on Korean nationals (Doc 11 preamble: "they were criticized and
    struggled against, their homes were ransacked, and their passports were confiscated").

    ``discrimination``: intensity of the push (0-1); ``obstruction``: share of applications to return home
    that cannot proceed (passports confiscated, work units obstructing)."""

    discrimination: Prob = 0.0
    obstruction: Prob = 0.0


class NorthDatedValue(_Strict):
    from_: Date = Field(alias="from")
    value: NonNeg


class NorthDisaster(_Strict):
    """A flood, fire or other disaster that forces DPRK residents across into China (Doc 10 Art. 1 (1):
    "Civilians who are forced to enter the other side's territory as a result of a disaster should be
    assisted")."""

    date: Date
    region: str
    kind: Literal["flood", "fire", "typhoon", "labour incident", "other"] = "flood"
    #: Share of the zone's households at home forced across (the whole household).
    share: Prob

    _v_region = field_validator("region")(classmethod(lambda cls, v: _zone(v)))


def _default_dprk_persons() -> dict[str, int]:
    # Assumed: the dossier gives no population for the DPRK side. Orders of magnitude for the towns and
    # counties on the river around 1960 (plausible range 0.5-2 times each); the 1990s scenarios set their own.
    return {"musan": 60_000, "hoeryong": 90_000, "onsong": 70_000, "hyesan": 80_000, "manpo": 60_000, "sinuiju": 180_000}


def _default_korean_nationals() -> dict[str, int]:
    # Assumed: Doc 11 gives no number, only that the cases "are quite common in a number of regions"; a few
    # thousand Korean nationals (DPRK citizens) in the modelled cities and counties, most in the cities.
    return {
        "yanji_city": 2_000,
        "yanji_county": 600,
        "helong": 400,
        "hunchun": 400,
        "wangqing": 300,
        "antu": 200,
        "changbai": 200,
        "jian": 300,
        "hunjiang": 300,
        "andong": 1_000,
        "anshan": 300,
        "fushun": 300,
        "benxi": 200,
        "shenyang": 1_500,
        "luda": 200,
    }


class NorthPopulation(_Strict):
    """Who lives on the DPRK side, and the Korean nationals living in China (Doc 11)."""

    #: Persons in each DPRK zone's border towns and villages (assumed; see :func:`_default_dprk_persons`).
    persons: dict[str, Annotated[int, Field(ge=0, le=5_000_000)]] = Field(default_factory=_default_dprk_persons)
    #: Mean household size on the DPRK side (assumed; Lishu's 4.9, Doc 4, is of Chinese Koreans).
    household_size_mean: Annotated[float, Field(gt=1.0, le=15.0)] = 4.5
    #: Share of DPRK border households with kin in China (assumed: the colonial-era migration to the Northeast
    #: came largely from the northern provinces, and the 1950s-60s migration south left kin behind, intro).
    kin_share: Prob = 0.3
    #: Share with a pending criminal case (Doc 1 (3); Doc 10 Art. 5; assumed, as the southward 0.002).
    criminal_share: Prob = 0.002
    #: Korean nationals (DPRK citizens) living in China, persons by Chinese home region (Doc 11; assumed).
    korean_nationals: dict[str, Annotated[int, Field(ge=0, le=5_000_000)]] = Field(default_factory=_default_korean_nationals)
    korean_nationals_household_size: Annotated[float, Field(ge=1.0, le=15.0)] = 3.5
    #: Share of Korean-national households with family in South Korea, Hong Kong, Macau or another
    #: "capitalist country" who would apply to go there (Doc 11 (8); assumed).
    korean_nationals_abroad_share: Prob = 0.05

    @field_validator("persons")
    @classmethod
    def _zones(cls, v: dict) -> dict:
        for k in v:
            if k not in ZONE_TREE.leaf_ids:
                raise ValueError(f"{k!r} is not a DPRK border zone (known: {', '.join(ZONE_TREE.leaf_ids)})")
        return v

    @field_validator("korean_nationals")
    @classmethod
    def _leaves(cls, v: dict) -> dict:
        for k in v:
            _china_region(k)
            if not TREE.by_id[k].posts:
                raise ValueError(f"{k!r} is not a home region")
        return v


class NorthWorld(_Strict):
    """The DPRK's and China's conditions for the northward flow, each a dated input (the latest ``from``
    covering a zone or region applies; on equal dates the more specific one)."""

    #: Rations on the DPRK side (default: 380 from 1957, enough; assumed: the introduction's "North Korea that
    #: was undergoing economic growth" of the late 1950s; Doc 4's rumour of "its best harvest in 80 years"
    #: is a rumour, not evidence).
    dprk_rations: list[DPRKRation] = Field(
        default_factory=lambda: [DPRKRation(**{"from": dt.date(1957, 1, 1), "region": "dprk", "catties": 380.0})]
    )
    #: Attraction of China for North Koreans: work (the introduction's "low-paying jobs in agriculture and
    #: forestry") and food, relative to the 1990s (1). Default 0.2 from 1957 (assumed: China's own famine and
    #: the collective economy offered North Koreans little before the reforms).
    china_pull: list[NorthDatedValue] = Field(
        default_factory=lambda: [NorthDatedValue(**{"from": dt.date(1957, 1, 1), "value": 0.2})]
    )
    #: DPRK guards on their own bank (default 1 everywhere).
    dprk_guards: list[DPRKGuards] = Field(default_factory=list)
    #: China's search for illegal North Koreans inland (default 1 everywhere).
    china_enforcement: list[ChinaEnforcement] = Field(default_factory=list)
    #: Contacts with South Korean bodies (churches, advocacy organisations), per North Korean in China per year
    #: (the introduction; default 0: none before the 1990s, so Art. 5's stringent reading has nothing to act on).
    south_korean_contacts: list[NorthDatedValue] = Field(default_factory=list)
    #: The Cultural Revolution's pressure on Korean nationals (Doc 11 preamble; default none).
    korean_nationals_pressure: list[KoreanNationalsPressure] = Field(default_factory=list)
    #: Disasters on the DPRK side forcing people across (Doc 10 Art. 1 (1), Art. 4 (1); default none).
    disasters: list[NorthDisaster] = Field(default_factory=list)


#: Northward parameters borrowed, when left ``None``, from the southward parameter of the same role.
BORROWED: dict[str, str] = {
    "food_need": "food_need",
    "hunger_memory_days": "hunger_memory_days",
    "hunger_stages": "hunger_stages",
    "rate_food": "rate_food_kin",
    "rate_work": "rate_rumour",
    "work_floor": "rumour_floor",
    "rate_kin": "rate_proper",
    "p_illegal": "p_illegal",
    "p_illegal_after_refusal": "p_illegal_after_refusal",
    "risk_aversion": "risk_aversion",
    "return_deterrence": "return_deterrence",
    "repeat_factor": "repeat_factor",
    "return_rate": "return_rate",
    "return_family_factor": "return_family_factor",
    "return_property_factor": "return_property_factor",
    "detection_base": "detection_base",
    "stop_rate": "stop_rate",
    "p_night": "p_night",
    "day_visibility": "day_visibility",
    "ice_visibility": "ice_visibility",
    "drown_base": "drown_base",
    "night_drown_factor": "night_drown_factor",
    "ice_drown_factor": "ice_drown_factor",
    "flood_drown_factor": "flood_drown_factor",
    "news_weight": "contact_weight",
    "visit_days": "visit_days",
    "overstay_prob": "overstay_prob",
}


class NorthParameters(_Strict):
    """The northward decision and life in China. ``None`` = borrow the southward parameter named in
    :data:`BORROWED` (the same machinery; see the module docstring). Rates are per day unless stated."""

    # -- borrowed by default: the three channels, mirrored from Doc 4's reasons -------------------------
    #: Food: hazard per unit food gradient (DPRK hunger minus China's), households that know where to go
    #: (kin in China, or belief); the mirror of Doc 4 reason (1). Default: ``rate_food_kin``.
    rate_food: NonNeg | None = None
    #: Work: hazard per unit belief x (gradient + floor), households with kin or contacts in China (the
    #: introduction's "low-paying jobs in agriculture and forestry"); the mirror of Doc 4 reason (2), whose
    #: rumours promised work. Default: ``rate_rumour`` and ``rumour_floor``.
    rate_work: NonNeg | None = None
    work_floor: NonNeg | None = None
    #: Kin: visits to relatives (Doc 9's border-resident permits; Doc 10 Art. 3 (3)), kin households; they go
    #: legally or not at all, like Doc 4's proper reasons. Default: ``rate_proper``.
    rate_kin: NonNeg | None = None
    food_need: Pos | None = None
    hunger_memory_days: Days | None = None
    hunger_stages: Annotated[int, Field(ge=1, le=4)] | None = None
    p_illegal: Prob | None = None
    p_illegal_after_refusal: Prob | None = None
    risk_aversion: NonNeg | None = None
    return_deterrence: NonNeg | None = None
    #: Hazard multiplier after the DPRK has detained a member (deterrence by punishment).
    repeat_factor: NonNeg | None = None
    #: Going home from China on one's own: ``return_rate x (1 + family factor x family at home + property
    #: factor x property at home)``, the southward settlers' own-return hazard (Doc 6).
    return_rate: NonNeg | None = None
    return_family_factor: NonNeg | None = None
    return_property_factor: NonNeg | None = None
    #: The Chinese guards at the river (the same guards as for the southward flow, Docs 3, 5).
    detection_base: NonNeg | None = None
    stop_rate: NonNeg | None = None
    p_night: Prob | None = None
    day_visibility: NonNeg | None = None
    ice_visibility: NonNeg | None = None
    #: The same rivers (Doc 6: "deaths have occurred").
    drown_base: Prob | None = None
    night_drown_factor: NonNeg | None = None
    ice_drown_factor: NonNeg | None = None
    flood_drown_factor: NonNeg | None = None
    #: Weekly weight of news from China in a household's belief. Default: ``contact_weight``.
    news_weight: Prob | None = None
    visit_days: Annotated[int, Field(ge=1, le=3650)] | None = None
    overstay_prob: Prob | None = None
    # -- the north's own (assumed; no northward figure is fitted) ---------------------------------------
    #: Share of food crossings made by the whole household (the rest send one member). Assumed.
    household_party_share: Prob = 0.2
    #: Share of women among one-member crossers. Assumed (the dossier documents only women crossing to marry, Doc 2).
    female_share: Prob = 0.5
    #: DPRK guards' stopping intensity per unit effort and visibility. Assumed.
    dprk_stop_base: NonNeg = 0.3
    #: Hazard that a North Korean at large in China is caught by Chinese public security at enforcement 1
    #: (1/730: on average after two years). Assumed.
    catch_rate: NonNeg = 1.0 / 730.0
    #: Belief target of households without kin: ``min(1, news_gain x share of the zone's households that have
    #: been to China)`` (returnees' news: the introduction's "familiar coping strategy"). Assumed.
    news_gain: NonNeg = 5.0
    #: Days in China after which a crosser has contacts there (employers, brokers) that open the work channel. Assumed.
    contact_days: Days = 30.0
    #: Hazard that a woman at large in China marries a Chinese man (Doc 2; the introduction's mixed couples). Assumed.
    marriage_rate: NonNeg = 1.0 / 730.0
    #: Own-return hazard multiplier of a married woman. Assumed.
    married_return_factor: NonNeg = 0.1
    #: Protection of a married woman from being caught (her household and village shelter her). Assumed.
    married_protection: Prob = 0.5
    #: Further protection when her children are registered (the introduction: hukou for children of mixed couples). Assumed.
    hukou_protection: Prob = 0.5
    #: Births per married woman per year. Assumed.
    birth_rate: NonNeg = 0.2
    #: Felt DPRK hunger above which the lenient reading counts a food crossing as forced by "disaster". Assumed.
    famine_threshold: Prob = 0.3
    #: Detention of a returnee treated as a counter-revolutionary, times the ordinary (the introduction: they
    #: "have a hard time of it if they are deported back"). Assumed.
    political_detention_factor: NonNeg = 4.0
    #: A returned crosser counts among ``returned_long_stayers_north`` after this many days in China (the
    #: introduction: "some for several years").
    long_stay_days: Days = 365.0
    # -- Korean nationals in China (Doc 11), assumed ---------------------------------------------------
    #: Background hazard that a Korean-national household decides to leave China.
    kn_rate_base: NonNeg = 1.0 / 7300.0
    #: Extra hazard per unit discrimination (Doc 11 preamble), doubled for those struggled against.
    kn_rate_discrimination: NonNeg = 1.0 / 1825.0
    #: Hazard per unit discrimination of being "criticized and struggled against" (then a political suspect).
    kn_struggle_rate: NonNeg = 1.0 / 730.0
    #: DPRK "authorization letters" (Doc 11 (7)) per Korean-national household per year.
    kn_letter_rate: NonNeg = 0.5
    #: Hazard of applying for Chinese citizenship (Doc 11 (9)).
    kn_naturalise_rate: NonNeg = 1.0 / 20000.0


@dataclass(frozen=True)
class NorthValues:
    """The northward parameters with every borrowed value filled in (floats)."""

    values: dict[str, float]

    def __getattr__(self, name: str):
        try:
            return self.values[name]
        except KeyError:
            raise AttributeError(name) from None


def resolve_parameters(north: NorthParameters, south) -> NorthValues:
    """The northward parameters, each ``None`` replaced by the southward parameter of :data:`BORROWED`
    (``south`` is the scenario's :class:`~bordersim.world.scenario.Parameters`)."""
    out = {}
    for name, value in north.model_dump().items():
        out[name] = getattr(south, BORROWED[name]) if value is None and name in BORROWED else value
    return NorthValues(out)
