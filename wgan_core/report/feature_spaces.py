"""A study's objectives ranked in every feature space (issue 35): do its FID and KID rankings survive the choice of space?

Reads DIR/feature-spaces/scores.csv, one row per run and feature space, written by benchmarks/feature_rankings.py (each
run's final samples made again from its model.pt with its final-evaluation latents and scored in every space of
metrics/spaces.py). Without that file the report has no such section.

    seed ranks      per seed, the objectives ranked by the metric (1 = best); a run that did not finish `ok` or whose score is
                    not finite ranks worst on its seed, never dropped (failures tie among themselves)
    rank            an objective's rank of its mean seed rank, per space and metric
    Kendall τ       τ-b (scipy.stats.kendalltau) between two spaces' mean seed ranks, with a percentile bootstrap interval over
                    seeds (BOOT resamples; its coverage is not measured, so it is not called 95%); where the runs recorded mode
                    counts, every space is also compared with the ranking by modes (more is better), which uses no FID or KID
    flips           every pair of objectives ordered differently by two spaces, and on how many seeds the two agree
    pairs           every pair of objectives: the better one in each space, and whether that holds in every space

The report writes them as feature_ranks.csv, feature_kendall.csv, feature_flips.csv and feature_pairs.csv. Torch-free.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from .tables import write_csv

SCORES = Path("feature-spaces") / "scores.csv"
RANK_METRICS = ("fid", "kid")  # lower is better
MODES = "modes"  # the runs' own mode counts (final.json; more is better): a ranking without FID or KID
BOOT = 2000  # resamples of the seeds for the percentile bootstrap interval of Kendall's tau
INTERVAL = "percentile bootstrap over seeds, 2.5-97.5 (coverage not measured)"
FLIP_COLUMNS = ["metric", "space_a", "space_b", "objective_1", "objective_2", "better_in_a", "better_in_b", "mean_ranks_a", "mean_ranks_b",
                "seeds_same_order", "seeds"]  # fmt: skip


def seed_ranks(scores: pd.DataFrame, space: str, metric: str) -> tuple[list[str], np.ndarray]:
    """(objectives, ranks (seeds, objectives)): each seed's ranks of the objectives, 1 = best; a failed run (not ok, NaN) ranks worst."""
    part = scores[scores.feature_space == space]
    objectives = sorted(part.objective.unique())
    table = part.pivot_table(index="seed", columns="objective", values=metric, aggfunc="first", dropna=False).reindex(columns=objectives)
    failed = part.assign(bad=(part.status != "ok") | ~np.isfinite(part[metric].astype(float)))
    bad = failed.pivot_table(index="seed", columns="objective", values="bad", aggfunc="max").reindex(columns=objectives).fillna(True).astype(bool)
    v = table.to_numpy(dtype=float, copy=True)
    v[bad.to_numpy() | ~np.isfinite(v)] = np.inf  # missing or failed: worst, ties among them averaged
    return objectives, np.vstack([stats.rankdata(row) for row in v])


def _better(o1: str, o2: str, sign: float) -> str:
    return "tie" if sign == 0 else (o1 if sign < 0 else o2)


def rankings(scores: pd.DataFrame, spaces: list[str]) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(ranks, kendall, flips) of the objectives across spaces: mean seed ranks, Kendall tau of every pair of spaces, every flip."""
    rng = np.random.default_rng(0)
    ranks, kendall, flips = [], [], []
    for metric in RANK_METRICS:
        per = {s: seed_ranks(scores, s, metric) for s in spaces}
        if MODES in scores and scores[MODES].notna().any():  # the runs' mode counts: one ranking per run, read from the first space's rows
            first = scores[scores.feature_space == spaces[0]].assign(feature_space=MODES, fewer_modes=lambda d: -d[MODES].astype(float))
            per[MODES] = seed_ranks(first, MODES, "fewer_modes")
        objectives, n_seeds = per[spaces[0]][0], len(per[spaces[0]][1])
        for s in spaces:
            mean = per[s][1].mean(0)
            order = stats.rankdata(mean)
            part = scores[scores.feature_space == s]
            bad = (part.status != "ok") | ~np.isfinite(part[metric].astype(float))
            for k, o in enumerate(objectives):
                mine = part.objective == o
                ranks.append(dict(metric=metric, feature_space=s, objective=o, rank=float(order[k]), mean_seed_rank=float(mean[k]),
                                  median_value=float(part[mine][metric].astype(float).median()), failed_runs=int((mine & bad).sum()),
                                  seeds=n_seeds))  # fmt: skip
        idx = rng.integers(0, n_seeds, size=(BOOT, n_seeds))
        for a_i, a in enumerate(spaces):
            for b in [*spaces[a_i + 1 :], *([MODES] if MODES in per else [])]:
                ra, rb = per[a][1], per[b][1]
                tau = stats.kendalltau(ra.mean(0), rb.mean(0)).statistic
                boot = np.array([stats.kendalltau(ra[i].mean(0), rb[i].mean(0)).statistic for i in idx])
                lo, hi = np.nanpercentile(boot, [2.5, 97.5])
                tau, lo, hi = (round(float(x), 6) for x in (tau, lo, hi))
                kendall.append(dict(metric=metric, space_a=a, space_b=b, tau=tau, interval_lo=lo, interval_hi=hi, interval=INTERVAL,
                                    resamples=BOOT, seeds=n_seeds))  # fmt: skip
                ma, mb = ra.mean(0), rb.mean(0)
                for i, o in enumerate(objectives):
                    for j in range(i + 1, len(objectives)):
                        sa, sb = np.sign(ma[i] - ma[j]), np.sign(mb[i] - mb[j])
                        if sa != sb:
                            same = int((np.sign(ra[:, i] - ra[:, j]) == np.sign(rb[:, i] - rb[:, j])).sum())
                            flips.append(dict(metric=metric, space_a=a, space_b=b, objective_1=o, objective_2=objectives[j],
                                              better_in_a=_better(o, objectives[j], sa), better_in_b=_better(o, objectives[j], sb),
                                              mean_ranks_a=f"{ma[i]:.2f} vs {ma[j]:.2f}", mean_ranks_b=f"{mb[i]:.2f} vs {mb[j]:.2f}",
                                              seeds_same_order=same, seeds=n_seeds))  # fmt: skip
    return pd.DataFrame(ranks), pd.DataFrame(kendall), pd.DataFrame(flips, columns=FLIP_COLUMNS)


def pair_orders(ranks: pd.DataFrame) -> pd.DataFrame:
    """Every pair of objectives, per metric: the better one in each space and whether that holds in every space."""
    out = []
    for metric, g in ranks.groupby("metric", sort=False):
        table = g.pivot(index="objective", columns="feature_space", values="mean_seed_rank")
        table = table[list(dict.fromkeys(g.feature_space))]  # the spaces in the order they were scored
        objs = list(table.index)
        for i, o1 in enumerate(objs):
            for o2 in objs[i + 1 :]:
                better = {s: _better(o1, o2, np.sign(table.loc[o1, s] - table.loc[o2, s])) for s in table.columns}
                out.append(dict(metric=metric, objective_1=o1, objective_2=o2, **{f"better_{s}": b for s, b in better.items()},
                                holds_in_every_space=len(set(better.values())) == 1 and "tie" not in better.values()))  # fmt: skip
    return pd.DataFrame(out)


def _rank_table(ranks: pd.DataFrame, metric: str) -> pd.DataFrame:
    """objective × space: 'rank (mean seed rank)', best first by the first space."""
    g = ranks[ranks.metric == metric]
    spaces = list(dict.fromkeys(g.feature_space))
    cell = g.assign(shown=[f"{r:g} ({m:.2f})" + (f", {f} failed" if f else "") for r, m, f in zip(g["rank"], g.mean_seed_rank, g.failed_runs)])
    wide = cell.pivot(index="objective", columns="feature_space", values="shown")[spaces]
    order = g[g.feature_space == spaces[0]].sort_values(["mean_seed_rank", "objective"]).objective
    return wide.loc[list(order)].reset_index()


def stale_note(scores: pd.DataFrame, runs: pd.DataFrame) -> str:
    """'' when scores.csv holds every run of the study with the status it has now; else a warning naming the runs."""
    now = dict(zip(runs.run_id.astype(str), runs.status))
    scored = dict(zip(scores.run_id.astype(str), scores.status))
    stale = sorted({*(set(now) - set(scored)), *(r for r, st in scored.items() if r in now and now[r] != st)})
    if not stale:
        return ""
    return (f"WARNING: {SCORES} is older than {len(stale)} run(s) of this study (not scored, or scored before they finished: "
            f"{', '.join(stale[:5])}{' ...' if len(stale) > 5 else ''}); the rankings below leave them out or rank them failed. "
            "Run benchmarks/feature_rankings.py on the study again, then the report.")


def feature_space_sections(root: Path, out: Path, runs: pd.DataFrame) -> list[tuple[str, pd.DataFrame, str]]:
    """The report's sections on rankings across feature spaces (heading, table, note), and their CSVs in `out`; [] without scores.csv."""
    path = root / SCORES
    if not path.is_file():
        return []
    scores = pd.read_csv(path)
    stale = stale_note(scores, runs)
    spaces = list(dict.fromkeys(scores.feature_space))
    ranks, kendall, flips = rankings(scores, spaces)
    pairs = pair_orders(ranks)
    for name, df in (("ranks", ranks), ("kendall", kendall), ("flips", flips), ("pairs", pairs)):
        write_csv(df, out / f"feature_{name}.csv")
    n_seeds = int(ranks.seeds.max())
    sections = []
    for metric in RANK_METRICS:
        p = pairs[pairs.metric == metric]
        held = p[p.holds_in_every_space]
        note = (f"{stale + ' ' if stale else ''}{metric.upper()} of every run's final samples in each feature space ({', '.join(spaces)}; {SCORES} by "
                f"benchmarks/feature_rankings.py). Cell: the objective's rank by mean seed rank (in brackets) over {n_seeds} seeds, 1 = best; "
                f"a failed run ranks worst on its seed. {len(held)} of {len(p)} pairs of objectives keep their order in every space "
                f"(feature_pairs.csv); values of different spaces are not comparable, only their orders.")
        sections.append((f"Ranks per feature space: {metric.upper()}", _rank_table(ranks, metric), note))
    shown = kendall[["metric", "space_a", "space_b", "tau", "interval_lo", "interval_hi"]].round(3)  # full values in feature_kendall.csv
    n_flips = flips.groupby("metric").size().to_dict()
    modes = f"`{MODES}`: the ranking by the runs' mode counts (more is better), which uses no FID or KID. " if MODES in set(kendall.space_b) else ""
    sections.append(("Kendall τ between feature spaces", shown,
                     f"τ-b between two spaces' mean seed ranks; interval: {INTERVAL}, {BOOT:,} resamples of the {n_seeds} seeds. "
                     + modes + "Rank flips (pairs ordered differently by two spaces): "
                     + ", ".join(f"{m.upper()} {n_flips.get(m, 0)}" for m in RANK_METRICS) + (", each listed below." if n_flips else ".")))  # fmt: skip
    if not flips.empty:
        sections.append(("Rank flips between feature spaces", flips.drop(columns=["seeds"]),
                         f"Each pair of objectives whose order by mean seed rank differs between two spaces (`tie`: equal mean seed ranks); "
                         f"seeds_same_order: on how many of the {n_seeds} seeds the two spaces order the pair the same way."))
    return sections
