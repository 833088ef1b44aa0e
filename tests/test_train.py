"""The matched training loop: matched runs, one step per variant, resume equivalence, divergence, outputs."""

import json

import pytest
import torch

from wgan_core import VARIANTS, RunConfig, Trainer, train
from wgan_core.losses import LOSSES
from wgan_core.penalties import CONSTRAINTS
from wgan_core.training.step import Stepper

from .conftest import needs_fashion, tiny_image, tiny_toy


def _params(module):
    return [p.detach().clone() for p in module.state_dict().values()]


@pytest.mark.parametrize("make", [tiny_toy, pytest.param(tiny_image, marks=needs_fashion)], ids=["toy", "fashion"])
def test_variants_start_matched(make):
    """Same seed => same initial weights, same fixed evaluation latents, whatever the objective."""
    # spectral-norm variants hold their weights as parametrizations: test_spectral_norm_starts_from_the_plain_critics_weights
    trainers = [Trainer(make(v)) for v in VARIANTS if not VARIANTS[v].toy.get("spectral_norm")]
    ref = trainers[0]
    for t in trainers[1:]:
        for a, b in zip(_params(ref.generator) + _params(ref.critic), _params(t.generator) + _params(t.critic)):
            assert torch.equal(a, b)
        assert torch.equal(ref.eval_inputs()["z"], t.eval_inputs()["z"])
    other_seed = Trainer(make("wgan-gp", seed=1))
    assert not torch.equal(_params(ref.generator)[0], _params(other_seed.generator)[0])


def test_variants_consume_the_same_data_and_noise_streams():
    """After 5 real batches (5 gan steps or 1 wgan-gp step) both runs' data and noise streams are at the same place."""
    gan, wgp = Trainer(tiny_toy("gan")), Trainer(tiny_toy("wgan-gp"))
    first_gan = gan.stream.next(1)
    first_wgp = wgp.stream.next(1)
    assert torch.equal(first_gan, first_wgp)
    for _ in range(5):
        gan.step()  # n_critic 1: one real batch and one critic-noise batch per step -> 1 + 5 batches taken
    wgp.step()  # n_critic 5: five of each in one step -> 1 + 5 batches taken
    assert torch.equal(gan.stream.gen.get_state(), wgp.stream.gen.get_state())
    assert torch.equal(gan.noise_gen.get_state(), wgp.noise_gen.get_state())
    assert torch.equal(gan.stream.next(1), wgp.stream.next(1))
    # the two penalty variants draw the same interpolation weights, and the same generator-step noise
    gp, lp = Trainer(tiny_toy("wgan-gp")), Trainer(tiny_toy("wgan-lp"))
    gp.step(), lp.step()
    assert torch.equal(gp.eps_gen.get_state(), lp.eps_gen.get_state())
    fresh = Trainer(tiny_toy("wgan-gp"))
    assert not torch.equal(gp.eps_gen.get_state(), fresh.eps_gen.get_state())  # a penalty step did draw from the stream
    gan = Trainer(tiny_toy("gan"))
    gan.step()
    assert torch.equal(gan.eps_gen.get_state(), fresh.eps_gen.get_state())  # a penalty-free step draws nothing from it
    assert torch.equal(gp.draw_generator_latents(), lp.draw_generator_latents())


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_one_step_per_variant_changes_both_networks(variant):
    t = Trainer(tiny_toy(variant))
    g0, d0 = _params(t.generator), _params(t.critic)
    t.step()
    assert t.step_count == 1
    assert any(not torch.equal(a, b) for a, b in zip(g0, _params(t.generator)))
    assert any(not torch.equal(a, b) for a, b in zip(d0, _params(t.critic)))
    row = t.evaluate()
    for k in ("critic_loss", "generator_loss", "wasserstein", "grad_norm_mean", "grad_norm_std", "grad_norm_above1", "w1", "modes"):
        assert k in row and row[k] == row[k], k  # present and not NaN


@pytest.mark.parametrize("constraint", list(CONSTRAINTS))
@pytest.mark.parametrize("loss", list(LOSSES))
def test_every_cell_of_the_cross_trains(loss, constraint):
    t = Trainer(tiny_toy("nsgan", loss=loss, constraint=constraint, n_critic=2))
    before = [p.detach().clone() for p in t.critic.parameters()]
    t.step()
    assert t.diverged_at() is None
    assert any(not torch.equal(a, b) for a, b in zip(before, t.critic.parameters()))  # the critic step moved the critic


def test_clip_keeps_critic_in_box_after_a_step():
    t = Trainer(tiny_toy("wgan-clip", clip_value=0.005))
    t.step()
    for p in t.critic.parameters():
        assert p.abs().max() <= 0.005


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_short_toy_run_writes_its_outputs(tmp_path, variant):
    final = train(tiny_toy(variant, steps=3), tmp_path, progress=False)
    assert final["status"] == "ok" and final["steps"] == 3
    assert {"config.json", "metrics.csv", "final.json", "samples.png", "model.pt"} <= {p.name for p in tmp_path.iterdir()}
    rows = (tmp_path / "metrics.csv").read_text().splitlines()
    assert rows[0].startswith("step,critic_loss,generator_loss,wasserstein")
    assert [r.split(",")[0] for r in rows[1:]] == ["0", "2", "3"]  # baseline, every eval_every, the last step
    assert RunConfig.from_json(tmp_path / "config.json") == tiny_toy(variant, steps=3)


@needs_fashion
def test_short_fashion_run_writes_finite_image_metrics(tmp_path):
    """One image run end to end: metrics at step 0 and the end, finite FID/KID, a sample grid that decodes."""
    from PIL import Image

    final = train(tiny_image("wgan-gp"), tmp_path, progress=False)
    assert final["status"] == "ok" and final["steps"] == 2
    rows = (tmp_path / "metrics.csv").read_text().splitlines()
    header = rows[0].split(",")
    assert [r.split(",")[0] for r in rows[1:]] == ["0", "2"]
    for name in ("fid", "kid"):
        values = [float(r.split(",")[header.index(name)]) for r in rows[1:]]
        assert all(v == v and v > 0 for v in values), (name, values)  # finite and positive for an untrained-ish generator
    with Image.open(tmp_path / "samples.png") as im:
        assert im.width >= 28 * 4 and im.height >= 28 * 4  # a grid of 28x28 samples


@needs_fashion
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_every_variant_trains_an_image_critic_and_generator(variant):
    """One step of each variant on images: finite losses, and every generator parameter and critic weight matrix moved.

    (Not the critic's biases: a loss of score differences, such as the Wasserstein, relativistic or an
    all-active hinge loss, gives a bias that shifts every score alike a zero gradient.)
    """
    t = Trainer(tiny_image(variant))
    params = [*(p for p in t.critic.parameters() if p.dim() > 1), *t.generator.parameters()]
    before = [p.detach().clone() for p in params]
    t.step()
    assert t.diverged_at() is None and bool(torch.isfinite(t.stats.sums).all())
    after = params
    moved = [not torch.equal(a, b) for a, b in zip(before, after)]
    assert all(moved), f"{moved.count(False)} of {len(moved)} parameters did not move"


@pytest.mark.parametrize("make", [tiny_toy, pytest.param(tiny_image, marks=needs_fashion)], ids=["toy", "fashion"])
def test_resume_is_bit_identical(tmp_path, monkeypatch, make):
    config = make("wgan-gp", steps=5, checkpoint_every=2, eval_every=2)
    train(config, tmp_path / "straight", progress=False)

    # Interrupt after step 3 (the checkpoint holds step 2), then run the same command again.
    real_step = Stepper.step  # the loop steps every run through a Stepper

    def crashing_step(self):
        if self.step_count == 3:
            raise KeyboardInterrupt
        real_step(self)

    monkeypatch.setattr(Stepper, "step", crashing_step)
    with pytest.raises(KeyboardInterrupt):
        train(config, tmp_path / "resumed", progress=False)
    assert (tmp_path / "resumed" / "checkpoint.pt").exists() and not (tmp_path / "resumed" / "final.json").exists()
    monkeypatch.setattr(Stepper, "step", real_step)
    train(config, tmp_path / "resumed", progress=False)

    a = torch.load(tmp_path / "straight" / "model.pt", weights_only=True)
    b = torch.load(tmp_path / "resumed" / "model.pt", weights_only=True)
    for net in ("generator", "critic"):
        for k in a[net]:
            assert torch.equal(a[net][k], b[net][k]), (net, k)
    # the metrics agree too (apart from wall-clock columns), with no duplicated rows
    def rows(d):
        lines = (tmp_path / d / "metrics.csv").read_text().splitlines()
        header = lines[0].split(",")
        keep = [i for i, h in enumerate(header) if not h.endswith("time_s")]
        return [[line.split(",")[i] for i in keep] for line in lines]

    assert rows("straight") == rows("resumed")


def test_resume_with_another_config_is_refused(tmp_path):
    train(tiny_toy(steps=2), tmp_path, progress=False)
    before = {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()}
    with pytest.raises(ValueError, match=r"differing fields: lr_d \(0.0001 there, 0.001 here\)"):
        train(tiny_toy(steps=2, lr_d=1e-3), tmp_path, progress=False)
    assert before == {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()}


def test_finished_run_is_not_run_again(tmp_path, monkeypatch):
    first = train(tiny_toy(steps=2), tmp_path, progress=False)
    monkeypatch.setattr(Stepper, "step", lambda self: pytest.fail("a finished run was trained again"))
    assert train(tiny_toy(steps=2), tmp_path, progress=False) == json.loads((tmp_path / "final.json").read_text()) == first


def test_non_finite_loss_ends_the_run_as_diverged(tmp_path, monkeypatch):
    real_step = Stepper.step  # the loop steps every run through a Stepper

    def poisoned_step(self):
        if self.step_count == 2:  # the third step starts from a NaN critic weight
            with torch.no_grad():
                next(self.critic.parameters()).fill_(float("nan"))
        real_step(self)

    monkeypatch.setattr(Stepper, "step", poisoned_step)
    final = train(tiny_toy(steps=6, eval_every=4, checkpoint_every=4), tmp_path, progress=False)
    assert final["status"] == "diverged" and final["steps"] == 3
    assert not (tmp_path / "checkpoint.pt").exists()


def test_run_files_get_a_normal_files_permissions(tmp_path):
    import os

    train(tiny_toy(steps=2), tmp_path, progress=False)
    umask = os.umask(0)
    os.umask(umask)
    for name in ("config.json", "metrics.csv", "final.json", "model.pt"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o666 & ~umask, name


def test_folder_dataset_trains_without_image_metrics(tmp_path):
    """folder:PATH reads any images, resized to the model's resolution (here 32x32 RGB)."""
    from PIL import Image

    folder = tmp_path / "imgs"
    folder.mkdir()
    g = torch.Generator().manual_seed(0)
    for i in range(20):
        arr = torch.randint(0, 256, (40 + i, 50, 3), dtype=torch.uint8, generator=g).numpy()
        Image.fromarray(arr).save(folder / f"{i}.png")
    config = RunConfig.preset("wgan-gp", f"folder:{folder}", resolution=32, extractor="none", width=8, z_dim=8, batch_size=4,
                              eval_samples=16, steps=2, eval_every=2, device="cpu")
    t = Trainer(config)
    assert t.stream.data.shape == (20, 3, 32, 32)
    assert train(config, tmp_path / "run", progress=False)["status"] == "ok"


@pytest.mark.parametrize("make", [tiny_toy, pytest.param(tiny_image, marks=needs_fashion)], ids=["toy", "fashion"])
def test_joint_critic_forward_matches_separate_forwards(make):
    """CUDA runs real and fake through the critic in one forward; it must train the same as the CPU's two forwards."""
    separate, joint = Trainer(make("wgan-gp")), Trainer(make("wgan-gp"))
    joint.joint_forward = True
    assert not separate.joint_forward  # on the CPU
    outs, grads = [], []
    for t in (separate, joint):
        b, st = t.config.batch_size, Stepper([t])
        real, z = st.critic_inputs()
        outs.append(torch.stack(st.critic_step(real[:b], st.fakes(z[:b]))))  # loss, W estimate, penalty
        grads.append([p.grad.clone() for p in t.critic.parameters() if p.grad is not None])
    torch.testing.assert_close(outs[0], outs[1], rtol=1e-5, atol=1e-6)
    assert len(grads[0]) == len(grads[1]) > 0
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)


def test_corrupt_final_json_is_a_config_error(tmp_path):
    train(tiny_toy(steps=2), tmp_path, progress=False)
    (tmp_path / "final.json").write_text("{not json")
    with pytest.raises(ValueError, match="final.json is corrupt"):
        train(tiny_toy(steps=2), tmp_path, progress=False)


@pytest.mark.parametrize("constraint", list(CONSTRAINTS))
@pytest.mark.parametrize("loss", list(LOSSES))
def test_critic_step_loss_is_loss_plus_weighted_penalty(loss, constraint):
    """The trainer's critic loss = losses.critic_loss + penalty_weight * penalties.penalty, computed independently on the same inputs."""
    from wgan_core.losses import critic_loss
    from wgan_core.penalties import penalty

    t = Trainer(tiny_toy("nsgan", loss=loss, constraint=constraint, penalty_weight=0.7))
    b, st = t.config.batch_size, Stepper([t])
    real, z = st.critic_inputs()
    real, fake = real[:b], st.fakes(z[:b])
    eps_gen = torch.Generator().manual_seed(0)
    eps_gen.set_state(t.eps_gen.get_state())  # the same interpolation weights the step will draw
    pen_expected = penalty(constraint, t.critic, real, fake, eps_gen).detach()
    expected = critic_loss(loss, t.critic(real), t.critic(fake)).detach() + 0.7 * pen_expected
    hand = None
    if constraint in ("gp", "lp"):  # the penalty by hand, not through penalties.py: Gulrajani et al. 2017 eq. 3 (two-sided),
        g = torch.Generator().manual_seed(0)  # Petzka et al. 2018 eq. 8 (one-sided), on the same x_hat
        g.set_state(t.eps_gen.get_state())  # before the step draws them
        eps = torch.rand(b, generator=g)[:, None]  # (B, 1)
        x_hat = (eps * real + (1 - eps) * fake).detach().requires_grad_(True)  # (B, 2)
        (grad,) = torch.autograd.grad(t.critic(x_hat).sum(), x_hat)
        gap = grad.norm(dim=1) - 1.0  # (B,)
        hand = (gap if constraint == "gp" else gap.clamp_min(0.0)).pow(2).mean().detach()
    got, _, pen = st.critic_step(real, fake)  # (): a run alone drops the member axis of the step's (S,)
    torch.testing.assert_close(got, expected)
    torch.testing.assert_close(pen, pen_expected)
    if constraint == "gp":
        assert pen.item() > 0.0  # two-sided: an untrained critic's gradient norms are not all exactly 1
    if hand is not None:
        torch.testing.assert_close(pen, hand)


@pytest.mark.parametrize("variant", [v for v in VARIANTS if v not in ("gan", "nsgan", "wgan-clip", "wgan-gp", "wgan-lp")])
def test_named_variants_train_and_record_saturation(variant):
    t = Trainer(tiny_toy(variant))
    t.step()
    assert t.diverged_at() is None
    row = t.evaluate()
    assert row["gen_score_grad"] > 0 and row["gen_score_grad"] == row["gen_score_grad"]


def test_spectral_norm_starts_from_the_plain_critics_weights():
    """The normalised critic's raw weights equal the plain critic's; its power-iteration start comes from the run's seed."""
    plain, sn, sn2 = (Trainer(tiny_toy("wgan-gp", spectral_norm=flag)) for flag in (False, True, True))
    first, plain_first = sn.critic.net[0], plain.critic.net[0]  # the MLP critic's first linear layer
    torch.testing.assert_close(first.parametrizations.weight.original, plain_first.weight, rtol=0, atol=0)
    u = [m.parametrizations.weight[0]._u for m in sn.critic.modules() if hasattr(m, "parametrizations")]
    u2 = [m.parametrizations.weight[0]._u for m in sn2.critic.modules() if hasattr(m, "parametrizations")]
    assert len(u) >= 2 and all(torch.equal(a, b) for a, b in zip(u, u2))
    # the effective weight has spectral norm 1 (up to the power iteration's accuracy)
    sigma = torch.linalg.matrix_norm(first.weight.detach(), ord=2)
    torch.testing.assert_close(sigma, torch.tensor(1.0), atol=2e-2, rtol=0)


def test_lazy_penalty_applies_every_kth_critic_step_with_weight_k():
    """penalty_every=2, n_critic=1: the penalty on iterations 0, 2, 4, ... with weight 2 lambda; the interpolation stream moves only then."""
    t = Trainer(tiny_toy("wgan-gp", n_critic=1, penalty_every=2))
    states = [t.eps_gen.get_state()]
    for _ in range(3):
        t.step()
        states.append(t.eps_gen.get_state())
    moved = [not torch.equal(a, b) for a, b in zip(states, states[1:])]
    assert moved == [True, False, True]
    # the penalised step's loss = critic loss + 2 * lambda * penalty
    from wgan_core.losses import critic_loss
    from wgan_core.penalties import penalty

    t2 = Stepper([Trainer(tiny_toy("wgan-gp", n_critic=1, penalty_every=2, penalty_weight=0.5))])
    real, z = t2.critic_inputs()
    fake = t2.fakes(z)
    g = torch.Generator().manual_seed(0)
    g.set_state(t2.members[0].eps_gen.get_state())
    want = critic_loss("wasserstein", t2.critic(real), t2.critic(fake)).detach() + 1.0 * penalty("gp", t2.critic, real, fake, g).detach()
    got, _, _ = t2.critic_step(real, fake, with_penalty=True)
    torch.testing.assert_close(got, want)  # (): a run alone
