"""The report's statistics: bootstrap CI of a mean, Holm correction, rank-biserial r, paired Wilcoxon tests.

Owns every number of the report that is more than a mean or a median. `paired_tests`
compares each cell with the baseline cell seed by seed (matched seeds), within a data
set and metric, on finished, non-diverged runs; the family Holm corrects is one data set
and one metric. Metric directions come from the registry (wgan_core.metrics.registry).
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

# scipy >= 1.15 seeds with `rng`; older releases (pyproject allows 1.10) with `random_state`.
_SEED_KW = "rng" if "rng" in inspect.signature(bootstrap).parameters else "random_state"

STATS_COLUMNS = [
    "dataset", "metric", "baseline", "cell", "n_pairs", "n_nonzero", "mean_diff", "median_diff", "better", "worse", "ties",
    "statistic", "p_value", "p_holm", "rank_biserial", "note",
]  # fmt: skip


def bootstrap_ci(values: Any, level: float = CI_LEVEL, n_resamples: int = BOOT_RESAMPLES, seed: int = 0) -> tuple[float, float]:
    """Seeded percentile bootstrap CI of the mean (scipy.stats.bootstrap) over the finite values.

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
        (x,), np.mean, n_resamples=n_resamples, confidence_level=level, method="percentile", vectorized=True,
        **{_SEED_KW: np.random.default_rng(seed)},
    )  # fmt: skip
    ci = res.confidence_interval
    return float(ci.low), float(ci.high)


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
        "statistic": math.nan, "p_value": math.nan, "rank_biserial": rank_biserial(d) if n else math.nan, "note": "",
    }  # fmt: skip
    if n < MIN_PAIRS_FOR_P:
        row["note"] = (
            f"{n} pair{'' if n == 1 else 's'} < {MIN_PAIRS_FOR_P}: no p reported; the smallest two-sided p attainable is "
            f"2/2^{n} = {min_wilcoxon_p(n):.3g}, so the test cannot reach significance"
        )
    elif nz == 0:
        row["p_value"], row["note"] = 1.0, "all paired differences are 0"
    else:
        res = wilcoxon(pair["x"].to_numpy(float), pair["b"].to_numpy(float))
        row["statistic"], row["p_value"] = float(res.statistic), float(res.pvalue)
        if nz < 6:
            row["note"] = f"{nz} non-zero differences: p cannot fall below 2/2^{nz} = {min_wilcoxon_p(nz):.3g}, so not below 0.05"
    return row


def paired_tests(runs: pd.DataFrame, baseline: str, metrics: tuple[str, ...] | None = None) -> pd.DataFrame:
    """Each cell against the baseline cell, matched by seed within a data set (finished, non-diverged runs only).

    `metrics`: the registry's tested metrics by default (those present in `runs`).
    """
    rows: list[dict[str, Any]] = []
    ok = runs[runs["status"] == "ok"]
    for dataset, g in ok.groupby("dataset", sort=False):
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
            for r, a in zip(family, holm([r["p_value"] for r in family])):
                r["p_holm"] = float(a)
            rows += family
    return pd.DataFrame(rows, columns=STATS_COLUMNS)


__all__ = ["BOOT_RESAMPLES", "CI_LEVEL", "bootstrap_ci", "holm", "min_wilcoxon_p", "paired_tests", "rank_biserial"]
