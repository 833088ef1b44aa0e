"""Sample-quality metrics: exact metrics on toy data (`toy`); FID, KID, precision/recall on images (`image_metrics`).

`image_metrics` is imported on first use, so toy runs do not pay for importing torch-fidelity (and torchvision).
"""

from typing import Any

from . import toy

__all__ = ["image_metrics", "toy"]


def __getattr__(name: str) -> Any:
    if name == "image_metrics":
        from .image import image_metrics

        return image_metrics
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
