"""What the page lets a historian choose, and how each choice becomes a scenario.

A choice on the page is a :class:`Settings`: a scenario file, a rule timeline, values for a few
levers (or "as the rule files say"), the scale, the seed and whether the behavioural parameters are
drawn from the calibration's posterior or set to its median. :meth:`Settings.overrides` turns it
into the nested dict that :func:`bordersim.load_scenario` merges over the scenario file, so the page
never builds a scenario by any other route than ``bordersim run`` does.

Levers and what they change:

* **ration**: Jilin's ration standard during the famine, catties per person per year (Doc 4: "210
  catties at the very least" in border areas from November 1960, until the October 1961 Jilin
  report restored 360, Doc 6). Replaces the scenario's Jilin entries dated November 1960 to
  September 1961 by one entry from 1 November 1960. A world condition, not a rule.
* **allowance**, **interception**, **return obligation**, **approval of letters**: single levers of
  the rule sets (``rule_overrides``); a value set on the page applies under every rule set of the
  timeline, in place of what each rule file says.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from dataclasses import dataclass, field
from functools import cache, lru_cache
from pathlib import Path

from . import _bordersim as bs

# -- scenarios ---------------------------------------------------------------------------------------

#: Scenario files the page offers first, in this order, with a short label.
KNOWN_SCENARIOS = {
    "baseline_1960_1962": "Baseline 1960-62: the crisis as it happened",
    "famine_under_protocol_1964": "1960-62 replayed under the 1964 Protocol",
    "famine_under_1970_rules": "1960-62 replayed under the 1970 State Council rules",
    "replay_1957_1970": "Replay 1957-1970, every documented rule switch",
    "cf_ration_kept_360": "Counterfactual: ration kept at 360 catties",
    "cf_no_allowance": "Counterfactual: no 40-yuan allowance",
    "cf_no_rumours": "Counterfactual: no rumours",
    "cf_doubled_interception": "Counterfactual: interception doubled",
    "cf_prompt_legal_channel": "Counterfactual: prompt legal channel",
    "reversal_1990s": "1990s reversal 1993-2012: lenient reading",
    "reversal_1990s_stringent": "1990s reversal 1993-2012: stringent reading",
}
BASELINE = "baseline_1960_1962"
#: Scenarios the page starts at a smaller scale than its default: twenty years (7,305 days) each, so that a run
#: to the end takes seconds rather than minutes (their files' own scale; a step stays at a few milliseconds).
SCENARIO_SCALES = {"reversal_1990s": 0.05, "reversal_1990s_stringent": 0.05}


def scale_for(key: str, current: float, previous: str | None = None, page_default: float | None = None) -> float:
    """The scale the page uses on switching from scenario ``previous`` to ``key`` at scale ``current``.

    A scenario of :data:`SCENARIO_SCALES` starts at most at its own scale; leaving one for another scenario
    restores the page's default if the scale is still the one it was given.
    """
    if key in SCENARIO_SCALES:
        return min(current, SCENARIO_SCALES[key])
    if previous in SCENARIO_SCALES and current == SCENARIO_SCALES[previous]:
        return page_default if page_default is not None else DEFAULT_SCALE
    return current


def default_scenarios_dir() -> Path:
    """``scenarios/`` of the working directory if there is one, else the repository's."""
    here = Path.cwd() / "scenarios"
    if (here / f"{BASELINE}.yaml").exists():
        return here
    return bs.PACKAGE_DIR.parents[1] / "scenarios"


@dataclass(frozen=True)
class ScenarioEntry:
    key: str
    path: Path
    label: str


def catalogue(extra: Path | None = None, scenarios_dir: Path | None = None) -> dict[str, ScenarioEntry]:
    """The scenarios the page offers: the known ones, any other file in ``scenarios/``, and ``extra``."""
    d = Path(scenarios_dir) if scenarios_dir else default_scenarios_dir()
    out: dict[str, ScenarioEntry] = {}
    for key, label in KNOWN_SCENARIOS.items():
        p = d / f"{key}.yaml"
        if p.exists():
            out[key] = ScenarioEntry(key, p, label)
    for p in sorted(d.glob("*.yaml")):
        if p.stem not in out:
            out[p.stem] = ScenarioEntry(p.stem, p, p.stem.replace("_", " "))
    if extra is not None:
        extra = Path(extra)
        key = extra.stem
        if key in out and out[key].path.resolve() != extra.resolve():
            key = f"{key} ({extra.parent.name})"
        out.setdefault(key, ScenarioEntry(key, extra, KNOWN_SCENARIOS.get(extra.stem, extra.stem.replace("_", " "))))
    return out


# -- rule timelines ----------------------------------------------------------------------------------

#: The documented switches of 1957-1970 (the dates of the documents; see scenarios/replay_1957_1970.yaml).
DOCUMENTED_TIMELINE = [
    (dt.date(1957, 12, 17), "mfa_1957"),
    (dt.date(1958, 10, 18), "marriage_1958"),
    (dt.date(1960, 11, 1), "practice_1961"),
    (dt.date(1962, 3, 24), "leniency_1962"),
    (dt.date(1963, 8, 8), "ccp_1963"),
    (dt.date(1964, 6, 9), "protocol_1964"),
    (dt.date(1970, 8, 19), "state_council_1970"),
]
TIMELINE_SCENARIO = "scenario"
TIMELINE_DOCUMENTED = "documented"


def timeline_options() -> dict[str, str]:
    """Timeline choices: value -> label."""
    out = {TIMELINE_SCENARIO: "As in the scenario file", TIMELINE_DOCUMENTED: "Documented switches 1957-1970"}
    for name in bs.available_rule_sets():
        out[name] = f"{rule_title_short(name)} throughout"
    return out


def rule_title_short(name: str) -> str:
    """'protocol_1964' -> the rule file's title up to the colon ('9 June 1964 Protocol')."""
    return rule_info(name).title.split(":")[0].strip() or name


def timeline_entries(choice: str, start: dt.date) -> list[dict] | None:
    """The ``rules:`` list for a timeline choice (None: keep the scenario's)."""
    if choice == TIMELINE_SCENARIO:
        return None
    if choice == TIMELINE_DOCUMENTED:
        entries = []
        for day, name in DOCUMENTED_TIMELINE:
            if day <= start:
                entries = [{"from": start, "use": name}]
            else:
                entries.append({"from": day, "use": name})
        return entries
    return [{"from": start, "use": choice}]


# -- rule files and their citations --------------------------------------------------------------------


@dataclass(frozen=True)
class RuleInfo:
    """A rule file: title, documents, description, and every lever with its value and the comment citing it."""

    name: str
    title: str
    documents: tuple[str, ...]
    description: str
    #: "china.legal_approval_prob" -> (value as written, comment)
    levers: dict[str, tuple[str, str]]
    header: str = ""


#: The sections of a rule file whose levers the page lists (``northward``: issue 15, North Koreans in China).
RULE_SECTIONS = ("china", "dprk", "border", "northward")

_LINE = re.compile(r"^(?P<indent>\s*)(?P<key>[A-Za-z_][A-Za-z0-9_]*):\s*(?P<value>[^#]*?)\s*(?:#\s*(?P<comment>.*))?$")


@cache
def rule_info(name: str) -> RuleInfo:
    """Read a rule file of the library with its comments (the citation behind each lever)."""
    path = bs.library_dir() / f"{name}.yaml"
    rs = bs.load_rule_set(name)
    text = path.read_text(encoding="utf-8")
    header = []
    for line in text.splitlines():
        if line.startswith("#"):
            header.append(line.lstrip("# ").rstrip())
        else:
            break
    levers: dict[str, tuple[str, str]] = {}
    stack: list[tuple[int, str]] = []
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#") or line.lstrip().startswith("- "):
            continue
        m = _LINE.match(line)
        if not m:
            continue
        indent = len(m["indent"])
        while stack and stack[-1][0] >= indent:
            stack.pop()
        key = m["key"]
        value = m["value"].strip()
        path_key = ".".join([s for _, s in stack] + [key])
        if value in ("", ">", "|", ">-", "|-"):
            stack.append((indent, key))
            continue
        if stack and stack[0][1] in RULE_SECTIONS:
            levers[path_key] = (value, (m["comment"] or "").strip())
    return RuleInfo(name, rs.title, tuple(rs.documents), " ".join(rs.description.split()), levers, " ".join(header))


# -- levers --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Lever:
    key: str
    label: str
    unit: str
    lo: float
    hi: float
    step: float
    #: For rule levers: (section, field) of the rule set; None for the ration (a world condition).
    rule_path: tuple[str, str] | None
    source: str

    @property
    def is_share(self) -> bool:
        return self.hi == 1 and self.lo == 0

    def fmt(self, v: float) -> str:
        """The value as the page says it: shares as percentages."""
        return f"{100 * v:.0f}%" if self.is_share else f"{v:g}"


#: The famine window whose Jilin ration entries the ration lever replaces (Doc 4 to Doc 6).
FAMINE_FROM = dt.date(1960, 11, 1)
FAMINE_TO = dt.date(1961, 9, 30)

LEVERS: list[Lever] = [
    Lever(
        "ration",
        "Ration in Jilin, Nov 1960-Sep 1961",
        "catties per person per year",
        150,
        400,
        5,
        None,
        "Doc 4: the low standard of November 1960, '210 catties at the very least' in border areas; "
        "Doc 6: the October 1961 Jilin report restores 360",
    ),
    Lever(
        "allowance",
        "DPRK settling-in allowance",
        "yuan per labourer",
        0,
        100,
        5,
        ("dprk", "allowance_yuan_per_labourer"),
        "Docs 3, 5: 'forty yuan as a settling-in allowance' per labourer",
    ),
    Lever(
        "interception",
        "Interception effort",
        "x the guards' effort in the scenario",
        0,
        3,
        0.05,
        ("china", "interception_multiplier"),
        "Docs 3, 5: 'strengthen interception work'",
    ),
    Lever(
        "return",
        "DPRK return obligation",
        "of illegal crossers returned",
        0,
        1,
        0.01,
        ("dprk", "return_illegal_prob"),
        "Doc 10 Art. 4 (2): 'Illegal border crossers will be returned'; Doc 11 (6): 'in a timely manner'",
    ),
    Lever(
        "approval",
        "Letters approved",
        "of applications on DPRK authorization letters",
        0,
        1,
        0.01,
        ("china", "legal_approval_prob"),
        "Doc 6: 1,053 approved of 1,788 decided in Yanbian, 1961; Doc 7: 'significantly more lenient'",
    ),
]
LEVER_BY_KEY = {lv.key: lv for lv in LEVERS}

SCALES = [0.02, 0.05, 0.1, 0.25, 0.5, 1.0]
DEFAULT_SCALE = 0.25
POSTERIOR_MODES = {"draw": "Drawn from the posterior (by the seed)", "median": "Posterior median"}


# -- settings ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    """One choice of the page. Frozen and hashable: a key for caches."""

    scenario: str = BASELINE
    timeline: str = TIMELINE_SCENARIO
    #: Lever values set on the page (key -> value); absent = as the scenario and rule files say.
    levers: tuple[tuple[str, float], ...] = ()
    scale: float = DEFAULT_SCALE
    seed: int | None = None
    posterior: str = "draw"

    def lever(self, key: str) -> float | None:
        return dict(self.levers).get(key)

    def with_lever(self, key: str, value: float | None) -> Settings:
        d = dict(self.levers)
        if value is None:
            d.pop(key, None)
        else:
            d[key] = float(value)
        return dataclasses.replace(self, levers=tuple(sorted(d.items())))

    def replace(self, **kw) -> Settings:
        return dataclasses.replace(self, **kw)

    def describe(self) -> str:
        parts = [self.scenario]
        if self.timeline != TIMELINE_SCENARIO:
            parts.append(f"rules: {self.timeline}")
        for k, v in self.levers:
            parts.append(f"{k}={v:g}")
        parts.append(f"scale {self.scale:g}")
        parts.append(f"posterior {self.posterior}")
        if self.seed is not None:
            parts.append(f"seed {self.seed}")
        return ", ".join(parts)


@dataclass
class Resolved:
    """A settings choice made concrete: the validated scenario and where it came from."""

    settings: Settings
    entry: ScenarioEntry
    scenario: object  # bordersim Scenario
    seed: int
    overrides: dict = field(default_factory=dict)


def base_scenario(entry: ScenarioEntry):
    return _load(str(entry.path), None)


@lru_cache(maxsize=64)
def _load_cached(path: str, key: str):
    import json

    return bs.load_scenario(path, json.loads(key) if key else None)


def _load(path: str, overrides: dict | None):
    import json

    return _load_cached(path, json.dumps(overrides, sort_keys=True, default=str) if overrides else "")


def ration_entries(rations: list, value: float) -> list[dict]:
    """The scenario's ration entries with Jilin's famine standard (Nov 1960 - Sep 1961) set to ``value``."""
    tree = bs.TREE
    jilin = set(
        tree.node_ids[i] for i in range(len(tree.node_ids)) if "jilin" in tree.ancestors(tree.node_ids[i], include_self=True)
    )
    out = []
    for r in rations:
        d = r.model_dump(mode="json", by_alias=True, exclude_none=True)
        if r.region in jilin and FAMINE_FROM <= r.from_ <= FAMINE_TO:
            continue
        out.append(d)
    out.append({"from": FAMINE_FROM.isoformat(), "region": "jilin", "catties": float(value)})
    # Jilin's own later entries (e.g. Doc 6's 360 from October 1961) still follow, being later.
    return out


def jilin_famine_ration(sc) -> float:
    """The ration the scenario gives Jilin on 1 November 1960 (the latest entry covering Jilin)."""
    tree = bs.TREE
    best = None
    for r in sc.world.rations:
        covers = r.region in tree.ancestors("jilin", include_self=True) or r.region == "jilin"
        if covers and r.from_ <= FAMINE_FROM and (r.to is None or r.to >= FAMINE_FROM):
            key = (r.from_, tree.depth(r.region))
            if best is None or key >= best[0]:
                best = (key, r.catties)
    return float(best[1]) if best else float("nan")


def overrides(settings: Settings, entry: ScenarioEntry) -> dict:
    """The nested dict merged over the scenario file (``load_scenario(path, overrides)``)."""
    base = base_scenario(entry)
    out: dict = {"run": {"scale": float(settings.scale)}}
    if settings.seed is not None:
        out["run"]["seed"] = int(settings.seed)
    tl = timeline_entries(settings.timeline, base.run.start)
    if tl is not None:
        out["rules"] = [{"from": e["from"].isoformat(), "use": e["use"]} for e in tl]
    ro: dict = {}
    for key, value in settings.levers:
        lv = LEVER_BY_KEY[key]
        if lv.rule_path is None:
            out.setdefault("world", {})["rations"] = ration_entries(base.world.rations, value)
        else:
            sec, name = lv.rule_path
            ro.setdefault(sec, {})[name] = float(value)
    if ro:
        merged = {k: dict(v) for k, v in (base.rule_overrides or {}).items()}
        for sec, d in ro.items():
            merged.setdefault(sec, {}).update(d)
        out["rule_overrides"] = merged
    if base.posterior is not None and settings.posterior != base.posterior.mode:
        out["posterior"] = {"file": base.posterior.file, "mode": settings.posterior}
    return out


def resolve(settings: Settings, cat: dict[str, ScenarioEntry]) -> Resolved:
    """Validate ``settings`` against its scenario file (a ScenarioError names what is wrong)."""
    if settings.scenario not in cat:
        raise bs.ScenarioError("scenario", f"unknown scenario {settings.scenario!r} (known: {', '.join(cat)})")
    entry = cat[settings.scenario]
    ov = overrides(settings, entry)
    sc = _load(str(entry.path), ov)
    return Resolved(settings, entry, sc, int(sc.run.seed), ov)


def rule_values(sc, key: str) -> list[tuple[str, float]]:
    """What the scenario's rule sets (with its own overrides) give a rule lever: [(rule set, value)]."""
    lv = LEVER_BY_KEY[key]
    if lv.rule_path is None:
        return [("scenario", jilin_famine_ration(sc))]
    sec, name = lv.rule_path
    out = []
    for sw in sc.rules:
        rs = bs.load_rule_set(sw.use, sc.overrides_for(sw.use))
        out.append((sw.use, float(getattr(getattr(rs, sec), name))))
    return out
