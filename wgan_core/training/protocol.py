"""The run contract: what the one training loop (loop.py) asks of anything it trains, and what the step asks of a run.

A job kind's trainer (the GAN run's `Trainer`; another registered kind's, wgan_core/kinds/) implements
`RunContract`; the loop then evaluates, checkpoints, stops on a signal and finishes it like any other, through `RunFiles`. `check_contract` is what a job kind's
registration calls: a trainer lacking a member is refused there, with one line naming what it lacks,
not deep inside a run.

    stepper_for(trainers) -> Stepping   the trainers at one step, stepped as one (S = 1 alone)
    Stepping.step()                     one loop step (a GAN stepper returns the step's statistics; the runs own them)
    Stepping.write_back()               the runs get what stepping as one holds (stacked weights, the step count)
    evaluate() -> row                   one row of metrics.csv
    diverged_at() -> step | None        the first step whose statistics were not finite
    state_dict() / load_state_dict()    a checkpoint that resumes bit-identically (checkpoint_keys must be in it)
    finish_run(out, rows, diverged)     the kind's own files in out; returns final.json's metrics
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any, Protocol

import torch
from torch import Tensor

from ..errors import ConfigError


class Stepping(Protocol):
    """What the loop steps: S >= 1 runs at one step, as one (a run alone, a seed ensemble, a kind that steps itself)."""

    device: torch.device
    step_count: int

    def step(self) -> Any: ...

    def write_back(self) -> None: ...


class RunContract(Protocol):
    """What the loop asks of a trainer of any job kind."""

    config: Any  # the run's frozen config (JSON in and out, `run_id()`, `steps`, `eval_every`, `checkpoint_every`)
    device: torch.device
    step_count: int
    checkpoint_keys: tuple[str, ...]  # a checkpoint without these is unreadable
    rate_key: str  # final.json's name for step_count / train_time
    last_samples: Tensor | None  # the last evaluation's samples for TensorBoard (None: nothing to show)

    @classmethod
    def stepper_for(cls, trainers: list[Any]) -> Stepping: ...

    def evaluate(self) -> dict[str, Any]: ...

    def diverged_at(self) -> int | None: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...

    def finish_run(self, out: Path, rows: list[dict[str, Any]], diverged: int | None) -> dict[str, Any]: ...


class Member(Protocol):
    """What the GAN step (step.py) asks of each run it steps: modules, optimisers, streams, statistics."""

    config: Any
    device: torch.device
    step_count: int
    generator: torch.nn.Module
    critic: torch.nn.Module
    call_g: Any  # what the step calls: the module, or its torch.compile'd form
    call_d: Any
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    eps_gen: torch.Generator
    joint_forward: bool
    loss: Any
    constraint: Any
    zero: Tensor
    stats: Any  # a RunningStats (stats.py)

    def draw_critic_inputs(self) -> tuple[Tensor, Tensor]: ...

    def draw_generator_latents(self) -> Tensor: ...


def members_of(protocol: type) -> tuple[str, ...]:
    """The names a protocol declares: its annotated attributes and its methods."""
    names = dict.fromkeys(getattr(protocol, "__annotations__", {}))
    names.update(dict.fromkeys(n for n, v in vars(protocol).items() if callable(v) or isinstance(v, classmethod)))
    return tuple(n for n in names if not n.startswith("_"))


def _declared(cls: type, name: str) -> bool:
    """On the class (a method, a constant) or annotated on it or a base (an attribute its __init__ sets)."""
    return hasattr(cls, name) or any(name in getattr(k, "__annotations__", {}) for k in cls.__mro__)


def check_contract(trainer: type, protocol: type = RunContract) -> None:
    """Refuse a trainer class that lacks a member of the run contract: one line naming them (ConfigError).

    The loop asks the class, not an instance, for its stepper: `stepper_for` must be a classmethod.
    """
    lack = [n for n in members_of(protocol) if not _declared(trainer, n)]
    if protocol is RunContract and "stepper_for" not in lack and not isinstance(inspect.getattr_static(trainer, "stepper_for"), classmethod):
        lack.append("stepper_for as a classmethod")
    if lack:
        raise ConfigError(f"trainer: {trainer.__name__} lacks {', '.join(lack)} of the run contract (wgan_core.training.protocol.{protocol.__name__})")


__all__ = ["Member", "RunContract", "Stepping", "check_contract", "members_of"]
