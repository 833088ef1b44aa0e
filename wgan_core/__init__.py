"""wgan_core: matched training of GAN objectives (minimax, non-saturating, Wasserstein with clipping or penalties, and more).

Names are imported on first use (PEP 562), so `import wgan_core.report` does not import torch.
Register your own objective from a script (see the README):

    import wgan_core
    wgan_core.register_loss("my-loss", wgan_core.Loss(critic=..., generator=..., source="..."))
    wgan_core.register_constraint("my-penalty", wgan_core.Constraint(terms=..., source="..."))

Every registry is called alike: register_x(name, entry), get_x(name), x_names().
"""

from typing import Any

_EXPORTS = {
    "VARIANTS": "config",
    "ConfigError": "errors",
    "RunConfig": "config",
    "Trainer": "training",
    "train_ensemble": "training",
    "register_dataset": "data.registry",
    "register_architecture": "models.registry",
    "DataSet": "data.registry",
    "Architecture": "models.registry",
    "train": "training",
    "register_loss": "losses",
    "Loss": "losses",
    "register_constraint": "penalties",
    "Constraint": "penalties",
    "register_variant": "config",
    "Variant": "config",
    "register_metric": "metrics.registry",
    "Metric": "metrics.registry",
    "register_evaluator": "training.evaluators",
    "Evaluator": "training.evaluators",
    "register_job_kind": "kinds",
    "JobKind": "kinds",
}

__all__ = list(_EXPORTS)
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
