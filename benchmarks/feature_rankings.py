"""A study's objectives ranked by FID and KID in every feature space (issue 35): do its rankings survive the choice of metric?

Each run's final samples are regenerated from its model.pt with the run's own final latents and scored in
every space (metrics/spaces.py; in the run's own space the FID equals its final.json's). Per seed the
objectives are ranked (a failed run ranks worst, never dropped); an objective's rank is that of its mean
seed rank. Kendall's tau between every pair of spaces (and against the study's mode counts) comes with a
percentile bootstrap interval over seeds, whose coverage is not measured; every flipped pair is listed.

    python benchmarks/feature_rankings.py ~/wgan-runs/stacked-mnist [--spaces pixels,random-cnn,classifier] [--out DIR]

Writes OUT/scores.csv (resumable), ranks.csv, kendall.csv, flips.csv and pairs.csv. A directory without
study.json or an unknown space is a one-line error, exit 2.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from scipy import stats

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from wgan_core.errors import ConfigError  # noqa: E402
from wgan_core.fileio import atomic_write_bytes  # noqa: E402

RANK_METRICS = ("fid", "kid")  # lower is better
MODES = "modes"  # the study's own mode counts (more is better), compared with every space's ranking in kendall.csv and flips.csv
BOOT = 2000  # resamples of the seeds for the percentile bootstrap interval of Kendall's tau


def score_runs(study: Path, spaces: list[str], path: Path, log) -> pd.DataFrame:
    """FID and KID of every run of a study in every space, from the run's model.pt and its final-evaluation latents.

    The fakes are the ones the run scored at its end (metrics/image.py final_fakes: config.final_eval_samples latents seeded by
    config.seed), so the classifier space reproduces final.json. A run that is not `ok`, has no model, or whose fakes are not finite
    gets NaN (ranked worst, never dropped). Rows in `path` are kept (a stopped run resumes).
    """
    import json

    from wgan_core.config import RunConfig
    from wgan_core.metrics.generator_file import load_run_generator
    from wgan_core.metrics.image import fidelity, final_fakes, reference, reference_split
    from wgan_core.metrics.spaces import space_extractor

    info = json.loads((study / "study.json").read_text())
    saved = pd.read_csv(path) if path.exists() else pd.DataFrame()
    done = {(r["run_id"], r["feature_space"]): r for r in saved.to_dict("records")}
    rows, t0, refs = [], time.perf_counter(), {}
    for i, run_id in enumerate(info["runs"]):
        d = study / run_id
        final = json.loads((d / "final.json").read_text()) if (d / "final.json").is_file() else {"status": "missing"}
        config = RunConfig.from_dict(json.loads((d / "config.json").read_text()))
        fm = final.get("metrics", {})
        base = dict(run_id=run_id, objective=config.variant, seed=config.seed, status=final.get("status", "missing"), final_fid=fm.get("fid"),
                    final_extractor=fm.get("extractor"), modes=fm.get("modes"))  # fmt: skip
        fake = None
        for space in spaces:
            if (run_id, space) in done:
                rows.append({**done[(run_id, space)], **base})  # the run's own fields read afresh from its files
                continue
            if fake is None and base["status"] == "ok" and (d / "model.pt").is_file():
                g, _ = load_run_generator(d)
                with torch.no_grad():
                    fake = final_fakes(config, lambda z, g=g: g(z).float())  # final_fakes calls it on 1,000 latents at a time
            if config.dataset not in refs:
                refs[config.dataset] = reference(config.dataset, reference_split(config.dataset), 0)
            real, _, real_name = refs[config.dataset]
            ext = space_extractor(space, config.dataset)
            m = {"fid": math.nan, "kid": math.nan}
            if fake is not None:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    m = fidelity(fake, real, ext, real_cache_name=real_name if ext.name_tells_weights else f"{real_name}-w{ext.tag}", kid=True)
            row = {**base, "feature_space": space, "extractor": ext.name, "fid": m["fid"], "kid": m["kid"],
                   "n_fake": 0 if fake is None else len(fake), "n_real": len(real)}  # fmt: skip
            done[(run_id, space)] = row
            rows.append(row)
            _write_csv(pd.DataFrame(list(done.values())), path)
            log(f"[{time.perf_counter() - t0:5.0f} s] run {i + 1}/{len(info['runs'])} {run_id} {config.variant:<10} seed {config.seed} {space:<10} "
                f"fid={m['fid']:.4g} kid={m['kid']:.4g}")  # fmt: skip
    return pd.DataFrame(rows)


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


def rankings(scores: pd.DataFrame, spaces: list[str]) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(ranks, kendall, flips) of the objectives across spaces: mean seed ranks, Kendall tau of every pair of spaces, every flip."""
    rng = np.random.default_rng(0)
    ranks, kendall, flips = [], [], []
    for metric in RANK_METRICS:
        per = {s: seed_ranks(scores, s, metric) for s in spaces}
        if "modes" in scores and scores.modes.notna().any():  # the study's mode counts (final.json, the digit classifier): a ranking without FID
            first = scores[scores.feature_space == spaces[0]].assign(feature_space=MODES, fewer_modes=lambda d: -d.modes.astype(float))
            per[MODES] = seed_ranks(first, MODES, "fewer_modes")
        objectives = per[spaces[0]][0]
        n_seeds = len(per[spaces[0]][1])
        for s in spaces:
            mean = per[s][1].mean(0)
            order = stats.rankdata(mean)
            vals = scores[scores.feature_space == s].groupby("objective")[metric]
            for k, o in enumerate(objectives):
                ranks.append(dict(metric=metric, feature_space=s, objective=o, rank=float(order[k]), mean_seed_rank=float(mean[k]),
                                  median_value=float(vals.get_group(o).median()), failed_runs=int(((scores.feature_space == s) & (scores.objective == o)
                                  & ((scores.status != "ok") | ~np.isfinite(scores[metric].astype(float)))).sum()), seeds=n_seeds))  # fmt: skip
        idx = rng.integers(0, n_seeds, size=(BOOT, n_seeds))
        for a_i, a in enumerate(spaces):
            for b in [*spaces[a_i + 1 :], *([MODES] if MODES in per else [])]:
                ra, rb = per[a][1], per[b][1]
                tau = stats.kendalltau(ra.mean(0), rb.mean(0)).statistic
                boot = np.array([stats.kendalltau(ra[i].mean(0), rb[i].mean(0)).statistic for i in idx])
                lo, hi = np.nanpercentile(boot, [2.5, 97.5])
                tau, lo, hi = (round(float(x), 6) for x in (tau, lo, hi))
                kendall.append(dict(metric=metric, space_a=a, space_b=b, tau=tau, interval_lo=lo, interval_hi=hi,
                                    interval="percentile bootstrap over seeds, 2.5-97.5 (coverage not measured)", resamples=BOOT, seeds=n_seeds))  # fmt: skip
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


FLIP_COLUMNS = ["metric", "space_a", "space_b", "objective_1", "objective_2", "better_in_a", "better_in_b", "mean_ranks_a", "mean_ranks_b",
                "seeds_same_order", "seeds"]  # fmt: skip


def _better(o1: str, o2: str, sign: float) -> str:
    return "tie" if sign == 0 else (o1 if sign < 0 else o2)


def pair_orders(ranks: pd.DataFrame) -> pd.DataFrame:
    """Every pair of objectives, per metric: the better one in each space and whether that holds in every space."""
    out = []
    for metric, g in ranks.groupby("metric", sort=False):
        table = g.pivot(index="objective", columns="feature_space", values="mean_seed_rank")
        objs = list(table.index)
        for i, o1 in enumerate(objs):
            for o2 in objs[i + 1 :]:
                better = {s: _better(o1, o2, np.sign(table.loc[o1, s] - table.loc[o2, s])) for s in table.columns}
                out.append(dict(metric=metric, objective_1=o1, objective_2=o2, **{f"better_{s}": b for s, b in better.items()},
                                holds_in_every_space=len(set(better.values())) == 1 and "tie" not in better.values()))  # fmt: skip
    return pd.DataFrame(out)


def run_rankings(args: argparse.Namespace) -> int:
    from wgan_core.metrics.spaces import get_feature_space

    study = Path(args.study).expanduser()
    if not (study / "study.json").is_file():
        raise ConfigError(f"rankings: {study} holds no study.json (a study directory of `python -m wgan_core study`)")
    spaces = [s.strip() for s in args.spaces.split(",") if s.strip()]
    for s in spaces:
        get_feature_space(s)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    log = lambda m: print(m, file=sys.stderr, flush=True)  # noqa: E731
    scores = score_runs(study, spaces, out / "scores.csv", log)
    same = scores.extractor == scores.get("final_extractor")  # the network the run scored itself with: the FID must be final.json's
    scores["fid_minus_final"] = np.where(same, scores.fid - scores.final_fid.astype(float), np.nan)
    ranks, kendall, flips = rankings(scores, spaces)
    for name, df in (("scores", scores), ("ranks", ranks), ("kendall", kendall), ("flips", flips), ("pairs", pair_orders(ranks))):
        _write_csv(df, out / f"{name}.csv")
    log(f"wrote {out}/scores.csv, ranks.csv, kendall.csv, flips.csv, pairs.csv")
    return 0

def _write_csv(df: pd.DataFrame, path: Path) -> None:
    atomic_write_bytes(path, df.to_csv(index=False).encode())


def main(argv: list[str] | None = None) -> int:
    r = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    r.add_argument("study", help="a study directory (study.json and its run folders)")
    r.add_argument("--spaces", default="pixels,random-cnn,classifier", help="feature spaces, comma-separated")
    r.add_argument("--out", default=str(ROOT / "results" / "stacked-mnist" / "feature-spaces"))
    try:
        return run_rankings(r.parse_args(argv))
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
