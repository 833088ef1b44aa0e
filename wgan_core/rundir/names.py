"""The files a finished run holds for its report, and which of them an older run lacks. Torch-free.

Shared by the run side (wgan_core.rundir.artifacts writes the files) and the report (which
names the runs that lack them), so the rule lives in one place.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..data.registry import get_dataset
from ..errors import ConfigError
from ..plugins import load_plugins

PANEL_FILE = "panel.npz"  # toy runs: fake (n, 2), real (n, 2), grid (g,), critic values (g, g)
WEIGHTS_FILE = "critic_weights.csv"  # every run: histogram of the final critic weights (bin_left, bin_right, count)
PUBLISHED_KEY = "modes_2500"  # final.json metric that marks the 2,500-sample mode statistics as present


def _entry(dataset: str, plugins: str = ""):
    """The data set's registry entry, importing the run's plug-ins first if the name is not registered yet."""
    try:
        return get_dataset(dataset)
    except ConfigError:
        if not plugins:
            raise
        load_plugins(plugins)  # a plug-in's data set (imports the plug-in's own dependencies)
        return get_dataset(dataset)


def has_modes(dataset: str, plugins: str = "") -> bool:
    """Whether mode statistics are defined for a data set: its registry entry's `has_modes`."""
    return _entry(dataset, plugins).has_modes


def data_kind(cfg: dict) -> str:
    """'toy' or 'image' of a run's config.json (as a dict), from its data set's registry entry."""
    return _entry(cfg.get("dataset", ""), cfg.get("plugins", "")).kind


def missing(run_dir: Path) -> list[str]:
    """What a finished toy run lacks of today's run-side results: PANEL_FILE and/or PUBLISHED_KEY ([] when complete or not applicable)."""
    run_dir = Path(run_dir)
    try:
        final = json.loads((run_dir / "final.json").read_text())
        cfg = json.loads((run_dir / "config.json").read_text())
    except (OSError, ValueError):
        return []
    # Only GAN runs on toy data have panels; a config.json of another job kind names its `experiment`.
    if final.get("status") != "ok" or cfg.get("experiment") or data_kind(cfg) != "toy":
        return []
    lack = [] if (run_dir / PANEL_FILE).exists() else [PANEL_FILE]
    if has_modes(cfg.get("dataset", "")) and PUBLISHED_KEY not in final.get("metrics", {}):  # null (non-finite) counts as present
        lack.append(PUBLISHED_KEY)
    return lack


__all__ = ["PANEL_FILE", "PUBLISHED_KEY", "WEIGHTS_FILE", "data_kind", "has_modes", "missing"]
