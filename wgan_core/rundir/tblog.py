"""Optional TensorBoard event files for a run (RunConfig.tensorboard): how users watch long GPU runs.

Written through torch.utils.tensorboard at every evaluation, from the same row that goes
into metrics.csv (which stays the record: reports never read these files): losses, the
Wasserstein estimate, gradient-norm statistics, toy metrics or FID/KID, and a sample
figure (an image grid, or the toy scatter). On resume, events after the checkpoint's
step are purged, so the curves have no doubled stretch.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from ..errors import ConfigError

GROUPS = {  # metrics.csv column -> TensorBoard section
    "critic_loss": "loss",
    "generator_loss": "loss",
    "penalty": "loss",
    "wasserstein": "critic",
    "grad_norm_mean": "critic",
    "grad_norm_std": "critic",
    "grad_norm_above1": "critic",
    "gen_score_grad": "generator",
    "wall_time_s": "time",
    "train_time_s": "time",
}


class TensorBoardLog:
    """SummaryWriter in OUT/tensorboard; `add_row(row, samples)` logs one evaluation."""

    def __init__(self, out: Path, resumed_at: int | None) -> None:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise ConfigError("tensorboard: the tensorboard package is not installed; pip install tensorboard (or set tensorboard=false)") from None
        # purge_step: a resumed run drops the events the interrupted process wrote after its checkpoint
        self.writer = SummaryWriter(str(Path(out) / "tensorboard"), purge_step=None if resumed_at is None else resumed_at + 1)

    def add_row(self, row: dict[str, Any], samples: Any = None) -> None:
        step = int(row["step"])
        for key, value in row.items():
            if key == "step" or not isinstance(value, (int, float)) or not math.isfinite(value):
                continue
            self.writer.add_scalar(f"{GROUPS.get(key, 'quality')}/{key}", value, step)
        if samples is not None:
            self._add_samples(samples, step)
        self.writer.flush()

    def _add_samples(self, samples: Any, step: int) -> None:
        import torch

        if samples.dim() == 4:  # images (n, C, H, W) in [-1, 1]
            from torchvision.utils import make_grid

            grid = make_grid(samples[:64].clamp(-1, 1), nrow=8, normalize=True, value_range=(-1, 1))
            self.writer.add_image("samples", grid, step)
        elif samples.dim() == 2 and samples.shape[1] == 2 and torch.isfinite(samples).all():  # toy points (n, 2)
            import matplotlib.pyplot as plt

            fig, ax = plt.subplots(figsize=(3, 3))
            pts = samples[:1000].numpy()
            ax.scatter(pts[:, 0], pts[:, 1], s=2, c="tab:green")
            ax.set_aspect("equal")
            self.writer.add_figure("samples", fig, step)  # closes the figure

    def close(self) -> None:
        self.writer.close()


__all__ = ["TensorBoardLog"]
