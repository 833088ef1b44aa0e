"""Adversarial losses: one small pure function per loss, one registry.

Every function takes raw critic outputs (logits for the minimax and
non-saturating losses, unbounded scores for the Wasserstein loss) of shape
(N,) or (N, 1) and returns a scalar tensor: the quantity to *minimise*.

The minimax and non-saturating losses are written with softplus, using
log D = log sigmoid(s) = -softplus(-s) and log(1 - D) = -softplus(s), so that
the saturating generator loss really saturates (its gradient vanishes when
D(G(z)) -> 0) without ever producing log(0) = -inf or NaN.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import torch.nn.functional as F
from torch import Tensor


def minimax_critic(real: Tensor, fake: Tensor) -> Tensor:
    """Discriminator loss of the original GAN (Goodfellow et al. 2014, eq. 1).

    max_D E[log D(x)] + E[log(1 - D(G(z)))], written as the loss to minimise:
        E[softplus(-s_real)] + E[softplus(s_fake)]
    real, fake: (N,) logits. Returns a scalar.
    """
    return F.softplus(-real).mean() + F.softplus(fake).mean()


def minimax_generator(fake: Tensor) -> Tensor:
    """Saturating generator loss of the original GAN: min_G E[log(1 - D(G(z)))].

    = -E[softplus(s_fake)]. d/ds = -sigmoid(s) -> 0 as D(G(z)) -> 0: the
    generator stops learning exactly when the discriminator wins, which is
    why Goodfellow et al. propose the non-saturating loss. fake: (N,) logits.
    """
    return -F.softplus(fake).mean()


def nonsaturating_generator(fake: Tensor) -> Tensor:
    """Non-saturating generator loss (Goodfellow et al. 2014, sec. 3): max_G E[log D(G(z))].

    = E[softplus(-s_fake)]. d/ds = sigmoid(s) - 1 -> -1 as D(G(z)) -> 0, so the
    gradient is strongest where the generator is worst. fake: (N,) logits.
    """
    return F.softplus(-fake).mean()


def wasserstein_critic(real: Tensor, fake: Tensor) -> Tensor:
    """WGAN critic loss (Arjovsky et al. 2017, Alg. 1): min_D E[D(G(z))] - E[D(x)].

    Its negation is the critic's estimate of W1(P_r, P_g) when D is 1-Lipschitz.
    real, fake: (N,) scores. Returns a scalar.
    """
    return fake.mean() - real.mean()


def wasserstein_generator(fake: Tensor) -> Tensor:
    """WGAN generator loss: min_G -E[D(G(z))]. fake: (N,) scores."""
    return -fake.mean()


class Loss(NamedTuple):
    critic: Callable[[Tensor, Tensor], Tensor]
    generator: Callable[[Tensor], Tensor]


LOSSES: dict[str, Loss] = {
    "minimax": Loss(minimax_critic, minimax_generator),
    "nonsaturating": Loss(minimax_critic, nonsaturating_generator),
    "wasserstein": Loss(wasserstein_critic, wasserstein_generator),
}


def _get(loss: str) -> Loss:
    try:
        return LOSSES[loss]
    except KeyError:
        raise ValueError(f"loss: unknown {loss!r}; allowed: {', '.join(LOSSES)}") from None


def critic_loss(loss: str, real_scores: Tensor, fake_scores: Tensor) -> Tensor:
    """The critic's (discriminator's) loss to minimise for the named loss.

    loss: one of "minimax", "nonsaturating", "wasserstein" (the first two share
    the discriminator loss). real_scores, fake_scores: raw critic outputs, (N,) or (N, 1).
    """
    return _get(loss).critic(real_scores.reshape(-1), fake_scores.reshape(-1))


def generator_loss(loss: str, fake_scores: Tensor) -> Tensor:
    """The generator's loss to minimise for the named loss. fake_scores: (N,) or (N, 1)."""
    return _get(loss).generator(fake_scores.reshape(-1))


__all__ = ["LOSSES", "critic_loss", "generator_loss"]
