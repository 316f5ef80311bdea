"""Geography: the region tree, the river segments and crossing points, and the reception stations.

Every count the model produces is attributed to the *origin* region of the household it concerns
(a leaf of the tree) and rolled up to every ancestor, so a flow can be compared with an archival
count at whatever level the archive reports it (Lishu village, a county, Yanbian, Jilin, Liaoning,
China).

Sources for the tree:

* Doc 9 (Jilin Public Security, 10 Sep 1963) names Jilin's nine border cities and counties: Yanji
  City, Hunjiang City, Yanji County, Helong, Hunchun, Wangqing, Antu, Changbai ("Zhangbai") and
  Ji'an. Six of them formed the Yanbian Korean Autonomous Prefecture; Changbai, Ji'an and Hunjiang
  lay on the Yalu in Tonghua, so the tree puts them under a ``tonghua`` node (the Yanbian figures of
  Doc 6 then refer to Yanbian proper, the Jilin figures to both).
* Doc 4 (Yanbian Public Security, 12 Mar 1961): the Lishu Administrative Area, Dehua Commune, Helong
  County: five hamlets, 192 households, 936 people; an explicit village so its monthly counts can be
  observed.
* Docs 3 and 5 (May 1961): crossing points at Andong (Gulouzi, Hushan, the suburbs of Jiulian City,
  Langtao, Anning); crossers came to Andong from Anshan, Fushun, Benxi, Shenyang and Luda.
  (Doc 3 also mentions people from Heilongjiang, Beijing and Tianjin, "it has been said"; they are
  not modelled.)

The North Korean towns opposite each segment (reception stations, Docs 3/5: "reception stations
along the border crossing routes") are geographical assumptions: the dossier names none of them
(Sinuiju, opposite Andong, appears in Doc 5 only as the place of the March and April 1961 talks).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Region:
    """A node of the region tree."""

    id: str
    name: str
    parent: str | None
    #: Crossing posts used by people from this region, with weights (leaves only).
    posts: dict[str, float] = field(default_factory=dict)
    #: Days from home to the river (leaves only).
    travel_days: int = 1


# (id, display name, parent, posts, travel days to the crossing)
_TREE: list[Region] = [
    Region("china", "China", None),
    Region("jilin", "Jilin", "china"),
    Region("yanbian", "Yanbian", "jilin"),
    Region("yanji_city", "Yanji City", "yanbian", {"tumen_middle": 1.0}, 1),
    Region("yanji_county", "Yanji County", "yanbian", {"tumen_middle": 0.7, "tumen_lower": 0.3}, 1),
    Region("helong", "Helong", "yanbian", {"tumen_upper": 0.6, "tumen_middle": 0.4}, 1),
    Region("lishu", "Lishu (Dehua Commune)", "helong", {"tumen_upper": 1.0}, 1),
    Region("hunchun", "Hunchun", "yanbian", {"tumen_lower": 1.0}, 1),
    Region("wangqing", "Wangqing", "yanbian", {"tumen_lower": 0.5, "tumen_middle": 0.5}, 1),
    Region("antu", "Antu", "yanbian", {"tumen_upper": 1.0}, 1),
    Region("tonghua", "Tonghua border counties", "jilin"),
    Region("changbai", "Changbai", "tonghua", {"yalu_upper": 1.0}, 1),
    Region("jian", "Ji'an", "tonghua", {"yalu_middle": 1.0}, 1),
    Region("hunjiang", "Hunjiang", "tonghua", {"yalu_middle": 1.0}, 1),
    Region("liaoning", "Liaoning", "china"),
    Region("andong", "Andong", "liaoning", {p: 0.2 for p in ("gulouzi", "hushan", "jiulian_city", "langtao", "anning")}, 1),
    Region("anshan", "Anshan", "liaoning", {p: 0.2 for p in ("gulouzi", "hushan", "jiulian_city", "langtao", "anning")}, 2),
    Region("fushun", "Fushun", "liaoning", {p: 0.2 for p in ("gulouzi", "hushan", "jiulian_city", "langtao", "anning")}, 2),
    Region("benxi", "Benxi", "liaoning", {p: 0.2 for p in ("gulouzi", "hushan", "jiulian_city", "langtao", "anning")}, 2),
    Region("shenyang", "Shenyang", "liaoning", {p: 0.2 for p in ("gulouzi", "hushan", "jiulian_city", "langtao", "anning")}, 2),
    Region("luda", "Luda", "liaoning", {p: 0.2 for p in ("gulouzi", "hushan", "jiulian_city", "langtao", "anning")}, 3),
]


@dataclass(frozen=True)
class Post:
    """A river segment or crossing point guarded by Chinese border defence."""

    id: str
    name: str
    river: str  # "tumen" or "yalu"
    station: str  # North Korean town opposite (assumed geography; labels only)
    #: Relative drowning risk of the route (wide lower Yalu at Andong > narrow upper Tumen).
    route_risk: float
    #: Home region the post stands in (its guards' effort follows that region's interception entries).
    location: str


POSTS: list[Post] = [
    Post("tumen_upper", "Upper Tumen (Helong, Antu)", "tumen", "Musan", 0.8, "helong"),
    Post("tumen_middle", "Middle Tumen (Yanji, Helong)", "tumen", "Hoeryong", 0.9, "yanji_county"),
    Post("tumen_lower", "Lower Tumen (Hunchun, Wangqing)", "tumen", "Onsong", 1.0, "hunchun"),
    Post("yalu_upper", "Upper Yalu (Changbai)", "yalu", "Hyesan", 0.9, "changbai"),
    Post("yalu_middle", "Middle Yalu (Ji'an, Hunjiang)", "yalu", "Manpo", 1.1, "jian"),
    Post("gulouzi", "Gulouzi (Andong)", "yalu", "Sinuiju", 1.3, "andong"),
    Post("hushan", "Hushan (Andong)", "yalu", "Sinuiju", 1.3, "andong"),
    Post("jiulian_city", "Jiulian City suburbs (Andong)", "yalu", "Sinuiju", 1.3, "andong"),
    Post("langtao", "Langtao (Andong)", "yalu", "Sinuiju", 1.3, "andong"),
    Post("anning", "Anning (Andong)", "yalu", "Sinuiju", 1.3, "andong"),
]


class RegionTree:
    """The region tree with index arithmetic for fast roll-ups.

    ``leaves`` are the regions households live in (the tree's leaves, with ``lishu`` a leaf under
    ``helong``; ``helong`` itself is also a home region, so it is treated as a leaf for the households
    of Helong outside Lishu). ``rollup`` is a (nodes x leaves) 0/1 matrix: ``node_values = rollup @
    leaf_values``.
    """

    def __init__(self, regions: list[Region] | None = None, posts: list[Post] | None = None):
        self.regions = list(regions or _TREE)
        self.posts = list(posts or POSTS)
        self.by_id = {r.id: r for r in self.regions}
        self.node_ids = [r.id for r in self.regions]
        self.node_index = {rid: i for i, rid in enumerate(self.node_ids)}
        self.post_ids = [p.id for p in self.posts]
        self.post_index = {pid: i for i, pid in enumerate(self.post_ids)}
        # Home regions: regions with crossing posts (leaves, plus Helong outside Lishu).
        self.leaf_ids = [r.id for r in self.regions if r.posts]
        self.leaf_index = {rid: i for i, rid in enumerate(self.leaf_ids)}
        n, m = len(self.node_ids), len(self.leaf_ids)
        self.rollup = np.zeros((n, m), dtype=np.float64)
        for j, leaf in enumerate(self.leaf_ids):
            for anc in self.ancestors(leaf, include_self=True):
                self.rollup[self.node_index[anc], j] = 1.0
        # Leaf -> post probabilities (leaves x posts).
        self.post_weights = np.zeros((m, len(self.post_ids)))
        for j, leaf in enumerate(self.leaf_ids):
            w = self.by_id[leaf].posts
            tot = sum(w.values())
            for pid, x in w.items():
                self.post_weights[j, self.post_index[pid]] = x / tot
        self.travel_days = np.array([self.by_id[leaf].travel_days for leaf in self.leaf_ids], dtype=np.int64)
        self.post_route_risk = np.array([p.route_risk for p in self.posts])
        self.post_location = np.array([self.leaf_index[p.location] for p in self.posts])

    def ancestors(self, rid: str, include_self: bool = False) -> list[str]:
        """The chain of region ids from ``rid`` (optionally included) up to the root."""
        if rid not in self.by_id:
            raise KeyError(rid)
        out = [rid] if include_self else []
        parent = self.by_id[rid].parent
        while parent is not None:
            out.append(parent)
            parent = self.by_id[parent].parent
        return out

    def depth(self, rid: str) -> int:
        return len(self.ancestors(rid))

    def leaves_under(self, rid: str) -> list[int]:
        """Indices of the home regions (leaves) at or below ``rid``."""
        i = self.node_index[rid]
        return [int(j) for j in np.flatnonzero(self.rollup[i])]

    def is_valid(self, rid: str) -> bool:
        return rid in self.by_id


TREE = RegionTree()
