"""Seed ensembles: every member stays equal to its single run (weights, optimiser states, metrics, files)."""

import json
import os
import signal
from pathlib import Path

import pytest
import torch

from wgan_core import Trainer, signals, train
from wgan_core.config import VARIANTS, ConfigError
from wgan_core.kinds.depth import DepthConfig
from wgan_core.models import MLPCritic, MLPGenerator
from wgan_core.models.stacked import StackedMLP
from wgan_core.penalties import CONSTRAINTS
from wgan_core.study import Executor, StudySpec, run_study
from wgan_core.study.executors import ENSEMBLE_CPU_MAX_WIDTH, parse_ensemble, plan_units
from wgan_core.training import Ensemble, Stepper, check_members, refusal, train_ensemble

from .conftest import ablation_main, needs_fashion, tiny_image, tiny_toy

STACKABLE = [v for v in VARIANTS if refusal(tiny_toy(v)) is None]


def _side_by_side(singles: list[Trainer], members: list[Trainer], steps: int) -> tuple[list[Trainer], Ensemble]:
    """Train single runs and an ensemble of the same seeds `steps` iterations; assert each member equals its single run."""
    ens = Ensemble(members)
    for _ in range(steps):
        for t in singles:
            t.step()
        ens.step()
    ens.write_back()
    for single, member in zip(singles, ens.members):
        _same_state(single, member)
        torch.testing.assert_close(member.stats.sums, single.stats.sums)
        assert int(member.stats.bad_step) == int(single.stats.bad_step)
    return singles, ens


def _same_state(a: Trainer, b: Trainer) -> None:
    """Weights and optimiser states of a single run and an ensemble member (written back), to float tolerance."""
    for net in ("generator", "critic"):
        for (name, p), q in zip(getattr(a, net).named_parameters(), getattr(b, net).parameters()):
            torch.testing.assert_close(q, p, msg=lambda m, where=f"{net}.{name}": f"{where}: {m}")
        for (name, p), q in zip(getattr(a, net).named_buffers(), getattr(b, net).buffers()):  # spectral-norm vectors, batch-norm statistics
            torch.testing.assert_close(q, p, msg=lambda m, where=f"{net}.{name}": f"{where}: {m}")
    sa, sb = a.state_dict()["rng"], b.state_dict()["rng"]  # every random stream consumed alike
    assert torch.equal(sa["data"]["gen"], sb["data"]["gen"]) and all(torch.equal(sa[k], sb[k]) for k in sa if k != "data")
    for opt in ("opt_g", "opt_d"):
        sa, sb = getattr(a, opt).state_dict()["state"], getattr(b, opt).state_dict()["state"]
        assert sa.keys() == sb.keys()
        for i in sa:
            for k in sa[i]:
                torch.testing.assert_close(sb[i][k], sa[i][k], msg=lambda m, where=f"{opt} state {i}.{k}": f"{where}: {m}")


def test_every_stackable_variant_is_named():
    assert STACKABLE == list(VARIANTS)  # spectral normalisation (hinge-sn) included
    assert refusal(tiny_image("wgan-gp")) is None
    assert "channels_last" in refusal(tiny_image("wgan-gp", channels_last=True))


CASES = [(v, {}) for v in STACKABLE] + [("wgan-gp", {"penalty_every": 3}), ("nsgan-r1", {"penalty_every": 4})]  # lazy penalties too


@pytest.mark.parametrize("iters", [40, pytest.param(200, marks=pytest.mark.slow)])  # 200: nox -s slow (CI runs it)
@pytest.mark.parametrize("variant, extra", CASES, ids=[v + ("-lazy" if e else "") for v, e in CASES])
def test_members_stay_equal_to_their_single_runs(variant, extra, iters, request):
    """40 generator iterations (200 critic steps for n_critic 5; 200 iterations in the slow suite):
    every member's weights, optimiser state and running statistics equal its own single run's to float
    tolerance (on this project's CPU they are bit-identical). Clipping, both one- and two-sided
    penalties and the zero-centred ones included.

    Spectral normalisation (hinge-sn) is compared in float64: in float32 its forward is bit-identical
    (normalised weights, power-iteration vectors, scores) but the gradient through the normalisation
    differs in the last bits (about 1e-7 after one backward), which training amplifies (1.5e-5 after
    200 iterations)."""
    if tiny_toy(variant).spectral_norm:
        request.getfixturevalue("float64")
    configs = [tiny_toy(variant, seed=s, width=16, batch_size=16, steps=iters, **extra) for s in (0, 1, 2)]
    singles, ens = _side_by_side([Trainer(c) for c in configs], [Trainer(c) for c in configs], iters)
    for single, member in zip(singles, ens.members):
        assert member.step_count == single.step_count == iters


TERMS = [name for name, entry in CONSTRAINTS.items() if entry.penalises and entry.per_sample]  # every registered per-sample constraint


def test_the_per_sample_constraints_are_registered():
    """The guard of the test below, outside its parametrisation: an empty TERMS would run none of it."""
    assert {"gp", "lp", "r1", "r2", "r1r2", "gp0", "dragan"} <= set(TERMS)


@pytest.mark.parametrize("constraint", TERMS)
def test_every_per_sample_constraint_trains_alike_alone_and_in_an_ensemble(constraint):
    """The ensemble contract for penalties, checked on the registry itself (r2 and gp0 belong to no named variant):
    20 iterations of 3 members equal their 3 single runs (weights, optimiser states, every random stream)."""
    configs = [tiny_toy("nsgan", constraint=constraint, penalty_weight=0.5, seed=s, width=16, batch_size=16, steps=20) for s in (0, 1, 2)]
    singles, ens = _side_by_side([Trainer(c) for c in configs], [Trainer(c) for c in configs], 20)
    assert all(m.step_count == s.step_count == 20 for s, m in zip(singles, ens.members))


@pytest.fixture
def float64():
    """Build and train in float64: on the CPU the grouped convolutions then sum in the same order as the plain ones."""
    before = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(before)


def _image_trainer(config) -> Trainer:
    t = Trainer(config)
    t.stream.data = t.stream.data.to(torch.get_default_dtype())  # the images arrive as float32
    return t


IMAGE_CASES = [(v, {}) for v in ("wgan-gp", "wgan-clip", "nsgan", "dragan", "r3gan", "hinge-sn")] + [("nsgan", {"critic_norm": "batch"})]


@needs_fashion
@pytest.mark.parametrize("variant, extra", IMAGE_CASES, ids=[v + ("-batchnorm" if e else "") for v, e in IMAGE_CASES])
def test_dcgan_members_stay_equal_to_their_single_runs(variant, extra, float64):
    """Grouped convolutions, per-member layer norm and the generator's per-member batch norm (running statistics too).

    In float64 the members equal their single runs to float64 tolerance over 6 iterations (on this
    project's CPU, exactly); in float32 oneDNN's grouped and plain convolutions round differently
    (see the next test), and training amplifies such differences.
    """
    configs = [tiny_image(variant, seed=s, **extra) for s in (0, 1, 2)]
    _side_by_side([_image_trainer(c) for c in configs], [_image_trainer(c) for c in configs], 6)


@needs_fashion
def test_dcgan_stacked_forward_and_gradients_match_in_float32():
    configs = [tiny_image("wgan-gp", seed=s) for s in (0, 1)]
    singles = [Trainer(c) for c in configs]
    ens = Ensemble([Trainer(c) for c in configs])
    z = torch.randn(2 * 16, 16)
    fakes = ens.generator(z)  # training mode: batch statistics per member
    want = torch.cat([t.generator(z[i * 16 : (i + 1) * 16]) for i, t in enumerate(singles)])
    torch.testing.assert_close(fakes, want)
    scores = ens.critic(fakes.detach())
    torch.testing.assert_close(scores, torch.cat([t.critic(want[i * 16 : (i + 1) * 16].detach()) for i, t in enumerate(singles)]))
    scores.sum().backward()
    for i, t in enumerate(singles):
        t.critic(want[i * 16 : (i + 1) * 16].detach()).sum().backward()
        for big, p in zip(ens.critic.parameters(), t.critic.parameters()):
            torch.testing.assert_close(big.grad[i], p.grad, rtol=1e-5, atol=1e-4)  # sums over B*H*W terms, in another order


def test_stacked_mlp_is_each_member_applied_to_its_own_rows():
    torch.manual_seed(0)
    for members, x in (([MLPCritic(2, 8) for _ in range(3)], torch.randn(3 * 5, 2)), ([MLPGenerator(2, 8) for _ in range(2)], torch.randn(2 * 4, 2))):
        stacked = StackedMLP(members)
        b = x.shape[0] // len(members)
        want = torch.cat([m(x[i * b : (i + 1) * b]) for i, m in enumerate(members)])
        torch.testing.assert_close(stacked(x), want)
        # the input gradient of member s's rows is member s's own (what every gradient penalty differentiates)
        xs, xr = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
        (gs,) = torch.autograd.grad(stacked(xs).sum(), xs)
        (gr,) = torch.autograd.grad(sum(m(xr[i * b : (i + 1) * b]).sum() for i, m in enumerate(members)), xr)
        torch.testing.assert_close(gs, gr)


def _rows(run: Path) -> list[list[str]]:
    """metrics.csv without its wall-clock columns."""
    lines = (run / "metrics.csv").read_text().splitlines()
    keep = [i for i, h in enumerate(lines[0].split(",")) if not h.endswith("time_s")]
    return [[line.split(",")[i] for i in keep] for line in lines]


def _same_run(a: Path, b: Path) -> None:
    """Two run directories hold the same run: metrics.csv (timings aside), final metrics, weights."""
    assert _rows(a) == _rows(b)
    fa, fb = (json.loads((p / "final.json").read_text()) for p in (a, b))
    assert (fa["status"], fa["steps"], fa["run_id"]) == (fb["status"], fb["steps"], fb["run_id"])
    assert set(fa["metrics"]) == set(fb["metrics"])  # the same metrics, not only a's found in b
    for k, v in fa["metrics"].items():
        if not k.endswith("time_s"):
            assert fb["metrics"][k] == (v if v is None or isinstance(v, str) else pytest.approx(v, rel=1e-5, abs=1e-6)), k
    if (a / "model.pt").exists() or (b / "model.pt").exists():
        ma, mb = (torch.load(p / "model.pt", weights_only=True) for p in (a, b))
        for net in ("generator", "critic"):
            assert set(ma[net]) == set(mb[net]), net
            for k in ma[net]:
                torch.testing.assert_close(mb[net][k], ma[net][k])
    for name in ("critic_weights.csv", "panel.npz", "samples.png", "config.json"):
        assert (a / name).exists() == (b / name).exists(), name


@pytest.mark.parametrize("variant", ["wgan-gp", "wgan-clip", "r3gan"])
def test_each_member_writes_its_run_directory_as_its_single_run(tmp_path, variant):
    configs = [tiny_toy(variant, seed=s, steps=8, eval_every=4, checkpoint_every=4) for s in (0, 1)]
    finals = train_ensemble(configs, [tmp_path / "ens" / c.run_id() for c in configs], progress=False, log=lambda m: None)
    for c, final in zip(configs, finals):
        train(c, tmp_path / "single" / c.run_id(), progress=False, log=lambda m: None)
        _same_run(tmp_path / "single" / c.run_id(), tmp_path / "ens" / c.run_id())
        assert final["ensemble"] == {"size": 2, "seeds": [0, 1]}
        assert not (tmp_path / "ens" / c.run_id() / "checkpoint.pt").exists()


def test_an_ensemble_killed_mid_run_resumes_from_its_members_checkpoints(tmp_path, monkeypatch):
    """A crash after the step-4 checkpoint: the next call resumes every member there; a member can even resume alone."""
    configs = [tiny_toy("wgan-gp", seed=s, steps=10, eval_every=5, checkpoint_every=4) for s in (0, 1, 2)]
    dirs = [tmp_path / "ens" / c.run_id() for c in configs]
    real_step = Ensemble.step

    def crash_at_6(self):
        real_step(self)
        if self.step_count == 6:
            raise KeyboardInterrupt  # like kill -9: nothing saved after the step-4 checkpoint

    monkeypatch.setattr(Ensemble, "step", crash_at_6)
    with pytest.raises(KeyboardInterrupt):
        train_ensemble(configs, dirs, progress=False, log=lambda m: None)
    monkeypatch.undo()
    for d in dirs:
        assert int(torch.load(d / "checkpoint.pt", weights_only=True)["step"]) == 4
    train(configs[2], dirs[2], progress=False, log=lambda m: None)  # the single trainer resumes a member's checkpoint
    logged: list[str] = []
    train_ensemble(configs, dirs, progress=False, log=logged.append)
    assert sum("resuming" in m for m in logged) == 2  # the two unfinished members resumed at step 4 (the third was done)
    for c, d in zip(configs, dirs):
        train(c, tmp_path / "single" / c.run_id(), progress=False, log=lambda m: None)
        _same_run(tmp_path / "single" / c.run_id(), d)


def test_a_stop_signal_saves_every_member_at_that_step(tmp_path, monkeypatch):
    configs = [tiny_toy("wgan-lp", seed=s, steps=9, eval_every=3, checkpoint_every=4) for s in (0, 1)]
    dirs = [tmp_path / c.run_id() for c in configs]
    real_step = Ensemble.step

    def signal_at_5(self):
        real_step(self)
        if self.step_count == 5:
            os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(Ensemble, "step", signal_at_5)
    with pytest.raises(signals.Interrupted) as info:
        train_ensemble(configs, dirs, progress=False, log=lambda m: None)
    monkeypatch.undo()
    assert info.value.step == 5
    for d in dirs:
        assert int(torch.load(d / "checkpoint.pt", weights_only=True)["step"]) == 5
    train_ensemble(configs, dirs, progress=False, log=lambda m: None)
    for c, d in zip(configs, dirs):
        final = json.loads((d / "final.json").read_text())
        assert final["interruptions"] == [{"signal": "SIGTERM", "stopped_at": 5, "resumed_at": 5}]
        train(c, tmp_path / "single" / c.run_id(), progress=False, log=lambda m: None)
        _same_run(tmp_path / "single" / c.run_id(), d)


def test_a_diverging_member_finishes_as_diverged_and_the_others_go_on(tmp_path, monkeypatch):
    """NaN in seed 1's critic after iteration 3: seed 1 ends as its single run would (diverged at 4); seeds 0 and 2 are untouched."""
    configs = [tiny_toy("wgan-gp", seed=s, steps=8, eval_every=2, checkpoint_every=2) for s in (0, 1, 2)]

    def poison(critic_param: torch.Tensor) -> None:
        with torch.no_grad():
            critic_param.fill_(float("nan"))

    real_ens, real_single = Ensemble.step, Stepper.step  # the one step; a run alone steps as Stepper([trainer])

    def ens_step(self):
        real_ens(self)
        if self.step_count == 3 and 1 in [m.config.seed for m in self.members]:
            poison(next(self.critic.parameters())[[m.config.seed for m in self.members].index(1)])

    def single_step(self):
        real_single(self)
        if self.step_count == 3 and self.config.seed == 1:
            poison(next(self.critic.parameters()))

    monkeypatch.setattr(Ensemble, "step", ens_step)
    finals = train_ensemble(configs, [tmp_path / "ens" / c.run_id() for c in configs], progress=False, log=lambda m: None)
    assert [f["status"] for f in finals] == ["ok", "diverged", "ok"]
    assert finals[1]["steps"] == 4
    monkeypatch.setattr(Stepper, "step", single_step)
    for c in configs:
        train(c, tmp_path / "single" / c.run_id(), progress=False, log=lambda m: None)
        _same_run(tmp_path / "single" / c.run_id(), tmp_path / "ens" / c.run_id())


def test_members_must_differ_only_in_their_seed():
    with pytest.raises(ConfigError, match="differ only in their seed; lr_d differ"):
        check_members([tiny_toy(seed=0), tiny_toy(seed=1, lr_d=1e-3)])
    with pytest.raises(ConfigError, match="seeds must differ"):
        check_members([tiny_toy(seed=0), tiny_toy(seed=0)])
    with pytest.raises(ConfigError, match="compile"):
        check_members([tiny_toy(seed=0, compile=True), tiny_toy(seed=1, compile=True)])


def test_a_plugin_penalty_without_terms_is_left_to_single_runs():
    import wgan_core

    mean_only = wgan_core.Constraint(terms=lambda critic, real, fake, generator=None: real.sum() * 0, per_sample=False, source="this test")
    wgan_core.register_constraint("test-mean-only", mean_only)
    try:
        assert "per-sample terms" in refusal(tiny_toy(constraint="test-mean-only"))
        assert refusal(tiny_toy(constraint="gp")) is None
    finally:
        del CONSTRAINTS["test-mean-only"]


def test_plan_units_groups_a_cells_seeds():
    cell = [tiny_toy("wgan-gp", seed=s) for s in range(5)]
    other = [tiny_toy("nsgan", seed=s) for s in range(2)]
    wide = [tiny_toy("wgan-gp", seed=s, width=ENSEMBLE_CPU_MAX_WIDTH * 2) for s in range(2)]
    sn = [tiny_toy("wgan-gp", seed=s, compile=True) for s in range(2)]  # not stackable: each alone
    depth = [DepthConfig(seed=0, device="cpu")]
    images = [tiny_image("wgan-gp", seed=s) for s in range(2)]
    assert plan_units(images, "auto") == [[images[0]], [images[1]]]  # DCGANs on a CPU are compute-bound: alone
    assert plan_units(images, "2") == [images]
    jobs = cell + other + wide + sn + depth
    assert plan_units(jobs, "off") == [[j] for j in jobs]
    auto = plan_units(jobs, "auto")  # the wide MLP is compute-bound on a CPU: alone
    assert auto == [cell, other, [wide[0]], [wide[1]], [sn[0]], [sn[1]], depth]
    assert plan_units(jobs, "2") == [cell[:2], cell[2:4], cell[4:], other, wide, [sn[0]], [sn[1]], depth]
    assert sorted(j.run_id() for u in plan_units(jobs, "3") for j in u) == sorted(j.run_id() for j in jobs)
    cuda = [tiny_toy("wgan-gp", seed=s, width=ENSEMBLE_CPU_MAX_WIDTH * 2).replace(device="cuda") for s in range(2)]
    assert plan_units(cuda, "auto") == [cuda]  # on CUDA every stackable run pays (written for it, unmeasured)


def test_auto_leaves_a_unit_for_every_worker():
    cell = [tiny_toy("wgan-gp", seed=s) for s in range(10)]
    assert [len(u) for u in plan_units(cell, "auto", workers=2)] == [5, 5]  # not one ensemble of 10 and an idle core
    assert [len(u) for u in plan_units(cell, "auto", workers=1)] == [10]
    assert [len(u) for u in plan_units(cell, "auto", workers=4)] == [3, 3, 3, 1]
    assert [len(u) for u in plan_units(cell, "4", workers=4)] == [4, 4, 2]  # an explicit S is the user's


@pytest.mark.parametrize("bad", ["0", "-2", "many", ""])
def test_bad_ensemble_values_are_refused(bad):
    with pytest.raises(ConfigError, match="ensemble: unknown"):
        parse_ensemble(bad)
    assert parse_ensemble("1") == "off" and parse_ensemble("4") == "4"


def test_a_study_with_ensembles_writes_the_same_runs(tmp_path):
    small = ("steps=6", "width=16", "batch_size=16", "eval_every=3", "checkpoint_every=3", "eval_samples=100")
    spec = StudySpec("toy", 2, "cpu", ("wgan-gp", "wgan-clip"), ("8gaussians",), small)
    run_study(spec, tmp_path / "off", Executor("local", threads=1), progress=False, log=lambda m: None)
    lines: list[str] = []
    run_study(spec, tmp_path / "on", Executor("local", threads=1, ensemble="auto"), progress=False, log=lines.append)
    runs = sorted(p.parent.name for p in (tmp_path / "off").glob("*/final.json"))
    assert len(runs) == 4 and runs == sorted(p.parent.name for p in (tmp_path / "on").glob("*/final.json"))
    for rid in runs:
        _same_run(tmp_path / "off" / rid, tmp_path / "on" / rid)
        assert json.loads((tmp_path / "on" / rid / "final.json").read_text())["ensemble"]["size"] == 2


def test_the_ablation_cli_refuses_a_bad_ensemble(tmp_path, capsys):
    code, out = ablation_main(["--preset", "toy", "--out", str(tmp_path / "s"), "--ensemble", "zero"], capsys)
    assert code == 2
    assert out.err.strip().splitlines() == ["error: ensemble: unknown 'zero'; allowed: auto, off, or a member count S >= 2"]
    assert not (tmp_path / "s").exists()


def test_a_unit_trains_only_the_members_it_claims(tmp_path):
    """Of three seeds: one finished (done, not rerun), one held by a live process (busy), and the third trains alone."""
    from wgan_core.study.claims import try_claim
    from wgan_core.study.executors import work_unit

    jobs = [tiny_toy("wgan-gp", seed=s) for s in (0, 1, 2)]
    train(jobs[2], tmp_path / jobs[2].run_id(), progress=False, log=lambda m: None)
    stamp = (tmp_path / jobs[2].run_id() / "final.json").stat().st_mtime_ns
    held = try_claim(tmp_path, jobs[1].run_id())
    with held:
        results = work_unit(jobs, str(tmp_path), threads=1)
    assert [r.state for r in results] == ["done", "busy", "done"]
    assert [r.ran for r in results] == [True, False, False]
    assert (tmp_path / jobs[2].run_id() / "final.json").stat().st_mtime_ns == stamp
    assert not (tmp_path / jobs[1].run_id() / "final.json").exists()
    assert "ensemble" not in json.loads((tmp_path / jobs[0].run_id() / "final.json").read_text())  # it trained alone
    _same_run(tmp_path / jobs[0].run_id(), _single(jobs[0], tmp_path / "single"))


def test_a_failing_ensemble_reports_every_member_and_writes_each_error_log(tmp_path, monkeypatch):
    from wgan_core.study.executors import work_unit

    jobs = [tiny_toy("wgan-gp", seed=s) for s in (0, 1)]

    def boom(self):
        raise RuntimeError("boom in the stacked step")

    monkeypatch.setattr(Ensemble, "step", boom)
    results = work_unit(jobs, str(tmp_path), threads=1)
    assert [(r.state, r.error) for r in results] == [("failed", "RuntimeError: boom in the stacked step")] * 2
    for j in jobs:
        assert "boom in the stacked step" in (tmp_path / j.run_id() / "error.log").read_text()


def _single(config, root: Path) -> Path:
    train(config, root / config.run_id(), progress=False, log=lambda m: None)
    return root / config.run_id()


@pytest.mark.parametrize("variant", ["wgan-gp", "r3gan"])
def test_the_joint_real_and_fake_forward_cuda_uses_gives_the_same_members(variant):
    """On CUDA the critic scores real and fake in one forward; forced here on the CPU for both sides."""
    configs = [tiny_toy(variant, seed=s, steps=20) for s in (0, 1)]
    singles = [Trainer(c) for c in configs]
    members = [Trainer(c) for c in configs]
    for t in singles + members:
        t.joint_forward = True
    _, ens = _side_by_side(singles, members, 20)
    assert ens.joint_forward


def test_members_resumed_at_different_steps_train_in_groups(tmp_path, monkeypatch):
    """Seed 0 has a checkpoint at step 4, seeds 1 and 2 none: seed 0 resumes alone, 1 and 2 train as one."""
    configs = [tiny_toy("wgan-gp", seed=s, steps=10, eval_every=5, checkpoint_every=4) for s in (0, 1, 2)]
    dirs = [tmp_path / "ens" / c.run_id() for c in configs]
    real_step = Stepper.step  # the loop steps every run through a Stepper

    def crash_at_6(self):
        real_step(self)
        if self.step_count == 6:
            raise KeyboardInterrupt

    monkeypatch.setattr(Stepper, "step", crash_at_6)
    with pytest.raises(KeyboardInterrupt):
        train(configs[0], dirs[0], progress=False, log=lambda m: None)
    monkeypatch.undo()
    finals = train_ensemble(configs, dirs, progress=False, log=lambda m: None)
    assert "ensemble" not in finals[0] and finals[1]["ensemble"] == finals[2]["ensemble"] == {"size": 2, "seeds": [1, 2]}
    for c, d in zip(configs, dirs):
        _same_run(_single(c, tmp_path / "single"), d)


@needs_fashion
def test_image_members_share_one_copy_of_the_data_and_draw_their_own_batches(tmp_path):
    configs = [tiny_image("nsgan", seed=s) for s in (0, 1)]
    first = Trainer(configs[0])
    second = Trainer(configs[1], data_from=first)
    assert second.stream.data.data_ptr() == first.stream.data.data_ptr()
    alone = Trainer(configs[1])
    assert torch.equal(second.stream.next(3), alone.stream.next(3))  # seed 1's own order, as its single run
    assert not torch.equal(first.stream.next(1), Trainer(configs[1]).stream.next(1))


def test_a_member_that_finished_before_its_ensemble_failed_is_reported_done(tmp_path, monkeypatch):
    """Seed 1 diverges at iteration 4 (its final.json is written); at 6 the others' step raises: seed 1 done, the rest failed."""
    from wgan_core.study.executors import work_unit

    jobs = [tiny_toy("wgan-gp", seed=s, steps=8, eval_every=2, checkpoint_every=2) for s in (0, 1, 2)]
    real_step = Ensemble.step

    def step(self):
        if self.step_count == 5:
            raise RuntimeError("boom after a member diverged")
        real_step(self)
        if self.step_count == 3:
            with torch.no_grad():
                next(self.critic.parameters())[1].fill_(float("nan"))

    monkeypatch.setattr(Ensemble, "step", step)
    results = work_unit(jobs, str(tmp_path), threads=1)
    assert [r.state for r in results] == ["failed", "done", "failed"]
    assert results[1].final["status"] == "diverged" and results[1].final["steps"] == 4
    assert not (tmp_path / jobs[1].run_id() / "error.log").exists()
