"""One run: its models, optimisers, random streams, statistics, evaluation and checkpoint state.

`Trainer.step()` is one generator iteration of this run alone: the step itself is written once,
in wgan_core.training.step (`Stepper`, S = 1 here); the loop (wgan_core.training.loop) drives
steppers, and a seed ensemble steps several trainers as one.

Matched runs: for a seed, the initial weights (models.build_models), the real
batches (data streams), the latent noise of critic and generator steps, the
interpolation weights and the evaluation batch each come from their own seeded
stream, so two variants differ only in their objective.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from ..config import RunConfig
from ..data.streams import make_stream
from ..fileio import atomic_torch_save
from ..losses import get_loss
from ..models import build_models
from ..penalties import get_constraint, input_grad_norms, interpolate
from ..plugins import load_plugins
from ..rundir.artifacts import write_artifacts
from ..runtime import eval_batch, make_optimizer, resolve_device
from ..seeds import subseed
from .ensemble import Ensemble
from .evaluators import Finished, Sampled, evaluators_for
from .stats import STAT_NAMES, RunningStats
from .step import Stepper


class Trainer:
    """One run's models, optimisers, random streams and running statistics; `step()` trains it alone (S = 1).

    The GAN run's trainer of the run contract (protocol.RunContract) and a member of the step (protocol.Member).
    """

    config: RunConfig
    device: torch.device
    step_count: int
    last_samples: Tensor | None
    stats: RunningStats
    checkpoint_keys = ("step", "generator", "critic", "rng")  # a checkpoint without these is unreadable
    rate_key = "gen_iters_per_s"  # final.json's name for step_count / train_time

    def __init__(self, config: RunConfig, images: Tensor | None = None, data_from: Trainer | None = None) -> None:
        """images: optional uint8 (N, C, H, W) training set to use instead of loading config.dataset (benchmarks).
        data_from: a trainer of the same data (another seed) whose device copy of the data set this one shares."""
        c = self.config = config
        self.device = dev = resolve_device(c.device)
        load_plugins(c.plugins)  # a config unpickled in a worker process skipped __post_init__: register its plug-ins here
        self.loss = get_loss(c.loss)  # the registered critic and generator losses
        self.constraint = get_constraint(c.constraint)  # the registered penalty and/or after-step hook
        like = data_from.stream if data_from is not None else None
        self.stream = make_stream(c, dev, subseed(c.seed, "data"), images, like)  # raises ConfigError before anything is written
        info = self.stream.info
        self.channels, self.resolution = info.channels, info.resolution
        g, d = build_models(c, self.channels, self.resolution)
        fmt = torch.channels_last if (c.channels_last and self.channels > 0) else torch.preserve_format  # 4-D data only
        self.generator = g.to(dev, memory_format=fmt)
        self.critic = d.to(dev, memory_format=fmt)
        self.opt_g = make_optimizer(c.optimizer, self.generator.parameters(), c.lr_g, (c.beta1, c.beta2))
        self.opt_d = make_optimizer(c.optimizer, self.critic.parameters(), c.lr_d, (c.beta1, c.beta2))
        # The modules the step calls: compiled where torch.compile supports it. The critic of a
        # penalty variant stays eager: torch.compile does not support double backward.
        self.call_g, self.call_d = self.generator, self.critic
        if c.compile:
            self.call_g = torch.compile(self.generator)
            if not self.constraint.double_backward:
                self.call_d = torch.compile(self.critic)
        # Separate streams so each is consumed identically by every variant of a seed.
        self.noise_gen = torch.Generator(dev).manual_seed(subseed(c.seed, "critic-noise"))
        self.gen_noise_gen = torch.Generator(dev).manual_seed(subseed(c.seed, "generator-noise"))
        # The penalty's own randomness (interpolation weights): consumed only by penalties that need it.
        self.eps_gen = torch.Generator(dev).manual_seed(subseed(c.seed, "interpolation"))
        # Real and fake in one critic forward saves kernel launches on a GPU. On a 2-core CPU it
        # saves nothing (DCGAN 28x28, width 64: a wgan-gp critic step took 96 ms joint and 92 ms
        # separate, interleaved medians of 20), so the CPU keeps separate forwards. Batch norm
        # couples samples, so a batch-norm critic always sees real and fake separately.
        self.joint_forward = dev.type == "cuda" and not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in d.modules())
        self.step_count = 0
        self.evaluated_at = 0  # the step of the last evaluation: the statistics sum the steps since
        self.stats = RunningStats.zeros(dev)  # on the device (the step never reads them back): the stepper adds to them
        self._eval_cache: dict[str, Any] | None = None
        self.zero = torch.zeros((), device=dev)
        self.last_samples: Tensor | None = None  # the last evaluation's samples (CPU)

    # ------------------------------------------------------------------------------------------
    def latents(self, gen: torch.Generator, k: int) -> Tensor:
        """k consecutive latent batches (k*B, z_dim), drawn one batch at a time so streams stay matched across n_critic."""
        b, z = self.config.batch_size, self.config.z_dim
        return torch.cat([torch.randn(b, z, generator=gen, device=self.device) for _ in range(k)])

    def draw_critic_inputs(self) -> tuple[Tensor, Tensor]:
        """Real batches and latents for the n_critic critic steps of one iteration: real (k*B, ...), z (k*B, z_dim).

        Every stream is drawn once per iteration, one batch at a time, so it is consumed
        identically by every variant (a penalty draws its interpolation weights from
        eps_gen inside each critic step, one batch at a time, in the same order).
        """
        k = self.config.n_critic
        return self.stream.next(k), self.latents(self.noise_gen, k)

    def draw_generator_latents(self) -> Tensor:
        """The generator step's latent batch (B, z_dim), from its own stream."""
        return self.latents(self.gen_noise_gen, 1)

    @classmethod
    def stepper_for(cls, trainers: list[Trainer]) -> Stepper:
        """One trainer steps alone (S = 1); several (seeds of one cell, at one step) as one ensemble of stacked modules."""
        return Stepper(trainers) if len(trainers) == 1 else Ensemble(trainers)

    def step(self) -> None:
        """One generator iteration of this run alone: n_critic critic updates, then one generator update (training.step)."""
        stepper = Stepper([self])  # this run's own modules and statistics: nothing is copied
        stepper.step()
        stepper.write_back()

    # ------------------------------------------------------------------------------------------
    def diverged_at(self) -> int | None:
        """The first generator iteration whose losses were not finite, or None. Reads from the device."""
        s = int(self.stats.bad_step)
        return s if s >= 0 else None

    def eval_inputs(self) -> dict[str, Any]:
        """Fixed evaluation inputs, identical for every variant and every evaluation of a seed."""
        if self._eval_cache is None:
            c = self.config
            g, cache = eval_batch(c)
            cache["real"] = self.stream.eval_real(g, c.eval_samples)  # (m, ...) on the CPU: the data kind's fixed real batch
            cache["eps"] = torch.rand(len(cache["real"]), generator=g)
            self._eval_cache = cache
        return self._eval_cache

    @torch.no_grad()
    def sample(self, z: Tensor, chunk: int = 1000) -> Tensor:
        """Generator samples for latents z (n, z_dim), in eval mode (batch-norm running statistics), on the CPU."""
        was_training = self.generator.training
        self.generator.eval()
        out = torch.cat([self.generator(z[i : i + chunk].to(self.device)).float().cpu() for i in range(0, len(z), chunk)])
        self.generator.train(was_training)
        return out

    def grad_norm_stats(self, real: Tensor, fake: Tensor, eps: Tensor, chunk: int = 512) -> dict[str, float]:
        """Mean, std and share above 1 of ||grad D(x_hat)|| at interpolates: the WGAN-GP paper's diagnostic, for every variant."""
        was_training = self.critic.training
        self.critic.eval()
        x_hat = interpolate(real, fake[: len(real)], eps)
        norms = torch.cat([input_grad_norms(self.critic, x_hat[i : i + chunk].to(self.device)).cpu() for i in range(0, len(x_hat), chunk)])
        self.critic.train(was_training)
        return {"grad_norm_mean": norms.mean().item(), "grad_norm_std": norms.std().item(), "grad_norm_above1": (norms > 1).float().mean().item()}

    def generator_grad_stats(self, fake: Tensor, real: Tensor, chunk: int = 512) -> dict[str, float]:
        """Saturation: mean over samples of |dL_G / dD(G(z))| per sample (N times the gradient of the batch-mean loss).

        On the fixed evaluation fakes (and as many real samples, paired by position, for
        relativistic losses). Goodfellow et al.'s argument: the minimax loss's derivative
        -sigmoid(s) vanishes where the critic rejects the fakes, while the non-saturating
        loss's sigmoid(s) - 1 stays near -1 there; a Wasserstein or hinge generator's is 1.
        """
        was_training = self.critic.training
        self.critic.eval()
        n = min(len(fake), len(real))
        total = 0.0
        with torch.enable_grad():
            for i in range(0, n, chunk):
                f, r = fake[i : min(i + chunk, n)].to(self.device), real[i : min(i + chunk, n)].to(self.device)
                with torch.no_grad():
                    s_fake = self.critic(f).float().reshape(-1)  # (b,)
                    s_real = self.critic(r).float().reshape(-1) if self.loss.generator_needs_real else None
                s_fake.requires_grad_(True)
                (g,) = torch.autograd.grad(self.loss.generator(s_fake, s_real), s_fake)
                total += (g.abs() * len(s_fake)).sum().item()  # per-sample derivative, summed over the chunk
        self.critic.train(was_training)
        return {"gen_score_grad": total / n if n else math.nan}

    def evaluate(self) -> dict[str, Any]:
        """One row of metrics.csv: mean losses since the last evaluation, gradient-norm statistics, quality metrics."""
        ev = self.eval_inputs()
        row: dict[str, Any] = {"step": self.step_count}
        row.update(zip(STAT_NAMES, self.stats.take_means(self.step_count - self.evaluated_at)))
        self.evaluated_at = self.step_count
        fake = self.last_samples = self.sample(ev["z"])  # (n, ...) on the CPU; kept for the TensorBoard log
        row.update(self.grad_norm_stats(ev["real"], fake, ev["eps"]))
        if torch.isfinite(fake).all():
            row.update(self.generator_grad_stats(fake, ev["real"]))
        sampled = Sampled(self.config, fake, ev["real"], ev, self.device)
        for evaluator in evaluators_for(self.config):  # the data kind's metrics (training/evaluators.py)
            if evaluator.at_evaluation is not None:
                row.update(evaluator.at_evaluation(sampled))
        return row

    def finish_run(self, out: Path, rows: list[dict[str, Any]], diverged: int | None) -> dict[str, Any]:
        """final.json's metrics: the last evaluation's row, and unless the run diverged what its data kind's
        evaluators measure at the end (full-size FID/KID, mode counts, the toy panel), the report's files and model.pt."""
        c = self.config
        metrics = dict(rows[-1]) if rows else {}
        if diverged is not None:
            return metrics
        files: dict[str, Any] = {}  # what the evaluators leave for the run's files (the toy panel)
        for evaluator in evaluators_for(c):
            if evaluator.at_end is not None:
                metrics.update(evaluator.at_end(Finished(c, self.sample, self.generator, self.critic, self.device, out, metrics, files)))
        # Everything the report shows is computed here, once: it then reads files only (no model, no torch).
        metrics.update(write_artifacts(out, c, self.generator, self.critic, self.device, self.step_count, files.get("panel")))
        atomic_torch_save({"generator": self.generator.state_dict(), "critic": self.critic.state_dict()}, out / "model.pt")
        return metrics

    # ------------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue bit-identically: weights, optimisers, every random stream."""
        return {
            "step": self.step_count,
            "generator": self.generator.state_dict(),
            "critic": self.critic.state_dict(),
            "opt_g": self.opt_g.state_dict(),
            "opt_d": self.opt_d.state_dict(),
            "rng": {
                "data": self.stream.state_dict(),
                "critic_noise": self.noise_gen.get_state(),
                "generator_noise": self.gen_noise_gen.get_state(),
                "interpolation": self.eps_gen.get_state(),
            },  # training draws from these streams only, never from the global generator
            **self.stats.state_dict(),  # sums, bad_step, last_penalty
            "n_summed": self.step_count - self.evaluated_at,
        }

    def load_state_dict(self, s: dict[str, Any]) -> None:
        self.step_count = int(s["step"])
        self.generator.load_state_dict(s["generator"])
        self.critic.load_state_dict(s["critic"])
        self.opt_g.load_state_dict(s["opt_g"])
        self.opt_d.load_state_dict(s["opt_d"])
        r = s["rng"]
        self.stream.load_state_dict(r["data"])
        self.noise_gen.set_state(r["critic_noise"])
        self.gen_noise_gen.set_state(r["generator_noise"])
        self.eps_gen.set_state(r["interpolation"])
        self.stats = RunningStats.from_state(s, self.device)
        self.evaluated_at = self.step_count - int(s["n_summed"])


