"""Checkpoints that survive damage (the signals that make a run save one: wgan_core.signals).

`save` keeps the previous checkpoint (checkpoint.prev.pt) until the new one
is written and read back byte for byte; `load` falls back to the previous one, with one
warning, when the latest does not load (a truncated copy, a full disk), and raises a
one-line ConfigError naming the file when none loads.
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..fileio import atomic_write_bytes

PREVIOUS = "checkpoint.prev.pt"


def previous_path(path: Path) -> Path:
    return Path(path).with_name(PREVIOUS)


def save(state: dict[str, Any], path: Path) -> None:
    """Write `state` to `path`, keeping the checkpoint it replaces as checkpoint.prev.pt.

    Order: serialise; move the old checkpoint aside; write the new one atomically; read it
    back and compare digests. A crash (or a full disk) at any point leaves at least one
    complete checkpoint: the previous one.
    """
    import torch

    path = Path(path)
    buf = io.BytesIO()
    torch.save(state, buf)
    data = buf.getvalue()
    if path.exists():
        os.replace(path, previous_path(path))
    atomic_write_bytes(path, data)
    if hashlib.sha256(path.read_bytes()).digest() != hashlib.sha256(data).digest():
        raise OSError(f"checkpoint: {path} reads back different from what was written (disk failing?); {previous_path(path)} is kept")


def _try_load(path: Path, required: tuple[str, ...]) -> tuple[dict[str, Any] | None, str]:
    import torch

    try:
        # RNG states stay on the CPU (Generator.set_state takes a CPU ByteTensor, CUDA generators too)
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - any unreadable file (zip errors, EOF, unpickling) is one case: damaged
        return None, (str(e).strip().splitlines() or [type(e).__name__])[0]
    missing = [k for k in required if not isinstance(state, dict) or k not in state]
    if missing:
        return None, f"lacks {', '.join(missing)}"
    return state, ""


def load(path: Path, required: tuple[str, ...] = (), log: Callable[[str], None] = print) -> dict[str, Any] | None:
    """The latest readable checkpoint: `path`, else checkpoint.prev.pt (with a warning), else None if neither exists.

    Raises ConfigError (one line, naming the file and what to do) when a checkpoint
    exists but neither it nor the previous one loads.
    """
    path, prev = Path(path), previous_path(path)
    if not path.exists() and not prev.exists():
        return None
    why = "missing"
    if path.exists():
        state, why = _try_load(path, required)
        if state is not None:
            return state
    if prev.exists():
        state, why_prev = _try_load(prev, required)
        if state is not None:
            log(f"warning: {path} is unreadable ({why}); resuming from the previous checkpoint {prev.name}")
            return state
        why += f"; {prev.name}: {why_prev}"
    raise ConfigError(
        f"checkpoint: {path} is unreadable ({why}) and no earlier checkpoint loads; "
        f"delete {path.name}{' and ' + prev.name if prev.exists() else ''} to restart this run from step 0"
    )


def discard(path: Path) -> None:
    """Remove a run's checkpoints (the run is finished: model.pt and final.json replace them)."""
    Path(path).unlink(missing_ok=True)
    previous_path(path).unlink(missing_ok=True)


__all__ = ["PREVIOUS", "discard", "load", "previous_path", "save"]
