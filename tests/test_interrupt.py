"""Stop signals and damaged checkpoints: a run stopped or damaged anywhere resumes bit-identically, or says what to do."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from wgan_core import signals, train
from wgan_core.config import ConfigError
from wgan_core.rundir import checkpoints as ck
from wgan_core.training.step import Stepper

from .conftest import tiny_toy

ROOT = Path(__file__).resolve().parent.parent


def _rows(run: Path) -> list[list[str]]:
    """metrics.csv without its wall-clock columns."""
    lines = (run / "metrics.csv").read_text().splitlines()
    keep = [i for i, h in enumerate(lines[0].split(",")) if not h.endswith("time_s")]
    return [[line.split(",")[i] for i in keep] for line in lines]


def _same_models(a: Path, b: Path) -> None:
    ma, mb = (torch.load(p / "model.pt", weights_only=True) for p in (a, b))
    for net in ("generator", "critic"):
        for k in ma[net]:
            assert torch.equal(ma[net][k], mb[net][k]), (net, k)


def _signal_at(monkeypatch, step: int, signum: int) -> None:
    """Stepper.step sends `signum` to this process right after generator iteration `step`."""
    real_step = Stepper.step  # the loop steps every run through a Stepper

    def step_then_signal(self):
        real_step(self)
        if self.step_count == step:
            os.kill(os.getpid(), signum)

    monkeypatch.setattr(Stepper, "step", step_then_signal)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT, signal.SIGUSR1, signal.SIGUSR2])
def test_a_stop_signal_saves_at_that_step_and_the_resume_is_bit_identical(tmp_path, monkeypatch, signum):
    config = tiny_toy("wgan-gp", steps=9, checkpoint_every=4, eval_every=3)
    train(config, tmp_path / "straight", progress=False)
    before = signal.getsignal(signum)
    _signal_at(monkeypatch, 5, signum)  # between checkpoints (4, 8) and evaluations (3, 6)
    with pytest.raises(signals.Interrupted) as info:
        train(config, tmp_path / "stopped", progress=False)
    assert signal.getsignal(signum) is before  # the handlers are restored
    assert info.value.step == 5 and info.value.signum == signum
    state = torch.load(tmp_path / "stopped" / "checkpoint.pt", weights_only=True)
    assert int(state["step"]) == 5  # saved at the signal, not at the last periodic checkpoint (step 4)
    assert (tmp_path / "stopped" / ck.PREVIOUS).exists()  # the periodic one of step 4 is kept beside it
    monkeypatch.undo()
    final = train(config, tmp_path / "stopped", progress=False)
    assert final["interruptions"] == [{"signal": signal.Signals(signum).name, "stopped_at": 5, "resumed_at": 5}]  # nothing lost
    assert "interruptions" not in json.loads((tmp_path / "straight" / "final.json").read_text())
    _same_models(tmp_path / "straight", tmp_path / "stopped")
    assert _rows(tmp_path / "straight") == _rows(tmp_path / "stopped")
    assert not (tmp_path / "stopped" / "checkpoint.pt").exists() and not (tmp_path / "stopped" / ck.PREVIOUS).exists()


def test_a_previous_python_handler_is_called_after_the_checkpoint(tmp_path, monkeypatch):
    """Inside a submitit job the previous SIGUSR2 handler requeues the job: it must find the checkpoint on disk."""
    seen = []

    def requeue(signum, frame):
        seen.append((signum, int(torch.load(tmp_path / "checkpoint.pt", weights_only=True)["step"])))

    old = signal.signal(signal.SIGUSR2, requeue)
    try:
        _signal_at(monkeypatch, 2, signal.SIGUSR2)
        with pytest.raises(signals.Interrupted):
            train(tiny_toy("wgan-clip", steps=6, checkpoint_every=4, eval_every=3), tmp_path, progress=False)
        assert seen == [(signal.SIGUSR2, 2)]
        assert signal.getsignal(signal.SIGUSR2) is requeue
    finally:
        signal.signal(signal.SIGUSR2, old)


@pytest.mark.slow  # a subprocess or end-to-end run: nox -s slow (CI runs it)
def test_sigterm_from_outside_exits_75_with_one_line(tmp_path):
    """A real process: SIGTERM mid-run -> checkpoint at the current step, exit 75, one line on stderr."""
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "wgan_core", "train", "--variant", "nsgan", "--steps", "100000", "--out", str(out), "--quiet",
           "--set", "width=16", "--set", "batch_size=32", "--set", "eval_samples=200",
           "--set", "eval_every=50000", "--set", "checkpoint_every=50000"]  # fmt: skip
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.time() + 60
    while not (out / "metrics.csv").exists() and time.time() < deadline:
        time.sleep(0.1)
    time.sleep(1.0)  # some training steps
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == signals.EXIT_INTERRUPTED, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("interrupted: stopped by SIGTERM at step "), err
    step = int(lines[0].split("at step ")[1].split(";")[0])
    assert step > 0 and int(torch.load(out / "checkpoint.pt", weights_only=True)["step"]) == step


def test_a_corrupt_checkpoint_falls_back_to_the_previous_one(tmp_path):
    config = tiny_toy("wgan-gp", steps=8, checkpoint_every=2, eval_every=2)
    train(config, tmp_path / "straight", progress=False)
    run = tmp_path / "damaged"
    real_step = Stepper.step  # the loop steps every run through a Stepper

    def stop_at_7(self):
        if self.step_count == 7:
            raise KeyboardInterrupt  # a crash: checkpoints of steps 6 (latest) and 4 (previous) on disk
        real_step(self)

    Stepper.step = stop_at_7
    try:
        with pytest.raises(KeyboardInterrupt):
            train(config, run, progress=False)
    finally:
        Stepper.step = real_step
    data = (run / "checkpoint.pt").read_bytes()
    (run / "checkpoint.pt").write_bytes(data[: len(data) // 3])  # a truncated copy
    messages = []
    train(config, run, progress=False, log=messages.append)
    assert any(m.startswith(f"warning: {run / 'checkpoint.pt'} is unreadable") for m in messages), messages
    assert "resuming" in messages[-1] and messages[-1].endswith("at step 4")
    assert json.loads((run / "final.json").read_text())["interruptions"] == [{"signal": None, "stopped_at": None, "resumed_at": 4}]
    _same_models(tmp_path / "straight", run)
    assert _rows(tmp_path / "straight") == _rows(run)


@pytest.mark.parametrize("damage", ["latest only", "both"])
def test_no_readable_checkpoint_is_one_line_exit_2(tmp_path, damage):
    config = tiny_toy("nsgan", steps=8, checkpoint_every=2, eval_every=2)
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text(config.to_json())
    (run / "checkpoint.pt").write_bytes(b"PK\x03\x04 not a whole zip")
    if damage == "both":
        (run / ck.PREVIOUS).write_bytes(b"")
    with pytest.raises(ConfigError, match=r"^checkpoint: .*checkpoint.pt is unreadable .* to restart this run from step 0$"):
        train(config, run, progress=False)
    cmd = [sys.executable, "-m", "wgan_core", "train", "--variant", "nsgan", "--steps", "8", "--out", str(run), "--quiet",
           "--set", f"batch_size={config.batch_size}", "--set", f"width={config.width}", "--set", f"eval_samples={config.eval_samples}",
           "--set", "eval_every=2", "--set", "checkpoint_every=2"]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert proc.returncode == 2, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert (run / "checkpoint.pt").read_bytes() == b"PK\x03\x04 not a whole zip"  # nothing overwritten


def test_save_keeps_the_previous_checkpoint_and_load_reads_the_latest(tmp_path):
    path = tmp_path / "checkpoint.pt"
    ck.save({"step": 1}, path)
    assert not (tmp_path / ck.PREVIOUS).exists()
    ck.save({"step": 2}, path)
    assert torch.load(tmp_path / ck.PREVIOUS, weights_only=True) == {"step": 1}
    assert ck.load(path, required=("step",)) == {"step": 2}
    path.unlink()  # a crash between moving the old one aside and writing the new one
    assert ck.load(path, required=("step",), log=lambda m: None) == {"step": 1}
    assert ck.load(tmp_path / "nothing" / "checkpoint.pt") is None
    ck.save({"other": 3}, path)
    assert ck.load(path, required=("step",), log=lambda m: None) == {"step": 1}  # a file that lacks a required key is damaged too
    ck.discard(path)
    assert list(tmp_path.iterdir()) == []


def test_tensorboard_switch_writes_events_and_keeps_the_run_id(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    config = tiny_toy("wgan-gp", steps=4, eval_every=2)
    on = config.replace(tensorboard=True)
    assert on.run_id() == config.run_id() and config.diff(on) == []
    final = train(on, tmp_path, progress=False)
    acc = EventAccumulator(str(tmp_path / "tensorboard"))
    acc.Reload()
    w1 = acc.Scalars("quality/w1")
    assert [e.step for e in w1] == [0, 2, 4]
    assert w1[-1].value == pytest.approx(final["metrics"]["w1"], rel=1e-6)
    assert [e.step for e in acc.Scalars("loss/critic_loss")] == [2, 4]  # step 0 has no losses (NaN): not logged
    assert "samples" in acc.Tags()["images"]
    assert json.loads((tmp_path / "config.json").read_text())["tensorboard"] is True
