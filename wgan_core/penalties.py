"""Lipschitz constraints on the critic: weight clipping and gradient penalties.

A differentiable f is 1-Lipschitz iff ||grad f(x)|| <= 1 everywhere, so the
penalties push the gradient norm at random interpolates x_hat towards 1:

    two-sided (WGAN-GP, Gulrajani et al. 2017, eq. 3):  E[(||grad D(x_hat)||_2 - 1)^2]
    one-sided (WGAN-LP, Petzka et al. 2018, eq. 8):     E[max(0, ||grad D(x_hat)||_2 - 1)^2]

with x_hat = eps * x + (1 - eps) * G(z), eps ~ U[0, 1] drawn per sample, and the
norm taken over all non-batch dimensions of each sample's gradient.
Weight clipping (WGAN, Arjovsky et al. 2017, Alg. 1) clamps every critic
parameter to [-c, c] after each critic update.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor, nn

# Added under the square root so the norm's gradient stays finite where the
# input gradient is exactly zero (sqrt'(0) = inf); shifts the norm by < 1e-6.
_NORM_EPS = 1e-12


def interpolate(real: Tensor, fake: Tensor, eps: Tensor) -> Tensor:
    """x_hat = eps * real + (1 - eps) * fake. real, fake: (N, ...); eps: (N,). Returns (N, ...)."""
    eps = eps.reshape(-1, *([1] * (real.dim() - 1))).to(real.dtype)
    return torch.lerp(fake, real, eps)  # fake + eps * (real - fake): one kernel


def input_grad_norms(critic: nn.Module, x: Tensor, *, create_graph: bool = False) -> Tensor:
    """Per-sample L2 norm of d critic(x) / d x over all non-batch dims. x: (N, ...). Returns (N,) in float32 (or float64).

    The norm is computed in float32 whatever dtype autocast ran the critic in,
    following PyTorch's AMP guidance for gradient penalties.
    """
    with torch.enable_grad():  # a gradient is needed even when called under no_grad (evaluation)
        x = x.detach().requires_grad_(True)
        scores = critic(x)
        (grad,) = torch.autograd.grad(scores.sum(), x, create_graph=create_graph)
    grad = grad.to(torch.promote_types(grad.dtype, torch.float32))  # bf16/fp16 -> fp32; fp64 stays
    return torch.sqrt(grad.flatten(1).pow(2).sum(dim=1) + _NORM_EPS)


def penalty_from_norms(norms: Tensor, *, one_sided: bool = False) -> Tensor:
    """(||g|| - 1)^2 averaged over the batch, or max(0, ||g|| - 1)^2 when one_sided. norms: (N,)."""
    gap = norms - 1.0
    if one_sided:
        gap = gap.clamp_min(0.0)
    return gap.pow(2).mean()


def gradient_penalty(
    critic: nn.Module,
    real: Tensor,
    fake: Tensor,
    *,
    one_sided: bool = False,
    eps: Tensor | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Un-weighted gradient penalty at random interpolates (the caller applies lambda).

    real, fake: (N, ...) batches of the same shape (fake detached from the generator).
    eps: optional (N,) interpolation weights in [0, 1]; drawn from U[0, 1] with
    `generator` when omitted. Returns a scalar, differentiable w.r.t. the critic's
    parameters (the gradient is taken with create_graph=True).
    """
    if real.shape != fake.shape:
        raise ValueError(f"gradient_penalty: real {tuple(real.shape)} and fake {tuple(fake.shape)} differ in shape")
    if eps is None:
        eps = torch.rand(real.shape[0], device=real.device, generator=generator)
    x_hat = interpolate(real, fake.detach(), eps)
    return penalty_from_norms(input_grad_norms(critic, x_hat, create_graph=True), one_sided=one_sided)


@torch.no_grad()
def clip_weights_(critic: nn.Module, c: float) -> None:
    """Clamp every critic parameter to [-c, c] in place (WGAN, Arjovsky et al. 2017)."""
    params = list(critic.parameters())
    torch._foreach_clamp_min_(params, -c)
    torch._foreach_clamp_max_(params, c)


class Constraint(NamedTuple):
    penalty: bool  # adds lambda * gradient_penalty to the critic loss
    one_sided: bool  # max(0, ||g|| - 1)^2 instead of (||g|| - 1)^2
    clip: bool  # clamp critic weights after each critic update
    source: str


CONSTRAINTS: dict[str, Constraint] = {
    "none": Constraint(False, False, False, "no constraint (Goodfellow et al. 2014)"),
    "clip": Constraint(False, False, True, "weight clipping (Arjovsky et al. 2017)"),
    "gp": Constraint(True, False, False, "two-sided gradient penalty (Gulrajani et al. 2017)"),
    "lp": Constraint(True, True, False, "one-sided gradient penalty (Petzka et al. 2018)"),
}
