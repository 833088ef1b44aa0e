"""Study presets: Python functions that expand (seeds, device) into a study's jobs, with their budgets.

Owns the presets (`PRESETS`: toy, fashion, paper, lambda, ncritic, factorial, depth),
the budgets they share (TOY_BUDGET, FASHION_BUDGET, PAPER_BUDGET) and why each is sized
as it is, `describe_presets`, `default_preset` and `inception_weights_present`. A job is
a RunConfig (a GAN run) or a DepthConfig (the depth experiment); no grid files.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

from ..config import ConfigError, RunConfig
from ..kinds.depth import DepthConfig
from ..report.families import Family
from .space import PARAM_NAMES, setting

Job = RunConfig | DepthConfig

MIXTURES = ("8gaussians", "25gaussians")  # the toy studies' data: the WGAN-GP toy code's two Gaussian mixtures
# The five objectives the suite was built around. Presets name them explicitly, so that variants
# registered later (hinge-sn, r3gan, ...) do not change these presets' runs or their run ids.
FIVE = ("gan", "nsgan", "wgan-clip", "wgan-gp", "wgan-lp")

# The toy budget, shared by every toy preset (toy, lambda, ncritic, factorial, zoo, search-toy), so that a run
# with the same config is the same run (same run id) in all of them:
#  * width 128 instead of the WGAN-GP toy code's 512: one generator iteration costs ~4x less (wgan-gp on this
#    2-core CPU: ~16 ms at width 128), still ample for 2-D mixtures of 8 and 25 Gaussians;
#  * 3,000 generator iterations (the reference code runs 100,000): an early-training comparison at a matched
#    budget, not converged runs;
#  * eval_samples 2,000: the exact W1 on 2,000 vs 2,000 samples. For one fixed trained model its spread over
#    evaluation draws is about half that of W1 on 1,000 vs 1,000 on 25gaussians, and no smaller on 8gaussians
#    (results/search-toy/README.md has the measurement, benchmarks/selection_noise.py the command);
#    it costs 0.6 s (a spread-out generator) to 4 s (a collapsed one) per evaluation, so evaluations come
#    every 1,000 iterations. The mode counts with the published definition (2,500 samples; VEEGAN, PacGAN) are
#    computed by each run from its final generator when it finishes, the "(2,500)" columns.
TOY_BUDGET = dict(steps=3000, width=128, eval_every=1000, checkpoint_every=500, eval_samples=2000)


def _seeds(n: int) -> range:
    return range(n)


def preset_toy(seeds: int, device: str) -> list[Job]:
    """8gaussians and 25gaussians x the five variants x seeds, at the CPU budget TOY_BUDGET (each run's time: results/toy/report/runs.csv, wall_time_s)."""
    return [
        RunConfig.preset(v, ds, seed=s, device=device, **TOY_BUDGET)
        for s in _seeds(seeds)
        for ds in MIXTURES
        for v in FIVE
    ]


# Fashion-MNIST on 2 CPU cores: DCGAN width 64 costs 180-820 ms per generator iteration; width 32
# (measured, one thread): 60 ms nsgan, 186 ms wgan-clip, 319 ms wgan-gp, so one matched set of the
# five variants costs ~0.95 s per iteration: 3,000 iterations x 3 seeds ~2.4 CPU-hours (~1.2 h with
# process:2 on free cores), plus ~5 s per evaluation (2,000 fakes, classifier features). Minutes on a GPU.
# Measured with process:2: 13 of the 15 runs (and the rest of 2 resumed ones) in 1 h 19 min (results/fashion/).
FASHION_BUDGET = dict(steps=3000, width=32, eval_every=500, checkpoint_every=250, eval_samples=2000, extractor="classifier")


def preset_fashion(seeds: int, device: str) -> list[Job]:
    """Fashion-MNIST 28x28, the five variants x seeds, CPU-sized DCGAN (width 32, 3,000 iterations), classifier FID/KID."""
    return [RunConfig.preset(v, "fashion-mnist", seed=s, device=device, **FASHION_BUDGET) for s in _seeds(seeds) for v in FIVE]


INCEPTION_WEIGHTS = "weights-inception-2015-12-05-6726825d.pth"  # torch-fidelity's Inception (FID) weights file


def inception_weights_present() -> bool:
    """Whether the Inception (FID) weights can be had without a download: $WGAN_INCEPTION_WEIGHTS or torch-fidelity's cache."""
    try:
        from ..metrics.inception import resolve_weights
    except ImportError:  # image metrics not installed: look in torch-fidelity's cache only
        import torch.hub

        return (Path(torch.hub.get_dir()) / "checkpoints" / INCEPTION_WEIGHTS).exists()
    try:
        resolve_weights(download=False)
        return True
    except ConfigError:
        return False


# WGAN-GP's MNIST model (gan_mnist.py): DIM 64; batch 64 here for every variant; 200,000
# generator iterations as in the WGAN-GP code (gan_mnist.py, gan_cifar.py: ITERS = 200000).
PAPER_BUDGET = dict(steps=200_000, width=64, batch_size=64, eval_every=5000, checkpoint_every=2000, eval_samples=2000)


def preset_paper(seeds: int, device: str) -> list[Job]:
    """The GPU study: Fashion-MNIST, the papers' width 64, batch 64, 200k iterations, 5 seeds; Inception FID when its weights are cached.

    The extractor is decided when the study is created (Inception if its weights are
    in the torch hub cache, else the offline classifier) and recorded in every config.
    """
    extractor = "inception" if inception_weights_present() else "classifier"
    return [
        RunConfig.preset(v, "fashion-mnist", seed=s, device=device, extractor=extractor, **PAPER_BUDGET)
        for s in _seeds(seeds)
        for v in FIVE
    ]


LAMBDAS = (0.1, 1.0, 10.0, 100.0)


def preset_lambda(seeds: int, device: str) -> list[Job]:
    """Penalty weight lambda in {0.1, 1, 10, 100} for wgan-gp and wgan-lp on the toy data, at the toy budget."""
    return [
        RunConfig.preset(v, ds, seed=s, device=device, penalty_weight=lam, **TOY_BUDGET)
        for s in _seeds(seeds)
        for ds in MIXTURES
        for v in ("wgan-gp", "wgan-lp")
        for lam in LAMBDAS
    ]


N_CRITICS = (1, 2, 5)


def preset_ncritic(seeds: int, device: str) -> list[Job]:
    """n_critic in {1, 2, 5} for every variant on the toy data, at the toy budget (other settings: the variant's own)."""
    return [
        RunConfig.preset(v, ds, seed=s, device=device, n_critic=k, **TOY_BUDGET)
        for s in _seeds(seeds)
        for ds in MIXTURES
        for v in FIVE
        for k in N_CRITICS
    ]


FACTORIAL_LOSSES = ("minimax", "nonsaturating", "wasserstein")
FACTORIAL_CONSTRAINTS = ("none", "clip", "gp", "lp")


def preset_factorial(seeds: int, device: str) -> list[Job]:
    """loss {minimax, nonsaturating, wasserstein} x constraint {none, clip, gp, lp}: 12 cells on the toy data.

    Only the two factors change between cells: every cell uses wgan-gp's toy optimiser
    settings (Adam 1e-4, betas (0.5, 0.9), n_critic 5, lambda 0.1) and c = 0.01, so a
    difference between cells is the loss's or the constraint's, not the optimiser's.
    """
    return [
        RunConfig.preset("wgan-gp", ds, seed=s, device=device, loss=loss, constraint=con, **TOY_BUDGET)
        for s in _seeds(seeds)
        for ds in MIXTURES
        for loss in FACTORIAL_LOSSES
        for con in FACTORIAL_CONSTRAINTS
    ]


# The zoo: the five and the objectives the field compares them with, each at its sourced defaults.
NAMED = ("hinge-sn", "lsgan", "nsgan-r1", "dragan", "r3gan")
ZOO = FIVE + NAMED
# Fashion-MNIST for 10 objectives on 2 CPU cores: width 32 as in the fashion preset but 2,000
# generator iterations (not 3,000), so the 30 runs cost about 2.6 core-hours; 600 iterations gave
# blurred shapes. Early training, not converged models; the toy
# data use the toy budget.
ZOO_FASHION_BUDGET = dict(steps=2000, width=32, eval_every=500, checkpoint_every=500, eval_samples=2000, extractor="classifier")


def preset_zoo(seeds: int, device: str) -> list[Job]:
    """8gaussians, 25gaussians and Fashion-MNIST x the five and hinge-sn, lsgan, nsgan-r1, dragan, r3gan x seeds (toy budget; 2,000 iterations on images)."""
    return [
        RunConfig.preset(v, ds, seed=s, device=device, **(TOY_BUDGET if ds in MIXTURES else ZOO_FASHION_BUDGET))
        for s in _seeds(seeds)
        for ds in (*MIXTURES, "fashion-mnist")
        for v in ZOO
    ]


# Stacked MNIST (1000 modes) on 2 CPU cores: DCGAN width 16, 500 generator iterations of batch 64 (a quarter of an
# epoch of the 128k stacks; VEEGAN's setting trains 50 epochs), 10 seeds so that the headline family (4 objectives x
# modes and reverse KL = 8 tests) can reach p = 8 x 2/2^10 = 0.016 after Holm (8 seeds: 8 x 2/256 = 0.0625, never).
# Early training, said in every report; stacked-paper is the papers' setting.
STACKED_BUDGET = dict(steps=500, width=16, eval_every=250, checkpoint_every=250, eval_samples=2000, extractor="classifier")
# VEEGAN's setting (PacGAN Table 2): DCGAN, batch 64, z 100, 50 epochs of 128,000 stacks = 100,000 iterations;
# width 64 (DCGAN's); every objective at its own sourced image defaults otherwise (gan/nsgan: Adam 2e-4, beta1 0.5, theirs).
STACKED_PAPER_BUDGET = dict(steps=100_000, width=64, z_dim=100, batch_size=64, eval_every=5000, checkpoint_every=2000, eval_samples=2000)


def preset_stacked(seeds: int, device: str) -> list[Job]:
    """Stacked MNIST (1000 modes), the five x seeds, CPU-sized DCGAN (width 16, 500 iterations): mode counts, FID on digit features."""
    return [RunConfig.preset(v, "stacked-mnist", seed=s, device=device, **STACKED_BUDGET) for s in _seeds(seeds) for v in FIVE]


def preset_stacked_paper(seeds: int, device: str) -> list[Job]:
    """Stacked MNIST at VEEGAN's setting (DCGAN width 64, z 100, batch 64, 100k iterations = 50 epochs), the five x seeds: for a GPU."""
    return [RunConfig.preset(v, "stacked-mnist", seed=s, device=device, **STACKED_PAPER_BUDGET) for s in _seeds(seeds) for v in FIVE]


# PacGAN's 2-D setting (Lin et al. 2018, Table 1; fjxmlzn/PacGAN config.py): batch 100, 400 epochs of a 100,000-point
# set = 400,000 iterations of one D and one G update, Adam 1e-4 beta1 0.8 (beta2: Blocks' default 0.999), 2,500 samples
# scored. Their "GAN" is the non-saturating loss: nsgan and gan take that optimiser; the other objectives their toy defaults.
PACGAN_BUDGET = dict(steps=400_000, eval_every=20_000, checkpoint_every=10_000, eval_samples=2500)
PACGAN_ADAM = dict(optimizer="adam", lr_g=1e-4, lr_d=1e-4, beta1=0.8, beta2=0.999, n_critic=1)


def preset_pacgan_2d(seeds: int, device: str) -> list[Job]:
    """PacGAN's 2D-grid and 2D-ring at their setting (maxout critic, BN generator, 400k iterations), the five x seeds."""
    return [
        RunConfig.preset(v, ds, seed=s, device=device, **PACGAN_BUDGET, **(PACGAN_ADAM if v in ("gan", "nsgan") else {}))
        for s in _seeds(seeds)
        for ds in ("2d-grid", "2d-ring")
        for v in FIVE
    ]


CLIP_VALUES = (0.1, 0.01, 0.001)


def preset_depth(seeds: int, device: str) -> list[Job]:
    """WGAN-GP Fig. 1b: a 12-layer ReLU critic on swissroll, generator fixed to real data + N(0, 1); clipping c in {0.1, 0.01, 0.001} vs GP."""
    jobs: list[Job] = []
    for s in _seeds(seeds):
        jobs += [DepthConfig(constraint="clip", clip_value=c, seed=s, device=device) for c in CLIP_VALUES]
        jobs.append(DepthConfig(constraint="gp", seed=s, device=device))
    return jobs


# ----------------------------------------------------------------------------------------------
# Search presets (Lucic et al. 2018's protocol; wgan_core/study/run.py runs the two stages).
# ----------------------------------------------------------------------------------------------
class SearchPlan(NamedTuple):
    datasets: tuple[str, ...]
    variants: tuple[str, ...]  # the objectives, each at its own sourced defaults as setting 0
    budget: dict[str, Any]  # config fields common to every run of the search
    metric: str  # stage 2 retrains the setting with the lowest final value of this metric
    settings: int  # K: settings per objective in stage 1 (default of --settings)
    core_s_per_cost: float  # CPU core-seconds per job_cost unit, measured on this machine (for --dry-run)


# Sized for this 2-core CPU: 16 settings x 5 objectives x 2 data sets = 160 stage-1 runs (selection seed 1000) at
# the toy budget, then the best and the default setting of each objective on 10 fresh seeds (at most 200 runs more,
# fewer where they coincide). 10 matched pairs let the exact signed-rank test reach p = 2/2^10 ~ 0.002, enough to
# survive a Holm correction over the declared family of 8 (4 objectives x 2 data sets: 8 x 0.002 = 0.016) at 0.05.
# Cost calibration: core-seconds per job_cost unit, from the toy preset's 30 runs at the earlier 1,000-iteration
# budget (246,000 units, 379 s on 2 cores): an estimate for --dry-run only.
SEARCH_TOY = SearchPlan(MIXTURES, FIVE, TOY_BUDGET, "w1", 16, 379 * 2 / 246_000)
# Sized for a GPU, not run here: Fashion-MNIST with the papers' width 64 and 10,000 iterations,
# 30 settings, then 10 seeds. Calibration from the CPU fashion study (15 runs, 339,000 units, ~1 h 48 min
# on 2 cores, width 32): a CPU figure, so the estimate is an upper bound for a GPU, which we have not measured.
SEARCH_FASHION_BUDGET = dict(steps=10_000, width=64, batch_size=64, eval_every=1000, checkpoint_every=1000, eval_samples=2000)
SEARCH_FASHION = SearchPlan(("fashion-mnist",), FIVE, SEARCH_FASHION_BUDGET, "fid", 30, 6480 * 2 / 339_000)


# Stage 1 trains its settings on seeds of their own, SELECTION_SEED0, SELECTION_SEED0 + 1, ...: stage 2 reports on
# seeds 0..N-1, which no stage-1 run used, so the tuned score of every objective comes from fresh seeds only.
SELECTION_SEED0 = 1000


def selection_seeds(r: int) -> range:
    """The seeds stage 1 trains every setting on (and selects on the mean over): disjoint from stage 2's 0..N-1."""
    return range(SELECTION_SEED0, SELECTION_SEED0 + r)


def search_stage1(plan: SearchPlan, settings: int, device: str, params: tuple[str, ...] = (), r: int = 1) -> list[tuple[Job, int]]:
    """Stage 1 of a search: (config, setting index) for settings 0..K-1 of every objective on the r selection seeds; setting-major.

    params: the hyperparameters to vary (default: all of study.space.SPACE).
    """
    out: list[tuple[Job, int]] = []
    for i in range(settings):
        for seed in selection_seeds(r):
            for ds in plan.datasets:
                for v in plan.variants:
                    base = RunConfig.preset(v, ds, seed=seed, device=device, **plan.budget)
                    out.append((base.replace(**setting(base, i, params or PARAM_NAMES)), i))
    return out


def _search_doc(plan: SearchPlan, what: str) -> Callable[[int, str], list[Job]]:
    def build(seeds: int, device: str) -> list[Job]:
        return [j for j, _ in search_stage1(plan, plan.settings, device)]

    build.__doc__ = what
    return build


# Equivalence margins (the metric's units), declared before the runs a family judges: the smallest difference
# that matters. W1 0.05: about the W1 between two independent real draws of the toy budget's 2,000 samples (the
# runs' w1_floor); a mode count of 1 on the toy mixtures and PacGAN's grids (the resolution of the metric), 10 of
# Stacked MNIST's 1,000; reverse KL 0.1 nats; FID 5 and KID 0.05 on the suite's classifier features.
MARGINS = {"w1": 0.05, "modes_2500": 1.0, "modes": 10.0, "reverse_kl": 0.1, "reverse_kl_2500": 0.1, "fid": 5.0, "kid": 0.05}


def against(name: str, cells: tuple[str, ...], baseline: str, metrics: tuple[str, ...], headline: bool = False, datasets: tuple[str, ...] = ()) -> Family:
    """A family: every cell against the baseline on the metrics, with the declared margins."""
    return Family(name, tuple(c for c in cells if c != baseline), baseline, metrics, {m: MARGINS[m] for m in metrics if m in MARGINS}, headline, datasets)


OTHERS = tuple(v for v in FIVE if v != "wgan-gp")


class Preset(NamedTuple):
    build: Callable[[int, str], list[Job]]  # (seeds, device) -> jobs (for a search: stage 1 at the default K)
    seeds: int  # default number of seeds (for a search: stage 2's seeds)
    baseline: str  # the cell the report's paired tests compare against ('' = none)
    search: SearchPlan | None = None  # a two-stage search (wgan_core/study/run.py)
    # The comparisons, declared before the study runs (report/families.py): Holm corrects over each family. A headline
    # family must be able to reach p < 0.05 with the study's seeds (`study` refuses it otherwise); the others are
    # reported as they come out, with the smallest p they could reach.
    families: tuple[Family, ...] = ()


TOY_FAMILY = (against("W1: each of the five against wgan-gp", FIVE, "wgan-gp", ("w1",)),
              against("modes (2,500): each of the five against wgan-gp", FIVE, "wgan-gp", ("modes_2500",)))
FASHION_FAMILY = (against("FID and KID: each of the five against wgan-gp", FIVE, "wgan-gp", ("fid", "kid")),)
# Stacked MNIST's headline is what PacGAN's and VEEGAN's tables report: modes and reverse KL (PacGAN Table 3).
STACKED_FAMILIES = (
    against("modes and reverse KL (the published tables' columns): each against wgan-gp", FIVE, "wgan-gp", ("modes", "reverse_kl"), headline=True),
    against("FID and KID on digit features: each against wgan-gp", FIVE, "wgan-gp", ("fid", "kid")),
)
PACGAN_FAMILIES = (
    against("modes and reverse KL (2,500; PacGAN Table 1): each against wgan-gp", FIVE, "wgan-gp", ("modes_2500", "reverse_kl_2500"), headline=True),
)


def _search_families(metric: str) -> tuple[Family, ...]:
    return tuple(
        against(
            f"{metric} at the {role} setting: each against wgan-gp ({role})", tuple(f"{v} ({role})" for v in FIVE), f"wgan-gp ({role})", (metric,),
            headline=True,
        )
        for role in ("tuned", "defaults")
    )


PRESETS: dict[str, Preset] = {
    "toy": Preset(preset_toy, 3, "wgan-gp", families=TOY_FAMILY),
    "fashion": Preset(preset_fashion, 3, "wgan-gp", families=FASHION_FAMILY),
    "paper": Preset(preset_paper, 5, "wgan-gp", families=FASHION_FAMILY),
    "lambda": Preset(preset_lambda, 3, "wgan-gp, penalty_weight=0.1", families=(
        against("W1: every penalty weight against wgan-gp at 0.1", tuple(f"{v}, penalty_weight={lam:g}" for v in ("wgan-gp", "wgan-lp") for lam in LAMBDAS),
                "wgan-gp, penalty_weight=0.1", ("w1",)),)),
    "ncritic": Preset(preset_ncritic, 3, "wgan-gp, n_critic=5", families=(
        against("W1: every objective and n_critic against wgan-gp at 5", tuple(f"{v}, n_critic={k}" for v in FIVE for k in N_CRITICS),
                "wgan-gp, n_critic=5", ("w1",)),)),
    "factorial": Preset(preset_factorial, 3, "wgan-gp"),
    "depth": Preset(preset_depth, 3, ""),
    "zoo": Preset(preset_zoo, 3, "wgan-gp", families=(
        against("W1 on the toy mixtures: each of the zoo against wgan-gp", ZOO, "wgan-gp", ("w1",), datasets=MIXTURES),
        against("FID on Fashion-MNIST: each of the zoo against wgan-gp", ZOO, "wgan-gp", ("fid",), datasets=("fashion-mnist",)),
    )),
    "stacked": Preset(preset_stacked, 10, "wgan-gp", families=STACKED_FAMILIES),
    "stacked-paper": Preset(preset_stacked_paper, 10, "wgan-gp", families=STACKED_FAMILIES),
    "pacgan-2d": Preset(preset_pacgan_2d, 10, "wgan-gp", families=PACGAN_FAMILIES),
    "search-toy": Preset(
        _search_doc(SEARCH_TOY, "tuning-fair search, 8gaussians and 25gaussians: K settings per objective (W1), the best and the defaults on N fresh seeds"),
        10, "wgan-gp", SEARCH_TOY, _search_families("w1"),
    ),
    "search-fashion": Preset(
        _search_doc(SEARCH_FASHION, "tuning-fair search, Fashion-MNIST (for a GPU): K settings per objective (FID), the best and defaults on N fresh seeds"),
        10, "wgan-gp", SEARCH_FASHION, _search_families("fid"),
    ),
}


def describe_presets() -> str:
    def extra(p: Preset) -> str:
        return f"; default settings: {p.search.settings}, metric {p.search.metric}" if p.search else ""

    return "\n".join(f"{name}: {(p.build.__doc__ or '').splitlines()[0]} (default seeds: {p.seeds}{extra(p)})" for name, p in PRESETS.items())


def cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def default_preset(device: str) -> str:
    """fashion where the runs will use a GPU, toy otherwise."""
    if device.startswith("cuda") or (device == "auto" and cuda_available()):
        return "fashion"
    return "toy"



__all__ = [
    "CLIP_VALUES",
    "FIVE",
    "NAMED",
    "ZOO",
    "ZOO_FASHION_BUDGET",
    "SEARCH_FASHION",
    "SEARCH_TOY",
    "SearchPlan",
    "SELECTION_SEED0",
    "search_stage1",
    "selection_seeds",
    "FACTORIAL_CONSTRAINTS",
    "FACTORIAL_LOSSES",
    "FASHION_BUDGET",
    "LAMBDAS",
    "N_CRITICS",
    "PAPER_BUDGET",
    "PRESETS",
    "TOY_BUDGET",
    "MIXTURES",
    "Job",
    "MARGINS",
    "Preset",
    "default_preset",
    "describe_presets",
    "inception_weights_present",
]
