"""The WGAN-GP toy distributions (Gulrajani et al. 2017, gan_toy.py): the same centres, sigmas and scalings.

That code draws 25gaussians batches from a fixed, shuffled 100k-point set with 4,000 points
per mode; here every batch is fresh, with a uniformly random mode per point. Points are
(n, 2) float32 after scaling; every draw uses the caller's `torch.Generator`.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

SCALE = {"8gaussians": 1.414, "25gaussians": 2.828, "swissroll": 7.5}
STD = {"8gaussians": 0.02, "25gaussians": 0.05}  # one component's standard deviation before scaling


def mixture_centres(name: str) -> Tensor:
    """Mode centres after scaling, (K, 2). 8gaussians: radius 2 circle / 1.414; 25gaussians: grid -4..4 step 2 / 2.828."""
    if name == "8gaussians":
        r = 1.0 / math.sqrt(2.0)
        pts = [(1, 0), (-1, 0), (0, 1), (0, -1), (r, r), (r, -r), (-r, r), (-r, -r)]
        return torch.tensor(pts, dtype=torch.float32) * 2.0 / SCALE[name]
    g = torch.arange(-2, 3, dtype=torch.float32) * 2.0
    xx, yy = torch.meshgrid(g, g, indexing="ij")
    return torch.stack([xx.reshape(-1), yy.reshape(-1)], 1) / SCALE[name]


def sample_mixture(name: str, n: int, generator: torch.Generator, device: torch.device | str = "cpu") -> Tensor:
    """n points (n, 2) of 8gaussians or 25gaussians: a uniformly random mode, plus N(0, std^2) noise, then scaled."""
    kw = dict(generator=generator, device=device)
    centres = mixture_centres(name).to(device) * SCALE[name]  # unscaled, as the reference code draws them
    idx = torch.randint(len(centres), (n,), **kw)
    x = centres[idx] + STD[name] * torch.randn(n, 2, **kw)
    return x / SCALE[name]


def sample_swissroll(n: int, generator: torch.Generator, device: torch.device | str = "cpu") -> Tensor:
    """n points (n, 2): sklearn.datasets.make_swiss_roll(n, noise=0.25), coordinates (x, z), / 7.5."""
    kw = dict(generator=generator, device=device)
    t = 1.5 * math.pi * (1 + 2 * torch.rand(n, **kw))
    y = 21.0 * torch.rand(n, **kw)
    pts = torch.stack([t * torch.cos(t), y, t * torch.sin(t)], 1) + 0.25 * torch.randn(n, 3, **kw)
    return pts[:, [0, 2]] / SCALE["swissroll"]
