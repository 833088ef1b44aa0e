"""Job kinds: what a study can run, one registered entry per kind, and the only place that tells them apart.

A study's jobs are configs (`RunConfig` for a GAN run, `depth.DepthConfig` for the WGAN-GP
paper's depth experiment). Every part of a study (executors, units, the ETA, study.json)
asks the job's kind, never its type:

  train(job, run_dir, log) -> final.json's contents   (resumes or skips as the kind allows)
  cost(job) -> relative cost, for the ETA and for scheduling the longest jobs first
  refusal(job) -> why it cannot train in a seed ensemble, or None (it can)
  experiment: the `experiment` value its config.json carries ("" for a GAN run, which has none)

Add a kind: a frozen JsonConfig with `run_id()`, `label`, `dataset`, `seed` and `variant`, and
one `register_job_kind(JobKind(...))`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import ConfigError, RunConfig
from ..depth import DepthConfig
from ..penalties import CONSTRAINTS

EVAL_COST = 200.0  # one evaluation costs about as much as 200 generator iterations


@dataclass(frozen=True)
class JobKind:
    """A registered kind of job: its config class and how a study trains, costs and groups it."""

    config: type
    experiment: str  # the `experiment` field of its config.json ('' when the config has none)
    train: Callable[[Any, Path, Callable[[str], None]], dict[str, Any]]
    cost: Callable[[Any], float]
    refusal: Callable[[Any], str | None]


JOB_KINDS: dict[type, JobKind] = {}


def register_job_kind(kind: JobKind) -> JobKind:
    """Make a config class a job a study can run; registering a class again replaces its entry."""
    JOB_KINDS[kind.config] = kind
    return kind


def job_kind(job: Any) -> JobKind:
    try:
        return JOB_KINDS[type(job)]
    except KeyError:
        raise ConfigError(f"study: {type(job).__name__} is not a registered job kind (wgan_core.study.kinds.register_job_kind)") from None


def job_from_dict(d: dict[str, Any]) -> Any:
    """The job a config.json / study.json entry describes, by its `experiment` field."""
    experiment = d.get("experiment", "")
    for kind in JOB_KINDS.values():
        if kind.experiment == experiment:
            return kind.config.from_dict(d)
    raise ConfigError(f"experiment: unknown {experiment!r}; allowed: {', '.join(repr(k.experiment) for k in JOB_KINDS.values())}")


# ----------------------------------------------------------------------------------------------
# GAN runs: the matched training loop (wgan_core.training).
# ----------------------------------------------------------------------------------------------
def critic_step_weight(constraint: str) -> float:
    """A critic step's cost relative to a plain one: 2.2 with a double backward, 1.2 with an after-step hook, else 1."""
    entry = CONSTRAINTS[constraint]
    if entry.double_backward:
        return 2.2
    if entry.after_critic_step is not None:
        return 1.2
    return 1.0


def _run_train(job: RunConfig, run_dir: Path, log: Callable[[str], None]) -> dict[str, Any]:
    from ..training.loop import train  # torch and the models: only where a run trains

    return train(job, run_dir, progress=False, log=log)


def _run_cost(job: RunConfig) -> float:
    """Generator iterations plus n_critic weighted critic steps each, and ~200 iterations per evaluation."""
    evals = job.steps // job.eval_every + 2
    return job.steps * (1 + job.n_critic * critic_step_weight(job.constraint)) + EVAL_COST * evals


def _run_refusal(job: RunConfig) -> str | None:
    from ..training.ensemble import refusal

    return refusal(job)


# ----------------------------------------------------------------------------------------------
# The depth experiment: a critic-only run (wgan_core.depth.DepthTrainer), trained by the same loop.
# ----------------------------------------------------------------------------------------------
def _depth_train(job: DepthConfig, run_dir: Path, log: Callable[[str], None]) -> dict[str, Any]:
    from ..depth import train_depth

    return train_depth(job, run_dir, progress=False, log=log)


def _depth_cost(job: DepthConfig) -> float:
    """Critic steps only, no evaluations; a penalised step weighs 3."""
    return job.steps * (3.0 if CONSTRAINTS[job.constraint].double_backward else 1.0)


register_job_kind(JobKind(RunConfig, "", _run_train, _run_cost, _run_refusal))
register_job_kind(JobKind(DepthConfig, "depth", _depth_train, _depth_cost, lambda job: "the depth experiment trains one critic alone"))

__all__ = ["EVAL_COST", "JOB_KINDS", "JobKind", "critic_step_weight", "job_from_dict", "job_kind", "register_job_kind"]
