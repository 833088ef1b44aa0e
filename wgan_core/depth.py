"""The WGAN-GP paper's Figure 1b: per-layer gradient norms of a deep critic under weight clipping vs the gradient penalty.

Gulrajani et al. (2017, sec. 3 and Fig. 1b) train a 12-layer ReLU critic on the
Swiss roll with the generator held fixed at the real distribution plus
unit-variance Gaussian noise, and show that with weight clipping the gradient
norms explode or vanish from layer to layer (depending on c), while with the
gradient penalty they stay stable. `train_depth` is that experiment: a
critic-only loop, no generator.

Recorded quantities, on a fixed evaluation batch, every `record_every` critic
steps: for each of the `depth` linear layers l,
    weight:     || d L / d W_l ||_F              (W_l: the layer's weight matrix)
    activation: || d L / d h_l ||_F / sqrt(N)    (h_l: the layer's output, N samples)
where L = E[D(fake)] - E[D(real)] is the Wasserstein critic loss without the
penalty, so clipping and penalty are measured on the same quantity.

Runs are short (minutes), so they keep no checkpoint: an interrupted run starts
again from step 0 (its directory holds no final.json); a finished one is skipped.
"""

from __future__ import annotations

import copy
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from .config import ConfigError, JsonConfig
from .data import sample_toy
from .data.registry import names as dataset_names
from .fileio import write_json, write_rows
from .penalties import get_constraint
from .runtime import check_out_dir, make_optimizer, progress_bar, resolve_device
from .seeds import subseed

DEPTH_CONSTRAINTS = ("clip", "gp")  # the two constraints of the paper's figure (registered in wgan_core.penalties)


@dataclass(frozen=True)
class DepthConfig(JsonConfig):
    """One critic-only run of the depth experiment. JSON in and out; `run_id()` names its directory."""

    _what = "depth config"

    experiment: str = "depth"  # marks config.json as a depth run (the report reads it)
    constraint: str = "gp"  # clip | gp
    clip_value: float = 0.01  # c of weight clipping
    penalty_weight: float = 0.1  # lambda of the gradient penalty (WGAN-GP toy code: 0.1)
    depth: int = 12  # linear layers of the critic (ReLU between them)
    width: int = 128  # hidden width
    dataset: str = "swissroll"  # a toy data set
    noise_std: float = 1.0  # the fixed "generator": real samples + N(0, noise_std^2)
    steps: int = 500  # critic iterations
    batch_size: int = 256
    optimizer: str = ""  # '' = the constraint's own: rmsprop 5e-5 (clip, WGAN) | adam 1e-4, betas (0.5, 0.9) (gp, WGAN-GP toy code)
    lr: float = 0.0  # 0 = the optimizer's default above
    record_every: int = 100  # critic steps between gradient-norm records
    eval_samples: int = 1024  # fixed evaluation batch for the records
    seed: int = 0
    device: str = "auto"

    def __post_init__(self) -> None:
        def need(ok: bool, message: str) -> None:
            if not ok:
                raise ConfigError(message)

        self._check_types()  # types first (JSON and --set values), so the checks below compare like with like
        need(self.experiment == "depth", f"experiment: must be 'depth', got {self.experiment!r}")
        need(self.constraint in DEPTH_CONSTRAINTS, f"constraint: unknown {self.constraint!r}; allowed: {', '.join(DEPTH_CONSTRAINTS)}")
        toy = dataset_names("toy")
        need(self.dataset in toy, f"dataset: the depth experiment needs a toy data set ({', '.join(toy)}), got {self.dataset!r}")
        need(self.optimizer in ("", "adam", "rmsprop"), f"optimizer: unknown {self.optimizer!r}; allowed: adam, rmsprop")
        for name in ("depth", "width", "steps", "batch_size", "record_every", "eval_samples"):
            need(isinstance(getattr(self, name), int) and getattr(self, name) > 0, f"{name}: must be a positive integer, got {getattr(self, name)!r}")
        need(self.depth >= 2, f"depth: need at least 2 layers, got {self.depth}")
        need(self.clip_value > 0, f"clip_value: c must be > 0, got {self.clip_value}")
        need(self.penalty_weight >= 0 and self.noise_std >= 0 and self.lr >= 0, "penalty_weight, noise_std and lr must be >= 0")

    @property
    def variant(self) -> str:
        return self.constraint

    @property
    def label(self) -> str:
        return f"clip c={self.clip_value:g}" if self.clips else f"gp λ={self.penalty_weight:g}"

    @property
    def kind(self) -> str:
        return "depth"

    @property
    def clips(self) -> bool:
        """Whether the constraint acts after each critic step (weight clipping), read from the registry."""
        return get_constraint(self.constraint).after_critic_step is not None

    def resolved_optimizer(self) -> tuple[str, float]:
        opt = self.optimizer or ("rmsprop" if self.clips else "adam")
        return opt, self.lr or (5e-5 if opt == "rmsprop" else 1e-4)


def deep_critic(depth: int, width: int, in_dim: int = 2) -> nn.Sequential:
    """x (N, in_dim) -> scores (N, 1): `depth` linear layers with ReLU between them."""
    layers: list[nn.Module] = []
    d = in_dim
    for _ in range(depth - 1):
        layers += [nn.Linear(d, width), nn.ReLU()]
        d = width
    layers.append(nn.Linear(d, 1))
    return nn.Sequential(*layers)


def layer_grad_norms(critic: nn.Sequential, real: Tensor, fake: Tensor) -> tuple[list[float], list[float]]:
    """(weight norms, activation norms), one per linear layer, of the gradient of E[D(fake)] - E[D(real)].

    Computed in float64 on a copy of the critic: under clipping with c = 0.001 the
    early layers' gradients fall below float32's range (~1e-45) and would read 0.
    """
    critic = copy.deepcopy(critic).double()
    real, fake = real.double(), fake.double()
    linears = [m for m in critic if isinstance(m, nn.Linear)]
    outs: list[Tensor] = []

    def keep(_module: nn.Module, _inputs: Any, output: Tensor) -> None:  # returns None: the output is unchanged
        output.retain_grad()
        outs.append(output)

    hooks = [m.register_forward_hook(keep) for m in linears]
    try:
        scores = critic(torch.cat([fake, real])).squeeze(-1)  # (2N,)
        n = len(fake)
        loss = scores[:n].mean() - scores[n:].mean()
        loss.backward()
    finally:
        for h in hooks:
            h.remove()
    weight = [m.weight.grad.norm().item() for m in linears]
    activation = [o.grad.norm().item() / math.sqrt(len(o)) for o in outs]
    return weight, activation


def train_depth(config: DepthConfig, out_dir: str | Path, *, progress: bool | None = None, log=print) -> dict[str, Any]:
    """Run (or skip if finished) one depth run in out_dir; returns final.json's contents.

    Writes config.json, depth_grads.csv (step, layer, kind, norm), final.json.
    """
    out = Path(out_dir)
    cfg_path = out / "config.json"
    check_out_dir(config, out)
    if (out / "final.json").exists():
        return json.loads((out / "final.json").read_text())
    c = config
    dev = resolve_device(c.device)
    out.mkdir(parents=True, exist_ok=True)
    write_json(cfg_path, c.to_dict())

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(c.seed)
        critic = deep_critic(c.depth, c.width).to(dev)
    opt_name, lr = c.resolved_optimizer()
    opt = make_optimizer(opt_name, critic.parameters(), lr, (0.5, 0.9))  # betas of the WGAN-GP toy code
    constraint = get_constraint(c.constraint)
    g = torch.Generator(dev).manual_seed(subseed(c.seed, "depth-data"))
    g_eps = torch.Generator(dev).manual_seed(subseed(c.seed, "depth-interpolation"))
    g_eval = torch.Generator(dev).manual_seed(subseed(c.seed, "depth-eval"))

    def batch(n: int, gen: torch.Generator) -> tuple[Tensor, Tensor]:
        real = sample_toy(c.dataset, n, gen, dev)  # (n, 2)
        fake = sample_toy(c.dataset, n, gen, dev) + c.noise_std * torch.randn(n, 2, generator=gen, device=dev)
        return real, fake

    ev_real, ev_fake = batch(c.eval_samples, g_eval)
    rows: list[dict[str, Any]] = []

    def record(step: int) -> None:
        w, a = layer_grad_norms(critic, ev_real, ev_fake)
        for kind, norms in (("weight", w), ("activation", a)):
            rows.extend({"step": step, "layer": i + 1, "kind": kind, "norm": v} for i, v in enumerate(norms))

    t0 = time.perf_counter()
    record(0)
    bar = progress_bar(c.steps, 0, progress, unit="it")
    status, done = "ok", c.steps
    for step in range(1, c.steps + 1):
        real, fake = batch(c.batch_size, g)
        scores = critic(torch.cat([fake, real])).squeeze(-1)
        loss = scores[: c.batch_size].mean() - scores[c.batch_size :].mean()
        if constraint.penalty is not None:
            loss = loss + c.penalty_weight * constraint.penalty(critic, real, fake, g_eps)  # eps drawn from g_eps
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if constraint.after_critic_step is not None:
            constraint.after_critic_step(critic, c)  # weight clipping at c.clip_value
        bar.update(1)
        if step % c.record_every == 0 or step == c.steps:
            if not math.isfinite(loss.item()):
                status, done = "diverged", step
                log(f"depth run diverged: non-finite critic loss at step {step}")
                break
            record(step)
    bar.close()
    write_rows(out / "depth_grads.csv", rows)
    last = [r for r in rows if r["step"] == rows[-1]["step"]]
    wn = [r["norm"] for r in last if r["kind"] == "weight"]
    an = [r["norm"] for r in last if r["kind"] == "activation"]

    def log_ratio(first: float, final: float) -> float:
        return math.log10(first / final) if first > 0 and final > 0 else math.nan
    with torch.no_grad():
        s = critic(torch.cat([ev_fake, ev_real])).squeeze(-1)
        w_est = (s[c.eval_samples :].mean() - s[: c.eval_samples].mean()).item()
    elapsed = time.perf_counter() - t0
    final = {
        "status": status,
        "steps": done,
        "wall_time_s": elapsed,
        "train_time_s": elapsed,
        "variant": c.label,
        "run_id": c.run_id(),
        "metrics": {
            "wasserstein_estimate": w_est,  # E[D(real)] - E[D(fake)] on the evaluation batch
            "grad_norm_first_layer": an[0],  # ||dL/dh_1|| / sqrt(N), the quantity of Fig. 1b
            "grad_norm_last_layer": an[-1],
            # log10 of first / last layer: ~0 when the norms are stable across depth; < 0 vanishing, > 0 exploding
            "log10_grad_ratio": log_ratio(an[0], an[-1]),
            "log10_weight_grad_ratio": log_ratio(wn[0], wn[-1]),  # the same for ||dL/dW_l||
        },
    }
    write_json(out / "final.json", final)
    return json.loads((out / "final.json").read_text())
