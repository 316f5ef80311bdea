"""The page of ``bordersim explore``: a Solara app (``solara run bordersim.explore.app``).

Built directly on Solara, with Mesa's conventions, rather than inside Mesa's ``SolaraViz``.
``SolaraViz`` (mesa 3.5) hosts a model, a ``model_params`` form, play/step/reset and a grid of plot
components; what this page must do falls outside it:

* its controller steps a fixed number of steps per press (``render_interval``); the page steps a
  day *or a calendar month* and runs back to the same date after a change of rules;
* its reset rebuilds the model as ``type(model)(**model_params)``; here a choice is a scenario file
  plus a rule timeline, lever overrides, a scale and a posterior mode, validated by
  ``load_scenario`` exactly as ``bordersim run`` does, with the page's run seeded as replicate 0;
* it has no place for background jobs with progress (the calibrated baseline's band, the paired
  comparison) and runs play in a thread that steps the model while components read it;
* its layout is a draggable grid of plots under "Page N" tabs, its time display is a step count,
  and it adds controls (play interval, render interval, threads) that mean nothing to a historian.

So the page keeps Mesa's vocabulary and behaviour (a model stepped one day per ``step()``; Reset,
Play/Pause and Step buttons as in Mesa's ModelController; parameters in a sidebar) on plain Solara
components, and leaves the model, its stepping and everything it draws to Solara-free modules
(:mod:`.session`, :mod:`.views`, :mod:`.bands`, :mod:`.figures`, :mod:`.map`).

The server's configuration (scenario, band replicates, cache directory) comes from the
``BORDERSIM_EXPLORE`` environment variable, set by ``bordersim explore``.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import solara

from .bands import DEFAULT_BAND_REPLICATES, JobRunner, band_settings, compare
from .figures import compare_figure
from .map import MAP_MEASURES
from .series import fmt_date, month_label
from .session import Session
from .settings import (
    BASELINE,
    DEFAULT_SCALE,
    LEVERS,
    POSTERIOR_MODES,
    SCALES,
    SCENARIO_SCALES,
    Settings,
    catalogue,
    rule_title_short,
    scale_for,
    timeline_options,
)
from .views import (
    FIGURE_TABS,
    TABS,
    FigureCache,
    both_html,
    compare_rows,
    draw_tab,
    drawn_text,
    figure_key,
    headline,
    lever_defaults,
    rules_html,
)

log = logging.getLogger("bordersim.explore")


@dataclass(frozen=True)
class Config:
    scenario: str | None = None
    band_replicates: int = DEFAULT_BAND_REPLICATES
    band_scale: float = DEFAULT_SCALE
    cache_dir: str | None = "outputs/explore"
    scale: float = DEFAULT_SCALE
    #: Whether --scale was given (else a scenario of SCENARIO_SCALES starts at its own, smaller scale).
    scale_given: bool = False


def config() -> Config:
    raw = os.environ.get("BORDERSIM_EXPLORE")
    if not raw:
        return Config()
    return Config(**json.loads(raw))


_jobs_lock = threading.Lock()
_JOBS: JobRunner | None = None


def jobs() -> JobRunner:
    """One replicate runner per server, shared by every open page."""
    global _JOBS
    with _jobs_lock:
        if _JOBS is None:
            cfg = config()
            _JOBS = JobRunner(cache_dir=Path(cfg.cache_dir) if cfg.cache_dir else None)
            atexit.register(_JOBS.shutdown)
        return _JOBS


CSS = """
.bs-table { border-collapse: collapse; font-size: 13px; margin: 4px 0 8px; }
.bs-table td, .bs-table th { border-bottom: 1px solid #ddd; padding: 3px 8px; text-align: left; vertical-align: top; }
.bs-table th { background: #f3f3f3; }
.bs-num { font-size: 20px; font-weight: 600; line-height: 1.1; }
.bs-lab { font-size: 11.5px; color: #555; }
.bs-date { font-size: 22px; font-weight: 600; }
.bs-note { font-size: 12px; color: #555; }
.v-slider__thumb-label { font-size: 10px; }
.v-navigation-drawer .v-select__selection { max-width: 310px; }  /* a long label must not widen the sidebar */
"""


@solara.component
def Headline(snap):
    items = headline(snap)
    with solara.Row(gap="18px", style={"flex-wrap": "wrap", "margin": "4px 0 6px"}):
        for label, value in items:
            with solara.Column(gap="0px", style={"min-width": "96px"}):
                solara.HTML(tag="div", unsafe_innerHTML=value, classes=["bs-num"])
                solara.HTML(tag="div", unsafe_innerHTML=label, classes=["bs-lab"])


@solara.component
def LeverControls(session: Session, snap):
    defaults = solara.use_memo(lambda: _safe_defaults(session, snap.settings), [snap.settings.replace(levers=())])
    for lv in LEVERS:
        set_value = snap.settings.lever(lv.key)
        file_vals = defaults.get(lv.key, [])
        if set_value is None and file_vals and all(v != v for _, v in file_vals):  # NaN: e.g. the ration in a 1990s run
            solara.HTML(
                tag="div",
                unsafe_innerHTML=f"<b>{lv.label}</b>: not in this scenario's period",
                style="font-size:13px;margin-bottom:8px;color:#555",
            )
            continue
        shown = set_value if set_value is not None else (file_vals[0][1] if file_vals else lv.lo)

        def on_value(v, key=lv.key, shown=float(shown), step=lv.step):
            # The slider reports its value when it snaps to its grid: that is not a choice.
            if abs(float(v) - shown) < step / 2:
                return
            session.apply(session.settings.with_lever(key, v))

        with solara.Tooltip(f"{lv.source}"):
            with solara.Column(gap="0px", style={"margin-bottom": "4px"}):
                solara.HTML(tag="div", unsafe_innerHTML=f"<b>{lv.label}</b>: {lv.fmt(shown)} {lv.unit}", style="font-size:13px")
                solara.SliderFloat(
                    "", value=float(shown), min=lv.lo, max=lv.hi, step=lv.step, on_value=on_value, thumb_label=True
                )
                if set_value is not None:
                    note = f"set here to {lv.fmt(set_value)}, under every rule set of the timeline"
                else:
                    uniq = []
                    for name, v in file_vals:
                        if not uniq or uniq[-1][1] != v:
                            uniq.append((name, v))
                    note = "as the files say: " + ", then ".join(f"{lv.fmt(v)} ({n})" for n, v in uniq)
                solara.HTML(tag="div", unsafe_innerHTML=note, classes=["bs-note"], style="margin-top:-18px")
    if snap.settings.levers:
        solara.Button(
            "Levers back to the rule files",
            icon_name="mdi-undo",
            text=True,
            small=True,
            on_click=lambda: session.apply(session.settings.replace(levers=())),
        )


def _safe_defaults(session, settings):
    try:
        return lever_defaults(settings, session.catalogue)
    except Exception:  # an invalid choice is reported by the session itself
        return {}


@solara.component
def Sidebar(session: Session, snap, cat):
    s = snap.settings
    labels = {k: e.label for k, e in cat.items()}
    by_label = {v: k for k, v in labels.items()}
    tl = timeline_options()
    tl_by_label = {v: k for k, v in tl.items()}
    with solara.Card("Run", margin=0, elevation=0):
        playing = snap.activity == "playing" and snap.busy
        with solara.Row(gap="6px", style={"flex-wrap": "wrap"}):
            solara.Button("Reset", icon_name="mdi-restart", color="primary", outlined=True, on_click=session.reset)
            if playing:
                solara.Button("Pause", icon_name="mdi-pause", color="primary", on_click=session.pause)
            else:
                solara.Button(
                    "Play",
                    icon_name="mdi-play",
                    color="primary",
                    on_click=session.play,
                    disabled=not snap.running or snap.resolved is None,
                )
        with solara.Row(gap="6px", style={"flex-wrap": "wrap", "margin-top": "6px"}):
            solara.Button(
                "Step a day",
                icon_name="mdi-step-forward",
                outlined=True,
                on_click=session.step_day,
                disabled=not snap.running or snap.resolved is None,
            )
            solara.Button(
                "Step a month",
                icon_name="mdi-skip-forward",
                outlined=True,
                on_click=session.step_month,
                disabled=not snap.running or snap.resolved is None,
            )
        speeds = {"a month a second": 30.0, "a season a second": 91.0, "as fast as it runs": None}
        solara.Select(
            "Play speed",
            value={v: k for k, v in speeds.items()}.get(session.pace, "as fast as it runs"),
            values=list(speeds),
            on_value=lambda v: setattr(session, "pace", speeds[v]),
        )
    with solara.Card("Scenario", margin=0, elevation=0):
        solara.Select(
            "Scenario",
            value=labels.get(s.scenario, s.scenario),
            values=list(by_label),
            on_value=lambda v: session.apply(
                Settings(
                    scenario=by_label[v],
                    scale=scale_for(by_label[v], session.settings.scale, session.settings.scenario, config().scale),
                    posterior=session.settings.posterior,
                ),
                catch_up=False,
            ),
        )
        solara.Select(
            "Rule timeline",
            value=tl.get(s.timeline, s.timeline),
            values=list(tl_by_label),
            on_value=lambda v: session.apply(session.settings.replace(timeline=tl_by_label[v])),
        )
        if snap.resolved is not None:
            solara.HTML(
                tag="div",
                classes=["bs-note"],
                unsafe_innerHTML=" &rarr; ".join(f"{r.use} ({r.from_:%d %b %Y})" for r in snap.resolved.scenario.rules),
            )
    with solara.Card("Levers", margin=0, elevation=0):
        LeverControls(session, snap)
    with solara.Card("Sample and parameters", margin=0, elevation=0):
        scale_labels = {f"{x:g}": x for x in SCALES}
        solara.Select(
            "Scale (share of households simulated)",
            value=f"{s.scale:g}",
            values=list(scale_labels),
            on_value=lambda v: session.apply(session.settings.replace(scale=scale_labels[v])),
        )
        if s.scenario in SCENARIO_SCALES:
            solara.HTML(
                tag="div",
                classes=["bs-note"],
                unsafe_innerHTML=f"Twenty years (1993-2012): the page starts it at scale {SCENARIO_SCALES[s.scenario]:g}.",
            )
        solara.ToggleButtonsSingle(
            value=s.posterior,
            values=list(POSTERIOR_MODES),
            on_value=lambda v: session.apply(session.settings.replace(posterior=v)),
        )
        solara.HTML(tag="div", classes=["bs-note"], unsafe_innerHTML=POSTERIOR_MODES.get(s.posterior, ""))
        seed = snap.resolved.seed if snap.resolved is not None else (s.seed or 0)
        solara.InputInt("Seed", value=seed, on_value=lambda v: session.apply(session.settings.replace(seed=int(v))))


@solara.component
def Status(snap):
    sc = snap.resolved.scenario if snap.resolved is not None else None
    with solara.Row(style={"align-items": "baseline", "flex-wrap": "wrap"}, gap="16px"):
        date = fmt_date(snap.date) if snap.date else f"before {fmt_date(snap.start)}"
        solara.HTML(tag="div", unsafe_innerHTML=date, classes=["bs-date"])
        if sc is not None:
            solara.Text(f"day {snap.today:,} of {snap.n_days:,} ({fmt_date(snap.start)} to {fmt_date(snap.end)})")
        if snap.rules_name:
            solara.HTML(
                tag="div",
                unsafe_innerHTML=f"rules in force: <b>{snap.rules_name}</b> &mdash; {rule_title_short(snap.rules_name)}",
            )
    if snap.activity in ("catching up", "building") or (snap.busy and snap.activity):
        what = {
            "catching up": "new settings: running back to the date reached",
            "building": "building the model",
            "playing": "playing",
            "stepping": "stepping",
        }.get(snap.activity, snap.activity)
        pct = None if snap.progress is None else 100 * snap.progress
        solara.Text(f"{what} ({snap.today:,} of {snap.target:,} days)" if snap.activity != "building" else what)
        solara.ProgressLinear(True if pct is None else pct, classes=["bs-progress"])


@solara.component
def BandStatus(job):
    if job is None:
        solara.HTML(tag="div", classes=["bs-note"], unsafe_innerHTML="No baseline band (started with --band-replicates 0).")
        return
    if job.error:
        solara.Warning(f"The calibrated baseline's band could not be computed: {job.error}")
        return
    if job.complete:
        solara.HTML(
            tag="div",
            classes=["bs-note"],
            unsafe_innerHTML=(
                f"Grey band: the calibrated baseline, 5-95% of {job.total} replicates at scale {job.settings.scale:g} "
                f"(parameters drawn from the posterior), cached in <code>{job.cache or 'memory'}</code>."
            ),
        )
        return
    solara.Text(f"Computing the calibrated baseline's 90% band in the background: {job.done} of {job.total} replicates")
    solara.ProgressLinear(100 * job.done / job.total, classes=["bs-progress"])


@solara.component
def CompareTab(session: Session, snap, band):
    region, set_region = solara.use_state("china")
    reps, set_reps = solara.use_state(band.total if band is not None else 20)
    job_keys, set_job_keys = solara.use_state(None)
    runner = jobs()
    s = snap.settings
    entry = session.catalogue.get(s.scenario)
    solara.HTML(
        tag="p",
        unsafe_innerHTML=(
            "Runs the page's settings and the calibrated baseline replicate by replicate with the same seeds and the same "
            "parameter draws, so that each pair differs only by the settings, and reports the <b>paired difference</b>: its "
            "median and the 5-95% range over pairs (the spread that remains), with both runs' own ranges. Runs in the "
            "background; the page stays usable."
        ),
    )
    with solara.Row(gap="12px", style={"align-items": "center", "flex-wrap": "wrap"}):
        solara.Select(
            "Region", value=region, values=["china", "jilin", "liaoning", "yanbian", "tonghua", "andong"], on_value=set_region
        )
        solara.Select("Pairs", value=str(reps), values=["10", "20", "40"], on_value=lambda v: set_reps(int(v)))

        def start():
            this = runner.submit("run", entry, s, reps, f"{s.scenario} ({s.describe()})")
            base = runner.submit(
                "base", session.catalogue[BASELINE], band_settings(s.scale, s.seed, s.posterior), reps, "calibrated baseline"
            )
            set_job_keys((this.key, base.key))

        solara.Button(
            "Compare with the baseline", icon_name="mdi-compare", color="primary", on_click=start, disabled=entry is None
        )
    if job_keys is None:
        solara.HTML(tag="p", classes=["bs-note"], unsafe_innerHTML=f"Settings to compare: {s.describe()}.")
        return
    this, base = runner.jobs.get(job_keys[0]), runner.jobs.get(job_keys[1])
    if this is None or base is None:
        return
    for j in (this, base):
        if j.error:
            solara.Error(j.status())
        elif not j.complete:
            solara.Text(j.status())
            solara.ProgressLinear(100 * j.done / j.total, classes=["bs-progress"])
    if not (this.complete and base.complete):
        return
    cmp = compare(this, base, region)
    if cmp is None:
        solara.Warning("The two runs share no month.")
        return
    CompareResult(cmp, this, base, region, job_keys)


@solara.component
def CompareResult(cmp, this, base, region, job_keys):
    rows = compare_rows(cmp)
    body = "".join(
        f"<tr><td>{r.label}</td><td>{r.baseline}</td><td>{r.this}</td><td><b>{r.difference}</b></td><td>{r.direction}</td></tr>"
        for r in rows
    )
    solara.HTML(
        tag="div",
        unsafe_innerHTML=(
            f"<p><b>{this.settings.describe()}</b> against the calibrated baseline, {region}, "
            f"{month_label(cmp.months[0])} to {month_label(cmp.months[-1])}, {cmp.pairs} pairs "
            "(persons; totals over the period, stocks at its end; "
            "median [5% to 95%]):</p><table class='bs-table'><tr><th>measure</th><th>baseline</th><th>this setting</th>"
            f"<th>paired difference</th><th>pairs where this setting is</th></tr>{body}</table>"
        ),
    )
    png = solara.use_memo(
        lambda: compare_figure(cmp, {m: lab for m, lab in [(r["measure"], r["label"]) for r in cmp.rows]}),
        [job_keys, region, this.done, base.done],
    )
    solara.Image(png, width="100%")


def _new_session(first: str, cfg: Config, cat) -> Session:
    scale = cfg.scale if cfg.scale_given else scale_for(first, cfg.scale)
    s = Session(Settings(scenario=first, scale=scale), cat)
    s.pace = 30.0  # a month a second: fast enough to watch a year go by, slow enough to read it
    return s


def _poll(cancel: threading.Event, session: Session, figs: FigureCache, state: dict, band_key, set_tick) -> None:
    """Watch the session and the jobs: re-render on change, then draw the visible figure here, off the page's events."""
    last, last_draw = None, 0.0
    while not cancel.is_set():
        snap = session.snapshot()
        band = jobs().jobs.get(band_key) if band_key else None
        key = (snap.version, jobs().version)
        playing = snap.activity in ("playing", "catching up") and snap.busy
        if key != last:
            last = key
            set_tick(lambda t: t + 1)  # date, numbers, progress at once
            name, opts = TABS[state["tab"]], state["map"]
            fk = figure_key(name, snap, band, opts)
            if name in FIGURE_TABS and not figs.has(name, fk) and (not playing or time.time() - last_draw > 2.0):
                try:
                    figs.get(name, fk, lambda n=name, sn=snap, b=band, o=opts: draw_tab(n, sn, b, *o))
                    last_draw = time.time()
                except Exception:
                    log.exception("bordersim explore: drawing %s failed", name)
                set_tick(lambda t: t + 1)
        time.sleep(0.5 if playing else 0.15)


@solara.component
def Page():
    cfg = config()
    cat = solara.use_memo(lambda: catalogue(extra=Path(cfg.scenario) if cfg.scenario else None), [])
    first = Path(cfg.scenario).stem if cfg.scenario else BASELINE
    first = first if first in cat else next(iter(cat))
    session = solara.use_memo(lambda: _new_session(first, cfg, cat), [])
    figs = solara.use_memo(FigureCache, [])
    _tick, set_tick = solara.use_state(0)
    tab, set_tab = solara.use_state(0)
    map_opts, set_map_opts = solara.use_state(("crossed", "run"))
    band_key, set_band_key = solara.use_state(None)
    state = solara.use_memo(lambda: {"tab": 0, "map": ("crossed", "run")}, [])
    state["tab"], state["map"] = tab, map_opts
    solara.use_effect(lambda: session.close, [])

    def start_band():
        if cfg.band_replicates > 0 and BASELINE in cat:
            job = jobs().submit("base", cat[BASELINE], band_settings(cfg.band_scale), cfg.band_replicates, "calibrated baseline")
            set_band_key(job.key)

    solara.use_effect(start_band, [])
    # Not intrusive: solara's intrusive cancel traces every line of the thread, and this thread draws figures.
    solara.use_thread(
        lambda cancel: _poll(cancel, session, figs, state, band_key, set_tick), dependencies=[band_key], intrusive_cancel=False
    )
    snap = session.snapshot()
    band = jobs().jobs.get(band_key) if band_key else None
    solara.Title("bordersim explore")
    solara.Style(CSS)
    label = cat[snap.settings.scenario].label if snap.settings.scenario in cat else snap.settings.scenario
    with solara.AppBar():
        solara.AppBarTitle(f"bordersim explore: {label}")
    with solara.Sidebar():
        Sidebar(session, snap, cat)
    with solara.Column(gap="4px", style={"padding": "0 8px"}):
        Header(snap, band if cfg.band_replicates > 0 else None)
        with solara.lab.Tabs(value=tab, on_value=set_tab):
            for name in TABS:
                solara.lab.Tab(name)
        TabBody(TABS[tab], session, snap, band, figs, map_opts, set_map_opts)


@solara.component
def Header(snap, band):
    sc = snap.resolved.scenario if snap.resolved is not None else None
    if snap.error:
        solara.Error(snap.error)
    if sc is not None:
        solara.HTML(
            tag="div",
            unsafe_innerHTML=f"<b>Scenario <code>{sc.name}</code></b>: {' '.join(sc.description.split())}",
            classes=["bs-note"],
            style="font-size:13px",
        )
    Status(snap)
    Headline(snap)
    solara.HTML(
        tag="div",
        classes=["bs-note"],
        unsafe_innerHTML=(
            "Totals since the start of the run for China (all simulated regions), persons; stocks at the last month end. "
            f"Scale {snap.settings.scale:g}: counts are scaled back to the whole population."
        ),
    )
    BandStatus(band)


@solara.component
def TabBody(name, session, snap, band, figs, map_opts, set_map_opts):
    if name == "Rules in force":
        solara.HTML(tag="div", unsafe_innerHTML=rules_html(snap))
        return
    if name == "Compare with the baseline":
        CompareTab(session, snap, band)
        return
    if name == "About":
        About(snap, band)
        return
    map_measure, map_window = map_opts
    if name == "Map":
        windows = {"since the start": "run", "this month": "month"}
        with solara.Row(gap="12px"):
            solara.Select(
                "Flow",
                value=MAP_MEASURES[map_measure],
                values=list(MAP_MEASURES.values()),
                on_value=lambda v: set_map_opts(({b: a for a, b in MAP_MEASURES.items()}[v], map_window)),
            )
            solara.ToggleButtonsSingle(
                value={v: k for k, v in windows.items()}[map_window],
                values=list(windows),
                on_value=lambda v: set_map_opts((map_measure, windows[v])),
            )
    fk = figure_key(name, snap, band, map_opts)
    # The poller draws the figure in the background; meanwhile the last one stays up.
    png = figs.peek(name) if figs.peek(name) is not None and not figs.has(name, fk) else None
    if png is None:
        png = figs.get(name, fk, lambda: draw_tab(name, snap, band, map_measure, map_window))
    elif not snap.busy:
        solara.HTML(tag="div", classes=["bs-note"], unsafe_innerHTML="updating the figure...")
    if png is not None:
        solara.Image(png, width="100%")
    if name == "Both directions":
        solara.HTML(tag="div", unsafe_innerHTML=both_html(snap))


@solara.component
def About(snap, band):
    solara.HTML(
        tag="div",
        unsafe_innerHTML=(
            "<h3>How to read this page</h3>"
            "<p>Each step of the model is one day. The page's run is replicate 0 of "
            "<code>bordersim run SCENARIO --seed S --scale F</code>: same scenario file, same seed, same parameter draw. "
            "Counts are persons (households where a label says so), attributed to the home region of the household and "
            "scaled back to the whole population when the scale is below 1; Lishu (Doc 4) is always simulated whole. "
            "<i>Actual</i> measures (attempted, crossed, drowned) are what happened in the model; <i>observed</i> ones "
            "(discovered, seen crossing, corpses found) are what the guards could have recorded, which is what the archive "
            "counts.</p>"
            "<p><b>Archival counts</b> (calibration/targets.yaml) are drawn over the months they cover at their monthly average: "
            "black if used in calibration, orange if held out. 'Incomplete statistics' marks counts the archive itself calls "
            "an undercount.</p>"
            "<p><b>The grey band</b> is the calibrated baseline: the 5-95% range over replicates of "
            "<code>scenarios/baseline_1960_1962.yaml</code> with parameters drawn from the posterior, computed in the "
            "background when the page opens and cached under <code>outputs/explore/</code> (keyed by the model's code, "
            "the rule files, the scenario and the posterior).</p>"
            "<p><b>Both directions</b> shows the northward flow (issue 15): North Koreans crossing into China, what "
            "China does with those it catches (returned with or without identity information, allowed to stay, released, "
            "assisted) and the North Koreans in China at month end, beside the southward crossings. The dossier gives "
            "no northward count: its levers (the rules in force, <code>northward</code>) are the rule files' readings "
            "of Doc 1 (2), Doc 10 Arts. 4-5 and Doc 11 (6). The 1990s scenarios (1993-2012) show the reversal.</p>"
            "<p><b>Levers</b> set on the page replace what each rule file says under every rule set of the timeline; "
            "the ration lever replaces Jilin's entries of November 1960 to September 1961. Changing a setting rebuilds "
            "the model and runs it back to the date reached.</p>"
            f"<p><b>Behavioural parameters of this run</b> ({snap.settings.posterior}): {drawn_text(snap)}.</p>"
            "<p>Built on Solara directly (with Mesa's model/step/reset conventions), not on Mesa's SolaraViz: see "
            "<code>bordersim/explore/app.py</code> for why. The page has no authentication: by default it listens on "
            "127.0.0.1 only.</p>"
        ),
    )
