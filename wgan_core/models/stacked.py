"""Stacked modules: S members of one architecture as one module, for seed ensembles (wgan_core.training.ensemble).

An architecture's registry entry declares its stacked forms (`Architecture.stack_generator`, `stack_critic`, models/registry.py):
the toy MLPs and the DCGANs stack into the modules here; an architecture without one trains its
seeds as single runs.

Rows of a stacked batch are member-major: member s's B samples are rows s*B .. (s+1)*B - 1.
Parameter i of a stacked module (S, *shape) stacks parameter i of every member, in a member's
`parameters()` order, so optimiser states map one to one (wgan_core.training.ensemble
`stack_optimizer_state`, `unstack_into`). The toy MLPs become batched matrix products; the DCGANs grouped convolutions
with the members' channels side by side and normalisation per member; spectral normalisation is
replayed per member. Member s's rows only ever meet member s's weights.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .mlp import MLPCritic, MLPGenerator


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
            for bn, member_bns in bn_pairs(self, members):
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


def bn_pairs(stacked: nn.Module, members: list[nn.Module]) -> list[tuple[Any, list[nn.Module]]]:
    """(stacked batch norm, the members' batch-norm modules) in order."""
    bns = getattr(stacked, "bns", [])
    per_member = [[m for m in member.modules() if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d))] for member in members]
    return [(bn, [pm[i] for pm in per_member]) for i, bn in enumerate(bns)]


__all__ = ["StackedDCGANCritic", "StackedDCGANGenerator", "StackedMLP", "bn_pairs"]
