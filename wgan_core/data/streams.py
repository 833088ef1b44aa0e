"""Batch streams for the trainer: fresh toy points per batch, or image batches indexed from one device tensor.

Every stream draws from its own seeded `torch.Generator`, one batch at a time,
so the k-th real batch is the same for every variant of a seed whatever its
n_critic: that is the "same data order" of a matched study.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from ..errors import ConfigError
from . import load_images, sample_toy
from .images import to_unit_range

W1_SAMPLES = 2000  # toy data: real points in a run's fixed evaluation batch, the exact W1's sample per side
IMAGE_EVAL_REAL = 1024  # images: training images in a run's fixed evaluation batch (gradient norms at interpolates)


def toy_eval_points(dataset: str, eval_samples: int, generator: torch.Generator) -> Tensor:
    """A toy run's fixed real evaluation batch (min(W1_SAMPLES, eval_samples), 2), from the run's evaluation generator."""
    return sample_toy(dataset, min(W1_SAMPLES, eval_samples), generator)


@dataclass
class DataInfo:
    kind: str  # toy | image
    channels: int
    resolution: int
    size: int  # number of training examples (0 = unlimited, toy)


class ToyStream:
    """Fresh toy samples for every batch (the reference code samples on the fly too)."""

    def __init__(self, name: str, batch_size: int, seed: int, device: torch.device) -> None:
        self.name, self.batch_size, self.device = name, batch_size, device
        self.gen = torch.Generator(device=device).manual_seed(seed)
        self.info = DataInfo("toy", 0, 0, 0)

    def next(self, k: int = 1) -> Tensor:
        """k consecutive batches, concatenated: (k*B, 2)."""
        return torch.cat([sample_toy(self.name, self.batch_size, self.gen, self.device) for _ in range(k)])

    def eval_real(self, generator: torch.Generator, eval_samples: int) -> Tensor:
        """The run's fixed real evaluation batch (m, 2) on the CPU: fresh points from the evaluation generator."""
        return toy_eval_points(self.name, eval_samples, generator)

    def state_dict(self) -> dict:
        return {"gen": self.gen.get_state()}

    def load_state_dict(self, s: dict) -> None:
        self.gen.set_state(s["gen"])


class ImageStream:
    """Batches indexed from one device tensor in a fresh random order per epoch: no DataLoader."""

    def __init__(
        self, images: Tensor | None, batch_size: int, seed: int, device: torch.device, channels_last: bool = False, *, prepared: Tensor | None = None
    ) -> None:
        """prepared: another stream's device tensor to share (seed ensembles: one copy of the data set for all members)."""
        # (N, C, H, W) in [-1, 1], on the training device
        self.data = prepared if prepared is not None else to_unit_range(images.to(device))  # type: ignore[union-attr]
        if channels_last and prepared is None:
            self.data = self.data.contiguous(memory_format=torch.channels_last)
        self.batch_size, self.device = batch_size, device
        self.gen = torch.Generator(device=device).manual_seed(seed)
        n = self.data.shape[0]
        self.perm = torch.randperm(n, generator=self.gen, device=device)
        self.pos = 0
        self.info = DataInfo("image", self.data.shape[1], self.data.shape[-1], n)

    def next(self, k: int = 1) -> Tensor:
        """k consecutive batches, concatenated: (k*B, C, H, W). An epoch's leftover joins the next epoch."""
        need, parts = k * self.batch_size, []
        while need > 0:
            take = min(need, len(self.perm) - self.pos)
            parts.append(self.perm[self.pos : self.pos + take])
            self.pos += take
            need -= take
            if self.pos == len(self.perm):
                self.perm = torch.randperm(len(self.perm), generator=self.gen, device=self.device)
                self.pos = 0
        idx = parts[0] if len(parts) == 1 else torch.cat(parts)
        return self.data[idx]

    def eval_real(self, generator: torch.Generator, eval_samples: int) -> Tensor:
        """The run's fixed real evaluation batch (m, C, H, W) on the CPU: a random subset of the training images."""
        m = min(eval_samples, IMAGE_EVAL_REAL)
        return self.data[torch.randperm(self.data.shape[0], generator=generator)[:m].to(self.device)].cpu()

    def state_dict(self) -> dict:
        return {"gen": self.gen.get_state(), "perm": self.perm, "pos": self.pos}

    def load_state_dict(self, s: dict) -> None:
        self.gen.set_state(s["gen"])
        self.perm = s["perm"].to(self.device)
        self.pos = int(s["pos"])


def data_shape(config) -> tuple[int, int]:
    """(channels, resolution) a run's models are built for: its images' (loaded to see them); toy MLPs ignore both."""
    if config.kind == "toy":
        return 1, 28
    shape = load_images(config.dataset, "train", config.data_dir, config.download, config.resolution)[0].shape
    return shape[1], shape[-1]


def make_stream(config, device: torch.device, seed: int, images: Tensor | None = None, like: ImageStream | ToyStream | None = None) -> ToyStream | ImageStream:
    """The training-data stream for a config; raises ConfigError if the data is missing or too small.

    images: an in-memory uint8 (N, C, H, W) training set that replaces loading config.dataset.
    like: a stream of the same data (a config differing only in its seed) whose device tensor this
    stream shares instead of loading its own copy; the order of the batches is still this seed's own.
    """
    if config.kind == "toy":
        return ToyStream(config.dataset, config.batch_size, seed, device)
    if isinstance(like, ImageStream):
        return ImageStream(None, config.batch_size, seed, device, prepared=like.data)
    if images is None:
        images, _ = load_images(config.dataset, "train", config.data_dir, config.download, config.resolution)
    if config.data_limit:
        images = images[: config.data_limit]
    if config.batch_size > images.shape[0]:
        raise ConfigError(f"batch_size: {config.batch_size} exceeds the {images.shape[0]} training images of {config.dataset}")
    return ImageStream(images, config.batch_size, seed, device, config.channels_last)
