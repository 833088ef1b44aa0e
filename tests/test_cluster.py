"""A study on a real Slurm cluster: requeue, time limits, scancel and failures survived (`nox -s cluster`).

Needs the one-node cluster of .ci/slurm-cluster (SLURM_CONF set) and WGAN_CLUSTER_TESTS=1;
skipped otherwise, so `nox -s tests` does not need Slurm. Every test compares the runs that
went through Slurm with the same runs trained uninterrupted by the local executor: metrics
equal (apart from wall-clock columns) and final weights bit-identical.

Slurm holds a requeued batch job for 120 s before it may start again (its BeginTime);
`_release_requeued` lifts that hold with `scontrol update StartTime=now` so the tests take
seconds instead of minutes. It changes when the job restarts, not how.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch

from wgan_core.study import Executor
from wgan_core.study.jobs import run_jobs

from .conftest import tiny_toy

ROOT = Path(__file__).resolve().parent.parent
# Skipped unless asked for; once asked for (nox -s cluster), a missing cluster fails rather than skips.
pytestmark = pytest.mark.skipif(os.environ.get("WGAN_CLUSTER_TESTS") != "1", reason="needs the test cluster: nox -s cluster")


@pytest.fixture(autouse=True)
def _cluster_is_up():
    assert os.environ.get("SLURM_CONF") and shutil.which("sbatch"), "WGAN_CLUSTER_TESTS=1 but no cluster: SLURM_CONF unset or sbatch missing"
# A toy run of a few thousand steps: long enough to be interrupted mid-run on any CPU. Periodic checkpoints
# are out of reach, so a resume can only come from the checkpoint a signal wrote.
RUN = ["--preset", "toy", "--seeds", "1", "--datasets", "8gaussians", "--device", "cpu", "--quiet", "--no-report", "--threads", "1",
       "--set", "width=32", "--set", "batch_size=64", "--set", "eval_samples=200", "--set", "eval_every=250",
       "--set", "checkpoint_every=1000000"]  # fmt: skip


def _study(out: Path, variants: str, steps: int, *extra: str) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "wgan_core", "study", *RUN, "--variants", variants, "--set", f"steps={steps}", "--out", str(out), *extra]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)))


def _finish(proc: subprocess.Popen, timeout: float = 900) -> tuple[int, str]:
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out + err


def _squeue() -> list[tuple[str, str, str]]:
    lines = subprocess.run(["squeue", "-h", "-o", "%i %T %r"], capture_output=True, text=True).stdout.split("\n")
    return [tuple(line.split()) for line in lines if line.strip()]  # (job id, state, reason)


class _release_requeued:
    """While active, lift Slurm's 120 s hold (BeginTime) on every requeued job at once."""

    def __enter__(self):
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()
        return self

    def _loop(self) -> None:
        while not self.stop.wait(1.0):
            for jid, state, reason in _squeue():
                if state == "PENDING" and reason == "BeginTime":
                    subprocess.run(["scontrol", "update", f"JobId={jid}", "StartTime=now"], capture_output=True)

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()


def _wait_for_step(out: Path, step: int, timeout: float = 300) -> None:
    """Until some run of the study has a metrics row at or past `step`."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        for m in out.glob("*/metrics.csv"):
            lines = m.read_text().splitlines()
            if len(lines) > 1 and int(lines[-1].split(",")[0]) >= step:
                return
        time.sleep(0.5)
    raise AssertionError(f"no run in {out} reached step {step} in {timeout}s")


def _running_job() -> str:
    deadline = time.time() + 60
    while time.time() < deadline:
        running = [jid for jid, state, _ in _squeue() if state == "RUNNING"]
        if running:
            return running[0]
        time.sleep(0.5)
    raise AssertionError("no running Slurm job")


def _assert_same_runs(a: Path, b: Path) -> list[dict]:
    """Same run ids, same metrics (wall-clock columns aside), bit-identical final weights; returns b's final.json files."""
    ids = sorted(p.parent.name for p in a.glob("*/final.json"))
    assert ids and ids == sorted(p.parent.name for p in b.glob("*/final.json"))
    finals = []
    for rid in ids:
        rows = []
        for d in (a, b):
            lines = (d / rid / "metrics.csv").read_text().splitlines()
            keep = [i for i, h in enumerate(lines[0].split(",")) if not h.endswith("time_s")]
            rows.append([[line.split(",")[i] for i in keep] for line in lines])
        assert rows[0] == rows[1], rid
        ma, mb = (torch.load(d / rid / "model.pt", weights_only=True) for d in (a, b))
        assert all(torch.equal(ma[n][k], mb[n][k]) for n in ("generator", "critic") for k in ma[n]), rid
        finals.append(json.loads((b / rid / "final.json").read_text()))
    return finals


def _assert_nothing_lost(final: dict, signals: set[str]) -> None:
    """Every stop came from a signal and resumed at the very step it stopped at."""
    stops = final.get("interruptions", [])
    assert stops, "the run was never interrupted"
    for s in stops:
        assert s["signal"] in signals and s["stopped_at"] == s["resumed_at"], stops


def test_study_on_slurm_equals_the_local_executor(tmp_path):
    local = _study(tmp_path / "local", "gan,wgan-gp", 300, "--executor", "local")
    slurm = _study(tmp_path / "slurm", "gan,wgan-gp", 300, "--executor", "submitit")
    (rc_l, log_l), (rc_s, log_s) = _finish(local), _finish(slurm)
    assert rc_l == 0 and rc_s == 0, log_l + log_s
    for final in _assert_same_runs(tmp_path / "local", tmp_path / "slurm"):
        assert "interruptions" not in final


def test_scontrol_requeue_mid_run_resumes_from_the_signal_checkpoint(tmp_path):
    """Two seeds: on Slurm they train as one seed ensemble in one job (--ensemble auto); locally as two separate runs."""
    local = _study(tmp_path / "local", "nsgan", 20000, "--executor", "local", "--seeds", "2", "--ensemble", "off")
    with _release_requeued():
        slurm = _study(tmp_path / "slurm", "nsgan", 20000, "--executor", "submitit", "--seeds", "2")
        _wait_for_step(tmp_path / "slurm", 500)
        subprocess.run(["scontrol", "requeue", _running_job()], check=True)
        rc, log = _finish(slurm)
    assert rc == 0, log
    assert _finish(local)[0] == 0
    finals = _assert_same_runs(tmp_path / "local", tmp_path / "slurm")
    assert len(finals) == 2
    for final in finals:
        assert final["ensemble"] == {"size": 2, "seeds": [0, 1]}
        _assert_nothing_lost(final, {"SIGTERM"})
        assert len(final["interruptions"]) == 1


def _steps_lasting(seconds: float, out: Path) -> int:
    """Toy nsgan steps that train for about `seconds` on this machine, from the rate of a 2,000-step local run.

    The rate differs fivefold between the 2-core machines CI draws (800 iterations/s on a Xeon,
    160 on a first-generation EPYC): a fixed step count either never meets the time limit or
    needs a dozen requeues.
    """
    rc, log = _finish(_study(out, "nsgan", 2000, "--executor", "local", "--set", "eval_every=4000"))
    assert rc == 0, log
    (final,) = (json.loads(p.read_text()) for p in out.glob("*/final.json"))
    return max(4000, round(final["gen_iters_per_s"] * seconds / 1000) * 1000)


@pytest.mark.timeout(900)
def test_a_time_limit_shorter_than_the_run_requeues_until_done(tmp_path):
    """timeout_min=1 with the warning signal 30 s before it: USR2, checkpoint, requeue, again, until the run is done.

    The run trains about 75 s uninterrupted, so each job (30 s before its warning, less the
    start-up) stops at least twice.
    """
    n = _steps_lasting(75, tmp_path / "probe")
    steps = ["--set", f"eval_every={n // 18}"]  # 18 evaluations: the time goes into training
    local = _study(tmp_path / "local", "nsgan", n, "--executor", "local", *steps)
    with _release_requeued():
        slurm = _study(tmp_path / "slurm", "nsgan", n, "--executor", "submitit", "--slurm", "timeout_min=1", "--slurm", "slurm_signal_delay_s=30", *steps)
        rc, log = _finish(slurm)
    assert rc == 0, log
    assert _finish(local)[0] == 0
    (final,) = _assert_same_runs(tmp_path / "local", tmp_path / "slurm")
    _assert_nothing_lost(final, {"SIGUSR2"})
    assert len(final["interruptions"]) >= 2, final["interruptions"]


def test_scancel_is_reported_and_the_next_invocation_resumes(tmp_path):
    local = _study(tmp_path / "local", "nsgan", 20000, "--executor", "local")
    slurm = _study(tmp_path / "slurm", "nsgan", 20000, "--executor", "submitit")
    _wait_for_step(tmp_path / "slurm", 500)
    subprocess.run(["scancel", _running_job()], check=True)
    rc, log = _finish(slurm)
    assert rc == 75, log
    assert "cancelled" in log and "run the same command again to resume" in log, log
    assert list((tmp_path / "slurm").glob("*/checkpoint.pt")) and not list((tmp_path / "slurm").glob("*/final.json"))
    rc, log = _finish(_study(tmp_path / "slurm", "nsgan", 20000, "--executor", "submitit"))
    assert rc == 0, log
    assert _finish(local)[0] == 0
    (final,) = _assert_same_runs(tmp_path / "local", tmp_path / "slurm")
    _assert_nothing_lost(final, {"SIGTERM"})


def test_a_failing_job_is_reported_with_its_reason_and_the_others_finish(tmp_path):
    plugin = tmp_path / "boom.py"
    plugin.write_text(
        "from wgan_core import Loss, register_loss\n"
        "def critic(real, fake):\n    raise RuntimeError('boom: this loss always fails')\n"
        "def generator(fake, real=None):\n    return -fake.mean()\n"
        "register_loss('boom', Loss(critic=critic, generator=generator, source='a test of failure reporting'))\n"
    )
    good = tiny_toy("nsgan", steps=4)
    bad = tiny_toy("nsgan", steps=4, loss="boom", plugins=str(plugin))
    summary = run_jobs("cluster failure", [good, bad], tmp_path / "study", Executor.parse("submitit"), progress=False, log=lambda m: None)
    assert (tmp_path / "study" / good.run_id() / "final.json").exists()
    assert list(summary["failed"]) == [bad.run_id()]
    assert summary["failed"][bad.run_id()] == "RuntimeError: boom: this loss always fails"
    assert "boom" in (tmp_path / "study" / bad.run_id() / "error.log").read_text()
