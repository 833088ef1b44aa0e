"""A run's samples.png: toy samples over the critic's value contours (WGAN-GP paper, Fig. 1 style), or an image grid."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display on servers and CI
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from .io import atomic_savefig  # noqa: E402


def toy_panel(ax, samples: torch.Tensor, real: torch.Tensor, critic, device, title: str = "", lim: float = 2.0) -> None:
    """Draw critic contours on a grid, real samples (orange) and generated samples (green) on one axis."""
    n = 128
    xs = torch.linspace(-lim, lim, n)
    gx, gy = torch.meshgrid(xs, xs, indexing="xy")
    grid = torch.stack([gx.reshape(-1), gy.reshape(-1)], 1)
    was_training = critic.training
    critic.eval()
    with torch.no_grad():
        values = critic(grid.to(device)).float().cpu().reshape(n, n)
    critic.train(was_training)
    ax.contourf(gx.numpy(), gy.numpy(), values.numpy(), levels=20, cmap="Blues")
    ax.scatter(real[:, 0], real[:, 1], s=2, c="tab:orange", alpha=0.5, label="real")
    ax.scatter(samples[:, 0], samples[:, 1], s=2, c="tab:green", alpha=0.5, label="generated")
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=9)


def image_grid(images: torch.Tensor, nrow: int = 8) -> torch.Tensor:
    """(N, C, H, W) in [-1, 1] -> (H', W', C) uint8 grid."""
    import torchvision

    grid = torchvision.utils.make_grid(images.clamp(-1, 1), nrow=nrow, normalize=True, value_range=(-1, 1), padding=2)
    return (grid * 255).round().to(torch.uint8).permute(1, 2, 0)


def save_samples(trainer, path: Path) -> None:
    """samples.png of a trainer's current generator on its fixed evaluation latents."""
    ev = trainer._eval_inputs()
    c = trainer.config
    if c.kind == "toy":
        fake = trainer.sample(ev["z"][:1000])
        fig, ax = plt.subplots(figsize=(5, 5))
        toy_panel(ax, fake, ev["real"][:1000], trainer.critic, trainer.device, f"{c.label} on {c.dataset}, step {trainer.step_count}")
        ax.legend(loc="upper right", fontsize=7, markerscale=4)
    else:
        fake = trainer.sample(ev["z"][:64])
        grid = image_grid(fake)
        fig, ax = plt.subplots(figsize=(6, 6))
        ax.imshow(grid.squeeze(-1).numpy() if grid.shape[-1] == 1 else grid.numpy(), cmap="gray")
        ax.axis("off")
        ax.set_title(f"{c.label} on {c.dataset}, step {trainer.step_count}", fontsize=9)
    fig.tight_layout()
    atomic_savefig(fig, Path(path), dpi=110)
    plt.close(fig)
