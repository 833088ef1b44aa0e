"""Drawing from stored numbers only (matplotlib and numpy, no torch): shared by a run's samples.png and the report.

A toy run stores its panel data in panel.npz (see wgan_core.rundir.artifacts): generated and
real samples and the critic's values on a grid. Both the run's samples.png and the
report's sample figure draw that file with `draw_toy_panel`, so they show the same thing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only: no display on servers and CI
import numpy as np  # noqa: E402

from .names import PANEL_FILE  # noqa: E402  (re-exported: the panel file these functions read)


def read_panel(path: Path) -> dict[str, np.ndarray]:
    """A run's panel.npz as {'fake', 'real', 'grid', 'values'}; values[i, j] is the critic at (x=grid[j], y=grid[i])."""
    with np.load(path) as z:
        return {k: z[k] for k in ("fake", "real", "grid", "values")}


def draw_toy_panel(ax: Any, panel: dict[str, np.ndarray], title: str = "") -> None:
    """Critic contours (blue), real samples (orange) and generated samples (green) on one axis."""
    grid, fake, real = panel["grid"], panel["fake"], panel["real"]
    lim = float(np.abs(grid).max())
    gx, gy = np.meshgrid(grid, grid, indexing="xy")
    ax.contourf(gx, gy, panel["values"], levels=20, cmap="Blues")
    ax.scatter(real[:, 0], real[:, 1], s=2, c="tab:orange", alpha=0.5, label="real")
    ax.scatter(fake[:, 0], fake[:, 1], s=2, c="tab:green", alpha=0.5, label="generated")
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=9)


__all__ = ["PANEL_FILE", "draw_toy_panel", "read_panel"]
