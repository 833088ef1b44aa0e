"""DCGAN-style convolutional generator and critic (Radford et al. 2016; the WGAN-GP MNIST model at 28x28)."""

from __future__ import annotations

import math

from torch import Tensor, nn

from ..errors import ConfigError


def _plan(resolution: int) -> tuple[int, int]:
    """(side of the first feature map, number of x2 up/down-samplings) for a resolution."""
    if resolution == 28:
        return 7, 2  # 7 -> 14 -> 28, as in the WGAN-GP MNIST model
    if resolution in (32, 64):
        return 4, int(math.log2(resolution // 4))  # 4 -> 8 -> ... -> resolution, as in DCGAN
    raise ConfigError(f"resolution: must be 28, 32 or 64, got {resolution}")


class DCGANGenerator(nn.Module):
    """z (N, z_dim) -> images (N, C, R, R) in [-1, 1]. Linear to (w*2^(n-1), s, s), then n stride-2 deconvs."""

    def __init__(self, z_dim: int, width: int, channels: int, resolution: int) -> None:
        super().__init__()
        side, n = _plan(resolution)
        c0 = width * 2 ** (n - 1)
        self.c0, self.side = c0, side
        self.project = nn.Sequential(nn.Linear(z_dim, c0 * side * side), nn.BatchNorm1d(c0 * side * side), nn.ReLU())
        blocks: list[nn.Module] = []
        c = c0
        for _ in range(n - 1):
            blocks += [nn.ConvTranspose2d(c, c // 2, 4, 2, 1), nn.BatchNorm2d(c // 2), nn.ReLU()]
            c //= 2
        blocks += [nn.ConvTranspose2d(c, channels, 4, 2, 1), nn.Tanh()]
        self.net = nn.Sequential(*blocks)

    def forward(self, z: Tensor) -> Tensor:
        h = self.project(z).view(-1, self.c0, self.side, self.side)  # (N, c0, s, s)
        return self.net(h)  # (N, C, R, R)


def _critic_norm(kind: str, channels: int) -> nn.Module:
    if kind == "layer":
        return nn.GroupNorm(1, channels)  # layer norm over (C, H, W): per sample, so penalties stay per sample
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    return nn.Identity()


class DCGANCritic(nn.Module):
    """images (N, C, R, R) -> scores (N,). n stride-2 convs with LeakyReLU(0.2), then a linear head.

    No normalisation on the first layer (DCGAN); `norm` on the others.
    """

    def __init__(self, width: int, channels: int, resolution: int, norm: str = "layer") -> None:
        super().__init__()
        side, n = _plan(resolution)
        layers: list[nn.Module] = [nn.Conv2d(channels, width, 4, 2, 1), nn.LeakyReLU(0.2)]
        c = width
        for _ in range(n - 1):
            layers += [nn.Conv2d(c, c * 2, 4, 2, 1), _critic_norm(norm, c * 2), nn.LeakyReLU(0.2)]
            c *= 2
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(c * side * side, 1)

    def forward(self, x: Tensor) -> Tensor:
        h = self.features(x)  # (N, c, s, s)
        return self.head(h.flatten(1)).squeeze(-1)  # (N,)
