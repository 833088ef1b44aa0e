"""PacGAN's 2-D Gaussian mixtures (Lin et al. 2018, sec. 5.1 / Table 1), as the authors' code draws them.

Sources (fjxmlzn/PacGAN, synthetic_data_experiments/):
  * 2DGrid_GAN&PacGAN/config.py lines 5-7: 25 modes at itertools.product(range(-4, 5, 2), range(-4, 5, 2))
    (first coordinate outer), covariance 0.05^2 I; num_sample 100000 (line ~30), x_mode_priors None.
  * 2DRing_GAN&PacGAN/config.py lines 6-7: 8 modes at (cos(2 pi k / 8), sin(2 pi k / 8)), k = 0..7
    (radius 1), covariance 0.01^2 I; the same 100000 samples.
  * The fixed set: pacgan/datasets.py GaussianPackingMixture -> ALI's GaussianMixtureDistribution.sample
    (IshmaelBelghazi/ALI ali/datasets.py): priors None -> uniform; each point's mode by
    rng.choice(K, replace=True, p=uniform) (i.i.d., so per-mode counts are multinomial, not exactly
    n / K), then mean + cholesky(cov) @ N(0, I_2). Drawn once per run (seeded by fuel's default_seed).
  * Packing: GaussianPackingMixture then builds each of the m packed columns as a bootstrap of that set,
    features[np.random.randint(0, n, n)] (with replacement; numpy's global generator, not the seeded
    one), and hstacks them: rows (n, 2m). Even the plain GAN (m = 1) trains on a bootstrap, about
    1 - 1/e = 63% distinct points of the fixed set. Fuel's ShuffledScheme then reshuffles it each epoch.

No scaling: points, centres and stds are in the papers' units (unlike the WGAN-GP sets of `toy`, which
are divided by 2.828 / 1.414). The metrics need exactly `pacgan_centres` and `pacgan_std`: a sample is
high quality within HQ_SIGMAS = 3 stds of its nearest centre (pacgan/extensions.py MetricLogger).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ..errors import ConfigError

PACGAN_DATASETS = ("2d-grid", "2d-ring")
STD = {"2d-grid": 0.05, "2d-ring": 0.01}  # one component's standard deviation (config.py VARIANCES = std^2 I)
FIXED_SET_SIZE = 100_000  # config.py num_sample
HQ_SIGMAS = 3.0  # MetricLogger(dis_thre=3): high quality when the std-normalised distance to the nearest mode < 3


def _check(name: str) -> None:
    if name not in PACGAN_DATASETS:
        raise ConfigError(f"dataset: {name!r} is not a PacGAN 2-D mixture; allowed: {', '.join(PACGAN_DATASETS)}")


def pacgan_centres(name: str) -> Tensor:
    """Mode centres (K, 2) float32: 2d-grid K = 25, {-4, -2, 0, 2, 4}^2 first coordinate outer; 2d-ring K = 8, radius 1."""
    _check(name)
    if name == "2d-grid":
        g = torch.arange(-4, 5, 2, dtype=torch.float32)  # (5,)
        xx, yy = torch.meshgrid(g, g, indexing="ij")  # (5, 5) each; ij = itertools.product order
        return torch.stack([xx.reshape(-1), yy.reshape(-1)], 1)  # (25, 2)
    angles = torch.arange(8, dtype=torch.float64) * (2.0 * math.pi / 8)  # (8,)
    return torch.stack([torch.cos(angles), torch.sin(angles)], 1).float()  # (8, 2)


def pacgan_std(name: str) -> float:
    """Standard deviation of one (isotropic) component: 0.05 for 2d-grid, 0.01 for 2d-ring."""
    _check(name)
    return STD[name]


def pacgan_hq_radius(name: str) -> float:
    """Euclidean radius of the high-quality disc around a centre: 3 std (MetricLogger's normalised distance < 3)."""
    return HQ_SIGMAS * pacgan_std(name)


def pacgan_sample(name: str, n: int, generator: torch.Generator, device: torch.device | str = "cpu") -> Tensor:
    """n fresh points (n, 2) float32: a uniformly random mode per point plus N(0, std^2 I) noise.

    The distribution of GaussianMixtureDistribution.sample; the authors draw it once (`pacgan_fixed_set`),
    this draws anew each call (the registry's `sample` signature).
    """
    kw = dict(generator=generator, device=device)
    centres = pacgan_centres(name).to(device)  # (K, 2)
    idx = torch.randint(len(centres), (n,), **kw)  # (n,) i.i.d. uniform modes
    return centres[idx] + pacgan_std(name) * torch.randn(n, 2, **kw)  # (n, 2)


def pacgan_fixed_set(name: str, n: int = FIXED_SET_SIZE, seed: int = 0) -> Tensor:
    """The fixed training set (n, 2) float32 of one run, drawn from `seed` alone (the authors': one per run)."""
    g = torch.Generator().manual_seed(seed)
    return pacgan_sample(name, n, g)


def pacgan_packed_set(fixed: Tensor, packing: int, seed: int = 0) -> Tensor:
    """Rows (n, 2 * packing) of GaussianPackingMixture: `packing` bootstraps of the fixed set (n, 2), side by side.

    Column block i is fixed[idx_i] with idx_i ~ U{0..n-1}^n drawn with replacement, independently per block.
    packing = 1 is what their plain GAN trains on.
    """
    if packing < 1:
        raise ConfigError(f"packing: must be >= 1, got {packing}")
    g = torch.Generator().manual_seed(seed)
    n = len(fixed)
    blocks = [fixed[torch.randint(n, (n,), generator=g)] for _ in range(packing)]  # packing x (n, 2)
    return torch.cat(blocks, dim=1)  # (n, 2 * packing)


__all__ = [
    "FIXED_SET_SIZE", "HQ_SIGMAS", "PACGAN_DATASETS", "STD",
    "pacgan_centres", "pacgan_fixed_set", "pacgan_hq_radius", "pacgan_packed_set", "pacgan_sample", "pacgan_std",
]  # fmt: skip
