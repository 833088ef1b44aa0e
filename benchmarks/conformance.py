"""Metric conformance ladder (issue 35): does each metric, in each feature space, worsen step by step as real images are degraded?

Real data on both sides (--dataset: Fashion-MNIST, or Stacked MNIST built from MNIST digits): the reference is the first
N test images, the "generated" side N training images (a seeded draw; on Stacked MNIST N stacks of training digits),
degraded at increasing strength (strength 0 is the draw itself):

  drop-classes   s classes removed (a seeded class order); the N images drawn from the rest. On Stacked MNIST s digit
                 classes are removed from every channel: (10 - s)^3 of the 1,000 modes remain
  collapse       k = round(N / 2^s) distinct images, each repeated (s halvings of the distinct count: mode collapse)
  blur           Gaussian blur of standard deviation s pixels (kernel 2 ceil(3s) + 1)
  noise          additive Gaussian noise of standard deviation s in the [-1, 1] scale, clipped, rounded to 8 bits
  swap-channels  RGB only: a share s of the images with red and blue swapped. On Stacked MNIST the channels are
                 independent draws of the same digits, so the swap leaves the distribution unchanged: a control rung,
                 which no metric is meant to see (`Source.unmoved`)

For each metric (FID, KID, precision, recall; metrics/image.py's conventions, through torch-fidelity) and
feature space (metrics/spaces.py), the score oriented so that worse is larger (FID, KID, 1 - precision,
1 - recall) is compared with the strength: `spearman_rho` is Spearman's rho over the rungs, `monotone` holds
when every rung is strictly worse than the one before (`first_break`: the first strength that is not). `designed_for` says
whether the metric is meant to see the degradation (Kynkaanniemi et al. 2019: precision is fidelity, so blur and noise; recall is coverage, so
dropped classes and collapse; FID and KID see all four); a metric that should not respond and does not is no failure.

Writes OUT/scores.csv (one row per degraded set and space, resumable: finished rows are kept when the settings
match), OUT/ladder.csv and OUT/summary.csv (per metric and space: how many degradations worsen it at every rung),
OUT/fid_kid.csv and OUT/agreement.csv (per space: do FID and KID order damage of different kinds alike?);
OUT is results/metric-conformance/DATASET unless --out says otherwise. An unknown data set or degradation, a strength out
of its range, or swap-channels on one-channel data is a one-line error, exit 2.

    python benchmarks/conformance.py [--dataset fashion-mnist] [--n 2000] [--seed 0] [--spaces pixels,random-cnn,classifier,digits]
                                     [--strengths blur=0,1,2,3] [--out DIR]
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
from wgan_core.report.tables import write_csv  # noqa: E402

METRICS = ("fid", "kid", "precision", "recall")
ORIENT = {"fid": 1.0, "kid": 1.0, "precision": -1.0, "recall": -1.0}  # worse is larger: fid, kid, 1 - precision, 1 - recall
OFFSET = {"fid": 0.0, "kid": 0.0, "precision": 1.0, "recall": 1.0}
SEED = 0  # the draw of the training images, the class order, the noise


@dataclass(frozen=True)
class Source:
    """The undamaged side of a data set: its training images, or for stacks its digits, and their class labels.

    pool uint8 (P, C, H, W) and labels int64 (P,). With `stacks`, pool holds digits (P, 1, H, W) and a drawn image is a Stacked
    MNIST stack (3, H, W) of three digits drawn independently (data/stacked_mnist.py's make_stacks), so removing a digit class
    removes it from every channel. `unmoved` names the degradations that leave the data's distribution unchanged (a metric
    should not respond: the rung is a control, not damage).
    """

    pool: torch.Tensor
    labels: torch.Tensor
    stacks: bool = False
    unmoved: tuple[str, ...] = ()

    @property
    def classes(self) -> int:
        return int(self.labels.max()) + 1

    @property
    def channels(self) -> int:
        return 3 if self.stacks else int(self.pool.shape[1])

    def draw(self, n: int, seed: int, keep: torch.Tensor | None = None) -> torch.Tensor:
        """n images uint8 (n, C, H, W) of the classes `keep` (None: all); for a pool, nested as classes go (a seeded permutation)."""
        if self.stacks:
            from wgan_core.data.stacked_mnist import make_stacks

            mask = torch.ones(len(self.labels), dtype=torch.bool) if keep is None else torch.isin(self.labels, keep)
            return make_stacks(self.pool[mask], self.labels[mask], n, seed)[0]
        order = torch.randperm(len(self.pool), generator=torch.Generator().manual_seed(seed))
        if keep is not None:
            order = order[torch.isin(self.labels[order], keep)]
        if len(order) < n:
            raise ConfigError(f"drop-classes: only {len(order)} images remain in the kept classes, fewer than n={n}")
        return self.pool[order[:n]]


def _fashion() -> Source:
    from wgan_core.data import load_images

    return Source(*load_images("fashion-mnist", "train"))  # uint8 (60000, 1, 28, 28), (60000,)


def _stacked() -> Source:
    from wgan_core.data.stacked_mnist import load_digits

    digits, labels, _ = load_digits("train")  # uint8 (P, 1, 28, 28), (P,): the digits the training stacks are made of
    return Source(digits, labels, stacks=True, unmoved=("swap-channels",))  # channels are i.i.d. draws: swapping two is no damage


SOURCES: dict[str, Callable[[], Source]] = {"fashion-mnist": _fashion, "stacked-mnist": _stacked}
LADDERS: dict[str, dict[str, tuple[float, ...]]] = {  # a data set's default rungs where they differ from the degradation's
    # digit classes removed from every channel: 1,000, 343, 64, 8, 1 modes. Blur and noise run further than on Fashion-MNIST, so
    # the last rungs reach the distance of the stacked-mnist study's generators (digit-feature FID about 450-625 at 500 iterations)
    "stacked-mnist": {"drop-classes": (0, 3, 6, 8, 9), "blur": (0, 0.5, 1, 2, 3, 5), "noise": (0, 0.1, 0.2, 0.4, 1, 2)},
}


@dataclass(frozen=True)
class Degradation:
    """A degradation of a source's draw: apply(source, n, strength, seed) -> uint8 (n, C, H, W)."""

    apply: Callable[[Source, int, float, int], torch.Tensor]
    low: float
    high: Callable[[int, int], float]  # the largest strength for n samples of a source with that many classes
    strengths: tuple[float, ...]  # the default ladder
    unit: str
    responds: tuple[str, ...]  # the metrics designed to see it
    channels: int = 0  # the channels it needs (0: any)


def drop_classes(src: Source, n: int, s: float, seed: int) -> torch.Tensor:
    order = torch.randperm(src.classes, generator=torch.Generator().manual_seed(seed + 1))
    return src.draw(n, seed, keep=order[int(s) :] if s else None)


def collapse(src: Source, n: int, s: float, seed: int) -> torch.Tensor:
    k = max(1, round(n / 2**s))
    base = src.draw(n, seed)
    return base[torch.arange(n) % k]  # image i is distinct image i mod k


def blur(src: Source, n: int, s: float, seed: int) -> torch.Tensor:
    from torchvision.transforms.functional import gaussian_blur

    base = src.draw(n, seed)
    if s == 0:
        return base
    size = 2 * math.ceil(3 * s) + 1
    return gaussian_blur(base.float(), [size, size], [s, s]).round().clamp(0, 255).to(torch.uint8)


def noise(src: Source, n: int, s: float, seed: int) -> torch.Tensor:
    base = src.draw(n, seed)
    if s == 0:
        return base
    z = torch.randn(base.shape, generator=torch.Generator().manual_seed(seed + 2))
    x = base.float() / 127.5 - 1 + s * z  # [-1, 1] scale
    return ((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)


def swap_channels(src: Source, n: int, s: float, seed: int) -> torch.Tensor:
    """A share s of the images (the first round(s n) of a seeded permutation, so nested as s grows) with red and blue swapped."""
    x = src.draw(n, seed).clone()  # (n, 3, H, W)
    pick = torch.randperm(n, generator=torch.Generator().manual_seed(seed + 3))[: round(s * n)]
    x[pick] = x[pick].flip(1)  # channels (R, G, B) -> (B, G, R)
    return x


DEGRADATIONS: dict[str, Degradation] = {
    "drop-classes": Degradation(drop_classes, 0, lambda n, k: k - 1, (0, 2, 4, 6, 8), "classes removed", ("fid", "kid", "recall")),
    "collapse": Degradation(collapse, 0, lambda n, k: math.log2(n), (0, 2, 4, 6, 8), "halvings of the distinct images", ("fid", "kid", "recall")),
    "blur": Degradation(blur, 0, lambda n, k: 5.0, (0, 0.5, 1, 1.5, 2), "Gaussian blur sigma, pixels", ("fid", "kid", "precision")),
    "noise": Degradation(noise, 0, lambda n, k: 2.0, (0, 0.05, 0.1, 0.2, 0.4), "noise sigma, [-1, 1] scale", ("fid", "kid", "precision")),
    "swap-channels": Degradation(swap_channels, 0, lambda n, k: 1.0, (0, 0.25, 0.5, 0.75, 1), "share of images with red and blue swapped",
                                 ("fid", "kid", "precision"), channels=3),
}  # fmt: skip


def check_strength(name: str, s: float, n: int, classes: int = 10) -> float:
    """s if it lies in the degradation's range for n samples of `classes` classes (drop-classes: a whole number); ConfigError otherwise."""
    if name not in DEGRADATIONS:
        raise ConfigError(f"degradation: unknown {name!r}; allowed: {', '.join(DEGRADATIONS)}")
    d = DEGRADATIONS[name]
    hi = d.high(n, classes)
    if not (math.isfinite(s) and d.low <= s <= hi) or (name == "drop-classes" and s != int(s)):
        whole = " (a whole number)" if name == "drop-classes" else ""
        raise ConfigError(f"strength: {name} takes strengths in [{d.low:g}, {hi:g}]{whole} ({d.unit}), got {s:g}")
    return s


def check_fits(name: str, src: Source, what: str = "these images") -> None:
    """ConfigError where the degradation needs another number of channels than the source's (swap-channels: RGB)."""
    d = DEGRADATIONS.get(name)
    if d is not None and d.channels and src.channels != d.channels:
        raise ConfigError(f"degradation: {name} needs RGB images ({d.channels} channels); {what} has {src.channels}")


def degrade(src: Source, name: str, s: float, n: int, seed: int = SEED) -> torch.Tensor:
    """n images of the source under degradation `name` at strength s (uint8 (n, C, H, W))."""
    check_fits(name, src)
    return DEGRADATIONS[name].apply(src, n, check_strength(name, s, n, src.classes), seed)


def ladder_of(src: Source, dataset: str) -> dict[str, tuple[float, ...]]:
    """The default rungs of every degradation the source can take."""
    fits = [k for k, d in DEGRADATIONS.items() if not d.channels or d.channels == src.channels]
    return {k: LADDERS.get(dataset, {}).get(k, DEGRADATIONS[k].strengths) for k in fits}


def parse_strengths(specs: list[str], n: int, defaults: dict[str, tuple[float, ...]], classes: int) -> dict[str, tuple[float, ...]]:
    """{degradation: strengths} from the defaults (a source's `ladder_of`) and `NAME=s0,s1,...` overrides (increasing, at least 2,
    all in range for n samples of `classes` classes)."""
    out = dict(defaults)
    for spec in specs:
        name, _, values = spec.partition("=")
        try:
            ss = tuple(float(v) for v in values.split(","))
        except ValueError:
            raise ConfigError(f"--strengths: expected NAME=s0,s1,... with numbers, got {spec!r}") from None
        if len(ss) < 2 or any(b <= a for a, b in zip(ss, ss[1:])):
            raise ConfigError(f"--strengths: {name} needs at least 2 increasing strengths, got {values!r}")
        out[name] = tuple(check_strength(name, s, n, classes) for s in ss)
    for name, ss in out.items():
        for s in ss:
            check_strength(name, s, n, classes)
    return out


# ---------------------------------------------------------------------------------------------
# Scores and the ladder
# ---------------------------------------------------------------------------------------------
KEY = ["dataset", "degradation", "strength", "feature_space", "extractor", "n_samples", "n_real", "seed"]


def score_sets(
    sets: list[tuple[str, float]],
    spaces: list[str],
    src: Source,
    real,
    real_name,
    n: int,
    path: Path,
    log,
    weights=None,
    seed: int = SEED,
    dataset: str = "fashion-mnist",
) -> pd.DataFrame:
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
        if "dataset" not in saved:
            saved.insert(0, "dataset", "fashion-mnist")  # written before the ladder took other data sets: the only one it had
    done = {tuple(r[k] for k in KEY): r for r in saved.to_dict("records")}
    rows, t0 = [], time.perf_counter()
    for space in spaces:
        ext = space_extractor(space, dataset, weights=weights if get_feature_space(space).needs else None)
        cache = real_name if ext.name_tells_weights else f"{real_name}-w{ext.tag}"
        for name, s in sets:
            key = (dataset, name, float(s), space, ext.name, n, len(real), seed)
            if key not in done:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # the KID subset-size note: kid_subset_size is in the row
                    m = fidelity(degrade(src, name, s, n, seed), real, ext, real_cache_name=cache, kid=True, prc=True)
                done[key] = {**dict(zip(KEY, key)), **{k: m[k] for k in METRICS}, "kid_subset_size": m["kid_subset_size"]}
                write_csv(pd.DataFrame(list(done.values())), path)
                log(f"[{time.perf_counter() - t0:5.0f} s] {space:<10} {name:<12} s={s:<5g} " + " ".join(f"{k}={m[k]:.4g}" for k in METRICS))
            rows.append(done[key])
    return pd.DataFrame(rows)


def ladder(scores: pd.DataFrame, strengths: dict[str, tuple[float, ...]], unmoved: tuple[str, ...] = ()) -> pd.DataFrame:
    """One row per metric, space and degradation: the strengths, the scores, Spearman's rho of oriented score on strength, monotone.

    `designed_for`: the metric is meant to see the degradation, and the degradation is not one of the data's `unmoved` (a control).
    """
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
                    dataset=str(part.dataset.iloc[0]), metric=metric, feature_space=space, degradation=name,
                    strengths=";".join(f"{s:g}" for s in ss),
                    values=";".join(f"{x:.4g}" for x in v), spearman_rho=round(float(rho), 6), monotone=bool(steps.all()),
                    first_break="" if steps.all() else f"{ss[int(np.argmin(steps)) + 1]:g}",
                    designed_for=metric in DEGRADATIONS[name].responds and name not in unmoved,
                    n_samples=int(part.n_samples.iloc[0]), n_real=int(part.n_real.iloc[0]), extractor=str(part.extractor.iloc[0]), seed=int(part.seed.iloc[0]),
                ))  # fmt: skip
    return pd.DataFrame(out)


def summary(lad: pd.DataFrame) -> pd.DataFrame:
    """Per metric and space: how many degradations worsen it at every rung, among all and among those it is designed for."""
    out = []
    for (metric, space), g in lad.groupby(["metric", "feature_space"], sort=False):
        d = g[g.designed_for]
        breaks = "; ".join(f"{r.degradation} at {r.first_break}" for r in g.itertuples() if not r.monotone)
        out.append(dict(dataset=g.dataset.iloc[0], metric=metric, feature_space=space, monotone=int(g.monotone.sum()), degradations=len(g),
                        designed_monotone=int(d.monotone.sum()), designed=len(d), min_spearman_rho=float(g.spearman_rho.min()),
                        first_breaks=breaks, n_samples=int(g.n_samples.iloc[0])))  # fmt: skip
    return pd.DataFrame(out)


def fid_kid(scores: pd.DataFrame, unmoved: tuple[str, ...] = ()) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Do FID and KID order damage of different kinds alike? Per space, over every damaged set (controls left out):

    per set (fid_kid.csv): its FID and KID and their ranks among the space's sets (1 = closest to the data), and
    per space (agreement.csv): Kendall's tau-b between FID and KID, the pairs of sets and how many of them the two order
    oppositely. Within one degradation both worsen together (the ladder); across kinds they may weigh damage differently.
    """
    sets, agree = [], []
    for space, g in scores[~scores.degradation.isin(unmoved)].groupby("feature_space", sort=False):
        undamaged = g[g.strength == 0].head(1).assign(degradation="none")  # strength 0 is the same draw under every degradation
        g = pd.concat([undamaged, g[g.strength != 0]])
        g = g.assign(fid_rank=g.fid.rank(method="min").astype(int), kid_rank=g.kid.rank(method="min").astype(int))
        sets.append(g[["dataset", "feature_space", "degradation", "strength", "fid", "kid", "fid_rank", "kid_rank"]])
        f, k = g.fid.to_numpy(), g.kid.to_numpy()
        i, j = np.triu_indices(len(g), 1)
        discordant = int((np.sign(f[i] - f[j]) * np.sign(k[i] - k[j]) < 0).sum())
        agree.append(dict(dataset=g.dataset.iloc[0], feature_space=space, sets=len(g), pairs=len(i), discordant=discordant,
                          kendall_tau=round(float(stats.kendalltau(f, k).statistic), 6), n_samples=int(g.n_samples.iloc[0])))  # fmt: skip
    return pd.concat(sets, ignore_index=True), pd.DataFrame(agree)


def replicates(ladders: list[pd.DataFrame]) -> pd.DataFrame:
    """Ladders of other draws (--seed) side by side: per metric, space and degradation, in how many draws it is monotone and where each breaks."""
    keys = ["dataset", "metric", "feature_space", "degradation"]
    both = pd.concat(ladders)
    out = []
    for (dataset, metric, space, name), g in both.groupby(keys, sort=False):
        g = g.sort_values("seed")
        out.append(dict(dataset=dataset, metric=metric, feature_space=space, degradation=name, designed_for=bool(g.designed_for.iloc[0]), draws=len(g),
                        monotone_draws=int(g.monotone.astype(bool).sum()), seeds=";".join(str(int(x)) for x in g.seed),
                        first_breaks=";".join("-" if pd.isna(b) or b == "" else f"{float(b):g}" for b in g.first_break),
                        rho_min=float(g.spearman_rho.min()), rho_max=float(g.spearman_rho.max()), n_samples=int(g.n_samples.iloc[0])))  # fmt: skip
    return pd.DataFrame(out)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", default="fashion-mnist", help=f"the real data damaged on purpose: {', '.join(SOURCES)} (default fashion-mnist)")
    p.add_argument("--n", type=int, default=2000, help="images per side (default 2,000)")
    p.add_argument("--seed", type=int, default=SEED, help="seed of the draw of training images, the class order and the noise (default 0)")
    p.add_argument("--spaces", default="pixels,random-cnn,classifier,digits", help="feature spaces, comma-separated (metrics/spaces.py)")
    p.add_argument(
        "--strengths",
        action="append",
        default=[],
        metavar="NAME=s0,s1,...",
        help="a degradation's ladder (default: 5 rungs each; swap-channels only on RGB data)",
    )
    p.add_argument("--feature-weights", metavar="PATH", help="the weights file of a space that needs one (inception: or WGAN_INCEPTION_WEIGHTS; vgg16)")
    p.add_argument("--out", help="the folder written (default results/metric-conformance/DATASET)")
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["replicates"]:  # replicates OUT DIR...: the ladders of DIR... (each a --out of another --seed) side by side
        if len(argv) < 3:
            print("error: replicates: expected OUT.csv and at least one ladder folder", file=sys.stderr)
            return 2
        write_csv(replicates([pd.read_csv(Path(d) / "ladder.csv") for d in argv[2:]]), Path(argv[1]))
        return 0
    args = p.parse_args(argv)
    try:
        return run(args)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


def run(args: argparse.Namespace) -> int:
    from wgan_core.metrics.image import reference
    from wgan_core.metrics.spaces import get_feature_space

    if args.dataset not in SOURCES:
        raise ConfigError(f"--dataset: unknown {args.dataset!r}; allowed: {', '.join(SOURCES)}")
    if not 10 <= args.n <= 10000:
        raise ConfigError(f"--n: must lie in [10, 10000] (the test split's size), got {args.n}")
    src = SOURCES[args.dataset]()
    for spec in args.strengths:
        check_fits(spec.partition("=")[0], src, args.dataset)
    strengths = parse_strengths(args.strengths, args.n, ladder_of(src, args.dataset), src.classes)
    spaces = [s.strip() for s in args.spaces.split(",") if s.strip()]
    for s in spaces:
        get_feature_space(s)
    log = lambda m: print(m, file=sys.stderr, flush=True)  # noqa: E731
    out = Path(args.out) if args.out else ROOT / "results" / "metric-conformance" / args.dataset
    out.mkdir(parents=True, exist_ok=True)
    real, _, real_name = reference(args.dataset, "test", 28, n_real=args.n)  # the first n test images (stacks)
    sets = list(dict.fromkeys((name, float(s)) for name, ss in strengths.items() for s in ss))
    log(f"{len(sets)} sets x {len(spaces)} spaces, {args.n} images a side; torch threads {torch.get_num_threads()}")
    scores = score_sets(sets, spaces, src, real, real_name, args.n, out / "scores.csv", log, args.feature_weights, args.seed, args.dataset)
    write_csv(scores, out / "scores.csv")  # the requested sets only, in ladder order
    lad = ladder(scores, strengths, src.unmoved)
    write_csv(lad, out / "ladder.csv")
    write_csv(summary(lad), out / "summary.csv")
    per_set, agree = fid_kid(scores, src.unmoved)
    write_csv(per_set, out / "fid_kid.csv")
    write_csv(agree, out / "agreement.csv")
    log(f"wrote {out / 'scores.csv'} and {out / 'ladder.csv'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
