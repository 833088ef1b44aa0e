"""Data-set and architecture registries: every entry builds what it declares, and a new one is one registration."""

from __future__ import annotations

import csv

import pytest
import torch
from torch import nn

import wgan_core
from wgan_core import ConfigError, RunConfig
from wgan_core.data import DATASETS, DataSet, get_dataset, register_dataset, sample_toy
from wgan_core.models import ARCHITECTURES, Architecture, build_models, get_architecture, register_architecture
from wgan_core.rundir.names import data_kind, has_modes
from wgan_core.training import refusal, train

TOY = [n for n, d in DATASETS.items() if d.kind == "toy"]


@pytest.mark.parametrize("name", TOY)
def test_toy_entries_draw_points_from_the_callers_generator(name):
    a = sample_toy(name, 500, torch.Generator().manual_seed(3))
    b = sample_toy(name, 500, torch.Generator().manual_seed(3))
    assert a.shape == (500, 2) and a.dtype == torch.float32
    torch.testing.assert_close(a, b, rtol=0, atol=0)


@pytest.mark.parametrize("name", [n for n in TOY if DATASETS[n].has_modes])
def test_a_mixtures_points_lie_near_its_declared_centres(name):
    entry = get_dataset(name)
    x = sample_toy(name, 4000, torch.Generator().manual_seed(0)).double()
    centres = entry.centres().double()
    assert len(centres) == entry.modes
    d, nearest = torch.cdist(x, centres).min(1)
    assert (d <= 5 * entry.std).float().mean() > 0.999  # 5 sigma of a 2-D Gaussian: all but 4e-6
    share = torch.bincount(nearest, minlength=entry.modes).double() / len(x)
    assert (share - 1 / entry.modes).abs().max() < 0.04  # every mode equally likely


@pytest.mark.parametrize("name", sorted(ARCHITECTURES))
def test_every_architecture_maps_latents_to_its_datas_shape_and_scores_per_sample(name):
    arch = get_architecture(name)
    data = next(n for n, d in DATASETS.items() if d.kind == arch.data_kind and d.arch == name)
    c = RunConfig.preset("wgan-gp", data, arch=name, width=8, device="cpu")
    shape = (2,) if arch.data_kind == "toy" else (1, 28, 28)
    g, d = build_models(c, 1, 28)  # channels and resolution: read by image architectures only
    z = torch.randn(5, c.z_dim)
    x = g(z)
    assert x.shape == (5, *shape)
    assert d(x).shape == (5,)


def test_the_data_kind_comes_from_the_data_set_not_the_architecture():
    assert data_kind({"dataset": "fashion-mnist", "arch": "mlp"}) == "image"
    assert data_kind({"dataset": "swissroll"}) == "toy"
    assert has_modes("25gaussians") and not has_modes("swissroll") and not has_modes("fashion-mnist")


def test_unknown_names_are_one_line_errors_naming_the_registered_ones():
    with pytest.raises(ConfigError, match=r"dataset: unknown 'nope'; allowed: 8gaussians, .*folder:PATH") as e:
        RunConfig(dataset="nope")
    assert "\n" not in str(e.value)
    with pytest.raises(ConfigError, match=r"arch: unknown 'nope'; allowed: mlp, dcgan"):
        RunConfig(dataset="8gaussians", arch="nope")


@pytest.fixture
def four_gaussians():
    """A user's toy data set: 4 modes at (+-1, +-1), std 0.05, registered for the test only."""
    centres = torch.tensor([[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]])

    def sample(n, generator, device="cpu"):
        idx = torch.randint(4, (n,), generator=generator, device=device)
        return centres.to(device)[idx] + 0.05 * torch.randn(n, 2, generator=generator, device=device)

    entry = register_dataset("test-4gaussians", DataSet("toy", "mlp", "a test mixture", sample=sample, centres=lambda: centres, std=0.05, modes=4))
    yield entry
    del DATASETS["test-4gaussians"]


def test_a_registered_data_set_trains_and_gets_mode_statistics(four_gaussians, tmp_path):
    c = RunConfig.preset("wgan-gp", "test-4gaussians", steps=2, width=16, eval_every=2, eval_samples=100, device="cpu")
    assert (c.arch, c.batch_size, c.eval_every) == ("mlp", 256, 2)  # the entry's arch, its kind's batch size
    final = train(c, tmp_path / "run", progress=False, log=lambda m: None)
    assert final["status"] == "ok"
    row = next(csv.DictReader(open(tmp_path / "run" / "metrics.csv")))
    assert 0 <= int(row["modes"]) <= 4 and "w1" in row


@pytest.fixture
def tiny_arch():
    """A user's architecture: one hidden layer, no stacked form."""

    def build(config, channels, resolution):
        g = nn.Sequential(nn.Linear(config.z_dim, config.width), nn.ReLU(), nn.Linear(config.width, 2))
        d = nn.Sequential(nn.Linear(2, config.width), nn.ReLU(), nn.Linear(config.width, 1), nn.Flatten(0))
        return g, d

    entry = register_architecture("test-tiny", Architecture("toy", build, "torch", "a test net", dict(width=8, z_dim=2)))
    yield entry
    del ARCHITECTURES["test-tiny"]


def test_a_registered_architecture_builds_trains_and_is_refused_by_ensembles(tiny_arch, tmp_path):
    c = RunConfig.preset("gan", "8gaussians", arch="test-tiny", steps=2, eval_every=2, eval_samples=100, device="cpu")
    assert (c.arch, c.width, c.init) == ("test-tiny", 8, "torch")  # the entry's defaults and init
    g, _ = build_models(c)
    assert sum(p.numel() for p in g.parameters()) == (2 * 8 + 8) + (8 * 2 + 2)
    assert refusal(c) == "arch test-tiny: no stacked form"
    assert train(c, tmp_path / "run", progress=False, log=lambda m: None)["status"] == "ok"
    with pytest.raises(ConfigError, match="arch: test-tiny takes toy data and 'fashion-mnist' is image data; use arch=dcgan"):
        RunConfig(dataset="fashion-mnist", arch="test-tiny")


def test_the_registration_functions_are_the_packages():
    assert wgan_core.register_dataset is register_dataset and wgan_core.register_architecture is register_architecture
    with pytest.raises(ConfigError, match="a toy data set needs sample"):
        register_dataset("bad", DataSet("toy", "mlp", "no sampler"))
