"""Image quality metrics (FID, KID, precision/recall) through torch-fidelity. Placeholder until implemented."""

from __future__ import annotations

from typing import Any


def training_metrics(trainer, fake) -> dict[str, Any]:
    """Metrics of one evaluation's fakes (N, C, H, W) in [-1, 1] for an image run's metrics.csv row."""
    return {}


def final_metrics(trainer) -> dict[str, Any]:
    """Full-size metrics at the end of an image run, merged into final.json's metrics."""
    return {}
