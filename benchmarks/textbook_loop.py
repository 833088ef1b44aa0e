"""A plain textbook GAN training loop, the baseline that `throughput.py --vs-textbook` compares with.

This is how most public GAN / WGAN / WGAN-GP implementations train: a DataLoader over
the data set, a generator forward per critic step, separate critic forwards for
the real, fake and penalty batches, the penalty written out where it is used, and a
`.item()` for logging after every update. It trains the same modules (generator,
critic) as `wgan_core.Trainer`, so the two can be timed side by side.

It is an independent re-implementation: the losses and constraints below are written
out here, as the papers' reference code writes them, and never taken from wgan_core
(tests/test_throughput.py checks each against wgan_core's registered entry). A config
whose loss or constraint has no textbook version here is refused with a ValueError,
so the loop never silently trains another objective.

    python benchmarks/textbook_loop.py --variant wgan-gp --steps 20   # times this loop alone
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import time

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


def _bce(scores: torch.Tensor, target: float) -> torch.Tensor:
    return F.binary_cross_entropy_with_logits(scores, torch.full_like(scores, target))


# loss name -> (critic loss(d_real, d_fake), generator loss(d_fake, d_real), whether the generator loss reads d_real).
# d_*: raw critic outputs, (B, 1) or (B,); every expectation is the mean over the batch.
TEXTBOOK_LOSSES = {
    # WGAN (Arjovsky et al. 2017, Alg. 1)
    "wasserstein": (lambda d_real, d_fake: d_fake.mean() - d_real.mean(), lambda d_fake, d_real: -d_fake.mean(), False),
    # GAN (Goodfellow et al. 2014): saturating generator loss E[log(1 - D(G(z)))] = -BCE(D(G(z)), 0)
    "minimax": (lambda d_real, d_fake: _bce(d_real, 1.0) + _bce(d_fake, 0.0), lambda d_fake, d_real: -_bce(d_fake, 0.0), False),
    # GAN, non-saturating generator loss -E[log D(G(z))]
    "nonsaturating": (lambda d_real, d_fake: _bce(d_real, 1.0) + _bce(d_fake, 0.0), lambda d_fake, d_real: _bce(d_fake, 1.0), False),
    # hinge (Lim & Ye 2017; Miyato et al. 2018)
    "hinge": (lambda d_real, d_fake: F.relu(1.0 - d_real).mean() + F.relu(1.0 + d_fake).mean(), lambda d_fake, d_real: -d_fake.mean(), False),
    # LSGAN with 0-1 targets (Mao et al. 2017)
    "least-squares": (
        lambda d_real, d_fake: 0.5 * F.mse_loss(d_real, torch.ones_like(d_real)) + 0.5 * F.mse_loss(d_fake, torch.zeros_like(d_fake)),
        lambda d_fake, d_real: 0.5 * F.mse_loss(d_fake, torch.ones_like(d_fake)),
        False,
    ),
    # relativistic standard GAN (Jolicoeur-Martineau 2019), real and fake paired by batch position
    "relativistic": (lambda d_real, d_fake: _bce(d_real - d_fake, 1.0), lambda d_fake, d_real: _bce(d_fake - d_real, 1.0), True),
}


def _grad(D: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """d D(x) / d x per sample, flattened to (B, -1), with the graph kept for the critic update."""
    x = x.detach().requires_grad_(True)
    d = D(x)
    grad = torch.autograd.grad(d, x, grad_outputs=torch.ones_like(d), create_graph=True, retain_graph=True)[0]
    return grad.view(x.shape[0], -1)


def _interpolates(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """WGAN-GP's x_hat = alpha * x + (1 - alpha) * G(z), alpha ~ U[0, 1] per sample."""
    alpha = torch.rand(real.shape[0], *([1] * (real.dim() - 1)), device=real.device)
    return alpha * real + (1 - alpha) * fake


def _dragan_points(real: torch.Tensor) -> torch.Tensor:
    """DRAGAN's x_hat = x + alpha (x_p - x), x_p = x + 0.5 * std(x) * u (kodalinaveen3/DRAGAN): std (ddof 0, NumPy's) over all elements of
    the real batch, u ~ U[0, 1] elementwise, then alpha ~ U[0, 1] per sample."""
    x_p = real + 0.5 * real.std(correction=0) * torch.rand_like(real)
    alpha = torch.rand(real.shape[0], *([1] * (real.dim() - 1)), device=real.device)
    return real + alpha * (x_p - real)


# constraint name -> (penalty(D, real, fake) -> unweighted scalar, or None; clip the critic's weights after each update).
# The loop adds penalty_weight * penalty to the critic loss.
TEXTBOOK_CONSTRAINTS = {
    "none": (None, False),
    # WGAN weight clipping (Arjovsky et al. 2017)
    "clip": (None, True),
    # WGAN-GP, E[(||grad D(x_hat)|| - 1)^2] (Gulrajani et al. 2017)
    "gp": (lambda D, real, fake: ((_grad(D, _interpolates(real, fake)).norm(2, dim=1) - 1) ** 2).mean(), False),
    # WGAN-LP, E[max(0, ||grad D(x_hat)|| - 1)^2] (Petzka et al. 2018)
    "lp": (lambda D, real, fake: (torch.clamp(_grad(D, _interpolates(real, fake)).norm(2, dim=1) - 1, min=0) ** 2).mean(), False),
    # zero-centred penalty at the interpolates, E[||grad D(x_hat)||^2] (Thanh-Tung et al. 2019)
    "gp0": (lambda D, real, fake: _grad(D, _interpolates(real, fake)).pow(2).sum(1).mean(), False),
    # R1 at the real batch, R2 at the fake batch, and both (Mescheder et al. 2018)
    "r1": (lambda D, real, fake: _grad(D, real).pow(2).sum(1).mean(), False),
    "r2": (lambda D, real, fake: _grad(D, fake).pow(2).sum(1).mean(), False),
    "r1r2": (lambda D, real, fake: _grad(D, real).pow(2).sum(1).mean() + _grad(D, fake).pow(2).sum(1).mean(), False),
    # DRAGAN, E[(||grad D(x_hat)|| - 1)^2] between the real points and their perturbations (Kodali et al. 2017)
    "dragan": (lambda D, real, fake: ((_grad(D, _dragan_points(real)).norm(2, dim=1) - 1) ** 2).mean(), False),
}


def check_implemented(loss: str, constraint: str) -> None:
    """A ValueError naming the loss or constraint that has no textbook implementation here, and the ones that do."""
    for what, name, table in (("loss", loss, TEXTBOOK_LOSSES), ("constraint", constraint, TEXTBOOK_CONSTRAINTS)):
        if name not in table:
            raise ValueError(f"textbook loop: no textbook implementation of {what} {name!r}; it implements: {', '.join(table)}")


class TextbookLoop:
    """One generator iteration per `.step()`, written the textbook way. images: float (N, ...) in [-1, 1] on the device.

    Raises ValueError if config.loss or config.constraint has no textbook implementation here.
    """

    def __init__(self, generator: nn.Module, critic: nn.Module, images: torch.Tensor, config) -> None:
        check_implemented(config.loss, config.constraint)
        self.loss_d, self.loss_g, self.g_needs_real = TEXTBOOK_LOSSES[config.loss]
        self.penalty, self.clip = TEXTBOOK_CONSTRAINTS[config.constraint]
        self.G, self.D, self.c = generator, critic, config
        self.device = images.device
        self.loader = DataLoader(TensorDataset(images), batch_size=config.batch_size, shuffle=True, drop_last=True)
        self.batches = iter(self.loader)
        if config.optimizer == "rmsprop":
            self.opt_g = torch.optim.RMSprop(self.G.parameters(), lr=config.lr_g)
            self.opt_d = torch.optim.RMSprop(self.D.parameters(), lr=config.lr_d)
        else:
            self.opt_g = torch.optim.Adam(self.G.parameters(), lr=config.lr_g, betas=(config.beta1, config.beta2))
            self.opt_d = torch.optim.Adam(self.D.parameters(), lr=config.lr_d, betas=(config.beta1, config.beta2))
        self.log: list[tuple[float, float]] = []

    def _real(self) -> torch.Tensor:
        try:
            (x,) = next(self.batches)
        except StopIteration:
            self.batches = iter(self.loader)
            (x,) = next(self.batches)
        return x

    def step(self) -> None:
        c, b = self.c, self.c.batch_size
        for _ in range(c.n_critic):
            real = self._real()
            z = torch.randn(b, c.z_dim, device=self.device)
            fake = self.G(z).detach()
            loss_d = self.loss_d(self.D(real), self.D(fake))
            if self.penalty is not None:
                loss_d = loss_d + c.penalty_weight * self.penalty(self.D, real, fake)
            self.opt_d.zero_grad()
            loss_d.backward()
            self.opt_d.step()
            if self.clip:
                for p in self.D.parameters():
                    p.data.clamp_(-c.clip_value, c.clip_value)
            d_loss_value = loss_d.item()
        z = torch.randn(b, c.z_dim, device=self.device)
        d_real = self.D(real) if self.g_needs_real else None  # the last critic step's real batch
        loss_g = self.loss_g(self.D(self.G(z)), d_real)
        self.opt_g.zero_grad()
        loss_g.backward()
        self.opt_g.step()
        self.log.append((d_loss_value, loss_g.item()))


def textbook_from_trainer(trainer) -> TextbookLoop:
    """A textbook loop on deep copies of a wgan_core.Trainer's modules and the same training tensor.

    Raises ValueError if the trainer's loss or constraint has no textbook implementation here.
    """
    check_implemented(trainer.config.loss, trainer.config.constraint)  # before copying anything
    if trainer.config.kind == "toy":
        from wgan_core.data import sample_toy

        g = torch.Generator(trainer.device).manual_seed(0)
        images = sample_toy(trainer.config.dataset, 100_000, g, trainer.device)  # the reference toy code's 100k-point set
    else:
        images = trainer.stream.data
    # The textbook keeps PyTorch's default memory format even when the trainer runs channels_last.
    g, d = (copy.deepcopy(m).to(memory_format=torch.contiguous_format) for m in (trainer.generator, trainer.critic))
    return TextbookLoop(g, d, images.contiguous(), trainer.config)


def main() -> int:
    from wgan_core import RunConfig, Trainer

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--variant", default="wgan-gp")
    p.add_argument("--dataset", default="fashion-mnist")
    p.add_argument("--steps", type=int, default=15)
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = p.parse_args()
    from wgan_core.config import parse_set

    config = RunConfig.preset(args.variant, args.dataset, **parse_set(args.set))
    try:
        check_implemented(config.loss, config.constraint)
    except ValueError as e:
        print(f"textbook_loop.py: error: {e}", file=sys.stderr)
        return 2
    loop = textbook_from_trainer(Trainer(config))
    loop.step()
    times = []
    for _ in range(args.steps):
        t = time.perf_counter()
        loop.step()
        times.append(time.perf_counter() - t)
    print(f"textbook {config.label}: median {1000 * statistics.median(times):.1f} ms per generator iteration over {args.steps}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
