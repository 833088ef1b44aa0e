"""Training: the step written once (step.py: `Stepper`), one run's `Trainer` (trainer.py), seed
ensembles (ensemble.py, their stacked modules in stacked.py) and the one loop that runs either
(loop.py: `train`, `train_ensemble`)."""

from __future__ import annotations

from .ensemble import Ensemble, check_members, refusal, seed_key
from .loop import due, run_steppers, stepper_for, sync_for, train, train_ensemble
from .step import STAT_NAMES, Stepper
from .trainer import Trainer

__all__ = [
    "STAT_NAMES", "Ensemble", "Stepper", "Trainer", "check_members", "due", "refusal", "run_steppers", "seed_key",
    "stepper_for", "sync_for", "train", "train_ensemble",
]  # fmt: skip
