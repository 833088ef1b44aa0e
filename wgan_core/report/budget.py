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


def _weights(k: int) -> np.ndarray:
    """(K, K): row m - 1 holds P(min of m draws = x_(i)) = C(K - i, m - 1) / C(K, m) for i = 1..K."""
    return np.array([[comb(k - i, m - 1) / comb(k, m) for i in range(1, k + 1)] for m in range(1, k + 1)])


def _curves(sorted_scores: np.ndarray) -> np.ndarray:
    """(..., K) ascending scores -> (..., K) expected best of m = 1..K. A failed setting (+inf) weighs only where it can be
    the minimum of a draw (all m drawn fail): there the expected best is +inf; elsewhere its weight is 0, not 0 x inf."""
    w = _weights(sorted_scores.shape[-1])
    bad = np.isinf(sorted_scores)
    finite = np.where(bad, 0.0, sorted_scores) @ w.T
    return np.where(bad.astype(float) @ (w.T > 0) > 0, np.inf, finite)


def expected_best(scores: np.ndarray | list[float], m: int) -> float:
    """E[min of m scores drawn without replacement from `scores`] (lower is better). 1 <= m <= len(scores)."""
    x = np.sort(np.asarray(scores, dtype=float))
    k = len(x)
    if not 1 <= m <= k:
        raise ValueError(f"expected_best: budget m must lie in [1, {k}], got {m}")
    return float(_curves(x)[m - 1])


def budget_curve(scores: np.ndarray | list[float]) -> np.ndarray:
    """[E[best of m] for m = 1..K]."""
    return _curves(np.sort(np.asarray(scores, dtype=float)))


def budget_band(scores: np.ndarray | list[float], level: float = BAND_LEVEL, n_resamples: int = BAND_RESAMPLES, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(lo, hi) per m: percentiles of the curve over bootstrap resamples of the K scores (seeded, reproducible)."""
    x = np.asarray(scores, dtype=float)
    k = len(x)
    rng = np.random.default_rng(seed)
    curves = _curves(np.sort(x[rng.integers(0, k, size=(n_resamples, k))], axis=1))  # (R, K), one resample per row
    alpha = (1 - level) / 2
    # order statistics, no interpolation: a failed setting's +inf never turns into NaN
    return np.quantile(curves, alpha, axis=0, method="lower"), np.quantile(curves, 1 - alpha, axis=0, method="higher")


def budget_to_reach(curve: np.ndarray, target: float) -> int | None:
    """The smallest budget m whose expected best is at or below target (None if no budget up to K reaches it)."""
    hits = np.nonzero(np.asarray(curve) <= target)[0]
    return int(hits[0]) + 1 if len(hits) else None


__all__ = ["budget_band", "budget_curve", "budget_to_reach", "expected_best"]
