"""Weight initialisations by name (RunConfig.init): each architecture's reference code's, or PyTorch's default."""

from __future__ import annotations

import math

import torch
from torch import nn

from .pacgan import pacgan_init


def _dcgan_init(m: nn.Module) -> None:
    """DCGAN initialisation (Radford et al. 2016): N(0, 0.02) weights, norm scales N(1, 0.02)."""
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(m.weight, 0.0, 0.02)
        nn.init.zeros_(m.bias)
    elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d, nn.GroupNorm)):
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


def he_glorot_init(net: nn.Module) -> None:
    """The WGAN-GP toy code's initialisation (igul222/improved_wgan_training, tflib/ops/linear.py, as gan_toy.py calls it).

    Every Linear but the last: He-uniform, U(-a, a) with a = sqrt(3) * sqrt(2 / fan_in) (their 'he');
    the last (the output layer, which gan_toy.py leaves at the default): Glorot-uniform,
    a = sqrt(3) * sqrt(2 / (fan_in + fan_out)); biases zero. Drawn layer by layer in order.
    """
    linears = [m for m in net.modules() if isinstance(m, nn.Linear)]
    with torch.no_grad():
        for i, m in enumerate(linears):
            fan_out, fan_in = m.weight.shape
            std = math.sqrt(2.0 / fan_in) if i < len(linears) - 1 else math.sqrt(2.0 / (fan_in + fan_out))
            m.weight.uniform_(-math.sqrt(3.0) * std, math.sqrt(3.0) * std)
            if m.bias is not None:
                m.bias.zero_()


# config.init -> what it does to a freshly built (generator or critic) module; "torch" keeps PyTorch's default.
# pacgan: PacGAN's 2-D code (config.py weights_init_std): every weight N(0, 0.02), biases 0, batch-norm scales 1.
INITS = {"he-glorot": he_glorot_init, "dcgan": lambda net: net.apply(_dcgan_init), "torch": lambda net: None, "pacgan": pacgan_init}
