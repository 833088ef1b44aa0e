"""Seed ensembles: S runs that differ only in their seed, trained as one.

A study is cells x seeds, and the seeds of a cell share everything but their random
streams. Here they share one step: each layer's weights of the S members are stacked into
one parameter (S, out, in) and applied as one batched matrix product, the per-member losses
are summed for one backward pass, and one optimiser steps all members at once. The members
stay independent: member s's rows (s*B .. (s+1)*B - 1 of every stacked batch) only ever meet
member s's weights, the gradient of a sum is the sum of each member's own gradient, and
Adam, RMSprop and weight clipping act elementwise.

Each member is an ordinary `Trainer` built from its own config: its initial weights, data
stream, latent noise and interpolation weights are exactly those of its single run (the
ensemble draws from the members' own generators, one member at a time, in the single run's
order). At evaluations and checkpoints the stacked weights and optimiser states are written
back into the members, which then evaluate, checkpoint and finish through the same
`rundir.RunFiles` as a single run: every member writes its run directory exactly as its
single run does, and a single run can resume from an ensemble member's checkpoint (and back).

The DCGAN models stack too: the members' channels side by side, every convolution one
grouped convolution (groups = S), normalisation per member; spectral normalisation runs per
member. Not stacked (they train as single runs; `refusal` says why): channels_last,
torch.compile, and constraints registered with a batch-mean `penalty` instead of per-sample `terms`.

The stacked modules live in wgan_core/stacked.py; this module decides who may train together
(`refusal`, `check_members`), steps them (`Ensemble`) and runs them (`train_ensemble`).

Measured speed and where `--ensemble auto` uses them: benchmarks/throughput.py --ensemble S,
results/throughput/, README ("Seed ensembles").
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from . import checkpoints
from .checkpoints import StopSignals
from .config import ConfigError, RunConfig
from .losses import get_loss
from .penalties import MemberStreams, get_constraint, mean_of_terms
from .rundir import RunFiles, finished_final
from .runtime import make_optimizer, progress_bar
from .stacked import stack_modules, stack_optimizer_state, unstack_into
from .training import Trainer, due, sync_for, train


# ----------------------------------------------------------------------------------------------
# Which runs can train together.
# ----------------------------------------------------------------------------------------------
def refusal(config: RunConfig) -> str | None:
    """Why this run cannot train in a seed ensemble, or None if it can."""
    if config.arch not in ("mlp", "dcgan"):
        return f"arch {config.arch}: no stacked form"
    if config.channels_last and config.arch == "dcgan":
        return "channels_last: ensembles stack the members' channels in the default format"
    if config.compile:
        return "compile: ensembles run eager"
    con = get_constraint(config.constraint)
    if con.penalty is not None and con.terms is None:
        return f"constraint {config.constraint}: registered with a batch-mean penalty; register per-sample terms to train it in ensembles"
    return None


def seed_key(config: RunConfig) -> RunConfig:
    """Runs with equal keys differ only in their seed: they may train as one ensemble."""
    return config.replace(seed=0, tensorboard=False)


def check_members(configs: list[RunConfig]) -> None:
    if not configs:
        raise ConfigError("ensemble: needs at least one run")
    for c in configs:
        why = refusal(c)
        if why is not None:
            raise ConfigError(f"ensemble: {c.label} cannot train in a seed ensemble ({why})")
    key = seed_key(configs[0])
    for c in configs[1:]:
        if seed_key(c) != key:
            raise ConfigError(f"ensemble: members must differ only in their seed; {', '.join(seed_key(c).diff(key))} differ")
    seeds = [c.seed for c in configs]
    if len(set(seeds)) != len(seeds):
        raise ConfigError(f"ensemble: seeds must differ, got {seeds}")


# ----------------------------------------------------------------------------------------------
# The ensemble step.
# ----------------------------------------------------------------------------------------------
class Ensemble:
    """S member Trainers at one step, trained as one. `.step()` = one generator iteration of every member.

    Mirrors Trainer.step line for line (critic_inputs, fakes, critic_step, generator_step),
    with every loss and statistic per member: (S,) instead of a scalar.
    """

    def __init__(self, members: list[Trainer]) -> None:
        check_members([m.config for m in members])
        steps = {m.step_count for m in members}
        assert len(steps) == 1, f"members at different steps: {steps}"
        self.members = members
        m0 = members[0]
        c = self.config = m0.config
        self.size, self.device = len(members), m0.device
        self.loss, self.constraint = get_loss(c.loss), get_constraint(c.constraint)
        self.generator = stack_modules([m.generator for m in members]).to(self.device)
        self.critic = stack_modules([m.critic for m in members]).to(self.device)
        self.opt_g = make_optimizer(c.optimizer, self.generator.parameters(), c.lr_g, (c.beta1, c.beta2))
        self.opt_d = make_optimizer(c.optimizer, self.critic.parameters(), c.lr_d, (c.beta1, c.beta2))
        stack_optimizer_state(self.opt_g, self.generator, [m.opt_g for m in members], [m.generator for m in members])
        stack_optimizer_state(self.opt_d, self.critic, [m.opt_d for m in members], [m.critic for m in members])
        self.eps = MemberStreams([m.eps_gen for m in members])  # each member's interpolation weights from its own stream
        self._joint_forward = m0._joint_forward
        self.step_count = m0.step_count
        self._zeros = torch.zeros(self.size, device=self.device)
        self.read_stats()

    def read_stats(self) -> None:
        """Take the members' running statistics (after they evaluated, which resets them)."""
        ms = self.members
        self._sums = torch.stack([m._sums for m in ms])  # (S, 4)
        self._n_summed = ms[0]._n_summed
        self._bad_step = torch.stack([m._bad_step for m in ms])  # (S,)
        self._last_penalty = torch.stack([m._last_penalty.reshape(()) for m in ms])  # (S,)

    def write_back(self) -> None:
        """Members get their weights, optimiser states, step and statistics: they can now evaluate, checkpoint or finish."""
        ms = self.members
        unstack_into(self.generator, self.opt_g, [m.generator for m in ms], [m.opt_g for m in ms])
        unstack_into(self.critic, self.opt_d, [m.critic for m in ms], [m.opt_d for m in ms])
        for s, m in enumerate(ms):
            m.step_count, m._n_summed = self.step_count, self._n_summed
            m._sums = self._sums[s].clone()
            m._bad_step = self._bad_step[s].clone()
            m._last_penalty = self._last_penalty[s].clone()

    def _autocast(self) -> contextlib.AbstractContextManager:
        if self.config.amp == "bf16":
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def critic_step(self, real: Tensor, fake: Tensor, with_penalty: bool) -> tuple[Tensor, Tensor, Tensor]:
        """One critic update of every member on real (S*B, ...) and fake (S*B, ...). Returns (loss, W estimate, penalty), each (S,)."""
        c, S, D = self.config, self.size, self.critic
        b = real.shape[0] // S
        penalty = self._zeros
        with self._autocast():
            if self._joint_forward:
                both = torch.stack([real.reshape(S, b, *real.shape[1:]), fake.reshape(S, b, *fake.shape[1:])], 1)  # (S, 2, B, ...)
                scores = D(both.reshape(S * 2 * b, *real.shape[1:])).reshape(S, 2, b)
                s_real, s_fake = scores[:, 0], scores[:, 1]
            else:
                s_real, s_fake = D(real).reshape(S, b), D(fake).reshape(S, b)
            s_real, s_fake = s_real.float(), s_fake.float()  # (S, B)
            loss = torch.stack([self.loss.critic(s_real[s], s_fake[s]) for s in range(S)])  # (S,)
            if self.constraint.terms is not None and with_penalty:
                penalty = mean_of_terms(self.constraint.terms(D, real, fake, self.eps), S)  # (S,) unweighted, each member's own
                loss = loss + (c.penalty_weight * c.penalty_every) * penalty
        self.opt_d.zero_grad(set_to_none=True)
        loss.sum().backward()  # members share no weights: each gets its own loss's gradient
        self.opt_d.step()
        if self.constraint.after_critic_step is not None:
            self.constraint.after_critic_step(self.critic, c)  # clipping is elementwise: per member alike
        return loss.detach(), (s_real.mean(1) - s_fake.mean(1)).detach(), penalty.detach()

    def generator_step(self, real: Tensor) -> Tensor:
        """One generator update of every member on a fresh latent batch each. Returns the losses (S,)."""
        S = self.size
        self.critic.requires_grad_(False)
        try:
            z = torch.cat([m._noise(m.gen_noise_gen, 1) for m in self.members])  # (S*B, z_dim)
            with self._autocast():
                s_fake = self.critic(self.generator(z)).float().reshape(S, -1)  # (S, B)
                s_real = self.critic(real).float().reshape(S, -1) if self.loss.generator_needs_real else None
                loss = torch.stack([self.loss.generator(s_fake[s], None if s_real is None else s_real[s]) for s in range(S)])
            self.opt_g.zero_grad(set_to_none=True)
            loss.sum().backward()
            self.opt_g.step()
        finally:
            self.critic.requires_grad_(True)
        return loss.detach()

    def step(self) -> None:
        """One generator iteration of every member: n_critic critic updates, then one generator update."""
        b, k, every = self.config.batch_size, self.config.n_critic, self.config.penalty_every
        inputs = [m.critic_inputs() for m in self.members]  # each member draws from its own streams, as its single run
        for i in range(k):
            part = slice(i * b, (i + 1) * b)
            real = torch.cat([r[part] for r, _ in inputs])  # (S*B, ...) member-major: one copy of each member's batch
            z = torch.cat([z[part] for _, z in inputs])  # (S*B, z_dim)
            with torch.no_grad(), self._autocast():
                fake = self.generator(z).to(real.dtype)  # (S*B, ...)
            lazy = (self.step_count * k + i) % every == 0
            loss_d, w_est, pen = self.critic_step(real, fake, with_penalty=lazy)
            if lazy:
                self._last_penalty = pen
        loss_g = self.generator_step(real)
        self.step_count += 1
        stats = torch.stack([loss_d, loss_g, w_est, self._last_penalty], 1).float()  # (S, 4)
        self._sums += stats
        self._n_summed += 1
        bad = ~torch.isfinite(stats).all(1)  # (S,)
        self._bad_step = torch.where(bad & (self._bad_step < 0), self.step_count, self._bad_step)


# ----------------------------------------------------------------------------------------------
# Training an ensemble: every member writes its own run directory, exactly as `train` does.
# ----------------------------------------------------------------------------------------------
def train_ensemble(configs: list[RunConfig], out_dirs: list[str | Path], *, progress: bool | None = None, log=print) -> list[dict[str, Any]]:
    """Run (or resume, or skip where finished) S runs that differ only in their seed as one ensemble.

    Returns each member's final.json, in the order given. Members resumed at different
    steps train as separate ensembles, one per step, one after the other (a member alone at
    its step trains as an ordinary run). A member whose loss turns non-finite
    finishes as diverged (as its single run would) and the others go on without it. A stop
    signal saves every member's checkpoint and raises checkpoints.Interrupted.
    """
    if len(configs) != len(out_dirs):
        raise ConfigError(f"ensemble: {len(configs)} configs but {len(out_dirs)} directories")
    check_members(list(configs))
    finals: list[dict[str, Any] | None] = [finished_final(c, Path(d)) for c, d in zip(configs, out_dirs)]
    todo = [i for i, f in enumerate(finals) if f is None]
    steps = {i: _checkpoint_step(Path(out_dirs[i])) for i in todo}
    first: Trainer | None = None  # every member shares its device copy of the data set
    for step in sorted(set(steps.values())):
        group = [i for i in todo if steps[i] == step]
        if len(group) == 1:  # alone at this step: an ordinary run
            (i,) = group
            finals[i] = train(configs[i], out_dirs[i], progress=progress, log=log)
            continue
        trainers = []
        for i in group:  # loads and checks the data before anything is written
            trainers.append(Trainer(configs[i], data_from=first))
            first = first or trainers[0]
        runs = [RunFiles(t, Path(out_dirs[i]), log) for t, i in zip(trainers, group)]
        for k, final in _train_together(runs, progress, log).items():
            finals[group[k]] = final
    assert all(f is not None for f in finals)
    return finals  # type: ignore[return-value]


def _checkpoint_step(out: Path) -> int:
    """The step a run would resume at (0 without a readable checkpoint); members at one step train together."""
    state = checkpoints.load(out / "checkpoint.pt", required=("step",), log=lambda m: None)
    return int(state["step"]) if state is not None else 0


def _train_together(runs: list[RunFiles], progress: bool | None, log) -> dict[int, dict[str, Any]]:
    """The loop of `training.train`, for members at one step; returns {index in runs: final.json}."""
    c = runs[0].config
    size = len(runs)
    for r in runs:
        r.start()
        r.ensemble = {"size": size, "seeds": [x.config.seed for x in runs]}
    active = list(range(size))
    ens = Ensemble([runs[i].trainer for i in active])
    sync = sync_for(ens.device)
    finals: dict[int, dict[str, Any]] = {}
    bar = progress_bar(c.steps, ens.step_count, progress, unit="it")
    seg = time.perf_counter()
    with StopSignals() as stop:
        while active and ens.step_count < c.steps:
            ens.step()
            bar.update(1)
            s = ens.step_count
            at_eval, at_ckpt = due(c, s)
            stopping = stop.signum is not None
            if not (at_eval or at_ckpt or stopping):
                continue
            sync()
            share = (time.perf_counter() - seg) / len(active)  # each member's share of the ensemble's time
            ens.write_back()
            for i in active:
                runs[i].train_time += share
            diverged = {i: d for i in active if (d := runs[i].trainer.diverged_at()) is not None}
            for i, d in diverged.items():
                finals[i] = runs[i].finish(d)  # as its single run: the last rows, status diverged, the first bad step
            if diverged:
                active = [i for i in active if i not in diverged]
                if not active:
                    break
                ens = Ensemble([runs[i].trainer for i in active])  # the others go on without it
            if at_eval:
                for i in active:
                    runs[i].add_row()
                ens.read_stats()  # evaluating reset the members' running sums
            if stopping:
                bar.close()
                for i in active:
                    runs[i].stop(stop.signum)
                stop.forward()
                raise checkpoints.Interrupted(stop.signum, s, runs[active[0]].ckpt_path)
            if at_ckpt:
                for i in active:
                    runs[i].save_checkpoint()
            seg = time.perf_counter()
    bar.close()
    for i in active:
        finals[i] = runs[i].finish(None)
    return finals


__all__ = ["Ensemble", "check_members", "refusal", "seed_key", "train_ensemble"]
