"""Job kinds (wgan_core.study.kinds): a new kind of job is one registration, and the study's parts ask the kind, never the type."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from wgan_core import ConfigError
from wgan_core.config import JsonConfig
from wgan_core.depth import DepthConfig
from wgan_core.study import JOB_KINDS, JobKind, job_cost, job_from_dict, job_kind, register_job_kind, work
from wgan_core.study.units import plan_units

from .conftest import tiny_toy


@dataclass(frozen=True)
class EchoConfig(JsonConfig):
    """A made-up job: writes its step count into final.json."""

    _what = "echo config"

    experiment: str = "echo"
    dataset: str = "8gaussians"
    seed: int = 0
    steps: int = 3

    @property
    def label(self) -> str:
        return "echo"

    variant = label


@pytest.fixture
def echo_kind():
    def train(job: EchoConfig, run_dir: Path, log) -> dict:
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "config.json").write_text(job.to_json())
        final = {"status": "ok", "steps": job.steps, "variant": job.label, "run_id": job.run_id(), "metrics": {}}
        (run_dir / "final.json").write_text(json.dumps(final))
        return final

    kind = register_job_kind(JobKind(EchoConfig, "echo", train, lambda job: 7.0 * job.steps, lambda job: "echo jobs train alone"))
    yield kind
    del JOB_KINDS[EchoConfig]


def test_a_new_job_kind_is_one_registration(tmp_path, echo_kind):
    jobs = [EchoConfig(seed=s) for s in range(3)]
    assert job_kind(jobs[0]) is echo_kind and job_cost(jobs[0]) == 21.0
    assert plan_units(jobs, ensemble="3") == [[j] for j in jobs]  # refused an ensemble: each alone
    assert job_from_dict(jobs[1].to_dict()) == jobs[1]
    result = work(jobs[1], str(tmp_path))  # claims DIR/<run_id>, trains through the kind, releases
    assert result.state == "done" and result.final["steps"] == 3
    assert json.loads((tmp_path / jobs[1].run_id() / "final.json").read_text())["run_id"] == jobs[1].run_id()
    assert not (tmp_path / jobs[0].run_id()).exists()


def test_the_built_in_kinds_and_an_unknown_one():
    run, depth = tiny_toy("wgan-gp"), DepthConfig(constraint="gp", steps=10)
    assert job_from_dict(run.to_dict()) == run and job_from_dict(depth.to_dict()) == depth
    assert job_kind(depth).refusal(depth) is not None and job_kind(run).refusal(run) is None
    assert job_cost(depth) == 30.0  # 10 penalised critic steps, weight 3
    with pytest.raises(ConfigError, match="experiment: unknown 'nope'"):
        job_from_dict({**run.to_dict(), "experiment": "nope"})
    with pytest.raises(ConfigError, match="not a registered job kind"):
        job_kind(object())
