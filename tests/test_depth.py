"""The depth experiment (WGAN-GP Fig. 1b): per-layer gradient norms under clipping vs the gradient penalty."""

import json
import os
import signal

import pandas as pd
import pytest
import torch
from torch import nn

from wgan_core import ConfigError, signals
from wgan_core.kinds.depth import DepthConfig, DepthTrainer, deep_critic, layer_grad_norms, train_depth
from wgan_core.report import write_report
from wgan_core.study import Executor, StudySpec, run_study


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models: one thread is faster than two, and much faster on a busy machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


TINY = dict(width=16, steps=20, batch_size=64, record_every=10, eval_samples=128, device="cpu")


def test_deep_critic_has_depth_linear_layers():
    c = deep_critic(12, 8)
    assert sum(isinstance(m, nn.Linear) for m in c) == 12 and c(torch.zeros(5, 2)).shape == (5, 1)


def test_layer_grad_norms_match_autograd():
    torch.manual_seed(0)
    c = deep_critic(4, 8)
    real, fake = torch.randn(32, 2), torch.randn(32, 2) + 1
    weight, activation = layer_grad_norms(c, real, fake)
    assert len(weight) == len(activation) == 4
    loss = c(fake).mean() - c(real).mean()
    grads = torch.autograd.grad(loss, [m.weight for m in c if isinstance(m, nn.Linear)])
    assert weight == pytest.approx([g.norm().item() for g in grads], rel=1e-5)
    assert all(p.grad is None for p in c.parameters())  # the critic itself is left untouched


def test_clipping_vanishes_and_penalty_does_not(tmp_path):
    """With c = 0.001 the gradient shrinks by orders of magnitude towards the input; with the penalty it does not."""
    clip = train_depth(DepthConfig(constraint="clip", clip_value=0.001, **TINY), tmp_path / "clip", progress=False)
    gp = train_depth(DepthConfig(constraint="gp", **TINY), tmp_path / "gp", progress=False)
    assert clip["status"] == gp["status"] == "ok"
    # first layer / last layer; float64 records, so no underflow to 0 (|| dL/dh_1 || ~ 1e-30 here)
    assert clip["metrics"]["log10_grad_ratio"] < gp["metrics"]["log10_grad_ratio"] - 10
    assert clip["metrics"]["log10_weight_grad_ratio"] < -6 and abs(gp["metrics"]["log10_weight_grad_ratio"]) < 3
    grads = pd.read_csv(tmp_path / "clip" / "depth_grads.csv")
    assert set(grads["step"]) == {0, 10, 20} and set(grads["layer"]) == set(range(1, 13)) and (grads["norm"] > 0).all()


def test_finished_run_is_skipped_and_other_config_refused(tmp_path):
    c = DepthConfig(constraint="clip", **{**TINY, "steps": 2, "record_every": 1})
    train_depth(c, tmp_path, progress=False)
    stamp = (tmp_path / "final.json").stat().st_mtime_ns
    assert json.loads((tmp_path / "config.json").read_text()) == c.to_dict()
    train_depth(c, tmp_path, progress=False)
    assert (tmp_path / "final.json").stat().st_mtime_ns == stamp
    with pytest.raises(ConfigError, match="another config; differing fields: clip_value"):
        train_depth(c.replace(clip_value=0.1), tmp_path, progress=False)


@pytest.mark.parametrize("constraint", ["clip", "gp"])
def test_a_stopped_depth_run_resumes_bit_identically(tmp_path, monkeypatch, constraint):
    """The one loop drives the depth run: SIGTERM at step 7 saves a checkpoint there; the resume
    writes the same records, bit for bit, as a run never stopped (the gp run also draws interpolation weights)."""
    c = DepthConfig(constraint=constraint, **{**TINY, "depth": 4, "record_every": 5})
    straight = train_depth(c, tmp_path / "straight", progress=False)
    real_step = DepthTrainer.step

    def step_then_signal(self):
        real_step(self)
        if self.step_count == 7:
            os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(DepthTrainer, "step", step_then_signal)
    with pytest.raises(signals.Interrupted) as info:
        train_depth(c, tmp_path / "stopped", progress=False)
    assert info.value.step == 7 and not (tmp_path / "stopped" / "final.json").exists()
    assert torch.load(tmp_path / "stopped" / "checkpoint.pt", weights_only=True)["step"] == 7
    monkeypatch.setattr(DepthTrainer, "step", real_step)
    resumed = train_depth(c, tmp_path / "stopped", progress=False)
    a, b = (pd.read_csv(tmp_path / d / "depth_grads.csv") for d in ("straight", "stopped"))
    assert list(a["step"].unique()) == [0, 5, 10, 15, 20]
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    assert resumed["metrics"] == straight["metrics"]
    assert resumed["interruptions"] == [{"signal": "SIGTERM", "stopped_at": 7, "resumed_at": 7}]
    assert not (tmp_path / "stopped" / "checkpoint.pt").exists()  # final.json replaces it


def test_a_non_finite_depth_loss_ends_the_run_as_diverged(tmp_path, monkeypatch):
    """A critic whose loss turns non-finite stops at the next record, status diverged, its records up to there kept."""
    c = DepthConfig(constraint="gp", **{**TINY, "depth": 3, "record_every": 5})
    real_step = DepthTrainer.step

    def poisoned(self):
        real_step(self)
        if self.step_count >= 6:  # as a critic whose weights went NaN: every loss from step 6 on
            self.last_loss = torch.tensor(float("nan"))

    monkeypatch.setattr(DepthTrainer, "step", poisoned)
    final = train_depth(c, tmp_path, progress=False)
    assert final["status"] == "diverged" and final["steps"] == 10
    assert set(pd.read_csv(tmp_path / "depth_grads.csv")["step"]) == {0, 5}


@pytest.mark.parametrize(
    ("kw", "match"),
    [(dict(constraint="lp"), "constraint"), (dict(dataset="mnist"), "toy data set"), (dict(depth=1), "depth"), (dict(steps=0), "steps")],
)
def test_bad_depth_config(kw, match):
    with pytest.raises(ConfigError, match=match):
        DepthConfig(**kw)
    with pytest.raises(ConfigError, match="unknown depth config field"):
        DepthConfig().replace(nope=1)


def test_depth_study_report_plot(tmp_path):
    spec = StudySpec("depth", 1, "cpu", ("clip c=0.001", "gp λ=0.1"), (), ("width=16", "steps=4", "record_every=2", "eval_samples=64", "batch_size=32"))
    run_study(spec, tmp_path, Executor("local", threads=1), progress=False, log=lambda m: None)
    write_report(tmp_path)
    data = pd.read_csv(tmp_path / "report" / "depth_grad_norms.csv")
    assert set(data["cell"]) == {"clip c=0.001", "gp λ=0.1"} and set(data["kind"]) == {"weight", "activation"} and len(data) == 2 * 2 * 12
    assert (tmp_path / "report" / "depth_grad_norms.png").stat().st_size > 1000
    # no baseline cell in this experiment: no paired-test note, and no median/best table without metric columns
    md = (tmp_path / "report" / "summary.md").read_text()
    assert "Paired tests" not in md and "| cell |\n" not in md
