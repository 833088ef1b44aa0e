"""The WGAN-GP paper's Figure 1b: per-layer gradient norms of a deep critic under weight clipping vs the gradient penalty.

Gulrajani et al. (2017, sec. 3 and Fig. 1b) train a 12-layer ReLU critic on the
Swiss roll with the generator held fixed at the real distribution plus
unit-variance Gaussian noise, and show that with weight clipping the gradient
norms explode or vanish from layer to layer (depending on c), while with the
gradient penalty they stay stable. `train_depth` is that experiment: a
critic-only run (`DepthTrainer`), no generator.

Recorded quantities, on a fixed evaluation batch, every `record_every` critic
steps: for each of the `depth` linear layers l,
    weight:     || d L / d W_l ||_F              (W_l: the layer's weight matrix)
    activation: || d L / d h_l ||_F / sqrt(N)    (h_l: the layer's output, N samples)
where L = E[D(fake)] - E[D(real)] is the Wasserstein critic loss without the
penalty, so clipping and penalty are measured on the same quantity.

The run is trained by the one training loop (wgan_core.training.loop) with `DepthTrainer`, a
critic-only trainer of the run contract: records are its evaluations, and it checkpoints, stops on
a signal and resumes bit-identically like a GAN run. A job kind (wgan_core.kinds): its config,
trainer, cost, metrics and the report's figure (`plot_depth`, from each run's depth_grads.csv)
are registered at the end of this module, and nothing outside it names it.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from torch import Tensor, nn

from ..config import ConfigError, JsonConfig
from ..data import sample_toy
from ..data.registry import dataset_names
from ..fileio import write_rows
from ..metrics.registry import Metric
from ..penalties import CONSTRAINTS, get_constraint, penalty_scale
from ..report.plots import plt, save_figure  # pyplot under the report's backend
from ..report.sections import RunTable
from ..report.tables import write_csv
from ..runtime import make_optimizer, resolve_device
from ..seeds import subseed
from ..training.loop import train
from .registry import JobKind, register_job_kind

DEPTH_CONSTRAINTS = ("clip", "gp")  # the two constraints of the paper's figure (registered in wgan_core.penalties)


@dataclass(frozen=True)
class DepthConfig(JsonConfig):
    """One critic-only run of the depth experiment. JSON in and out; `run_id()` names its directory."""

    _what = "depth config"

    experiment: str = "depth"  # marks config.json as a depth run (kinds.job_from_dict reads it)
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

    # The loop's schedule: a record is an evaluation, and a checkpoint is saved at each record.
    @property
    def eval_every(self) -> int:
        return self.record_every

    @property
    def checkpoint_every(self) -> int:
        return self.record_every

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
    def penalty_every(self) -> int:
        """Every critic step is penalised (the GAN step's lazy regularisation does not apply)."""
        return 1

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


class DepthTrainer:
    """The depth experiment's critic-only trainer, driven by the one training loop (wgan_core.training.loop).

    One loop step is one critic step on a fresh batch (real, real + noise), each (batch_size, 2);
    an evaluation is a gradient-norm record on the fixed evaluation batch; a checkpoint holds the
    critic, its optimiser and both random streams, so a stopped run resumes bit-identically. It
    steps itself (`stepper_for`): one critic, never a seed ensemble.
    """

    config: DepthConfig
    device: torch.device
    step_count: int
    checkpoint_keys = ("step", "critic", "opt_d", "rng")
    rate_key = "critic_steps_per_s"
    last_samples = None  # no generator: nothing to show in TensorBoard

    def __init__(self, config: DepthConfig) -> None:
        c = self.config = config
        self.device = dev = resolve_device(c.device)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(c.seed)
            self.critic = deep_critic(c.depth, c.width).to(dev)
        opt_name, lr = c.resolved_optimizer()
        self.opt_d = make_optimizer(opt_name, self.critic.parameters(), lr, (0.5, 0.9))  # betas of the WGAN-GP toy code
        self.constraint = get_constraint(c.constraint)
        self.data_gen = torch.Generator(dev).manual_seed(subseed(c.seed, "depth-data"))
        self.eps_gen = torch.Generator(dev).manual_seed(subseed(c.seed, "depth-interpolation"))
        self.ev_real, self.ev_fake = self.batch(c.eval_samples, torch.Generator(dev).manual_seed(subseed(c.seed, "depth-eval")))
        self.step_count = 0
        self.last_loss: Tensor | None = None  # () the latest critic loss, read only at evaluations

    @classmethod
    def stepper_for(cls, trainers: list[DepthTrainer]) -> DepthTrainer:
        """One critic steps itself: never a seed ensemble (its job kind refuses one)."""
        (trainer,) = trainers
        return trainer

    def batch(self, n: int, gen: torch.Generator) -> tuple[Tensor, Tensor]:
        """(real, fake), each (n, 2): the fixed "generator" is the data plus N(0, noise_std^2)."""
        c, dev = self.config, self.device
        real = sample_toy(c.dataset, n, gen, dev)
        fake = sample_toy(c.dataset, n, gen, dev) + c.noise_std * torch.randn(n, 2, generator=gen, device=dev)
        return real, fake

    def step(self) -> None:
        """One critic step: L = E[D(fake)] - E[D(real)] (+ lambda * penalty), then the constraint's after-step hook."""
        c = self.config
        real, fake = self.batch(c.batch_size, self.data_gen)
        scores = self.critic(torch.cat([fake, real])).squeeze(-1)  # (2B,)
        loss = scores[: c.batch_size].mean() - scores[c.batch_size :].mean()
        if self.constraint.penalises:  # the GAN step's penalty call and weight (S = 1; eps from eps_gen)
            loss = loss + penalty_scale(c) * self.constraint.member_penalties(self.critic, real, fake, self.eps_gen, 1)
        self.opt_d.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_d.step()
        if self.constraint.after_critic_step is not None:
            self.constraint.after_critic_step(self.critic, c)  # weight clipping at c.clip_value
        self.last_loss = loss.detach()
        self.step_count += 1

    def write_back(self) -> None:
        """Stepping.write_back: a trainer that steps itself holds everything already."""

    def diverged_at(self) -> int | None:
        """This step if the latest critic loss is not finite (checked at evaluations and checkpoints only)."""
        bad = self.last_loss is not None and not math.isfinite(self.last_loss.item())
        return self.step_count if bad else None

    def evaluate(self) -> dict[str, Any]:
        """One row of metrics.csv: each linear layer's weight and activation gradient norm on the evaluation batch."""
        w, a = layer_grad_norms(self.critic, self.ev_real, self.ev_fake)
        row: dict[str, Any] = {"step": self.step_count}
        row.update({f"weight_{i + 1}": v for i, v in enumerate(w)})
        row.update({f"activation_{i + 1}": v for i, v in enumerate(a)})
        return row

    def finish_run(self, out: Path, rows: list[dict[str, Any]], diverged: int | None) -> dict[str, Any]:
        """Write depth_grads.csv (step, layer, kind, norm) from the records; returns final.json's metrics."""
        c = self.config
        long = [
            {"step": int(r["step"]), "layer": i, "kind": kind, "norm": float(r[f"{kind}_{i}"])}
            for r in rows
            for kind in ("weight", "activation")
            for i in range(1, c.depth + 1)
        ]
        write_rows(out / "depth_grads.csv", long)
        wn = [float(rows[-1][f"weight_{i}"]) for i in range(1, c.depth + 1)]
        an = [float(rows[-1][f"activation_{i}"]) for i in range(1, c.depth + 1)]

        def log_ratio(first: float, final: float) -> float:
            return math.log10(first / final) if first > 0 and final > 0 else math.nan

        with torch.no_grad():
            s = self.critic(torch.cat([self.ev_fake, self.ev_real])).squeeze(-1)  # (2N,)
            w_est = (s[c.eval_samples :].mean() - s[: c.eval_samples].mean()).item()
        return {
            "wasserstein_estimate": w_est,  # E[D(real)] - E[D(fake)] on the evaluation batch
            "grad_norm_first_layer": an[0],  # ||dL/dh_1|| / sqrt(N), the quantity of Fig. 1b
            "grad_norm_last_layer": an[-1],
            # log10 of first / last layer: ~0 when the norms are stable across depth; < 0 vanishing, > 0 exploding
            "log10_grad_ratio": log_ratio(an[0], an[-1]),
            "log10_weight_grad_ratio": log_ratio(wn[0], wn[-1]),  # the same for ||dL/dW_l||
        }

    def state_dict(self) -> dict[str, Any]:
        return {
            "step": self.step_count,
            "critic": self.critic.state_dict(),
            "opt_d": self.opt_d.state_dict(),
            "rng": {"data": self.data_gen.get_state(), "interpolation": self.eps_gen.get_state()},
            "last_loss": self.last_loss,
        }

    def load_state_dict(self, s: dict[str, Any]) -> None:
        self.step_count = int(s["step"])
        self.critic.load_state_dict(s["critic"])
        self.opt_d.load_state_dict(s["opt_d"])
        self.data_gen.set_state(s["rng"]["data"])
        self.eps_gen.set_state(s["rng"]["interpolation"])
        self.last_loss = s["last_loss"].to(self.device) if s["last_loss"] is not None else None


def train_depth(config: DepthConfig, out_dir: str | Path, *, progress: bool | None = None, log=print) -> dict[str, Any]:
    """Run (or resume, or skip if finished) one depth run in out_dir through the one training loop; returns final.json.

    Writes config.json, metrics.csv (one wide row per record), checkpoint.pt every record_every steps,
    depth_grads.csv (step, layer, kind, norm) and final.json; a stop signal saves and raises signals.Interrupted.
    """
    return train(config, out_dir, progress=progress, log=log, make=DepthTrainer)


# ----------------------------------------------------------------------------------------------
# The report's figure, and the kind's registration.
# ----------------------------------------------------------------------------------------------
def plot_depth(depth: pd.DataFrame, colors: dict, out: Path) -> Path | None:
    """WGAN-GP Fig. 1b: per-layer gradient norms (log scale) at the end of training, mean and range over seeds."""
    if depth.empty:
        return None
    last = depth[depth["step"] == depth.groupby("run_id")["step"].transform("max")]
    data = last.groupby(["cell", "kind", "layer"], sort=False)["norm"].agg(["mean", "min", "max", "count"]).reset_index()
    kinds = [k for k in ("weight", "activation") if k in set(data["kind"])]
    fig, axes = plt.subplots(1, len(kinds), figsize=(5.5 * len(kinds), 4), squeeze=False)
    for ax, kind in zip(axes[0], kinds):
        d = data[data["kind"] == kind]
        for cell in [c for c in colors if c in set(d["cell"])]:
            g = d[d["cell"] == cell].sort_values("layer")
            pos = g[g["mean"] > 0]
            ax.plot(pos["layer"], pos["mean"], marker="o", ms=3, color=colors[cell], label=cell)
            ax.fill_between(pos["layer"], pos["min"].clip(lower=pos["mean"].min() * 1e-3), pos["max"], color=colors[cell], alpha=0.15, lw=0)
        ax.set_yscale("log")
        ax.set_xlabel("critic layer (1 = input)")
        ax.set_ylabel("gradient norm (log scale)")
        what = "||dL/dW_l||" if kind == "weight" else "||dL/dh_l|| / sqrt(N)"
        ax.set_title(f"{what} after training", fontsize=9)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7)
    fig.suptitle("12-layer ReLU critic on swissroll, generator = data + N(0, 1): clipping vs gradient penalty", fontsize=9)
    fig.tight_layout()
    path = out / "depth_grad_norms.png"
    save_figure(fig, path)
    write_csv(data, path.with_suffix(".csv"))
    return path


def depth_cost(job: DepthConfig) -> float:
    """Critic steps only, no evaluations; a penalised step weighs 3."""
    return job.steps * (3.0 if CONSTRAINTS[job.constraint].double_backward else 1.0)


METRICS = {
    "wasserstein_estimate": Metric(None, "critic's W estimate"),
    "grad_norm_first_layer": Metric(None, "grad norm, layer 1"),
    "grad_norm_last_layer": Metric(None, "grad norm, last layer"),
    "log10_grad_ratio": Metric(None, "log10 first/last layer grad norm (activations)", shown=True),
    "log10_weight_grad_ratio": Metric(None, "log10 first/last layer grad norm (weights)"),
}
FIGURE = RunTable("depth_grads.csv", "Per-layer gradient norms of a 12-layer critic (WGAN-GP Fig. 1b)", plot_depth, "depth_grad_norms")

KIND = register_job_kind(
    "depth",
    JobKind(DepthConfig, DepthTrainer, "depth", depth_cost, lambda job: "the depth experiment trains one critic alone", METRICS, {"depth": FIGURE}),
)

__all__ = ["DEPTH_CONSTRAINTS", "KIND", "DepthConfig", "DepthTrainer", "deep_critic", "layer_grad_norms", "plot_depth", "train_depth"]
