"""PacGAN's 2-D networks and mixtures (wgan_core.models.pacgan, wgan_core.data.pacgan2d) against hand computations."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from wgan_core.data.pacgan2d import (
    PACGAN_DATASETS,
    pacgan_centres,
    pacgan_fixed_set,
    pacgan_hq_radius,
    pacgan_packed_set,
    pacgan_std,
)
from wgan_core.errors import ConfigError
from wgan_core.models.pacgan import BN_MOMENTUM, Maxout, MaxoutCritic, PacGANGenerator, pacgan_init


def n_params(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


# ------------------------------------------------------------------------------------------------ networks
def test_generator_parameter_count_at_paper_size():
    # Linear(2, 400, no bias) + 3 x Linear(400, 400, no bias) + 4 BN x (scale, shift) of 400 + Linear(400, 2) with bias
    expected = 2 * 400 + 3 * 400 * 400 + 4 * 2 * 400 + (400 * 2 + 2)
    assert expected == 484_802
    g = PacGANGenerator()
    assert n_params(g) == expected
    linears = [m for m in g.modules() if isinstance(m, nn.Linear)]
    assert [tuple(m.weight.shape) for m in linears] == [(400, 2), (400, 400), (400, 400), (400, 400), (2, 400)]
    assert [m.bias is not None for m in linears] == [False, False, False, False, True]
    bns = [m for m in g.modules() if isinstance(m, nn.BatchNorm1d)]
    assert len(bns) == 4 and all(m.eps == 1e-4 and m.momentum == 0.05 for m in bns)  # Blocks' eps, the authors' 0.05


def test_critic_parameter_count_at_paper_size():
    # three maxout layers: Linear(d, 200 * 5) each; then Linear(200, 1)
    expected = (2 * 1000 + 1000) + 2 * (200 * 1000 + 1000) + (200 + 1)
    assert expected == 405_201
    d = MaxoutCritic()
    assert n_params(d) == expected
    shapes = [tuple(m.weight.shape) for m in d.modules() if isinstance(m, nn.Linear)]
    assert shapes == [(1000, 2), (1000, 200), (1000, 200), (1, 200)]
    # packing 2: the first layer sees 4 inputs, 2 * 1000 more weights
    assert n_params(MaxoutCritic(in_dim=4)) == expected + 2 * 1000


def test_maxout_layer_by_hand():
    layer = Maxout(in_dim=1, width=2, pieces=3)
    with torch.no_grad():
        layer.linear.weight.copy_(torch.tensor([[1.0], [-1.0], [2.0], [0.0], [3.0], [-2.0]]))
        layer.linear.bias.copy_(torch.tensor([0.0, 0.0, 0.0, 1.0, 0.0, 0.0]))
    x = torch.tensor([[1.0], [-1.0]])
    # x = 1: pre-activations (1, -1, 2 | 1, 3, -2) -> (2, 3); x = -1: (-1, 1, -2 | 1, -3, 2) -> (1, 2)
    assert torch.equal(layer(x), torch.tensor([[2.0, 3.0], [1.0, 2.0]]))


def test_critic_is_per_sample_and_shapes():
    torch.manual_seed(0)
    d = MaxoutCritic()
    assert not any(isinstance(m, (nn.BatchNorm1d, nn.Dropout)) for m in d.modules())
    x = torch.randn(6, 2)
    y = x.clone()
    y[1:] = torch.randn(5, 2) * 4  # change every other row
    for mode in (d.train, d.eval):
        mode()
        s = d(x)
        assert s.shape == (6,)
        assert torch.allclose(d(y)[0], s[0]) and torch.allclose(d(x[:1]), s[:1])


def test_generator_shapes_and_train_mode_normalises():
    torch.manual_seed(0)
    g = PacGANGenerator()
    pacgan_init(g)
    z = torch.randn(64, 2)
    assert g(z).shape == (64, 2)
    h = g.net[1](g.net[0](z))  # first Linear -> BatchNorm in training mode: batch statistics
    assert torch.allclose(h.mean(0), torch.zeros(400), atol=1e-5)
    var = h.var(0, unbiased=False)
    pre_var = g.net[0](z).var(0, unbiased=False)
    assert torch.allclose(var, pre_var / (pre_var + 1e-4), atol=1e-4)  # (x - mu) / sqrt(var + eps), scale 1


def test_population_statistics_move_only_on_the_forward_that_trains():
    """PacGAN moves them once per iteration: a no_grad training forward (the critic step's fakes) leaves them."""
    torch.manual_seed(0)
    g = PacGANGenerator()
    pacgan_init(g)
    bn = g.net[1]
    z = torch.randn(64, 2)
    with torch.no_grad():
        out_no_grad = g(z)
    assert torch.equal(bn.running_mean, torch.zeros(400)) and torch.equal(bn.running_var, torch.ones(400))
    assert bn.num_batches_tracked.item() == 0
    out = g(z)  # grad enabled: batch statistics again, and one update 0.95 * old + 0.05 * batch
    torch.testing.assert_close(out_no_grad, out.detach())  # both forwards normalise with the batch's statistics
    pre = g.net[0](z).detach()  # (64, 400)
    torch.testing.assert_close(bn.running_mean, BN_MOMENTUM * pre.mean(0))
    torch.testing.assert_close(bn.running_var, (1 - BN_MOMENTUM) * torch.ones(400) + BN_MOMENTUM * pre.var(0, unbiased=True))
    assert bn.num_batches_tracked.item() == 1


def test_one_population_update_per_generator_iteration():
    from wgan_core.config import RunConfig
    from wgan_core.training.trainer import Trainer

    t = Trainer(RunConfig.preset("wgan-gp", "2d-grid", seed=0, steps=2, batch_size=16, device="cpu"))
    assert t.config.n_critic == 5
    t.step()
    t.step()
    counts = {m.num_batches_tracked.item() for m in t.generator.modules() if isinstance(m, nn.BatchNorm1d)}
    assert counts == {2}  # 2 iterations of 5 critic steps and 1 generator step: 2 updates, not 12


def test_init_statistics():
    torch.manual_seed(1)
    d = MaxoutCritic()
    g = PacGANGenerator()
    pacgan_init(d)
    pacgan_init(g)
    w = d.net[1].linear.weight  # (1000, 200): 200,000 draws, std's standard error 0.02 / sqrt(400,000)
    assert abs(w.std().item() - 0.02) < 0.02 * 0.01
    assert abs(w.mean().item()) < 5 * 0.02 / math.sqrt(w.numel())
    w = g.net[3].weight  # (400, 400)
    assert abs(w.std().item() - 0.02) < 0.02 * 0.02
    assert all(torch.count_nonzero(m.bias) == 0 for m in d.modules() if isinstance(m, nn.Linear))
    assert torch.count_nonzero(g.net[-1].bias) == 0
    for m in g.modules():
        if isinstance(m, nn.BatchNorm1d):
            assert torch.all(m.weight == 1) and torch.all(m.bias == 0)


# ------------------------------------------------------------------------------------------------ data
def test_centres_and_stds():
    grid = pacgan_centres("2d-grid")
    assert grid.shape == (25, 2)
    assert grid[0].tolist() == [-4.0, -4.0] and grid[1].tolist() == [-4.0, -2.0] and grid[5].tolist() == [-2.0, -4.0]
    assert sorted(set(grid[:, 0].tolist())) == [-4.0, -2.0, 0.0, 2.0, 4.0]
    ring = pacgan_centres("2d-ring")
    assert ring.shape == (8, 2)
    assert torch.allclose(ring.norm(dim=1), torch.ones(8))
    assert torch.allclose(ring[0], torch.tensor([1.0, 0.0])) and torch.allclose(ring[2], torch.tensor([0.0, 1.0]), atol=1e-7)
    assert torch.allclose(ring[1], torch.tensor([math.sqrt(0.5), math.sqrt(0.5)]))
    assert pacgan_std("2d-grid") == 0.05 and pacgan_std("2d-ring") == 0.01
    assert pacgan_hq_radius("2d-grid") == pytest.approx(0.15) and pacgan_hq_radius("2d-ring") == pytest.approx(0.03)
    with pytest.raises(ConfigError, match="2d-grid"):
        pacgan_centres("25gaussians")


@pytest.mark.parametrize("name", PACGAN_DATASETS)
def test_fixed_set_modes_and_spread(name):
    x = pacgan_fixed_set(name, seed=3)
    n, k, std = 100_000, len(pacgan_centres(name)), pacgan_std(name)
    assert x.shape == (n, 2) and x.dtype == torch.float32
    centres = pacgan_centres(name).double()
    d, nearest = torch.cdist(x.double(), centres).min(dim=1)
    counts = torch.bincount(nearest, minlength=k)
    # i.i.d. uniform modes: counts ~ Multinomial(n, 1/K); sd sqrt(n (1/K)(1 - 1/K)) < 1.6% of n/K for K <= 25
    assert (counts - n / k).abs().max().item() < 0.08 * n / k
    for j in range(k):
        dev = x[nearest == j].double() - centres[j]  # (n_j, 2)
        assert torch.allclose(dev.mean(0), torch.zeros(2, dtype=torch.float64), atol=5 * std / math.sqrt(counts[j].item()))
        assert torch.allclose(dev.std(0), torch.full((2,), std, dtype=torch.float64), rtol=0.05)
    # within 3 std of its mode: P(chi2_2 < 9) = 1 - exp(-4.5) = 0.98889 (standard error 3.3e-4 at n = 100,000)
    assert (d < pacgan_hq_radius(name)).double().mean().item() == pytest.approx(1 - math.exp(-4.5), abs=2e-3)


def test_fixed_set_is_determined_by_its_seed():
    a = pacgan_fixed_set("2d-ring", n=1000, seed=7)
    assert torch.equal(a, pacgan_fixed_set("2d-ring", n=1000, seed=7))
    assert not torch.equal(a, pacgan_fixed_set("2d-ring", n=1000, seed=8))


def test_packed_set_is_a_bootstrap_of_the_fixed_set():
    fixed = pacgan_fixed_set("2d-grid", n=10_000, seed=0)
    packed = pacgan_packed_set(fixed, packing=2, seed=1)
    assert packed.shape == (10_000, 4)
    assert torch.equal(packed, pacgan_packed_set(fixed, packing=2, seed=1))
    points = set(map(tuple, fixed.tolist()))
    for block in (packed[:, :2], packed[:, 2:]):
        assert all(tuple(row) in points for row in block.tolist())  # every row is a point of the fixed set
        distinct = len(torch.unique(block, dim=0)) / len(fixed)
        assert distinct == pytest.approx(1 - math.exp(-1), abs=0.015)  # sampling with replacement: 1 - 1/e distinct
    assert not torch.equal(packed[:, :2], packed[:, 2:])  # independent bootstraps
    with pytest.raises(ConfigError):
        pacgan_packed_set(fixed, packing=0)
