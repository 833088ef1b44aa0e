"""Toy distributions as in the WGAN-GP code, and the exact toy metrics against hand-computed values."""

import math

import numpy as np
import pytest
import torch
from scipy.spatial.distance import cdist
from torch.testing import assert_close

from wgan_core.data import sample_toy, toy_centres, toy_std
from wgan_core.metrics.toy import mode_stats, toy_metrics, w1_exact


def test_8gaussians_centres_and_spread():
    c = toy_centres("8gaussians")
    assert_close(c.norm(dim=1), torch.full((8,), 2 / 1.414))  # radius 2 circle, divided by 1.414
    x = sample_toy("8gaussians", 20000, torch.Generator().manual_seed(0))
    nearest = torch.cdist(x, c).argmin(1)
    resid = x - c[nearest]
    assert_close(resid.std(0), torch.full((2,), 0.02 / 1.414), rtol=0.03, atol=0)
    counts = torch.bincount(nearest, minlength=8).float() / len(x)
    assert counts.min() > 0.11 and counts.max() < 0.14  # uniform over modes


def test_25gaussians_grid():
    c = toy_centres("25gaussians") * 2.828
    assert sorted(set(c[:, 0].round().tolist())) == [-4, -2, 0, 2, 4]
    assert toy_std("25gaussians") == pytest.approx(0.05 / 2.828)


def test_swissroll_range_matches_sklearn_formula():
    x = sample_toy("swissroll", 5000, torch.Generator().manual_seed(0))
    r = (x * 7.5).norm(dim=1)  # ~ t in [1.5 pi, 4.5 pi] plus noise
    assert r.min() > 1.5 * math.pi - 1.5 and r.max() < 4.5 * math.pi + 1.5


def test_samples_at_the_centres_score_perfectly():
    c = toy_centres("8gaussians")
    s = mode_stats(c.repeat(10, 1), "8gaussians")
    assert s == {"modes": 8, "modes_strict": 8, "high_quality": 1.0, "reverse_kl": 0.0}


def test_one_collapsed_mode():
    c = toy_centres("8gaussians")
    samples = torch.cat([c[:1].repeat(90, 1), torch.full((10, 2), 5.0)])  # 90 on mode 0, 10 far away
    s = mode_stats(samples, "8gaussians")
    assert s["modes"] == 1 and s["high_quality"] == pytest.approx(0.9)
    assert s["reverse_kl"] == pytest.approx(math.log(8))  # KL(delta || uniform over 8)


def test_three_sigma_boundary_and_strict_threshold():
    c, sd = toy_centres("8gaussians"), toy_std("8gaussians")
    inside = c[0] + torch.tensor([2.9 * sd, 0.0])
    outside = c[1] + torch.tensor([3.1 * sd, 0.0])
    s = mode_stats(torch.stack([inside, outside]), "8gaussians")
    assert s["modes"] == 1 and s["high_quality"] == 0.5
    # strict: a mode needs min_share of all samples; 1 of 100 samples is below 5%
    samples = torch.cat([c[:1].repeat(99, 1), c[1:2]])
    assert mode_stats(samples, "8gaussians", min_share=0.05)["modes_strict"] == 1
    assert mode_stats(samples, "8gaussians", min_share=0.05)["modes"] == 2


def test_w1_exact_by_hand_and_against_brute_force():
    a = np.array([[0.0, 0.0], [1.0, 0.0]])
    b = np.array([[1.0, 1.0], [0.0, 1.0]])
    assert w1_exact(a, b) == pytest.approx(1.0)  # each point moves straight up
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(6, 2)), rng.normal(size=(6, 2))
    from itertools import permutations

    brute = min(cdist(x, y)[range(6), list(p)].mean() for p in permutations(range(6)))
    assert w1_exact(x, y) == pytest.approx(brute)


def test_toy_metrics_keys():
    g = torch.Generator().manual_seed(0)
    real = sample_toy("8gaussians", 300, g)
    m = toy_metrics(sample_toy("8gaussians", 400, g), real, "8gaussians", w1_floor=0.1)
    assert set(m) == {"modes", "modes_strict", "high_quality", "reverse_kl", "w1", "w1_floor"}
    assert m["modes"] == 8 and m["w1_floor"] == 0.1
    # translating a sample by v costs exactly |v| (Jensen: mean ||x_i + v - x_pi(i)|| >= |v|, equality at pi = id)
    assert toy_metrics(real + torch.tensor([0.3, 0.4]), real, "8gaussians")["w1"] == pytest.approx(0.5, rel=1e-6)
    assert set(toy_metrics(sample_toy("swissroll", 300, g), sample_toy("swissroll", 300, g), "swissroll")) == {"w1"}
