"""Study reports: tables, paired statistics and plots from the runs in a study directory.

`write_report(DIR)` reads every run (config.json, metrics.csv, final.json) with
pandas and writes DIR/report/:

    runs.csv      one row per run: config columns, final metrics, status, wall time, steps to threshold
    curves.csv    one row per evaluation of every run
    summary.csv   per data set and cell: mean, 95% bootstrap CI, median, best of each final metric,
                  diverged count, steps to reach the threshold, wall time, generator iterations/s
    summary.md    the same as Markdown tables
    stats.csv     paired Wilcoxon signed-rank tests of every cell against the baseline (matched seeds),
                  Holm-corrected within each data set and metric, with the matched-pairs rank-biserial r
    *.png + *.csv every plot and the data behind it
    index.html    one self-contained page (plots embedded) with the tables and plots

A *cell* is a variant label plus any config field that varies within that label in
the study (e.g. "wgan-gp, penalty_weight=10" in the lambda preset); seeds are
matched, so cells are compared seed by seed.
"""

from __future__ import annotations

import base64
import html
import json
import math
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from .config import VARIANTS, ConfigError  # noqa: E402
from .io import atomic_savefig, atomic_write_text  # noqa: E402

# name: (lower is better? None = no direction, display name)
METRICS: dict[str, tuple[bool | None, str]] = {
    "modes": (False, "modes"),
    "modes_strict": (False, "modes (strict)"),
    "high_quality": (False, "high-quality share"),
    "reverse_kl": (True, "reverse KL"),
    "modes_2500": (False, "modes (2,500 samples)"),
    "modes_strict_2500": (False, "modes strict (2,500)"),
    "high_quality_2500": (False, "high-quality share (2,500)"),
    "reverse_kl_2500": (True, "reverse KL (2,500)"),
    "w1": (True, "W1"),
    "w1_floor": (None, "W1 floor"),
    "fid": (True, "FID"),
    "kid": (True, "KID"),
    "precision": (False, "precision"),
    "recall": (False, "recall"),
    "class_kl": (True, "class KL"),
    "wasserstein_estimate": (None, "critic's W estimate"),
    "grad_norm_first_layer": (None, "grad norm, layer 1"),
    "grad_norm_last_layer": (None, "grad norm, last layer"),
    "log10_grad_ratio": (None, "log10 first/last layer grad norm (activations)"),
    "log10_weight_grad_ratio": (None, "log10 first/last layer grad norm (weights)"),
}
TESTED = ("w1", "modes_2500", "high_quality_2500", "fid", "kid")  # the metrics of the paired tests (those present)
# Mode metrics with the published definition (VEEGAN, PacGAN): 2,500 generated samples. A run
# whose evaluations used another count (eval_samples; the toy preset uses 1,000 to make the
# exact W1 cheaper) gets them from its final generator (model.pt) in the report.
PUBLISHED_SAMPLES = 2500
MODE_KEYS = ("modes", "modes_strict", "high_quality", "reverse_kl")
THRESHOLD = ("fid", "w1")  # steps to reach within 10% of the run's final value: the first of these present
CURVE_METRICS = ("w1", "modes", "high_quality", "fid", "kid")
THRESHOLD_SHARE = 0.10
CI_LEVEL = 0.95
BOOT_RESAMPLES = 10_000
MIN_PAIRS_FOR_P = 5
CELL_EXCLUDE = {"seed", "dataset", "variant", "loss", "constraint", "device", "data_dir", "experiment", "label"}


# ==============================================================================================
# Statistics
# ==============================================================================================
def bootstrap_ci(values: Any, level: float = CI_LEVEL, n_resamples: int = BOOT_RESAMPLES, seed: int = 0) -> tuple[float, float]:
    """Seeded percentile bootstrap CI of the mean. NaN for fewer than 2 values; (v, v) when all values are equal."""
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    if len(x) < 2:
        return math.nan, math.nan
    if np.all(x == x[0]):
        return float(x[0]), float(x[0])
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, len(x), size=(n_resamples, len(x)))].mean(axis=1)
    alpha = (1 - level) / 2
    lo, hi = np.quantile(means, [alpha, 1 - alpha])
    return float(lo), float(hi)


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
    from scipy.stats import rankdata

    d = np.asarray(diffs, dtype=float)
    d = d[d != 0]
    if len(d) == 0:
        return 0.0
    r = rankdata(np.abs(d))
    return float((r[d > 0].sum() - r[d < 0].sum()) / r.sum())


def min_wilcoxon_p(n: int) -> float:
    """The smallest two-sided p an exact Wilcoxon signed-rank test can give with n non-zero pairs: 2 / 2^n."""
    return min(1.0, 2.0 / 2**n) if n > 0 else 1.0


def paired_tests(runs: pd.DataFrame, baseline: str, metrics: tuple[str, ...] = TESTED) -> pd.DataFrame:
    """Each cell against the baseline cell, matched by seed within a data set (finished, non-diverged runs only)."""
    from scipy.stats import wilcoxon

    cols = [
        "dataset", "metric", "baseline", "cell", "n_pairs", "n_nonzero", "mean_diff", "median_diff", "better", "worse", "ties",
        "statistic", "p_value", "p_holm", "rank_biserial", "note",
    ]
    rows: list[dict[str, Any]] = []
    ok = runs[runs["status"] == "ok"]
    for dataset, g in ok.groupby("dataset", sort=False):
        base = g[g["cell"] == baseline]
        if base.empty:
            continue
        for metric in metrics:
            if metric not in g or g[metric].isna().all():
                continue
            lower = METRICS[metric][0]
            b = base.drop_duplicates("seed").set_index("seed")[metric]
            family: list[dict[str, Any]] = []
            for cell, gc in g.groupby("cell", sort=False):
                if cell == baseline:
                    continue
                x = gc.drop_duplicates("seed").set_index("seed")[metric]
                pair = pd.concat([x, b], axis=1, keys=["x", "b"], join="inner").dropna()
                d = (pair["x"] - pair["b"]).to_numpy(float)
                n, nz = len(d), int((d != 0).sum())
                sign = -1.0 if lower else 1.0
                row: dict[str, Any] = {
                    "dataset": dataset, "metric": metric, "baseline": baseline, "cell": cell, "n_pairs": n, "n_nonzero": nz,
                    "mean_diff": float(d.mean()) if n else math.nan, "median_diff": float(np.median(d)) if n else math.nan,
                    "better": int((sign * d > 0).sum()), "worse": int((sign * d < 0).sum()), "ties": int((d == 0).sum()),
                    "statistic": math.nan, "p_value": math.nan, "rank_biserial": rank_biserial(d) if n else math.nan, "note": "",
                }
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
                family.append(row)
            adj = holm([r["p_value"] for r in family])
            for r, a in zip(family, adj):
                r["p_holm"] = float(a)
            rows += family
    return pd.DataFrame(rows, columns=cols)


# ==============================================================================================
# Reading a study directory
# ==============================================================================================
def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None


def load_study(root: str | Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """(runs, curves, depth_grads, study_info) of every run directory under root."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise ConfigError(f"report: {root} is not a directory")
    info = _read_json(root / "study.json") or {}
    order = {rid: i for i, rid in enumerate(info.get("runs", []))}
    run_rows, curve_frames, depth_frames = [], [], []
    for d in sorted(p for p in root.iterdir() if p.is_dir() and (p / "config.json").exists()):
        cfg = _read_json(d / "config.json")
        if cfg is None:
            continue
        final = _read_json(d / "final.json")
        row: dict[str, Any] = {"run_id": d.name, **cfg}
        row["label"] = _label(cfg)
        row["kind"] = "depth" if cfg.get("experiment") == "depth" else ("toy" if cfg.get("arch") == "mlp" else "image")
        curves = pd.read_csv(d / "metrics.csv") if (d / "metrics.csv").exists() and (d / "metrics.csv").stat().st_size else pd.DataFrame()
        if final is not None:
            row["status"] = final.get("status", "ok")
            row["steps_done"] = final.get("steps")
            for k in ("wall_time_s", "train_time_s", "gen_iters_per_s"):
                row[k] = final.get(k)
            row.update({k: v for k, v in final.get("metrics", {}).items() if k not in row})
        else:
            row["status"] = "incomplete"
            row["steps_done"] = int(curves["step"].max()) if "step" in curves else 0
        if not curves.empty:
            curves.insert(0, "run_id", d.name)
            curve_frames.append(curves)
            metric = next((m for m in THRESHOLD if m in curves and curves[m].notna().any()), None)
            if metric and final is not None:
                step, secs = steps_to_threshold(curves, metric)
                row[f"steps_to_{metric}_10pct"], row[f"time_to_{metric}_10pct"] = step, secs
        if row["kind"] == "toy" and row["status"] == "ok" and cfg.get("dataset") in ("8gaussians", "25gaussians"):
            row.update(published_mode_stats(d, cfg, row))
        if (d / "depth_grads.csv").exists():
            dg = pd.read_csv(d / "depth_grads.csv")
            dg.insert(0, "run_id", d.name)
            depth_frames.append(dg)
        run_rows.append(row)
    if not run_rows:
        raise ConfigError(f"report: {root} holds no runs (no */config.json)")
    runs = pd.DataFrame(run_rows)
    runs["_order"] = [order.get(r, len(order) + i) for i, r in enumerate(runs["run_id"])]
    runs = runs.sort_values("_order", kind="stable").drop(columns="_order").reset_index(drop=True)
    runs.insert(1, "cell", cells(runs))
    cols = ["run_id", "dataset", "cell", "label", "seed"]
    curves = pd.concat(curve_frames, ignore_index=True) if curve_frames else pd.DataFrame(columns=["run_id", "step"])
    curves = runs[cols].merge(curves, on="run_id", how="inner")
    depth = pd.concat(depth_frames, ignore_index=True) if depth_frames else pd.DataFrame()
    if not depth.empty:
        depth = runs[cols].merge(depth, on="run_id", how="inner")
    return runs, curves, depth, info


def published_mode_stats(run_dir: Path, cfg: dict[str, Any], final_row: dict[str, Any]) -> dict[str, Any]:
    """modes, modes_strict, high_quality, reverse_kl on PUBLISHED_SAMPLES samples, as '<name>_2500'.

    The run's own final values when it evaluated 2,500 samples; otherwise computed from
    model.pt on 2,500 samples of the run's evaluation latent stream (the same latents for
    every variant of a seed). Empty when there is no model.pt.
    """
    if cfg.get("eval_samples") == PUBLISHED_SAMPLES:
        return {f"{k}_2500": final_row.get(k) for k in MODE_KEYS}
    if not (run_dir / "model.pt").exists():
        return {}
    import torch

    from .config import RunConfig
    from .metrics.toy import mode_stats
    from .models import build_models
    from .train import subseed

    config = RunConfig.from_dict(cfg)
    g, _ = build_models(config)
    g.load_state_dict(torch.load(run_dir / "model.pt", map_location="cpu", weights_only=True)["generator"])
    g.eval()
    z = torch.randn(PUBLISHED_SAMPLES, config.z_dim, generator=torch.Generator().manual_seed(subseed(config.seed, "eval")))
    with torch.no_grad():
        x = g(z)
    if not torch.isfinite(x).all():
        return {f"{k}_2500": math.nan for k in MODE_KEYS}
    return {f"{k}_2500": v for k, v in mode_stats(x, config.dataset).items()}


def _label(cfg: dict[str, Any]) -> str:
    if cfg.get("experiment") == "depth":
        return f"clip c={cfg['clip_value']:g}" if cfg["constraint"] == "clip" else f"gp λ={cfg['penalty_weight']:g}"
    spec = VARIANTS.get(cfg.get("variant", ""))
    if spec is not None and (spec.loss, spec.constraint) == (cfg.get("loss"), cfg.get("constraint")):
        return cfg["variant"]
    return f"{cfg.get('loss')}+{cfg.get('constraint')}"


def _fmt_value(v: Any) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def cells(runs: pd.DataFrame) -> list[str]:
    """The label, plus 'field=value' for each config field that varies within that label across the study."""
    config_cols = [c for c in runs.columns if c not in CELL_EXCLUDE and c not in ("run_id", "kind", "status") and c in _config_fields()]
    out = []
    varying: dict[str, list[str]] = {}
    for label, g in runs.groupby("label", sort=False):
        varying[label] = [c for c in config_cols if g[c].astype(str).nunique() > 1]
    for _, r in runs.iterrows():
        extra = [f"{c}={_fmt_value(r[c])}" for c in varying[r["label"]]]
        out.append(", ".join([r["label"], *extra]))
    return out


def _config_fields() -> set[str]:
    from dataclasses import fields

    from .config import RunConfig
    from .depth import DepthConfig

    return {f.name for f in fields(RunConfig)} | {f.name for f in fields(DepthConfig)}


def steps_to_threshold(curve: pd.DataFrame, metric: str, share: float = THRESHOLD_SHARE) -> tuple[float, float]:
    """(step, wall seconds) of the first evaluation within `share` of the run's final value of `metric`."""
    c = curve[["step", "wall_time_s", metric]].dropna(subset=[metric]) if "wall_time_s" in curve else curve[["step", metric]].dropna()
    if c.empty:
        return math.nan, math.nan
    final = float(c[metric].iloc[-1])
    hit = c[(c[metric] - final).abs() <= share * abs(final)]
    first = hit.iloc[0]
    return float(first["step"]), float(first.get("wall_time_s", math.nan))


# ==============================================================================================
# Tables
# ==============================================================================================
def _metric_cols(runs: pd.DataFrame) -> list[str]:
    return [m for m in METRICS if m in runs and runs[m].notna().any()]


def _shown(metrics: list[str], present: Any) -> list[str]:
    """Leave out the evaluation-sample mode metrics where their 2,500-sample versions are present."""
    return [m for m in metrics if m != "w1_floor" and not (m in MODE_KEYS and f"{m}_2500" in present)]


def summarize(runs: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for (dataset, cell), g in runs.groupby(["dataset", "cell"], sort=False):
        ok = g[g["status"] == "ok"]
        row: dict[str, Any] = {
            "dataset": dataset, "cell": cell, "runs": len(g), "finished": int(g["status"].isin(["ok", "diverged"]).sum()),
            "diverged": int((g["status"] == "diverged").sum()),
        }
        for m in _metric_cols(g):
            vals = ok[m].dropna().to_numpy(float)
            lo, hi = bootstrap_ci(vals)
            lower = METRICS[m][0]
            best = (vals.min() if lower else vals.max()) if (len(vals) and lower is not None) else math.nan
            row.update({
                f"{m}_mean": vals.mean() if len(vals) else math.nan, f"{m}_ci_low": lo, f"{m}_ci_high": hi,
                f"{m}_median": float(np.median(vals)) if len(vals) else math.nan, f"{m}_best": best, f"{m}_n": len(vals),
            })
        for col in [c for c in g.columns if c.startswith(("steps_to_", "time_to_"))]:
            row[f"{col}_mean"] = ok[col].mean()
        for col in ("wall_time_s", "gen_iters_per_s"):
            if col in g:
                row[f"{col}_mean"] = pd.to_numeric(ok[col], errors="coerce").mean()
        rows.append(row)
    return pd.DataFrame(rows)


def _num(v: Any, digits: int = 3) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "—"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if abs(v) >= 1:  # no exponent for large values: 1000, not 1e+03
        digits = max(digits, int(math.log10(abs(v))) + 1)
    return f"{v:.{digits}g}"


def _ci(row: pd.Series, m: str) -> str:
    mean, lo, hi = row.get(f"{m}_mean"), row.get(f"{m}_ci_low"), row.get(f"{m}_ci_high")
    if mean is None or not np.isfinite(mean):
        return "—"
    if lo is None or not np.isfinite(lo):
        return _num(mean)
    return f"{_num(mean)} [{_num(lo)}, {_num(hi)}]"


def display_tables(summary: pd.DataFrame) -> dict[str, tuple[pd.DataFrame, pd.DataFrame]]:
    """Per data set: (mean [95% CI] of each metric with diverged count, threshold and time; median / best of each metric)."""
    out = {}
    for dataset, g in summary.groupby("dataset", sort=False):
        metrics = _shown([m for m in METRICS if f"{m}_mean" in g and g[f"{m}_mean"].notna().any()], {c[: -len("_mean")] for c in g.columns})
        t = pd.DataFrame({"cell": g["cell"], "runs": g["runs"], "diverged": g["diverged"]})
        extra = pd.DataFrame({"cell": g["cell"]})
        for m in metrics:
            t[f"{METRICS[m][1]} mean [95% CI]"] = [_ci(r, m) for _, r in g.iterrows()]
            if METRICS[m][0] is not None:
                extra[f"{METRICS[m][1]} median / best"] = [f"{_num(r[f'{m}_median'])} / {_num(r[f'{m}_best'])}" for _, r in g.iterrows()]
        if "w1_floor_mean" in g and g["w1_floor_mean"].notna().any():
            extra["W1 floor (two real samples)"] = [_num(v) for v in g["w1_floor_mean"]]
        for col in [c for c in g.columns if c.startswith("steps_to_") and c.endswith("_mean")]:
            metric = col[len("steps_to_") : -len("_10pct_mean")]
            t[f"steps to {METRICS.get(metric, (None, metric))[1]} ±10%"] = [_num(v, 3) for v in g[col]]
        if "wall_time_s_mean" in g:
            t["wall time (s)"] = [_num(v, 3) for v in g["wall_time_s_mean"]]
        if "gen_iters_per_s_mean" in g:
            t["gen it/s"] = [_num(v, 3) for v in g["gen_iters_per_s_mean"]]
        out[dataset] = (t.reset_index(drop=True), extra.reset_index(drop=True))
    return out


def _markdown(df: pd.DataFrame) -> str:
    cols = [str(c).replace("|", "\\|") for c in df.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for _, r in df.iterrows():
        lines.append("| " + " | ".join(str(v).replace("|", "\\|") for v in r.tolist()) + " |")
    return "\n".join(lines)


def stats_display(stats: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """(readable table, the note shared by every row or ''): a note common to all rows is shown once, not per row."""
    if stats.empty:
        return stats, ""
    t = stats[["dataset", "metric", "cell", "n_pairs", "better", "worse", "ties", "median_diff", "rank_biserial", "p_value", "p_holm", "note"]].copy()
    t.columns = [
        "dataset", "metric", f"cell vs {stats['baseline'].iloc[0]}", "pairs", "better", "worse", "ties",
        "median diff", "rank-biserial r", "p", "p (Holm)", "note",
    ]
    for c in ("median diff", "rank-biserial r", "p", "p (Holm)"):
        t[c] = [_num(v) for v in t[c]]
    t["metric"] = [METRICS.get(m, (None, m))[1] for m in t["metric"]]
    notes = stats["note"].fillna("")
    if notes.nunique() == 1:
        return t.drop(columns="note"), str(notes.iloc[0])
    return t, ""


def factorial_tables(runs: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """loss x constraint tables of the mean primary metric, when the study crosses both factors."""
    out: dict[str, pd.DataFrame] = {}
    if not {"loss", "constraint"} <= set(runs.columns):
        return out
    ok = runs[runs["status"] == "ok"]
    for dataset, g in ok.groupby("dataset", sort=False):
        n_loss, n_con = g["loss"].nunique(), g["constraint"].nunique()
        if n_loss < 2 or n_con < 2 or len(g[["loss", "constraint"]].drop_duplicates()) < n_loss * n_con:
            continue  # not a full cross (e.g. the five named variants)
        for m in ("w1", "modes", "fid"):
            if m in g and g[m].notna().any():
                t = g.pivot_table(index="loss", columns="constraint", values=m, aggfunc="mean")
                out[f"{dataset}: mean {METRICS[m][1]}"] = t.map(_num).reset_index()
    return out


# ==============================================================================================
# Plots
# ==============================================================================================
def _colors(cells_: list[str]) -> dict[str, Any]:
    cmap = plt.get_cmap("tab10" if len(cells_) <= 10 else "tab20")
    return {c: cmap(i % cmap.N) for i, c in enumerate(cells_)}


def _save(fig, path: Path) -> None:
    atomic_savefig(fig, path, dpi=100, bbox_inches="tight")  # two studies' reports may be written at once
    plt.close(fig)


def _write_csv(df: pd.DataFrame, path: Path) -> None:
    atomic_write_text(path, df.to_csv(index=False))


def band_data(curves: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Per data set, cell and evaluation step: mean, 95% bootstrap CI and n over seeds; mean wall time."""
    rows = []
    c = curves.dropna(subset=[metric])
    for (dataset, cell, step), g in c.groupby(["dataset", "cell", "step"], sort=False):
        vals = g[metric].to_numpy(float)
        lo, hi = bootstrap_ci(vals, n_resamples=2000)
        rows.append({
            "dataset": dataset, "cell": cell, "step": step, "wall_time_s": g["wall_time_s"].mean() if "wall_time_s" in g else math.nan,
            "mean": vals.mean(), "ci_low": lo if np.isfinite(lo) else vals.mean(), "ci_high": hi if np.isfinite(hi) else vals.mean(), "n": len(vals),
        })
    if not rows:
        return pd.DataFrame()
    df = pd.DataFrame(rows)
    rank = {c: i for i, c in enumerate(dict.fromkeys(curves["cell"]))}
    df["_c"] = df["cell"].map(rank)
    df["_d"] = df["dataset"].map({d: i for i, d in enumerate(dict.fromkeys(curves["dataset"]))})
    return df.sort_values(["_d", "_c", "step"], kind="stable").drop(columns=["_c", "_d"]).reset_index(drop=True)


def plot_convergence(curves: pd.DataFrame, metric: str, colors: dict, out: Path) -> Path | None:
    data = band_data(curves, metric)
    if data.empty:
        return None
    datasets = list(dict.fromkeys(data["dataset"]))
    fig, axes = plt.subplots(len(datasets), 2, figsize=(11, 3.6 * len(datasets)), squeeze=False)
    for i, ds in enumerate(datasets):
        d = data[data["dataset"] == ds]
        for j, x in enumerate(("step", "wall_time_s")):
            ax = axes[i, j]
            for cell in [c for c in colors if c in set(d["cell"])]:
                g = d[d["cell"] == cell]
                ax.plot(g[x], g["mean"], color=colors[cell], label=cell, lw=1.5)
                ax.fill_between(g[x], g["ci_low"], g["ci_high"], color=colors[cell], alpha=0.18, lw=0)
            ax.set_xlabel("generator iterations" if x == "step" else "wall-clock time (s)")
            ax.set_ylabel(METRICS[metric][1])
            if METRICS[metric][0] and (d["mean"] > 0).all():
                ax.set_yscale("log")
            ax.set_title(f"{ds}: {METRICS[metric][1]}, mean and 95% CI over seeds", fontsize=9)
            ax.grid(alpha=0.3)
        axes[i, 1].legend(fontsize=7, loc="best")
    fig.tight_layout()
    path = out / f"convergence_{metric}.png"
    _save(fig, path)
    _write_csv(data, path.with_suffix(".csv"))
    return path


def plot_final(runs: pd.DataFrame, metric: str, colors: dict, out: Path) -> Path | None:
    ok = runs[(runs["status"] == "ok") & runs[metric].notna()] if metric in runs else runs.iloc[:0]
    if ok.empty:
        return None
    datasets = list(dict.fromkeys(ok["dataset"]))
    fig, axes = plt.subplots(1, len(datasets), figsize=(max(5.0, 0.9 * ok["cell"].nunique() + 2) * len(datasets), 4), squeeze=False)
    rng = np.random.default_rng(0)
    for ax, ds in zip(axes[0], datasets):
        d = ok[ok["dataset"] == ds]
        order = [c for c in colors if c in set(d["cell"])]
        vals = [d[d["cell"] == c][metric].to_numpy(float) for c in order]
        ax.boxplot(vals, positions=range(len(order)), widths=0.5, showfliers=False, medianprops={"color": "k"})
        for k, (c, v) in enumerate(zip(order, vals)):
            ax.scatter(k + rng.uniform(-0.12, 0.12, len(v)), v, color=colors[c], s=22, zorder=3, edgecolor="k", lw=0.4)
        ax.set_xticks(range(len(order)))
        ax.set_xticklabels(order, rotation=30, ha="right", fontsize=8)
        ax.set_ylabel(METRICS[metric][1])
        ax.set_title(f"{ds}: final {METRICS[metric][1]} per run", fontsize=9)
        ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    path = out / f"final_{metric}.png"
    _save(fig, path)
    _write_csv(ok[["dataset", "cell", "seed", "run_id", metric]], path.with_suffix(".csv"))
    return path


def plot_grad_norm(curves: pd.DataFrame, colors: dict, out: Path) -> Path | None:
    if "grad_norm_mean" not in curves or curves["grad_norm_mean"].isna().all():
        return None
    data = band_data(curves, "grad_norm_mean")
    datasets = list(dict.fromkeys(data["dataset"]))
    fig, axes = plt.subplots(1, len(datasets), figsize=(5.5 * len(datasets), 3.8), squeeze=False)
    for ax, ds in zip(axes[0], datasets):
        d = data[data["dataset"] == ds]
        for cell in [c for c in colors if c in set(d["cell"])]:
            g = d[d["cell"] == cell]
            ax.plot(g["step"], g["mean"], color=colors[cell], label=cell)
            ax.fill_between(g["step"], g["ci_low"], g["ci_high"], color=colors[cell], alpha=0.18, lw=0)
        ax.axhline(1.0, color="k", lw=0.8, ls="--")
        if (d["ci_low"] > 0).all():
            ax.set_yscale("log")
        ax.set_xlabel("generator iterations")
        ax.set_ylabel("mean ||∇D(x̂)|| at interpolates")
        ax.set_title(f"{ds}: critic gradient norm at x̂ (1 = Lipschitz target)", fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    path = out / "grad_norm.png"
    _save(fig, path)
    _write_csv(data, path.with_suffix(".csv"))
    return path


def plot_toy_samples(root: Path, runs: pd.DataFrame, colors: dict, out: Path) -> list[Path]:
    """Samples over critic contours, one panel per cell (first finished seed), one figure per data set."""
    import torch

    from .config import RunConfig
    from .models import build_models
    from .plots import toy_panel
    from .train import eval_batch

    paths = []
    toy = runs[(runs["kind"] == "toy") & (runs["status"] == "ok")]
    for ds, d in toy.groupby("dataset", sort=False):
        first = d.sort_values("seed", kind="stable").drop_duplicates("cell")
        first = first.set_index("cell").loc[[c for c in colors if c in set(first["cell"])]].reset_index()
        n = len(first)
        ncol = min(n, 5)
        nrow = math.ceil(n / ncol)
        fig, axes = plt.subplots(nrow, ncol, figsize=(3.1 * ncol, 3.3 * nrow), squeeze=False)
        rows = []
        for ax, (_, r) in zip(axes.flat, first.iterrows()):
            model = root / r["run_id"] / "model.pt"
            if not model.exists():
                ax.set_title(f"{r['cell']}: no model.pt", fontsize=8)
                continue
            config = RunConfig.from_json(root / r["run_id"] / "config.json")
            g, critic = build_models(config)
            state = torch.load(model, map_location="cpu", weights_only=True)
            g.load_state_dict(state["generator"])
            critic.load_state_dict(state["critic"])
            batch = eval_batch(config)[1]  # the run's evaluation latents and real sample (as in its samples.png)
            z, real = batch["z"][:1000], batch["real"][:1000]
            g.eval()
            with torch.no_grad():
                fake = g(z)
            modes = "modes_2500" if "modes_2500" in r and pd.notna(r["modes_2500"]) else "modes"
            extra = ", ".join(f"{k.replace('_2500', '')} {_num(r[k])}" for k in (modes, "w1") if k in r and pd.notna(r[k]))
            toy_panel(ax, fake, real, critic, "cpu", f"{r['cell']} (seed {r['seed']})\n{extra}")
            rows += [{"dataset": ds, "cell": r["cell"], "seed": r["seed"], "source": "generated", "x": float(x), "y": float(y)} for x, y in fake.tolist()]
            rows += [{"dataset": ds, "cell": r["cell"], "seed": r["seed"], "source": "real", "x": float(x), "y": float(y)} for x, y in real.tolist()]
        for ax in list(axes.flat)[n:]:
            ax.axis("off")
        fig.suptitle(f"{ds}: generated (green) and real (orange) samples over the critic's contours", fontsize=10)
        fig.tight_layout()
        path = out / f"toy_samples_{ds}.png"
        _save(fig, path)
        _write_csv(pd.DataFrame(rows), path.with_suffix(".csv"))
        paths.append(path)
    return paths


def plot_image_samples(root: Path, runs: pd.DataFrame, colors: dict, out: Path) -> list[Path]:
    """Each cell's sample grid (its first finished seed's samples.png), one figure per data set."""
    paths = []
    img = runs[(runs["kind"] == "image") & (runs["status"] == "ok")]
    for ds, d in img.groupby("dataset", sort=False):
        first = d.sort_values("seed", kind="stable").drop_duplicates("cell")
        first = [r for _, r in first.iterrows() if (root / r["run_id"] / "samples.png").exists()]
        if not first:
            continue
        ncol = min(len(first), 5)
        nrow = math.ceil(len(first) / ncol)
        fig, axes = plt.subplots(nrow, ncol, figsize=(3.4 * ncol, 3.6 * nrow), squeeze=False)
        for ax, r in zip(axes.flat, first):
            ax.imshow(plt.imread(root / r["run_id"] / "samples.png"))
            ax.set_title(f"{r['cell']} (seed {r['seed']})", fontsize=8)
        for ax in axes.flat:
            ax.axis("off")
        fig.tight_layout()
        slug = ds.replace(":", "_").replace("/", "_")
        path = out / f"image_samples_{slug}.png"
        _save(fig, path)
        listing = [{"dataset": ds, "cell": r["cell"], "seed": r["seed"], "samples_png": f"{r['run_id']}/samples.png"} for r in first]
        _write_csv(pd.DataFrame(listing), path.with_suffix(".csv"))
        paths.append(path)
    return paths


def plot_depth(depth: pd.DataFrame, colors: dict, out: Path) -> Path | None:
    """WGAN-GP Fig. 1b: per-layer gradient norms (log scale) at the end of training, mean and range over seeds."""
    if depth.empty:
        return None
    last = depth[depth["step"] == depth.groupby("run_id")["step"].transform("max")]
    data = last.groupby(["cell", "kind", "layer"], sort=False)["norm"].agg(["mean", "min", "max", "count"]).reset_index()
    kinds = [k for k in ("weight", "activation") if k in set(data["kind"])]
    fig, axes = plt.subplots(1, len(kinds), figsize=(5.5 * len(kinds), 4), squeeze=False)
    for ax, kind in zip(axes[0], kinds):
        d = data[data["kind"] == kind]
        for cell in [c for c in colors if c in set(d["cell"])]:
            g = d[d["cell"] == cell].sort_values("layer")
            pos = g[g["mean"] > 0]
            ax.plot(pos["layer"], pos["mean"], marker="o", ms=3, color=colors[cell], label=cell)
            ax.fill_between(pos["layer"], pos["min"].clip(lower=pos["mean"].min() * 1e-3), pos["max"], color=colors[cell], alpha=0.15, lw=0)
        ax.set_yscale("log")
        ax.set_xlabel("critic layer (1 = input)")
        ax.set_ylabel("gradient norm (log scale)")
        what = "||dL/dW_l||" if kind == "weight" else "||dL/dh_l|| / sqrt(N)"
        ax.set_title(f"{what} after training", fontsize=9)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7)
    fig.suptitle("12-layer ReLU critic on swissroll, generator = data + N(0, 1): clipping vs gradient penalty", fontsize=9)
    fig.tight_layout()
    path = out / "depth_grad_norms.png"
    _save(fig, path)
    _write_csv(data, path.with_suffix(".csv"))
    return path


# ==============================================================================================
# The report
# ==============================================================================================
def write_report(root: str | Path, baseline: str | None = None) -> Path:
    """Write DIR/report/ (tables, statistics, plots, index.html); returns the path of index.html."""
    root = Path(root).expanduser()
    runs, curves, depth, info = load_study(root)
    baseline = baseline or info.get("baseline") or "wgan-gp"
    out = root / "report"
    out.mkdir(exist_ok=True)

    _write_csv(runs, out / "runs.csv")
    _write_csv(curves, out / "curves.csv")
    summary = summarize(runs)
    _write_csv(summary, out / "summary.csv")
    stats = paired_tests(runs, baseline)
    _write_csv(stats, out / "stats.csv")
    tables = display_tables(summary)
    fact = factorial_tables(runs)

    colors = _colors(list(dict.fromkeys(runs["cell"])))
    plots: list[tuple[str, Path]] = []
    for m in CURVE_METRICS:
        if m in curves and curves[m].notna().any():
            p = plot_convergence(curves, m, colors, out)
            if p:
                plots.append((f"Convergence: {METRICS[m][1]} against generator iterations and wall-clock time", p))
    for m in TESTED:
        if m in runs and runs[m].notna().any():
            p = plot_final(runs, m, colors, out)
            if p:
                plots.append((f"Final {METRICS[m][1]} per run (box: quartiles; dots: seeds)", p))
    p = plot_grad_norm(curves, colors, out)
    if p:
        plots.append(("Critic gradient norm at interpolates x̂ over training", p))
    plots += [("Samples over critic contours", p) for p in plot_toy_samples(root, runs, colors, out)]
    plots += [("Sample grids", p) for p in plot_image_samples(root, runs, colors, out)]
    p = plot_depth(depth, colors, out)
    if p:
        plots.append(("Per-layer gradient norms of a 12-layer critic (WGAN-GP Fig. 1b)", p))

    md = _summary_markdown(info, runs, tables, stats, fact, baseline)
    atomic_write_text(out / "summary.md", md)
    index = out / "index.html"
    atomic_write_text(index, _html(info, runs, tables, stats, fact, plots, baseline))
    return index


def _notes(runs: pd.DataFrame, baseline: str, tested: bool) -> list[str]:
    n_seeds = runs.groupby(["dataset", "cell"])["seed"].nunique().min()
    notes = [
        "Metric columns: mean over the finished, non-diverged runs with a 95% percentile-bootstrap CI of the mean "
        f"({BOOT_RESAMPLES:,} seeded resamples); with {n_seeds} seeds the interval is coarse.",
        "Diverged runs (a non-finite loss) count in `diverged` and are left out of the metric columns.",
        f"Steps to ±10%: the first evaluation within {THRESHOLD_SHARE:.0%} of the run's own final value.",
    ]
    if tested:  # no paired tests where the study has no baseline cell (the depth experiment)
        notes.append(
            f"Paired tests (stats.csv): each cell against `{baseline}` on matched seeds, Wilcoxon signed-rank, Holm-corrected per data set "
            "and metric; r = matched-pairs rank-biserial (positive: the cell's values are larger)."
        )
    if "modes" in runs:
        notes.append(
            "Mode metrics '(2,500)' as in VEEGAN/PacGAN: 2,500 samples of the final generator; a sample is high quality within 3σ "
            "of its nearest mode; a mode is covered with ≥1 high-quality sample (strict: ≥ a quarter of the uniform share). "
            "W1: exact optimal assignment between min(2,000, eval_samples) generated and as many real samples; "
            "the curves use each evaluation's eval_samples."
        )
    return notes


def _summary_markdown(info, runs, tables, stats, fact, baseline) -> str:
    parts = [f"# Study report: {info.get('preset', 'runs')}", ""]
    if info:
        parts += [f"{len(runs)} runs; command: `{info.get('command', '')}`; git commit `{info.get('git_commit', '')[:12]}`.", ""]
    for ds, (t, extra) in tables.items():
        parts += [f"## {ds}", "", _markdown(t), ""] + ([_markdown(extra), ""] if len(extra.columns) > 1 else [])
    for name, t in fact.items():
        parts += [f"### {name} (loss × constraint)", "", _markdown(t), ""]
    if not stats.empty:
        table, note = stats_display(stats)
        parts += ["## Paired tests", ""] + ([f"All rows: {note}.", ""] if note else []) + [_markdown(table.fillna("")), ""]
    parts += ["Notes:", ""] + [f"- {n}" for n in _notes(runs, baseline, not stats.empty)] + [""]
    return "\n".join(parts)


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:1.5em auto;max-width:1200px;color:#222;padding:0 1em}
table{border-collapse:collapse;font-size:13px;margin:0.5em 0 1.2em}
th,td{border:1px solid #ccc;padding:3px 7px;text-align:left;vertical-align:top}
th{background:#f2f2f2} tr:nth-child(even) td{background:#fafafa}
figure{margin:1.2em 0} figure img{max-width:100%;border:1px solid #ddd}
figcaption{font-size:13px;color:#555} code{background:#f4f4f4;padding:0 3px}
.meta{font-size:13px;color:#555}
"""


def _html(info, runs, tables, stats, fact, plots, baseline) -> str:
    esc = html.escape
    status = runs["status"].value_counts().to_dict()
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        f"<title>Study report: {esc(str(info.get('preset', 'runs')))}</title><style>{_CSS}</style></head><body>",
        f"<h1>Study report: {esc(str(info.get('preset', 'runs')))}</h1>",
        "<p class='meta'>" + esc(f"{len(runs)} runs ({', '.join(f'{v} {k}' for k, v in status.items())})"),
    ]
    if info:
        made = f"created {info.get('created', '')}, git commit {info.get('git_commit', '')[:12]}, seeds {info.get('seeds')}"
        parts.append("<br>" + esc(f"command: {info.get('command', '')}") + "<br>" + esc(made))
    parts.append("</p><h2>Summary</h2>")
    for ds, (t, extra) in tables.items():
        parts += [f"<h3>{esc(str(ds))}</h3>", t.to_html(index=False, escape=True, border=0)]
        if len(extra.columns) > 1:  # "cell" alone: no metric with a direction (median / best)
            parts.append(extra.to_html(index=False, escape=True, border=0))
    for name, t in fact.items():
        parts += [f"<h3>{esc(name)} (loss × constraint)</h3>", t.to_html(index=False, escape=True, border=0)]
    if not stats.empty:
        table, note = stats_display(stats)
        parts += [f"<h2>Paired tests against {esc(baseline)}</h2>"] + ([f"<p>All rows: {esc(note)}.</p>"] if note else [])
        parts.append(table.fillna("").to_html(index=False, escape=True, border=0))
    parts += ["<ul>"] + [f"<li>{esc(n)}</li>" for n in _notes(runs, baseline, not stats.empty)] + ["</ul>", "<h2>Plots</h2>"]
    for caption, path in plots:
        b64 = base64.b64encode(path.read_bytes()).decode()
        parts.append(
            f"<figure><img alt='{esc(path.name)}' src='data:image/png;base64,{b64}'>"
            f"<figcaption>{esc(caption)} — <code>{esc(path.name)}</code>, data: <code>{esc(path.with_suffix('.csv').name)}</code></figcaption></figure>"
        )
    parts.append("<p class='meta'>Tables as CSV: runs.csv, curves.csv, summary.csv, stats.csv (beside this file).</p></body></html>")
    return "\n".join(parts)


__all__ = ["bootstrap_ci", "holm", "load_study", "paired_tests", "rank_biserial", "summarize", "write_report"]
