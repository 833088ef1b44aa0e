"""One run's trainer: `Trainer.step()` is one generator iteration (wgan_core.training.loop runs it).

Matched runs: for a seed, the initial weights (models.build_models), the real
batches (data streams), the latent noise of critic and generator steps, the
interpolation weights and the evaluation batch each come from their own seeded
stream, so two variants differ only in their objective.

Speed (see benchmarks/throughput.py): the step never reads a value back to the
host; running sums of the losses live on the device and are read at evaluation
time. The data set is a device tensor indexed directly. The fakes for the
critic steps come from generator forwards under no_grad (the critic step does
not train the generator). On a GPU, real and fake go through the critic in one
forward. The critic's parameters stop requiring grad during the generator step,
so no critic weight gradients are computed there.
"""

from __future__ import annotations

import contextlib
import math
from typing import Any

import torch
from torch import Tensor, nn

from ..config import RunConfig
from ..data.streams import make_stream
from ..losses import get_loss
from ..metrics.toy import toy_metrics, w1_floor
from ..models import build_models
from ..penalties import get_constraint, input_grad_norms, interpolate
from ..plugins import load_plugins
from ..runtime import eval_batch, make_optimizer, resolve_device, subseed

STAT_NAMES = ("critic_loss", "generator_loss", "wasserstein", "penalty")


class Stepper:
    """What one run (`Trainer`) and a seed ensemble (`training.ensemble.Ensemble`) share: the iteration itself.

    `step()` = n_critic critic updates, then one generator update, written once for both. A
    subclass supplies `critic_inputs()` (the iteration's real batches and latents, critic step i's
    rows at [i*n, (i+1)*n)), `fakes`, `critic_step` and `generator_step`; losses and statistics are
    scalars for one run and (S,) for an ensemble of S members. The loop talks to a stepper only
    through `step`, `diverged_at`-style member reads after `write_back`, and `read_stats`.
    """

    config: RunConfig
    device: torch.device
    step_count: int
    _sums: Tensor  # (4,) or (S, 4): running sums of STAT_NAMES since the last evaluation
    _n_summed: int
    _bad_step: Tensor  # () or (S,): the first step with a non-finite statistic, -1 if none
    _last_penalty: Tensor  # () or (S,)

    def _autocast(self) -> contextlib.AbstractContextManager:
        if self.config.amp == "bf16":
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def critic_inputs(self) -> tuple[Tensor, Tensor]:
        raise NotImplementedError

    def fakes(self, z: Tensor) -> Tensor:
        raise NotImplementedError

    def critic_step(self, real: Tensor, fake: Tensor, with_penalty: bool = True) -> tuple[Tensor, Tensor, Tensor]:
        raise NotImplementedError

    def generator_step(self, real: Tensor | None = None) -> Tensor:
        raise NotImplementedError

    def step(self) -> None:
        """One generator iteration: n_critic critic updates, then one generator update."""
        k, every = self.config.n_critic, self.config.penalty_every
        real, z = self.critic_inputs()  # (k*n, ...), (k*n, z_dim): n rows per critic step (B, or S*B)
        n = real.shape[0] // k
        for i in range(k):
            part = slice(i * n, (i + 1) * n)
            fake = self.fakes(z[part]).to(real.dtype)  # (n, ...)
            lazy = (self.step_count * k + i) % every == 0  # the critic step's index over the run: no extra state to checkpoint
            loss_d, w_est, pen = self.critic_step(real[part], fake, with_penalty=lazy)
            if lazy:
                self._last_penalty = pen  # the last penalty computed: a lazy run computes none on most steps
        loss_g = self.generator_step(real[part])
        self.step_count += 1
        # Statistics stay on the device (no host sync in the step); read at evaluation time.
        stats = torch.stack([loss_d, loss_g, w_est, self._last_penalty], -1).float()  # (4,) or (S, 4)
        self._sums += stats
        self._n_summed += 1
        bad = ~torch.isfinite(stats).all(-1)  # () or (S,)
        self._bad_step = torch.where(bad & (self._bad_step < 0), self.step_count, self._bad_step)



class Trainer(Stepper):
    """One run's models, optimisers and random streams; the S = 1 case of a stepper (its own only member)."""

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
        fmt = torch.channels_last if (c.channels_last and c.kind == "image") else torch.preserve_format
        self.generator = g.to(dev, memory_format=fmt)
        self.critic = d.to(dev, memory_format=fmt)
        self.opt_g = make_optimizer(c.optimizer, self.generator.parameters(), c.lr_g, (c.beta1, c.beta2))
        self.opt_d = make_optimizer(c.optimizer, self.critic.parameters(), c.lr_d, (c.beta1, c.beta2))
        # The modules the step calls: compiled where torch.compile supports it. The critic of a
        # penalty variant stays eager: torch.compile does not support double backward.
        self._g, self._d = self.generator, self.critic
        if c.compile:
            self._g = torch.compile(self.generator)
            if not self.constraint.double_backward:
                self._d = torch.compile(self.critic)
        # Separate streams so each is consumed identically by every variant of a seed.
        self.noise_gen = torch.Generator(dev).manual_seed(subseed(c.seed, "critic-noise"))
        self.gen_noise_gen = torch.Generator(dev).manual_seed(subseed(c.seed, "generator-noise"))
        # The penalty's own randomness (interpolation weights): consumed only by penalties that need it.
        self.eps_gen = torch.Generator(dev).manual_seed(subseed(c.seed, "interpolation"))
        # Real and fake in one critic forward saves kernel launches on a GPU. On a 2-core CPU it
        # saves nothing (DCGAN 28x28, width 64: a wgan-gp critic step took 96 ms joint and 92 ms
        # separate, interleaved medians of 20), so the CPU keeps separate forwards. Batch norm
        # couples samples, so a batch-norm critic always sees real and fake separately.
        self._joint_forward = dev.type == "cuda" and not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in d.modules())
        self.step_count = 0
        self._sums = torch.zeros(len(STAT_NAMES), device=dev)  # running sums since the last evaluation
        self._n_summed = 0
        self._bad_step = torch.full((), -1, dtype=torch.int64, device=dev)  # first step with a non-finite loss
        self._eval_cache: dict[str, Any] | None = None
        self._zero = torch.zeros((), device=dev)
        self._last_penalty = self._zero  # the unweighted penalty of the last critic step that computed one
        self.last_samples: Tensor | None = None  # the last evaluation's samples (CPU)

    # ------------------------------------------------------------------------------------------
    def _noise(self, gen: torch.Generator, k: int) -> Tensor:
        """k consecutive latent batches (k*B, z_dim), drawn one batch at a time so streams stay matched across n_critic."""
        b, z = self.config.batch_size, self.config.z_dim
        return torch.cat([torch.randn(b, z, generator=gen, device=self.device) for _ in range(k)])

    def critic_inputs(self) -> tuple[Tensor, Tensor]:
        """Real batches and latents for the n_critic critic steps of one iteration: real (k*B, ...), z (k*B, z_dim).

        Every stream is drawn once per iteration, one batch at a time, so it is consumed
        identically by every variant (a penalty draws its interpolation weights from
        eps_gen inside each critic step, one batch at a time, in the same order).
        """
        k = self.config.n_critic
        return self.stream.next(k), self._noise(self.noise_gen, k)

    @torch.no_grad()
    def fakes(self, z: Tensor) -> Tensor:
        """G(z) for a critic step: no graph, since the critic step does not train the generator.

        One forward per critic batch, not one for all k: measured on a 2-core CPU (DCGAN 28x28,
        width 64), 5 forwards of 64 take 67 ms and one of 320 takes 95 ms; and the generator's
        batch-norm statistics then come from batches of B, as in the generator step.
        """
        with self._autocast():
            return self._g(z)

    def critic_step(self, real: Tensor, fake: Tensor, with_penalty: bool = True) -> tuple[Tensor, Tensor, Tensor]:
        """One critic update on real (B, ...) and fake (B, ...). Returns (loss, W estimate, penalty), detached, on the device.

        loss = loss.critic(D(x), D(G(z))) + penalty_weight * penalty_every * constraint.penalty(D, x, G(z), eps_gen),
        the penalty only where with_penalty (lazy regularisation skips it on the other steps),
        then constraint.after_critic_step (weight clipping) once the optimiser has stepped.
        """
        c, b, D = self.config, real.shape[0], self._d
        penalty = self._zero
        with self._autocast():
            if self._joint_forward:
                scores = D(torch.cat([real, fake]))  # (2B,): one forward for both halves
                s_real, s_fake = scores[:b], scores[b:]
            else:
                s_real, s_fake = D(real), D(fake)
            s_real, s_fake = s_real.float().reshape(-1), s_fake.float().reshape(-1)  # (B,) fp32 under bf16 autocast
            loss = self.loss.critic(s_real, s_fake)
            if self.constraint.penalty is not None and with_penalty:
                penalty = self.constraint.penalty(D, real, fake, self.eps_gen)  # unweighted scalar (norms in fp32)
                loss = loss + (c.penalty_weight * c.penalty_every) * penalty
        self.opt_d.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_d.step()
        if self.constraint.after_critic_step is not None:
            self.constraint.after_critic_step(self.critic, c)
        return loss.detach(), (s_real.mean() - s_fake.mean()).detach(), penalty.detach()

    def generator_step(self, real: Tensor | None = None) -> Tensor:
        """One generator update on a fresh latent batch. Returns the generator loss, detached.

        real (B, ...): the last critic step's real batch, scored only for losses whose generator
        needs the real scores (relativistic pairing); it draws nothing from any stream.
        """
        self.critic.requires_grad_(False)  # only d loss / d x is needed: no critic weight gradients
        try:
            z = self._noise(self.gen_noise_gen, 1)  # (B, z_dim)
            with self._autocast():
                s_fake = self._d(self._g(z)).float().reshape(-1)  # (B,) fp32 loss under bf16 autocast
                s_real = None
                if self.loss.generator_needs_real and real is not None:
                    s_real = self._d(real).float().reshape(-1)  # (B,): constant for G, paired with the fakes by position
                loss = self.loss.generator(s_fake, s_real)
            self.opt_g.zero_grad(set_to_none=True)
            loss.backward()
            self.opt_g.step()
        finally:
            self.critic.requires_grad_(True)
        return loss.detach()

    @property
    def members(self) -> list[Trainer]:
        return [self]

    def write_back(self) -> None:
        """Nothing to write back: a single run's modules are its own (an ensemble writes its stacked state into its members)."""

    def read_stats(self) -> None:
        """Nothing to read: a single run's statistics are its own."""

    # ------------------------------------------------------------------------------------------
    def diverged_at(self) -> int | None:
        """The first generator iteration whose losses were not finite, or None. Reads from the device."""
        s = int(self._bad_step)
        return s if s >= 0 else None

    def eval_inputs(self) -> dict[str, Any]:
        """Fixed evaluation inputs, identical for every variant and every evaluation of a seed."""
        if self._eval_cache is None:
            c = self.config
            g, cache = eval_batch(c)
            if c.kind == "toy":
                cache["w1_floor"] = w1_floor(c.dataset, subseed(c.seed, "w1-floor"), len(cache["real"]))
            else:
                m = min(c.eval_samples, 1024)
                cache["real"] = self.stream.data[torch.randperm(self.stream.data.shape[0], generator=g)[:m].to(self.device)].cpu()
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
        n = max(self._n_summed, 1)
        means = (self._sums / n).tolist()
        row: dict[str, Any] = {"step": self.step_count}
        row.update({k: (v if self._n_summed else math.nan) for k, v in zip(STAT_NAMES, means)})
        self._sums.zero_()
        self._n_summed = 0
        fake = self.last_samples = self.sample(ev["z"])  # (n, ...) on the CPU; kept for the TensorBoard log
        row.update(self.grad_norm_stats(ev["real"], fake, ev["eps"]))
        if torch.isfinite(fake).all():
            row.update(self.generator_grad_stats(fake, ev["real"]))
        if self.config.kind == "toy":
            if torch.isfinite(fake).all():
                row.update(toy_metrics(fake, ev["real"], self.config.dataset, ev["w1_floor"]))
        else:
            from ..metrics.image import image_mode_metrics, training_metrics  # imports torch-fidelity: only for image runs

            if self.config.extractor != "none":
                row.update(training_metrics(self.config, fake, self.device))
            if torch.isfinite(fake).all():  # image data with modes (stacked-mnist): counted on this evaluation's fakes
                m = image_mode_metrics(self.config.dataset, fake, self.config.data_dir)
                row.update({k: m[k] for k in ("modes", "reverse_kl") if k in m})
        return row

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
            "sums": self._sums,
            "n_summed": self._n_summed,
            "bad_step": self._bad_step,
            "last_penalty": self._last_penalty,
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
        self._sums = s["sums"].to(self.device)
        self._n_summed = int(s["n_summed"])
        self._bad_step = s["bad_step"].to(self.device)
        self._last_penalty = s["last_penalty"].to(self.device) if "last_penalty" in s else self._zero  # older checkpoints lack it


