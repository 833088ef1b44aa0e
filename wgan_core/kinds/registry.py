"""The job kinds' registry: `register_job_kind(name, JobKind(...))`, `get_job_kind`, `job_kind_names`; `job_kind(job)`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError, lookup
from ..metrics.registry import Metric, register_metric
from ..report.sections import RunTable, declare_experiment, register_run_table
from ..training.protocol import check_contract


@dataclass(frozen=True)
class JobKind:
    """A registered kind of job: its config class, its trainer, and how a study costs, groups and reports it."""

    config: type  # a frozen JsonConfig with run_id(), label, variant, dataset, seed, steps, eval_every, checkpoint_every
    trainer: type  # implements training.protocol.RunContract; built as trainer(config)
    experiment: str  # the `experiment` field of its config.json ('' when the config has none)
    cost: Callable[[Any], float]  # relative cost, for the ETA and for starting the longest jobs first
    refusal: Callable[[Any], str | None]  # why a job cannot train in a seed ensemble, or None (it can)
    metrics: dict[str, Metric] = field(default_factory=dict)  # what its runs write into metrics.csv / final.json, by name
    run_tables: dict[str, RunTable] = field(default_factory=dict)  # its runs' own table files and their figures

    def train(self, job: Any, run_dir: Path, log: Callable[[str], None]) -> dict[str, Any]:
        """Run (or resume, or skip if finished) one job through the one training loop; returns final.json's contents."""
        from ..training.loop import train  # only where a run trains

        return train(job, run_dir, progress=False, log=log, make=self.trainer)


JOB_KINDS: dict[str, JobKind] = {}


def register_job_kind(name: str, kind: JobKind) -> JobKind:
    """Make a config class a job a study can run; registering a name again replaces its entry.

    Refuses a trainer that lacks a member of the run contract (one line naming them), and registers
    the kind's metrics and run tables.
    """
    if not isinstance(kind, JobKind) or not isinstance(kind.metrics, dict) or not isinstance(kind.run_tables, dict):
        raise ConfigError(f"job kind {name!r}: needs a JobKind whose metrics and run_tables are dicts by name ({{name: Metric(...)}}, {{name: RunTable(...)}})")
    check_contract(kind.trainer)
    for other_name, other in JOB_KINDS.items():
        if other_name != name and (other.config is kind.config or other.experiment == kind.experiment):
            raise ConfigError(
                f"job kind {name!r}: its config class or experiment {kind.experiment!r} is job kind {other_name!r}'s; register that name to replace it"
            )
    for metric_name, metric in kind.metrics.items():
        register_metric(metric_name, metric)
    for table_name, table in kind.run_tables.items():
        register_run_table(table_name, table)
    declare_experiment(kind.experiment)
    JOB_KINDS[name] = kind
    return kind


def get_job_kind(name: str) -> JobKind:
    return lookup(JOB_KINDS, name, "job kind")


def job_kind_names() -> tuple[str, ...]:
    return tuple(JOB_KINDS)


def job_kind(job: Any) -> JobKind:
    """The kind of a job (a config object), by its class."""
    for kind in JOB_KINDS.values():
        if type(job) is kind.config:
            return kind
    raise ConfigError(f"study: {type(job).__name__} is not a registered job kind (wgan_core.kinds.register_job_kind)")


def job_from_dict(d: dict[str, Any]) -> Any:
    """The job a config.json / study.json entry describes, by its `experiment` field."""
    experiment = d.get("experiment", "")
    for kind in JOB_KINDS.values():
        if kind.experiment == experiment:
            return kind.config.from_dict(d)
    raise ConfigError(f"experiment: unknown {experiment!r}; allowed: {', '.join(repr(k.experiment) for k in JOB_KINDS.values())}")


__all__ = ["JOB_KINDS", "JobKind", "get_job_kind", "job_from_dict", "job_kind", "job_kind_names", "register_job_kind"]
