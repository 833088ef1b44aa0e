"""Expected best score against the tuning budget (Lucic et al. 2018, Fig. 4), exactly, from order statistics. Torch-free.

With K settings tried and scored x_1..x_K (lower is better), a budget of m settings drawn
without replacement from the K gives the best score min(subset). Sorting the scores
ascending, x_(1) <= ... <= x_(K), the subset's minimum is x_(i) exactly when the subset
holds the i-th smallest and m - 1 of the K - i larger ones:

    P(min = x_(i)) = C(K - i, m - 1) / C(K, m),   E[best of m] = sum_i x_(i) C(K - i, m - 1) / C(K, m).

At m = 1 this is the mean of the K scores, at m = K their minimum, and it never increases
with m. A failed setting scores +inf (wgan_core.outcome): the curve is +inf where a draw of m settings
can hold only failures. The band is a seeded percentile bootstrap over the K scores (each resample's curve).
"""

from __future__ import annotations

from math import comb

import numpy as np

BAND_LEVEL = 0.95
BAND_RESAMPLES = 2000


def expected_best(scores: np.ndarray | list[float], m: int) -> float:
    """E[min of m scores drawn without replacement from `scores`] (lower is better). 1 <= m <= len(scores)."""
    x = np.sort(np.asarray(scores, dtype=float))
    k = len(x)
    if not 1 <= m <= k:
        raise ValueError(f"expected_best: budget m must lie in [1, {k}], got {m}")
    total = comb(k, m)
    weights = np.array([comb(k - i, m - 1) for i in range(1, k + 1)], dtype=float) / total  # P(min = x_(i)), i = 1..K
    hit = weights > 0  # a failed setting (+inf) weighs only where it can be the minimum: then the expected best is +inf
    return float(weights[hit] @ x[hit])


def budget_curve(scores: np.ndarray | list[float]) -> np.ndarray:
    """[E[best of m] for m = 1..K]."""
    return np.array([expected_best(scores, m) for m in range(1, len(scores) + 1)])


def budget_band(scores: np.ndarray | list[float], level: float = BAND_LEVEL, n_resamples: int = BAND_RESAMPLES, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(lo, hi) per m: percentiles of the curve over bootstrap resamples of the K scores (seeded, reproducible)."""
    x = np.asarray(scores, dtype=float)
    k = len(x)
    rng = np.random.default_rng(seed)
    curves = np.stack([budget_curve(x[rng.integers(0, k, size=k)]) for _ in range(n_resamples)])  # (R, K)
    alpha = (1 - level) / 2
    # order statistics, no interpolation: a failed setting's +inf never turns into NaN
    return np.quantile(curves, alpha, axis=0, method="lower"), np.quantile(curves, 1 - alpha, axis=0, method="higher")


def budget_to_reach(curve: np.ndarray, target: float) -> int | None:
    """The smallest budget m whose expected best is at or below target (None if no budget up to K reaches it)."""
    hits = np.nonzero(np.asarray(curve) <= target)[0]
    return int(hits[0]) + 1 if len(hits) else None


__all__ = ["budget_band", "budget_curve", "budget_to_reach", "expected_best"]
