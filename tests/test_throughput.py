"""The throughput benchmark runs for a few steps and writes the right columns; the bf16 penalty matches fp32."""

import csv
import sys
from pathlib import Path

import pytest
import torch
from torch import nn
from torch.testing import assert_close

from wgan_core.penalties import gradient_penalty

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import throughput  # noqa: E402


def _run(tmp_path, *extra):
    out = tmp_path / "cpu.csv"
    code = throughput.main(["--variants", "gan,wgan-gp", "--arch", "mlp", "--width", "16", "--batch", "16", "--warmup", "1",
                            "--iters", "2", "--out", str(out), *extra])
    return code, out


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
    gp = rows[1]
    assert int(gp["n_critic"]) == 5 and float(gp["ms_penalty"]) >= 0
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


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
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
    from textbook_loop import textbook_from_trainer

    from wgan_core import RunConfig, Trainer

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
