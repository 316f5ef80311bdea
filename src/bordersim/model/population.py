"""Building the population: every household of a scenario at the run's scale (Docs 3, 4, 5, 9).

Yanbian's 580,000 ethnic Koreans (PBoC Jilin branch, April 1962) by county, Tonghua's and Liaoning's
populations (parameters: the sources do not give them), single Han men in the border cities (Docs 3,
5), DPRK nationals and people with a pending criminal case (Docs 1, 5, 8, 10, 11). The Lishu village
of Doc 4 (192 households, 936 people) is always simulated whole.

Every draw is keyed by the household's stable key (:mod:`.streams`): its home region and its index
within the region (single Han men: their own block), so that changing one region's population leaves
every other household as it was. Households are stored by home region and village (villages:
consecutive blocks of a random order within each home region), so that a village's households are
neighbours in memory.
"""

from __future__ import annotations

import math

import numpy as np

from ..world.geography import RegionTree
from ..world.scenario import Scenario
from .households import Households
from .streams import BUILD, JOURNEY, Kind, Streams, block_code, exponential, household_keys

#: The block of single Han men (Docs 3, 5): keyed apart from the regions' households.
HAN_BLOCK = "single_han_men"
HAN_LEAVES = ["andong", "yanji_city", "shenyang", "anshan"]


def _poisson_table(mean: float) -> np.ndarray:
    """CDF of Poisson(``mean``) on 0, 1, ... up to where it reaches 1 in floating point."""
    k, pmf, cdf = 0, math.exp(-mean), []
    total = pmf
    while total < 1.0 - 1e-16 and k < 200:
        cdf.append(total)
        k += 1
        pmf *= mean / k
        total += pmf
    cdf.append(1.0)
    return np.array(cdf)


def household_sizes(u: np.ndarray, mean: float) -> np.ndarray:
    """Household sizes >= 1 with the given mean (1 + Poisson(mean - 1)), from uniforms by inversion."""
    return (1 + np.searchsorted(_poisson_table(mean - 1.0), u, side="right")).astype(np.int16)


def _lishu_sizes(sizes: np.ndarray, streams: Streams) -> np.ndarray:
    """192 households with exactly 936 people (Doc 4): members added to or taken from households drawn in turn."""
    diff = 936 - int(sizes.sum())
    step = 0
    while diff != 0:
        j = int(streams.uniform(Kind.LISHU, np.zeros(1, dtype=np.uint64), step)[0] * 192)
        step += 1
        d = 1 if diff > 0 else -1
        if sizes[j] + d >= 1:
            sizes[j] += d
            diff -= d
    return sizes


def _blocks(sc: Scenario, tree: RegionTree) -> list[tuple[str, int, float]]:
    """(home region, households simulated, weight) of every block of the population."""
    pop = sc.population
    persons: dict[str, float] = {}
    tot_share = sum(pop.yanbian_shares.values()) or 1.0
    for k, s in pop.yanbian_shares.items():
        persons[k] = pop.yanbian_persons * s / tot_share
    persons.update(pop.tonghua_persons)
    persons.update(pop.liaoning_persons)
    if pop.lishu:
        persons["helong"] = max(0.0, persons.get("helong", 0.0) - 936)
    blocks = []
    for leaf in tree.leaf_ids:
        if leaf == "lishu":
            if pop.lishu:
                blocks.append((leaf, 192, 1.0))
            continue
        # Whole households: at scale 1 every household is simulated once (weight exactly 1), so persons are
        # whole too; at a smaller scale each simulated household stands for true / simulated households.
        true_hh = int(round(persons.get(leaf, 0.0) / pop.household_size_mean))
        n_sim = int(round(true_hh * sc.run.scale))
        if n_sim > 0:
            blocks.append((leaf, n_sim, true_hh / n_sim))
    n_han = int(round(pop.single_han_men * sc.run.scale))
    if n_han:
        blocks.append((HAN_BLOCK, n_han, pop.single_han_men / n_han))
    return blocks


def build_households(sc: Scenario, tree: RegionTree, streams: Streams) -> Households:
    """Create every household of the scenario's population at the run's scale.

    A region's true number of households is its persons over the mean household size, rounded to a
    whole number; ``run.scale`` of them are simulated (weight = true / simulated households, exactly 1
    at scale 1). Household sizes are drawn (1 + Poisson), so a region's persons at the start are near
    its given population, not equal to it; at scale 1 they are whole numbers. The Lishu village (Doc 4)
    is always simulated whole: 192 households, exactly 936 people, weight 1.
    """
    pop, p = sc.population, sc.parameters
    blocks = _blocks(sc, tree)
    n = sum(b[1] for b in blocks)
    hh = Households(n)
    liaoning = set(tree.leaves_under("liaoning"))
    han_leaf = np.array([tree.leaf_index[x] for x in HAN_LEAVES])
    i = 0
    for name, n_sim, w in blocks:
        sl = slice(i, i + n_sim)
        hh.key[sl] = household_keys(block_code(name), n_sim)
        u = streams.uniforms(Kind.BUILD, hh.key[sl], 0, BUILD.width)
        hh.weight[sl] = w
        if name == HAN_BLOCK:  # one person each, spread over the border cities
            hh.leaf[sl] = han_leaf[(u[:, BUILD.CITY] * len(han_leaf)).astype(np.int64)]
            hh.size[sl] = 1
            hh.han_single[sl] = True
        else:
            li = tree.leaf_index[name]
            hh.leaf[sl] = li
            hh.size[sl] = household_sizes(u[:, BUILD.SIZE], 936 / 192 if name == "lishu" else pop.household_size_mean)
            if name == "lishu":
                hh.size[sl] = _lishu_sizes(hh.size[sl], streams)
            share = pop.kin_share_liaoning if li in liaoning else pop.kin_share
            hh.kin[sl] = u[:, BUILD.KIN] < share
            hh.nk_national[sl] = u[:, BUILD.NK_NATIONAL] < pop.nk_national_share
        hh.criminal[sl] = u[:, BUILD.CRIMINAL] < pop.criminal_share
        hh.family_left[sl] = u[:, BUILD.FAMILY_LEFT] < p.family_left_share
        hh.thresh_move[sl] = exponential(u[:, BUILD.THRESH_MOVE])
        hh.thresh_travel[sl] = exponential(u[:, BUILD.THRESH_TRAVEL])
        hh.letter_wait[sl] = letter_weeks(u[:, BUILD.LETTER_WAIT], p.letter_rate)
        i += n_sim
    hh.kin |= hh.nk_national
    # Labourers: working members, binomial in the household size (one uniform per member), at least one.
    members = int(hh.size.max()) if n else 1
    um = streams.uniforms(Kind.MEMBERS, hh.key, 0, members)
    working = ((um < pop.labourer_share) & (np.arange(members)[None, :] < hh.size[:, None])).sum(axis=1)
    hh.labourers[:] = np.maximum(working, np.minimum(hh.size, 1))
    hh.ju = np.zeros((n, JOURNEY.width + members))  # a journey's row: named columns, then one per member
    return hh


def letter_weeks(u: np.ndarray, letter_rate: float) -> np.ndarray:
    """Eligible weeks until an authorization letter arrives: geometric, a letter each week with probability
    ``1 - exp(-letter_rate * 7 / 365)`` (Docs 6, 7)."""
    q = 1.0 - math.exp(-letter_rate * 7.0 / 365.0)
    if q <= 0.0:
        return np.full(len(u), np.iinfo(np.int32).max, dtype=np.int32)
    with np.errstate(divide="ignore"):
        k = np.floor(np.log1p(-u) / math.log1p(-q)) + 1 if q < 1.0 else np.ones(len(u))
    return np.minimum(k, np.iinfo(np.int32).max - 1).astype(np.int32)
