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

import numpy as np
import scipy.sparse as sp

from ..world.scenario import Parameters
from .households import Households, State


class RumourNetwork:
    """The social network and the belief dynamics on it."""

    def __init__(
        self,
        hh: Households,
        rng: np.random.Generator,
        village_households: int,
        village_degree: int,
        kin_degree: int,
        lishu_leaf: int | None,
    ):
        self.rng = rng
        n = hh.n
        # Villages: consecutive blocks of a random order within each home region.
        order = np.lexsort((rng.random(n), hh.leaf))
        village = np.empty(n, dtype=np.int32)
        vid = 0
        leaf_sorted = hh.leaf[order]
        bounds = np.flatnonzero(np.diff(leaf_sorted)) + 1
        for seg in np.split(np.arange(n), bounds):
            if len(seg) == 0:
                continue
            leaf = leaf_sorted[seg[0]]
            size = max(2, int(np.ceil(len(seg) / 5))) if (lishu_leaf is not None and leaf == lishu_leaf) else village_households
            local = np.arange(len(seg)) // size
            village[order[seg]] = vid + local
            vid += int(local.max()) + 1
        hh.village = village
        # Brigade standing (Doc 6: some brigades can supply only 200 catties) is shared by a village.
        hh.brigade_u = rng.random(vid)[village]
        src, dst = [], []
        if village_degree > 0:
            # Partners drawn within the same village: sort by village, pick random offsets in the block.
            vorder = np.argsort(village, kind="stable")
            vs = village[vorder]
            start = np.searchsorted(vs, vs, side="left")
            end = np.searchsorted(vs, vs, side="right")
            span = end - start
            for _ in range(village_degree):
                off = (rng.random(n) * span).astype(np.int64)
                partner = vorder[start + off]
                src.append(vorder)
                dst.append(partner)
        if kin_degree > 0:
            lorder = np.argsort(hh.leaf, kind="stable")
            ls = hh.leaf[lorder]
            start = np.searchsorted(ls, ls, side="left")
            end = np.searchsorted(ls, ls, side="right")
            span = end - start
            for _ in range(kin_degree):
                off = (rng.random(n) * span).astype(np.int64)
                src.append(lorder)
                dst.append(lorder[start + off])
        if src:
            s = np.concatenate(src)
            d = np.concatenate(dst)
            keep = s != d
            s, d = s[keep], d[keep]
            a = sp.coo_matrix((np.ones(len(s)), (s, d)), shape=(n, n)).tocsr()
            a = ((a + a.T) > 0).astype(np.float64)
        else:
            a = sp.csr_matrix((n, n))
        deg = np.asarray(a.sum(axis=1)).ravel()
        self.adjacency = a.tocsr()
        self.degree = deg
        self.inv_degree = np.where(deg > 0, 1.0 / np.maximum(deg, 1.0), 0.0)
        self.stubborn_until = np.full(n, -1, dtype=np.int32)
        self.stubborn_belief = np.zeros(n)

    def seed_among(self, hh: Households, candidates: np.ndarray, share: float, belief: float, until: int) -> None:
        """A ``share`` of ``candidates`` start spreading rumours with ``belief`` until day ``until`` (Doc 4 (2))."""
        chosen = candidates[self.rng.random(len(candidates)) < share]
        self.seed(hh, chosen, belief, until)

    def seed(self, hh: Households, idx: np.ndarray, belief: float, until: int) -> None:
        """Make households ``idx`` rumour-spreading "bad elements" until day ``until``."""
        self.stubborn_until[idx] = until
        self.stubborn_belief[idx] = belief
        hh.belief[idx] = np.maximum(hh.belief[idx], belief)

    def weekly_update(self, hh: Households, today: int, contact_weight: float, decay: float, rebuttal_share: np.ndarray) -> None:
        """One week of social influence, forgetting and rebuttal (``rebuttal_share`` per household).

        Each contact weighs ``1 / degree``; contacts who have left (in the DPRK, on the way, drowned) are
        not met and weigh nothing: they reach home only by letter.
        """
        b = hh.belief
        present = hh.present()
        has_nb = self.degree > 0
        mean_nb = (self.adjacency @ (b * present)) * self.inv_degree
        new = np.where(has_nb, (1 - contact_weight) * b + contact_weight * mean_nb, b)
        new *= (1 - decay) * (1 - rebuttal_share)
        active = self.stubborn_until >= today
        new[active] = np.maximum(new[active], self.stubborn_belief[active])
        hh.belief = np.clip(new, 0.0, 1.0)

    def week(self, hh: Households, today: int, rebuttal_share: np.ndarray, p: Parameters) -> None:
        """A week of talk: beliefs spread, decay and are rebutted; settled crossers' letters arrive (Doc 5 (3))."""
        self.weekly_update(hh, today, p.contact_weight, p.belief_decay, rebuttal_share)
        settled = np.flatnonzero(hh.state == State.SETTLED)
        if len(settled):
            writers = settled[self.rng.random(len(settled)) < 1.0 - np.exp(-7.0 * p.letter_send_rate)]
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
        """Returnees' stories lower their contacts' belief (brief; Doc 6)."""
        c = self.contacts(returnees)
        if len(c):
            uniq, count = np.unique(c, return_counts=True)
            hh.belief[uniq] *= (1 - damp) ** count
