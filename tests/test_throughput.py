"""The throughput benchmark runs for a few steps and writes the right columns; its settings are typed and pickle;
the textbook loop computes the library's objectives and refuses the ones it does not implement; the bf16 penalty matches fp32."""

import csv
import dataclasses
import pickle
import re
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from torch import nn
from torch.testing import assert_close

from wgan_core import RunConfig, Trainer
from wgan_core.losses import LOSSES
from wgan_core.penalties import CONSTRAINTS, gradient_penalty
from wgan_core.training.step import Stepper

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import throughput  # noqa: E402
from textbook_loop import TEXTBOOK_CONSTRAINTS, TEXTBOOK_LOSSES, TextbookLoop, textbook_from_trainer  # noqa: E402


def _run(tmp_path, *extra):
    out = tmp_path / "cpu.csv"
    code = throughput.main(["--variants", "gan,wgan-gp", "--arch", "mlp", "--width", "16", "--batch", "16", "--warmup", "1",
                            "--iters", "2", "--out", str(out), *extra])
    return code, out


@pytest.mark.slow  # a subprocess or end-to-end run: nox -s slow (CI runs it)
def test_benchmark_writes_its_columns_and_plots(tmp_path):
    code, out = _run(tmp_path, "--device", "cpu", "--vs-textbook")
    assert code == 0
    rows = list(csv.DictReader(out.open()))
    assert list(rows[0]) == throughput.COLUMNS
    assert [r["variant"] for r in rows] == ["gan", "wgan-gp"]
    for r in rows:
        assert float(r["ms_per_gen_iter_min"]) <= float(r["ms_per_gen_iter"]) <= float(r["ms_per_gen_iter_max"])
        assert float(r["images_per_s"]) > 0 and float(r["peak_mem_mb"]) > 0 and float(r["ratio_vs_textbook"]) > 0
        assert r["device"] == "cpu" and r["torch"] == torch.__version__ and int(r["threads"]) >= 1
    gan, gp = rows
    assert float(gan["ms_penalty"]) == 0.0  # no constraint to switch off: no timing noise passed off as its cost
    # the constraint's share is a part of the critic step
    assert int(gp["n_critic"]) == 5 and 0.0 <= float(gp["ms_penalty"]) <= float(gp["ms_per_critic_step"])
    # images/s is the critic's real images per second: n_critic * batch / time per generator iteration
    assert float(gp["images_per_s"]) == pytest.approx(5 * 16 / (float(gp["ms_per_gen_iter"]) / 1000), rel=0.01)
    assert (tmp_path / "throughput_cpu.png").exists() and (tmp_path / "history_cpu.png").exists()
    # a second run appends instead of overwriting
    assert _run(tmp_path, "--device", "cpu", "--no-plot")[0] == 0
    assert len(list(csv.DictReader(out.open()))) == 4


def test_benchmark_rejects_unknown_variant(tmp_path, capsys):
    assert throughput.main(["--variants", "wgan-xx", "--out", str(tmp_path / "x.csv")]) == 2
    assert "--variants: unknown wgan-xx" in capsys.readouterr().err
    assert not (tmp_path / "x.csv").exists()


def test_benchmark_rejects_bad_settings_on_one_line(tmp_path, capsys):
    assert throughput.main(["--variants", "gan", "--iters", "0", "--out", str(tmp_path / "x.csv")]) == 2
    assert capsys.readouterr().err == "throughput.py: error: --iters: must be >= 1, got 0\n"
    assert throughput.main(["--variants", "gan", "--device", "tpu", "--out", str(tmp_path / "x.csv")]) == 2  # RunConfig's check
    assert capsys.readouterr().err.startswith("throughput.py: error: gan: device: unknown 'tpu'")
    assert not (tmp_path / "x.csv").exists()


def test_the_architecture_comes_from_its_registry_and_picks_the_data_set_it_is_the_default_of(tmp_path):
    def dataset(**kw):
        return throughput._dataset(throughput.BenchSettings(**kw))

    assert dataset(arch="mlp") == "8gaussians" and dataset(arch="pacgan") == "2d-grid"
    assert dataset(arch="dcgan", resolution=28) == "fashion-mnist" and dataset(arch="dcgan", resolution=64) == "cifar10"
    # an architecture the old two-way switch did not know is measured, as a toy architecture (resolution 0)
    out = tmp_path / "cpu.csv"
    assert throughput.main(["--variants", "nsgan", "--arch", "pacgan", "--width", "16", "--batch", "16", "--warmup", "0",
                            "--iters", "1", "--device", "cpu", "--out", str(out), "--no-plot"]) == 0
    (row,) = csv.DictReader(out.open())
    assert (row["arch"], row["resolution"], row["width"], row["batch"]) == ("pacgan", "0", "16", "16")


def test_vs_textbook_refuses_a_variant_the_textbook_does_not_implement_before_measuring(tmp_path, capsys, monkeypatch):
    monkeypatch.delitem(TEXTBOOK_LOSSES, "minimax")  # as if gan's loss had no textbook version
    measured = []
    monkeypatch.setattr(throughput, "run_isolated", lambda v, s: measured.append(v) or {"error": "must not be reached"})
    code = throughput.main(["--variants", "wgan-gp,gan", "--vs-textbook", "--device", "cpu", "--out", str(tmp_path / "x.csv")])
    err = capsys.readouterr().err
    assert code == 2 and measured == []  # not even wgan-gp, which comes first and has a textbook version
    assert err == f"throughput.py: error: gan: textbook loop: no textbook implementation of loss 'minimax'; it implements: {', '.join(TEXTBOOK_LOSSES)}\n"
    assert not (tmp_path / "x.csv").exists()


def test_settings_come_from_the_command_line_and_survive_pickling(tmp_path, monkeypatch):
    """main() builds one BenchSettings from the flags; it must pickle, since it goes to a spawned process."""
    sent = []

    def fake_run_isolated(variant, settings):
        sent.append((variant, pickle.loads(pickle.dumps(settings))))
        return {"error": "stop here"}

    monkeypatch.setattr(throughput, "run_isolated", fake_run_isolated)
    out = tmp_path / "sub" / "x.csv"
    assert throughput.main(["--variants", "wgan-clip", "--arch", "mlp", "--width", "16", "--batch", "8", "--device", "cpu",
                            "--amp", "bf16", "--channels-last", "--threads", "1", "--warmup", "0", "--iters", "3",
                            "--vs-textbook", "--profile", "2", "--out", str(out)]) == 2
    want = throughput.BenchSettings(arch="mlp", resolution=28, width=16, batch=8, device="cpu", amp="bf16", channels_last=True,
                                    compile=False, threads=1, warmup=0, iters=3, vs_textbook=True, profile=2, profile_dir=str(out.parent))
    assert sent == [("wgan-clip", want)]
    with pytest.raises(dataclasses.FrozenInstanceError):
        want.iters = 4  # type: ignore[misc]


def test_constraint_off_switches_off_penalty_and_clipping_and_restores_them():
    """The 'bare' critic step behind ms_penalty: same step, no penalty, no weight clipping; the constraint comes back after."""
    clip = Stepper([Trainer(RunConfig.preset("wgan-clip", "8gaussians", width=8, batch_size=8, clip_value=2**-10, device="cpu"))])
    real, z = clip.critic_inputs()
    r, f = real[:8], clip.fakes(z[:8])
    largest = lambda: max(p.detach().abs().max().item() for p in clip.critic.parameters())  # noqa: E731
    with throughput.constraint_off(clip):
        clip.critic_step(r, f)
        assert largest() > 1e-2  # initial weights, not clipped
    clip.critic_step(r, f)
    assert largest() == 2**-10  # exact in float32

    gp = Stepper([Trainer(RunConfig.preset("wgan-gp", "8gaussians", width=8, batch_size=8, device="cpu"))])
    real, z = gp.critic_inputs()
    r, f = real[:8], gp.fakes(z[:8])
    with throughput.constraint_off(gp):
        assert gp.critic_step(r, f)[2].item() == 0.0
    assert gp.critic_step(r, f)[2].item() > 0.0
    original = gp.constraint
    with pytest.raises(RuntimeError), throughput.constraint_off(gp):
        raise RuntimeError
    assert gp.constraint is original


@pytest.mark.cuda
def test_benchmark_on_cuda(tmp_path):
    code, out = _run(tmp_path, "--device", "cuda", "--amp", "bf16")
    assert code == 0
    rows = list(csv.DictReader(out.open()))
    assert rows[0]["device"] == "cuda" and rows[0]["dtype"] == "bf16" and rows[0]["cuda"]


def test_bf16_penalty_matches_fp32_on_cpu():
    torch.manual_seed(0)
    critic = nn.Sequential(nn.Conv2d(1, 8, 4, 2, 1), nn.GroupNorm(1, 8), nn.LeakyReLU(0.2), nn.Flatten(), nn.Linear(8 * 14 * 14, 1))
    g = torch.Generator().manual_seed(1)
    real, fake, eps = torch.randn(32, 1, 28, 28, generator=g), torch.randn(32, 1, 28, 28, generator=g), torch.rand(32, generator=g)
    ref = gradient_penalty(critic, real, fake, eps=eps)
    params = list(critic.parameters())[:-1]  # the output bias does not affect d critic / d x
    ref_grads = torch.autograd.grad(ref, params)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        low = gradient_penalty(critic, real, fake, eps=eps)
    low_grads = torch.autograd.grad(low, params)
    assert low.dtype == torch.float32  # the norm and the penalty are computed in fp32
    assert_close(low, ref, rtol=2e-2, atol=1e-3)
    # bf16 keeps 8 bits of mantissa: single elements may be off, the gradient as a whole must not be
    for a, b in zip(low_grads, ref_grads):
        a, b = a.float().flatten(), b.flatten()
        if b.norm() < 1e-6:  # e.g. the conv bias in front of the norm layer: normalised away in both
            assert a.norm() < 1e-4
            continue
        assert torch.nn.functional.cosine_similarity(a, b, dim=0) > 0.99
        assert (a - b).norm() / b.norm() < 0.1


def test_textbook_loop_keeps_default_memory_format_and_trains():
    """The textbook baseline is what users write: default memory format even when the trainer runs channels_last."""
    images = torch.randint(0, 256, (256, 1, 28, 28), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    trainer = Trainer(RunConfig.preset("wgan-gp", "fashion-mnist", width=8, batch_size=8, n_critic=2, channels_last=True), images=images)
    conv = next(m for m in trainer.critic.modules() if isinstance(m, nn.Conv2d) and m.in_channels > 1)
    assert conv.weight.is_contiguous(memory_format=torch.channels_last) and not conv.weight.is_contiguous()
    loop = textbook_from_trainer(trainer)
    assert all(p.is_contiguous() for p in [*loop.G.parameters(), *loop.D.parameters()])
    before = [p.detach().clone() for p in loop.D.parameters()]
    loop.step()
    assert len(loop.log) == 1 and all(map(lambda v: torch.isfinite(torch.tensor(v)), loop.log[0]))
    assert any(not torch.equal(a, b) for a, b in zip(before, loop.D.parameters()))  # the critic was updated
    assert all(torch.equal(a, b) for a, b in zip(before, [p.detach() for p in trainer.critic.parameters()]))  # on copies


def test_profile_writes_the_operator_table_and_group_shares(tmp_path):
    out = tmp_path / "cpu.csv"
    code = throughput.main(["--variants", "wgan-gp", "--arch", "mlp", "--width", "16", "--batch", "16", "--warmup", "0",
                            "--iters", "1", "--device", "cpu", "--profile", "2", "--no-plot", "--out", str(out)])
    assert code == 0
    table = (tmp_path / "profile_cpu_mlp_w16_b16_fp32_wgan-gp.txt").read_text()
    assert "aten::addmm" in table and "Self CPU" in table  # the MLP's linear layers, by self time
    note = next(csv.DictReader(out.open()))["note"]
    shares = [float(part.split()[-1].rstrip("%")) for part in note.removeprefix("profile: ").split(" (")[0].split(", ")]
    assert len(shares) == len(throughput.OP_GROUPS) + 1 and abs(sum(shares) - 100) <= 0.1 * len(shares)  # rounded to 0.1%
    assert shares[list(throughput.OP_GROUPS).index("convolution")] == 0.0  # an MLP has no convolution to attribute time to


# ---------------------------------------------------------------------------------------------
# The textbook loop computes the library's objectives (where the library registers them), and refuses the others.
def test_textbook_loop_refuses_an_objective_it_does_not_implement(monkeypatch):
    monkeypatch.setitem(LOSSES, "test-only-loss", dataclasses.replace(LOSSES["wasserstein"], name="test-only-loss"))
    monkeypatch.setitem(CONSTRAINTS, "test-only-penalty", dataclasses.replace(CONSTRAINTS["gp"], name="test-only-penalty"))
    for field, name, table in (("loss", "test-only-loss", TEXTBOOK_LOSSES), ("constraint", "test-only-penalty", TEXTBOOK_CONSTRAINTS)):
        trainer = Trainer(RunConfig.preset("wgan-gp", "8gaussians", width=8, batch_size=8, device="cpu", **{field: name}))
        message = f"textbook loop: no textbook implementation of {field} '{name}'; it implements: {', '.join(table)}"
        with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
            textbook_from_trainer(trainer)
        with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
            TextbookLoop(trainer.generator, trainer.critic, trainer.stream.next(4), trainer.config)


def _tiny_critic() -> nn.Module:
    """A fixed, smooth (tanh) critic on (N, 1, 4, 4) inputs: its input gradient varies from point to point,
    with norms on both sides of 1 at the interpolates of _real_fake (so one- and two-sided penalties differ)."""
    with torch.random.fork_rng():
        torch.manual_seed(0)
        critic = nn.Sequential(nn.Conv2d(1, 3, 3), nn.Tanh(), nn.Flatten(), nn.Linear(12, 1))
    with torch.no_grad():
        critic[-1].weight.mul_(3.6)
    return critic


def _real_fake() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    return torch.randn(6, 1, 4, 4, generator=g), 0.5 * torch.randn(6, 1, 4, 4, generator=g) + 0.3


@pytest.mark.parametrize("name", list(TEXTBOOK_LOSSES))
def test_textbook_loss_matches_the_registered_one(name):
    assert name in LOSSES, f"the textbook loop implements a loss {name!r} that wgan_core does not register (renamed?)"
    critic_tb, generator_tb, needs_real = TEXTBOOK_LOSSES[name]
    entry = LOSSES[name]
    assert needs_real == entry.generator_needs_real
    # raw scores, as the critic outputs them (B, 1): moderate and large ones, so that saturation and pairing matter
    d_real = torch.tensor([0.3, -1.2, 2.5, 8.0, -6.0, 0.0], requires_grad=True)
    d_fake = torch.tensor([-0.7, 1.5, -2.0, 5.0, -9.0, 0.1], requires_grad=True)
    for tb, lib in ((critic_tb(d_real[:, None], d_fake[:, None]), entry.critic(d_real, d_fake)),
                    (generator_tb(d_fake[:, None], d_real[:, None]), entry.generator(d_fake, d_real))):
        assert_close(tb, lib)
        assert_close(torch.autograd.grad(tb, (d_real, d_fake), allow_unused=True, materialize_grads=True),
                     torch.autograd.grad(lib, (d_real, d_fake), allow_unused=True, materialize_grads=True))


@pytest.mark.parametrize("name", list(TEXTBOOK_CONSTRAINTS))
def test_textbook_constraint_has_the_registered_parts(name):
    """A penalty where the library has one, and weight clipping exactly where the library's after-step hook clips."""
    assert name in CONSTRAINTS, f"the textbook loop implements a constraint {name!r} that wgan_core does not register (renamed?)"
    penalty_tb, clip_tb = TEXTBOOK_CONSTRAINTS[name]
    entry = CONSTRAINTS[name]
    assert (penalty_tb is None) == (not entry.penalises)
    assert clip_tb == (entry.after_critic_step is not None)
    if clip_tb:
        ours, theirs = _tiny_critic(), _tiny_critic()
        for p in theirs.parameters():  # as the textbook loop clips
            p.data.clamp_(-0.05, 0.05)
        entry.after_critic_step(ours, SimpleNamespace(clip_value=0.05))
        assert all(torch.equal(a, b) for a, b in zip(ours.parameters(), theirs.parameters()))


PENALTIES = [n for n, (penalty, _) in TEXTBOOK_CONSTRAINTS.items() if penalty is not None]


@pytest.mark.parametrize("name", PENALTIES)
def test_textbook_penalty_matches_the_registered_one_on_the_same_draws(name):
    """Exact where both draw the same numbers: the textbook draws from torch's global generator, the library from the
    generator it is given; seeded alike, both give the same interpolation weights (and DRAGAN noise) on the CPU."""
    assert name in CONSTRAINTS, f"the textbook loop implements a constraint {name!r} that wgan_core does not register (renamed?)"
    critic, (real, fake) = _tiny_critic(), _real_fake()
    params = list(critic.parameters())[:-1]  # the output bias does not change d critic / d x
    with torch.random.fork_rng():
        torch.manual_seed(7)
        tb = TEXTBOOK_CONSTRAINTS[name][0](critic, real, fake)
    lib = CONSTRAINTS[name].penalty(critic, real, fake, torch.Generator().manual_seed(7))
    assert tb.item() > 1e-3  # a penalty that is 0 would compare nothing
    assert_close(tb, lib)
    assert_close(torch.autograd.grad(tb, params), torch.autograd.grad(lib, params))  # what the critic update uses


@pytest.mark.parametrize("scale", [0.5, 2.0])  # the gradient norm below and above 1: one- and two-sided penalties differ
@pytest.mark.parametrize("name", PENALTIES)
def test_textbook_penalty_matches_the_registered_one_where_randomness_cancels(name, scale):
    """A linear critic has the same input gradient w everywhere, so the draws cancel: exact whatever either side draws."""
    assert name in CONSTRAINTS, f"the textbook loop implements a constraint {name!r} that wgan_core does not register (renamed?)"
    critic = nn.Sequential(nn.Flatten(), nn.Linear(16, 1))
    with torch.no_grad():
        w = torch.arange(16.0) - 7.5
        critic[1].weight.copy_(scale * w / w.norm())
    real, fake = _real_fake()
    with torch.random.fork_rng():
        torch.manual_seed(3)
        tb = TEXTBOOK_CONSTRAINTS[name][0](critic, real, fake)
    lib = CONSTRAINTS[name].penalty(critic, real, fake, torch.Generator().manual_seed(4))  # other draws on purpose
    assert_close(tb, lib)
    assert_close(torch.autograd.grad(tb, critic[1].weight), torch.autograd.grad(lib, critic[1].weight))


@pytest.mark.parametrize("field, name", [("loss", n) for n in TEXTBOOK_LOSSES] + [("constraint", n) for n in TEXTBOOK_CONSTRAINTS])
def test_textbook_loop_trains_with_each_objective(field, name):
    """Every textbook objective runs in the loop's step, registered in wgan_core or not (a plain config stands in)."""
    trainer = Trainer(RunConfig.preset("wgan-gp", "8gaussians", width=8, batch_size=8, n_critic=2, device="cpu"))
    config = SimpleNamespace(**{**trainer.config.to_dict(), field: name})
    loop = TextbookLoop(trainer.generator, trainer.critic, trainer.stream.next(4), config)
    before = {net: [p.detach().clone() for p in net.parameters()] for net in (loop.G, loop.D)}
    loop.step()
    assert len(loop.log) == 1 and all(torch.isfinite(torch.tensor(loop.log[0])))
    for net, old in before.items():  # both networks were updated
        assert any(not torch.equal(a, b) for a, b in zip(old, net.parameters()))
