"""The report's statistics: intervals of a mean, Holm correction, rank-biserial r, paired Wilcoxon tests.

Owns every number of the report that is more than a mean or a median. `interval` labels
what it returns: the range (min, max) for n <= 5 values, where a bootstrap's percentiles are
the range anyway and cover far less than 95%; a 95% BCa bootstrap interval of the mean for
n >= 6. `paired_tests` compares each cell with the baseline cell seed by seed (matched
seeds), within a data set and metric, on every finished run scored by the failure rule
(wgan_core.outcome: a failed run takes its untrained value and stays in); the family Holm
corrects is one data set and one metric, named in each row. The Wilcoxon test is exact where
the differences have no zeros and no ties, else the normal approximation; each row says which.
Metric directions come from the registry (wgan_core.metrics.registry).
"""

from __future__ import annotations

import inspect
import math
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import bootstrap, rankdata, wilcoxon

from ..metrics.registry import METRICS, tested

CI_LEVEL = 0.95
BOOT_RESAMPLES = 10_000
MIN_PAIRS_FOR_P = 5  # below this an exact two-sided Wilcoxon p cannot fall below 2/2^4 = 0.125: no p is reported
RANGE_MAX_N = 5  # intervals of n <= 5 values are their range; larger n: a BCa bootstrap
RANGE, BCA = "range", f"{CI_LEVEL:.0%} BCa bootstrap"

# scipy >= 1.15 seeds with `rng`; older releases (pyproject allows 1.10) with `random_state`.
_SEED_KW = "rng" if "rng" in inspect.signature(bootstrap).parameters else "random_state"

STATS_COLUMNS = [
    "dataset", "metric", "baseline", "cell", "n_pairs", "n_nonzero", "mean_diff", "median_diff", "better", "worse", "ties",
    "statistic", "method", "p_value", "p_holm", "holm_family", "rank_biserial", "note",
]  # fmt: skip


def bootstrap_ci(values: Any, level: float = CI_LEVEL, n_resamples: int = BOOT_RESAMPLES, seed: int = 0, method: str = "BCa") -> tuple[float, float]:
    """Seeded bootstrap CI of the mean (scipy.stats.bootstrap, BCa by default) over the finite values.

    NaN for fewer than 2 finite values; (v, v) when all values are equal (scipy would warn
    about a degenerate distribution there).
    """
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
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
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
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


def rank_biserial(diffs: Any) -> float:
    """Matched-pairs rank-biserial correlation (Kerby 2014): (R+ - R-) / (R+ + R-) over the non-zero differences."""
    d = np.asarray(diffs, dtype=float)
    d = d[d != 0]
    if len(d) == 0:
        return 0.0
    r = rankdata(np.abs(d))
    return float((r[d > 0].sum() - r[d < 0].sum()) / r.sum())


def min_wilcoxon_p(n: int) -> float:
    """The smallest two-sided p an exact Wilcoxon signed-rank test can give with n non-zero pairs: 2 / 2^n."""
    return min(1.0, 2.0 / 2**n) if n > 0 else 1.0


def _wilcoxon(x: np.ndarray, b: np.ndarray) -> tuple[float, float, str]:
    """(statistic, two-sided p, method): exact without zero or tied differences, else the normal approximation."""
    d = x - b
    exact = bool(np.all(d != 0) and len(np.unique(np.abs(d))) == len(d))
    if exact:
        res = wilcoxon(x, b, method="exact")
        return float(res.statistic), float(res.pvalue), "exact"
    try:
        res = wilcoxon(x, b, method="asymptotic")
    except ValueError:  # scipy < 1.15 names it "approx"
        res = wilcoxon(x, b, method="approx")
    return float(res.statistic), float(res.pvalue), "normal approximation (zero or tied differences)"


def _pair_row(dataset: str, metric: str, baseline: str, cell: str, x: pd.Series, b: pd.Series) -> dict[str, Any]:
    """One cell against the baseline on the seeds both have: counts, differences, Wilcoxon test (p not yet Holm-corrected)."""
    pair = pd.concat([x, b], axis=1, keys=["x", "b"], join="inner").dropna()
    d = (pair["x"] - pair["b"]).to_numpy(float)
    n, nz = len(d), int((d != 0).sum())
    sign = -1.0 if METRICS[metric].lower_is_better else 1.0
    row: dict[str, Any] = {
        "dataset": dataset, "metric": metric, "baseline": baseline, "cell": cell, "n_pairs": n, "n_nonzero": nz,
        "mean_diff": float(d.mean()) if n else math.nan, "median_diff": float(np.median(d)) if n else math.nan,
        "better": int((sign * d > 0).sum()), "worse": int((sign * d < 0).sum()), "ties": int((d == 0).sum()),
        "statistic": math.nan, "method": "", "p_value": math.nan, "rank_biserial": rank_biserial(d) if n else math.nan, "note": "",
    }  # fmt: skip
    if n < MIN_PAIRS_FOR_P:
        row["note"] = (
            f"{n} pair{'' if n == 1 else 's'} < {MIN_PAIRS_FOR_P}: no p reported; the smallest two-sided p attainable is "
            f"2/2^{n} = {min_wilcoxon_p(n):.3g}, so the test cannot reach significance"
        )
    elif nz == 0:
        row["p_value"], row["note"] = 1.0, "all paired differences are 0"
    else:
        row["statistic"], row["p_value"], row["method"] = _wilcoxon(pair["x"].to_numpy(float), pair["b"].to_numpy(float))
        if nz < 6:
            row["note"] = f"{nz} non-zero differences: p cannot fall below 2/2^{nz} = {min_wilcoxon_p(nz):.3g}, so not below 0.05"
    return row


def paired_tests(runs: pd.DataFrame, baseline: str, metrics: tuple[str, ...] | None = None) -> pd.DataFrame:
    """Each cell against the baseline cell, matched by seed within a data set, on the runs given (already scored by the failure rule).

    `metrics`: the registry's tested metrics by default (those present in `runs`). Each row names its Holm family:
    the tests of one data set and one metric against this baseline.
    """
    rows: list[dict[str, Any]] = []
    for dataset, g in runs.groupby("dataset", sort=False):
        base = g[g["cell"] == baseline]
        if base.empty:
            continue
        for metric in metrics if metrics is not None else tested():
            if metric not in g or g[metric].isna().all():
                continue
            b = base.drop_duplicates("seed").set_index("seed")[metric]
            family = [
                _pair_row(dataset, metric, baseline, cell, gc.drop_duplicates("seed").set_index("seed")[metric], b)
                for cell, gc in g.groupby("cell", sort=False)
                if cell != baseline
            ]
            m = sum(math.isfinite(r["p_value"]) for r in family)
            for r, a in zip(family, holm([r["p_value"] for r in family])):
                r["p_holm"] = float(a)
                r["holm_family"] = f"{dataset}, {metric}: {m} test{'s' if m != 1 else ''} against {baseline}"
            rows += family
    return pd.DataFrame(rows, columns=STATS_COLUMNS)


__all__ = [
    "BCA", "BOOT_RESAMPLES", "CI_LEVEL", "RANGE", "bootstrap_ci", "holm", "interval", "interval_label", "min_wilcoxon_p", "paired_tests",
    "rank_biserial",
]  # fmt: skip
