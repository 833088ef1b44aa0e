"""Metric conformance ladder (issue 35): does each metric, in each feature space, worsen step by step as real images are degraded?

Real Fashion-MNIST on both sides: the reference is the first N test images, the "generated" side N training
images (a seeded draw), degraded at increasing strength (strength 0 is the draw itself):

  drop-classes  s classes of 10 removed (a seeded class order); the N images drawn from the rest
  collapse      k = round(N / 2^s) distinct images, each repeated (s halvings of the distinct count: mode collapse)
  blur          Gaussian blur of standard deviation s pixels (kernel 2 ceil(3s) + 1)
  noise         additive Gaussian noise of standard deviation s in the [-1, 1] scale, clipped, rounded to 8 bits

For each metric (FID, KID, precision, recall; metrics/image.py's conventions, through torch-fidelity) and
feature space (metrics/spaces.py), the score oriented so that worse is larger (FID, KID, 1 - precision,
1 - recall) is compared with the strength: `spearman_rho` is Spearman's rho over the rungs, `monotone` holds
when every rung is strictly worse than the one before (`first_break`: the first strength that is not). `designed_for` says
whether the metric is meant to see the degradation (Kynkaanniemi et al. 2019: precision is fidelity, so blur and noise; recall is coverage, so
dropped classes and collapse; FID and KID see all four); a metric that should not respond and does not is no failure.

Writes OUT/scores.csv (one row per degraded set and space, resumable: finished rows are kept when the settings
match), OUT/ladder.csv and OUT/summary.csv (per metric and space: how many degradations worsen it at every rung).
A strength out of its degradation's range is a one-line error, exit 2.

    python benchmarks/conformance.py [--n 2000] [--seed 0] [--spaces pixels,random-cnn,classifier,digits] [--strengths blur=0,1,2,3] [--out DIR]
    python benchmarks/conformance.py replicates OUT.csv DIR DIR...     # the ladders of other draws (--seed) side by side

A study's rankings in every feature space: benchmarks/feature_rankings.py.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from scipy import stats

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from wgan_core.errors import ConfigError  # noqa: E402
from wgan_core.fileio import atomic_write_bytes  # noqa: E402

METRICS = ("fid", "kid", "precision", "recall")
ORIENT = {"fid": 1.0, "kid": 1.0, "precision": -1.0, "recall": -1.0}  # worse is larger: fid, kid, 1 - precision, 1 - recall
OFFSET = {"fid": 0.0, "kid": 0.0, "precision": 1.0, "recall": 1.0}
SEED = 0  # the draw of the training images, the class order, the noise


@dataclass(frozen=True)
class Degradation:
    """A degradation of uint8 images (N, C, H, W) with labels (N,): apply(pool, labels, n, strength, seed) -> (n, C, H, W) uint8."""

    apply: Callable[[torch.Tensor, torch.Tensor, int, float, int], torch.Tensor]
    low: float
    high: Callable[[int], float]  # the largest strength for n samples
    strengths: tuple[float, ...]  # the default ladder
    unit: str
    responds: tuple[str, ...]  # the metrics designed to see it


def _draw(pool: torch.Tensor, labels: torch.Tensor, n: int, seed: int, keep: torch.Tensor | None = None) -> torch.Tensor:
    """The first n images of a seeded permutation of the pool, among the classes `keep` (None: all): nested as classes go."""
    order = torch.randperm(len(pool), generator=torch.Generator().manual_seed(seed))
    if keep is not None:
        order = order[torch.isin(labels[order], keep)]
    if len(order) < n:
        raise ConfigError(f"drop-classes: only {len(order)} images remain in the kept classes, fewer than n={n}")
    return pool[order[:n]]


def drop_classes(pool: torch.Tensor, labels: torch.Tensor, n: int, s: float, seed: int) -> torch.Tensor:
    classes = int(labels.max()) + 1
    order = torch.randperm(classes, generator=torch.Generator().manual_seed(seed + 1))
    return _draw(pool, labels, n, seed, keep=order[int(s) :] if s else None)


def collapse(pool: torch.Tensor, labels: torch.Tensor, n: int, s: float, seed: int) -> torch.Tensor:
    k = max(1, round(n / 2**s))
    base = _draw(pool, labels, n, seed)
    return base[torch.arange(n) % k]  # image i is distinct image i mod k


def blur(pool: torch.Tensor, labels: torch.Tensor, n: int, s: float, seed: int) -> torch.Tensor:
    from torchvision.transforms.functional import gaussian_blur

    base = _draw(pool, labels, n, seed)
    if s == 0:
        return base
    size = 2 * math.ceil(3 * s) + 1
    return gaussian_blur(base.float(), [size, size], [s, s]).round().clamp(0, 255).to(torch.uint8)


def noise(pool: torch.Tensor, labels: torch.Tensor, n: int, s: float, seed: int) -> torch.Tensor:
    base = _draw(pool, labels, n, seed)
    if s == 0:
        return base
    z = torch.randn(base.shape, generator=torch.Generator().manual_seed(seed + 2))
    x = base.float() / 127.5 - 1 + s * z  # [-1, 1] scale
    return ((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)


DEGRADATIONS: dict[str, Degradation] = {
    "drop-classes": Degradation(drop_classes, 0, lambda n: 9, (0, 2, 4, 6, 8), "classes removed of 10", ("fid", "kid", "recall")),
    "collapse": Degradation(collapse, 0, lambda n: math.log2(n), (0, 2, 4, 6, 8), "halvings of the distinct images", ("fid", "kid", "recall")),
    "blur": Degradation(blur, 0, lambda n: 5.0, (0, 0.5, 1, 1.5, 2), "Gaussian blur sigma, pixels", ("fid", "kid", "precision")),
    "noise": Degradation(noise, 0, lambda n: 2.0, (0, 0.05, 0.1, 0.2, 0.4), "noise sigma, [-1, 1] scale", ("fid", "kid", "precision")),
}


def check_strength(name: str, s: float, n: int) -> float:
    """s if it lies in the degradation's range for n samples (drop-classes: a whole number); ConfigError otherwise."""
    if name not in DEGRADATIONS:
        raise ConfigError(f"degradation: unknown {name!r}; allowed: {', '.join(DEGRADATIONS)}")
    d = DEGRADATIONS[name]
    hi = d.high(n)
    if not (math.isfinite(s) and d.low <= s <= hi) or (name == "drop-classes" and s != int(s)):
        whole = " (a whole number)" if name == "drop-classes" else ""
        raise ConfigError(f"strength: {name} takes strengths in [{d.low:g}, {hi:g}]{whole} ({d.unit}), got {s:g}")
    return s


def degrade(pool: torch.Tensor, labels: torch.Tensor, name: str, s: float, n: int, seed: int = SEED) -> torch.Tensor:
    """n images of the pool under degradation `name` at strength s (uint8 (n, C, H, W))."""
    return DEGRADATIONS[name].apply(pool, labels, n, check_strength(name, s, n), seed)


def parse_strengths(specs: list[str], n: int) -> dict[str, tuple[float, ...]]:
    """{degradation: strengths} from the defaults and `NAME=s0,s1,...` overrides (increasing, at least 2, all in range)."""
    out = {k: d.strengths for k, d in DEGRADATIONS.items()}
    for spec in specs:
        name, _, values = spec.partition("=")
        try:
            ss = tuple(float(v) for v in values.split(","))
        except ValueError:
            raise ConfigError(f"--strengths: expected NAME=s0,s1,... with numbers, got {spec!r}") from None
        if len(ss) < 2 or any(b <= a for a, b in zip(ss, ss[1:])):
            raise ConfigError(f"--strengths: {name} needs at least 2 increasing strengths, got {values!r}")
        out[name] = tuple(check_strength(name, s, n) for s in ss)
    for name, ss in out.items():
        for s in ss:
            check_strength(name, s, n)
    return out


# ---------------------------------------------------------------------------------------------
# Scores and the ladder
# ---------------------------------------------------------------------------------------------
KEY = ["degradation", "strength", "feature_space", "extractor", "n_samples", "n_real", "seed"]


def score_sets(sets: list[tuple[str, float]], spaces: list[str], pool, labels, real, real_name, n: int, path: Path, log, weights=None,
               seed: int = SEED) -> pd.DataFrame:
    """FID, KID, precision, recall of every (degradation, strength) set in every space, saved to `path` after each.

    Rows already in `path` with the same set, space, network and sizes are kept, not recomputed (a stopped run resumes).
    """
    from wgan_core.metrics.image import fidelity
    from wgan_core.metrics.spaces import get_feature_space, space_extractor

    saved = pd.read_csv(path) if path.exists() else pd.DataFrame(columns=[*KEY, *METRICS, "kid_subset_size"])
    if len(saved):
        log(f"resuming: {len(saved)} rows in {path}")
        if "seed" not in saved:
            saved["seed"] = SEED  # written before the draw's seed was a column: the default's rows
    done = {tuple(r[k] for k in KEY): r for r in saved.to_dict("records")}
    rows, t0 = [], time.perf_counter()
    for space in spaces:
        ext = space_extractor(space, "fashion-mnist", weights=weights if get_feature_space(space).needs else None)
        cache = real_name if ext.name_tells_weights else f"{real_name}-w{ext.tag}"
        for name, s in sets:
            key = (name, float(s), space, ext.name, n, len(real), seed)
            if key not in done:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # the KID subset-size note: kid_subset_size is in the row
                    m = fidelity(degrade(pool, labels, name, s, n, seed), real, ext, real_cache_name=cache, kid=True, prc=True)
                done[key] = {**dict(zip(KEY, key)), **{k: m[k] for k in METRICS}, "kid_subset_size": m["kid_subset_size"]}
                _write_csv(pd.DataFrame(list(done.values())), path)
                log(f"[{time.perf_counter() - t0:5.0f} s] {space:<10} {name:<12} s={s:<5g} " + " ".join(f"{k}={m[k]:.4g}" for k in METRICS))
            rows.append(done[key])
    return pd.DataFrame(rows)


def ladder(scores: pd.DataFrame, strengths: dict[str, tuple[float, ...]]) -> pd.DataFrame:
    """One row per metric, space and degradation: the strengths, the scores, Spearman's rho of oriented score on strength, monotone."""
    out = []
    for metric in METRICS:
        for space in dict.fromkeys(scores.feature_space):
            for name, ss in strengths.items():
                part = scores[(scores.feature_space == space) & (scores.degradation == name)].set_index("strength")
                v = np.array([float(part.loc[float(s), metric]) for s in ss])
                worse = ORIENT[metric] * v + OFFSET[metric]
                rho = stats.spearmanr(ss, worse).statistic if np.ptp(worse) > 0 else math.nan
                steps = np.diff(worse) > 0
                out.append(dict(
                    metric=metric, feature_space=space, degradation=name, strengths=";".join(f"{s:g}" for s in ss),
                    values=";".join(f"{x:.4g}" for x in v), spearman_rho=round(float(rho), 6), monotone=bool(steps.all()),
                    first_break="" if steps.all() else f"{ss[int(np.argmin(steps)) + 1]:g}", designed_for=metric in DEGRADATIONS[name].responds,
                    n_samples=int(part.n_samples.iloc[0]), n_real=int(part.n_real.iloc[0]), extractor=str(part.extractor.iloc[0]), seed=int(part.seed.iloc[0]),
                ))  # fmt: skip
    return pd.DataFrame(out)


def summary(lad: pd.DataFrame) -> pd.DataFrame:
    """Per metric and space: how many degradations worsen it at every rung, among all and among those it is designed for."""
    out = []
    for (metric, space), g in lad.groupby(["metric", "feature_space"], sort=False):
        d = g[g.designed_for]
        breaks = "; ".join(f"{r.degradation} at {r.first_break}" for r in g.itertuples() if not r.monotone)
        out.append(dict(metric=metric, feature_space=space, monotone=int(g.monotone.sum()), degradations=len(g), designed_monotone=int(d.monotone.sum()),
                        designed=len(d), min_spearman_rho=float(g.spearman_rho.min()), first_breaks=breaks, n_samples=int(g.n_samples.iloc[0])))  # fmt: skip
    return pd.DataFrame(out)


def replicates(ladders: list[pd.DataFrame]) -> pd.DataFrame:
    """Ladders of other draws (--seed) side by side: per metric, space and degradation, in how many draws it is monotone and where each breaks."""
    keys = ["metric", "feature_space", "degradation"]
    both = pd.concat(ladders)
    out = []
    for (metric, space, name), g in both.groupby(keys, sort=False):
        g = g.sort_values("seed")
        out.append(dict(metric=metric, feature_space=space, degradation=name, designed_for=bool(g.designed_for.iloc[0]), draws=len(g),
                        monotone_draws=int(g.monotone.astype(bool).sum()), seeds=";".join(str(int(x)) for x in g.seed),
                        first_breaks=";".join("-" if pd.isna(b) or b == "" else f"{float(b):g}" for b in g.first_break),
                        rho_min=float(g.spearman_rho.min()), rho_max=float(g.spearman_rho.max()), n_samples=int(g.n_samples.iloc[0])))  # fmt: skip
    return pd.DataFrame(out)


def _write_csv(df: pd.DataFrame, path: Path) -> None:
    atomic_write_bytes(path, df.to_csv(index=False).encode())


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=2000, help="images per side (default 2,000)")
    p.add_argument("--seed", type=int, default=SEED, help="seed of the draw of training images, the class order and the noise (default 0)")
    p.add_argument("--spaces", default="pixels,random-cnn,classifier,digits", help="feature spaces, comma-separated (metrics/spaces.py)")
    p.add_argument("--strengths", action="append", default=[], metavar="NAME=s0,s1,...", help="a degradation's ladder (default: 5 rungs each)")
    p.add_argument("--feature-weights", metavar="PATH", help="the weights file of a space that needs one (inception: or WGAN_INCEPTION_WEIGHTS; vgg16)")
    p.add_argument("--out", default=str(ROOT / "results" / "metric-conformance"))
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["replicates"]:  # replicates OUT DIR...: the ladders of DIR... (each a --out of another --seed) side by side
        if len(argv) < 3:
            print("error: replicates: expected OUT.csv and at least one ladder folder", file=sys.stderr)
            return 2
        _write_csv(replicates([pd.read_csv(Path(d) / "ladder.csv") for d in argv[2:]]), Path(argv[1]))
        return 0
    args = p.parse_args(argv)
    try:
        return run(args)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


def run(args: argparse.Namespace) -> int:
    from wgan_core.data import load_images
    from wgan_core.metrics.image import reference
    from wgan_core.metrics.spaces import get_feature_space

    if not 10 <= args.n <= 10000:
        raise ConfigError(f"--n: must lie in [10, 10000] (the test split's size), got {args.n}")
    strengths = parse_strengths(args.strengths, args.n)
    spaces = [s.strip() for s in args.spaces.split(",") if s.strip()]
    for s in spaces:
        get_feature_space(s)
    log = lambda m: print(m, file=sys.stderr, flush=True)  # noqa: E731
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    pool, labels = load_images("fashion-mnist", "train")  # uint8 (60000, 1, 28, 28), (60000,)
    real, _, real_name = reference("fashion-mnist", "test", 28, n_real=args.n)
    sets = list(dict.fromkeys((name, float(s)) for name, ss in strengths.items() for s in ss))
    log(f"{len(sets)} sets x {len(spaces)} spaces, {args.n} images a side; torch threads {torch.get_num_threads()}")
    scores = score_sets(sets, spaces, pool, labels, real, real_name, args.n, out / "scores.csv", log, args.feature_weights, args.seed)
    _write_csv(scores, out / "scores.csv")  # the requested sets only, in ladder order
    lad = ladder(scores, strengths)
    _write_csv(lad, out / "ladder.csv")
    _write_csv(summary(lad), out / "summary.csv")
    log(f"wrote {out / 'scores.csv'} and {out / 'ladder.csv'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
