"""The architecture registry: every (generator, critic) pair a run can train is one `Architecture` entry.

A config names an architecture (`arch`, or the data set's default); the entry says which kind of
data it takes, how it is built for the data's shape, its reference initialisation, the defaults
it brings (width, z_dim) and how its seed-ensemble members stack into one module (or that they
do not). Add an architecture: one `register_architecture(name, Architecture(...))` plus its tests.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from torch import nn

from ..errors import ConfigError, lookup
from .dcgan import DCGANCritic, DCGANGenerator
from .init import INITS
from .mlp import MLPCritic, MLPGenerator
from .pacgan import MaxoutCritic, PacGANGenerator
from .stacked import StackedDCGANCritic, StackedDCGANGenerator, StackedMLP


@dataclass(frozen=True)
class Architecture:
    """A registered architecture.

    build(config, channels, resolution) -> (generator, critic), freshly constructed (the caller seeds
      and initialises them): generator z (N, z_dim) -> x (N, ...), critic x (N, ...) -> scores (N,).
    stack_generator(members), stack_critic(members) -> one module applying S members' weights to
      member-major stacked batches, or None: its runs never train in seed ensembles. Declared by the
      entry itself (models/stacked.py holds the stacked forms of the toy MLPs and the DCGANs).
    """

    data_kind: str  # the kind of data it takes: "toy" (points (N, 2)) | "image" (N, C, H, W)
    build: Callable[[Any, int, int], tuple[nn.Module, nn.Module]]
    init: str  # its reference initialisation (a name of wgan_core.models.init.INITS)
    source: str
    defaults: dict[str, Any] = field(default_factory=dict)  # width, z_dim of runs that use it
    stack_generator: Callable[[list[nn.Module]], nn.Module] | None = None
    stack_critic: Callable[[list[nn.Module]], nn.Module] | None = None
    resolutions: tuple[int, ...] = ()  # image sides it builds (image architectures)
    cpu_ensembles_pay: bool = False  # measured: stacking its seeds is faster on a CPU (benchmarks/throughput.py --ensemble)
    name: str = ""  # set by register_architecture


ARCHITECTURES: dict[str, Architecture] = {}


def register_architecture(name: str, entry: Architecture) -> Architecture:
    """Make an architecture available to RunConfig(arch=name); registering a name again replaces it."""
    if not isinstance(entry, Architecture) or not isinstance(name, str) or not name or name == "auto":
        raise ConfigError(f"register_architecture: expected a name other than 'auto' and an Architecture, got {name!r}, {type(entry).__name__}")
    entry = replace(entry, name=name)
    if entry.data_kind not in ("toy", "image"):
        raise ConfigError(f"register_architecture: data_kind of {entry.name!r} must be toy or image, got {entry.data_kind!r}")
    if entry.init not in INITS:
        raise ConfigError(f"register_architecture: init of {entry.name!r} must be one of {', '.join(INITS)}, got {entry.init!r}")
    ARCHITECTURES[entry.name] = entry
    return entry


def get_architecture(name: str) -> Architecture:
    """The registered entry, or a one-line ConfigError naming the registered ones."""
    return lookup(ARCHITECTURES, name, "arch", " (or register one: wgan_core.register_architecture)")


def architecture_names() -> tuple[str, ...]:
    return tuple(ARCHITECTURES)


def _mlp(config: Any, channels: int, resolution: int) -> tuple[nn.Module, nn.Module]:
    return MLPGenerator(config.z_dim, config.width), MLPCritic(2, config.width)


def _dcgan(config: Any, channels: int, resolution: int) -> tuple[nn.Module, nn.Module]:
    return DCGANGenerator(config.z_dim, config.width, channels, resolution), DCGANCritic(config.width, channels, resolution, config.critic_norm)


register_architecture("mlp", Architecture("toy", _mlp, "he-glorot",
    "the WGAN-GP toy MLPs (igul222/improved_wgan_training gan_toy.py): 3 hidden ReLU layers; init tflib/ops/linear.py",
    dict(width=512, z_dim=2), stack_generator=StackedMLP, stack_critic=StackedMLP, cpu_ensembles_pay=True,
))  # fmt: skip
register_architecture("dcgan", Architecture("image", _dcgan, "dcgan",
    "DCGAN (Radford et al. 2016); at 28x28 the WGAN-GP MNIST model's 7 -> 14 -> 28 plan; init N(0, 0.02)",
    dict(width=64, z_dim=128), stack_generator=StackedDCGANGenerator, stack_critic=StackedDCGANCritic, resolutions=(28, 32, 64),
))  # fmt: skip

def _pacgan(config: Any, channels: int, resolution: int) -> tuple[nn.Module, nn.Module]:
    return PacGANGenerator(config.z_dim, config.width), MaxoutCritic(2)  # the critic's 3 x 200 x 5 is fixed, as the authors'


register_architecture("pacgan", Architecture("toy", _pacgan, "pacgan",
    "PacGAN's 2-D nets (fjxmlzn/PacGAN pacgan_task.py): G 4 x 400 Linear + BN + ReLU; D 3 maxout layers of 200 x 5 pieces "
    "(width sets G only); no stacked form (the generator's batch norm)",
    dict(width=400, z_dim=2),
))  # fmt: skip

__all__ = ["ARCHITECTURES", "Architecture", "architecture_names", "get_architecture", "register_architecture"]
