"""The recorder's measures: name -> (unit, kind, description), and the groups of them.

Plain data (no numpy, no pandas), so that validating a scenario or a targets file, and ``bordersim
measures``, do not load the model. :mod:`.recorder` accumulates them.
"""

from __future__ import annotations

#: name -> (unit, kind, description). kind: "flow" (sum over the month) or "stock" (at month end).
MEASURES: dict[str, tuple[str, str, str]] = {
    "intending_households": (
        "households",
        "flow",
        "new intentions to move the whole household to the DPRK (Doc 4: 'requested a complete household move')",
    ),
    "intending_households_food_kin": ("households", "flow", "same, main reason low ration + kin in the DPRK (Doc 4 reason 1)"),
    "intending_households_rumour": ("households", "flow", "same, main reason rumours (Doc 4 reason 2)"),
    "intending_households_proper": ("households", "flow", "same, proper reasons (Doc 4 reason 3)"),
    "travel_applications": ("persons", "flow", "individuals applying to travel to the DPRK (Doc 4)"),
    "travel_applications_food_kin": ("persons", "flow", "same, reason 1"),
    "travel_applications_rumour": ("persons", "flow", "same, reason 2"),
    "travel_applications_proper": ("persons", "flow", "same, reason 3"),
    "travel_approved": ("persons", "flow", "travel applications approved (one-month pass)"),
    "travel_refused": ("persons", "flow", "travel applications refused"),
    "overstayed": ("persons", "flow", "approved travellers who stayed in the DPRK"),
    "authorization_letters": ("letters", "flow", "DPRK authorization letters received (Doc 6: 2,667 in Yanbian, 1961)"),
    "legal_applications": ("applications", "flow", "applications to go on an authorization letter (one per household)"),
    "legal_approved": ("applications", "flow", "applications approved"),
    "legal_refused": ("applications", "flow", "applications refused"),
    "legal_emigrated": ("persons", "flow", "persons who moved legally to the DPRK"),
    "lapsed_households": ("households", "flow", "intentions given up without an attempt or application"),
    "preparing_households": ("households", "flow", "households starting to prepare an illegal crossing (Docs 3, 5)"),
    "property_sold_households": (
        "households",
        "flow",
        "households that sold all their property as they set off on an illegal crossing (Docs 3, 5: 153 in Andong)",
    ),
    "attempted": ("persons", "flow", "persons attempting an illegal crossing (actual)"),
    "attempted_households": ("households", "flow", "households attempting an illegal crossing (actual)"),
    "attempted_in_group": ("persons", "flow", "persons crossing in groups forcing the crossing by day (Docs 3, 5)"),
    "detected": ("persons", "flow", "persons discovered crossing by Chinese guards, stopped or not (observed)"),
    "stopped": ("persons", "flow", "persons stopped at the border and sent home (Doc 6: 7,939 'convinced to return')"),
    "persuaded_back": ("persons", "flow", "of which persuaded to go home rather than detained (Doc 4; Doc 5 measure (4))"),
    "crossed": ("persons", "flow", "persons who got across alive (actual)"),
    "crossed_detected": (
        "persons",
        "flow",
        "persons discovered but not stopped: 'crossed without being stopped' as recorded (Doc 3)",
    ),
    "drowned": ("persons", "flow", "persons drowned crossing (actual)"),
    "corpses_found": ("corpses", "flow", "corpses found in the Yalu and Tumen (observed; includes DPRK residents)"),
    "corpses_chinese": ("corpses", "flow", "found corpses identified as Chinese nationals (Doc 6: 82)"),
    "corpses_korean": ("corpses", "flow", "found corpses identified as Korean nationals (Doc 6: 11)"),
    "corpses_unidentified": ("corpses", "flow", "found corpses not identified (Doc 6: 150)"),
    "arrived_reception": ("persons", "flow", "persons arriving at DPRK reception stations"),
    "settled": ("persons", "flow", "persons settled on DPRK cooperatives (Docs 3, 5)"),
    "settled_households": ("households", "flow", "households settled"),
    "allowance_yuan": ("yuan", "flow", "settling-in allowance paid, yuan (40 per labourer, Docs 3, 5)"),
    "grain_catties": ("catties", "flow", "grain given at settlement, catties"),
    "sent_back": ("persons", "flow", "persons sent back to China by the DPRK (Doc 6: 2,361)"),
    "sent_back_of_discovered": (
        "persons",
        "flow",
        "of which crossers whose crossing guards had discovered (Doc 6: 2,361 of 'these' 28,028)",
    ),
    "sent_back_single_han": ("persons", "flow", "of which single Han men (Docs 3, 5)"),
    "repatriated": ("persons", "flow", "of which returned under a return obligation (Doc 10 Art. 4 (2))"),
    "repatriated_criminals": ("persons", "flow", "of which returned as criminals (Doc 1 (3), Doc 10 Art. 5)"),
    "returned_with_identity": (
        "persons",
        "flow",
        "persons handed back with identity information, under rules that require it (Doc 10 Art. 4 (2))",
    ),
    "disaster_crossers": ("persons", "flow", "persons forced across by a disaster (Doc 10 Arts. 1, 4)"),
    "disaster_assisted_home": (
        "persons",
        "flow",
        "disaster victims assisted and sent home, not treated as illegal (Doc 10 Art. 1)",
    ),
    "marriage_crossings_in": ("persons", "flow", "DPRK women crossing into China illegally to marry (Doc 2)"),
    "marriage_repatriated": ("persons", "flow", "of which repatriated (Doc 2 (3))"),
    "returned_own": ("persons", "flow", "persons returning from the DPRK on their own initiative"),
    "returned_own_of_discovered": (
        "persons",
        "flow",
        "of which crossers whose crossing guards had discovered (Doc 6: 7,528 of 'these' 28,028)",
    ),
    "in_north_korea": ("persons", "stock", "persons from China in the DPRK at month end (legal and illegal)"),
    "in_north_korea_illegal": ("persons", "stock", "illegal crossers in the DPRK at month end (at reception or settled)"),
    "in_north_korea_of_discovered": (
        "persons",
        "stock",
        "of which crossers whose crossing guards had discovered (Doc 6: 7,034 'still in North Korea')",
    ),
    "at_reception": ("persons", "stock", "persons at reception stations at month end"),
    "preparing_stock_households": (
        "households",
        "stock",
        "households preparing an illegal crossing or on the way to the river at month end",
    ),
    "preparing_to_go_households": (
        "households",
        "stock",
        "households with a live intention to go at month end: deliberating, applying, preparing, on the way "
        "(Docs 3, 5: 1,843 in Andong 'preparing to move')",
    ),
    "population_china": ("persons", "stock", "persons of the simulated population in China at month end"),
    "mean_belief": ("share", "stock", "mean rumour belief of households at home (person-weighted)"),
    "mean_ration": ("catties", "stock", "mean effective ration, catties/person/year (person-weighted, households at home)"),
    # -- issue 15: the northward direction (model/north.py, model/china_police.py) -----------------------
    # Attributed to the Chinese region where the crossing point lies (where North Koreans arrive), not to a home.
    "attempted_north": ("persons", "flow", "persons from the DPRK side attempting an illegal crossing into China (actual)"),
    "attempted_north_food": ("persons", "flow", "same, main reason food (the food gradient; Doc 4 reason 1 mirrored)"),
    "attempted_north_work": ("persons", "flow", "same, main reason work in China (the introduction's farm and forestry jobs)"),
    "stopped_north_dprk": ("persons", "flow", "stopped by DPRK guards on their own bank"),
    "drowned_north": ("persons", "flow", "persons drowned crossing into China (actual; not in the corpse counts of Doc 6)"),
    "crossed_north": (
        "persons",
        "flow",
        "persons crossing from the DPRK into China illegally and alive: the DPRK side's crossers and the women crossing "
        "to marry (Doc 2, marriage_crossings_in)",
    ),
    "crossed_north_repeat": ("persons", "flow", "of the DPRK side's crossers, those who had crossed before (repeat crossers)"),
    "disaster_crossers_north": ("persons", "flow", "persons forced into China by a disaster on the DPRK side (Doc 10 Art. 1)"),
    "legal_visits_north": (
        "persons",
        "flow",
        "DPRK border residents visiting kin in China on a permit (Doc 9, Doc 10 Art. 3)",
    ),
    "overstayed_north": ("persons", "flow", "permit visitors who stayed on illegally"),
    "caught_china": ("persons", "flow", "North Koreans caught in China, at the river or inland (Doc 1 (2), Doc 10 Art. 4)"),
    "caught_china_at_river": ("persons", "flow", "of which caught by Chinese guards as they crossed"),
    "assisted_north": (
        "persons",
        "flow",
        "caught, not illegal: forced across by a disaster (Doc 10 Arts. 1, 4), assisted",
    ),
    "released_north": ("persons", "flow", "caught and released, not returned (toleration: the introduction's lenient reading)"),
    "stay_approved_north": (
        "persons",
        "flow",
        "allowed to stay in China: return 'inconvenient', approved (Doc 1 (2)), or women approved to marry (Doc 2 (3))",
    ),
    "returned_to_dprk": ("persons", "flow", "North Koreans handed back to the DPRK by China (incl. Doc 2's repatriated women)"),
    "returned_with_identity_north": (
        "persons",
        "flow",
        "of which handed back with information on identity and situation (Doc 10 Art. 4 (2))",
    ),
    "returned_without_identity_north": ("persons", "flow", "of which handed back without it (before the Protocol)"),
    "returned_criminals_north": (
        "persons",
        "flow",
        "of which returned as criminals or counter-revolutionaries (Doc 1 (3), Doc 10 Art. 5 (1))",
    ),
    "returned_long_stayers_north": (
        "persons",
        "flow",
        "of which after more than long_stay_days in China (the introduction: 'some for several years')",
    ),
    "handed_over_north": ("persons", "flow", "DPRK side's crossers handed back after custody (the hand-overs timed below)"),
    "handover_days_north": (
        "person-days",
        "flow",
        "days from being caught to the hand-over, summed over handed_over_north (mean = ratio; Doc 11 (6) 'timely')",
    ),
    "returned_home_own_north": (
        "persons",
        "flow",
        "North Koreans going home from China on their own (may cross again)",
    ),
    "detained_dprk": ("persons", "flow", "returnees and those stopped whom the DPRK detains (assumed levers)"),
    "married_in_china": ("persons", "flow", "North Korean women marrying in China (Doc 2; the introduction's mixed couples)"),
    "children_born_in_china": ("persons", "flow", "children born to North Korean women married in China"),
    "children_hukou": ("persons", "flow", "of which registered with hukou (the introduction's generous reading of Art. 4)"),
    "in_china_from_dprk": (
        "persons",
        "stock",
        "North Koreans in China at month end (at large, in custody, visiting, staying)",
    ),
    "in_china_from_dprk_illegal": ("persons", "stock", "of which illegally (at large or in custody)"),
    "in_custody_north": ("persons", "stock", "of which in Chinese custody awaiting hand-over or instructions"),
    "staying_approved_north": ("persons", "stock", "of which allowed to stay (Doc 1 (2), Doc 2 (3))"),
    "married_in_china_stock": ("persons", "stock", "North Korean women married in China at month end (incl. Doc 2's)"),
    "repeat_crossers_in_china": ("persons", "stock", "North Koreans illegally in China on a second or later crossing"),
    "population_dprk_border": ("persons", "stock", "persons at home on the DPRK side (attributed to the posts' Chinese regions)"),
    # -- issue 15: Korean nationals living in China (Doc 11; model/korean_nationals.py) -------------------
    "korean_nationals": ("persons", "stock", "Korean nationals (DPRK citizens) living in China at month end (Doc 11)"),
    "kn_struggled": ("persons", "flow", "Korean nationals 'criticized and struggled against' (Doc 11 preamble)"),
    "kn_return_applications": (
        "persons",
        "flow",
        "Korean nationals applying to return home on an authorization letter (Doc 11 (7))",
    ),
    "kn_returned": ("persons", "flow", "of which approved and gone home"),
    "kn_return_refused": ("persons", "flow", "of which refused or obstructed"),
    "kn_crossed_home": ("persons", "flow", "Korean nationals going home illegally"),
    "kn_abroad_applications": (
        "persons",
        "flow",
        "applications to go to South Korea, Hong Kong, Macau or other capitalist countries (Doc 11 (8))",
    ),
    "kn_abroad_denied": ("persons", "flow", "of which denied and reported for review (Doc 11 (8))"),
    "kn_abroad_emigrated": ("persons", "flow", "of which approved and gone"),
    "kn_naturalisation_applications": ("persons", "flow", "applications for Chinese citizenship (Doc 11 (9))"),
    "kn_naturalised": ("persons", "flow", "of which approved: letters of naturalization"),
}
MEASURE_INDEX = {m: i for i, m in enumerate(MEASURES)}
#: The measures of the northward direction and of Korean nationals in China (issue 15), appended after the
#: southward ones: a run's southward measures are the same whether the northward machinery runs or not.
NORTH_MEASURES = tuple(list(MEASURES)[MEASURE_INDEX["attempted_north"] :])
SOUTH_MEASURES = tuple(list(MEASURES)[: MEASURE_INDEX["attempted_north"]])
#: Stocks that are averages, not sums: rolled up with person weights.
AVERAGES = {"mean_belief", "mean_ration"}
