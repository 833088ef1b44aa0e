import os
from pathlib import Path

import pytest
import torch

from wgan_core import RunConfig
from wgan_core.data import DEBIAN_FASHION_MNIST

# Tiny models: one thread is as fast, and far faster when other jobs share the cores.
torch.set_num_threads(1)

HAVE_FASHION = Path(os.environ.get("WGAN_DATA_DIR", DEBIAN_FASHION_MNIST), "train-images-idx3-ubyte.gz").exists()
# CI sets WGAN_REQUIRE_FASHION=1: there a missing data set fails every test that needs it, loudly, instead of skipping them.
if not HAVE_FASHION and os.environ.get("WGAN_REQUIRE_FASHION") == "1":
    raise pytest.UsageError("WGAN_REQUIRE_FASHION=1 but Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)")
needs_fashion = pytest.mark.skipif(not HAVE_FASHION, reason="Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)")


def tiny_toy(variant: str = "wgan-gp", dataset: str = "8gaussians", **kw) -> RunConfig:
    """A toy run small enough for a unit test: width 32, batch 32, 200 evaluation samples."""
    base = dict(width=32, batch_size=32, eval_samples=200, eval_every=2, checkpoint_every=2, steps=4, device="cpu")
    base.update(kw)
    return RunConfig.preset(variant, dataset, **base)


def tiny_image(variant: str = "wgan-gp", **kw) -> RunConfig:
    """A Fashion-MNIST run on the first 256 training images with a width-8 DCGAN."""
    base = dict(width=8, z_dim=16, batch_size=16, data_limit=256, eval_samples=64, final_eval_samples=100, eval_every=2,
                checkpoint_every=2, steps=2, device="cpu")
    base.update(kw)
    return RunConfig.preset(variant, "fashion-mnist", **base)


@pytest.fixture(scope="session", autouse=True)
def _tiny_classifier_cache(tmp_path_factory):
    """Image runs in tests use a tiny feature classifier, trained once per session into a temporary cache.

    Without this, the first Fashion-MNIST run on a fresh machine would train the full
    classifier (minutes) inside a test, and write into the user's cache.
    """
    from wgan_core.metrics import classifier

    mp = pytest.MonkeyPatch()
    mp.setenv("WGAN_CACHE_DIR", str(tmp_path_factory.mktemp("wgan-cache")))
    mp.setattr(classifier, "DEFAULT_SETTINGS", classifier.ClassifierSettings(width=8, features=32, epochs=1, limit=2000, batch_size=128))
    from wgan_core.metrics import modes

    mp.setattr(modes, "DIGIT_SETTINGS", classifier.ClassifierSettings(width=8, features=32, epochs=3))  # ~1 s; 96% held out
    yield
    mp.undo()


def ablation_main(argv, capsys):
    """`python -m wgan_core study ARGV` in this process: (exit code, captured output)."""
    from wgan_core.cli import main

    return main(["study", *argv]), capsys.readouterr()


def pytest_collection_modifyitems(config, items):
    """Tests marked cuda (`pytest -m cuda`: what benchmarks/gpu.py runs) are skipped where no CUDA device is."""
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if item.get_closest_marker("cuda") is not None:
            item.add_marker(skip)
