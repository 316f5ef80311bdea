"""Building the population: every household of a scenario at the run's scale (Docs 3, 4, 5, 9).

Yanbian's 580,000 ethnic Koreans (PBoC Jilin branch, April 1962) by county, Tonghua's and Liaoning's
populations (parameters: the sources do not give them), single Han men in the border cities (Docs 3,
5), DPRK nationals and people with a pending criminal case (Docs 1, 5, 8, 10, 11). The Lishu village
of Doc 4 (192 households, 936 people) is always simulated whole.
"""

from __future__ import annotations

import numpy as np

from ..world.geography import RegionTree
from ..world.scenario import Scenario
from .households import Households


def _household_sizes(rng: np.random.Generator, n: int, mean: float) -> np.ndarray:
    """Household sizes >= 1 with the given mean (1 + Poisson(mean - 1))."""
    return (1 + rng.poisson(mean - 1.0, size=n)).astype(np.int16)


def _lishu_sizes(rng: np.random.Generator) -> np.ndarray:
    """192 households with exactly 936 people (Doc 4)."""
    sizes = _household_sizes(rng, 192, 936 / 192)
    diff = 936 - int(sizes.sum())
    while diff != 0:
        j = int(rng.integers(192))
        step = 1 if diff > 0 else -1
        if sizes[j] + step >= 1:
            sizes[j] += step
            diff -= step
    return sizes


def build_households(sc: Scenario, tree: RegionTree, rng: np.random.Generator) -> Households:
    """Create every household of the scenario's population at the run's scale.

    A region's true number of households is its persons over the mean household size, rounded to a
    whole number; ``run.scale`` of them are simulated (weight = true / simulated households, exactly 1
    at scale 1). Household sizes are drawn (1 + Poisson), so a region's persons at the start are near
    its given population, not equal to it; at scale 1 they are whole numbers. The Lishu village (Doc 4)
    is always simulated whole: 192 households, exactly 936 people, weight 1.
    """
    pop = sc.population
    scale = sc.run.scale
    persons: dict[str, float] = {}
    tot_share = sum(pop.yanbian_shares.values()) or 1.0
    for k, s in pop.yanbian_shares.items():
        persons[k] = pop.yanbian_persons * s / tot_share
    persons.update(pop.tonghua_persons)
    persons.update(pop.liaoning_persons)
    if pop.lishu:
        persons["helong"] = max(0.0, persons.get("helong", 0.0) - 936)
    blocks = []  # (leaf id, n simulated, weight, sizes or None)
    for leaf in tree.leaf_ids:
        if leaf == "lishu":
            if pop.lishu:
                blocks.append((leaf, 192, 1.0, _lishu_sizes(rng)))
            continue
        # Whole households: at scale 1 every household is simulated once (weight exactly 1), so persons are
        # whole too; at a smaller scale each simulated household stands for true / simulated households.
        true_hh = int(round(persons.get(leaf, 0.0) / pop.household_size_mean))
        n_sim = int(round(true_hh * scale))
        if n_sim <= 0:
            continue
        blocks.append((leaf, n_sim, true_hh / n_sim, None))
    # Single Han men (Docs 3, 5), spread over the border cities, one person each.
    han_leaves = ["andong", "yanji_city", "shenyang", "anshan"]
    n_han = int(round(pop.single_han_men * scale))
    han_w = pop.single_han_men / n_han if n_han else 1.0
    n = sum(b[1] for b in blocks) + n_han
    hh = Households(n)
    i = 0
    liaoning = set(tree.leaves_under("liaoning"))
    for leaf, n_sim, w, sizes in blocks:
        sl = slice(i, i + n_sim)
        li = tree.leaf_index[leaf]
        hh.leaf[sl] = li
        hh.weight[sl] = w
        hh.size[sl] = sizes if sizes is not None else _household_sizes(rng, n_sim, pop.household_size_mean)
        share = pop.kin_share_liaoning if li in liaoning else pop.kin_share
        hh.kin[sl] = rng.random(n_sim) < share
        hh.nk_national[sl] = rng.random(n_sim) < pop.nk_national_share
        i += n_sim
    if n_han:
        sl = slice(i, i + n_han)
        hh.leaf[sl] = rng.choice([tree.leaf_index[x] for x in han_leaves], size=n_han)
        hh.weight[sl] = han_w
        hh.size[sl] = 1
        hh.han_single[sl] = True
        i += n_han
    hh.kin |= hh.nk_national
    hh.criminal = rng.random(n) < pop.criminal_share
    # Labourers: working members, binomial in the household size, at least one per household.
    hh.labourers = np.maximum(rng.binomial(hh.size, sc.population.labourer_share), np.minimum(hh.size, 1)).astype(np.int16)
    hh.family_left = rng.random(n) < sc.parameters.family_left_share
    hh.thresh_move = rng.exponential(1.0, size=n)
    hh.thresh_travel = rng.exponential(1.0, size=n)
    return hh
