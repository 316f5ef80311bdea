"""The non-implausible region (NROY, "not ruled out yet") of history matching.

* :class:`Cascade`: the emulators of the earlier waves and their cutoffs; a point is in NROY_k when
  no wave up to k rules it out (implausibility ``I_w(theta) <= c_w`` for every wave ``w``).
* :func:`history_match`: NROY_k within NROY_{k-1}, its share of the prior measured on a pool of
  points uniform on NROY_{k-1}, with *subset simulation* (Au & Beck 2001) when the share is small.
* :func:`refill_pool`: a pool uniform on a region given by its indicator (an MCMC on it).
* :func:`narrow_nroy`: one wave's step: history matching, the cascade extended, the pool handed on.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from .emulator import PolyEmulator
from .mcmc import sample
from .records import RecordSet
from .settings import STREAM_POOL, STREAM_POOL_MCMC, Settings, rng_stream, sobol


class Cascade:
    """The emulators of the earlier waves and their cutoffs: NROY membership of unit-cube points."""

    def __init__(self):
        self.items: list[tuple[PolyEmulator, RecordSet, float]] = []

    def add(self, emu, rs, cutoff):
        self.items.append((emu, rs, cutoff))

    def __len__(self):
        return len(self.items)

    def score(self, U, upto: int | None = None) -> np.ndarray:
        """max over waves of I_w / c_w (<= 1: not ruled out)."""
        U = np.atleast_2d(U)
        out = np.zeros(len(U))
        for emu, rs, c in self.items[:upto]:
            M, V = emu.predict(U)
            out = np.maximum(out, rs.implausibility(M, V) / c)
        return out

    def ok(self, U, upto: int | None = None) -> np.ndarray:
        """Not ruled out by any wave (the latest, most restrictive emulator first; early exit)."""
        U = np.atleast_2d(U)
        keep = np.ones(len(U), bool)
        for emu, rs, c in reversed(self.items[:upto]):
            idx = np.flatnonzero(keep)
            if not len(idx):
                break
            M, V = emu.predict(U[idx])
            keep[idx[rs.implausibility(M, V) > c]] = False
        return keep


def initial_pool(p: int, settings: Settings, seed: int) -> np.ndarray:
    """The pool of wave 0: a Sobol sample of the prior (the unit cube)."""
    return sobol(p, settings.pool_size, rng_stream(seed, 0, STREAM_POOL))


def refill_pool(tag: int, seeds_u: np.ndarray, inside: Callable, settings: Settings, seed: int) -> np.ndarray:
    """``pool_size`` points ~uniform on {inside}: an MCMC on its indicator started from ``seeds_u``."""
    s = settings
    C = max(8, min(s.n_chains, 2 * (len(seeds_u) // 2)))
    C += C % 2
    rng = rng_stream(seed, tag, STREAM_POOL_MCMC)
    u0 = seeds_u[rng.choice(len(seeds_u), C, replace=len(seeds_u) < C)]
    steps = int(math.ceil(s.pool_size / C)) * 2
    res = sample(
        lambda Uq: np.zeros(len(Uq)),
        u0,
        rng,
        n_burn=max(100, s.n_burn // 5),
        n_steps=steps,
        max_steps=steps,
        target_ess=0.0,
        rhat_max=math.inf,
        p_de=0.3,
        constraint=inside,
    )
    return res.thinned(s.pool_size)


def history_match(k: int, emu, rs, pool: np.ndarray, cascade: Cascade, cutoff: float, settings: Settings, seed: int) -> dict:
    """NROY_k within NROY_{k-1}: the share of ``pool`` (uniform on NROY_{k-1}) with I_k <= cutoff,
    and a pool uniform on NROY_k. When fewer than ``p0`` = 10% of the pool survive, subset
    simulation (Au & Beck 2001): the level is lowered to the pool's 10% quantile of I_k, the pool
    refilled uniformly on that level set by MCMC, and the conditional shares multiplied, until the
    cutoff is reached; so a region of 1e-8 of the prior is found and measured with ~8 levels.
    If the levels stop falling above the cutoff, no non-implausible point was found."""
    p0, c = 0.1, cutoff

    def imp(Uq):
        M, V = emu.predict(Uq)
        return rs.implausibility(M, V)

    I = imp(pool)
    frac, levels, level_prev = 1.0, [], math.inf
    for it in range(15):
        surv = I <= c
        if surv.mean() >= p0 or not len(pool):
            break
        level = float(np.quantile(I, p0))
        if not np.isfinite(level) or level >= 0.98 * level_prev:  # no progress towards the cutoff
            break
        frac *= float(np.mean(I <= level))
        levels.append(level)
        level_prev = level
        seeds = pool[I <= level]
        ok_prev = cascade.ok

        def inside(Uq, level=level, ok_prev=ok_prev):
            return ok_prev(Uq) & (imp(Uq) <= level)

        pool = refill_pool(k * 100 + it + 1, seeds, inside, settings, seed)
        I = imp(pool)
    surv = I <= c
    return {
        "fraction": frac * float(surv.mean()),
        "pool": pool[surv],
        "empty": not bool(surv.any()),
        "levels": levels,
        "min_I": float(np.min(I)) if len(I) else math.inf,
    }


def narrow_nroy(
    k: int,
    emu,
    rs,
    cascade: Cascade,
    pool: np.ndarray,
    frac_prev: float,
    *,
    cutoff: float,
    settings: Settings,
    seed: int,
    log: Callable[[str], None],
) -> tuple[dict, float, np.ndarray]:
    """History matching of wave ``k`` on ``pool`` (uniform on NROY_{k-1}, whose share of the prior is
    ``frac_prev``). Unless NROY_k is empty, the wave's emulator joins ``cascade`` and the pool is
    refilled to at least half of ``pool_size``. Returns the history-matching result, the share of
    the prior of NROY_k, and the pool uniform on it (on NROY_{k-1} if no point survived)."""
    hm = history_match(k, emu, rs, pool, cascade, cutoff, settings, seed)
    nroy_empty = hm["empty"]
    frac = frac_prev * hm["fraction"] if not nroy_empty else frac_prev
    if not nroy_empty:
        cascade.add(emu, rs, cutoff)
        new_pool = hm["pool"]
        if len(new_pool) < settings.pool_size // 2:
            new_pool = refill_pool(k, new_pool, cascade.ok, settings, seed)
    else:
        new_pool = pool
        log(
            f"wave {k}: no non-implausible point found (least implausible: I = {hm['min_I']:.2f} > {cutoff:.2f}); "
            "this wave does not narrow NROY"
        )
    return hm, frac, new_pool
