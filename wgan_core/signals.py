"""A clean stop on the signals a cluster sends, and the exit code that says "run me again".

`StopSignals` turns SIGTERM, SIGINT, SIGUSR1 and SIGUSR2 (what Slurm sends on preemption,
`scancel` and a time limit, or with --signal) into a flag the training loop reads between
steps; the loop then saves a checkpoint and raises `Interrupted`. A handler that was installed
before (submitit's requeue handler inside a Slurm job) is called after the checkpoint is on
disk, so requeueing resumes from it.
"""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from types import FrameType
from typing import Any

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1, signal.SIGUSR2)
EXIT_INTERRUPTED = 75  # EX_TEMPFAIL (sysexits.h): a temporary failure; the same command resumes


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


__all__ = ["EXIT_INTERRUPTED", "STOP_SIGNALS", "Interrupted", "StopSignals"]
