"""`python -m wgan_core status DIR`, and a study stopped by a signal: every run state it names, and the study's ETA."""

import json
import os
import shutil
import signal
import socket
import time

import pytest

from wgan_core import RunConfig
from wgan_core.cli import main as cli_main
from wgan_core.study.claims import CLAIMS
from wgan_core.study.jobs import job_cost
from wgan_core.study.status import study_status
from wgan_core.training.step import Stepper

from .conftest import ablation_main

ARGS = ["--preset", "toy", "--seeds", "1", "--variants", "gan,nsgan,wgan-gp,wgan-clip,wgan-lp", "--datasets", "8gaussians", "--device", "cpu",
        "--quiet", "--no-report", "--executor", "local", "--set", "width=16", "--set", "batch_size=32", "--set", "eval_samples=200",
        "--set", "steps=4", "--set", "eval_every=2", "--set", "checkpoint_every=2"]  # fmt: skip


def test_status_names_each_state_and_estimates_from_the_finished_runs(tmp_path, capsys):
    out = tmp_path / "study"
    code, _ = ablation_main([*ARGS, "--out", str(out)], capsys)
    assert code == 0
    runs, _ = study_status(out)
    by_label = {r.label.split()[1]: r.run_id for r in runs}
    finished = by_label["gan"]
    # Make the others: running (a live claim by this process), stopped (a checkpoint), failed (error.log), queued (nothing)
    running, stopped, failed, queued = by_label["nsgan"], by_label["wgan-gp"], by_label["wgan-clip"], by_label["wgan-lp"]
    for rid in (running, stopped, failed, queued):
        (out / rid / "final.json").unlink()
        (out / rid / "model.pt").unlink()
    (out / CLAIMS / running).write_text(json.dumps({"host": socket.gethostname(), "pid": os.getpid(), "start": "", "token": "t"}))
    (out / stopped / "checkpoint.pt").write_bytes(b"x")
    (out / failed / "error.log").write_text("Traceback (most recent call last):\nRuntimeError: boom\n")
    shutil.rmtree(out / queued)

    runs, summary = study_status(out)
    states = {r.run_id: r.state for r in runs}
    assert states == {finished: "finished", running: "running", stopped: "stopped", failed: "failed", queued: "queued"}
    assert summary["counts"] == {"finished": 1, "running": 1, "stopped": 1, "failed": 1, "queued": 1}
    fin = next(r for r in runs if r.run_id == finished)
    wall = json.loads((out / finished / "final.json").read_text())["wall_time_s"]
    assert fin.cost == job_cost(RunConfig.from_json(out / finished / "config.json"))
    # ETA: the remaining cost at the finished run's wall time per unit of cost, shared by the 1 running run. The
    # running, stopped and failed runs' metrics.csv end at step 4 of 4: only the queued run's whole cost remains.
    q = next(r for r in runs if r.run_id == queued)
    assert summary["eta_s"] == pytest.approx(q.cost * wall / fin.cost)

    assert cli_main(["status", str(out)]) == 0
    text = capsys.readouterr().out.strip().splitlines()
    assert len(text) == 6
    assert text[0].startswith(f"{running}  running ") and f"[pid {os.getpid()} on {socket.gethostname()}]" in text[0]
    assert "RuntimeError: boom" in next(line for line in text if line.startswith(failed))
    assert text[-1].startswith("study toy: 5 runs: 1 finished, 1 running, 1 stopped, 1 failed, 1 queued; ETA ")


def test_a_signalled_study_stops_saves_and_exits_75_then_resumes(tmp_path, capsys, monkeypatch):
    """SIGTERM during the second run of a local study: that run saves at its step, nothing more starts, exit 75; the rerun finishes."""
    out = tmp_path / "study"
    real_step = Stepper.step  # the loop steps every run through a Stepper
    calls = {"n": 0}

    def step_then_signal(self):
        real_step(self)
        calls["n"] += 1
        if calls["n"] == 7:  # the second run's third step (4 steps per run)
            os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(Stepper, "step", step_then_signal)
    code, cap = ablation_main([*ARGS, "--out", str(out)], capsys)
    assert code == 75, cap.err
    assert cap.err.strip().splitlines() == ["interrupted; run the same command again to resume"]
    runs, summary = study_status(out)
    assert summary["counts"] == {"finished": 1, "running": 0, "stopped": 1, "failed": 0, "queued": 3}
    monkeypatch.undo()
    time.sleep(0.01)
    code, cap = ablation_main([*ARGS, "--out", str(out)], capsys)
    assert code == 0, cap.err
    runs, summary = study_status(out)
    assert summary["counts"]["finished"] == 5 and summary["eta_s"] == 0
    (stopped,) = [r for r in runs if json.loads((out / r.run_id / "final.json").read_text()).get("interruptions")]
    assert json.loads((out / stopped.run_id / "final.json").read_text())["interruptions"] == [{"signal": "SIGTERM", "stopped_at": 3, "resumed_at": 3}]


@pytest.mark.slow  # a subprocess or end-to-end run: nox -s slow (CI runs it)
def test_sigterm_to_a_pool_worker_stops_the_study_with_that_run_resumable(tmp_path):
    """process:1: the worker running a run gets SIGTERM (a node's OOM handler, an admin): it saves; the study starts nothing more, exits 75."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    out = tmp_path / "study"
    args = [a if a != "local" else "process:1" for a in ARGS]
    args = [a if a != "steps=4" else "steps=200000" for a in args]
    args = [a if a != "eval_every=2" else "eval_every=100000" for a in args]
    args = [a if a != "checkpoint_every=2" else "checkpoint_every=100000" for a in args]
    proc = subprocess.Popen([sys.executable, "-m", "wgan_core", "study", *args, "--out", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ, PYTHONPATH=str(root)))  # fmt: skip
    deadline = time.time() + 120
    claims = []
    while time.time() < deadline and not claims:
        claims = [p for p in (out / CLAIMS).glob("*") if p.name != ".guard" and p.read_text().strip()] if (out / CLAIMS).exists() else []
        time.sleep(0.2)
    assert claims, "no run started"
    rid, pid = claims[0].name, json.loads(claims[0].read_text())["pid"]
    while not (out / rid / "metrics.csv").exists() and time.time() < deadline:
        time.sleep(0.2)
    assert (out / rid / "metrics.csv").exists(), "the run wrote no metrics.csv within the deadline"
    time.sleep(1.0)
    os.kill(pid, signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 75, err
    assert "1 run(s) stopped before finishing" in err and rid in err and "stopped by SIGTERM at step" in err, err
    runs, summary = study_status(out)
    assert summary["counts"] == {"finished": 0, "running": 0, "stopped": 1, "failed": 0, "queued": 4}
