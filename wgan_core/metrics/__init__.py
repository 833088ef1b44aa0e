"""Sample-quality metrics: exact metrics on toy data (`toy`)."""

from . import toy

__all__ = ["toy"]
