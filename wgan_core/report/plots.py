"""Every figure of the report, each written as PNG beside the CSV of the numbers it draws.

Owns the figures: convergence curves (mean and an interval over seeds, labelled; the generator's
saturation among them), final values per run, the critic's gradient norm at interpolates
and the histogram of its final weights, toy samples over critic contours (from each
run's panel.npz, drawn by wgan_core.rundir.panel as the run's own samples.png is), image
sample grids (each run's samples.png) and the figures of the job kinds' run tables (sections.py).
Files only: matplotlib's Agg backend, no torch.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from ..fileio import atomic_savefig  # noqa: E402
from ..metrics.registry import METRICS, plotted, tested  # noqa: E402
from ..rundir.names import WEIGHTS_FILE  # noqa: E402
from ..rundir.panel import PANEL_FILE, draw_toy_panel, read_panel  # noqa: E402
from .sections import RUN_TABLES  # noqa: E402
from .stats import interval, interval_label  # noqa: E402
from .tables import metric_num, write_csv  # noqa: E402

TOY_SAMPLE_COLUMNS = ["dataset", "cell", "seed", "source", "x", "y"]


def cell_colors(cells_: list[str]) -> dict[str, Any]:
    """One colour per cell, in study order: the same cell has the same colour in every figure."""
    cmap = plt.get_cmap("tab10" if len(cells_) <= 10 else "tab20")
    return {c: cmap(i % cmap.N) for i, c in enumerate(cells_)}


def save_figure(fig, path: Path) -> None:
    atomic_savefig(fig, path, dpi=100, bbox_inches="tight")  # two studies' reports may be written at once
    plt.close(fig)


def band_data(curves: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Per data set, cell and evaluation step: mean, interval (range for n <= 5, else 95% BCa bootstrap; `interval` says) and n over seeds."""
    rows = []
    c = curves.dropna(subset=[metric])
    for (dataset, cell, step), g in c.groupby(["dataset", "cell", "step"], sort=False):
        vals = g[metric].to_numpy(float)
        lo, hi, kind = interval(vals)
        rows.append({
            "dataset": dataset, "cell": cell, "step": step, "wall_time_s": g["wall_time_s"].mean() if "wall_time_s" in g else math.nan,
            "mean": vals.mean(), "lo": lo if np.isfinite(lo) else vals.mean(), "hi": hi if np.isfinite(hi) else vals.mean(), "interval": kind,
            "n": len(vals),
        })  # fmt: skip
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
    name = METRICS[metric].display
    datasets = list(dict.fromkeys(data["dataset"]))
    fig, axes = plt.subplots(len(datasets), 2, figsize=(11, 3.6 * len(datasets)), squeeze=False)
    for i, ds in enumerate(datasets):
        d = data[data["dataset"] == ds]
        for j, x in enumerate(("step", "wall_time_s")):
            ax = axes[i, j]
            for cell in [c for c in colors if c in set(d["cell"])]:
                g = d[d["cell"] == cell]
                ax.plot(g[x], g["mean"], color=colors[cell], label=cell, lw=1.5)
                ax.fill_between(g[x], g["lo"], g["hi"], color=colors[cell], alpha=0.18, lw=0)
            ax.set_xlabel("generator iterations" if x == "step" else "wall-clock time (s)")
            ax.set_ylabel(name)
            if METRICS[metric].lower_is_better and (d["mean"] > 0).all():
                ax.set_yscale("log")
            ax.set_title(f"{ds}: {name}, mean over seeds; band: {interval_label(d['interval'])}", fontsize=9)
            ax.grid(alpha=0.3)
        axes[i, 1].legend(fontsize=7, loc="best")
    fig.tight_layout()
    path = out / f"convergence_{metric}.png"
    save_figure(fig, path)
    write_csv(data, path.with_suffix(".csv"))
    return path


def plot_final(runs: pd.DataFrame, metric: str, colors: dict, out: Path) -> Path | None:
    if metric not in runs:
        return None
    bad = runs[f"failed_{metric}"] if f"failed_{metric}" in runs else runs[metric].isna()
    ok = runs[~bad & runs[metric].notna()]  # a failed run has no value to draw: the title counts it
    if ok.empty:
        return None
    name = METRICS[metric].display
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
        ax.set_ylabel(name)
        n_bad = int(bad[runs["dataset"] == ds].sum())
        ax.set_title(f"{ds}: final {name} per run" + (f" ({n_bad} failed, not drawn)" if n_bad else ""), fontsize=9)
        ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    path = out / f"final_{metric}.png"
    save_figure(fig, path)
    write_csv(ok[["dataset", "cell", "seed", "run_id", metric]], path.with_suffix(".csv"))
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
            ax.fill_between(g["step"], g["lo"], g["hi"], color=colors[cell], alpha=0.18, lw=0)
        ax.axhline(1.0, color="k", lw=0.8, ls="--")
        if (d["lo"] > 0).all():
            ax.set_yscale("log")
        ax.set_xlabel("generator iterations")
        ax.set_ylabel("mean ||∇D(x̂)|| at interpolates")
        ax.set_title(f"{ds}: critic gradient norm at x̂ (1 = Lipschitz target)", fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    path = out / "grad_norm.png"
    save_figure(fig, path)
    write_csv(data, path.with_suffix(".csv"))
    return path


def _first_per_cell(d: pd.DataFrame, colors: dict) -> pd.DataFrame:
    """Each cell's finished run of the lowest seed, cells in colour (study) order."""
    first = d.sort_values("seed", kind="stable").drop_duplicates("cell")
    return first.set_index("cell").loc[[c for c in colors if c in set(first["cell"])]].reset_index()


def plot_toy_samples(root: Path, runs: pd.DataFrame, colors: dict, out: Path) -> list[Path]:
    """Samples over critic contours, one panel per cell (its first finished seed's panel.npz), one figure per data set."""
    paths = []
    toy = runs[(runs["kind"] == "toy") & (runs["status"] == "ok")]
    for ds, d in toy.groupby("dataset", sort=False):
        first = _first_per_cell(d, colors)
        n = len(first)
        ncol = min(n, 5)
        fig, axes = plt.subplots(math.ceil(n / ncol), ncol, figsize=(3.1 * ncol, 3.3 * math.ceil(n / ncol)), squeeze=False)
        rows = []
        for ax, (_, r) in zip(axes.flat, first.iterrows()):
            path = root / r["run_id"] / PANEL_FILE
            if not path.exists():
                ax.set_title(f"{r['cell']}: no {PANEL_FILE}", fontsize=8)
                ax.axis("off")
                continue
            panel = read_panel(path)
            modes = "modes_2500" if "modes_2500" in r and pd.notna(r["modes_2500"]) else "modes"
            extra = ", ".join(f"{k.replace('_2500', '')} {metric_num(k, r[k])}" for k in (modes, "w1") if k in r and pd.notna(r[k]))
            draw_toy_panel(ax, panel, f"{r['cell']} (seed {r['seed']})\n{extra}")
            for source, key in (("generated", "fake"), ("real", "real")):
                rows += [{"dataset": ds, "cell": r["cell"], "seed": r["seed"], "source": source, "x": float(x), "y": float(y)} for x, y in panel[key].tolist()]
        for ax in list(axes.flat)[n:]:
            ax.axis("off")
        fig.suptitle(f"{ds}: generated (green) and real (orange) samples over the critic's contours", fontsize=10)
        fig.tight_layout()
        path = out / f"toy_samples_{ds}.png"
        save_figure(fig, path)
        write_csv(pd.DataFrame(rows, columns=TOY_SAMPLE_COLUMNS), path.with_suffix(".csv"))
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
        save_figure(fig, path)
        listing = [{"dataset": ds, "cell": r["cell"], "seed": r["seed"], "samples_png": f"{r['run_id']}/samples.png"} for r in first]
        write_csv(pd.DataFrame(listing), path.with_suffix(".csv"))
        paths.append(path)
    return paths


def plot_weight_histograms(root: Path, runs: pd.DataFrame, colors: dict, out: Path) -> list[Path]:
    """Each cell's final critic weights (its first finished seed's critic_weights.csv), one figure per data set (WGAN-GP Fig. 1b)."""
    paths = []
    for ds, d in runs[runs["status"] == "ok"].groupby("dataset", sort=False):
        first = [r for _, r in _first_per_cell(d, colors).iterrows() if (root / r["run_id"] / WEIGHTS_FILE).exists()]
        if not first:
            continue
        ncol = min(len(first), 5)
        nrow = math.ceil(len(first) / ncol)
        fig, axes = plt.subplots(nrow, ncol, figsize=(3.1 * ncol, 2.6 * nrow), squeeze=False)
        rows = []
        for ax, r in zip(axes.flat, first):
            h = pd.read_csv(root / r["run_id"] / WEIGHTS_FILE)
            if h.empty:
                ax.axis("off")
                continue
            ax.bar(h["bin_left"], h["count"], width=h["bin_right"] - h["bin_left"], align="edge", color=colors[r["cell"]])
            at_max = r.get("critic_weights_at_max")
            share = f", {at_max:.1%} at ±max" if isinstance(at_max, float) and np.isfinite(at_max) else ""
            ax.set_title(f"{r['cell']} (seed {r['seed']}){share}", fontsize=8)
            ax.set_xlabel("critic weight", fontsize=7)
            ax.set_yscale("log")
            ax.tick_params(labelsize=7)
            rows += [{"dataset": ds, "cell": r["cell"], "seed": r["seed"], **row} for row in h.to_dict("records")]
        for ax in list(axes.flat)[len(first):]:
            ax.axis("off")
        fig.suptitle(f"{ds}: the critic's weights at the end of training (clipping piles them at ±c)", fontsize=10)
        fig.tight_layout()
        slug = ds.replace(":", "_").replace("/", "_")
        path = out / f"critic_weights_{slug}.png"
        save_figure(fig, path)
        write_csv(pd.DataFrame(rows), path.with_suffix(".csv"))
        paths.append(path)
    return paths


def plot_profiles(runs: pd.DataFrame, metric: str, colors: dict, out: Path) -> Path | None:
    """Performance profiles (Agarwal et al. 2021, Fig. 5; Dolan and Moré 2002): per data set, the share of each cell's runs
    better than tau, for tau over the observed values; a failed run is never better than any tau."""
    if metric not in runs or METRICS[metric].lower_is_better is None:
        return None
    lower = METRICS[metric].lower_is_better
    bad = runs[f"failed_{metric}"] if f"failed_{metric}" in runs else runs[metric].isna()
    datasets = list(dict.fromkeys(runs["dataset"]))
    rows = []
    fig, axes = plt.subplots(1, len(datasets), figsize=(5.5 * len(datasets), 3.8), squeeze=False)
    for ax, ds in zip(axes[0], datasets):
        d = runs[runs["dataset"] == ds]
        vals = pd.to_numeric(d[metric], errors="coerce")[~bad[d.index]].dropna().to_numpy(float)
        if len(vals) == 0:
            continue
        taus = np.unique(vals)
        for cell in [c for c in colors if c in set(d["cell"])]:
            g = d[d["cell"] == cell]
            v = pd.to_numeric(g[metric], errors="coerce").where(~bad[g.index]).to_numpy(float)  # NaN: failed
            share = [float(np.mean(np.nan_to_num(v, nan=np.inf) <= t)) if lower else float(np.mean(np.nan_to_num(v, nan=-np.inf) >= t)) for t in taus]
            ax.step(taus, share, where="post", color=colors[cell], label=cell, lw=1.3)
            rows += [{"dataset": ds, "cell": cell, "tau": t, "share": sh, "runs": len(g)} for t, sh in zip(taus, share)]
        ax.set_xlabel(f"{METRICS[metric].display} τ")
        ax.set_ylabel(f"share of runs with {METRICS[metric].display} {'≤' if lower else '≥'} τ")
        ax.set_title(f"{ds}: performance profile (failed runs never count)", fontsize=9)
        ax.grid(alpha=0.3)
    if not rows:
        plt.close(fig)
        return None
    axes[0, -1].legend(fontsize=7, loc="best")
    fig.tight_layout()
    path = out / f"profile_{metric}.png"
    save_figure(fig, path)
    write_csv(pd.DataFrame(rows), path.with_suffix(".csv"))
    return path


KEPT = ("critic_weights_", "toy_samples_", "image_samples_")  # drawn from run folders: kept when rebuilding without them


def kept_prefixes() -> tuple[str, ...]:
    """The figures (and their CSVs) drawn from run folders, by file name prefix: these and the registered run tables'."""
    return KEPT + tuple(t.kept for t in RUN_TABLES.values())


def all_plots(
    root: Path | None, runs: pd.DataFrame, curves: pd.DataFrame, tables: dict[str, pd.DataFrame], out: Path, families: Any = ()
) -> list[tuple[str, Path]]:
    """Every figure the study's data allows, as (caption, PNG path), in the order the report shows them.

    root None: the run folders are not at hand (a rebuild from the committed CSVs); the figures drawn from them
    are kept as they are in `out`, where they exist.
    """
    cmap = cell_colors(list(dict.fromkeys(runs["cell"])))
    plots: list[tuple[str, Path | None]] = []
    for m in plotted():
        if m in curves and curves[m].notna().any():
            plots.append((f"Convergence: {METRICS[m].display} against generator iterations and wall-clock time", plot_convergence(curves, m, cmap, out)))
    for m in tested():
        if m in runs and runs[m].notna().any():
            plots.append((f"Final {METRICS[m].display} per run (box: quartiles; dots: seeds)", plot_final(runs, m, cmap, out)))
    for m in dict.fromkeys(m for f in families for m in f.metrics):
        plots.append((f"Performance profile of {METRICS[m].display}: share of runs better than τ", plot_profiles(runs, m, cmap, out)))
    plots.append(("Critic gradient norm at interpolates x̂ over training", plot_grad_norm(curves, cmap, out)))
    if root is None:
        kept = [("Drawn from the runs' own files", p) for p in sorted(out.glob("*.png")) if p.name.startswith(kept_prefixes())]
        return [(caption, p) for caption, p in plots if p is not None] + kept
    plots += [("Histogram of the critic's final weights, beside the gradient norm at x̂ above", p) for p in plot_weight_histograms(root, runs, cmap, out)]
    plots += [("Samples over critic contours", p) for p in plot_toy_samples(root, runs, cmap, out)]
    plots += [("Sample grids", p) for p in plot_image_samples(root, runs, cmap, out)]
    plots += [(RUN_TABLES[name].caption, RUN_TABLES[name].plot(rows, cmap, out)) for name, rows in tables.items() if name in RUN_TABLES]
    return [(caption, p) for caption, p in plots if p is not None]


__all__ = [
    "all_plots", "band_data", "cell_colors", "kept_prefixes", "plot_convergence", "plot_final", "plot_grad_norm", "plot_image_samples", "plot_profiles",
    "plot_toy_samples", "save_figure",
]  # fmt: skip
