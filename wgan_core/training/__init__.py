"""Training: the run contract (protocol.py), the step written once (step.py: `Stepper`) and its running
statistics (stats.py), one run's `Trainer` (trainer.py), seed ensembles (ensemble.py, their stacked
modules in models/stacked.py), the run directory a run writes (runfiles.py) and the one loop that runs
any of them (loop.py: `train`, `train_ensemble`)."""

from __future__ import annotations

from .ensemble import Ensemble, check_members, refusal, seed_key
from .loop import due, run_steppers, stepper_for, sync_for, train, train_ensemble
from .protocol import Member, RunContract, Stepping, check_contract
from .runfiles import RunFiles, finished_final
from .stats import STAT_NAMES, RunningStats
from .step import Stepper
from .trainer import Trainer

__all__ = [
    "STAT_NAMES", "Ensemble", "Member", "RunContract", "RunFiles", "RunningStats", "Stepper", "Stepping", "Trainer", "check_contract",
    "check_members", "due", "finished_final", "refusal", "run_steppers", "seed_key", "stepper_for", "sync_for", "train", "train_ensemble",
]  # fmt: skip
