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
from .families import Family, costs, pairs
from .stats import PERCENTILE, interval, interval_label, median_iqm, probability_of_improvement

FACTORIAL_METRICS = ("w1", "modes", "fid")  # the primary metric of each kind of data, for loss x constraint tables
W1_FLOOR = "w1_floor"  # shown once per cell as "W1 floor (two real samples)", not as a metric with a CI


def write_csv(df: pd.DataFrame, path: Path) -> None:
    atomic_write_text(path, df.to_csv(index=False))  # two studies' reports may be written at once


def _metric_cols(runs: pd.DataFrame) -> list[str]:
    """The registered metrics some run measured or failed on (a metric every run ended non-finite on is still shown)."""
    return [m for m in METRICS if m in runs and (runs[m].notna().any() or (f"failed_{m}" in runs and runs[f"failed_{m}"].any()))]


def _shown(metrics: list[str], present: Any) -> list[str]:
    """Leave out the evaluation-sample mode metrics where their 2,500-sample versions ('<name>_2500') are present."""
    return [m for m in metrics if m != W1_FLOOR and f"{m}_2500" not in present]


def _oriented(m: str, c: float) -> float:
    """A cost (lower is better, +inf failed) back in the metric's own direction (-inf for a failure of a higher-is-better metric)."""
    return c if METRICS[m].lower_is_better is not False else 0.0 - c  # 0.0 - c: never -0


def summarize(runs: pd.DataFrame) -> pd.DataFrame:
    """Per data set and cell: run counts, and per registered metric its failures, mean [interval] over the runs that did not
    fail, median and IQM [percentile bootstrap] with failures ranked worst, best and n.

    `runs`: the finished runs flagged by the failure rule (load.apply_failure_rule); no value stands in for a failure.
    """
    rows = []
    for dataset, d in runs.groupby("dataset", sort=False):
        for cell, g in d.groupby("cell", sort=False):
            rows.append(_summary_row(dataset, cell, g, _metric_cols(d)))
    return pd.DataFrame(rows)


def _summary_row(dataset: str, cell: str, g: pd.DataFrame, metrics: list[str]) -> dict[str, Any]:
    """One cell's row of summary.csv over the metrics of its data set."""
    fails = g["failed"] if "failed" in g else g["status"] != "ok"
    row: dict[str, Any] = {
        "dataset": dataset, "cell": cell, "runs": len(g), "diverged": int((g["status"] == "diverged").sum()),
        "failed": int(fails.sum()), "failure_rate": float(fails.mean()) if len(g) else math.nan,
    }  # fmt: skip
    for m in metrics:
        bad = g[f"failed_{m}"].to_numpy(bool) if f"failed_{m}" in g else np.zeros(len(g), bool)
        vals = pd.to_numeric(g[m], errors="coerce").to_numpy(float)[~bad]
        vals = vals[np.isfinite(vals)]
        lo, hi, kind = interval(vals)
        lower = METRICS[m].lower_is_better
        best = (vals.min() if lower else vals.max()) if (len(vals) and lower is not None) else math.nan
        row.update({
            f"{m}_failed": int(bad.sum()), f"{m}_mean": vals.mean() if len(vals) else math.nan, f"{m}_lo": lo, f"{m}_hi": hi,
            f"{m}_interval": kind, f"{m}_best": best, f"{m}_n": len(vals),
        })  # fmt: skip
        if lower is None:
            row[f"{m}_median"] = float(np.median(vals)) if len(vals) else math.nan
            continue
        agg = median_iqm(costs(g, m).to_numpy(float))
        for k, v in agg.items():  # a higher-is-better metric's cost is its negative: its interval's ends swap back
            row[f"{m}_{k}"] = _oriented(m, v)
        if lower is False:
            for a in ("median", "iqm"):
                row[f"{m}_{a}_lo"], row[f"{m}_{a}_hi"] = row[f"{m}_{a}_hi"], row[f"{m}_{a}_lo"]
    ok = g[~fails]
    for col in [c for c in g.columns if c.startswith(("steps_to_", "time_to_"))]:
        row[f"{col}_mean"] = ok[col].mean()
    for col in ("wall_time_s", "run_seconds", "gen_iters_per_s"):
        if col in g:
            row[f"{col}_mean"] = pd.to_numeric(g[col], errors="coerce").mean()
    return row


def improvement_table(runs: pd.DataFrame, families: list[Family]) -> pd.DataFrame:
    """P(cell beats baseline) [95% percentile bootstrap] for every pair of every family, per data set and metric (failures worst)."""
    rows = []
    for f in families:
        for dataset, m, cell, x, base in pairs(runs, f):
            p, lo, hi = probability_of_improvement(costs(x, m).to_numpy(float), costs(base, m).to_numpy(float))
            rows.append({"family": f.name, "dataset": dataset, "metric": m, "cell": cell, "baseline": f.baseline,
                         "n_cell": len(x), "n_baseline": len(base), "p_improvement": p, "lo": lo, "hi": hi})  # fmt: skip
    return pd.DataFrame(rows, columns=["family", "dataset", "metric", "cell", "baseline", "n_cell", "n_baseline", "p_improvement", "lo", "hi"])


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


def _agg(row: pd.Series, m: str, a: str) -> str:
    """'v [lo, hi]' of a robust aggregate; a failure's infinite value prints as 'failed'."""
    def one(v: Any) -> str:
        return "failed" if isinstance(v, float) and math.isinf(v) else metric_num(m, v)

    v, lo, hi = row.get(f"{m}_{a}"), row.get(f"{m}_{a}_lo"), row.get(f"{m}_{a}_hi")
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "—"
    return one(v) if lo is None or (isinstance(lo, float) and math.isnan(lo)) else f"{one(v)} [{one(lo)}, {one(hi)}]"


def _reported(summary: pd.DataFrame, m: str) -> bool:
    """Whether a data set's summary has metric m: a value in some cell, or failures on it (shown, never hidden)."""
    if f"{m}_mean" not in summary:
        return False
    return bool(summary[f"{m}_mean"].notna().any() or summary.get(f"{m}_failed", pd.Series(0.0)).fillna(0).gt(0).any())


def display_tables(summary: pd.DataFrame) -> dict[str, tuple[pd.DataFrame, pd.DataFrame]]:
    """Per data set: (failures and mean [interval] of each metric, with threshold and time; median and IQM [interval] and best)."""
    out = {}
    for dataset, g in summary.groupby("dataset", sort=False):
        metrics = _shown([m for m in METRICS if _reported(g, m)], {c[: -len("_mean")] for c in g.columns})
        t = pd.DataFrame({"cell": g["cell"], "runs": g["runs"], "diverged": g["diverged"]})
        extra = pd.DataFrame({"cell": g["cell"]})
        for m in metrics:
            if f"{m}_failed" in g:
                t[f"{METRICS[m].display} failed"] = [int(v) if v == v else 0 for v in g[f"{m}_failed"]]  # NaN: not measured there
            t[f"{METRICS[m].display} mean of the rest [{interval_label(g[f'{m}_interval'])}]"] = [_ci(r, m) for _, r in g.iterrows()]
            if METRICS[m].lower_is_better is not None:
                extra[f"{METRICS[m].display} median [{PERCENTILE}]"] = [_agg(r, m, "median") for _, r in g.iterrows()]
                extra[f"{METRICS[m].display} IQM [{PERCENTILE}]"] = [_agg(r, m, "iqm") for _, r in g.iterrows()]
                extra[f"{METRICS[m].display} best"] = [metric_num(m, r[f"{m}_best"]) for _, r in g.iterrows()]
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


def improvement_display(t: pd.DataFrame) -> pd.DataFrame:
    """The probability-of-improvement table as shown: 'p [lo, hi]' per family, data set, metric and pair."""
    if t.empty:
        return t
    return pd.DataFrame({
        "family": t["family"], "dataset": t["dataset"], "metric": [display_name(m) for m in t["metric"]], "cell": t["cell"],
        "vs": t["baseline"], "runs": [f"{a} vs {b}" for a, b in zip(t["n_cell"], t["n_baseline"])],
        f"P(cell beats vs) [{PERCENTILE}]": [
            f"{num(p, '.2f')} [{num(lo, '.2f')}, {num(hi, '.2f')}]" for p, lo, hi in zip(t["p_improvement"], t["lo"], t["hi"])
        ],
    })  # fmt: skip


def markdown(df: pd.DataFrame) -> str:
    cols = [str(c).replace("|", "\\|") for c in df.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for _, r in df.iterrows():
        lines.append("| " + " | ".join(str(v).replace("|", "\\|") for v in r.tolist()) + " |")
    return "\n".join(lines)


def stats_display(stats: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """(readable table of the paired tests, the method shared by every row or '')."""
    if stats.empty:
        return stats, ""
    t = stats[["family", "dataset", "metric", "cell", "baseline", "n_pairs", "failed_cell", "failed_baseline", "better", "worse", "ties",
               "median_diff", "rank_biserial", "p_value", "p_holm", "margin", "p_equiv_holm", "verdict"]].copy()
    t["median_diff"] = [metric_num(m, v) for m, v in zip(t["metric"], t["median_diff"])]
    for c in ("rank_biserial", "p_value", "p_holm", "p_equiv_holm", "margin"):
        t[c] = [num(v) for v in t[c]]
    t["metric"] = [display_name(m) for m in t["metric"]]
    t["family"] = [f"{f} ({n} tests)" for f, n in zip(stats["family"], stats["family_size"])]
    t.columns = [
        "family (Holm over it)", "dataset", "metric", "cell", "vs", "pairs", "cell failed", "vs failed", "better", "worse", "ties",
        "median diff", "r (>0: cell better)", "p", "p (Holm)", "equivalence margin", "p equivalent (Holm)", "verdict",
    ]  # fmt: skip
    methods = stats["method"].fillna("")
    return t, str(methods.iloc[0]) if methods.nunique() == 1 else ""


def factorial_tables(runs: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """loss x constraint tables of the mean primary metric over the runs that did not fail, when the study crosses both factors."""
    out: dict[str, pd.DataFrame] = {}
    if not {"loss", "constraint"} <= set(runs.columns):
        return out
    for dataset, g in runs.groupby("dataset", sort=False):  # the finished runs, scored by the failure rule
        n_loss, n_con = g["loss"].nunique(), g["constraint"].nunique()
        if n_loss < 2 or n_con < 2 or len(g[["loss", "constraint"]].drop_duplicates()) < n_loss * n_con:
            continue  # not a full cross (e.g. the five named variants)
        for m in FACTORIAL_METRICS:
            if m in g and g[m].notna().any():
                ok = g.assign(**{m: g[m].where(~g[f"failed_{m}"])}) if f"failed_{m}" in g else g  # a failure is no value
                t = ok.pivot_table(index="loss", columns="constraint", values=m, aggfunc="mean")
                out[f"{dataset}: mean {METRICS[m].display}"] = t.map(lambda v, m=m: metric_num(m, v)).reset_index()
    return out


__all__ = [
    "display_tables", "factorial_tables", "improvement_display", "improvement_table", "markdown", "metric_num", "num", "stats_display", "summarize",
    "write_csv",
]  # fmt: skip
