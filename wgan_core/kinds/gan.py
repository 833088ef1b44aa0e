"""The GAN run: a job kind whose config is `RunConfig` and whose trainer is the matched loop's `Trainer`.

Its metrics are the registered ones (wgan_core.metrics), its report the report's own tables and
figures; what it adds here is how a study costs it and when it may train in a seed ensemble.
"""

from __future__ import annotations

from ..config import RunConfig
from ..penalties import get_constraint
from ..training import Trainer, refusal
from .registry import JobKind, register_job_kind

EVAL_COST = 200.0  # one evaluation costs about as much as 200 generator iterations


def critic_step_weight(constraint: str) -> float:
    """A critic step's cost relative to a plain one: 2.2 with a double backward, 1.2 with an after-step hook, else 1."""
    entry = get_constraint(constraint)
    if entry.double_backward:
        return 2.2
    if entry.after_critic_step is not None:
        return 1.2
    return 1.0


def run_cost(job: RunConfig) -> float:
    """Generator iterations plus n_critic weighted critic steps each, and ~200 iterations per evaluation."""
    evals = job.steps // job.eval_every + 2
    return job.steps * (1 + job.n_critic * critic_step_weight(job.constraint)) + EVAL_COST * evals


KIND = register_job_kind("gan", JobKind(RunConfig, Trainer, "", run_cost, refusal))

__all__ = ["EVAL_COST", "KIND", "critic_step_weight", "run_cost"]
