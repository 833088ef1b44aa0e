"""A plain textbook GAN training loop, the baseline that `throughput.py --vs-textbook` compares with.

This is how most public WGAN / WGAN-GP implementations train: a DataLoader over
the data set, a generator forward per critic step, separate critic forwards for
the real, fake and interpolated batches, the standard gradient penalty, and a
`.item()` for logging after every update. It trains the same modules
(generator, critic) as `wgan_core.Trainer`, so the two can be timed side by side.

    python benchmarks/textbook_loop.py --variant wgan-gp --steps 20   # times this loop alone
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


class TextbookLoop:
    """One generator iteration per `.step()`, written the textbook way. images: float (N, ...) in [-1, 1] on the device."""

    def __init__(self, generator: nn.Module, critic: nn.Module, images: torch.Tensor, config) -> None:
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
            d_real, d_fake = self.D(real), self.D(fake)
            if c.loss == "wasserstein":
                loss_d = d_fake.mean() - d_real.mean()
            else:
                loss_d = F.binary_cross_entropy_with_logits(d_real, torch.ones_like(d_real)) + F.binary_cross_entropy_with_logits(
                    d_fake, torch.zeros_like(d_fake)
                )
            if c.constraint in ("gp", "lp"):
                alpha = torch.rand(b, *([1] * (real.dim() - 1)), device=self.device)
                x_hat = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
                d_hat = self.D(x_hat)
                grad = torch.autograd.grad(d_hat, x_hat, grad_outputs=torch.ones_like(d_hat), create_graph=True, retain_graph=True)[0]
                gap = grad.view(b, -1).norm(2, dim=1) - 1
                if c.constraint == "lp":
                    gap = torch.clamp(gap, min=0)
                loss_d = loss_d + c.penalty_weight * (gap**2).mean()
            self.opt_d.zero_grad()
            loss_d.backward()
            self.opt_d.step()
            if c.constraint == "clip":
                for p in self.D.parameters():
                    p.data.clamp_(-c.clip_value, c.clip_value)
            d_loss_value = loss_d.item()
        z = torch.randn(b, c.z_dim, device=self.device)
        d_gen = self.D(self.G(z))
        if c.loss == "wasserstein":
            loss_g = -d_gen.mean()
        elif c.loss == "nonsaturating":
            loss_g = F.binary_cross_entropy_with_logits(d_gen, torch.ones_like(d_gen))
        else:
            loss_g = -F.binary_cross_entropy_with_logits(d_gen, torch.zeros_like(d_gen))
        self.opt_g.zero_grad()
        loss_g.backward()
        self.opt_g.step()
        self.log.append((d_loss_value, loss_g.item()))


def textbook_from_trainer(trainer) -> TextbookLoop:
    """A textbook loop on deep copies of a wgan_core.Trainer's modules and the same training tensor."""
    if trainer.config.kind == "toy":
        from wgan_core.data import sample_toy

        g = torch.Generator(trainer.device).manual_seed(0)
        images = sample_toy(trainer.config.dataset, 100_000, g, trainer.device)  # the reference toy code's 100k-point set
    else:
        images = trainer.stream.data
    # The textbook keeps PyTorch's default memory format even when the trainer runs channels_last.
    g, d = (copy.deepcopy(m).to(memory_format=torch.contiguous_format) for m in (trainer.generator, trainer.critic))
    return TextbookLoop(g, d, images.contiguous(), trainer.config)


def main() -> None:
    from wgan_core import RunConfig, Trainer

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--variant", default="wgan-gp")
    p.add_argument("--dataset", default="fashion-mnist")
    p.add_argument("--steps", type=int, default=15)
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = p.parse_args()
    from wgan_core.config import parse_set

    trainer = Trainer(RunConfig.preset(args.variant, args.dataset, **parse_set(args.set)))
    loop = textbook_from_trainer(trainer)
    loop.step()
    times = []
    for _ in range(args.steps):
        t = time.perf_counter()
        loop.step()
        times.append(time.perf_counter() - t)
    print(f"textbook {args.variant}: median {1000 * statistics.median(times):.1f} ms per generator iteration over {args.steps}")


if __name__ == "__main__":
    main()
