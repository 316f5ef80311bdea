"""A schematic map of the border: Yanbian's counties, Tonghua, Andong and its five crossing points.

Not to scale and not a survey: positions are approximate longitudes and latitudes, enough to put
the Tumen in the north-east, the Yalu in the south-west and the Andong crossing points at its mouth.
Doc 3 names the Andong crossing points (Gulouzi, Hushan, the suburbs of Jiulian City, Langtao,
Anning) but not where they lie, so they are placed along the lower Yalu in the order Doc 3 gives,
in an inset. The North Korean towns opposite each river segment are the model's assumed reception
stations (geography.py: the dossier names none).

Home regions are coloured by the chosen flow per 1,000 inhabitants (the scenario's populations) and
labelled with the count; crossing points are sized by the persons who attempted there, which is the
attempts of the regions that use them shared out by the routes' weights of the region tree (a
household picks its crossing point with exactly these weights, so this is the expected allocation).
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402
from matplotlib import cm, colors  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import Ellipse, Rectangle  # noqa: E402

from . import _bordersim as bs  # noqa: E402
from .figures import png  # noqa: E402
from .series import MEASURE_INDEX, month_label  # noqa: E402

#: Approximate (longitude, latitude) of the home regions' seats, nudged apart where they crowd.
REGION_XY = {
    "yanji_city": (129.55, 43.02),
    "yanji_county": (129.40, 42.70),
    "helong": (128.95, 42.62),
    "lishu": (128.72, 42.30),
    "hunchun": (130.50, 42.98),
    "wangqing": (129.95, 43.38),
    "antu": (128.40, 42.98),
    "changbai": (128.35, 41.62),
    "jian": (126.00, 41.28),
    "hunjiang": (126.45, 41.98),
    "andong": (124.38, 40.13),
    "anshan": (122.99, 41.11),
    "fushun": (123.96, 41.88),
    "benxi": (123.77, 41.30),
    "shenyang": (123.43, 41.80),
    "luda": (121.60, 38.95),
}
POST_XY = {
    "tumen_upper": (128.95, 42.18),
    "tumen_middle": (129.75, 42.48),
    "tumen_lower": (130.30, 42.55),
    "yalu_upper": (128.20, 41.42),
    "yalu_middle": (126.22, 41.10),
    # The Andong points, schematic, in Doc 3's order from upstream to the mouth.
    "gulouzi": (124.85, 40.50),
    "hushan": (124.55, 40.24),
    "jiulian_city": (124.45, 40.16),
    "langtao": (124.33, 40.02),
    "anning": (124.24, 39.93),
}
STATION_XY = {
    "Musan": (129.22, 42.02),
    "Hoeryong": (129.78, 42.30),
    "Onsong": (130.08, 42.80),
    "Hyesan": (128.10, 41.25),
    "Manpo": (126.35, 40.95),
    "Sinuiju": (124.45, 39.98),
}
TUMEN = [
    (128.06, 41.99),
    (128.35, 42.05),
    (128.70, 42.10),
    (128.95, 42.18),
    (129.20, 42.25),
    (129.45, 42.35),
    (129.75, 42.48),
    (129.82, 42.72),
    (129.88, 42.96),
    (130.05, 42.90),
    (130.22, 42.72),
    (130.30, 42.55),
    (130.50, 42.40),
    (130.70, 42.28),
]
YALU = [
    (128.06, 41.99),
    (128.12, 41.70),
    (128.20, 41.42),
    (127.80, 41.52),
    (127.20, 41.74),
    (126.90, 41.78),
    (126.55, 41.45),
    (126.22, 41.10),
    (125.70, 40.90),
    (125.30, 40.72),
    (124.85, 40.50),
    (124.62, 40.33),
    (124.55, 40.24),
    (124.45, 40.16),
    (124.40, 40.10),
    (124.33, 40.02),
    (124.24, 39.93),
    (124.15, 39.82),
]

#: Label offsets (dx, dy, alignment) per home region.
LABEL_AT = {
    "yanji_city": (0.0, 0.24, "center"),
    "yanji_county": (0.18, -0.05, "left"),
    "helong": (0.0, 0.24, "center"),
    "lishu": (-0.16, 0.0, "right"),
    "hunchun": (0.0, 0.24, "center"),
    "wangqing": (0.0, 0.24, "center"),
    "antu": (0.0, 0.24, "center"),
    "changbai": (0.18, 0.05, "left"),
    "jian": (-0.15, 0.0, "right"),
    "hunjiang": (0.0, 0.22, "center"),
    "andong": (-0.2, 0.0, "right"),
    "anshan": (0.0, -0.24, "center"),
    "fushun": (0.0, 0.22, "center"),
    "benxi": (0.15, 0.0, "left"),
    "shenyang": (-0.15, 0.0, "right"),
    "luda": (0.15, 0.0, "left"),
}

MAP_MEASURES = {
    "crossed": "got across alive",
    "attempted": "attempted to cross",
    "stopped": "stopped at the border",
    "settled": "settled by the DPRK",
    "sent_back": "sent back by the DPRK",
    "returned_own": "came home on their own",
    "drowned": "drowned",
}


def populations(sc) -> dict[str, float]:
    """Persons per home region, from the scenario (Yanbian's 580,000 by county shares; Lishu's 936)."""
    pop = sc.population
    out = {k: pop.yanbian_persons * v for k, v in pop.yanbian_shares.items()}
    if pop.lishu:
        out["lishu"] = 936.0
        out["helong"] = out.get("helong", 0.0) - 936.0
    out.update({k: float(v) for k, v in pop.tonghua_persons.items()})
    out.update({k: float(v) for k, v in pop.liaoning_persons.items()})
    return out


def _draw_base(ax) -> None:
    """Provinces, rivers, the assumed reception stations and the roads to Andong."""
    # Province groupings
    ax.add_patch(Ellipse((129.45, 42.80), 2.9, 1.45, angle=10, fc="#f2e6d9", ec="#b08d6a", lw=0.8, zorder=0))
    ax.text(
        127.95, 43.35, "Yanbian Korean\nAutonomous Prefecture\n(Jilin)", fontsize=8.5, color="#7f5a3a", style="italic", ha="right"
    )
    ax.add_patch(Ellipse((127.1, 41.55), 3.1, 1.05, angle=12, fc="#efe9dd", ec="#b08d6a", lw=0.8, zorder=0))
    ax.text(127.3, 40.88, "Tonghua border counties (Jilin)", fontsize=8.5, color="#7f5a3a", style="italic")
    ax.add_patch(Ellipse((123.2, 40.6), 3.6, 3.3, angle=-35, fc="#ece7f2", ec="#8c7ba8", lw=0.8, zorder=0))
    ax.text(121.5, 42.3, "Liaoning", fontsize=9, color="#5b4b85", style="italic")
    ax.text(127.3, 40.2, "DPRK", fontsize=16, color="#999999", fontweight="bold")
    ax.text(125.8, 43.3, "CHINA", fontsize=16, color="#999999", fontweight="bold")
    # Rivers
    for pts, name, xy in [(TUMEN, "Tumen", (129.95, 42.30)), (YALU, "Yalu", (125.35, 40.50))]:
        x, y = zip(*pts)
        ax.plot(x, y, color="#3182bd", lw=2.4, zorder=1, solid_capstyle="round")
        ax.text(*xy, name, color="#08519c", fontsize=10, style="italic", rotation=0)
    ax.plot([128.06], [41.99], marker="^", color="#636363", ms=9, zorder=2)
    ax.text(127.75, 41.93, "Changbai / Paektu", fontsize=7, color="#636363", ha="right")
    # Reception stations (assumed)
    for name, (x, y) in STATION_XY.items():
        ax.plot([x], [y], marker="s", color="#737373", ms=4, zorder=2)
        right = name in ("Onsong",)
        ax.text(
            x + (0.08 if right else 0.06),
            y - (0.0 if right else 0.12),
            name,
            fontsize=7,
            color="#525252",
            va="center" if right else "baseline",
        )
    # Hinterland routes to Andong (Docs 3, 5)
    for leaf in ("anshan", "fushun", "benxi", "shenyang", "luda"):
        x0, y0 = REGION_XY[leaf]
        ax.annotate(
            "",
            xy=(124.30, 40.20),
            xytext=(x0, y0),
            arrowprops={"arrowstyle": "->", "color": "#9e9ac8", "lw": 0.9, "shrinkA": 9, "shrinkB": 6},
            zorder=1,
        )


def _draw_homes(ax, tree, pops, rate, leaf_vals, cmap, norm) -> None:
    """Home regions: circles sized by population, coloured by the rate."""
    # Home regions
    for i, leaf in enumerate(tree.leaf_ids):
        x, y = REGION_XY[leaf]
        size = 30 + 420 * np.sqrt(pops.get(leaf, 0) / 160_000)
        ax.scatter([x], [y], s=size, c=[cmap(norm(rate[leaf]))], edgecolors="#4d4d4d", linewidths=0.8, zorder=3)
        name = tree.by_id[leaf].name.replace(" (Dehua Commune)", " (Doc 4)")
        dx, dy, ha = LABEL_AT.get(leaf, (0.0, -0.2, "center"))
        ax.text(
            x + dx,
            y + dy,
            f"{name}\n{leaf_vals[i]:,.0f}",
            fontsize=7.5,
            ha=ha,
            va="center",
            zorder=4,
            linespacing=1.0,
            bbox={"facecolor": "white", "alpha": 0.6, "edgecolor": "none", "pad": 0.3},
        )


def _draw_posts(fig, ax, tree, post_att) -> None:
    """Crossing points on the map, and the inset of Andong's five."""
    # Crossing points outside Andong on the main map
    pmax = max(1.0, post_att.max())
    for j, post in enumerate(tree.posts):
        if post.location == "andong":
            continue
        x, y = POST_XY[post.id]
        ax.scatter(
            [x], [y], marker="D", s=25 + 260 * post_att[j] / pmax, c="#253494", edgecolors="white", linewidths=0.8, zorder=5
        )
    ax.add_patch(Rectangle((123.95, 39.75), 1.15, 0.95, fill=False, ec="#252525", lw=0.8, ls="--", zorder=2))
    # Inset: the five Andong crossing points
    ins = fig.add_axes((0.735, 0.50, 0.255, 0.40))
    ins.set_facecolor("#fbfaf6")
    ins.set_xticks([])
    ins.set_yticks([])
    ins.set_xlim(124.0, 125.1)
    ins.set_ylim(39.78, 40.62)
    x, y = zip(*YALU)
    ins.plot(x, y, color="#3182bd", lw=3, zorder=1)
    ins.plot([124.38], [40.13], marker="o", color="#737373", ms=5)
    ins.text(124.27, 40.16, "Andong", fontsize=8, ha="right")
    ins.plot([124.45], [39.98], marker="s", color="#737373", ms=4)
    ins.text(124.50, 39.96, "Sinuiju (DPRK)", fontsize=7.5, color="#525252")
    for j, post in enumerate(tree.posts):
        if post.location != "andong":
            continue
        px, py = POST_XY[post.id]
        ins.scatter(
            [px], [py], marker="D", s=25 + 260 * post_att[j] / pmax, c="#253494", edgecolors="white", linewidths=0.8, zorder=5
        )
        ins.text(px + 0.05, py + 0.02, f"{post.name.replace(' (Andong)', '')}: {post_att[j]:,.0f}", fontsize=7.5, zorder=6)
    ins.set_title("Andong's five crossing points (Docs 3, 5), schematic", fontsize=8.5)


def map_figure(
    data: np.ndarray, months: list[str], month: int, sc, measure: str = "crossed", window: str = "run", start_label: str = ""
) -> bytes:
    """The schematic map for ``measure`` over the run so far (``window='run'``) or the month in progress."""
    tree = bs.TREE
    k = MEASURE_INDEX[measure]
    if month < 0:
        leaf_vals = np.zeros(len(tree.leaf_ids))
        att = np.zeros(len(tree.leaf_ids))
    elif window == "month":
        leaf_vals = data[month, :, k]
        att = data[month, :, MEASURE_INDEX["attempted"]]
    else:
        leaf_vals = data[: month + 1, :, k].sum(axis=0)
        att = data[: month + 1, :, MEASURE_INDEX["attempted"]].sum(axis=0)
    pops = populations(sc)
    rate = {leaf: 1000.0 * leaf_vals[i] / pops[leaf] if pops.get(leaf) else 0.0 for i, leaf in enumerate(tree.leaf_ids)}
    post_att = att @ tree.post_weights  # expected allocation of attempts over crossing points
    vmax = max(1.0, max(rate.values()))
    norm = colors.Normalize(vmin=0, vmax=vmax)
    cmap = matplotlib.colormaps["YlOrRd"]

    fig = Figure(figsize=(13, 7.4))
    ax = fig.add_axes((0.02, 0.08, 0.70, 0.84))
    ax.set_xlim(121.2, 131.2)
    ax.set_ylim(38.6, 43.75)
    ax.set_aspect(1.3)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_facecolor("#fbfaf6")
    _draw_base(ax)
    _draw_homes(ax, tree, pops, rate, leaf_vals, cmap, norm)
    _draw_posts(fig, ax, tree, post_att)
    # Post legend text (main map posts)
    lines = [f"{p.name}: {post_att[j]:,.0f}" for j, p in enumerate(tree.posts) if p.location != "andong"]
    fig.text(
        0.735,
        0.46,
        "Persons attempting at each crossing point\n(diamonds, sized by the count):\n" + "\n".join(lines),
        fontsize=8,
        va="top",
    )
    # Colour bar
    cax = fig.add_axes((0.735, 0.19, 0.24, 0.025))
    sm = cm.ScalarMappable(norm=norm, cmap=cmap)
    cb = fig.colorbar(sm, cax=cax, orientation="horizontal")
    cb.ax.tick_params(labelsize=8)
    what = MAP_MEASURES.get(measure, measure)
    span = f"since {start_label}" if window == "run" else (f"in {month_label(months[month])} (so far)" if month >= 0 else "")
    verb = (
        what
        if what.startswith(("got", "came", "drowned"))
        else "were " + what
        if what.startswith(("stopped", "settled", "sent"))
        else what
    )
    cb.set_label(
        f"persons who {verb}\nper 1,000 inhabitants, {span}",
        fontsize=8.5,
    )
    fig.text(
        0.735,
        0.27,
        "Circles: home regions, sized by population,\ncoloured by the rate below; number: persons.",
        fontsize=8,
        va="top",
    )
    fig.suptitle(f"The border, schematic: {what}, {span}; counted by home region", fontsize=12, x=0.37, y=0.975)
    fig.text(
        0.02,
        0.02,
        "Schematic, not to scale. The Andong crossing points are placed in Doc 3's order (the dossier gives no positions); "
        "the North Korean towns are the model's assumed reception stations.\nCrossing-point counts: attempts of the regions "
        "that use them, shared out by the routes' weights (the expected allocation).",
        fontsize=7.5,
        color="#525252",
    )
    return png(fig)
