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
`training.RunFiles` as a single run: every member writes its run directory exactly as its
single run does, and a single run can resume from an ensemble member's checkpoint (and back).

The DCGAN models stack too: the members' channels side by side, every convolution one
grouped convolution (groups = S), normalisation per member; spectral normalisation runs per
member. Not stacked (they train as single runs; `refusal` says why): channels_last,
torch.compile, and constraints registered with a batch-mean `penalty` instead of per-sample `terms`.

Measured speed and where `--ensemble auto` uses them: benchmarks/throughput.py --ensemble S,
results/throughput/, README ("Seed ensembles").
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from . import checkpoints
from .checkpoints import StopSignals
from .config import ConfigError, RunConfig
from .losses import get_loss
from .models import DCGANCritic, DCGANGenerator, MLPCritic, MLPGenerator
from .penalties import MemberStreams, get_constraint, mean_of_terms
from .runtime import make_optimizer, progress_bar
from .training import RunFiles, Trainer, due, finished_final, sync_for, train


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
# Stacked modules.
# ----------------------------------------------------------------------------------------------
class _Stacked(nn.Module):
    """What every stacked module shares: parameter i (S, *shape) stacks parameter i of every member,
    in a member's `parameters()` order (so optimiser states map one to one), found by the member's names.

    Spectral normalisation (torch.nn.utils.parametrizations.spectral_norm on a member's layer) is
    replayed per member with PyTorch's own operations: in training mode one power iteration on
    that member's weight with its own vectors u and v (stacked buffers), then the weight divided
    by u . W v; so each member's normalised weight is bit-identical to its single run's (its
    gradient, in float32, only to the last bits).
    """

    def __init__(self, members: list[nn.Module]) -> None:
        super().__init__()
        self.size = len(members)
        names = [n for n, _ in members[0].named_parameters()]
        self.stacked = nn.ParameterList([nn.Parameter(torch.stack([p.detach() for p in ps])) for ps in zip(*(m.parameters() for m in members))])
        self.index = {n: k for k, n in enumerate(names)}
        self.spectral: dict[str, tuple[int, float]] = {}  # spectrally normalised layer -> (its number, eps)
        for name, mod in members[0].named_modules():
            if torch.nn.utils.parametrize.is_parametrized(mod, "weight"):
                sn = mod.parametrizations.weight[0]
                assert type(sn).__name__ == "_SpectralNorm" and sn.dim == 0 and sn.n_power_iterations == 1, type(sn)
                k = len(self.spectral)
                self.spectral[name] = (k, sn.eps)
                units = [m.get_submodule(name).parametrizations.weight[0] for m in members]
                self.register_buffer(f"sn{k}_u", torch.stack([u._u for u in units]).clone())  # (S, out)
                self.register_buffer(f"sn{k}_v", torch.stack([u._v for u in units]).clone())  # (S, in)

    def weight(self, layer: str) -> Tensor:
        """The layer's weights (S, *shape), spectrally normalised per member where the members' are."""
        if layer not in self.spectral:
            return self.stacked[self.index[f"{layer}.weight"]]
        raw = self.stacked[self.index[f"{layer}.parametrizations.weight.original"]]
        k, eps = self.spectral[layer]
        us, vs = getattr(self, f"sn{k}_u"), getattr(self, f"sn{k}_v")
        out = []
        for s, w in enumerate(raw.unbind(0)):  # unbind: one stacked gradient, not S zero-filled ones
            mat, u, v = w.flatten(1), us[s], vs[s]
            if self.training:
                with torch.no_grad():  # PyTorch's _SpectralNorm._power_method, one iteration, in place
                    F.normalize(torch.mv(mat, v), dim=0, eps=eps, out=u)
                    F.normalize(torch.mv(mat.H, u), dim=0, eps=eps, out=v)
            sigma = torch.vdot(u.clone(memory_format=torch.contiguous_format), torch.mv(mat, v.clone(memory_format=torch.contiguous_format)))
            out.append(w / sigma)
        return torch.stack(out)

    def bias(self, layer: str) -> Tensor:
        return self.stacked[self.index[f"{layer}.bias"]]

    def write_buffers(self, members: list[nn.Module]) -> None:
        """Member s gets its slice of every stacked buffer (spectral-norm vectors, batch-norm statistics)."""
        with torch.no_grad():
            for name, (k, _) in self.spectral.items():
                for s, m in enumerate(members):
                    unit = m.get_submodule(name).parametrizations.weight[0]
                    unit._u.copy_(getattr(self, f"sn{k}_u")[s])
                    unit._v.copy_(getattr(self, f"sn{k}_v")[s])
            for bn, member_bns in _bn_pairs(self, members):
                for s, m in enumerate(member_bns):
                    mean, var, count = bn.buffers_of(s)
                    m.running_mean.copy_(mean)
                    m.running_var.copy_(var)
                    m.num_batches_tracked.copy_(count)


class StackedMLP(_Stacked):
    """S toy MLPs (all MLPGenerator or all MLPCritic) as one module.

    x (S*B, in), member-major rows -> (S*B, out), or scores (S*B,) for critics. Layer l's
    weights are one parameter (S, out, in) and its bias (S, out): one batched matrix product.
    """

    def __init__(self, members: list[nn.Module]) -> None:
        super().__init__(members)
        kinds = {type(m) for m in members}
        assert len(kinds) == 1 and kinds <= {MLPGenerator, MLPCritic}, kinds
        self.scores = isinstance(members[0], MLPCritic)
        self.layers: list[str] = []  # a Linear's name, or "relu"
        for k, layer in enumerate(members[0].net):
            assert isinstance(layer, (nn.Linear, nn.ReLU)), type(layer)
            self.layers.append(f"net.{k}" if isinstance(layer, nn.Linear) else "relu")

    def forward(self, x: Tensor) -> Tensor:
        h = x.reshape(self.size, -1, x.shape[-1])  # (S, B, in)
        for layer in self.layers:
            if layer == "relu":
                h = torch.relu(h)
                continue
            w, b = self.weight(layer), self.bias(layer)  # (S, out, in), (S, out)
            if w.shape[1] == 1:
                # A one-output layer (the critic's head) is a matrix-vector product, which the CPU
                # kernels sum in another order when batched: one F.linear per member keeps each
                # member's scores bit-identical to its single run's (it is the cheapest layer).
                h = _per_member_linear(h, w, b)  # (S, B, 1)
            else:
                h = torch.baddbmm(b.unsqueeze(1), h, w.transpose(1, 2))  # (S, B, out): one batched matmul
        h = h.reshape(-1, h.shape[-1])  # (S*B, out)
        return h.squeeze(-1) if self.scores else h


def _per_member_linear(h: Tensor, w: Tensor, b: Tensor) -> Tensor:
    """(S, B, in) x (S, out, in) + (S, out) -> (S, B, out), one F.linear per member (unbind: one stacked gradient)."""
    return torch.stack([F.linear(hs, ws, bs) for hs, ws, bs in zip(h.unbind(0), w.unbind(0), b.unbind(0))])


def _channels_to_members(h: Tensor, size: int) -> Tensor:
    """(B, S*C, H, W), members side by side in the channels -> (S*B, C, H, W), member-major rows."""
    b, sc, hh, ww = h.shape
    return h.reshape(b, size, sc // size, hh, ww).transpose(0, 1).reshape(size * b, sc // size, hh, ww)


def _members_to_channels(x: Tensor, size: int) -> Tensor:
    """(S*B, C, H, W), member-major rows -> (B, S*C, H, W): a grouped convolution with S groups applies member s to group s."""
    sb, c, hh, ww = x.shape
    return x.reshape(size, sb // size, c, hh, ww).transpose(0, 1).reshape(sb // size, size * c, hh, ww)


class _StackedBatchNorm:
    """Per-member batch norm over the members' channels side by side: each channel's statistics are one member's own.

    Running statistics live in the stacked module's buffers (S, F), updated in place through (S*F,) views.
    """

    def __init__(self, owner: nn.Module, bn: nn.Module, members_bn: list[nn.Module], name: str) -> None:
        self.momentum, self.eps = bn.momentum, bn.eps
        owner.register_buffer(f"{name}_mean", torch.stack([m.running_mean for m in members_bn]).clone())
        owner.register_buffer(f"{name}_var", torch.stack([m.running_var for m in members_bn]).clone())
        owner.register_buffer(f"{name}_count", torch.stack([m.num_batches_tracked for m in members_bn]).clone())
        self.owner, self.name = owner, name

    def __call__(self, h: Tensor, weight: Tensor, bias: Tensor) -> Tensor:
        o, n = self.owner, self.name
        mean, var, count = getattr(o, f"{n}_mean"), getattr(o, f"{n}_var"), getattr(o, f"{n}_count")
        if o.training:
            count.add_(1)  # what each member's nn.BatchNorm counts
        return F.batch_norm(h, mean.view(-1), var.view(-1), weight.reshape(-1), bias.reshape(-1), o.training, self.momentum, self.eps)

    def buffers_of(self, s: int) -> tuple[Tensor, Tensor, Tensor]:
        o, n = self.owner, self.name
        return getattr(o, f"{n}_mean")[s], getattr(o, f"{n}_var")[s], getattr(o, f"{n}_count")[s]


class StackedDCGANGenerator(_Stacked):
    """S DCGANGenerators as one: z (S*B, z_dim) -> images (S*B, C, R, R), member-major rows.

    The projection is one batched matrix product; every transposed convolution is one grouped
    convolution with the S members' channels side by side (groups = S); batch norm then sees
    each member's channels with that member's batch statistics only.
    """

    def __init__(self, members: list[nn.Module]) -> None:
        super().__init__(members)
        m0 = members[0]
        self.c0, self.side = m0.c0, m0.side
        self.bns = [_StackedBatchNorm(self, m0.project[1], [m.project[1] for m in members], "bn0")]
        self.blocks: list[tuple[str, nn.Module]] = []  # (name, the member's layer): transposed convolutions and batch norms in order
        for k, layer in enumerate(m0.net):
            if isinstance(layer, nn.BatchNorm2d):
                self.bns.append(_StackedBatchNorm(self, layer, [m.net[k] for m in members], f"bn{len(self.bns)}"))
            if isinstance(layer, (nn.ConvTranspose2d, nn.BatchNorm2d)):
                self.blocks.append((f"net.{k}", layer))

    def forward(self, z: Tensor) -> Tensor:
        S = self.size
        w, b = self.weight("project.0"), self.bias("project.0")  # (S, F, z_dim), (S, F)
        h = torch.baddbmm(b.unsqueeze(1), z.reshape(S, -1, z.shape[-1]), w.transpose(1, 2))  # (S, B, F)
        nb = h.shape[1]
        h = h.transpose(0, 1).reshape(nb, -1)  # (B, S*F): member s's features side by side
        h = torch.relu(self.bns[0](h, self.weight("project.1"), self.bias("project.1")))
        h = h.reshape(nb, S * self.c0, self.side, self.side)  # (B, S*c0, s, s)
        bns = iter(self.bns[1:])
        for name, layer in self.blocks:
            if isinstance(layer, nn.BatchNorm2d):
                h = torch.relu(next(bns)(h, self.weight(name), self.bias(name)))
                continue
            w, b = self.weight(name), self.bias(name)  # (S, c_in, c_out, 4, 4), (S, c_out)
            h = F.conv_transpose2d(h, w.reshape(-1, *w.shape[2:]), b.reshape(-1), layer.stride, layer.padding, groups=S)
        return _channels_to_members(torch.tanh(h), S)  # (S*B, C, R, R)


class StackedDCGANCritic(_Stacked):
    """S DCGANCritics as one: images (S*B, C, R, R), member-major rows -> scores (S*B,).

    Every convolution is one grouped convolution (groups = S); layer norm (GroupNorm(1, c) per
    member) becomes GroupNorm(S, S*c), batch norm per channel is per member already; the head
    is one product per member, as in StackedMLP.
    """

    def __init__(self, members: list[nn.Module]) -> None:
        super().__init__(members)
        self.plan: list[tuple[str, str, nn.Module]] = []  # (kind, name, the member's layer)
        self.bns: list[_StackedBatchNorm] = []
        for k, layer in enumerate(members[0].features):
            name = f"features.{k}"
            if isinstance(layer, nn.Conv2d):
                self.plan.append(("conv", name, layer))
            elif isinstance(layer, nn.GroupNorm):
                self.plan.append(("layer", name, layer))
            elif isinstance(layer, nn.BatchNorm2d):
                self.plan.append(("batch", name, layer))
                self.bns.append(_StackedBatchNorm(self, layer, [m.features[k] for m in members], f"bn{len(self.bns)}"))
            elif isinstance(layer, nn.LeakyReLU):
                self.plan.append(("lrelu", name, layer))
            else:
                assert isinstance(layer, nn.Identity), type(layer)

    def forward(self, x: Tensor) -> Tensor:
        S = self.size
        bns = iter(self.bns)
        h = _members_to_channels(x, S)  # (B, S*C, R, R)
        for kind, name, layer in self.plan:
            if kind == "conv":
                w, b = self.weight(name), self.bias(name)  # (S, c_out, c_in, 4, 4), (S, c_out)
                h = F.conv2d(h, w.reshape(-1, *w.shape[2:]), b.reshape(-1), layer.stride, layer.padding, groups=S)
            elif kind == "layer":  # each member's (c, H, W) per sample
                h = F.group_norm(h, S, self.weight(name).reshape(-1), self.bias(name).reshape(-1), layer.eps)
            elif kind == "batch":
                h = next(bns)(h, self.weight(name), self.bias(name))
            else:
                h = F.leaky_relu(h, layer.negative_slope)
        nb = h.shape[0]
        feats = h.reshape(nb, S, -1).transpose(0, 1)  # (S, B, c*s*s): each member's features in its own flatten order
        return _per_member_linear(feats, self.weight("head"), self.bias("head")).reshape(-1)  # (S*B,)


def stack_modules(members: list[nn.Module]) -> nn.Module:
    """The stacked module of S members (each member's weights and buffers copied in)."""
    kind = type(members[0])
    assert all(type(m) is kind for m in members), "members of one kind"
    if kind in (MLPGenerator, MLPCritic):
        return StackedMLP(members)
    if kind is DCGANGenerator:
        return StackedDCGANGenerator(members)
    if kind is DCGANCritic:
        return StackedDCGANCritic(members)
    raise ConfigError(f"ensemble: no stacked form of {kind.__name__}")


def _bn_pairs(stacked: nn.Module, members: list[nn.Module]) -> list[tuple[Any, list[nn.Module]]]:
    """(stacked batch norm, the members' batch-norm modules) in order."""
    bns = getattr(stacked, "bns", [])
    per_member = [[m for m in member.modules() if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d))] for member in members]
    return [(bn, [pm[i] for pm in per_member]) for i, bn in enumerate(bns)]


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
    stacked.write_buffers(members)
    with torch.no_grad():
        for big, ps in zip(stacked.parameters(), _member_params(members)):
            state = opt.state.get(big, {})
            for s, (p, mo) in enumerate(zip(ps, member_opts)):
                p.copy_(big[s])
                if state:
                    mo.state[p] = {k: (v[s].clone() if _per_param(v, big) else _copy(v)) for k, v in state.items()}


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
        S, b, k, every = self.size, self.config.batch_size, self.config.n_critic, self.config.penalty_every
        inputs = [m.critic_inputs() for m in self.members]  # each member draws from its own streams, as its single run
        reals = torch.stack([r for r, _ in inputs])  # (S, k*B, ...)
        zs = torch.stack([z for _, z in inputs])  # (S, k*B, z_dim)
        for i in range(k):
            part = slice(i * b, (i + 1) * b)
            real = reals[:, part].reshape(S * b, *reals.shape[2:])  # (S*B, ...) member-major
            with torch.no_grad(), self._autocast():
                fake = self.generator(zs[:, part].reshape(S * b, -1)).to(real.dtype)  # (S*B, ...)
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


__all__ = [
    "Ensemble", "StackedDCGANCritic", "StackedDCGANGenerator", "StackedMLP", "check_members", "refusal", "seed_key", "stack_modules",
    "train_ensemble", "unstack_into",
]  # fmt: skip
