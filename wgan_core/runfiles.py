"""The files a finished run holds for its report, and which of them an older run lacks. Torch-free.

Shared by the run side (wgan_core.artifacts writes the files) and the report (which
names the runs that lack them), so the rule lives in one place.
"""

from __future__ import annotations

import json
from pathlib import Path

PANEL_FILE = "panel.npz"  # toy runs: fake (n, 2), real (n, 2), grid (g,), critic values (g, g)
WEIGHTS_FILE = "critic_weights.csv"  # every run: histogram of the final critic weights (bin_left, bin_right, count)
MODE_DATASETS = ("8gaussians", "25gaussians")  # data sets with modes (mode statistics are defined)
PUBLISHED_KEY = "modes_2500"  # final.json metric that marks the 2,500-sample mode statistics as present


def has_modes(dataset: str) -> bool:
    """Whether mode statistics are defined for a data set (the Gaussian mixtures; not swissroll or images)."""
    return dataset in MODE_DATASETS


def missing(run_dir: Path) -> list[str]:
    """What a finished toy run lacks of today's run-side results: PANEL_FILE and/or PUBLISHED_KEY ([] when complete or not applicable)."""
    run_dir = Path(run_dir)
    try:
        final = json.loads((run_dir / "final.json").read_text())
        cfg = json.loads((run_dir / "config.json").read_text())
    except (OSError, ValueError):
        return []
    if final.get("status") != "ok" or cfg.get("experiment") == "depth" or cfg.get("arch") != "mlp":
        return []
    lack = [] if (run_dir / PANEL_FILE).exists() else [PANEL_FILE]
    if has_modes(cfg.get("dataset", "")) and PUBLISHED_KEY not in final.get("metrics", {}):  # null (non-finite) counts as present
        lack.append(PUBLISHED_KEY)
    return lack


__all__ = ["MODE_DATASETS", "PANEL_FILE", "PUBLISHED_KEY", "WEIGHTS_FILE", "has_modes", "missing"]
