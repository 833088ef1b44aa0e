"""Adversarial losses: one small pure function per loss, one registry that user code can extend.

A loss is a pair of functions with uniform signatures (compare_gan's lesson):

    critic(real_scores, fake_scores) -> scalar      the critic's loss to minimise
    generator(fake_scores, real_scores) -> scalar   the generator's loss to minimise

Scores are raw critic outputs of shape (N,): logits for the minimax and
non-saturating losses, unbounded scores for the Wasserstein loss. The generator
receives the real scores too, because relativistic losses pair each fake with a
real sample; a loss that does not need them ignores them, and the trainer only
computes them for losses registered with `generator_needs_real=True`.

The minimax and non-saturating losses are written with softplus, using
log D = log sigmoid(s) = -softplus(-s) and log(1 - D) = -softplus(s), so that
the saturating generator loss really saturates (its gradient vanishes when
D(G(z)) -> 0) without ever producing log(0) = -inf or NaN.

Register your own from a script: `wgan_core.register_loss("name", Loss(critic=..., generator=..., source=...))`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import torch.nn.functional as F
from torch import Tensor

from .errors import ConfigError, lookup


def minimax_critic(real: Tensor, fake: Tensor) -> Tensor:
    """Discriminator loss of the original GAN (Goodfellow et al. 2014, eq. 1).

    max_D E[log D(x)] + E[log(1 - D(G(z)))], written as the loss to minimise:
        E[softplus(-s_real)] + E[softplus(s_fake)]
    real, fake: (N,) logits. Returns a scalar.
    """
    return F.softplus(-real).mean() + F.softplus(fake).mean()


def minimax_generator(fake: Tensor, real: Tensor | None = None) -> Tensor:
    """Saturating generator loss of the original GAN: min_G E[log(1 - D(G(z)))].

    = -E[softplus(s_fake)]. d/ds = -sigmoid(s) -> 0 as D(G(z)) -> 0: the
    generator stops learning exactly when the discriminator wins, which is
    why Goodfellow et al. propose the non-saturating loss. fake: (N,) logits.
    """
    return -F.softplus(fake).mean()


def nonsaturating_generator(fake: Tensor, real: Tensor | None = None) -> Tensor:
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


def wasserstein_generator(fake: Tensor, real: Tensor | None = None) -> Tensor:
    """WGAN generator loss: min_G -E[D(G(z))]. fake: (N,) scores."""
    return -fake.mean()


def hinge_critic(real: Tensor, fake: Tensor) -> Tensor:
    """Hinge loss of the critic (Lim & Ye 2017; Miyato et al. 2018, eq. 17): E[relu(1 - D(x))] + E[relu(1 + D(G(z)))].

    real, fake: (N,) raw scores. A score beyond the margin (D(x) >= 1, D(G(z)) <= -1) adds no gradient.
    """
    return F.relu(1.0 - real).mean() + F.relu(1.0 + fake).mean()


def hinge_generator(fake: Tensor, real: Tensor | None = None) -> Tensor:
    """Hinge loss of the generator (Miyato et al. 2018): -E[D(G(z))]; the same as WGAN's. fake: (N,) scores."""
    return -fake.mean()


def least_squares_critic(real: Tensor, fake: Tensor) -> Tensor:
    """LSGAN critic (Mao et al. 2017, eq. 2 with a = 0, b = 1): 1/2 E[(D(x) - 1)^2] + 1/2 E[D(G(z))^2]. real, fake: (N,) scores."""
    return 0.5 * (real - 1.0).pow(2).mean() + 0.5 * fake.pow(2).mean()


def least_squares_generator(fake: Tensor, real: Tensor | None = None) -> Tensor:
    """LSGAN generator (Mao et al. 2017, eq. 2 with c = 1): 1/2 E[(D(G(z)) - 1)^2]. d/ds = s - 1: never saturates. fake: (N,)."""
    return 0.5 * (fake - 1.0).pow(2).mean()


def relativistic_critic(real: Tensor, fake: Tensor) -> Tensor:
    """Relativistic pairing (RpGAN; Jolicoeur-Martineau 2019; R3GAN, Huang et al. 2024): E[softplus(-(D(x) - D(G(z))))].

    real, fake: (N,) scores, paired by batch position: the critic learns that each real sample
    is more real than its paired fake.
    """
    return F.softplus(-(real - fake)).mean()


def relativistic_generator(fake: Tensor, real: Tensor | None = None) -> Tensor:
    """Relativistic pairing, generator side: E[softplus(-(D(G(z)) - D(x)))]. fake, real: (N,) scores, paired by position."""
    if real is None:
        raise ValueError("relativistic_generator: needs the real scores (the loss pairs each fake with a real sample)")
    return F.softplus(-(fake - real)).mean()


@dataclass(frozen=True)
class Loss:
    """A registered loss: its two functions, whether the generator needs the real scores, and where it comes from."""

    critic: Callable[[Tensor, Tensor], Tensor]  # (real_scores (N,), fake_scores (N,)) -> scalar
    generator: Callable[[Tensor, Tensor | None], Tensor]  # (fake_scores (N,), real_scores (N,) or None) -> scalar
    source: str
    generator_needs_real: bool = False  # relativistic losses: the generator step scores a real batch too
    name: str = ""  # set by register_loss


LOSSES: dict[str, Loss] = {}


def register_loss(name: str, loss: Loss) -> Loss:
    """Make a loss available to RunConfig(loss=name), the trainer, studies and the tests; returns its entry.

    loss.critic(real_scores, fake_scores) and loss.generator(fake_scores, real_scores) take (N,) raw
    critic outputs and return the scalar to minimise. Registering a name again replaces it
    (so a plug-in module can be imported twice); give runs that use a plug-in its module in
    RunConfig.plugins so that worker processes register it too.
    """
    if not isinstance(name, str) or not name or "," in name:
        raise ConfigError(f"register_loss: name must be a non-empty string without commas, got {name!r}")
    if not isinstance(loss, Loss):
        raise ConfigError(f"register_loss: {name!r} needs a Loss(critic=..., generator=..., source=...), got {type(loss).__name__}")
    if not (callable(loss.critic) and callable(loss.generator)):
        raise ConfigError(f"register_loss: critic and generator of {name!r} must be callables")
    if not isinstance(loss.source, str) or not loss.source:
        raise ConfigError(f"register_loss: source of {name!r}: say where the loss comes from (a paper, or 'this project')")
    entry = replace(loss, name=name, generator_needs_real=bool(loss.generator_needs_real))
    LOSSES[name] = entry
    return entry


register_loss("minimax", Loss(minimax_critic, minimax_generator, "Goodfellow et al. 2014, eq. 1 (saturating)"))
register_loss("nonsaturating", Loss(minimax_critic, nonsaturating_generator, "Goodfellow et al. 2014, sec. 3"))
register_loss("wasserstein", Loss(wasserstein_critic, wasserstein_generator, "Arjovsky et al. 2017, Alg. 1"))
register_loss("hinge", Loss(hinge_critic, hinge_generator, "Lim & Ye 2017; Miyato et al. 2018 (SNGAN)"))
register_loss("least-squares", Loss(least_squares_critic, least_squares_generator, "Mao et al. 2017 (LSGAN), a=0, b=c=1"))
register_loss("relativistic", Loss(
    relativistic_critic, relativistic_generator, "Jolicoeur-Martineau 2019 (RpGAN); the loss of R3GAN (Huang et al. 2024)", generator_needs_real=True,
))  # fmt: skip


def get_loss(name: str) -> Loss:
    """The registered loss, or a one-line ConfigError naming the registered ones."""
    return lookup(LOSSES, name, "loss", " (or register one: wgan_core.register_loss)")


def loss_names() -> tuple[str, ...]:
    return tuple(LOSSES)


def critic_loss(loss: str, real_scores: Tensor, fake_scores: Tensor) -> Tensor:
    """The critic's (discriminator's) loss to minimise for the named loss. real_scores, fake_scores: (N,) or (N, 1)."""
    return get_loss(loss).critic(real_scores.reshape(-1), fake_scores.reshape(-1))


def generator_loss(loss: str, fake_scores: Tensor, real_scores: Tensor | None = None) -> Tensor:
    """The generator's loss to minimise for the named loss. fake_scores, real_scores: (N,) or (N, 1); real only where needed."""
    return get_loss(loss).generator(fake_scores.reshape(-1), None if real_scores is None else real_scores.reshape(-1))


__all__ = ["LOSSES", "Loss", "critic_loss", "generator_loss", "get_loss", "loss_names", "register_loss"]
