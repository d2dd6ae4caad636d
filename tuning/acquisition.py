"""Acquisition functions and the space-filling initial design.

All scores are utilities to maximize over candidates whose *loss* (log runtime, or minus the log
of a quantity to maximize) has a normal predictive distribution ``N(mu, sigma)``:

* ``"mean"``: pure exploitation, ``-mu``;
* ``"lcb"``: the lower bound of the central interval at ``coverage``, ``-(mu - k sigma)`` with
  ``k = Phi^-1(1/2 + coverage/2)``;
* ``"ei"``: expected improvement over the best loss measured so far.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import norm

__all__ = ["ACQUISITIONS", "maximin_design", "utility"]

ACQUISITIONS = ("ei", "lcb", "mean")


def utility(
    kind: str, mu: np.ndarray, sigma: np.ndarray, best: float | None, coverage: float
) -> np.ndarray:
    """Utility of each candidate (higher is better) for acquisition ``kind``."""
    if kind == "mean":
        return -mu
    if kind == "lcb" or best is None or not np.isfinite(best):
        k = norm.ppf(0.5 + coverage / 2)
        return -(mu - k * sigma)
    sigma = np.maximum(sigma, 1e-9)
    u = (best - mu) / sigma
    return (best - mu) * norm.cdf(u) + sigma * norm.pdf(u)


def maximin_design(
    points: np.ndarray,
    n: int,
    rng: np.random.Generator,
    taken: np.ndarray | None = None,
    max_pool: int = 4000,
) -> np.ndarray:
    """Indices of ``n`` rows of ``points`` (normalized to ``[0, 1]``) chosen greedily to be far
    from each other and from ``taken``: a space-filling random design.

    The first pick is random (when nothing is taken); each next one maximizes the distance to the
    nearest pick so far, over a random subset of at most ``max_pool`` candidates.
    """
    if len(points) == 0 or n <= 0:
        return np.zeros(0, dtype=np.int64)
    subset = rng.permutation(len(points))[:max_pool]
    pool = points[subset]
    nearest = np.full(len(pool), np.inf)
    if taken is not None and len(taken):
        for row in taken:
            nearest = np.minimum(nearest, ((pool - row) ** 2).sum(axis=1))
    chosen: list[int] = []
    for _ in range(min(n, len(pool))):
        if not np.isfinite(nearest).any():
            pick = int(rng.integers(len(pool)))
        else:
            # random tie-breaking among equally far candidates
            noise = rng.uniform(0, 1e-9, len(pool))
            pick = int(np.argmax(np.where(np.isfinite(nearest), nearest, np.inf) + noise))
        chosen.append(pick)
        nearest = np.minimum(nearest, ((pool - pool[pick]) ** 2).sum(axis=1))
        nearest[chosen] = -1.0
    return subset[np.asarray(chosen, dtype=np.int64)]
