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

The stacked modules live in wgan_core/training/stacked.py (an architecture's registry entry names
its stacked form); this module decides who may train together (`refusal`, `check_members`) and
steps them (`Ensemble`); wgan_core/training/loop.py runs them, with the loop a single run uses.

Measured speed and where `--ensemble auto` uses them: benchmarks/throughput.py --ensemble S,
results/throughput/, README ("Seed ensembles").
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..config import ConfigError, RunConfig
from ..losses import get_loss
from ..models.registry import get_architecture
from ..penalties import MemberStreams, get_constraint, mean_of_terms
from ..runtime import make_optimizer
from .stacked import stack_optimizer_state, unstack_into
from .trainer import Stepper, Trainer


# ----------------------------------------------------------------------------------------------
# Which runs can train together.
# ----------------------------------------------------------------------------------------------
def refusal(config: RunConfig) -> str | None:
    """Why this run cannot train in a seed ensemble, or None if it can."""
    if get_architecture(config.arch).stack is None:
        return f"arch {config.arch}: no stacked form"
    if config.channels_last and config.kind == "image":
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
class Ensemble(Stepper):
    """S member Trainers at one step, trained as one. `.step()` (Stepper's) = one generator iteration of every member.

    Implements the stepper's parts (critic_inputs, fakes, critic_step, generator_step) with every
    loss and statistic per member: (S,) instead of a scalar.
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
        stack = get_architecture(c.arch).stack
        assert stack is not None, c.arch  # check_members refused it otherwise
        self.generator = stack([m.generator for m in members]).to(self.device)
        self.critic = stack([m.critic for m in members]).to(self.device)
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

    def critic_inputs(self) -> tuple[Tensor, Tensor]:
        """real (k*S*B, ...) and z (k*S*B, z_dim): critic step i's S*B rows member-major, each member's from its own streams."""
        b, k = self.config.batch_size, self.config.n_critic
        inputs = [m.critic_inputs() for m in self.members]  # each member draws from its own streams, as its single run
        real = torch.cat([r[i * b : (i + 1) * b] for i in range(k) for r, _ in inputs])
        z = torch.cat([z[i * b : (i + 1) * b] for i in range(k) for _, z in inputs])
        return real, z

    @torch.no_grad()
    def fakes(self, z: Tensor) -> Tensor:
        """Every member's G(z) for a critic step, z (S*B, z_dim) member-major -> (S*B, ...); no graph."""
        with self._autocast():
            return self.generator(z)

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

    def generator_step(self, real: Tensor | None = None) -> Tensor:
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


__all__ = ["Ensemble", "check_members", "refusal", "seed_key"]
