"""The household decision kernel as plain Mesa agents versus bordersim's vectorised kernel.

Plain Mesa: one ``mesa.Agent`` subclass instance per household, its state in Python attributes. Each
day the model computes the day's conditions per home region (as Python lists) and calls
``model.agents.shuffle_do("step")``; each household at home computes its hazards with the same
arithmetic as ``HouseholdDecision.hazards`` / ``HouseholdDecision.channels`` (hunger from the ration and the
household's brigade, kin, rumour belief, the push factor ``pull * education * exp(-risk_aversion *
risk)``, the local propensity, the repeat factor after an earlier attempt, the three channels
food_kin / rumour / proper), draws a Bernoulli ``u < 1 - exp(-h)`` with the model's ``self.random``
for the move intention and, if it did not fire, for one member's travel application (bordersim: a
household whose move clock fires sends no traveller that day), and on an event draws the main reason
in proportion to the channels and records (day, household, reason).

Vectorised (bordersim): the same households, built by bordersim from the baseline scenario at a
small scale; each day ``WorldSchedule.context`` + ``HouseholdDecision.update_hazards`` (hazards recomputed for
every household every day) + ``HouseholdDecision.fire`` (reasons drawn), and the events recorded. Also
timed: ``BorderModel.step`` for the whole model on the same households and days (rumour network,
letters, guards, settlement, authorities, recorder; hazards recomputed when the model marks them
dirty).

In both decision kernels belief stays fixed (no network) and an event changes no state (the
intention or application is recorded; the household stays at home and can fire again), so the two
do the same work. Before timing, the plain-Mesa hazards are checked against ``HouseholdDecision.hazards``
for every household on the first day (they must agree to rounding), and the event counts of both
kernels are reported side by side with the counts expected from the hazards.

The vectorised kernel has a fixed cost per day (a few dozen numpy calls) that small populations do
not amortise, while the plain-Mesa cost per household-step does not fall with size; so the
comparison is also made at full scale (every household of the baseline, 157,623) for
``--full-scale-days`` days (default 20; 0 skips it).

Usage (from the repository root)::

    /tmp/venv/bin/python benchmarks/bench_plain_mesa.py         # 10,000 households x 90 days, and full scale x 20 days
    /tmp/venv/bin/python benchmarks/bench_plain_mesa.py --households 20000 --days 60 --repeats 5

Writes ``benchmarks/results/plain_mesa.json`` (atomically).
"""

from __future__ import annotations

import os

# Single core: before numpy is imported.
for _k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_k] = "1"

import argparse  # noqa: E402
import copy  # noqa: E402
import datetime as dt  # noqa: E402
import math  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import mesa  # noqa: E402
import numpy as np  # noqa: E402
import yaml  # noqa: E402

from bordersim.model import BorderModel  # noqa: E402
from bordersim.model.households import IS_BACK, IS_HOME  # noqa: E402
from bordersim.model.streams import Streams  # noqa: E402
from bordersim.world.loader import validate_scenario  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
from bench_core import environment, write_json_atomic  # noqa: E402

BASELINE = ROOT / "scenarios" / "baseline_1960_1962.yaml"
FULL_SCALE_HOUSEHOLDS = 157_623  # baseline at scale 1.0 (bench_core); only used to pick a small scale
LISHU = 192  # always simulated whole
TARGET_RATIO = 100.0


# -- the scenario ----------------------------------------------------------------------------------------
def small_scenario(households: int | None, start: dt.date, days: int, seed: int):
    """The baseline world and population at a scale giving about ``households`` simulated households
    (``None``: scale 1.0, every household)."""
    data = copy.deepcopy(yaml.safe_load(BASELINE.read_text()))
    data["name"] = "bench_small"
    if households is None:
        scale = 1.0
    else:
        scale = min(1.0, max(1e-6, (households - LISHU) / (FULL_SCALE_HOUSEHOLDS - LISHU)))
    end = start + dt.timedelta(days=days - 1)
    data["run"].update({"start": start.isoformat(), "end": end.isoformat(), "seed": seed, "replicates": 1, "scale": scale})
    # The first rule set must start on or before run.start (it does: 1960-09-01).
    return validate_scenario(data, BASELINE)


def fixed_beliefs(n: int, seed: int) -> np.ndarray:
    """Fixed rumour beliefs, the same in both kernels (mean about 0.11; no network)."""
    return np.random.default_rng(seed + 1).beta(0.5, 4.0, size=n)


# -- plain Mesa ------------------------------------------------------------------------------------------
class Day:
    """Today's conditions per home region, as plain Python lists (computed once a day by the model)."""

    __slots__ = ("today", "hunger_ok", "hunger_poor", "poor_share", "propensity", "education", "risk", "pull")

    def __init__(self, ctx, today: int):
        self.today = today
        self.hunger_ok = ctx.hunger_ok_leaf.tolist()
        self.hunger_poor = ctx.hunger_poor_leaf.tolist()
        self.poor_share = ctx.poor_share_leaf.tolist()
        self.propensity = ctx.propensity_leaf.tolist()
        self.education = ctx.education_leaf.tolist()
        self.risk = ctx.risk_leaf.tolist()
        self.pull = float(ctx.pull)


class Household(mesa.Agent):
    """One household, state in attributes; the decision of ``HouseholdDecision.hazards`` / ``fire`` per day."""

    def __init__(self, model, leaf, size, kin, brigade_u, belief, state, away, stayed):
        super().__init__(model)
        self.leaf = leaf
        self.size = size
        self.kin = kin
        self.brigade_u = brigade_u
        self.belief = belief
        self.state = state
        self.away = away
        self.stayed = stayed
        self.reason = -1

    def channels(self, d: Day):
        """Move and travel hazards of the three channels today (zero where the household cannot act)."""
        p = self.model.p
        leaf = self.leaf
        at_home = self.model.is_home[self.state]
        if not at_home:
            return 0.0, 0.0, 0.0, 0.0, 0.0, 0.0
        short = d.hunger_poor[leaf] if self.brigade_u < d.poor_share[leaf] else d.hunger_ok[leaf]
        push = d.pull * d.education[leaf] * math.exp(-p.risk_aversion * d.risk[leaf])
        prop = d.propensity[leaf]
        kin = 1.0 if self.kin else 0.0
        rum = push * (short + p.rumour_floor) * self.belief
        hf = p.repeat_factor if self.model.is_back[self.state] else 1.0
        m_fk = prop * push * p.rate_food_kin * short * kin * hf
        m_ru = prop * p.rate_rumour * rum * hf
        m_pr = prop * p.rate_proper * kin * hf
        if self.away == 0 and self.size - self.stayed >= 2:
            t_fk = prop * push * p.travel_rate_food_kin * short * kin
            t_ru = prop * p.travel_rate_rumour * rum
            t_pr = prop * p.travel_rate_proper * kin
        else:
            t_fk = t_ru = t_pr = 0.0
        return m_fk, m_ru, m_pr, t_fk, t_ru, t_pr

    def step(self) -> None:
        m = self.model
        m_fk, m_ru, m_pr, t_fk, t_ru, t_pr = self.channels(m.day)
        rnd = self.random
        h = m_fk + m_ru + m_pr
        if h > 0.0 and rnd.random() < 1.0 - math.exp(-h):
            u = rnd.random() * h
            reason = 0 if u < m_fk else (1 if u < m_fk + m_ru else 2)
            self.reason = reason
            m.intentions.append((m.day.today, self.unique_id, reason))
            return  # a household whose move fires sends no traveller today
        h = t_fk + t_ru + t_pr
        if h > 0.0 and rnd.random() < 1.0 - math.exp(-h):
            u = rnd.random() * h
            reason = 0 if u < t_fk else (1 if u < t_fk + t_ru else 2)
            m.travel_applications.append((m.day.today, self.unique_id, reason))


class PlainMesaModel(mesa.Model):
    """Households as Mesa agents; the day's conditions from bordersim's world schedule (the same inputs)."""

    def __init__(self, source: BorderModel, belief: np.ndarray, seed: int):
        super().__init__(rng=seed)
        self.p = source.params
        self.is_home = IS_HOME.tolist()
        self.is_back = IS_BACK.tolist()
        self.schedule = source.schedule
        self.rules = source.rules
        self.start = source.start
        self.source = source
        hh = source.households
        cols = zip(
            hh.leaf.tolist(),
            hh.size.tolist(),
            hh.kin.tolist(),
            hh.brigade_u.tolist(),
            belief.tolist(),
            hh.state.tolist(),
            hh.away.tolist(),
            hh.stayed.tolist(),
        )
        self.households = [Household(self, *c) for c in cols]
        self.intentions: list[tuple[int, int, int]] = []
        self.travel_applications: list[tuple[int, int, int]] = []
        self.today = 0
        self.day: Day | None = None

    def step(self) -> None:
        t = self.today
        ctx = self.schedule.context(t, self.rules)
        self.day = Day(ctx, t)
        self.agents.shuffle_do("step")
        self.today += 1


def check_same_hazards(pm: PlainMesaModel, source: BorderModel) -> float:
    """Largest relative difference between the plain-Mesa and bordersim hazards on day 0 (every household)."""
    ctx = source.schedule.context(0, source.rules)
    h_move, h_travel = source.decision.hazards(slice(None), ctx)
    d = Day(ctx, 0)
    ch = np.array([a.channels(d) for a in pm.households])
    mine_move = ch[:, :3].sum(axis=1)
    mine_travel = ch[:, 3:].sum(axis=1)
    scale = max(float(np.max(h_move)), float(np.max(h_travel)), 1e-300)
    err = max(float(np.max(np.abs(mine_move - h_move))), float(np.max(np.abs(mine_travel - h_travel)))) / scale
    # Channels too (the reason draw): compare with HouseholdDecision.channels for households at home.
    home = np.flatnonzero(IS_HOME[source.households.state])
    cm = source.decision.channels(home, ctx, travel=False) * np.where(
        IS_BACK[source.households.state[home]], ctx.params.repeat_factor, 1.0
    )
    err_ch = float(np.max(np.abs(ch[home, :3].T - cm))) / scale
    return max(err, err_ch)


def time_plain_mesa(source: BorderModel, belief: np.ndarray, days: int, seed: int) -> dict:
    t0 = time.perf_counter()
    pm = PlainMesaModel(source, belief, seed)
    t_build = time.perf_counter() - t0
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(days):
        pm.step()
    t_run, c_run = time.perf_counter() - t0, time.process_time() - c0
    return {
        "build_seconds": t_build,
        "run_seconds": t_run,
        "cpu_seconds": c_run,
        "intentions": len(pm.intentions),
        "travel_applications": len(pm.travel_applications),
        "intention_reasons": np.bincount([r for _, _, r in pm.intentions], minlength=3).tolist(),
    }


# -- bordersim ------------------------------------------------------------------------------------------
def build_bordersim(sc, belief_seed: int, seed: int) -> tuple[BorderModel, np.ndarray]:
    model = BorderModel(sc, rng=np.random.default_rng(seed))
    belief = fixed_beliefs(model.households.n, belief_seed)
    model.households.belief[:] = belief
    return model, belief


def time_vectorised_kernel(sc, belief_seed: int, days: int, seed: int, fire_seed: int) -> dict:
    """``context`` + ``update_hazards`` + ``fire`` every day, events recorded; nothing else.

    The households are built with ``seed`` (the same households as the plain-Mesa model); the Exp(1)
    thresholds are redrawn and the events drawn with ``fire_seed``, so repeats are independent.
    """
    model, _ = build_bordersim(sc, belief_seed, seed)
    hh = model.households
    decision = model.decision
    rng = np.random.default_rng(fire_seed)
    decision.streams = Streams(np.random.SeedSequence(fire_seed))  # the events' reasons drawn with fire_seed
    hh.thresh_move = rng.exponential(1.0, size=hh.n)
    hh.thresh_travel = rng.exponential(1.0, size=hh.n)
    intentions, travel = [], []
    t0, c0 = time.perf_counter(), time.process_time()
    for t in range(days):
        ctx = model.schedule.context(t, model.rules)
        decision.update_hazards(ctx, t)
        movers, r_move, travellers, r_trav = decision.fire(ctx, t)
        hh.reason[movers] = r_move
        intentions.append((t, movers, r_move))
        travel.append((t, travellers, r_trav))
    t_run, c_run = time.perf_counter() - t0, time.process_time() - c0
    reasons = np.concatenate([r for _, _, r in intentions]) if intentions else np.zeros(0, dtype=np.int8)
    return {
        "run_seconds": t_run,
        "cpu_seconds": c_run,
        "intentions": int(sum(len(m) for _, m, _ in intentions)),
        "travel_applications": int(sum(len(x) for _, x, _ in travel)),
        "intention_reasons": np.bincount(reasons, minlength=3).tolist(),
    }


def expected_events(source: BorderModel, days: int) -> dict:
    """Expected event counts from the hazards (sum of daily probabilities; households stay at home)."""
    moves = travel = 0.0
    for t in range(days):
        ctx = source.schedule.context(t, source.rules)
        h_move, h_travel = source.decision.hazards(slice(None), ctx)
        moves += float(np.sum(-np.expm1(-h_move)))
        travel += float(np.sum(-np.expm1(-h_travel)))
    return {"intentions": moves, "travel_applications": travel}


def time_whole_model(sc, belief_seed: int, days: int, seed: int) -> dict:
    """``BorderModel.step`` for ``days`` days (everything the model does in a day)."""
    t0 = time.perf_counter()
    model, _ = build_bordersim(sc, belief_seed, seed)
    t_build = time.perf_counter() - t0
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(days):
        model.step()
    t_run, c_run = time.perf_counter() - t0, time.process_time() - c0
    return {"build_seconds": t_build, "run_seconds": t_run, "cpu_seconds": c_run, "steps": int(model.today)}


def compare(households: int | None, days: int, start: str, repeats: int, seed: int) -> dict:
    """Time the three kernels on the same households and days; check the hazards agree first."""
    sc = small_scenario(households, dt.date.fromisoformat(start), days, seed)
    source, belief = build_bordersim(sc, seed, seed)
    n = source.households.n
    steps = n * days

    pm = PlainMesaModel(source, belief, seed)
    err = check_same_hazards(pm, source)
    if err > 1e-9:
        raise SystemExit(f"plain-Mesa hazards differ from HouseholdDecision.hazards (max relative difference {err:.3g})")
    del pm
    expected = expected_events(source, days)
    print(
        f"{n:,} households x {days} days = {steps:,} household-steps; hazards agree (max rel. diff {err:.1e})",
        file=sys.stderr,
        flush=True,
    )

    plain, kern, whole = [], [], []
    for i in range(repeats):
        plain.append(time_plain_mesa(source, belief, days, seed + i))
        kern.append(time_vectorised_kernel(sc, seed, days, seed, fire_seed=seed + 1000 + i))
        whole.append(time_whole_model(sc, seed, days, seed))
        print(
            f"  repeat {i + 1}/{repeats}: plain Mesa {plain[-1]['run_seconds']:.3f} s, "
            f"vectorised kernel {kern[-1]['run_seconds']:.4f} s, whole model {whole[-1]['run_seconds']:.4f} s",
            file=sys.stderr,
            flush=True,
        )

    def stats(runs: list[dict]) -> dict:
        s = [r["run_seconds"] for r in runs]
        med, best = statistics.median(s), min(s)
        return {
            "run_seconds_median": med,
            "run_seconds_min": best,
            "cpu_seconds_median": statistics.median(r["cpu_seconds"] for r in runs),
            "household_steps_per_second_median": steps / med,
            "household_steps_per_second_best": steps / best,
        }

    def events(runs):
        return {
            "intentions_mean": statistics.mean(r["intentions"] for r in runs),
            "travel_applications_mean": statistics.mean(r["travel_applications"] for r in runs),
            "intention_reasons_total": np.sum([r["intention_reasons"] for r in runs], axis=0).tolist(),
        }

    sp, sk, sw = stats(plain), stats(kern), stats(whole)
    sp["build_seconds_median"] = statistics.median(r["build_seconds"] for r in plain)
    sw["build_seconds_median"] = statistics.median(r["build_seconds"] for r in whole)
    ratio_kernel = sk["household_steps_per_second_median"] / sp["household_steps_per_second_median"]
    ratio_whole = sw["household_steps_per_second_median"] / sp["household_steps_per_second_median"]
    return {
        "households": n,
        "days": days,
        "start": start,
        "household_steps": steps,
        "scale": sc.run.scale,
        "repeats": repeats,
        "hazards_max_relative_difference": err,
        "expected_events": expected,
        "plain_mesa": {
            **sp,
            "events": events(plain),
            "runs": plain,
            "what": "Model.step: day's conditions as lists + agents.shuffle_do('step'); per agent: hazards, "
            "Bernoulli(1-exp(-h)) with self.random, reason, record",
        },
        "vectorised_kernel": {
            **sk,
            "events": events(kern),
            "runs": kern,
            "what": "per day: WorldSchedule.context + HouseholdDecision.update_hazards (all households) + fire + record",
        },
        "whole_model": {
            **sw,
            "runs": whole,
            "what": "BorderModel.step (whole model, same households and days, same seed each repeat; beliefs "
            "start from the same fixed values and then evolve on the network)",
        },
        "ratio_kernel_vs_plain_mesa": ratio_kernel,
        "ratio_whole_model_vs_plain_mesa": ratio_whole,
        "target_met_kernel": ratio_kernel >= TARGET_RATIO,
        "target_met_whole_model": ratio_whole >= TARGET_RATIO,
    }


def print_table(title: str, c: dict) -> None:
    n, days, steps = c["households"], c["days"], c["household_steps"]
    sp, sk, sw = c["plain_mesa"], c["vectorised_kernel"], c["whole_model"]
    print(
        f"\n{title}: {n:,} households x {days} days from {c['start']} = {steps:,} household-steps, "
        f"{c['repeats']} repeat(s), 1 thread"
    )
    hdr = f"{'kernel':<36} {'run median':>11} {'run min':>10} {'hh-steps/s (median)':>20} {'vs plain Mesa':>14}"
    print("-" * len(hdr))
    print(hdr)
    print("-" * len(hdr))
    for name, s, r in (
        ("plain Mesa agents (shuffle_do)", sp, 1.0),
        ("bordersim kernel (update+fire daily)", sk, c["ratio_kernel_vs_plain_mesa"]),
        ("bordersim BorderModel.step (all)", sw, c["ratio_whole_model_vs_plain_mesa"]),
    ):
        print(
            f"{name:<36} {s['run_seconds_median']:>9.4f} s {s['run_seconds_min']:>8.4f} s "
            f"{s['household_steps_per_second_median']:>20,.0f} {r:>13.1f}x"
        )
    print("-" * len(hdr))
    ep, ek = sp["events"], sk["events"]
    print(
        f"events per run (mean): intentions {ep['intentions_mean']:.1f} (plain Mesa) vs {ek['intentions_mean']:.1f} "
        f"(bordersim); travel applications {ep['travel_applications_mean']:.1f} vs {ek['travel_applications_mean']:.1f}"
    )
    ex = c["expected_events"]
    print(f"expected from the hazards: intentions {ex['intentions']:.1f}, travel applications {ex['travel_applications']:.1f}")
    print(
        f"intention reasons food_kin/rumour/proper (all repeats): {ep['intention_reasons_total']} vs "
        f"{ek['intention_reasons_total']}"
    )
    print(
        f"plain-Mesa agent creation: {sp['build_seconds_median']:.3f} s; "
        f"bordersim model build: {sw['build_seconds_median']:.3f} s"
    )
    print(
        f"target >= {TARGET_RATIO:.0f}x plain Mesa: kernel {'met' if c['target_met_kernel'] else 'NOT met'}, "
        f"whole model {'met' if c['target_met_whole_model'] else 'NOT met'}"
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--households", type=int, default=10_000, help="about this many households (default 10,000)")
    ap.add_argument("--days", type=int, default=90, help="days simulated (default 90)")
    ap.add_argument("--start", default="1961-01-01", help="first day (default 1961-01-01: low ration, hunger high)")
    ap.add_argument("--repeats", type=int, default=3, help="timed repeats of each kernel (default 3)")
    ap.add_argument(
        "--full-scale-days",
        type=int,
        default=20,
        help="also compare at full scale (every baseline household) for this many days; 0 skips (default 20)",
    )
    ap.add_argument("--seed", type=int, default=1961)
    ap.add_argument("--out", default=str(HERE / "results" / "plain_mesa.json"))
    args = ap.parse_args(argv)

    load_before = os.getloadavg()
    main_cmp = compare(args.households, args.days, args.start, args.repeats, args.seed)
    full_cmp = None
    if args.full_scale_days > 0:
        full_cmp = compare(None, args.full_scale_days, args.start, args.repeats, args.seed)
    env = environment()
    env["loadavg_before"] = load_before
    env["loadavg_after"] = os.getloadavg()

    result = {
        "benchmark": "bench_plain_mesa",
        "description": "household decision kernel: plain Mesa agents (shuffle_do) vs bordersim's vectorised kernel",
        "belief": "fixed, Beta(0.5, 4) per household, identical in both kernels; no network",
        "target_ratio": TARGET_RATIO,
        "environment": env,
        **main_cmp,
        "full_scale": full_cmp,
    }
    write_json_atomic(Path(args.out), result)
    print_table("household decision kernel", main_cmp)
    if full_cmp is not None:
        print_table("same at full scale (every baseline household)", full_cmp)
    print(f"\nwrote {os.path.relpath(Path(args.out).resolve(), ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
