"""A run's samples.png: toy samples over the critic's value contours (WGAN-GP paper, Fig. 1 style), or an image grid."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display on servers and CI
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from ..config import RunConfig  # noqa: E402
from ..fileio import atomic_savefig  # noqa: E402
from ..runtime import eval_batch  # noqa: E402
from .panel import draw_toy_panel  # noqa: E402

GRID_IMAGES = 64  # an 8 x 8 grid


def image_grid(images: torch.Tensor, nrow: int = 8) -> torch.Tensor:
    """(N, C, H, W) in [-1, 1] -> (H', W', C) uint8 grid."""
    import torchvision

    grid = torchvision.utils.make_grid(images.clamp(-1, 1), nrow=nrow, normalize=True, value_range=(-1, 1), padding=2)
    return (grid * 255).round().to(torch.uint8).permute(1, 2, 0)


def save_samples(config: RunConfig, sample: Callable[[torch.Tensor], torch.Tensor], panel: dict[str, np.ndarray] | None, path: Path, step: int) -> None:
    """samples.png: a toy run's panel (wgan_core.rundir.artifacts.toy_panel), or G's 8 x 8 grid on the first evaluation latents
    (points without a panel: their scatter)."""
    title = f"{config.label} on {config.dataset}, step {step}"
    if panel is not None:
        fig, ax = plt.subplots(figsize=(5, 5))
        draw_toy_panel(ax, panel, title)
        ax.legend(loc="upper right", fontsize=7, markerscale=4)
    elif (fake := sample(eval_batch(config)[1]["z"][:GRID_IMAGES])).dim() != 4:  # points without a panel: a plain scatter
        fig, ax = plt.subplots(figsize=(5, 5))
        ax.scatter(fake[:, 0].numpy(), fake[:, 1].numpy(), s=4)
        ax.set_title(title, fontsize=9)
    else:  # (64, C, H, W) in [-1, 1]
        grid = image_grid(fake)
        fig, ax = plt.subplots(figsize=(6, 6))
        ax.imshow(grid.squeeze(-1).numpy() if grid.shape[-1] == 1 else grid.numpy(), cmap="gray")
        ax.axis("off")
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    atomic_savefig(fig, Path(path), dpi=110)
    plt.close(fig)
