"""The search's report sections (Lucic et al. 2018's protocol): budget curves, sensitivity, rankings, cost. Torch-free.

Reads study.json's "stage1" table (run id -> data set, objective, setting, hyperparameter
values) and "stage2" record (selected settings; run id -> roles 'tuned' / 'defaults').

  * Stage-1 score of a run: by the one failure rule (wgan_core.outcome), which the search's
    selection also uses: its final value of the search metric, or +inf if it failed (diverged,
    unfinished, or a non-finite final value): ranked worst, never a substituted value. A setting's
    score is the mean over its selection seeds (+inf if any of them failed).
  * budget.csv: expected best score of m settings drawn without replacement from the K tried,
    exactly (report/budget.py), with a 95% percentile-bootstrap band over the K settings, per data
    set and objective.
  * sensitivity: the stage-1 scores per objective, and the score against each hyperparameter.
  * stage 2: each run (a fresh seed, never a stage-1 one) appears in the cell '<objective> (tuned)'
    and/or '<objective> (defaults)'; the report's summary and paired tests (against the baseline's
    tuned and default cells) use these, scored by the same rule, and ranking.csv sets the ranking
    at the defaults beside the tuned one, with each objective's failure rate.
  * cost.csv: run seconds per objective over the whole search, and the budget (settings and
    seconds) each needs for its expected best to reach the baseline's median at its defaults.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from ..metrics.registry import METRICS, lower_is_better  # noqa: E402
from ..outcome import failed  # noqa: E402
from .budget import budget_band, budget_curve, budget_to_reach  # noqa: E402
from .coverage import measured  # noqa: E402
from .plots import cell_colors, save_figure  # noqa: E402
from .tables import metric_num, num, write_csv  # noqa: E402

ROLES = ("tuned", "defaults")
SHARED_BELOW = 0.9  # a run's median CPU seconds per wall second below this: it shared its core with other work
LOG_PARAMS = ("lr_d", "penalty_weight", "clip_value")  # drawn log-uniformly: log axes
PARAMS = ("lr_d", "beta1", "beta2", "n_critic", "penalty_weight", "clip_value")  # lr_g = lr_d in the search


def is_search(info: dict[str, Any]) -> bool:
    return "stage1" in info


def stage1_frame(runs: pd.DataFrame, curves: pd.DataFrame, info: dict[str, Any]) -> pd.DataFrame:
    """One row per stage-1 run: data set, objective, setting, seed, hyperparameter values, status, final, failed, score, seconds."""
    metric = info.get("metric", "w1")
    lower = lower_is_better(metric)
    by_id = runs.set_index("run_id")
    rows = []
    for rid, row in info["stage1"].items():
        r = by_id.loc[rid] if rid in by_id.index else None
        final = float(r[metric]) if r is not None and metric in r and pd.notna(r[metric]) else math.nan
        status = r["status"] if r is not None else "missing"
        bad = failed(status, final)
        values = {p: row.get("values", {}).get(p, math.nan) for p in PARAMS}
        values["optimizer"] = row.get("values", {}).get("optimizer", "")
        rows.append({
            "dataset": row["dataset"], "objective": row["variant"], "setting": row["setting"], "seed": row.get("seed", 0), "run_id": rid,
            "status": status, "final": final, "failed": bad, "score": math.inf if bad else (final if lower else -final), **values,
            "wall_time_s": float(r["run_seconds"]) if r is not None and pd.notna(r.get("run_seconds")) else math.nan,
            "cpu_share": float(r["cpu_share"]) if r is not None and "cpu_share" in r and pd.notna(r["cpu_share"]) else math.nan,
        })  # fmt: skip
    order = {rid: i for i, rid in enumerate(info.get("runs", []))}  # study order (study.json's stage1 dict may be key-sorted)
    df = pd.DataFrame(rows)
    return df.sort_values("run_id", key=lambda s: s.map(order), kind="stable").reset_index(drop=True) if len(df) else df


def setting_scores(stage1: pd.DataFrame) -> pd.DataFrame:
    """One row per data set, objective and setting: the mean score over its selection seeds (what selection ranks), failures, values."""
    keys = ["dataset", "objective", "setting"]
    agg = stage1.groupby(keys, sort=False).agg(score=("score", "mean"), seeds=("seed", "nunique"), failed=("failed", "sum"))
    values = stage1.drop_duplicates(keys).set_index(keys)[[*PARAMS, "optimizer"]]
    return agg.join(values).reset_index()


def stage2_view(runs: pd.DataFrame, curves: pd.DataFrame, info: dict[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(runs, curves) of stage 2 with cells '<objective> (<role>)'; a run in both roles appears twice.

    Before stage 2 is recorded (a search interrupted in stage 1): the stage-1 runs at the defaults, as '(defaults)'.
    """
    stage2 = info.get("stage2", {}).get("runs")
    if stage2 is None:
        roles = {rid: ["defaults"] for rid, r in info["stage1"].items() if r["setting"] == 0}
    else:
        roles = {rid: r["roles"] for rid, r in stage2.items()}
    pairs = pd.DataFrame([(rid, role) for rid, rs in roles.items() for role in rs], columns=["run_id", "role"])
    view = runs.drop(columns=["cell"]).merge(pairs, on="run_id", how="inner")
    view.insert(1, "cell", view["label"] + " (" + view["role"] + ")")
    cv = curves.drop(columns=["cell"]).merge(view[["run_id", "role", "cell"]], on="run_id", how="inner")
    order = {c: i for i, c in enumerate(f"{o} ({role})" for role in ROLES for o in dict.fromkeys(runs["label"]))}
    view = view.sort_values(["cell"], key=lambda s: s.map(order), kind="stable").reset_index(drop=True)
    return view, cv


def budget_table(settings: pd.DataFrame) -> pd.DataFrame:
    """dataset, cell, budget, expected_best, lo, hi: the expected best of m settings for m = 1..K, with a 95% bootstrap band."""
    rows = []
    for (dataset, obj), g in settings.groupby(["dataset", "objective"], sort=False):
        scores = g.sort_values("setting")["score"].to_numpy(float)
        scores = scores[~np.isnan(scores)]  # a failed setting stays in at +inf: it is never the best of a draw that has another
        if len(scores) == 0:
            continue
        curve = budget_curve(scores)
        lo, hi = budget_band(scores)
        rows += [{"dataset": dataset, "cell": obj, "budget": m + 1, "expected_best": curve[m], "lo": lo[m], "hi": hi[m]} for m in range(len(curve))]
    return pd.DataFrame(rows, columns=["dataset", "cell", "budget", "expected_best", "lo", "hi"])


def sensitivity_table(stage1: pd.DataFrame) -> pd.DataFrame:
    """Per data set and objective: settings tried, runs that failed (and of those, diverged), settings that beat the defaults, scores."""
    rows = []
    settings = setting_scores(stage1)
    for (dataset, obj), g in settings.groupby(["dataset", "objective"], sort=False):
        runs = stage1[(stage1["dataset"] == dataset) & (stage1["objective"] == obj)]
        default = g.loc[g["setting"] == 0, "score"]
        d = float(default.iloc[0]) if len(default) else math.nan
        best = g.sort_values(["score", "setting"]).iloc[0]
        rows.append({
            "dataset": dataset, "objective": obj, "settings": len(g), "runs": len(runs), "failed_runs": int(runs["failed"].sum()),
            "diverged_runs": int((runs["status"] == "diverged").sum()), "failure_rate": float(runs["failed"].mean()),
            "beat_defaults": int((g.loc[g["setting"] != 0, "score"] < d).sum()), "default_score": d,
            "best_score": float(best["score"]), "best_setting": int(best["setting"]), "median_score": float(g["score"].median()),
        })  # fmt: skip
    return pd.DataFrame(rows)


def ranking_table(view: pd.DataFrame, metric: str, info: dict[str, Any]) -> pd.DataFrame:
    """Per data set and objective, at the defaults and tuned: the mean of the metric over the stage-2 seeds that did not fail,
    the median with failures ranked worst, the rank by that median (1 = best: a mostly failing objective cannot rank
    first on the mean of its few survivors) and the failure rate. view: stage 2's runs, flagged by the failure rule."""
    lower = METRICS[metric].lower_is_better if metric in METRICS else True
    selected = info.get("stage2", {}).get("selected", {})
    rows = []
    for dataset, g in view.groupby("dataset", sort=False):
        sign = 1.0 if lower is not False else -1.0
        ok = g.assign(**{metric: g[metric].where(~g["failed"])})  # a failure has no value in a mean; its rate is beside it
        ok["_cost"] = (sign * ok[metric]).where(~g["failed"], math.inf)  # lower is better, a failure worst
        grouped = ok.groupby(["label", "role"], sort=False)
        means, fails = grouped[metric].mean().unstack("role"), grouped["failed"].mean().unstack("role")
        medians = grouped["_cost"].median().unstack("role")
        t = pd.DataFrame({"dataset": dataset, "objective": means.index})
        for role in ("defaults", "tuned"):
            col = means[role] if role in means else pd.Series(math.nan, index=means.index)
            med = medians[role] if role in medians else pd.Series(math.nan, index=means.index)
            t[f"{role}_mean"] = col.to_numpy(float)
            t[f"{role}_median"] = (sign * med).to_numpy(float)
            t[f"{role}_rank"] = med.rank(ascending=True, method="min").to_numpy()
            t[f"{role}_failure_rate"] = (fails[role] if role in fails else pd.Series(math.nan, index=means.index)).to_numpy(float)
        t["tuned_setting"] = [selected.get(dataset, {}).get(o, {}).get("setting") for o in t["objective"]]
        rows.append(t)
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()


def cost_table(stage1: pd.DataFrame, view: pd.DataFrame, budget: pd.DataFrame, metric: str, baseline: str) -> pd.DataFrame:
    """Run seconds per objective over the whole search, and the budget each needs to reach the baseline's median at its defaults.

    cpu_share: the median over the objective's runs of CPU seconds per wall second (one torch thread each); `shared`
    marks rows whose runs waited for a core (median below SHARED_BELOW): their seconds are not an idle machine's;
    runs_shared counts the runs below it. It cannot see contention for caches or memory bandwidth.
    """
    rows = []
    for (dataset, obj), g in stage1.groupby(["dataset", "objective"], sort=False):
        v = view[(view["dataset"] == dataset) & (view["label"] == obj)].drop_duplicates("run_id")
        s1 = float(g["wall_time_s"].sum())
        s2 = float(v.loc[~v["run_id"].isin(g["run_id"]), "run_seconds"].sum())  # an ensemble member's share of its wall time
        shares = pd.concat([g["cpu_share"], v["cpu_share"]]) if "cpu_share" in v else g["cpu_share"]
        shares = pd.to_numeric(shares, errors="coerce")
        share = float(shares.median())
        base = view[(view["dataset"] == dataset) & (view["cell"] == f"{baseline} (defaults)")][metric]
        target = float(base.median()) if len(base) else math.nan
        curve = budget[(budget["dataset"] == dataset) & (budget["cell"] == obj)].sort_values("budget")["expected_best"].to_numpy(float)
        m = budget_to_reach(curve, target) if math.isfinite(target) and len(curve) else None
        per_setting = float(g.groupby("setting")["wall_time_s"].sum().mean())  # a setting costs its R selection seeds
        rows.append({
            "dataset": dataset, "objective": obj, "stage1_s": s1, "stage2_s": s2, "total_s": s1 + s2, "target": target,
            "settings_to_target": m, "seconds_to_target": m * per_setting if m else math.nan, "cpu_share": share,
            "shared": bool(share < SHARED_BELOW) if math.isfinite(share) else None, "runs_shared": int((shares < SHARED_BELOW).sum()),
            "runs": int(shares.notna().sum()),
        })  # fmt: skip
    return pd.DataFrame(rows)


def plot_budget(budget: pd.DataFrame, metric: str, out: Path) -> Path | None:
    if budget.empty:
        return None
    datasets = list(dict.fromkeys(budget["dataset"]))
    colors = cell_colors(list(dict.fromkeys(budget["cell"])))
    fig, axes = plt.subplots(1, len(datasets), figsize=(5.5 * len(datasets), 4), squeeze=False)
    for ax, ds in zip(axes[0], datasets):
        d = budget[budget["dataset"] == ds]
        for cell, g in d.groupby("cell", sort=False):
            ax.plot(g["budget"], g["expected_best"], color=colors[cell], label=cell, marker="o", ms=3)
            ax.fill_between(g["budget"], g["lo"], g["hi"], color=colors[cell], alpha=0.15, lw=0)
        ax.set_xlabel("budget: settings tried (drawn without replacement)")
        ax.set_ylabel(f"expected best {METRICS[metric].display if metric in METRICS else metric}")
        if (d["lo"] > 0).all():
            ax.set_yscale("log")
        ax.set_title(f"{ds}: expected best score against tuning budget", fontsize=9)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7)
    fig.tight_layout()
    path = out / "budget.png"
    save_figure(fig, path)
    return path


def plot_sensitivity(stage1: pd.DataFrame, metric: str, out: Path) -> list[Path]:
    """Per data set: the stage-1 scores per objective (defaults marked), and the score against each hyperparameter."""
    paths = []
    colors = cell_colors(list(dict.fromkeys(stage1["objective"])))
    name = METRICS[metric].display if metric in METRICS else metric
    for ds, d in stage1.groupby("dataset", sort=False):
        params = [p for p in PARAMS if d[p].notna().any()]
        fig, axes = plt.subplots(1, 1 + len(params), figsize=(3.2 * (1 + len(params)), 3.4), squeeze=False)
        ax = axes[0][0]
        objs = list(dict.fromkeys(d["objective"]))
        rng = np.random.default_rng(0)
        for k, obj in enumerate(objs):
            g = d[d["objective"] == obj]
            ax.scatter(k + rng.uniform(-0.15, 0.15, len(g)), g["score"], s=14, color=colors[obj], alpha=0.8)
            d0 = g.loc[g["setting"] == 0, "score"]
            ax.scatter([k] * len(d0), d0, s=60, marker="*", color="k", zorder=3)
        ax.set_xticks(range(len(objs)))
        ax.set_xticklabels(objs, rotation=30, ha="right", fontsize=8)
        ax.set_ylabel(f"stage-1 {name}")
        ax.set_title("every stage-1 run (★ = defaults)", fontsize=9)
        for ax, p in zip(axes[0][1:], params):
            for obj in objs:
                g = d[(d["objective"] == obj) & d[p].notna()]
                ax.scatter(g[p], g["score"], s=12, color=colors[obj], alpha=0.8, label=obj)
            if p in LOG_PARAMS:
                ax.set_xscale("log")
            ax.set_xlabel("lr (both nets)" if p == "lr_d" else p)
            ax.set_title(f"{name} against {p}", fontsize=9)
        for ax in axes[0]:
            if (d["score"] > 0).all():
                ax.set_yscale("log")
            ax.grid(alpha=0.3, which="both")
        axes[0][-1].legend(fontsize=7)
        fig.suptitle(f"{ds}: sensitivity of stage-1 scores to the hyperparameters", fontsize=10)
        fig.tight_layout()
        slug = ds.replace(":", "_").replace("/", "_")
        path = out / f"sensitivity_{slug}.png"
        save_figure(fig, path)
        paths.append(path)
    return paths


def search_sections(runs: pd.DataFrame, curves: pd.DataFrame, view: pd.DataFrame, info: dict[str, Any], baseline: str, out: Path):
    """Write the search's CSVs and figures; returns (sections [(heading, table, note)], plots [(caption, path)])."""
    metric = info.get("metric", "w1")
    stage1 = stage1_frame(runs, curves, info)
    write_csv(stage1, out / "stage1.csv")
    budget = budget_table(setting_scores(stage1))
    write_csv(budget, out / "budget.csv")
    sens = sensitivity_table(stage1)
    write_csv(sens, out / "sensitivity.csv")
    ranking = ranking_table(view, metric, info)
    write_csv(ranking, out / "ranking.csv")
    cost = cost_table(stage1, view, budget, metric, baseline)
    write_csv(cost, out / "cost.csv")

    f = lambda v: metric_num(metric, v)  # noqa: E731
    k = int(stage1["setting"].max()) + 1 if len(stage1) else 0
    sections = []
    if not ranking.empty:
        t = ranking.copy()
        for role in ("defaults", "tuned"):
            t[f"{role} (rank)"] = [f"{f(m)} ({num(r)})" for m, r in zip(t[f"{role}_mean"], t[f"{role}_rank"])]
            t[f"{role} failed"] = [f"{v:.0%}" if math.isfinite(v) else "—" for v in t[f"{role}_failure_rate"]]
        t = t[["dataset", "objective", "defaults (rank)", "defaults failed", "tuned (rank)", "tuned failed", "tuned_setting"]]
        seeds = sorted(view["seed"].unique().tolist()) if len(view) else []
        span = f"{seeds[0]}..{seeds[-1]}" if seeds else "none"
        sections.append(("Ranking at the paper defaults and after tuning", t,
                         f"Mean final {metric} over stage 2's fresh seeds ({span}; stage 1 selected on others) of the runs that did "
                         "not fail; rank 1 = the best median, failures ranked worst; failed: the share of those seeds that failed; "
                         "tuned_setting: the stage-1 setting stage 2 retrained (0 = the defaults)."))
    if not budget.empty:
        last = budget.groupby(["dataset", "cell"], sort=False).tail(1)  # rows ascend in budget within each group
        first = budget[budget["budget"] == 1].set_index(["dataset", "cell"])["expected_best"]
        t = pd.DataFrame({
            "dataset": last["dataset"], "objective": last["cell"],
            "mean of all settings (m = 1)": [f(first[(d, c)]) for d, c in zip(last["dataset"], last["cell"])],
            f"best of all {k} (m = K)": [f(v) for v in last["expected_best"]],
        })  # fmt: skip
        cover = "; ".join(f"m={m} {c}" for m in (1, 2, 4, 8) if (c := measured(f"budget m={m}", 16)))
        note = ("budget.csv has every m with its nominal 95% bootstrap band; the figure is Lucic et al.'s Fig. 4. "
                + (f"Measured coverage of the band with K=16 (results/coverage, lowest-highest over the populations): {cover}." if cover else ""))
        sections.append(("Expected best score against the tuning budget", t, note))
    if not sens.empty:
        t = sens.copy()
        for c in ("default_score", "best_score", "median_score"):
            t[c] = [f(v) for v in t[c]]
        t["failure_rate"] = [f"{v:.0%}" for v in t["failure_rate"]]
        sections.append(("Sensitivity: how often a random setting works", t,
                         "failed_runs: stage-1 runs that failed by the one rule (diverged, unfinished or a non-finite final value; "
                         "diverged_runs: those whose loss turned non-finite), each scored +inf (ranked worst); "
                         "a setting's score is the mean over its selection seeds; beat_defaults: settings better than setting 0."))
    if not cost.empty:
        t = cost.copy()
        for c in ("stage1_s", "stage2_s", "total_s", "seconds_to_target"):
            t[c] = [num(v, ".0f") for v in t[c]]
        t["target"] = [f(v) for v in t["target"]]
        t["settings_to_target"] = [num(v) if v is not None and not (isinstance(v, float) and math.isnan(v)) else "not reached" for v in t["settings_to_target"]]
        t["cpu_share"] = [num(v, ".2f") for v in t["cpu_share"]]
        t["shared"] = ["—" if v is None else ("shared" if v else "idle") for v in t["shared"]]
        note = (
            "Run seconds (wall time of each run, one core each; a seed ensemble's wall time divided among its members); "
            f"target: the median {metric} of {baseline} at its defaults in stage 2; "
            "settings_to_target: the smallest budget whose expected best reaches it; seconds_to_target: that many mean stage-1 settings. "
            f"cpu_share: the runs' median CPU seconds per wall second; 'shared' rows (below {SHARED_BELOW}) waited for a core while other "
            "work ran, so their seconds overstate an idle machine's; runs_shared: how many of the row's runs fell below it (of runs)."
        )
        sections.append(("Cost", t, note))
    plots = []
    p = plot_budget(budget, metric, out)
    if p:
        plots.append(("Expected best score against the tuning budget (band: 95% bootstrap over the K settings)", p))
    plots += [("Sensitivity of stage-1 scores to the hyperparameters", p) for p in plot_sensitivity(stage1, metric, out)]
    return sections, plots


__all__ = [
    "budget_table", "cost_table", "is_search", "ranking_table", "search_sections", "sensitivity_table", "setting_scores", "stage1_frame",
    "stage2_view",
]  # fmt: skip
