"""Exact sample-quality metrics for the 2-D toy distributions.

Definitions follow VEEGAN (Srivastava et al. 2017, sec. 5.1), which PacGAN (Lin
et al. 2018) reuses, so figures can stand beside their 2-D mixture tables:
  * a sample is *high quality* when it lies within 3 sigma of its nearest mode
    centre (sigma: one component's standard deviation, after scaling);
  * a mode is *covered* when at least one high-quality sample has it as its
    nearest mode; `modes_strict` asks for at least `min_share` of all samples.
`w1` is the exact Wasserstein-1 distance between two equal-size empirical
samples, by optimal assignment (scipy's linear_sum_assignment); `w1_floor` is
the same distance between two independent real samples: what a perfect
generator would score.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment
from scipy.spatial.distance import cdist
from torch import Tensor

from ..data import get_dataset, sample_toy, toy_centres, toy_std
from ..data.streams import W1_SAMPLES

TOY_SAMPLES = 2500  # generated samples for mode counts (VEEGAN/PacGAN use 2,500)


def w1_exact(a: Tensor | np.ndarray, b: Tensor | np.ndarray) -> float:
    """Exact W1 between two empirical distributions of equal size n: min over permutations of mean ||a_i - b_pi(i)||."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 2:
        raise ValueError(f"w1_exact: need two (n, d) arrays of the same shape, got {a.shape} and {b.shape}")
    cost = cdist(a, b)
    rows, cols = linear_sum_assignment(cost)
    return float(cost[rows, cols].mean())


def mode_stats(samples: Tensor, dataset: str, min_share: float | None = None) -> dict[str, float]:
    """modes, modes_strict, high_quality and reverse_kl of samples (n, 2) for a Gaussian mixture.

    min_share: the strict threshold, a share of all samples a mode must hold
    (default: a quarter of the uniform share, 1 / (4K)).
    """
    centres = toy_centres(dataset).double()
    x = samples.detach().double().cpu()
    k = len(centres)
    if min_share is None:
        min_share = 0.25 / k
    dist = torch.cdist(x, centres)  # (n, K)
    d_min, nearest = dist.min(dim=1)
    hq = d_min <= 3.0 * toy_std(dataset)
    counts = torch.bincount(nearest[hq], minlength=k).double()  # high-quality samples per mode
    n_hq = counts.sum().item()
    if n_hq > 0:
        p = counts / n_hq
        nz = p > 0
        reverse_kl = float((p[nz] * torch.log(p[nz] * k)).sum())  # KL(generated modes || uniform)
    else:
        reverse_kl = math.nan
    return {
        "modes": int((counts > 0).sum()),
        "modes_strict": int((counts >= min_share * len(x)).sum()),
        "high_quality": n_hq / len(x),
        "reverse_kl": reverse_kl,
    }


def toy_metrics(samples: Tensor, real: Tensor, dataset: str, w1_floor: float | None = None) -> dict[str, float]:
    """All toy metrics of generated `samples` (n >= 2,000, 2) against `real` (2,000, 2).

    Mode metrics on all samples (2,500 in training); W1 on the first len(real) of them.
    """
    out: dict[str, float] = {}
    if get_dataset(dataset).centres is not None:  # a Gaussian mixture: mode statistics are defined
        out.update(mode_stats(samples, dataset))
    m = len(real)
    if len(samples) < m:
        raise ValueError(f"toy_metrics: need at least {m} samples for W1, got {len(samples)}")
    out["w1"] = w1_exact(samples[:m].detach().cpu(), real.cpu())
    if w1_floor is not None:
        out["w1_floor"] = w1_floor
    return out


def w1_floor(dataset: str, seed: int, n: int = W1_SAMPLES) -> float:
    """W1 between two independent real samples of size n: a perfect generator's expected score."""
    g = torch.Generator().manual_seed(seed)
    return w1_exact(sample_toy(dataset, n, g), sample_toy(dataset, n, g))
