"""What every image metric shares: images checked into uint8 (N, C, H, W), and a resolved feature network.

Kept apart from image.py so the feature networks of particular data sets (metrics/modes.py:
Stacked MNIST's per-channel digit features) can build an `Extractor` without importing image.py,
which imports them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from ..errors import ConfigError


def as_uint8(images: Tensor | np.ndarray, what: str = "fake") -> Tensor:
    """uint8 (N, C, H, W) from uint8 images or float images in [-1, 1]; ConfigError for anything else."""
    x = torch.as_tensor(images)
    if x.dim() != 4 or x.shape[1] not in (1, 3) or x.shape[0] == 0:
        raise ConfigError(f"{what}: expected images (N, C, H, W) with C 1 or 3 and N > 0, got shape {tuple(x.shape)}")
    if x.shape[2] != x.shape[3] or x.shape[2] < 8:
        raise ConfigError(f"{what}: expected square images of at least 8x8 pixels, got {x.shape[2]}x{x.shape[3]}")
    if x.dtype == torch.uint8:
        return x.contiguous()
    if x.is_floating_point():
        if not torch.isfinite(x).all():
            raise ConfigError(f"{what}: images hold NaN or infinite values")
        lo, hi = float(x.min()), float(x.max())
        if lo < -1.001 or hi > 1.001:
            raise ConfigError(
                f"{what}: float images must lie in [-1, 1] (the generator's tanh range), got [{lo:.3g}, {hi:.3g}]; pass uint8 images for [0, 255]"
            )
        return ((x.float() + 1.0) * 127.5).round_().clamp_(0, 255).to(torch.uint8)
    if x.dtype in (torch.int16, torch.int32, torch.int64):
        lo, hi = int(x.min()), int(x.max())
        if lo < 0 or hi > 255:
            raise ConfigError(f"{what}: integer images must lie in [0, 255], got [{lo}, {hi}]")
        return x.to(torch.uint8).contiguous()
    raise ConfigError(f"{what}: expected uint8 images or float images in [-1, 1], got dtype {x.dtype}")


@dataclass(frozen=True)
class Extractor:
    """A resolved feature network (a feature space of metrics/spaces.py for one data set), ready for torch-fidelity."""

    kind: str  # classifier | inception | pixels | random-cnn | torch-fidelity (a network of torch-fidelity's, user's weights)
    name: str  # torch-fidelity's registered name; the `extractor` column of every result
    weights: Path | None  # handed to torch-fidelity as feature_extractor_weights_path (None: a space without weights, pixels)
    tag: str  # identity of the weights, part of the reference cache names
    rgb: bool  # the network takes 3-channel images
    batch_size: int

    @property
    def name_tells_weights(self) -> bool:
        """Whether the registered name tells weights apart (else cache names add `tag`): not so for torch-fidelity's own networks."""
        return self.kind not in ("inception", "torch-fidelity")


__all__ = ["Extractor", "as_uint8"]
