"""Image metrics: FID/KID/precision-recall through torch-fidelity on the suite's classifier features,
agreement with a scipy reference, the Inception plumbing offline, one-line errors, and a short run's columns.

A tiny classifier (trained once for this module, in seconds, into a temporary cache) stands in for
the real one: the properties tested hold for any reasonable feature network.
"""

import json
import math
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy import linalg

from wgan_core import train
from wgan_core.cli import main
from wgan_core.config import ConfigError
from wgan_core.data import load_images
from wgan_core.fileio import read_rows
from wgan_core.metrics import classifier, image_metrics
from wgan_core.metrics.classifier import ClassifierFeatures, ClassifierSettings, get_classifier, train_classifier
from wgan_core.metrics.image import ImageSet, as_uint8, fidelity, final_fakes, load_samples, resolve_extractor

from .conftest import HAVE_FASHION, needs_fashion, tiny_image

ROOT = Path(__file__).resolve().parents[1]
TINY = ClassifierSettings(width=8, features=32, epochs=1, limit=2000, batch_size=128)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A tiny Fashion-MNIST classifier as the default, in a fresh cache directory, for this module only."""
    if not Path("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz").exists() and not __import__("os").environ.get("WGAN_DATA_DIR"):
        pytest.skip("Fashion-MNIST not installed")
    mp = pytest.MonkeyPatch()
    mp.setenv("WGAN_CACHE_DIR", str(tmp_path_factory.mktemp("wgan-cache")))
    mp.setattr(classifier, "DEFAULT_SETTINGS", TINY)
    yield get_classifier("fashion-mnist")
    mp.undo()


@pytest.fixture(scope="module")
def train_x():
    return load_images("fashion-mnist", "train")[0][:6000]  # uint8 (6000, 1, 28, 28)


def _noisy(x: torch.Tensor, sigma: float, seed: int = 0) -> torch.Tensor:
    """x uint8 plus Gaussian noise of std sigma in the [-1, 1] scale, clipped: float in [-1, 1]."""
    g = torch.Generator().manual_seed(seed)
    return (x.float() / 127.5 - 1 + sigma * torch.randn(x.shape, generator=g)).clamp(-1, 1)


def _fid(a, b, ext) -> float:
    return fidelity(as_uint8(a), as_uint8(b), ext, kid=False)["fid"]


# ---------------------------------------------------------------------------------------------
# FID's properties on real data
# ---------------------------------------------------------------------------------------------
@needs_fashion
def test_fid_of_a_set_with_itself_is_zero(tiny, train_x):
    ext = resolve_extractor("classifier", "fashion-mnist")
    a = train_x[:1000]
    noisy = _fid(a, _noisy(a, 0.5), ext)
    assert abs(_fid(a, a, ext)) < 1e-6 * noisy


@needs_fashion
def test_fid_between_real_halves_is_small_and_noise_is_large(tiny, train_x):
    ext = resolve_extractor("classifier", "fashion-mnist")
    a, b = train_x[:2000], train_x[2000:4000]  # disjoint halves of the training split
    halves = _fid(a, b, ext)
    noisy = _fid(_noisy(a, 0.5), a, ext)  # the same images under strong noise
    assert 0 < halves < 0.05 * noisy


@needs_fashion
def test_fid_grows_monotonically_with_the_noise_level(tiny, train_x):
    ext = resolve_extractor("classifier", "fashion-mnist")
    a = train_x[:1000]
    fids = [_fid(_noisy(a, s), a, ext) for s in (0.0, 0.05, 0.1, 0.2, 0.4, 0.8)]  # the same images, noisier and noisier
    assert abs(fids[0]) < 1e-9 and all(lo < hi for lo, hi in zip(fids, fids[1:])), fids


@needs_fashion
def test_uniform_noise_scores_far_worse_than_any_real_subset(tiny, train_x):
    ext = resolve_extractor("classifier", "fashion-mnist")
    ref = train_x[:1000]
    real = [_fid(train_x[i : i + 500], ref, ext) for i in (1000, 2000, 3000, 4000)]
    uniform = torch.randint(0, 256, (500, 1, 28, 28), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    assert _fid(uniform, ref, ext) > 10 * max(real)


def _scipy_fid(f1: np.ndarray, f2: np.ndarray) -> float:
    """Test-only reference: ||mu1 - mu2||^2 + tr(S1 + S2 - 2 sqrtm(S1 S2)), in float64 with scipy."""
    f1, f2 = f1.astype(np.float64), f2.astype(np.float64)
    mu1, mu2 = f1.mean(0), f2.mean(0)
    s1, s2 = np.cov(f1, rowvar=False), np.cov(f2, rowvar=False)
    covmean = linalg.sqrtm(s1 @ s2).real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


@needs_fashion
@pytest.mark.parametrize("sigma", [0.0, 0.3], ids=["real-halves", "noisy"])
def test_fid_agrees_with_scipy_on_the_same_features(tiny, train_x, sigma):
    ext = resolve_extractor("classifier", "fashion-mnist")
    a, b = as_uint8(_noisy(train_x[:2000], sigma) if sigma else train_x[:2000]), train_x[2000:4000]
    fe = ClassifierFeatures(ext.name, ["feature"], feature_extractor_weights_path=str(ext.weights))
    with torch.no_grad():
        f1, f2 = (torch.cat([fe(x[i : i + 500])[0] for i in range(0, len(x), 500)]).numpy() for x in (a, b))
    got = fidelity(a, b, ext, kid=False)["fid"]
    torch.testing.assert_close(got, _scipy_fid(f1, f2), rtol=1e-3, atol=0)


# ---------------------------------------------------------------------------------------------
# The full dict, KID's subset size, the class histogram, the cache
# ---------------------------------------------------------------------------------------------
@needs_fashion
def test_image_metrics_dict_sizes_labels_and_input_types(tiny, train_x):
    x = train_x[:400]
    m = image_metrics(x, "fashion-mnist", n_real=2000, kid_subset_size=100)
    assert set(m) == {"fid", "kid", "kid_std", "precision", "recall", "class_kl", "extractor", "n", "n_real", "split", "kid_subset_size"}
    assert (m["extractor"], m["n"], m["n_real"], m["kid_subset_size"]) == (tiny.name, 400, 2000, 100)
    assert 0 <= m["precision"] <= 1 and 0 <= m["recall"] <= 1 and m["class_kl"] >= 0
    # float input in [-1, 1] is the same images: the same numbers
    mf = image_metrics(x.float() / 127.5 - 1, "fashion-mnist", n_real=2000, kid_subset_size=100)
    assert mf == m
    assert image_metrics(x, "fashion-mnist", n=200, n_real=2000, kid_subset_size=100, prc=False)["n"] == 200


@needs_fashion
def test_class_kl_flags_mode_dropping(tiny):
    test_x, test_y = load_images("fashion-mnist", "test")
    kw = dict(n_real=2000, kid_subset_size=100, prc=False)
    spread = image_metrics(test_x[5000:6000], "fashion-mnist", **kw)["class_kl"]
    one_class = image_metrics(test_x[test_y == 1][:600], "fashion-mnist", **kw)["class_kl"]  # trousers only
    # all in one class: near log(10), the most KL(p_fake || p_real) can be for ten balanced classes
    assert 0 <= spread < one_class - 1.0 and one_class < 2.6


@needs_fashion
def test_kid_subset_size_adapts_to_few_fakes_and_says_so(tiny, train_x):
    ext = resolve_extractor("classifier", "fashion-mnist")
    with pytest.warns(UserWarning, match="using subsets of 50"):
        r = fidelity(train_x[:50], train_x[1000:3000], ext)
    assert r["kid_subset_size"] == 50 and math.isfinite(r["kid"])
    with pytest.raises(ConfigError, match=r"kid_subset_size: must lie in \[2, 50\]"):
        fidelity(train_x[:50], train_x[1000:3000], ext, kid_subset_size=100)
    with pytest.raises(ConfigError, match="at least 4 images"):
        fidelity(train_x[:3], train_x[1000:3000], ext, prc=True)


@needs_fashion
def test_reference_features_are_cached_so_evaluations_cost_only_the_fakes(tiny, train_x, monkeypatch):
    image_metrics(train_x[:100], "fashion-mnist", kid_subset_size=50, prc=False, class_kl=False)  # fills the cache
    cached = sorted(p.name for p in (classifier.cache_dir() / "fidelity").iterdir())
    assert any(tiny.name in n and "-test-28px-" in n and "features" in n for n in cached), cached
    assert any(tiny.name in n and "stat-fid" in n for n in cached), cached
    reads = []
    orig = ImageSet.__getitem__
    monkeypatch.setattr(ImageSet, "__getitem__", lambda self, i: reads.append(len(self)) or orig(self, i))
    image_metrics(train_x[100:300], "fashion-mnist", kid_subset_size=50, prc=False, class_kl=False)
    assert reads and set(reads) == {200}  # only the 200 fakes went through the network


# ---------------------------------------------------------------------------------------------
# The classifier
# ---------------------------------------------------------------------------------------------
@needs_fashion
def test_classifier_training_is_deterministic_for_a_seed_and_leaves_the_global_rng(tiny):
    s = ClassifierSettings(width=4, features=8, epochs=1, limit=512, batch_size=64)
    rng = torch.get_rng_state()
    a, meta = train_classifier("fashion-mnist", s)
    assert torch.equal(torch.get_rng_state(), rng)
    b, _ = train_classifier("fashion-mnist", s)
    c, _ = train_classifier("fashion-mnist", ClassifierSettings(**{**s.to_dict(), "seed": 1}))
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=0)
    assert not torch.equal(a["embed.0.weight"], c["embed.0.weight"])
    assert meta["train_images"] == 512 and 0.1 < meta["test_accuracy"] <= 1


@needs_fashion
def test_classifier_cache_is_keyed_by_settings_and_loads_weights_only(tiny, monkeypatch):
    monkeypatch.setattr(classifier, "train_classifier", lambda *a, **k: pytest.fail("a cached classifier was retrained"))
    again = get_classifier("fashion-mnist")
    assert again.path == tiny.path and again.name == tiny.name
    blob = torch.load(tiny.path, map_location="cpu", weights_only=True)
    assert blob["meta"]["settings"] == TINY.to_dict() and blob["meta"]["key"] in tiny.path.name
    with pytest.raises(ConfigError, match="no cached classifier"):
        get_classifier("fashion-mnist", settings=ClassifierSettings(**{**TINY.to_dict(), "seed": 7}), train=False)
    with pytest.raises(ConfigError, match="epochs"):
        ClassifierSettings(epochs=0)


@needs_fashion
def test_concurrent_first_uses_train_the_classifier_once(tiny, monkeypatch):
    import threading

    calls = []

    def slow_fake_training(*a, **k):
        calls.append(1)
        time.sleep(0.5)
        return {}, {"test_accuracy": 0.5, "train_time_s": 0.5}

    monkeypatch.setattr(classifier, "train_classifier", slow_fake_training)
    settings = ClassifierSettings(**{**TINY.to_dict(), "seed": 123})  # a key not yet in the cache
    got = []
    threads = [threading.Thread(target=lambda: got.append(get_classifier("fashion-mnist", settings=settings, log=lambda m: None))) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and len(got) == 3 and len({g.path for g in got}) == 1


# ---------------------------------------------------------------------------------------------
# Inception, offline
# ---------------------------------------------------------------------------------------------
@pytest.fixture
def offline(monkeypatch, tmp_path):
    """No Inception file anywhere, and any network access fails the test at once."""
    import urllib.request

    import torch_fidelity.feature_extractor_inceptionv3 as tf_inception

    def no_network(*a, **k):
        raise AssertionError("network access attempted")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    monkeypatch.setattr(tf_inception, "load_state_dict_from_url", no_network)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    monkeypatch.delenv("WGAN_INCEPTION_WEIGHTS", raising=False)
    return tmp_path


def _random_inception_weights(path: Path) -> Path:
    """A state dict of the right structure with random values (made without torch-fidelity's download)."""
    from unittest import mock

    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    torch.manual_seed(0)
    with mock.patch.object(FeatureExtractorInceptionV3, "load_state_dict", lambda self, sd: None), mock.patch(
        "torch_fidelity.feature_extractor_inceptionv3.load_state_dict_from_url", lambda *a, **k: {}
    ):
        net = FeatureExtractorInceptionV3("inception-v3-compat", ["2048"])
    torch.save(net.state_dict(), path)
    return path


@pytest.mark.slow  # a subprocess or end-to-end run: nox -s slow (CI runs it)
@needs_fashion
def test_inception_plumbing_offline_with_a_weights_file(tiny, train_x, offline):
    weights = _random_inception_weights(offline / "inception.pth")
    with pytest.warns(UserWarning, match="subsets of 4"):  # 4 + 4 images at 299x299: a few seconds on a CPU
        m = image_metrics(train_x[:4], "fashion-mnist", extractor="inception", inception_weights=weights, n_real=4, class_kl=False)
    assert m["extractor"] == "inception-v3-compat" and (m["n"], m["n_real"], m["kid_subset_size"]) == (4, 4, 4)
    assert all(math.isfinite(m[k]) for k in ("fid", "kid", "precision", "recall"))
    cached = [p.name for p in (classifier.cache_dir() / "fidelity").iterdir() if "inception-v3-compat" in p.name]
    assert cached and all("-first4-w" in n for n in cached)  # the weights' hash keeps other weights' caches apart


def test_missing_inception_weights_fail_with_instructions(offline):
    with pytest.raises(ConfigError, match="--inception-weights PATH.*WGAN_INCEPTION_WEIGHTS"):
        resolve_extractor("inception", "fashion-mnist")
    with pytest.raises(ConfigError, match="is not a file"):
        resolve_extractor("inception", "fashion-mnist", inception_weights=offline / "nope.pth")


def test_inception_download_failure_is_a_config_error(offline, monkeypatch):
    import urllib.error
    import urllib.request

    def refused(*a, **k):
        raise urllib.error.URLError("no route to host")

    monkeypatch.setattr(urllib.request, "urlopen", refused)
    with pytest.raises(ConfigError, match="download failed"):
        resolve_extractor("inception", "fashion-mnist", download=True)


def test_a_wrong_inception_file_is_a_config_error(offline, monkeypatch):
    torch.save({"fc.weight": torch.zeros(3, 3)}, offline / "wrong.pth")
    with pytest.raises(ConfigError, match="is not an inception-v3-compat state dict"):
        resolve_extractor("inception", "fashion-mnist", inception_weights=offline / "wrong.pth")
    (offline / "junk.pth").write_bytes(b"not a checkpoint")
    monkeypatch.setenv("WGAN_INCEPTION_WEIGHTS", str(offline / "junk.pth"))
    with pytest.raises(ConfigError, match="cannot load"):
        resolve_extractor("inception", "fashion-mnist")


# ---------------------------------------------------------------------------------------------
# Bad input: ConfigError from the API, one line and exit 2 from the CLI
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "images, message",
    [
        (torch.zeros(10, 28, 28, dtype=torch.uint8), r"expected images \(N, C, H, W\)"),
        (torch.zeros(10, 1, 28, 20, dtype=torch.uint8), "square images"),
        (torch.full((10, 1, 28, 28), 2.0), r"must lie in \[-1, 1\]"),
        (torch.full((10, 1, 28, 28), float("nan")), "NaN"),
        (torch.full((10, 1, 28, 28), 300, dtype=torch.int64), r"must lie in \[0, 255\]"),
        (torch.zeros(10, 1, 28, 28, dtype=torch.bool), "expected uint8 images"),
    ],
    ids=["3d", "not-square", "range", "nan", "int-range", "dtype"],
)
def test_bad_images_are_config_errors(images, message):
    with pytest.raises(ConfigError, match=message):
        as_uint8(images)


@pytest.mark.parametrize(
    "dataset, extractor, message",
    [
        ("nope", "classifier", "dataset: unknown 'nope'"),
        ("8gaussians", "classifier", "not an image data set"),
        ("fashion-mnist", "nope", "feature space: unknown 'nope'; allowed"),
    ],
)
def test_bad_dataset_or_extractor_is_a_config_error(dataset, extractor, message):
    with pytest.raises(ConfigError, match=message):
        image_metrics(torch.zeros(10, 1, 28, 28, dtype=torch.uint8), dataset, extractor=extractor)


@needs_fashion
def test_wrong_channel_count_is_a_config_error(tiny):
    with pytest.raises(ConfigError, match="3-channel images, but fashion-mnist has 1"):
        image_metrics(torch.zeros(10, 3, 28, 28, dtype=torch.uint8), "fashion-mnist")


def _write_bad_samples(tmp_path: Path) -> dict[str, Path]:
    np.save(tmp_path / "flat.npy", np.zeros((10, 784), dtype=np.uint8))
    np.save(tmp_path / "range.npy", np.full((10, 1, 28, 28), 3.0, dtype=np.float32))
    (tmp_path / "junk.npy").write_bytes(b"\x00garbage")
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "empty").mkdir()
    return {p.name: p for p in tmp_path.iterdir()}


@needs_fashion
@pytest.mark.parametrize(
    "args, message",
    [
        (["--samples", "flat.npy"], r"expected images \(N, C, H, W\)"),
        (["--samples", "range.npy"], r"must lie in \[-1, 1\]"),
        (["--samples", "junk.npy"], "samples: cannot read"),
        (["--samples", "notes.txt"], "not an .npy or .pt file"),
        (["--samples", "missing.npy"], "does not exist"),
        (["--samples", "empty"], "holds no image files"),
        (["--samples", "range.npy", "--dataset", "nope"], "dataset: unknown 'nope'"),
    ],
    ids=["shape", "range", "unreadable", "suffix", "missing", "empty-folder", "dataset"],
)
def test_cli_metrics_bad_input_is_one_line_exit_2(tmp_path, capsys, args, message):
    _write_bad_samples(tmp_path)
    args = [a if not a.endswith((".npy", ".txt")) and a != "empty" else str(tmp_path / a) for a in args]
    rc = main(["metrics", "--dataset", "fashion-mnist", *args])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and err.startswith("error:"), err
    assert __import__("re").search(message, err), err


def test_cli_unknown_extractor_is_exit_2(capsys):
    with pytest.raises(SystemExit) as e:
        main(["metrics", "--dataset", "fashion-mnist", "--samples", "x.npy", "--extractor", "vgg16"])
    assert e.value.code == 2 and len(capsys.readouterr().err.strip().splitlines()) == 1


@pytest.mark.slow  # a subprocess or end-to-end run: nox -s slow (CI runs it)
@needs_fashion
def test_cli_missing_inception_weights_exit_2_in_a_subprocess(tmp_path):
    """A real process with no weights anywhere: one line, exit 2, no download attempted (no network here either)."""
    env = {**__import__("os").environ, "WGAN_CACHE_DIR": str(tmp_path / "cache"), "TORCH_HOME": str(tmp_path / "th"), "PYTHONPATH": str(ROOT)}
    env.pop("WGAN_INCEPTION_WEIGHTS", None)
    np.save(tmp_path / "ok.npy", np.zeros((10, 1, 28, 28), dtype=np.uint8))
    cmd = [sys.executable, "-m", "wgan_core", "metrics", "--dataset", "fashion-mnist", "--samples", str(tmp_path / "ok.npy"), "--extractor", "inception"]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "WGAN_INCEPTION_WEIGHTS" in r.stderr, r.stderr
    assert not (tmp_path / "th").exists()  # nothing was fetched into torch-fidelity's cache


# ---------------------------------------------------------------------------------------------
# Samples from files and the metrics command
# ---------------------------------------------------------------------------------------------
def test_load_samples_layouts(tmp_path):
    from PIL import Image

    x = torch.randint(0, 256, (5, 1, 28, 28), dtype=torch.uint8)
    np.save(tmp_path / "nhw.npy", x[:, 0].numpy())
    np.save(tmp_path / "nhwc.npy", x.permute(0, 2, 3, 1).numpy())
    torch.save({"images": x.float() / 127.5 - 1}, tmp_path / "dict.pt")
    (tmp_path / "pngs").mkdir()
    for i, im in enumerate(x[:, 0].numpy()):
        Image.fromarray(im).save(tmp_path / "pngs" / f"{i:03d}.png")
    for name in ("nhw.npy", "nhwc.npy", "dict.pt", "pngs"):
        torch.testing.assert_close(as_uint8(load_samples(tmp_path / name, channels=1)), x, rtol=0, atol=0)


@needs_fashion
def test_cli_metrics_prints_the_dict_as_json(tiny, train_x, tmp_path, capsys):
    np.save(tmp_path / "fake.npy", train_x[:300].numpy())
    rc = main(["metrics", "--dataset", "fashion-mnist", "--samples", str(tmp_path / "fake.npy"), "--n-real", "1000", "--kid-subset-size", "100"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0 and out["extractor"] == tiny.name and (out["n"], out["n_real"]) == (300, 1000)
    assert out == image_metrics(train_x[:300], "fashion-mnist", n_real=1000, kid_subset_size=100)


# ---------------------------------------------------------------------------------------------
# In training
# ---------------------------------------------------------------------------------------------
@needs_fashion
def test_short_run_writes_fid_kid_and_extractor_columns(tiny, tmp_path):
    config = tiny_image(final_eval_samples=100)
    final = train(config, tmp_path, progress=False)
    rows = read_rows(tmp_path / "metrics.csv")
    assert [int(r["step"]) for r in rows] == [0, 2]
    for r in rows:
        assert r["extractor"] == tiny.name and (int(r["n_fake"]), int(r["n_real"])) == (config.eval_samples, 10000)
        assert math.isfinite(float(r["fid"])) and float(r["fid"]) > 0 and math.isfinite(float(r["kid"])) and float(r["kid_std"]) >= 0
    m = final["metrics"]
    assert (m["extractor"], m["n_fake"], m["n_real"]) == (tiny.name, 100, 10000)
    assert all(math.isfinite(m[k]) for k in ("fid", "kid", "precision", "recall", "class_kl"))


@needs_fashion
def test_final_fakes_come_from_a_fixed_seeded_stream(tiny):
    from wgan_core import Trainer

    t = Trainer(tiny_image(final_eval_samples=30))
    a, b = final_fakes(t.config, t.sample), final_fakes(t.config, t.sample)
    assert a.dtype == torch.uint8 and a.shape == (30, 1, 28, 28) and torch.equal(a, b)
    other = Trainer(tiny_image(final_eval_samples=30, seed=1))
    assert not torch.equal(a, final_fakes(other.config, other.sample))


# ---------------------------------------------------------------------------------------------
# A generator trained elsewhere: TorchScript, torch.export, one of our runs
# ---------------------------------------------------------------------------------------------
class _TinyGenerator(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.net = torch.nn.Sequential(torch.nn.Linear(8, 28 * 28), torch.nn.Tanh())

    def forward(self, z):
        return self.net(z).reshape(-1, 1, 28, 28)  # (N, 1, 28, 28) in [-1, 1]


def test_generator_files_give_the_module_s_own_samples(tmp_path):
    from wgan_core.metrics.generator_file import generate, load_generator

    g = _TinyGenerator().eval()
    torch.jit.save(torch.jit.script(g), tmp_path / "g.pt")
    torch.export.save(torch.export.export(g, (torch.randn(4, 8),), dynamic_shapes=({0: torch.export.Dim("n", min=1)},)), tmp_path / "g.pt2")
    z = torch.randn(7, 8, generator=torch.Generator().manual_seed(3))  # what generate draws for seed 3, in one batch
    with torch.no_grad():
        want = g(z)
    for name in ("g.pt", "g.pt2"):
        got = generate(load_generator(tmp_path / name), 8, 7, seed=3)
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)
        # batches of 2 draw the same latents in order (a matmul over fewer rows may round differently in the last bit)
        torch.testing.assert_close(generate(load_generator(tmp_path / name), 8, 7, seed=3, batch=2), got, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize(
    ("make", "args", "message"),
    [
        (None, ["--generator", "missing.pt", "--z-dim", "8"], "generator: .* does not exist"),
        ("junk", ["--generator", "junk.pt", "--z-dim", "8"], "generator: cannot load .* as a TorchScript file"),
        ("junk", ["--generator", "junk.pt2", "--z-dim", "8"], "generator: cannot load .* as a torch.export program"),
        ("script", ["--generator", "g.pt"], "z-dim: --generator needs --z-dim"),
        ("script", ["--generator", "g.pt", "--z-dim", "5"], "generator: calling it on latents of shape"),
        (None, ["--run", "nowhere"], "run: .* is not a finished run directory"),
    ],
    ids=["missing", "junk-script", "junk-export", "no-z-dim", "wrong-z-dim", "no-run"],
)
def test_cli_metrics_generator_bad_input_is_one_line_exit_2(tmp_path, capsys, monkeypatch, make, args, message):
    monkeypatch.chdir(tmp_path)
    if make == "junk":
        for name in ("junk.pt", "junk.pt2"):
            (tmp_path / name).write_bytes(b"not a model")
    elif make == "script":
        torch.jit.save(torch.jit.script(_TinyGenerator()), tmp_path / "g.pt")
    if not HAVE_FASHION:
        pytest.skip("the metrics command reads the data set first")
    rc = main(["metrics", "--dataset", "fashion-mnist", "--num-samples", "10", *args])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and err.startswith("error:"), err
    assert __import__("re").search(message, err), err


@needs_fashion
def test_cli_metrics_of_a_generator_file_equal_those_of_its_samples(tiny, tmp_path, capsys):
    from wgan_core.metrics.generator_file import generate, load_generator

    torch.jit.save(torch.jit.script(_TinyGenerator()), tmp_path / "g.pt")
    common = ["--n-real", "1000", "--kid-subset-size", "100", "--no-prc"]
    rc = main(["metrics", "--dataset", "fashion-mnist", "--generator", str(tmp_path / "g.pt"), "--z-dim", "8", "--num-samples", "200", *common])
    out = json.loads(capsys.readouterr().out)
    fake = generate(load_generator(tmp_path / "g.pt"), 8, 200)
    torch.save(fake, tmp_path / "fake.pt")
    assert main(["metrics", "--dataset", "fashion-mnist", "--samples", str(tmp_path / "fake.pt"), *common]) == 0
    assert rc == 0 and out == json.loads(capsys.readouterr().out) and out["n"] == 200


@needs_fashion
def test_cli_metrics_of_one_of_our_runs(tiny, tmp_path, capsys):
    from wgan_core.fileio import json_safe
    from wgan_core.metrics.generator_file import generate, load_run_generator

    train(tiny_image(final_eval_samples=100), tmp_path / "run", progress=False)
    g, z_dim = load_run_generator(tmp_path / "run")
    assert z_dim == 16 and not g.training  # eval mode: batch-norm running statistics, as the run's own samples
    rc = main(["metrics", "--dataset", "fashion-mnist", "--run", str(tmp_path / "run"), "--num-samples", "64", "--n-real", "500",
               "--kid-subset-size", "50", "--no-prc"])  # fmt: skip
    out = json.loads(capsys.readouterr().out)
    assert rc == 0 and out["n"] == 64
    want = image_metrics(generate(g, z_dim, 64), "fashion-mnist", n_real=500, kid_subset_size=50, prc=False)
    assert out == json.loads(json.dumps(json_safe(want)))  # as printed: NaN (precision/recall skipped) becomes null
