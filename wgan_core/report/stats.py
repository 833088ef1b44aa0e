"""The report's statistics: intervals, robust aggregates, the probability of improvement, paired tests, Holm, equivalence.

Owns every number of the report that is more than a count. Failed runs (wgan_core.outcome) enter
as *costs*: the metric oriented so that lower is better, +inf for a failure, so every rank-based
number here ranks a failure worst and ties failures among themselves, and no value stands in for
one. Means are over the runs that did not fail.

  * `interval`: of the mean of the runs that did not fail: their range for n <= 5, a BCa bootstrap
    beyond (scipy.stats.bootstrap). Each label carries its coverage as measured by
    benchmarks/coverage.py (results/coverage/coverage.csv), not assumed.
  * `median_iqm`: the median and the interquartile mean (IQM: the mean of the middle 50% of runs,
    scipy.stats.trim_mean at 0.25, as rliable's `aggregate_iqm`) of the costs, each with a percentile
    bootstrap interval (runs resampled within the cell: the one-stratum case of rliable's
    stratified bootstrap). A failure is +inf, so a median or IQM that reaches failures prints as such.
  * `probability_of_improvement`: P(X beats Y) = P(x < y) + P(x = y) / 2 over all pairs of runs
    (rliable's `probability_of_improvement`, the Mann-Whitney U / (n m)), with a percentile
    bootstrap interval resampling X's and Y's runs independently.
  * `signed_rank`: the Wilcoxon signed-rank test of matched-seed differences, exact always: the
    sign-flip distribution of the statistic conditional on the observed ranks (ties get average
    ranks, zero differences are dropped as in Wilcoxon's rule), computed by dynamic programming
    on doubled ranks. Without ties it equals scipy's exact test; with ties it is the exact
    conditional (permutation) test rather than a normal approximation. One method everywhere.
  * `tost`: equivalence within +-margin as two one-sided signed-rank tests (of d + margin > 0 and
    d - margin < 0); equivalent when the larger p is below alpha. "Not shown to differ" is what a
    test that does not reject says; only TOST says "equivalent".
  * `holm` over a declared family (wgan_core.report.families).
"""

from __future__ import annotations

import inspect
import math
from typing import Any

import numpy as np
from scipy.stats import bootstrap, rankdata

CI_LEVEL = 0.95
BOOT_RESAMPLES = 10_000
RANGE_MAX_N = 5  # intervals of n <= 5 values are their range; larger n: a BCa bootstrap
RANGE, BCA, PERCENTILE = "range", f"{CI_LEVEL:.0%} BCa bootstrap", f"{CI_LEVEL:.0%} percentile bootstrap"
IQM_CUT = 0.25
POI_CELLS = 4_000_000  # pair comparisons held at once by the P(improvement) bootstrap (~32 MB as floats)

# scipy >= 1.15 seeds with `rng`; older releases (pyproject allows 1.10) with `random_state`.
_SEED_KW = "rng" if "rng" in inspect.signature(bootstrap).parameters else "random_state"


def finite(values: Any) -> np.ndarray:
    x = np.asarray(values, dtype=float)
    return x[np.isfinite(x)]


def bootstrap_ci(values: Any, level: float = CI_LEVEL, n_resamples: int = BOOT_RESAMPLES, seed: int = 0, method: str = "BCa") -> tuple[float, float]:
    """Seeded bootstrap CI of the mean (scipy.stats.bootstrap, BCa by default) over the finite values.

    NaN for fewer than 2 finite values; (v, v) when all values are equal (scipy would warn
    about a degenerate distribution there).
    """
    x = finite(values)
    if len(x) < 2:
        return math.nan, math.nan
    if np.all(x == x[0]):
        return float(x[0]), float(x[0])
    res = bootstrap(
        (x,), np.mean, n_resamples=n_resamples, confidence_level=level, method=method, vectorized=True,
        **{_SEED_KW: np.random.default_rng(seed)},
    )  # fmt: skip
    ci = res.confidence_interval
    return float(ci.low), float(ci.high)


def interval(values: Any) -> tuple[float, float, str]:
    """(low, high, what it is) for the mean of the finite values: their range for n <= RANGE_MAX_N, else a 95% BCa bootstrap CI."""
    x = finite(values)
    if len(x) == 0:
        return math.nan, math.nan, ""
    if len(x) <= RANGE_MAX_N:
        return float(x.min()), float(x.max()), RANGE
    lo, hi = bootstrap_ci(x)
    return lo, hi, BCA


def interval_label(kinds: Any) -> str:
    """A column header's name for the intervals it holds: 'range', '95% BCa bootstrap', or both, saying when each applies."""
    present = {k for k in kinds if k}
    if present == {RANGE}:
        return RANGE
    if present == {BCA}:
        return f"{BCA} CI"
    return f"range if n <= {RANGE_MAX_N}, else {BCA} CI"


def _sorted_resamples(x: np.ndarray, n_resamples: int, rng: np.random.Generator) -> np.ndarray:
    """(R, n) bootstrap resamples of x, each sorted (inf sorts last)."""
    return np.sort(x[rng.integers(0, len(x), size=(n_resamples, len(x)))], axis=1)


def _order_quantiles(stat: np.ndarray, level: float) -> tuple[float, float]:
    """Percentile interval by order statistics (no interpolation, so a failure's +inf never becomes NaN)."""
    alpha = (1 - level) / 2
    return float(np.quantile(stat, alpha, method="lower")), float(np.quantile(stat, 1 - alpha, method="higher"))


def _median_sorted(s: np.ndarray) -> np.ndarray:
    n = s.shape[-1]
    lo, hi = s[..., (n - 1) // 2], s[..., n // 2]
    return np.where(lo == hi, lo, (lo + hi) / 2)  # inf == inf: no inf - inf


def _iqm_sorted(s: np.ndarray) -> np.ndarray:
    n = s.shape[-1]
    k = int(IQM_CUT * n)
    return s[..., k : n - k].mean(axis=-1)


def median_iqm(costs: Any, level: float = CI_LEVEL, n_resamples: int = BOOT_RESAMPLES, seed: int = 0) -> dict[str, float]:
    """{'median', 'median_lo', 'median_hi', 'iqm', 'iqm_lo', 'iqm_hi'} of the costs (+inf = failed), with percentile bootstrap intervals.

    NaN costs (not measured) are left out; intervals need at least 2 values.
    """
    x = np.asarray(costs, dtype=float)
    x = x[~np.isnan(x)]
    out = dict.fromkeys(("median", "median_lo", "median_hi", "iqm", "iqm_lo", "iqm_hi"), math.nan)
    if len(x) == 0:
        return out
    s = np.sort(x)
    out["median"], out["iqm"] = float(_median_sorted(s)), float(_iqm_sorted(s))
    if len(x) >= 2:
        boot = _sorted_resamples(x, n_resamples, np.random.default_rng(seed))
        out["median_lo"], out["median_hi"] = _order_quantiles(_median_sorted(boot), level)
        out["iqm_lo"], out["iqm_hi"] = _order_quantiles(_iqm_sorted(boot), level)
    return out


def _poi(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """P(x beats y) over all pairs, along the last axis of each: mean of [x < y] + [x == y] / 2 (costs: lower is better)."""
    a, b = x[..., :, None], y[..., None, :]
    return ((a < b) + 0.5 * (a == b)).mean(axis=(-2, -1))


def probability_of_improvement(x: Any, y: Any, level: float = CI_LEVEL, n_resamples: int = BOOT_RESAMPLES, seed: int = 0) -> tuple[float, float, float]:
    """(P(X beats Y), lo, hi): costs of X's and Y's runs (+inf = failed; failures tie); percentile bootstrap over both sets of runs."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    x, y = x[~np.isnan(x)], y[~np.isnan(y)]
    if len(x) == 0 or len(y) == 0:
        return math.nan, math.nan, math.nan
    p = float(_poi(x, y))
    if len(x) < 2 or len(y) < 2:
        return p, math.nan, math.nan
    rng = np.random.default_rng(seed)
    bx = x[rng.integers(0, len(x), size=(n_resamples, len(x)))]
    by = y[rng.integers(0, len(y), size=(n_resamples, len(y)))]
    chunk = max(1, POI_CELLS // (len(x) * len(y)))  # resamples per (chunk, n, m) comparison array: memory bounded for any n, m
    stats = np.concatenate([_poi(bx[i : i + chunk], by[i : i + chunk]) for i in range(0, n_resamples, chunk)])
    lo, hi = _order_quantiles(stats, level)
    return p, lo, hi


def holm(pvalues: Any) -> np.ndarray:
    """Holm-Bonferroni adjusted p-values (NaN entries stay NaN and do not count in the family)."""
    p = np.asarray(pvalues, dtype=float)
    out = np.full_like(p, np.nan)
    idx = np.where(np.isfinite(p))[0]
    m = len(idx)
    if m == 0:
        return out
    order = idx[np.argsort(p[idx], kind="stable")]
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        out[i] = running
    return out


def _tie_keys(a: np.ndarray, rtol: float = 1e-9) -> np.ndarray:
    """Each value's tie group in ascending order: neighbours equal up to float rounding (0.11 - 0.10 against 0.13 - 0.12),
    judged value by value, never against the largest (one 1e20 blow-up must not tie every ordinary difference)."""
    order = np.argsort(a, kind="stable")
    s = a[order]
    same = np.isclose(s[1:], s[:-1], rtol=rtol, atol=0.0) | (s[1:] == s[:-1])  # inf == inf: one group
    keys = np.empty(len(a), dtype=np.int64)
    keys[order] = np.concatenate([[0], np.cumsum(~same)]) if len(a) else []
    return keys


def _signed_ranks(d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(|d| ranks doubled to integers, signs) of the non-zero differences; equal magnitudes (failures' +-inf too) share a rank."""
    d = d[d != 0]
    r2 = np.rint(2 * rankdata(_tie_keys(np.abs(d)))).astype(np.int64)  # average ranks are multiples of 1/2
    return r2, np.sign(d)


def _null_counts(r2: np.ndarray) -> np.ndarray:
    """counts[t] = number of the 2^n sign assignments whose doubled positive-rank sum is t (exact, by dynamic programming)."""
    counts = np.zeros(int(r2.sum()) + 1, dtype=float)
    counts[0] = 1.0
    for r in r2:
        counts[r:] = counts[r:] + counts[:-r].copy() if r else counts * 2
    return counts


def signed_rank(d: Any, alternative: str = "two-sided") -> tuple[float, float, int]:
    """(T+, p, n non-zero) of the exact signed-rank test of H0: the differences are symmetric about 0.

    d: matched differences (x - baseline) of costs; +-inf allowed (one run of the pair failed), NaN
    pairs dropped, zeros (both failed, or equal) dropped. alternative: 'two-sided', 'greater'
    (d tends to be positive) or 'less'. Exact conditional on the ranks, ties included.
    """
    d = np.asarray(d, dtype=float)
    d = d[~np.isnan(d)]
    r2, sign = _signed_ranks(d)
    n = len(r2)
    if n == 0:
        return math.nan, 1.0, 0
    t2 = int(r2[sign > 0].sum())
    counts = _null_counts(r2)
    total = counts.sum()
    p_le, p_ge = counts[: t2 + 1].sum() / total, counts[t2:].sum() / total
    p = {"greater": p_ge, "less": p_le}.get(alternative, min(1.0, 2 * min(p_le, p_ge)))
    return t2 / 2, float(p), n


def min_signed_rank_p(n: int) -> float:
    """The smallest two-sided p the exact signed-rank test can give with n non-zero pairs: 2 / 2^n."""
    return min(1.0, 2.0 / 2**n) if n > 0 else 1.0



def tost(d: Any, margin: float) -> float:
    """p of the paired equivalence test (two one-sided signed-rank tests) of |location of d| < margin; NaN without pairs."""
    d = np.asarray(d, dtype=float)
    d = d[~np.isnan(d)]
    if len(d) == 0:
        return math.nan
    return max(signed_rank(d + margin, "greater")[1], signed_rank(d - margin, "less")[1])


def rank_biserial(diffs: Any) -> float:
    """Matched-pairs rank-biserial correlation (Kerby 2014): (R+ - R-) / (R+ + R-) over the non-zero differences."""
    d = np.asarray(diffs, dtype=float)
    d = d[(d != 0) & ~np.isnan(d)]
    if len(d) == 0:
        return 0.0
    r = rankdata(np.abs(d))
    return float((r[d > 0].sum() - r[d < 0].sum()) / r.sum())


__all__ = [
    "BCA", "BOOT_RESAMPLES", "CI_LEVEL", "PERCENTILE", "RANGE", "bootstrap_ci", "finite", "holm", "interval", "interval_label",
    "median_iqm", "min_signed_rank_p", "probability_of_improvement", "rank_biserial", "signed_rank", "tost",
]  # fmt: skip
