"""Evaluation batches, devices, optimisers, run directories and progress bars: what every kind of run shares.

Owns `eval_batch` (a run's fixed evaluation latents), `resolve_device`, `make_optimizer`,
`check_out_dir` (a run directory holds this config's run or none) and `progress_bar`. It
imports the config; the per-stream seeds live in the leaf module wgan_core.seeds, which models and metrics import (tests/test_layout.py
holds the package's layer order).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path

import torch
from torch import Tensor

from .config import ConfigError, JsonConfig, RunConfig
from .seeds import subseed


def resolve_device(name: str) -> torch.device:
    """The torch device for a config's `device` ('auto': CUDA when available); ConfigError if it is not there."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(name)  # the name was checked by the config
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device: {name!r} requested but CUDA is not available here; use cpu or auto")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise ConfigError(f"device: {name!r} does not exist; this machine has {torch.cuda.device_count()} CUDA device(s)")
    return dev


def eval_batch(config: RunConfig) -> tuple[torch.Generator, dict[str, Tensor]]:
    """A run's fixed evaluation latents {"z": (eval_samples, z_dim)}.

    Drawn on the CPU from the seed alone, so every variant and device sees the same batch.
    Returns the generator for further draws (the trainer draws its real evaluation batch,
    `stream.eval_real`, and the interpolation weights from it, in that order).
    """
    g = torch.Generator().manual_seed(subseed(config.seed, "eval"))
    return g, {"z": torch.randn(config.eval_samples, config.z_dim, generator=g)}


def make_optimizer(kind: str, params: Iterable[torch.nn.Parameter], lr: float, betas: tuple[float, float]) -> torch.optim.Optimizer:
    """RMSprop (foreach) or Adam (fused: one kernel per step for all parameters, on CPU and CUDA)."""
    if kind == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, foreach=True)
    return torch.optim.Adam(params, lr=lr, betas=betas, fused=True)


def check_out_dir(config: JsonConfig, out: Path) -> None:
    """Refuse a directory that holds another config's run (naming the differing fields)."""
    cfg_path = Path(out) / "config.json"
    if cfg_path.exists():
        try:
            old = type(config).from_json(cfg_path)
        except (ValueError, TypeError, AttributeError) as e:  # not JSON, or not a config object of this kind
            raise ConfigError(f"out: {out} holds an unreadable config.json ({e}); choose another directory") from None
        differ = old.diff(config)
        if differ:
            details = ", ".join(f"{k} ({getattr(old, k)!r} there, {getattr(config, k)!r} here)" for k in differ)
            raise ConfigError(f"out: {out} holds a run with another config; differing fields: {details}")


def progress_bar(total: int, initial: int = 0, enabled: bool | None = None, **kwargs):
    """A tqdm bar on stderr; enabled None shows it only on a terminal, so logs and CI stay quiet."""
    from tqdm.auto import tqdm

    disable = None if enabled is None else not enabled
    return tqdm(total=total, initial=initial, disable=disable, file=sys.stderr, dynamic_ncols=True, **kwargs)


__all__ = ["check_out_dir", "eval_batch", "make_optimizer", "progress_bar", "resolve_device", "subseed"]
