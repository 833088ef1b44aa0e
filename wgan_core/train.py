"""The matched training loop: `Trainer.step()` is one generator iteration; `train()` runs, evaluates,
checkpoints and resumes a run in a directory.

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
import hashlib
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from .config import ConfigError, RunConfig
from .data import make_stream, sample_toy
from .io import atomic_torch_save, read_rows, write_json, write_rows
from .losses import critic_loss, generator_loss
from .models import build_models
from .penalties import CONSTRAINTS, clip_weights_, input_grad_norms, interpolate, penalty_from_norms

STAT_NAMES = ("critic_loss", "generator_loss", "wasserstein", "penalty")


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(name)  # the name was checked by RunConfig
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device: {name!r} requested but CUDA is not available here; use cpu or auto")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise ConfigError(f"device: {name!r} does not exist; this machine has {torch.cuda.device_count()} CUDA device(s)")
    return dev


def subseed(seed: int, stream: str) -> int:
    """An independent seed per named random stream, stable across Python versions and machines."""
    return int.from_bytes(hashlib.sha256(f"{seed}:{stream}".encode()).digest()[:8], "big") & (2**63 - 1)


class Trainer:
    """One run's models, optimisers and random streams. `.step()` = n_critic critic updates + 1 generator update."""

    def __init__(self, config: RunConfig, images: Tensor | None = None) -> None:
        """images: optional uint8 (N, C, H, W) training set to use instead of loading config.dataset (benchmarks)."""
        c = self.config = config
        self.device = dev = resolve_device(c.device)
        self.constraint = CONSTRAINTS[c.constraint]
        self.stream = make_stream(c, dev, subseed(c.seed, "data"), images)  # raises ConfigError before anything is written
        info = self.stream.info
        self.channels, self.resolution = info.channels, info.resolution
        g, d = build_models(c, self.channels, self.resolution)
        fmt = torch.channels_last if (c.channels_last and c.arch == "dcgan") else torch.preserve_format
        self.generator = g.to(dev, memory_format=fmt)
        self.critic = d.to(dev, memory_format=fmt)
        self.opt_g = _optimizer(c, self.generator.parameters(), c.lr_g)
        self.opt_d = _optimizer(c, self.critic.parameters(), c.lr_d)
        # The modules the step calls: compiled where torch.compile supports it. The critic of a
        # penalty variant stays eager: torch.compile does not support double backward.
        self._g, self._d = self.generator, self.critic
        if c.compile:
            self._g = torch.compile(self.generator)
            if not self.constraint.penalty:
                self._d = torch.compile(self.critic)
        # Separate streams so each is consumed identically by every variant of a seed.
        self.noise_gen = torch.Generator(dev).manual_seed(subseed(c.seed, "critic-noise"))
        self.gen_noise_gen = torch.Generator(dev).manual_seed(subseed(c.seed, "generator-noise"))
        self.eps_gen = torch.Generator(dev).manual_seed(subseed(c.seed, "interpolation"))
        # Real and fake in one critic forward saves kernel launches on a GPU. On a 2-core CPU it
        # saves nothing (DCGAN 28x28, width 64: a wgan-gp critic step took 96 ms joint and 92 ms
        # separate, interleaved medians of 20), so the CPU keeps separate forwards. Batch norm
        # couples samples, so a batch-norm critic always sees real and fake separately.
        self._joint_forward = dev.type == "cuda" and (c.critic_norm != "batch" or c.arch == "mlp")
        self.step_count = 0
        self._sums = torch.zeros(len(STAT_NAMES), device=dev)  # running sums since the last evaluation
        self._n_summed = 0
        self._bad_step = torch.full((), -1, dtype=torch.int64, device=dev)  # first step with a non-finite loss
        self._eval_cache: dict[str, Any] | None = None
        self._zero = torch.zeros((), device=dev)

    # ------------------------------------------------------------------------------------------
    def _autocast(self) -> contextlib.AbstractContextManager:
        if self.config.amp == "bf16":
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def _noise(self, gen: torch.Generator, k: int) -> Tensor:
        """k consecutive latent batches (k*B, z_dim), drawn one batch at a time so streams stay matched across n_critic."""
        b, z = self.config.batch_size, self.config.z_dim
        return torch.cat([torch.randn(b, z, generator=gen, device=self.device) for _ in range(k)])

    def critic_inputs(self) -> tuple[Tensor, Tensor, Tensor | None]:
        """Real batches, latents and interpolation weights for the n_critic critic steps of one iteration.

        Returns real (k*B, ...), z (k*B, z_dim) and eps (k*B,) or None: every stream is drawn
        once per iteration, one batch at a time, so it is consumed identically by every variant.
        """
        b, k = self.config.batch_size, self.config.n_critic
        real = self.stream.next(k)  # (k*B, ...)
        z = self._noise(self.noise_gen, k)  # (k*B, z_dim)
        eps = None
        if self.constraint.penalty:
            eps = torch.cat([torch.rand(b, generator=self.eps_gen, device=self.device) for _ in range(k)])  # (k*B,)
        return real, z, eps

    @torch.no_grad()
    def fakes(self, z: Tensor) -> Tensor:
        """G(z) for a critic step: no graph, since the critic step does not train the generator.

        One forward per critic batch, not one for all k: measured on a 2-core CPU (DCGAN 28x28,
        width 64), 5 forwards of 64 take 67 ms and one of 320 takes 95 ms; and the generator's
        batch-norm statistics then come from batches of B, as in the generator step.
        """
        with self._autocast():
            return self._g(z)

    def critic_step(self, real: Tensor, fake: Tensor, eps: Tensor | None) -> tuple[Tensor, Tensor, Tensor]:
        """One critic update on real (B, ...) and fake (B, ...). Returns (loss, W estimate, penalty), detached, on the device."""
        c, b, D = self.config, real.shape[0], self._d
        penalty = self._zero
        with self._autocast():
            if self._joint_forward:
                scores = D(torch.cat([real, fake]))  # (2B,): one forward for both halves
                s_real, s_fake = scores[:b], scores[b:]
            else:
                s_real, s_fake = D(real), D(fake)
            s_real, s_fake = s_real.float(), s_fake.float()  # losses and statistics in fp32 under bf16 autocast
            loss = critic_loss(c.loss, s_real, s_fake)
            if eps is not None:
                x_hat = interpolate(real, fake, eps)  # (B, ...)
                norms = input_grad_norms(D, x_hat, create_graph=True)  # (B,) float32
                penalty = penalty_from_norms(norms, one_sided=self.constraint.one_sided)
                loss = loss + c.penalty_weight * penalty
        self.opt_d.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_d.step()
        if self.constraint.clip:
            clip_weights_(self.critic, c.clip_value)
        return loss.detach(), (s_real.mean() - s_fake.mean()).detach(), penalty.detach()

    def generator_step(self) -> Tensor:
        """One generator update on a fresh latent batch. Returns the generator loss, detached."""
        self.critic.requires_grad_(False)  # only d loss / d x is needed: no critic weight gradients
        try:
            z = self._noise(self.gen_noise_gen, 1)  # (B, z_dim)
            with self._autocast():
                loss = generator_loss(self.config.loss, self._d(self._g(z)).float())  # fp32 loss under bf16 autocast
            self.opt_g.zero_grad(set_to_none=True)
            loss.backward()
            self.opt_g.step()
        finally:
            self.critic.requires_grad_(True)
        return loss.detach()

    def step(self) -> None:
        """One generator iteration: n_critic critic updates, then one generator update."""
        b = self.config.batch_size
        real, z, eps = self.critic_inputs()
        for i in range(self.config.n_critic):
            part = slice(i * b, (i + 1) * b)
            fake = self.fakes(z[part]).to(real.dtype)  # (B, ...)
            loss_d, w_est, penalty = self.critic_step(real[part], fake, None if eps is None else eps[part])
        loss_g = self.generator_step()
        self.step_count += 1
        # Statistics stay on the device (no host sync in the step); read at evaluation time.
        stats = torch.stack([loss_d, loss_g, w_est, penalty]).float()
        self._sums += stats
        self._n_summed += 1
        bad = ~torch.isfinite(stats).all()
        self._bad_step = torch.where(bad & (self._bad_step < 0), self.step_count, self._bad_step)

    # ------------------------------------------------------------------------------------------
    def diverged_at(self) -> int | None:
        """The first generator iteration whose losses were not finite, or None. Reads from the device."""
        s = int(self._bad_step)
        return s if s >= 0 else None

    def _eval_inputs(self) -> dict[str, Any]:
        """Fixed evaluation inputs, identical for every variant and every evaluation of a seed."""
        if self._eval_cache is None:
            c = self.config
            g, cache = eval_batch(c)
            if c.kind == "toy":
                from .metrics.toy import w1_floor

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

    def evaluate(self) -> dict[str, Any]:
        """One row of metrics.csv: mean losses since the last evaluation, gradient-norm statistics, quality metrics."""
        ev = self._eval_inputs()
        n = max(self._n_summed, 1)
        means = (self._sums / n).tolist()
        row: dict[str, Any] = {"step": self.step_count}
        row.update({k: (v if self._n_summed else math.nan) for k, v in zip(STAT_NAMES, means)})
        self._sums.zero_()
        self._n_summed = 0
        fake = self.sample(ev["z"])  # (n, ...) on the CPU
        row.update(self.grad_norm_stats(ev["real"], fake, ev["eps"]))
        if self.config.kind == "toy":
            from .metrics.toy import toy_metrics

            if torch.isfinite(fake).all():
                row.update(toy_metrics(fake, ev["real"], self.config.dataset, ev["w1_floor"]))
        elif self.config.extractor != "none":
            from .metrics.image import training_metrics

            row.update(training_metrics(self, fake))
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


def eval_batch(config: RunConfig) -> tuple[torch.Generator, dict[str, Tensor]]:
    """A run's fixed evaluation latents {"z": (eval_samples, z_dim)}, plus {"real": (m, 2)} for toy data.

    Drawn on the CPU from the seed alone, so every variant and device sees the same batch; the
    report redraws a finished run's batch with this too. Returns the generator for further draws.
    """
    g = torch.Generator().manual_seed(subseed(config.seed, "eval"))
    batch = {"z": torch.randn(config.eval_samples, config.z_dim, generator=g)}
    if config.kind == "toy":
        from .metrics.toy import W1_SAMPLES

        batch["real"] = sample_toy(config.dataset, min(W1_SAMPLES, config.eval_samples), g)
    return g, batch


def _optimizer(c: RunConfig, params, lr: float) -> torch.optim.Optimizer:
    if c.optimizer == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, foreach=True)
    # fused Adam: one kernel per step for all parameters, on CPU and CUDA
    return torch.optim.Adam(params, lr=lr, betas=(c.beta1, c.beta2), fused=True)


# ----------------------------------------------------------------------------------------------
def check_out_dir(config: RunConfig, out: Path) -> None:
    """Refuse a directory that holds another config's run (naming the differing fields)."""
    cfg_path = out / "config.json"
    if cfg_path.exists():
        try:
            old = RunConfig.from_json(cfg_path)
        except (ValueError, TypeError, AttributeError) as e:  # not JSON, or not a config object
            raise ConfigError(f"out: {out} holds an unreadable config.json ({e}); choose another directory") from None
        differ = old.diff(config)
        if differ:
            details = ", ".join(f"{k} ({getattr(old, k)!r} there, {getattr(config, k)!r} here)" for k in differ)
            raise ConfigError(f"out: {out} holds a run with another config; differing fields: {details}")


def train(config: RunConfig, out_dir: str | Path, *, progress: bool | None = None, log=print) -> dict[str, Any]:
    """Run (or resume, or skip if finished) one run in out_dir; returns the contents of final.json.

    Writes config.json before the first step, metrics.csv at every evaluation,
    checkpoint.pt every checkpoint_every steps, and samples.png, model.pt and
    final.json at the end. A non-finite loss ends the run with status "diverged".
    """
    out = Path(out_dir)
    check_out_dir(config, out)
    if (out / "final.json").exists():
        try:
            return json.loads((out / "final.json").read_text())
        except ValueError:
            raise ConfigError(f"out: {out}/final.json is corrupt; delete it to run that run again") from None
    trainer = Trainer(config)  # loads and checks the data before anything is written
    out.mkdir(parents=True, exist_ok=True)
    if not (out / "config.json").exists():
        write_json(out / "config.json", config.to_dict())

    ckpt_path, metrics_path = out / "checkpoint.pt", out / "metrics.csv"
    elapsed, train_time = 0.0, 0.0
    rows = read_rows(metrics_path)
    if ckpt_path.exists():
        # RNG states must stay on the CPU (Generator.set_state takes a CPU ByteTensor, CUDA generators too);
        # load_state_dict moves weights and optimiser state to the training device.
        state = torch.load(ckpt_path, map_location="cpu", weights_only=True)
        trainer.load_state_dict(state)
        elapsed, train_time = float(state["elapsed"]), float(state["train_time"])
        rows = [r for r in rows if int(r["step"]) <= trainer.step_count]  # drop rows written after the checkpoint
        log(f"resuming {out} at step {trainer.step_count}")
    else:
        rows = []
    write_rows(metrics_path, rows)

    c = config
    t0 = time.perf_counter() - elapsed
    sync = torch.cuda.synchronize if trainer.device.type == "cuda" else (lambda: None)

    def add_row() -> dict[str, Any]:
        row = trainer.evaluate()
        row["wall_time_s"] = time.perf_counter() - t0
        row["train_time_s"] = train_time
        rows.append(row)
        write_rows(metrics_path, rows)
        return row

    if trainer.step_count == 0 and not rows:
        add_row()  # the untrained baseline: step 0
    bar = _progress(c.steps, trainer.step_count, progress)
    diverged = None
    seg = time.perf_counter()  # start of the current stretch of training steps
    while trainer.step_count < c.steps:
        trainer.step()
        bar.update(1)
        s = trainer.step_count
        at_eval = s % c.eval_every == 0 or s == c.steps
        at_ckpt = s % c.checkpoint_every == 0 and s < c.steps
        if not (at_eval or at_ckpt):
            continue
        # Only here does the host wait for the device: the steps in between queue up freely on a GPU.
        sync()
        train_time += time.perf_counter() - seg
        diverged = trainer.diverged_at()
        if diverged is not None:
            break
        if at_eval:
            row = add_row()
            bar.set_postfix({k: f"{row[k]:.3g}" for k in ("critic_loss", "generator_loss", "w1") if k in row})
        if at_ckpt:
            state = trainer.state_dict()
            state["elapsed"], state["train_time"] = time.perf_counter() - t0, train_time
            atomic_torch_save(state, ckpt_path)
        seg = time.perf_counter()
    bar.close()

    final: dict[str, Any] = {
        "status": "diverged" if diverged is not None else "ok",
        "steps": diverged if diverged is not None else trainer.step_count,
        "wall_time_s": time.perf_counter() - t0,
        "train_time_s": train_time,
        "gen_iters_per_s": trainer.step_count / train_time if train_time > 0 else math.nan,
        "variant": c.label,
        "run_id": c.run_id(),
        "metrics": {k: v for k, v in rows[-1].items()} if rows else {},
    }
    if diverged is None and c.kind == "image" and c.extractor != "none":
        from .metrics.image import final_metrics

        final["metrics"].update(final_metrics(trainer))  # the full-size FID/KID, once
    if diverged is None:
        from .plots import save_samples

        save_samples(trainer, out / "samples.png")
        atomic_torch_save({"generator": trainer.generator.state_dict(), "critic": trainer.critic.state_dict()}, out / "model.pt")
    else:
        log(f"run diverged: non-finite loss at generator iteration {diverged}")
    write_json(out / "final.json", final)
    ckpt_path.unlink(missing_ok=True)  # model.pt and final.json replace it
    return json.loads((out / "final.json").read_text())  # as stored: NaN becomes None


def _progress(total: int, initial: int, enabled: bool | None):
    from tqdm.auto import tqdm

    # disable=None: tqdm shows the bar only on a terminal, so logs and CI stay quiet.
    disable = None if enabled is None else not enabled
    return tqdm(total=total, initial=initial, disable=disable, file=sys.stderr, dynamic_ncols=True, unit="it")
