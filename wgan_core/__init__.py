"""wgan_core: matched training of GAN objectives (minimax, non-saturating, Wasserstein with clipping or penalties)."""

from .config import VARIANTS, ConfigError, RunConfig
from .train import Trainer, train

__all__ = ["VARIANTS", "ConfigError", "RunConfig", "Trainer", "train"]
__version__ = "0.1.0"
