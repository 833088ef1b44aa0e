"""Samples from a generator trained elsewhere: a TorchScript file, a torch.export program (.pt2), or one of our run directories.

torch-fidelity's command line takes a generator file, its latent size and a sample count; so does
`python -m wgan_core metrics --generator FILE --z-dim Z --num-samples N`. The generator maps
z (N, z_dim) ~ N(0, I) to images (N, C, H, W) with values in [-1, 1] (or uint8). Latents are drawn
on the CPU from `seed` alone, in batches, so the same file gives the same samples on every device.
TorchScript is deprecated in torch 2.14 but is what torch-fidelity and many repositories ship; a
`.pt2` file (torch.export.save) is the current format. Every failure to read is a ConfigError.
"""

from __future__ import annotations

import json
import logging
import zipfile
from collections.abc import Callable
from pathlib import Path

import torch
from torch import Tensor

from ..errors import ConfigError


def _first_line(e: Exception) -> str:
    text = str(e).strip()
    return f"{type(e).__name__}: {text.splitlines()[0]}" if text else type(e).__name__


def load_generator(path: str | Path) -> Callable[[Tensor], Tensor]:
    """The generator in a TorchScript file (.pt, .pth, .jit, ...) or a torch.export program (.pt2), on the CPU."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise ConfigError(f"generator: {p} does not exist")
    kind = "a torch.export program (.pt2)" if p.suffix == ".pt2" else "a TorchScript file"
    if not zipfile.is_zipfile(p):  # both formats are zip archives; torch would print a traceback before failing
        raise ConfigError(f"generator: cannot load {p} as {kind} (not a zip archive)")
    export_log = logging.getLogger("torch.export")
    level = export_log.level
    export_log.setLevel(logging.ERROR)  # torch.export.load logs a traceback for each format it tries
    try:
        if p.suffix == ".pt2":
            return torch.export.load(str(p)).module()
        return torch.jit.load(str(p), map_location="cpu")
    except Exception as e:  # the user's file: one line, no traceback
        raise ConfigError(f"generator: cannot load {p} as {kind} ({_first_line(e)})") from None
    finally:
        export_log.setLevel(level)


def load_run_generator(run_dir: str | Path) -> tuple[Callable[[Tensor], Tensor], int]:
    """(generator in eval mode, z_dim) of one of our finished runs: its config.json and model.pt."""
    from ..config import RunConfig
    from ..data.streams import data_shape
    from ..models import build_models

    d = Path(run_dir).expanduser()
    if not (d / "config.json").is_file() or not (d / "model.pt").is_file():
        raise ConfigError(f"run: {d} is not a finished run directory (config.json and model.pt)")
    try:
        config = RunConfig.from_dict(json.loads((d / "config.json").read_text()))
        state = torch.load(d / "model.pt", map_location="cpu", weights_only=True)
    except (OSError, ValueError, RuntimeError) as e:
        raise ConfigError(f"run: cannot read {d} ({_first_line(e)})") from None
    channels, resolution = data_shape(config)  # the data set's shape decides the architecture's, as when the run trained
    g, _ = build_models(config, channels, resolution)
    g.load_state_dict(state["generator"])
    return g.eval(), config.z_dim


@torch.no_grad()
def generate(generator: Callable[[Tensor], Tensor], z_dim: int, n: int, seed: int = 0, batch: int = 500) -> Tensor:
    """n samples of the generator from latents N(0, I) seeded by `seed` alone; float or uint8 as the generator returns them."""
    if z_dim <= 0 or n <= 0:
        raise ConfigError(f"generator: --z-dim and --num-samples must be positive integers, got {z_dim} and {n}")
    zs = torch.randn(n, z_dim, generator=torch.Generator().manual_seed(seed))  # (n, z_dim), drawn at once: batching changes no draw
    out = []
    for start in range(0, n, batch):
        z = zs[start : start + batch]  # (b, z_dim)
        try:
            x = generator(z)
        except Exception as e:
            raise ConfigError(f"generator: calling it on latents of shape {tuple(z.shape)} failed ({_first_line(e)}); is --z-dim right?") from None
        if not torch.is_tensor(x):
            raise ConfigError(f"generator: returned {type(x).__name__}, expected a tensor of images (N, C, H, W)")
        out.append(x.detach().cpu())
    return torch.cat(out)


__all__ = ["generate", "load_generator", "load_run_generator"]
