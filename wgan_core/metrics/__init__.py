"""Sample-quality metrics: exact metrics on toy data (`toy`); FID, KID, precision/recall on images (`image_metrics`)."""

from . import toy
from .image import image_metrics

__all__ = ["image_metrics", "toy"]
