"""The report's tables: the per-cell summary (summary.csv), its display form, factorial tables, the tests' display, Markdown.

Owns how numbers become table cells. Which metrics exist, their direction, display name
and format come from the registry (wgan_core.metrics.registry); a metric a run wrote but
the registry does not know stays in runs.csv and is left out here.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..fileio import atomic_write_text
from ..metrics.registry import METRICS
from .stats import interval, interval_label

FACTORIAL_METRICS = ("w1", "modes", "fid")  # the primary metric of each kind of data, for loss x constraint tables
W1_FLOOR = "w1_floor"  # shown once per cell as "W1 floor (two real samples)", not as a metric with a CI


def write_csv(df: pd.DataFrame, path: Path) -> None:
    atomic_write_text(path, df.to_csv(index=False))  # two studies' reports may be written at once


def _metric_cols(runs: pd.DataFrame) -> list[str]:
    return [m for m in METRICS if m in runs and runs[m].notna().any()]


def _shown(metrics: list[str], present: Any) -> list[str]:
    """Leave out the evaluation-sample mode metrics where their 2,500-sample versions ('<name>_2500') are present."""
    return [m for m in metrics if m != W1_FLOOR and f"{m}_2500" not in present]


def summarize(runs: pd.DataFrame) -> pd.DataFrame:
    """Per data set and cell: run counts, failures, and mean, interval (with its kind), median, best and n of each registered metric.

    `runs`: the finished runs scored by the failure rule (load.apply_failure_rule), so a failed run counts with its
    untrained value; `failed` and `failure_rate` say how many did.
    """
    rows = []
    for (dataset, cell), g in runs.groupby(["dataset", "cell"], sort=False):
        fails = g["failed"] if "failed" in g else g["status"] != "ok"
        row: dict[str, Any] = {
            "dataset": dataset, "cell": cell, "runs": len(g), "diverged": int((g["status"] == "diverged").sum()),
            "failed": int(fails.sum()), "failure_rate": float(fails.mean()) if len(g) else math.nan,
        }  # fmt: skip
        for m in _metric_cols(g):
            vals = g[m].dropna().to_numpy(float)
            lo, hi, kind = interval(vals)
            lower = METRICS[m].lower_is_better
            best = (vals.min() if lower else vals.max()) if (len(vals) and lower is not None) else math.nan
            row.update({
                f"{m}_mean": vals.mean() if len(vals) else math.nan, f"{m}_lo": lo, f"{m}_hi": hi, f"{m}_interval": kind,
                f"{m}_median": float(np.median(vals)) if len(vals) else math.nan, f"{m}_best": best, f"{m}_n": len(vals),
            })  # fmt: skip
        ok = g[~fails]
        for col in [c for c in g.columns if c.startswith(("steps_to_", "time_to_"))]:
            row[f"{col}_mean"] = ok[col].mean()
        for col in ("wall_time_s", "run_seconds", "gen_iters_per_s"):
            if col in g:
                row[f"{col}_mean"] = pd.to_numeric(g[col], errors="coerce").mean()
        rows.append(row)
    return pd.DataFrame(rows)


def num(v: Any, spec: str = ".3g") -> str:
    """One value for a table: '—' when missing; integers as integers; a 'g' format never uses an exponent for |v| >= 1."""
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "—"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if spec.endswith("g") and abs(v) >= 1:  # 1000, not 1e+03
        digits = max(int(spec[1:-1] or 6), int(math.log10(abs(v))) + 1)
        return f"{v:.{digits}g}"
    return format(v, spec)


def metric_num(metric: str, v: Any) -> str:
    """A value of `metric` in the registry's format ('.3g' for unregistered names)."""
    return num(v, METRICS[metric].fmt if metric in METRICS else ".3g")


def display_name(metric: str) -> str:
    return METRICS[metric].display if metric in METRICS else metric


def _ci(row: pd.Series, m: str) -> str:
    mean, lo, hi = row.get(f"{m}_mean"), row.get(f"{m}_lo"), row.get(f"{m}_hi")
    if mean is None or not np.isfinite(mean):
        return "—"
    if lo is None or not np.isfinite(lo):
        return metric_num(m, mean)
    return f"{metric_num(m, mean)} [{metric_num(m, lo)}, {metric_num(m, hi)}]"


def display_tables(summary: pd.DataFrame) -> dict[str, tuple[pd.DataFrame, pd.DataFrame]]:
    """Per data set: (mean [interval] of each metric, the header naming the interval, with failure counts, threshold and time;
    median / best of each metric)."""
    out = {}
    for dataset, g in summary.groupby("dataset", sort=False):
        metrics = _shown([m for m in METRICS if f"{m}_mean" in g and g[f"{m}_mean"].notna().any()], {c[: -len("_mean")] for c in g.columns})
        t = pd.DataFrame({"cell": g["cell"], "runs": g["runs"], "failed (diverged)": [f"{f} ({d})" for f, d in zip(g["failed"], g["diverged"])]})
        extra = pd.DataFrame({"cell": g["cell"]})
        for m in metrics:
            t[f"{METRICS[m].display} mean [{interval_label(g[f'{m}_interval'])}]"] = [_ci(r, m) for _, r in g.iterrows()]
            if METRICS[m].lower_is_better is not None:
                extra[f"{METRICS[m].display} median / best"] = [f"{metric_num(m, r[f'{m}_median'])} / {metric_num(m, r[f'{m}_best'])}" for _, r in g.iterrows()]
        if f"{W1_FLOOR}_mean" in g and g[f"{W1_FLOOR}_mean"].notna().any():
            extra["W1 floor (two real samples)"] = [metric_num(W1_FLOOR, v) for v in g[f"{W1_FLOOR}_mean"]]
        for col in [c for c in g.columns if c.startswith("steps_to_") and c.endswith("_mean")]:
            metric = col[len("steps_to_") : -len("_10pct_mean")]
            t[f"steps to {display_name(metric)} ±10%"] = [num(v) for v in g[col]]
        if "run_seconds_mean" in g:
            t["seconds per run"] = [num(v) for v in g["run_seconds_mean"]]  # an ensemble member: its share of the ensemble's wall time
        elif "wall_time_s_mean" in g:
            t["wall time (s)"] = [num(v) for v in g["wall_time_s_mean"]]
        if "gen_iters_per_s_mean" in g:
            t["gen it/s"] = [num(v) for v in g["gen_iters_per_s_mean"]]
        out[dataset] = (t.reset_index(drop=True), extra.reset_index(drop=True))
    return out


def markdown(df: pd.DataFrame) -> str:
    cols = [str(c).replace("|", "\\|") for c in df.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for _, r in df.iterrows():
        lines.append("| " + " | ".join(str(v).replace("|", "\\|") for v in r.tolist()) + " |")
    return "\n".join(lines)


def stats_display(stats: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """(readable table, the note shared by every row or ''): a note common to all rows is shown once, not per row."""
    if stats.empty:
        return stats, ""
    t = stats[["dataset", "metric", "cell", "n_pairs", "better", "worse", "ties", "median_diff", "rank_biserial", "method", "p_value", "p_holm", "note"]].copy()
    t["median_diff"] = [metric_num(m, v) for m, v in zip(t["metric"], t["median_diff"])]
    for c in ("rank_biserial", "p_value", "p_holm"):
        t[c] = [num(v) for v in t[c]]
    t["metric"] = [display_name(m) for m in t["metric"]]
    t.columns = [
        "dataset", "metric", f"cell vs {stats['baseline'].iloc[0]}", "pairs", "better", "worse", "ties",
        "median diff", "rank-biserial r", "Wilcoxon", "p", "p (Holm, per data set and metric)", "note",
    ]  # fmt: skip
    notes = stats["note"].fillna("")
    if notes.nunique() == 1:
        return t.drop(columns="note"), str(notes.iloc[0])
    return t, ""


def factorial_tables(runs: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """loss x constraint tables of the mean primary metric, when the study crosses both factors."""
    out: dict[str, pd.DataFrame] = {}
    if not {"loss", "constraint"} <= set(runs.columns):
        return out
    for dataset, g in runs.groupby("dataset", sort=False):  # the finished runs, scored by the failure rule
        n_loss, n_con = g["loss"].nunique(), g["constraint"].nunique()
        if n_loss < 2 or n_con < 2 or len(g[["loss", "constraint"]].drop_duplicates()) < n_loss * n_con:
            continue  # not a full cross (e.g. the five named variants)
        for m in FACTORIAL_METRICS:
            if m in g and g[m].notna().any():
                t = g.pivot_table(index="loss", columns="constraint", values=m, aggfunc="mean")
                out[f"{dataset}: mean {METRICS[m].display}"] = t.map(lambda v, m=m: metric_num(m, v)).reset_index()
    return out


__all__ = ["display_tables", "factorial_tables", "markdown", "metric_num", "num", "stats_display", "summarize", "write_csv"]
