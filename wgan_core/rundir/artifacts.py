"""What a finished run stores for its report, computed once when the run ends: runs write, reports read.

`toy_artifacts` (the toy evaluator's end of a run, wgan_core.training.evaluators) writes, beside final.json:
  * toy runs: panel.npz -- 1,000 generated and 1,000 real samples of the run's fixed
    evaluation batch and the critic's values on a 128 x 128 grid over [-2, 2]^2
    (wgan_core.rundir.panel reads and draws it) -- and, on the Gaussian mixtures, the mode
    statistics with the published definition (VEEGAN, PacGAN: 2,500 samples), returned as
    '<name>_2500' metrics for final.json;
`write_artifacts` (called by every GAN run at its end) writes:
  * every run: samples.png (drawn from panel.npz for toy runs, an 8 x 8 grid for images), and
    critic_weights.csv, the histogram of the critic's final weights (what clipping does to them,
    WGAN-GP paper Fig. 1b), with the share at the largest |w| as a final metric.
The report then needs no model, no torch and no model.pt.

`complete_run` fills these in for a toy run directory written before they existed, from its
model.pt, through the same two functions (one code path); `complete_study` does it
for every run of a study. The CLI's `report` command and the ablation script call it.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from ..config import RunConfig
from ..data.streams import toy_eval_points
from ..fileio import atomic_write_bytes, write_json, write_rows
from ..metrics.toy import TOY_SAMPLES, mode_stats
from ..runtime import eval_batch
from ..seeds import subseed
from .names import PANEL_FILE, WEIGHTS_FILE, has_modes, missing

PANEL_SAMPLES = 1000  # samples of each kind drawn in a toy panel
PANEL_GRID = 128  # critic evaluations per axis
PANEL_LIM = 2.0  # the grid spans [-PANEL_LIM, PANEL_LIM]^2 (both toy mixtures lie within +-1.5)
MODE_KEYS = ("modes", "modes_strict", "high_quality", "reverse_kl")


@torch.no_grad()
def _sample(generator: nn.Module, z: Tensor, device: torch.device) -> Tensor:
    """G(z) in eval mode, in one batch, on the CPU in float32."""
    was_training = generator.training
    generator.eval()
    out = generator(z.to(device)).float().cpu()
    generator.train(was_training)
    return out


def published_mode_stats(config: RunConfig, generator: nn.Module, device: torch.device, last: dict[str, Any]) -> dict[str, float]:
    """modes, modes_strict, high_quality, reverse_kl on 2,500 samples, as '<name>_2500' (VEEGAN/PacGAN's sample size).

    The run's own last evaluation when it evaluated 2,500 samples; otherwise 2,500 samples
    of the run's evaluation latent stream (the same latents for every variant of a seed).
    NaN when the generator's output is not finite.
    """
    if config.eval_samples == TOY_SAMPLES:
        return {f"{k}_2500": last.get(k, math.nan) for k in MODE_KEYS}
    z = torch.randn(TOY_SAMPLES, config.z_dim, generator=torch.Generator().manual_seed(subseed(config.seed, "eval")))
    x = _sample(generator, z, device)  # (2500, 2)
    if not torch.isfinite(x).all():
        return {f"{k}_2500": math.nan for k in MODE_KEYS}
    return {f"{k}_2500": v for k, v in mode_stats(x, config.dataset).items()}


@torch.no_grad()
def toy_panel(config: RunConfig, generator: nn.Module, critic: nn.Module, device: torch.device) -> dict[str, np.ndarray]:
    """fake (1000, 2) and real (1000, 2) of the run's evaluation batch, grid (128,), critic values (128, 128) at (grid[j], grid[i])."""
    g, batch = eval_batch(config)
    real = toy_eval_points(config.dataset, config.eval_samples, g)  # the run's evaluation batch: the same draws as training's
    fake = _sample(generator, batch["z"][:PANEL_SAMPLES], device)  # (1000, 2)
    xs = torch.linspace(-PANEL_LIM, PANEL_LIM, PANEL_GRID)
    gx, gy = torch.meshgrid(xs, xs, indexing="xy")
    points = torch.stack([gx.reshape(-1), gy.reshape(-1)], 1)  # (128*128, 2)
    was_training = critic.training
    critic.eval()
    values = critic(points.to(device)).float().cpu().reshape(PANEL_GRID, PANEL_GRID)
    critic.train(was_training)
    return {"fake": fake.numpy(), "real": real[:PANEL_SAMPLES].numpy(), "grid": xs.numpy(), "values": values.numpy()}


def toy_artifacts(
    out: Path, config: RunConfig, generator: nn.Module, critic: nn.Module, device: torch.device, last: dict[str, Any]
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """A finished toy run's panel, written to panel.npz, and on data with modes the published 2,500-sample mode
    statistics: (panel, metrics for final.json)."""
    panel = toy_panel(config, generator, critic, device)
    buf = io.BytesIO()
    np.savez(buf, **panel)
    atomic_write_bytes(Path(out) / PANEL_FILE, buf.getvalue())
    return panel, (published_mode_stats(config, generator, device, last) if has_modes(config.dataset) else {})


WEIGHT_BINS = 81  # odd, so one bin is centred on 0


def critic_weights(critic: nn.Module) -> Tensor:
    """Every weight of the critic's linear and convolution layers (as used: after spectral normalisation), flattened, float32 on the CPU."""
    layers = [m for m in critic.modules() if isinstance(m, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d))]
    with torch.no_grad():
        return torch.cat([m.weight.detach().float().reshape(-1).cpu() for m in layers])


def weight_histogram(weights: Tensor) -> tuple[list[dict[str, float]], float]:
    """(rows of bin_left, bin_right, count over [-max|w|, max|w|], share of weights with |w| >= 0.99 max|w|).

    Weight clipping piles weights at +-c (WGAN-GP paper, Fig. 1b): a large share at the maximum.
    """
    top = float(weights.abs().max()) if len(weights) else 0.0
    if top == 0.0 or not np.isfinite(top):
        return [], math.nan
    counts, edges = np.histogram(weights.numpy(), bins=WEIGHT_BINS, range=(-top, top))
    rows = [{"bin_left": float(a), "bin_right": float(b), "count": int(c)} for a, b, c in zip(edges[:-1], edges[1:], counts)]
    return rows, float((weights.abs() >= 0.99 * top).float().mean())


def write_artifacts(
    out: Path, config: RunConfig, generator: nn.Module, critic: nn.Module, device: torch.device, step: int, panel: dict[str, np.ndarray] | None = None
) -> dict[str, Any]:
    """Write a finished run's critic weight histogram and samples.png into `out` (drawn from `panel` where the run's
    evaluator made one: toy_artifacts); returns the metrics to add to final.json's 'metrics'."""
    from .samples import save_samples

    out = Path(out)
    extra: dict[str, Any] = {}
    rows, at_max = weight_histogram(critic_weights(critic))
    write_rows(out / WEIGHTS_FILE, rows)
    extra["critic_weights_at_max"] = at_max
    sample: Callable[[Tensor], Tensor] = lambda z: _sample(generator, z, device)  # noqa: E731
    save_samples(config, sample, panel, out / "samples.png", step)
    return extra


def complete_run(run_dir: Path) -> bool:
    """Compute what a finished run lacks from its model.pt, with write_artifacts; False if there is nothing to do or no model.pt."""
    from ..models import build_models

    run_dir = Path(run_dir)
    if not missing(run_dir) or not (run_dir / "model.pt").exists():
        return False
    config = RunConfig.from_json(run_dir / "config.json")
    final = json.loads((run_dir / "final.json").read_text())
    g, d = build_models(config)
    state = torch.load(run_dir / "model.pt", map_location="cpu", weights_only=True)
    g.load_state_dict(state["generator"])
    d.load_state_dict(state["critic"])
    cpu, last = torch.device("cpu"), final.get("metrics", {})
    panel, extra = toy_artifacts(run_dir, config, g, d, cpu, last)  # missing() names toy runs only
    extra.update(write_artifacts(run_dir, config, g, d, cpu, int(final.get("steps") or 0), panel))
    final.setdefault("metrics", {}).update(extra)
    write_json(run_dir / "final.json", final)
    return True


def complete_study(root: Path) -> list[str]:
    """complete_run for every run directory under root; returns the ids of the runs it completed ([] if root is no directory)."""
    root = Path(root).expanduser()
    if not root.is_dir():
        return []  # the report names the mistake
    return [p.name for p in sorted(root.iterdir()) if p.is_dir() and complete_run(p)]


__all__ = ["complete_run", "complete_study", "published_mode_stats", "toy_artifacts", "toy_panel", "write_artifacts"]
