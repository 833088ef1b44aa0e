"""Generators and critics: the WGAN-GP toy MLPs and DCGAN-style convolutional nets.

Built under a fixed seed (see `build_models`), so every variant of a matched
study starts from the same weights: the architecture does not depend on the
objective, only on the data and the config's width / norm / resolution.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from ..config import ConfigError, RunConfig


class MLPGenerator(nn.Module):
    """z (N, z_dim) -> x (N, 2): three hidden ReLU layers, as in the WGAN-GP toy code."""

    def __init__(self, z_dim: int = 2, width: int = 512, out_dim: int = 2) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(z_dim, width), nn.ReLU(),
            nn.Linear(width, width), nn.ReLU(),
            nn.Linear(width, width), nn.ReLU(),
            nn.Linear(width, out_dim),
        )

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z)


class MLPCritic(nn.Module):
    """x (N, 2) -> scores (N,): three hidden ReLU layers."""

    def __init__(self, in_dim: int = 2, width: int = 512, depth: int = 3) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        d = in_dim
        for _ in range(depth):
            layers += [nn.Linear(d, width), nn.ReLU()]
            d = width
        layers.append(nn.Linear(d, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x).squeeze(-1)


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


def _dcgan_init(m: nn.Module) -> None:
    """DCGAN initialisation (Radford et al. 2016): N(0, 0.02) weights, norm scales N(1, 0.02)."""
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(m.weight, 0.0, 0.02)
        nn.init.zeros_(m.bias)
    elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d, nn.GroupNorm)):
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


def he_glorot_init(net: nn.Module) -> None:
    """The WGAN-GP toy code's initialisation (igul222/improved_wgan_training, tflib/ops/linear.py, as gan_toy.py calls it).

    Every Linear but the last: He-uniform, U(-a, a) with a = sqrt(3) * sqrt(2 / fan_in) (their 'he');
    the last (the output layer, which gan_toy.py leaves at the default): Glorot-uniform,
    a = sqrt(3) * sqrt(2 / (fan_in + fan_out)); biases zero. Drawn layer by layer in order.
    """
    linears = [m for m in net.modules() if isinstance(m, nn.Linear)]
    with torch.no_grad():
        for i, m in enumerate(linears):
            fan_out, fan_in = m.weight.shape
            std = math.sqrt(2.0 / fan_in) if i < len(linears) - 1 else math.sqrt(2.0 / (fan_in + fan_out))
            m.weight.uniform_(-math.sqrt(3.0) * std, math.sqrt(3.0) * std)
            if m.bias is not None:
                m.bias.zero_()


# config.init -> what it does to a freshly built (generator or critic) module; "torch" keeps PyTorch's default.
INITS = {"he-glorot": he_glorot_init, "dcgan": lambda net: net.apply(_dcgan_init), "torch": lambda net: None}


def build_models(config: RunConfig, channels: int = 1, resolution: int = 28) -> tuple[nn.Module, nn.Module]:
    """(generator, critic) on the CPU, initialised from `config.seed` alone.

    The models' initial weights depend on (seed, arch, width, z_dim, data shape,
    critic_norm, init) and on nothing else, which is what makes variants matched.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        if config.arch == "mlp":
            g: nn.Module = MLPGenerator(config.z_dim, config.width)
            d: nn.Module = MLPCritic(2, config.width)
        else:
            g = DCGANGenerator(config.z_dim, config.width, channels, resolution)
            d = DCGANCritic(config.width, channels, resolution, config.critic_norm)
        INITS[config.init](g)  # the generator first, then the critic, both from the seed's one stream
        INITS[config.init](d)
        if config.spectral_norm:
            # After the weights are initialised, so a spectrally normalised critic starts from the same
            # weights as the plain one; the power iteration's start vectors come from a stream of the
            # run's own seed, so matched runs still share everything but their objective.
            from ..runtime import subseed

            torch.manual_seed(subseed(config.seed, "spectral-norm"))
            for m in d.modules():
                if isinstance(m, (nn.Linear, nn.Conv2d)):
                    torch.nn.utils.parametrizations.spectral_norm(m)
    return g, d
