"""Feature spaces (metrics/spaces.py): the registry's errors, the pixel space against a closed form, identical sets,
a seeded random CNN, spaces that need weights refusing in one line, and the `metrics` command's options."""

import math
import re

import numpy as np
import pytest
import torch
from scipy import linalg

from wgan_core.cli import main
from wgan_core.config import ConfigError
from wgan_core.metrics import spaces
from wgan_core.metrics.image import fidelity, image_metrics
from wgan_core.metrics.spaces import (
    PIXEL_SIDE,
    FeatureSpace,
    PixelFeatures,
    feature_space_names,
    get_feature_space,
    random_cnn_state,
    register_feature_space,
    space_extractor,
)

from .conftest import needs_fashion


def _images(n: int, side: int = PIXEL_SIDE, seed: int = 0, channels: int = 1) -> torch.Tensor:
    return torch.randint(0, 256, (n, channels, side, side), generator=torch.Generator().manual_seed(seed), dtype=torch.uint8)


# ---------------------------------------------------------------------------------------------
# The registry
# ---------------------------------------------------------------------------------------------
def test_every_offline_and_weighted_space_is_registered_with_a_source():
    assert feature_space_names() == ("pixels", "random-cnn", "classifier", "digits", "inception", "vgg16")
    for name in feature_space_names():
        assert get_feature_space(name).source.strip()
    assert [n for n in feature_space_names() if get_feature_space(n).needs] == ["inception", "vgg16"]


def test_an_unknown_space_names_the_allowed_ones():
    with pytest.raises(ConfigError) as e:
        get_feature_space("nope")
    assert str(e.value) == "feature space: unknown 'nope'; allowed: pixels, random-cnn, classifier, digits, inception, vgg16"


def test_registration_checks_names_and_a_second_entry_replaces(monkeypatch):
    monkeypatch.setattr(spaces, "SPACES", dict(spaces.SPACES))
    pixels = get_feature_space("pixels")
    assert register_feature_space("pixels", pixels) is pixels and get_feature_space("pixels") is pixels
    with pytest.raises(ConfigError, match="lower-case"):
        register_feature_space("My Space", get_feature_space("pixels"))
    with pytest.raises(ConfigError, match="a source and a callable build"):
        register_feature_space("empty", FeatureSpace("  ", lambda *a, **k: None))
    register_feature_space("pixels-again", FeatureSpace("the pixel space under a second name", spaces._pixels))
    assert space_extractor("pixels-again", "fashion-mnist").name == f"pixels-{PIXEL_SIDE}px"


# ---------------------------------------------------------------------------------------------
# pixels
# ---------------------------------------------------------------------------------------------
def test_pixel_features_are_the_pixels_in_unit_range_and_a_constant_stays_constant():
    net = PixelFeatures("pixels-test", ["pixels"])
    x = _images(3)
    (f,) = net(x)
    assert f.shape == (3, PIXEL_SIDE * PIXEL_SIDE) and torch.equal(f, x.float().flatten(1) / 255)
    (g,) = net(torch.full((2, 3, 28, 28), 51, dtype=torch.uint8))  # resized 28 -> 16: a constant image stays 51 / 255
    assert g.shape == (2, 3 * PIXEL_SIDE * PIXEL_SIDE) and torch.allclose(g, torch.full_like(g, 0.2), atol=1e-6)


def test_pixel_fid_is_the_closed_form_of_the_pixels_statistics():
    a, b = _images(600, seed=1), (_images(600, seed=2) // 2 + 40)  # b: another mean and a quarter of the variance
    fa, fb = (x.double().flatten(1).numpy() / 255 for x in (a, b))
    mu1, mu2, s1, s2 = fa.mean(0), fb.mean(0), np.cov(fa, rowvar=False), np.cov(fb, rowvar=False)
    ref = float(((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2 * linalg.sqrtm(s1 @ s2).real))
    got = fidelity(a, b, space_extractor("pixels", "fashion-mnist"), kid=False)["fid"]
    assert got == pytest.approx(ref, rel=1e-4)


def test_identical_sets_in_pixel_space_give_fid_zero_and_full_precision_recall():
    x = _images(300, side=28, seed=3)
    out = fidelity(x, x, space_extractor("pixels", "fashion-mnist"), kid=True, prc=True, kid_subset_size=300)
    assert abs(out["fid"]) < 1e-6 and out["precision"] == 1.0 and out["recall"] == 1.0


# ---------------------------------------------------------------------------------------------
# random-cnn
# ---------------------------------------------------------------------------------------------
def test_random_cnn_is_deterministic_given_its_seed_and_leaves_the_global_rng():
    before = torch.random.get_rng_state()
    s0, m0 = random_cnn_state(1, seed=0)
    s0b, m0b = random_cnn_state(1, seed=0)
    s1, m1 = random_cnn_state(1, seed=1)
    assert torch.equal(torch.random.get_rng_state(), before)
    assert m0["weights"] == m0b["weights"] and all(torch.equal(s0[k], s0b[k]) for k in s0)
    assert m1["weights"] != m0["weights"]


@needs_fashion
def test_random_cnn_space_gives_the_same_features_from_two_builds(tmp_path, monkeypatch):
    from wgan_core.metrics.classifier import ClassifierFeatures

    monkeypatch.setenv("WGAN_CACHE_DIR", str(tmp_path))
    e1 = space_extractor("random-cnn", "fashion-mnist")
    e1.weights.unlink()  # rebuilt from the seed alone
    e2 = space_extractor("random-cnn", "fashion-mnist")
    assert e1 == e2 and e2.weights.is_file() and e2.name.startswith("random-cnn-c1-s0-w")
    x = _images(8, side=28)
    f = [ClassifierFeatures(e.name, ["feature"], str(e.weights))(x)[0] for e in (e1, e2)]
    assert torch.equal(f[0], f[1]) and f[0].shape == (8, 128) and f[0].std() > 0


# ---------------------------------------------------------------------------------------------
# Spaces that need weights
# ---------------------------------------------------------------------------------------------
def test_weighted_spaces_refuse_in_one_line_naming_what_to_supply(tmp_path, monkeypatch):
    monkeypatch.delenv("WGAN_INCEPTION_WEIGHTS", raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "th"))  # no hub copy of the Inception weights
    for name, flag in (("inception", "--inception-weights"), ("vgg16", "--feature-weights")):
        with pytest.raises(ConfigError) as e:
            space_extractor(name, "fashion-mnist")
        assert flag in str(e.value) and "\n" not in str(e.value)
    torch.save({"features.0.weight": torch.zeros(64, 3, 3, 3)}, tmp_path / "part.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a zip")
    with pytest.raises(ConfigError, match="not a torchvision vgg16 state dict"):
        space_extractor("vgg16", "fashion-mnist", weights=tmp_path / "part.pt")
    with pytest.raises(ConfigError, match="cannot load .*junk.pt as a state dict"):
        space_extractor("vgg16", "fashion-mnist", weights=tmp_path / "junk.pt")
    with pytest.raises(ConfigError, match="'pixels' takes no weights file"):
        space_extractor("pixels", "fashion-mnist", weights=tmp_path / "part.pt")


# ---------------------------------------------------------------------------------------------
# The metrics command
# ---------------------------------------------------------------------------------------------
def test_cli_lists_every_space_with_its_source(capsys):
    assert main(["metrics", "--list-feature-spaces"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in out] == list(feature_space_names())
    for line, name in zip(out, feature_space_names()):
        assert get_feature_space(name).source in line


@pytest.mark.parametrize(
    "args, message",
    [
        (["--feature-space", "nope"], "unknown 'nope'; allowed: pixels, random-cnn"),
        (["--feature-space", "vgg16"], "needs --feature-weights PATH"),
        (["--feature-space", "vgg16", "--feature-weights", "WEIGHTS"], "not a torchvision vgg16 state dict"),
        (["--feature-space", "inception", "--inception-weights", "WEIGHTS"], "is not an inception-v3-compat state dict"),
        (["--feature-space", "digits", "--extractor", "classifier"], "differ; give one"),
        ([], None),
    ],
    ids=["unknown", "no-weights", "bad-weights", "bad-inception-weights", "two-spaces", "no-dataset"],
)
def test_cli_bad_feature_space_input_is_one_line_exit_2(tmp_path, capsys, args, message):
    torch.save({"x": torch.zeros(2)}, tmp_path / "w.pt")
    np.save(tmp_path / "s.npy", np.zeros((10, 1, 28, 28), dtype=np.uint8))
    base = ["metrics", "--dataset", "fashion-mnist", "--samples", str(tmp_path / "s.npy")] if args else ["metrics"]
    rc = main([*base, *[str(tmp_path / "w.pt") if a == "WEIGHTS" else a for a in args]])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and err.startswith("error:"), err
    assert re.search(message or "give --dataset", err), err


@needs_fashion
def test_cli_pixel_space_of_the_reference_itself_scores_perfectly(tmp_path, capsys):
    from wgan_core.data import load_images

    real = load_images("fashion-mnist", "test")[0][:200]
    np.save(tmp_path / "real.npy", real.numpy())
    argv = ["metrics", "--dataset", "fashion-mnist", "--samples", str(tmp_path / "real.npy"), "--n-real", "200", "--feature-space", "pixels"]
    with pytest.warns(UserWarning, match="KID"):
        assert main(argv) == 0
    m = __import__("json").loads(capsys.readouterr().out)
    assert m["extractor"] == f"pixels-{PIXEL_SIDE}px" and m["n"] == m["n_real"] == 200
    assert abs(m["fid"]) < 1e-6 and m["precision"] == m["recall"] == 1.0 and math.isfinite(m["class_kl"])


def test_image_metrics_takes_any_space_name_and_refuses_an_unknown_one():
    with pytest.raises(ConfigError, match="unknown 'nope'; allowed"):
        image_metrics(torch.zeros(10, 1, 28, 28, dtype=torch.uint8), "fashion-mnist", extractor="nope")
