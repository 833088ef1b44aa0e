"""A run's life on disk: its files' names (`names`, torch-free), the writer that makes them (`writer.RunFiles`),
checkpoints (`checkpoints`), the end-of-run artifacts (`artifacts`), sample grids (`samples`), the toy panel
drawing the report shares (`panel`, torch-free) and the optional TensorBoard log (`tblog`).

`import wgan_core.rundir` imports no torch: the report reads `names` and `panel`.
"""

from __future__ import annotations

from typing import Any

_LAZY = {"RunFiles": "writer", "finished_final": "writer"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = list(_LAZY)
