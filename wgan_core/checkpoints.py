"""Checkpoints that survive damage, and a clean stop on the signals a cluster sends.

Checkpoints: `save` keeps the previous checkpoint (checkpoint.prev.pt) until the new one
is written and read back byte for byte; `load` falls back to the previous one, with one
warning, when the latest does not load (a truncated copy, a full disk), and raises a
one-line ConfigError naming the file when none loads.

Signals: `StopSignals` turns SIGTERM, SIGINT, SIGUSR1 and SIGUSR2 (what Slurm sends on
preemption, `scancel` and a time limit, or with --signal) into a flag the training loop
reads between steps; the loop then saves a checkpoint and raises `Interrupted`. A handler
that was installed before (submitit's requeue handler inside a Slurm job) is called after
the checkpoint is on disk, so requeueing resumes from it.
"""

from __future__ import annotations

import hashlib
import io
import os
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

from .errors import ConfigError
from .fileio import atomic_write_bytes

PREVIOUS = "checkpoint.prev.pt"
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1, signal.SIGUSR2)
EXIT_INTERRUPTED = 75  # EX_TEMPFAIL (sysexits.h): a temporary failure; the same command resumes


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


class Interrupted(Exception):
    """Training stopped on a signal after saving a checkpoint: running the same command again resumes it."""

    def __init__(self, signum: int, step: int, checkpoint: Path) -> None:
        self.signum, self.step, self.checkpoint = signum, step, Path(checkpoint)
        super().__init__(f"stopped by {signal.Signals(signum).name} at step {step}; checkpoint saved to {checkpoint}; run the same command again to resume")


class StopSignals:
    """Within `with StopSignals() as stop:`, a stop signal sets `stop.signum` instead of killing the process.

    Only the main thread can install signal handlers; elsewhere this does nothing (and
    `signum` stays None). `forward()` calls the handler that was there before, if it was a
    Python function other than the default SIGINT handler (submitit's, inside a Slurm job).
    """

    def __init__(self, signals: tuple[int, ...] = STOP_SIGNALS) -> None:
        self.signals = signals
        self.signum: int | None = None
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.signum is None:
            self.signum = signum  # the first one wins: a second SIGTERM while saving changes nothing

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            for s in self.signals:
                self._previous[s] = signal.signal(s, self._handle)
        return self

    def __exit__(self, *exc: Any) -> None:
        for s, h in self._previous.items():
            signal.signal(s, h)
        self._previous.clear()

    def forward(self) -> None:
        """Call the previous handler of the received signal (it may requeue the job and exit)."""
        h = self._previous.get(self.signum) if self.signum is not None else None
        if callable(h) and h is not signal.default_int_handler:
            h(self.signum, None)


__all__ = ["EXIT_INTERRUPTED", "PREVIOUS", "STOP_SIGNALS", "Interrupted", "StopSignals", "discard", "load", "previous_path", "save"]
