"""Job kinds (wgan_core.kinds): a new kind of job is one registration, trained by the one loop and shown by the report,
and the study's parts ask the kind, never the type."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import torch

from wgan_core import ConfigError
from wgan_core.config import JsonConfig
from wgan_core.fileio import write_rows
from wgan_core.kinds import JOB_KINDS, JobKind, get_job_kind, job_from_dict, job_kind, job_kind_names, register_job_kind
from wgan_core.kinds.depth import DepthConfig
from wgan_core.metrics.registry import METRICS, Metric
from wgan_core.report import write_report
from wgan_core.report.sections import RUN_TABLES, RunTable
from wgan_core.study import job_cost, work
from wgan_core.study.executors import Executor
from wgan_core.study.jobs import run_jobs
from wgan_core.study.units import plan_units

from .conftest import tiny_toy


@dataclass(frozen=True)
class CountConfig(JsonConfig):
    """A made-up job: a counter that adds `rate` per step; its metric is the count."""

    _what = "count config"

    experiment: str = "count"
    dataset: str = "8gaussians"
    seed: int = 0
    steps: int = 6
    rate: float = 1.0
    eval_every: int = 3
    checkpoint_every: int = 3
    device: str = "cpu"

    @property
    def label(self) -> str:
        return f"count ×{self.rate:g}"

    variant = label


class CountTrainer:
    """The run contract's every member, and nothing else: a count, its checkpoint, its own table file."""

    config: CountConfig  # attributes its __init__ sets are declared on the class: the contract checks the class
    device: torch.device
    step_count: int
    checkpoint_keys = ("step", "count")
    rate_key = "counts_per_s"
    last_samples = None

    def __init__(self, config: CountConfig) -> None:
        self.config, self.device, self.step_count, self.count = config, torch.device("cpu"), 0, 0.0

    @classmethod
    def stepper_for(cls, trainers: list[CountTrainer]) -> CountTrainer:
        (t,) = trainers
        return t

    def step(self) -> float:
        self.count += self.config.rate + 0.25 * self.config.seed  # exact in binary: the rows compare exactly
        self.step_count += 1
        return self.count

    def write_back(self) -> None:
        pass

    def evaluate(self) -> dict[str, Any]:
        return {"step": self.step_count, "count": self.count}

    def diverged_at(self) -> int | None:
        return None

    def state_dict(self) -> dict[str, Any]:
        return {"step": self.step_count, "count": self.count}

    def load_state_dict(self, s: dict[str, Any]) -> None:
        self.step_count, self.count = int(s["step"]), float(s["count"])

    def finish_run(self, out: Path, rows: list[dict[str, Any]], diverged: int | None) -> dict[str, Any]:
        write_rows(out / "counts.csv", [{"step": r["step"], "value": r["count"]} for r in rows])
        return {"count": self.count}


def plot_counts(rows: pd.DataFrame, colors: dict, out: Path) -> Path:
    path = out / "counts_table.png"
    rows.to_csv(path.with_suffix(".csv"), index=False)
    path.write_bytes(b"\x89PNG\r\n\x1a\n")  # the report lists the figure; what it draws is the kind's own business
    return path


@pytest.fixture
def count_kind():
    metric = Metric(False, "count (made up)", ".4g", tested=True, shown=True)
    table = RunTable("counts.csv", "Counts", plot_counts, "counts_table")
    kind = JobKind(CountConfig, CountTrainer, "count", lambda job: 7.0 * job.steps, lambda job: "counts train alone", {"count": metric}, {"counts": table})
    register_job_kind("count", kind)
    yield kind
    del JOB_KINDS["count"], METRICS["count"], RUN_TABLES["counts"]


def test_a_made_up_job_kind_is_one_registration_trained_and_reported(tmp_path, count_kind):
    """One registration: the loop trains it (evaluations, checkpoints, final.json), the study runs it, the report shows its metric and figure."""
    jobs = [CountConfig(rate=r, seed=s) for r in (1.0, 2.0) for s in range(3)]
    assert job_kind(jobs[0]) is count_kind is get_job_kind("count") and "count" in job_kind_names() and job_cost(jobs[0]) == 42.0
    assert plan_units(jobs, ensemble="3") == [[j] for j in jobs]  # refused an ensemble: each alone
    assert job_from_dict(jobs[1].to_dict()) == jobs[1]
    result = work(jobs[1], str(tmp_path))  # claims DIR/<run_id>, trains through the kind and the one loop, releases
    assert result.state == "done" and result.final["steps"] == 6 and result.final["metrics"]["count"] == 7.5
    run = tmp_path / jobs[1].run_id()
    assert [r.split(",")[:2] for r in (run / "metrics.csv").read_text().splitlines()[1:]] == [["0", "0.0"], ["3", "3.75"], ["6", "7.5"]]
    assert "counts_per_s" in json.loads((run / "final.json").read_text())
    run_jobs("count", jobs, tmp_path, Executor.parse("local"), progress=False, log=lambda m: None, poll_s=0.01)
    index = write_report(tmp_path, baseline="count ×1")
    runs = pd.read_csv(tmp_path / "report" / "runs.csv")
    assert sorted(runs["count"]) == [6.0, 7.5, 9.0, 12.0, 13.5, 15.0]
    stats = pd.read_csv(tmp_path / "report" / "stats.csv")
    assert list(stats["metric"]) == ["count"]  # the made-up metric is tested, count ×2 against the baseline
    figure = pd.read_csv(tmp_path / "report" / "counts_table.csv")
    assert len(figure) == 6 * 3 and set(figure["cell"]) == {"count ×1", "count ×2"}  # every run's rows of its counts.csv
    assert "counts_table.png" in index.read_text()


def test_a_trainer_lacking_the_contract_is_refused_at_registration():
    class Half:
        checkpoint_keys = ("step",)

        def evaluate(self) -> dict:
            return {}

    with pytest.raises(ConfigError) as e:
        register_job_kind("half", JobKind(CountConfig, Half, "half", lambda job: 1.0, lambda job: None))
    assert "\n" not in str(e.value) and str(e.value).startswith("trainer: Half lacks config, device, step_count, rate_key, last_samples, stepper_for")
    assert "half" not in JOB_KINDS


def test_the_built_in_kinds_and_an_unknown_one():
    run, depth = tiny_toy("wgan-gp"), DepthConfig(constraint="gp", steps=10)
    assert set(job_kind_names()) >= {"depth", "gan"}
    assert job_from_dict(run.to_dict()) == run and job_from_dict(depth.to_dict()) == depth
    assert job_kind(depth).refusal(depth) is not None and job_kind(run).refusal(run) is None
    assert job_cost(depth) == 30.0  # 10 penalised critic steps, weight 3
    with pytest.raises(ConfigError, match="experiment: unknown 'nope'"):
        job_from_dict({**run.to_dict(), "experiment": "nope"})
    with pytest.raises(ConfigError, match="not a registered job kind"):
        job_kind(object())
    with pytest.raises(ConfigError, match="job kind: unknown 'nope'; allowed: "):
        get_job_kind("nope")


def test_a_stepper_for_that_is_no_classmethod_is_refused():
    """The loop asks the trainer's class for its stepper (type(t).stepper_for): an instance method would fail inside a run."""

    class Old(CountTrainer):
        def stepper_for(self, trainers):  # type: ignore[override]
            return self

    with pytest.raises(ConfigError, match=r"^trainer: Old lacks stepper_for as a classmethod of the run contract"):
        register_job_kind("old", JobKind(CountConfig, Old, "old", lambda job: 1.0, lambda job: None))


def test_a_report_without_the_kind_registered_warns_naming_its_experiment(tmp_path):
    from wgan_core.report.load import load_study

    run = tmp_path / "r"
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"experiment": "unheard", "seed": 0, "dataset": "8gaussians"}))
    with pytest.warns(UserWarning, match="no job kind registered for experiment unheard"):
        load_study(tmp_path)


def test_a_second_name_for_a_registered_config_class_or_experiment_is_refused(count_kind):
    """job_kind(job) finds a kind by its config class and job_from_dict by its experiment: each names one kind."""
    with pytest.raises(ConfigError, match=r"^job kind 'count-again': its config class or experiment 'count' is job kind 'count''s"):
        register_job_kind("count-again", JobKind(CountConfig, CountTrainer, "count", lambda job: 1.0, lambda job: None))
    assert "count-again" not in JOB_KINDS and register_job_kind("count", count_kind) is count_kind  # the same name replaces
