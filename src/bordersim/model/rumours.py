"""Rumours and letters: beliefs that spread over kin and village ties.

Doc 4 (2): "bad elements and backwards masses ... made up and spread rumors": "[North] Korea is having
its best harvest in 80 years", "Chongjin has prepared housing for Chinese guests", construction jobs.
Doc 5 (3): "individuals who have already crossed the border are influencing those who have not by
writing letters". Doc 4 (3) of the measures: rumours rebutted in public debates. The brief: disappointed
returnees lower belief (Doc 6: many "cannot settle down" and come back).

Belief ``b`` in [0, 1] is the household's belief that life in the DPRK is as the rumours say. Once a
week (people met at markets, work and meetings, not every day) it moves towards the belief of the
household's contacts and decays (forgetting), and public rebuttal removes a share ``r``:
``b <- (1 - decay) (1 - r) ((1 - w) b + w sum_present(b_c) / degree)``, where only contacts still in
China count (those who left weigh nothing: they reach home by letter); seeded "bad elements" hold their belief
for as long as they are active; public rebuttal removes a share of belief where a campaign runs;
each letter from a settled crosser raises its contacts' belief by ``letter_boost * (1 - b)``; each
returnee lowers its contacts' belief by ``returnee_damp``.

The social network (a sparse matrix) links each household to ``village_degree`` others in its
village and ``kin_degree`` others in its county; Lishu's 192 households form five hamlets (Doc 4).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..world.scenario import Parameters
from .compiled import compiled
from .households import IS_PRESENT, Households, State
from .streams import Kind, Streams, block_code, household_keys


def assign_villages(hh: Households, streams: Streams, village_households: int, lishu_leaf: int | None) -> None:
    """Villages: consecutive blocks of a random order within each home region (Lishu: five hamlets, Doc 4);
    each village's brigade standing (Doc 6: some brigades can supply only 200 catties) is one draw of the
    village. The households are then stored in that order (a village's households side by side)."""
    n = hh.n
    order = np.lexsort((streams.uniform(Kind.NETWORK, hh.key, 0), hh.leaf))
    hh.reorder(order)
    village = np.empty(n, dtype=np.int32)
    vkeys = []
    bounds = np.flatnonzero(np.diff(hh.leaf)) + 1
    vid = 0
    for seg in np.split(np.arange(n), bounds):
        if len(seg) == 0:
            continue
        leaf = int(hh.leaf[seg[0]])
        size = max(2, int(np.ceil(len(seg) / 5))) if (lishu_leaf is not None and leaf == lishu_leaf) else village_households
        local = np.arange(len(seg)) // size
        village[seg] = vid + local
        k = int(local.max()) + 1
        vkeys.append(household_keys(block_code(f"village:{leaf}"), k))
        vid += k
    hh.village[:] = village
    keys = np.concatenate(vkeys) if vkeys else np.zeros(0, dtype=np.uint64)
    hh.brigade_u[:] = streams.uniform(Kind.BRIGADE, keys, 0)[village]


class Ties(NamedTuple):
    """The contact network's pattern in compressed rows (as ``scipy.sparse.csr_matrix`` holds it): household ``i``'s
    contacts are ``indices[indptr[i]:indptr[i + 1]]``, sorted, each once."""

    indptr: np.ndarray
    indices: np.ndarray


class RumourNetwork:
    """The social network and the belief dynamics on it.

    Contacts: ``village_degree`` partners drawn in the household's village and ``kin_degree`` in its home
    region (each drawn by the household, keyed by its key), made mutual.
    """

    def __init__(self, hh: Households, streams: Streams, village_degree: int, kin_degree: int):
        self.streams = streams
        n = hh.n
        u = streams.uniforms(Kind.NETWORK, hh.key, 1, max(1, village_degree + kin_degree))
        src, dst = [], []
        blocks = {"village": _blocks(hh.village), "leaf": _blocks(hh.leaf)}
        for col, group in enumerate(["village"] * village_degree + ["leaf"] * kin_degree):
            # Partners drawn within the same village (or home region): households are stored by region and
            # village, so a group is a contiguous block; pick a random offset in the block.
            start, span = blocks[group]
            src.append(np.arange(n))
            dst.append(start + (u[:, col] * span).astype(np.int64))
        s = np.concatenate(src) if src else np.zeros(0, dtype=np.int64)
        d = np.concatenate(dst) if dst else np.zeros(0, dtype=np.int64)
        # Made mutual: both directions of every tie, duplicates merged, each tie weighing 1 (one compiled pass).
        indptr, indices = _mutual_ties(n, s, d)
        self.adjacency = Ties(indptr, indices)
        deg = np.diff(indptr).astype(float)
        self.degree = deg
        self.inv_degree = np.where(deg > 0, 1.0 / np.maximum(deg, 1.0), 0.0)
        self.stubborn_until = np.full(n, -1, dtype=np.int32)
        self.stubborn_belief = np.zeros(n)
        self._seeded = np.zeros(0, dtype=np.int64)  # households ever seeded as "bad elements"
        self._w = None
        self._damp = None
        self._count = None

    def seed_among(self, hh: Households, candidates: np.ndarray, share: float, belief: float, until: int, day: int) -> None:
        """A ``share`` of ``candidates`` start spreading rumours with ``belief`` until day ``until`` (Doc 4 (2));
        ``day``: the absolute day, which keys the draw."""
        chosen = candidates[self.streams.uniform(Kind.RUMOUR_SEED, hh.key[candidates], day) < share]
        self.seed(hh, chosen, belief, until)

    def seed(self, hh: Households, idx: np.ndarray, belief: float, until: int) -> None:
        """Make households ``idx`` rumour-spreading "bad elements" until day ``until``."""
        self.stubborn_until[idx] = until
        self.stubborn_belief[idx] = belief
        self._seeded = np.union1d(self._seeded, idx)
        hh.belief[idx] = np.maximum(hh.belief[idx], belief)

    def weekly_update(self, hh: Households, today: int, contact_weight: float, decay: float, rebuttal_share: np.ndarray) -> None:
        """One week of social influence, forgetting and rebuttal (``rebuttal_share`` per household).

        Each contact weighs ``1 / degree``; contacts who have left (in the DPRK, on the way, drowned) are
        not met and weigh nothing: they reach home only by letter. A household without contacts keeps its
        own belief: ``b <- (1 - decay) (1 - r) ((1 - w') b + w' mean)``, ``w' = w`` if it has contacts, else 0.
        """
        keep, to_mean = self._weights(contact_weight)
        a = self.adjacency  # the ties are unweighted: the pattern is all the product reads
        new = _talk(
            _unsigned(a.indptr), _unsigned(a.indices), hh.belief, hh.state, IS_PRESENT, keep, to_mean, 1 - decay, rebuttal_share
        )
        seeds = self._seeded
        if len(seeds):
            active = seeds[self.stubborn_until[seeds] >= today]
            new[active] = np.maximum(new[active], self.stubborn_belief[active])
        np.clip(new, 0.0, 1.0, out=hh.belief)

    def _weights(self, w: float) -> tuple[np.ndarray, np.ndarray]:
        """(weight of a household's own belief, weight of each contact's): ``1 - w`` and ``w / degree`` (1 and 0
        without contacts)."""
        if self._w != w:
            self._w = w
            has = self.degree > 0
            self._keep = np.where(has, 1.0 - w, 1.0)
            self._to_mean = w * self.inv_degree
        return self._keep, self._to_mean

    def week(self, hh: Households, today: int, rebuttal_share: np.ndarray, p: Parameters, day: int) -> None:
        """A week of talk: beliefs spread, decay and are rebutted; settled crossers' letters arrive (Doc 5 (3)).
        ``day``: the absolute day, which keys the letters' draws."""
        self.weekly_update(hh, today, p.contact_weight, p.belief_decay, rebuttal_share)
        settled = np.flatnonzero(hh.state == State.SETTLED)
        if len(settled):
            u = self.streams.uniform(Kind.WRITE, hh.key[settled], day)
            writers = settled[u < 1.0 - np.exp(-7.0 * p.letter_send_rate)]
            self.letters(hh, writers, p.letter_boost)

    def contacts(self, idx: np.ndarray) -> np.ndarray:
        """All contacts of households ``idx`` (with repetition if several share a contact)."""
        if len(idx) == 0:
            return np.zeros(0, dtype=np.int64)
        ip = self.adjacency.indptr
        starts = ip[idx].astype(np.int64)
        lens = ip[np.asarray(idx) + 1] - starts
        offsets = np.repeat(starts - (np.cumsum(lens) - lens), lens) + np.arange(int(lens.sum()))
        return self.adjacency.indices[offsets].astype(np.int64)

    def letters(self, hh: Households, senders: np.ndarray, boost: float) -> int:
        """Letters from settled crossers raise their contacts' belief (Doc 5 (3)). Returns letters delivered."""
        c = self.contacts(senders)
        if len(c):
            uniq, count = np.unique(c, return_counts=True)
            hh.belief[uniq] = 1 - (1 - hh.belief[uniq]) * (1 - boost) ** count
        return int(len(c))

    def disappoint(self, hh: Households, returnees: np.ndarray, damp: float) -> None:
        """Returnees' stories lower their contacts' belief (brief; Doc 6): each contact's belief times ``(1 - damp)``
        to the number of returnees it has among them (one compiled pass, :func:`disappoint`)."""
        if len(returnees):
            disappoint(self.adjacency.indptr, self.adjacency.indices, hh.belief, np.asarray(returnees, dtype=np.int64),
                       self.damping(damp), self.scratch())  # fmt: skip

    def damping(self, damp: float) -> np.ndarray:
        """``(1 - damp) ** k`` for k = 0 .. the largest degree (numpy's power, as ``disappoint`` took it)."""
        if self._damp != damp:
            self._damp = damp
            self._damping = (1 - damp) ** np.arange(int(self.degree.max(initial=0)) + 1)
        return self._damping

    def scratch(self) -> np.ndarray:
        """A count per household, all 0 (used and reset by :func:`disappoint`)."""
        if self._count is None:
            self._count = np.zeros(len(self.degree), dtype=np.int64)
        return self._count


def _blocks(group: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each household of a sorted ``group`` array, where its block starts and how long it is."""
    start = np.searchsorted(group, group, side="left")
    return start, np.searchsorted(group, group, side="right") - start


def _unsigned(a: np.ndarray) -> np.ndarray:
    """An index array seen as unsigned (the same bytes; indices are never negative)."""
    return a.view(np.uint32 if a.dtype.itemsize == 4 else np.uint64)


@compiled
def _talk(indptr, indices, belief, state, is_present, keep, to_mean, kept, rebuttal):
    """A week's talk before the seeds and the clip, in one pass: ``(A x) to_mean + b keep``, times ``kept (1 -
    rebuttal)``, where ``x`` is the belief of those present (0 for the others) and ``A`` the ties (their pattern:
    every tie weighs 1). numpy's and scipy's arithmetic operation by operation (the product summed in the order of
    the row's ties from 0.0, as scipy's ``csr_matvec``), so the result is the same to the last bit."""
    n = len(belief)
    x = np.empty(n)
    for i in range(n):
        x[i] = belief[i] if is_present[state[i]] else 0.0
    out = np.empty(n)
    for i in range(n):
        s = 0.0
        for jj in range(indptr[i], indptr[i + 1]):
            s += x[indices[jj]]  # unsigned indices: no check for a negative index on every tie
        out[i] = (s * to_mean[i] + belief[i] * keep[i]) * (kept * (1.0 - rebuttal[i]))
    return out


@compiled
def _mutual_ties(n, src, dst):
    """The ties ``src[k] - dst[k]`` (no self-ties) made mutual, as compressed rows: each household's partners over
    both directions, sorted and each once (what ``scipy.sparse.coo_matrix(...).tocsr()`` gives after summing
    duplicates). Returns ``(indptr, indices)``, the indices as int32."""
    counts = np.zeros(n + 1, dtype=np.int64)
    for k in range(len(src)):
        if src[k] != dst[k]:
            counts[src[k] + 1] += 1
            counts[dst[k] + 1] += 1
    start = np.cumsum(counts)
    fill = start[:-1].copy()
    both = np.empty(start[n], dtype=np.int64)
    for k in range(len(src)):
        a, b = src[k], dst[k]
        if a != b:
            both[fill[a]] = b
            fill[a] += 1
            both[fill[b]] = a
            fill[b] += 1
    indptr = np.zeros(n + 1, dtype=np.int64)
    w = 0
    for i in range(n):
        lo, hi = start[i], start[i + 1]
        for j in range(lo + 1, hi):  # insertion sort of the row in place (a few dozen partners)
            v = both[j]
            k = j - 1
            while k >= lo and both[k] > v:
                both[k + 1] = both[k]
                k -= 1
            both[k + 1] = v
        last = -1
        for j in range(lo, hi):  # the unique partners written back, never ahead of what is read
            if both[j] != last:
                last = both[j]
                both[w] = last
                w += 1
        indptr[i + 1] = w
    return indptr, both[:w].astype(np.int32)


@compiled
def disappoint(indptr, indices, belief, returnees, damping, count):
    """Returnees' stories: each contact of households ``returnees`` (the ties of the CSR pattern ``indptr``,
    ``indices``) has its belief multiplied by ``damping[k]``, ``k`` the number of the returnees it is tied to (as
    ``numpy.unique`` with counts; ``count``: all 0, and left so)."""
    ties = 0
    for r in returnees:
        ties += indptr[r + 1] - indptr[r]
    met = np.empty(ties, dtype=np.int64)
    n = 0
    for r in returnees:
        for jj in range(indptr[r], indptr[r + 1]):
            c = indices[jj]
            if count[c] == 0:
                met[n] = c
                n += 1
            count[c] += 1
    for k in range(n):
        c = met[k]
        belief[c] *= damping[count[c]]
        count[c] = 0
