"""Bare numpy reference: N households x D days of a minimal crossing kernel
(3 random network neighbours' rumour, hunger drift, logistic hazard, Bernoulli draw).
Prints the wall seconds of the day loop: the yardstick the speed goals are ratios to."""
import sys
import time

import numpy as np

n, days = int(sys.argv[1]), int(sys.argv[2])
rng = np.random.default_rng(42)
hunger = rng.beta(2.0, 5.0, n)
kin = (rng.random(n) < 0.3).astype(np.float64)
rumour = np.where(rng.random(n) < 0.01, 1.0, 0.0)
m = n * 3
src = np.concatenate([rng.integers(0, n, m), np.arange(n)])
dst = np.concatenate([rng.integers(0, n, m), (np.arange(n) + 1) % n])
u = np.concatenate([src, dst]); v = np.concatenate([dst, src])
o = np.argsort(u, kind="stable"); u, v = u[o], v[o]
indptr = np.zeros(n + 1, dtype=np.int64); indptr[1:] = np.cumsum(np.bincount(u, minlength=n))
deg = np.diff(indptr); indices = v.astype(np.int64)
crossed = np.zeros(n, dtype=bool)
t = time.perf_counter()
for _ in range(days):
    active = ~crossed
    pick = indptr[:-1, None] + (rng.random((n, 3)) * deg[:, None]).astype(np.int64)
    nb = indices[pick]
    heard = crossed[nb].any(axis=1)
    new_r = np.minimum(1.0, 0.7 * rumour + 0.3 * rumour[nb].mean(axis=1) + 0.2 * heard)
    rumour = np.where(active, new_r, rumour)
    hunger = np.where(active, np.minimum(1.0, hunger + 0.0005), hunger)
    z = -11.0 + 2.0 * hunger + 1.0 * kin + 3.0 * rumour
    crossed |= active & (rng.random(n) < 1.0 / (1.0 + np.exp(-z)))
print(f"{time.perf_counter() - t:.3f}")
