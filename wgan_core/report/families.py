"""Declared comparisons: the families of paired tests a study fixes before it runs, and the tests over them. Torch-free.

A `Family` names the cells it compares with one baseline, the metrics, the data sets (all of the
study's by default), an equivalence margin per metric, and whether it is a headline. Holm corrects
over exactly the family: every (data set, cell, metric) test in it, no more, no fewer. A preset
declares its families (wgan_core.study.presets); the study writes them to study.json when it is
created, and the report reads them from there. Where a study declared none (made before families
existed), the report tests every cell against the baseline, one *exploratory* family per data set
and metric, and says so.

The test (wgan_core.report.stats): matched seeds, the exact signed-rank test of the cost differences
(failures ranked worst), Holm within the family; equivalence by two one-sided signed-rank tests
within +-margin, also Holm-corrected within the family. A row's verdict is 'better' / 'worse'
(p_holm < ALPHA), 'equivalent within +-m' (the equivalence p_holm < ALPHA), else 'not shown to differ'.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ConfigError
from ..metrics.registry import METRICS, lower_is_better, tested
from ..outcome import cost
from .stats import holm, min_signed_rank_p, rank_biserial, signed_rank, tost

ALPHA = 0.05
METHOD = "exact signed-rank (conditional on ranks; failures ranked worst)"
STATS_COLUMNS = [
    "family", "headline", "family_size", "dataset", "metric", "baseline", "cell", "n_pairs", "n_nonzero", "failed_cell", "failed_baseline",
    "median_diff", "better", "worse", "ties", "statistic", "method", "p_value", "p_holm", "rank_biserial", "margin", "p_equiv",
    "p_equiv_holm", "verdict",
]  # fmt: skip


@dataclass(frozen=True)
class Family:
    """A declared family of paired comparisons: each of `cells` against `baseline`, on each metric, in each data set."""

    name: str
    cells: tuple[str, ...]
    baseline: str
    metrics: tuple[str, ...]
    margins: dict[str, float] = field(default_factory=dict)  # metric -> equivalence margin (the metric's units)
    headline: bool = False
    datasets: tuple[str, ...] = ()  # () = every data set of the study

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Family:
        """A family from its JSON form; a one-line ConfigError naming the field where a field has the wrong type."""
        known = {"name", "cells", "baseline", "metrics", "margins", "headline", "datasets"}
        if not isinstance(d, dict) or set(d) - known or not {"name", "cells", "baseline", "metrics"} <= set(d):
            raise ConfigError(f"families: each family is an object with name, cells, baseline, metrics (optional: margins, headline, datasets); got {d!r}")
        for key in ("cells", "metrics", "datasets"):
            v = d.get(key, [])
            if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
                raise ConfigError(f"families: {key} of {d.get('name')!r} must be a list of strings, got {v!r}")
        if not isinstance(d.get("margins", {}), dict):
            raise ConfigError(f"families: margins of {d.get('name')!r} must be an object of metric: positive number, got {d['margins']!r}")
        return cls(
            name=str(d["name"]), cells=tuple(d["cells"]), baseline=str(d["baseline"]), metrics=tuple(d["metrics"]),
            margins=dict(d.get("margins") or {}), headline=bool(d.get("headline", False)), datasets=tuple(d.get("datasets") or ()),
        )  # fmt: skip

    def size(self, n_datasets: int) -> int:
        """The number of tests Holm corrects over."""
        return len(self.cells) * len(self.metrics) * (len(self.datasets) or n_datasets)


def cell_label(cell: str) -> str:
    """The variant label a cell starts with: '<label>', '<label> (<role>)' in a search, '<label>, field=value' in a grid."""
    return cell.split(" (")[0].split(",")[0]


def check_family(f: Family, labels: set[str], datasets: set[str] | None = None) -> None:
    """A one-line ConfigError where the family names an unknown cell label, metric, data set, or a margin that is not a positive number.

    labels: the labels a cell may start with (the registered variants); a cell is '<label>' or '<label> (<role>)' or
    '<label>, field=value'.
    """
    where = f"family {f.name!r}"
    for cell in (*f.cells, f.baseline):
        if cell_label(cell) not in labels:
            raise ConfigError(f"{where}: cell {cell!r} names no variant of the study (allowed: {', '.join(sorted(labels))})")
    if not f.metrics or not f.cells:
        raise ConfigError(f"{where}: cells and metrics must each name at least one")
    for m in (*f.metrics, *f.margins):
        if m not in METRICS or METRICS[m].lower_is_better is None:
            raise ConfigError(f"{where}: metric {m!r} is not a tested metric (allowed: {', '.join(tested())})")
    for m, v in f.margins.items():
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
            raise ConfigError(f"{where}: margins.{m} must be a positive number, got {v!r}")
    for ds in f.datasets:
        if datasets is not None and ds not in datasets:
            raise ConfigError(f"{where}: data set {ds!r} is not in the study (allowed: {', '.join(sorted(datasets))})")


def reach(f: Family, seeds: int, n_datasets: int) -> tuple[float, float]:
    """(smallest two-sided p one test can reach with `seeds` pairs, smallest Holm-adjusted p in the family: size x that)."""
    p = min_signed_rank_p(seeds)
    return p, min(1.0, f.size(n_datasets) * p)


def exploratory(runs: pd.DataFrame, baseline: str) -> list[Family]:
    """Where a study declared no family: every cell against the baseline, one family per data set and tested metric."""
    out = []
    for dataset, g in runs.groupby("dataset", sort=False):
        cells = tuple(c for c in dict.fromkeys(g["cell"]) if c != baseline)
        if baseline not in set(g["cell"]) or not cells:
            continue
        for m in tested():
            if m in g and g[m].notna().any():
                out.append(Family(f"exploratory (not declared): {dataset}, {m}", cells, baseline, (m,), datasets=(dataset,)))
    return out


def costs(g: pd.DataFrame, metric: str) -> pd.Series:
    """Per seed, the cost of `metric` (lower is better, +inf failed; NaN not measured) of the runs in g, by the one rule."""
    lower = bool(lower_is_better(metric))
    flags = g[f"failed_{metric}"] if f"failed_{metric}" in g else pd.Series(False, index=g.index)
    vals = pd.to_numeric(g[metric], errors="coerce")
    out = [math.inf if bad else (math.nan if pd.isna(v) else cost("ok", v, lower)) for bad, v in zip(flags, vals)]
    return pd.Series(out, index=g["seed"].to_numpy()).groupby(level=0).first()


def _row(f: Family, dataset: str, metric: str, cell: str, x: pd.Series, b: pd.Series) -> dict[str, Any]:
    pair = pd.concat([x, b], axis=1, keys=["x", "b"], join="inner").dropna()
    xs, bs = pair["x"].to_numpy(float), pair["b"].to_numpy(float)
    both = np.isinf(xs) & np.isinf(bs)
    d = np.where(both, 0.0, xs - bs)  # both failed: a tie; one failed: +-inf, ranked worst
    n = len(d)
    margin = f.margins.get(metric, math.nan)
    stat, p, nz = signed_rank(d) if n else (math.nan, math.nan, 0)
    return {
        "family": f.name, "headline": f.headline, "dataset": dataset, "metric": metric, "baseline": f.baseline, "cell": cell,
        "n_pairs": n, "n_nonzero": nz, "failed_cell": int(np.isinf(xs).sum()), "failed_baseline": int(np.isinf(bs).sum()),
        "median_diff": float(np.median(d)) * (1 if lower_is_better(metric) else -1) if n else math.nan,
        "better": int((d < 0).sum()), "worse": int((d > 0).sum()), "ties": int((d == 0).sum()),
        "statistic": stat, "method": METHOD, "p_value": p if n else math.nan, "rank_biserial": -rank_biserial(d) if n else math.nan,
        "margin": margin, "p_equiv": tost(d, margin) if n and math.isfinite(margin) else math.nan,
    }  # fmt: skip


def _verdict(r: dict[str, Any]) -> str:
    if r["n_pairs"] == 0:
        return "not tested (no matched pairs)"
    if math.isfinite(r["p_holm"]) and r["p_holm"] < ALPHA:
        # the side the signed ranks lean to, as the test ranked them: T+ (cost differences, cell minus baseline) below
        # its null mean n(n + 1)/4 means the cell's costs are lower
        return "better" if r["statistic"] < r["n_nonzero"] * (r["n_nonzero"] + 1) / 4 else "worse"
    if math.isfinite(r["p_equiv_holm"]) and r["p_equiv_holm"] < ALPHA:
        return f"equivalent within ±{r['margin']:g}"
    return "not shown to differ"


def pairs(runs: pd.DataFrame, f: Family) -> Iterator[tuple[str, str, str, pd.DataFrame, pd.DataFrame]]:
    """(data set, metric, cell, the cell's runs, the baseline's runs) for every comparison the family declares in the data sets
    the runs hold. A declared cell without runs comes with none (its test counts in Holm's family at p = 1); a metric no run of
    the data set measured or failed on is not one of its tests (FID on toy data)."""
    for dataset, g in runs.groupby("dataset", sort=False):
        if f.datasets and dataset not in f.datasets:
            continue
        base = g[g["cell"] == f.baseline]
        for metric in f.metrics:
            failed_any = f"failed_{metric}" in g and bool(g[f"failed_{metric}"].any())
            if metric not in g or (g[metric].isna().all() and not failed_any):
                continue
            for cell in f.cells:
                yield dataset, metric, cell, g[g["cell"] == cell], base


def family_tests(runs: pd.DataFrame, families: list[Family]) -> pd.DataFrame:
    """One row per (family, data set, metric, cell): the paired test against the family's baseline, Holm over the family.

    `runs`: finished runs flagged by the failure rule (report.load.apply_failure_rule), with cell and seed columns.
    rank_biserial > 0 and `better` mean the cell beat the baseline (whatever the metric's direction).
    """
    rows: list[dict[str, Any]] = []
    for f in families:
        family = [_row(f, ds, m, cell, costs(x, m), costs(b, m)) for ds, m, cell, x, b in pairs(runs, f)]
        # a declared test that could not be run (no pairs) stays in the family at p = 1: Holm never shrinks what was declared
        p_all = [r["p_value"] if math.isfinite(r["p_value"]) else 1.0 for r in family]
        e_all = [r["p_equiv"] if math.isfinite(r["p_equiv"]) else 1.0 for r in family]
        for r, a, e in zip(family, holm(p_all), holm(e_all)):
            r["p_holm"], r["p_equiv_holm"], r["family_size"] = float(a), float(e), len(family)
            r["verdict"] = _verdict(r)
        rows += family
    return pd.DataFrame(rows, columns=STATS_COLUMNS)


__all__ = ["ALPHA", "METHOD", "STATS_COLUMNS", "Family", "cell_label", "check_family", "costs", "exploratory", "family_tests", "pairs", "reach"]
