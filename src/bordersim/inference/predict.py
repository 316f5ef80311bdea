"""The posterior predictive of archival records from the emulator: for posterior draws theta_s, a new
simulation's summary is ``y_s ~ N(m(theta_s), v(theta_s))`` and the archive's figure is drawn from the
record's observation model given ``y_s`` (:meth:`Record.observe`); see :mod:`.validation`."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy.special import expit, logsumexp

from .records import RecordSet


def _natural(transform: str, t):
    t = np.asarray(t, float)
    if transform == "log1p":
        return np.expm1(t)
    if transform == "logit":
        return expit(t)
    return t


def predict_records(emulator, records: RecordSet, post_u: np.ndarray, n_draws: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Posterior predictive of each record from the emulator at posterior draws ``post_u`` (unit cube)."""
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 7919]))
    idx = np.linspace(0, len(post_u) - 1, min(n_draws, len(post_u))).round().astype(int)
    U = post_u[idx]
    M, V = emulator.predict(U)
    rows = []
    for r, j in zip(records.records, records.col, strict=True):
        m, v = M[:, j], V[:, j]
        if not np.isfinite(m).all():
            rows.append({"id": r.id, "group": r.group, "type": type(r).__name__, "summary": r.summary, "emulated": False})
            continue
        y = m + np.sqrt(v) * rng.standard_normal(len(m))
        t = r.observe(y, rng)
        q = np.quantile(t, [0.05, 0.25, 0.5, 0.75, 0.95])
        qn = _natural(r.transform, q)
        lo, hi = r.t_observed()
        lpd = float(logsumexp(r.loglik(m, v)) - math.log(len(m)))
        row = {
            "id": r.id,
            "group": r.group,
            "type": type(r).__name__,
            "summary": r.summary,
            "emulated": True,
            "observed_low": float(_natural(r.transform, lo)),
            "observed_high": float(_natural(r.transform, hi)),
            "pred_q05": qn[0],
            "pred_q25": qn[1],
            "pred_median": qn[2],
            "pred_q75": qn[3],
            "pred_q95": qn[4],
            "log_pred_density": lpd,
        }
        if r.form == "point":
            row["inside90"] = bool(q[0] <= lo <= q[4])
            row["inside50"] = bool(q[1] <= lo <= q[3])
            row["pit"] = float(np.mean(t <= lo))
            row["interval_score90"] = float((q[4] - q[0]) + 20.0 * max(q[0] - lo, 0.0) + 20.0 * max(lo - q[4], 0.0))
            obs = float(_natural(r.transform, lo))
            if r.transform == "log1p" and obs > 0:
                row["rel_error_median"] = float(qn[2] / obs - 1.0)
                row["width90_over_observed"] = float((qn[4] - qn[0]) / obs)
        else:
            row["inside90"] = bool(lo <= q[2] <= hi)
            row["p_inside_range"] = float(np.mean((t >= lo) & (t <= hi)))
        rows.append(row)
    return pd.DataFrame(rows)
