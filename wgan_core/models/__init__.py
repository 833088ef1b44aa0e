"""Generators and critics, one module per architecture (`mlp`, `dcgan`, `pacgan`), their initialisations
(`init`) and the registry that names them (`registry`).

Built under a fixed seed (see `build_models`), so every variant of a matched
study starts from the same weights: the architecture does not depend on the
objective, only on the data and the config's width / norm / resolution.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from .dcgan import DCGANCritic, DCGANGenerator
from .init import INITS, he_glorot_init
from .mlp import MLPCritic, MLPGenerator
from .registry import ARCHITECTURES, Architecture, get_architecture, register_architecture


def build_models(config: Any, channels: int = 1, resolution: int = 28) -> tuple[nn.Module, nn.Module]:
    """(generator, critic) on the CPU, initialised from `config.seed` alone.

    The models' initial weights depend on (seed, arch, width, z_dim, data shape,
    critic_norm, init) and on nothing else, which is what makes variants matched.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        g, d = get_architecture(config.arch).build(config, channels, resolution)
        INITS[config.init](g)  # the generator first, then the critic, both from the seed's one stream
        INITS[config.init](d)
        if config.spectral_norm:
            # After the weights are initialised, so a spectrally normalised critic starts from the same
            # weights as the plain one; the power iteration's start vectors come from a stream of the
            # run's own seed, so matched runs still share everything but their objective.
            from ..seeds import subseed

            torch.manual_seed(subseed(config.seed, "spectral-norm"))
            for m in d.modules():
                if isinstance(m, (nn.Linear, nn.Conv2d)):
                    torch.nn.utils.parametrizations.spectral_norm(m)
    return g, d


__all__ = [
    "ARCHITECTURES", "Architecture", "DCGANCritic", "DCGANGenerator", "INITS", "MLPCritic", "MLPGenerator",
    "build_models", "get_architecture", "he_glorot_init", "register_architecture",
]  # fmt: skip
