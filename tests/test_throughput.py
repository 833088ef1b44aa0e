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
