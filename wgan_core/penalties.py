"""Lipschitz constraints on the critic: weight clipping and gradient penalties.

A differentiable f is 1-Lipschitz iff ||grad f(x)|| <= 1 everywhere, so the
penalties push the gradient norm at random interpolates x_hat towards 1:

    two-sided (WGAN-GP, Gulrajani et al. 2017, eq. 3):  E[(||grad D(x_hat)||_2 - 1)^2]
    one-sided (WGAN-LP, Petzka et al. 2018, eq. 8):     E[max(0, ||grad D(x_hat)||_2 - 1)^2]

with x_hat = eps * x + (1 - eps) * G(z), eps ~ U[0, 1] drawn per sample, and the
norm taken over all non-batch dimensions of each sample's gradient. Beyond these:
zero-centred penalties E[||grad D||^2] at the real data (R1), the fakes (R2), both
(R1 + R2, R3GAN) or the interpolates (GP-0), and DRAGAN's penalty around the real data
(at x + alpha (x_p - x), x_p a perturbation of the real batch).
Weight clipping (WGAN, Arjovsky et al. 2017, Alg. 1) clamps every critic
parameter to [-c, c] after each critic update.

Every constraint is one registered `Constraint` (penalty and/or after-step hook);
register your own from a script with `wgan_core.register_constraint(...)`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import torch
from torch import Tensor, nn

from .errors import ConfigError, lookup

# Added under the square root so the norm's gradient stays finite where the
# input gradient is exactly zero (sqrt'(0) = inf); shifts the norm by < 1e-6.
_NORM_EPS = 1e-12


def interpolate(real: Tensor, fake: Tensor, eps: Tensor) -> Tensor:
    """x_hat = eps * real + (1 - eps) * fake. real, fake: (N, ...); eps: (N,). Returns (N, ...)."""
    eps = eps.reshape(-1, *([1] * (real.dim() - 1))).to(real.dtype)
    return torch.lerp(fake, real, eps)  # fake + eps * (real - fake): one kernel


def input_grad_sq_norms(critic: nn.Module, x: Tensor, *, create_graph: bool = False) -> Tensor:
    """Per-sample squared L2 norm of d critic(x) / d x over all non-batch dims. x: (N, ...). Returns (N,) in float32 (or float64).

    Computed in float32 whatever dtype autocast ran the critic in, following PyTorch's
    AMP guidance for gradient penalties.
    """
    with torch.enable_grad():  # a gradient is needed even when called under no_grad (evaluation)
        x = x.detach().requires_grad_(True)
        scores = critic(x)
        (grad,) = torch.autograd.grad(scores.sum(), x, create_graph=create_graph)
    grad = grad.to(torch.promote_types(grad.dtype, torch.float32))  # bf16/fp16 -> fp32; fp64 stays
    return grad.flatten(1).pow(2).sum(dim=1)


def input_grad_norms(critic: nn.Module, x: Tensor, *, create_graph: bool = False) -> Tensor:
    """Per-sample L2 norm of d critic(x) / d x over all non-batch dims. x: (N, ...). Returns (N,) in float32 (or float64)."""
    return torch.sqrt(input_grad_sq_norms(critic, x, create_graph=create_graph) + _NORM_EPS)


def _gap_sq(norms: Tensor, one_sided: bool) -> Tensor:
    """(||g|| - 1)^2 per sample, or max(0, ||g|| - 1)^2. norms: (N,) -> (N,)."""
    gap = norms - 1.0
    return (gap.clamp_min(0.0) if one_sided else gap).pow(2)


def penalty_from_norms(norms: Tensor, *, one_sided: bool = False) -> Tensor:
    """(||g|| - 1)^2 averaged over the batch, or max(0, ||g|| - 1)^2 when one_sided. norms: (N,)."""
    return _gap_sq(norms, one_sided).mean()


class MemberStreams:
    """The random streams of S ensemble members trained as one (wgan_core.training.ensemble).

    A stacked batch holds each member's B samples consecutively (S*B rows); member s's
    rows draw from member s's own generator, exactly as its single run would.
    """

    def __init__(self, generators: list[torch.Generator]) -> None:
        self.generators = list(generators)

    def rand(self, shape: tuple[int, ...], device: torch.device) -> Tensor:
        n = shape[0] // len(self.generators)
        return torch.cat([torch.rand((n, *shape[1:]), device=device, generator=g) for g in self.generators])


# What a penalty receives as its `generator` argument: the run's torch.Generator in a single run, the members' MemberStreams
# in a seed ensemble (None: the global generator, in tests). A penalty must draw only through `uniform` (each member from
# its own stream) and take batch statistics only through `batch_std` (each member's own batch): torch.rand(generator=...)
# does not accept MemberStreams, and a plain x.std() would mix the members of a stacked batch.
Randomness = torch.Generator | MemberStreams | None


def uniform(shape: tuple[int, ...], device: torch.device, generator: Randomness) -> Tensor:
    """U[0, 1) of `shape` (batch first) from the run's stream, or from each ensemble member's own stream."""
    if isinstance(generator, MemberStreams):
        return generator.rand(tuple(shape), device)
    return torch.rand(shape, device=device, generator=generator)


def batch_std(x: Tensor, generator: Randomness) -> Tensor:
    """The std of a batch over all its elements, NumPy's (ddof 0, as DRAGAN's reference computes X.std()); per member for an ensemble."""
    if isinstance(generator, MemberStreams):
        s = len(generator.generators)
        std = x.reshape(s, -1).std(dim=1, correction=0)  # (S,)
        return std.repeat_interleave(x.shape[0] // s).reshape(-1, *([1] * (x.dim() - 1)))
    return x.std(correction=0)


def gradient_penalty(
    critic: nn.Module,
    real: Tensor,
    fake: Tensor,
    *,
    one_sided: bool = False,
    eps: Tensor | None = None,
    generator: Randomness = None,
) -> Tensor:
    """Un-weighted gradient penalty at random interpolates (the caller applies lambda).

    real, fake: (N, ...) batches of the same shape (fake detached from the generator).
    eps: optional (N,) interpolation weights in [0, 1]; drawn from U[0, 1] with
    `generator` when omitted. Returns a scalar, differentiable w.r.t. the critic's
    parameters (the gradient is taken with create_graph=True).
    """
    if real.shape != fake.shape:
        raise ValueError(f"gradient_penalty: real {tuple(real.shape)} and fake {tuple(fake.shape)} differ in shape")
    return penalty_from_norms(_norms_at_interpolates(critic, real, fake, generator, eps), one_sided=one_sided)


def _norms_at_interpolates(critic: nn.Module, real: Tensor, fake: Tensor, generator, eps: Tensor | None = None) -> Tensor:
    """||grad D(x_hat)|| per sample (N,), x_hat = eps x + (1 - eps) G(z), eps ~ U[0, 1] from `generator` unless given."""
    if eps is None:
        eps = uniform((real.shape[0],), real.device, generator)
    return input_grad_norms(critic, interpolate(real, fake.detach(), eps), create_graph=True)


@torch.no_grad()
def clip_weights_(critic: nn.Module, c: float) -> None:
    """Clamp every critic parameter to [-c, c] in place (WGAN, Arjovsky et al. 2017)."""
    params = list(critic.parameters())
    torch._foreach_clamp_min_(params, -c)
    torch._foreach_clamp_max_(params, c)


# ---------------------------------------------------------------------------------------------
# The registry. A constraint's penalty terms have the uniform signature
#     terms(critic, real (N, ...), fake (N, ...), generator) -> (N,) per-sample terms (or a tuple of such parts)
# whose mean is the unweighted penalty (a plug-in's batch-mean scalar with per_sample=False; generator: the
# run's torch.Generator, or an ensemble's MemberStreams, for any randomness; the trainer multiplies by
# config.penalty_weight), and its after_critic_step(critic, config) runs after every critic update (weight clipping).
# ---------------------------------------------------------------------------------------------
def two_sided_terms(critic: nn.Module, real: Tensor, fake: Tensor, generator: Randomness = None) -> Tensor:
    """WGAN-GP: E[(||grad D(x_hat)|| - 1)^2], x_hat = eps x + (1 - eps) G(z), eps ~ U[0, 1] per sample (Gulrajani et al. 2017, eq. 3)."""
    return _gap_sq(_norms_at_interpolates(critic, real, fake, generator), one_sided=False)


def one_sided_terms(critic: nn.Module, real: Tensor, fake: Tensor, generator: Randomness = None) -> Tensor:
    """WGAN-LP: E[max(0, ||grad D(x_hat)|| - 1)^2] at the same interpolates (Petzka et al. 2018, eq. 8)."""
    return _gap_sq(_norms_at_interpolates(critic, real, fake, generator), one_sided=True)


def gp0_terms(critic: nn.Module, real: Tensor, fake: Tensor, generator: Randomness = None) -> Tensor:
    """GP-0 (Thanh-Tung et al. 2019): E[||grad D(x_hat)||^2] at the WGAN-GP interpolates, pushing the gradient towards 0, not 1."""
    eps = uniform((real.shape[0],), real.device, generator)
    return input_grad_sq_norms(critic, interpolate(real, fake.detach(), eps), create_graph=True)


def r1_terms(critic: nn.Module, real: Tensor, fake: Tensor, generator: Randomness = None) -> Tensor:
    """R1 (Mescheder et al. 2018, eq. 9 without gamma/2): E[||grad_x D(x)||^2] at the real batch. real: (N, ...)."""
    return input_grad_sq_norms(critic, real, create_graph=True)


def r2_terms(critic: nn.Module, real: Tensor, fake: Tensor, generator: Randomness = None) -> Tensor:
    """R2 (Mescheder et al. 2018): E[||grad_x D(x)||^2] at the fake batch. fake: (N, ...), detached from the generator."""
    return input_grad_sq_norms(critic, fake.detach(), create_graph=True)


def r1r2_terms(critic: nn.Module, real: Tensor, fake: Tensor, generator: Randomness = None) -> tuple[Tensor, Tensor]:
    """R1 + R2 (R3GAN, Huang et al. 2024): the sum of the two zero-centred penalties. R3GAN's gamma/2 is the penalty_weight.

    Returns the two parts' per-sample terms ((N,), (N,)): the penalty is mean(R1 terms) + mean(R2 terms).
    """
    return r1_terms(critic, real, fake), r2_terms(critic, real, fake)


def dragan_terms(critic: nn.Module, real: Tensor, fake: Tensor, generator: Randomness = None) -> Tensor:
    """DRAGAN (Kodali et al. 2017): E[(||grad D(x_hat)|| - 1)^2] at x_hat = x + alpha (x_p - x), x_p = x + 0.5 s u.

    As the reference code does it (kodalinaveen3/DRAGAN, DRAGAN.ipynb; also compare_gan's DRAGAN.py): s is the
    standard deviation of the real batch over all its elements (one scalar, ddof 0 as NumPy's X.std() there), u ~ U[0, 1) elementwise
    (N, ...), alpha ~ U[0, 1) per sample (N,): points on the segment from x towards its perturbation, so the
    penalty covers the neighbourhood of the data, not only the far end x_p. real: (N, ...). Draws u, then alpha.
    """
    u = uniform(tuple(real.shape), real.device, generator).to(real.dtype)  # (N, ...)
    alpha = uniform((real.shape[0],), real.device, generator)  # (N,)
    x_p = real + 0.5 * batch_std(real, generator) * u
    x_hat = interpolate(x_p, real, alpha)  # real + alpha (x_p - real)
    return _gap_sq(input_grad_norms(critic, x_hat, create_graph=True), one_sided=False)


def mean_of_terms(terms: Tensor | tuple[Tensor, ...], members: int = 0) -> Tensor:
    """The penalty from per-sample terms (N,), or from a tuple of parts (the sum of their means).

    members: S > 0 for a seed ensemble's stacked batch (S*B rows): each member's own value, (S,).
    """
    parts = terms if isinstance(terms, tuple) else (terms,)
    means = [p.reshape(members, -1).mean(1) if members else p.mean() for p in parts]
    out = means[0]
    for m in means[1:]:
        out = out + m
    return out


def penalty_scale(config: Any) -> float:
    """What the unweighted penalty is multiplied by in the critic loss: lambda, times k under lazy regularisation
    (a penalty on every k-th critic step only, StyleGAN2's; k = 1 computes it on every step)."""
    return config.penalty_weight * config.penalty_every


def _mean_of(terms: Callable[..., Tensor | tuple[Tensor, ...]]) -> PenaltyFn:
    def penalty(critic: nn.Module, real: Tensor, fake: Tensor, generator: Randomness = None) -> Tensor:
        return mean_of_terms(terms(critic, real, fake, generator))

    penalty.__doc__ = terms.__doc__
    penalty.__name__ = terms.__name__.replace("_terms", "_penalty")
    return penalty


two_sided_penalty, one_sided_penalty, r1_penalty, r2_penalty, r1r2_penalty, dragan_penalty, gp0_penalty = (
    _mean_of(t) for t in (two_sided_terms, one_sided_terms, r1_terms, r2_terms, r1r2_terms, dragan_terms, gp0_terms)
)
zero_centred_at_interpolates = gp0_penalty  # the scalar GP-0 penalty, under its earlier name


def clip_after_step(critic: nn.Module, config) -> None:
    """Weight clipping after each critic update: every parameter to [-config.clip_value, config.clip_value]."""
    clip_weights_(critic, config.clip_value)


PenaltyFn = Callable[[nn.Module, Tensor, Tensor, Randomness], Tensor]


@dataclass(frozen=True)
class Constraint:
    """A registered Lipschitz constraint or regulariser of the critic: one penalty form, `terms`, and an after-step hook.

    terms(critic, real, fake, generator): per-sample terms (N,) or a tuple of such parts, whose mean
    (`mean_of_terms`) is the penalty; per_sample False: a plug-in's batch-mean penalty () as it gave it,
    which a seed ensemble cannot split by member (training.ensemble.refusal).
    """

    terms: PenaltyFn | None = None  # the unweighted penalty's terms (times penalty_weight in the critic loss), or None: no penalty
    after_critic_step: Callable[[nn.Module, Any], None] | None = None  # (critic, config) after each critic update, or None
    source: str = ""  # where it comes from (a paper, or 'this project'): required at registration
    per_sample: bool = True  # terms are per sample (or a tuple of per-sample parts)
    double_backward: bool | None = None  # the penalty differentiates an input gradient (None: whenever it penalises)
    name: str = ""  # set by register_constraint

    @property
    def penalises(self) -> bool:
        return self.terms is not None

    def penalty(self, critic: nn.Module, real: Tensor, fake: Tensor, generator: Randomness = None) -> Tensor:
        """The unweighted penalty of one batch (N, ...): ()."""
        return self.member_penalties(critic, real, fake, generator, 1)

    def member_penalties(self, critic: nn.Module, real: Tensor, fake: Tensor, generator: Randomness, members: int) -> Tensor:
        """Each member's unweighted penalty for a batch of S members' B rows each (S*B, ...): what the step calls.

        (S,) for a seed ensemble, () for a run alone (S = 1): the mean of each member's per-sample terms.
        A batch-mean penalty has one value per batch, so it serves S = 1 alone.
        """
        assert self.terms is not None, f"constraint {self.name}: no penalty"
        out = self.terms(critic, real, fake, generator)
        if self.per_sample:
            return mean_of_terms(out, members if members > 1 else 0)
        assert members == 1, f"constraint {self.name}: a batch-mean penalty cannot be split into {members} members"
        return out


CONSTRAINTS: dict[str, Constraint] = {}


def register_constraint(name: str, constraint: Constraint) -> Constraint:
    """Make a constraint available to RunConfig(constraint=name), the trainer, studies and the tests; returns its entry.

    Constraint(terms=fn, source=...): fn(critic, real, fake, generator) -> (N,) per-sample terms (or a
    tuple of such parts), the penalty their mean (the sum of their means), weighted by
    config.penalty_weight; such a constraint also trains in seed ensembles. per_sample=False: fn
    returns a batch-mean scalar instead, and the constraint trains in single runs only.
    after_critic_step(critic, config) runs after each critic update. double_backward (default: True
    when there is a penalty) says whether the penalty needs a gradient of a gradient. The ensemble
    contract (`Randomness`): `generator` is a torch.Generator in a single run and a MemberStreams in
    an ensemble, whose stacked batch holds each member's B rows in turn; draw random numbers only with
    `uniform(shape, device, generator)` and take a batch statistic only with
    `batch_std(x, generator)`, so that each member draws from its own stream and sees only its
    own batch (torch.rand(generator=...) fails on a MemberStreams; x.std() would mix members).
    Registering a name again replaces it; give runs that use a plug-in its module in RunConfig.plugins.
    """
    if not isinstance(name, str) or not name or "," in name:
        raise ConfigError(f"register_constraint: name must be a non-empty string without commas, got {name!r}")
    if not isinstance(constraint, Constraint):
        raise ConfigError(f"register_constraint: {name!r} needs a Constraint(terms=..., after_critic_step=..., source=...), got {type(constraint).__name__}")
    for what, fn in (("terms", constraint.terms), ("after_critic_step", constraint.after_critic_step)):
        if fn is not None and not callable(fn):
            raise ConfigError(f"register_constraint: {what} of {name!r} must be a callable or None")
    if not isinstance(constraint.source, str) or not constraint.source:
        raise ConfigError(f"register_constraint: source of {name!r}: say where it comes from (a paper, or 'this project')")
    double = constraint.terms is not None if constraint.double_backward is None else bool(constraint.double_backward)
    entry = replace(constraint, name=name, double_backward=double)
    CONSTRAINTS[name] = entry
    return entry


register_constraint("none", Constraint(source="no constraint (Goodfellow et al. 2014)"))
register_constraint("clip", Constraint(after_critic_step=clip_after_step, source="weight clipping (Arjovsky et al. 2017)"))
register_constraint("gp", Constraint(two_sided_terms, source="two-sided gradient penalty (Gulrajani et al. 2017)"))
register_constraint("lp", Constraint(one_sided_terms, source="one-sided gradient penalty (Petzka et al. 2018)"))
register_constraint("r1", Constraint(r1_terms, source="zero-centred penalty at the real data, R1 (Mescheder et al. 2018)"))
register_constraint("r2", Constraint(r2_terms, source="zero-centred penalty at the fake data, R2 (Mescheder et al. 2018)"))
register_constraint("r1r2", Constraint(r1r2_terms, source="R1 + R2 (R3GAN, Huang et al. 2024)"))
register_constraint("gp0", Constraint(gp0_terms, source="zero-centred penalty at interpolates, GP-0 (Thanh-Tung et al. 2019)"))
register_constraint("dragan", Constraint(dragan_terms, source="DRAGAN (Kodali et al. 2017)"))


def get_constraint(name: str) -> Constraint:
    """The registered constraint, or a one-line ConfigError naming the registered ones."""
    return lookup(CONSTRAINTS, name, "constraint", " (or register one: wgan_core.register_constraint)")


def constraint_names() -> tuple[str, ...]:
    return tuple(CONSTRAINTS)


def penalty(name: str, critic: nn.Module, real: Tensor, fake: Tensor, generator: Randomness = None) -> Tensor:
    """The unweighted value of the named registered penalty (0 for a constraint without one). real, fake: (N, ...)."""
    entry = get_constraint(name)
    if not entry.penalises:
        return real.new_zeros(())
    return entry.penalty(critic, real, fake, generator)


__all__ = [
    "CONSTRAINTS", "Constraint", "MemberStreams", "constraint_names", "Randomness", "batch_std", "clip_weights_", "get_constraint", "gradient_penalty",
    "input_grad_norms", "input_grad_sq_norms", "interpolate", "mean_of_terms", "penalty_scale", "penalty", "penalty_from_norms",
    "register_constraint", "uniform",
]  # fmt: skip
