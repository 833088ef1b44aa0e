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
`training.runfiles.RunFiles` as a single run: every member writes its run directory exactly as its
single run does, and a single run can resume from an ensemble member's checkpoint (and back).

The DCGAN models stack too: the members' channels side by side, every convolution one
grouped convolution (groups = S), normalisation per member; spectral normalisation runs per
member. Not stacked (they train as single runs; `refusal` says why): channels_last,
torch.compile, and constraints registered with a batch-mean `penalty` instead of per-sample `terms`.

The stacked modules live in wgan_core/models/stacked.py (an architecture's registry entry declares
its stacked form); this module decides who may train together (`refusal`, `check_members`) and
stacks them and their optimiser states (`Ensemble`), which then step with the one step a single run uses
(wgan_core/training/step.py); wgan_core/training/loop.py runs them, with the loop a single run uses.

Measured speed and where `--ensemble auto` uses them: benchmarks/throughput.py --ensemble S,
results/throughput/, README ("Seed ensembles").
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from ..config import ConfigError, RunConfig
from ..models.registry import get_architecture
from ..penalties import MemberStreams, get_constraint
from ..runtime import make_optimizer
from .protocol import Member
from .step import Stepper


# ----------------------------------------------------------------------------------------------
# Which runs can train together.
# ----------------------------------------------------------------------------------------------
def refusal(config: RunConfig) -> str | None:
    """Why this run cannot train in a seed ensemble, or None if it can."""
    arch = get_architecture(config.arch)
    if arch.stack_generator is None or arch.stack_critic is None:
        return f"arch {config.arch}: no stacked form"
    if config.channels_last and config.kind == "image":
        return "channels_last: ensembles stack the members' channels in the default format"
    if config.compile:
        return "compile: ensembles run eager"
    con = get_constraint(config.constraint)
    if con.penalises and not con.per_sample:
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
# The ensemble: the one step (training.step.Stepper) over stacked modules.
# ----------------------------------------------------------------------------------------------
class Ensemble(Stepper):
    """S member Trainers at one step, trained as one. Adds to the stepper only the stacking and unstacking of modules.

    `.step()` (the stepper's) is one generator iteration of every member, with every loss and
    statistic per member, (S,).
    """

    def __init__(self, members: list[Member]) -> None:
        check_members([m.config for m in members])
        self._common(members)
        c = self.config
        arch = get_architecture(c.arch)
        assert arch.stack_generator is not None and arch.stack_critic is not None, c.arch  # check_members refused it otherwise
        self.generator = arch.stack_generator([m.generator for m in members]).to(self.device)
        self.critic = arch.stack_critic([m.critic for m in members]).to(self.device)
        self.call_g, self.call_d = self.generator, self.critic  # ensembles run eager (refusal)
        self.opt_g = make_optimizer(c.optimizer, self.generator.parameters(), c.lr_g, (c.beta1, c.beta2))
        self.opt_d = make_optimizer(c.optimizer, self.critic.parameters(), c.lr_d, (c.beta1, c.beta2))
        stack_optimizer_state(self.opt_g, self.generator, [m.opt_g for m in members], [m.generator for m in members])
        stack_optimizer_state(self.opt_d, self.critic, [m.opt_d for m in members], [m.critic for m in members])
        self.eps = MemberStreams([m.eps_gen for m in members])  # each member's interpolation weights from its own stream
        self.joint_forward = members[0].joint_forward

    def write_back(self) -> None:
        """Members get their weights, optimiser states and step: they can now evaluate, checkpoint or finish."""
        ms = self.members
        unstack_into(self.generator, self.opt_g, [m.generator for m in ms], [m.opt_g for m in ms])
        unstack_into(self.critic, self.opt_d, [m.critic for m in ms], [m.opt_d for m in ms])
        super().write_back()


# ----------------------------------------------------------------------------------------------
# Optimiser states: the members' and the stacked module's, one to one by parameter order.
# ----------------------------------------------------------------------------------------------
def _member_params(members: list[nn.Module]) -> list[tuple[nn.Parameter, ...]]:
    return list(zip(*(m.parameters() for m in members)))


def _per_param(v: Any, p: Tensor) -> bool:
    """An optimiser state entry shaped like its parameter (Adam's moments, RMSprop's square average), not a shared scalar (step)."""
    return torch.is_tensor(v) and v.shape == p.shape


def _copy(v: Any) -> Any:
    return v.clone() if torch.is_tensor(v) else v


def stack_optimizer_state(opt: torch.optim.Optimizer, stacked: nn.Module, member_opts: list[torch.optim.Optimizer], members: list[nn.Module]) -> None:
    """Give the stacked optimiser the members' states (after a resume): parameter-shaped entries stacked, scalars (step) shared."""
    for big, ps in zip(stacked.parameters(), _member_params(members)):
        states = [mo.state.get(p) for mo, p in zip(member_opts, ps)]
        if not all(states):
            assert not any(states), "members at one step have optimiser state alike"
            continue
        opt.state[big] = {k: (torch.stack([st[k] for st in states]) if _per_param(v, ps[0]) else _copy(v)) for k, v in states[0].items()}


def unstack_into(stacked: nn.Module, opt: torch.optim.Optimizer, members: list[nn.Module], member_opts: list[torch.optim.Optimizer]) -> None:
    """Write the stacked weights and optimiser state back into each member (member s gets slice s)."""
    stacked.write_buffers(members)  # spectral-norm vectors, batch-norm statistics
    with torch.no_grad():
        for big, ps in zip(stacked.parameters(), _member_params(members)):
            state = opt.state.get(big, {})
            for s, (p, mo) in enumerate(zip(ps, member_opts)):
                p.copy_(big[s])
                if state:
                    mo.state[p] = {k: (v[s].clone() if _per_param(v, big) else _copy(v)) for k, v in state.items()}



__all__ = ["Ensemble", "check_members", "refusal", "seed_key", "stack_optimizer_state", "unstack_into"]
