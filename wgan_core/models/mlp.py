"""The WGAN-GP toy MLPs (Gulrajani et al. 2017, gan_toy.py): three hidden ReLU layers, 2-D points in and out."""

from __future__ import annotations

from torch import Tensor, nn


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
