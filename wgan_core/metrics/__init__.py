"""Sample-quality metrics: exact metrics on toy data (`toy`); FID, KID, precision/recall on images (`image_metrics`) in any
registered feature space (`spaces`); the metric registry.

Submodules are imported on first use, so toy runs do not pay for importing torch-fidelity
(and torchvision), and the torch-free report can read `metrics.registry` without torch.
"""

from typing import Any

__all__ = ["image_metrics", "registry", "spaces", "toy"]


def __getattr__(name: str) -> Any:
    import importlib

    if name == "image_metrics":
        return importlib.import_module(".image", __name__).image_metrics
    if name in ("toy", "registry", "image", "spaces"):
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
