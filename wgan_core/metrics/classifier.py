"""The offline feature network: a small CNN trained by the suite on a labelled data set's training split.

Fashion-MNIST, MNIST and other small labelled sets have no standard feature
network, and Inception needs weights from the internet; so, as is common for
MNIST-like data, FID, KID and precision/recall are computed on the penultimate
layer of a classifier trained on the data set itself, and its predicted classes
give a class histogram of the fakes (a mode-dropping signal). Figures from this
network are comparable with each other only, never with Inception FIDs: every
result is labelled with the network's name, which includes its cache key and a
digest of its trained weights. The digest matters: the same seeded training gives
other weights on another CPU (other kernels, other rounding), so two machines
that each train their own copy report FIDs on different networks under the same
cache key; the name tells them apart and the report says when a study mixes them.

The classifier is deterministic for a seed (its own seeded streams; the global
RNG is left as it was). Its weights are cached under
`$WGAN_CACHE_DIR/classifiers` (default `~/.cache/wgan-suite/classifiers`) under
a key built from the training data's content hash and the training settings,
written atomically and loaded with `torch.load(weights_only=True)`. It is
registered with torch-fidelity (`ClassifierFeatures`) so every metric goes
through torch-fidelity.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import math
import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_fidelity import FeatureExtractorBase
from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY, register_feature_extractor

from ..config import ConfigError, dataset_kind
from ..data import load_images, to_unit_range
from ..env import environment
from ..fileio import atomic_torch_save, write_json

ARCH_VERSION = 1  # bump when ClassifierNet changes: old cache entries are then never loaded
FEATURE_LAYER = "feature"  # the penultimate layer: FID, KID and precision/recall
LOGITS_LAYER = "logits"  # class scores: the class histogram


@dataclass(frozen=True)
class ClassifierSettings:
    """Everything that determines a trained classifier, apart from the data (part of the cache key)."""

    width: int = 16  # channels of the first conv block (then 2w and 4w)
    features: int = 128  # size of the feature layer
    epochs: int = 3  # passes over the training split
    batch_size: int = 128
    lr: float = 4e-3  # Adam, peak of the one-cycle schedule
    weight_decay: float = 1e-4
    seed: int = 0  # weights, data order and dropout
    limit: int = 0  # train on the first N training images only (0 = all); for tests

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            low = 0 if f.name in ("seed", "limit", "weight_decay") else 1e-12
            if not isinstance(v, (int, float)) or isinstance(v, bool) or v < low:
                raise ConfigError(f"classifier {f.name}: must be a number >= {low:g}, got {v!r}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


DEFAULT_SETTINGS = ClassifierSettings()


def cache_dir() -> Path:
    """$WGAN_CACHE_DIR, else ~/.cache/wgan-suite (read at call time, so tests can redirect it)."""
    return Path(os.environ.get("WGAN_CACHE_DIR") or Path.home() / ".cache" / "wgan-suite").expanduser()


# ---------------------------------------------------------------------------------------------
# The network
# ---------------------------------------------------------------------------------------------
def _block(c_in: int, c_out: int, k: int = 3) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, k, padding=k // 2, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]


class ClassifierNet(nn.Module):
    """conv5x5(w) pool | conv(2w) pool | conv(4w) -> linear(features) + BN -> ReLU, dropout -> linear(classes).

    Input (B, C, R, R) in [-1, 1]; `forward` returns (features (B, F), logits (B, K)). The features
    are the batch-normalised pre-activations of the penultimate layer: dense (no dead ReLU
    units), so their covariance has full rank.
    """

    def __init__(self, channels: int, classes: int, resolution: int, width: int = 16, features: int = 128) -> None:
        super().__init__()
        w = width
        self.body = nn.Sequential(
            *_block(channels, w, 5), nn.MaxPool2d(2),  # (B, w, R/2, R/2)
            *_block(w, 2 * w), nn.MaxPool2d(2),  # (B, 2w, R/4, R/4)
            *_block(2 * w, 4 * w),  # (B, 4w, R/4, R/4): 7x7 for 28, 8x8 for 32
            nn.Flatten(),
        )  # fmt: skip
        side = resolution // 4
        self.embed = nn.Sequential(nn.Linear(4 * w * side * side, features, bias=False), nn.BatchNorm1d(features))
        self.head = nn.Sequential(nn.ReLU(), nn.Dropout(0.3), nn.Linear(features, classes))
        self.channels, self.classes, self.resolution = channels, classes, resolution

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        f = self.embed(self.body(x))  # (B, F)
        return f, self.head(f)  # (B, F), (B, K)


# ---------------------------------------------------------------------------------------------
# Data, keys and the cache
# ---------------------------------------------------------------------------------------------
@lru_cache(maxsize=6)
def load_split(dataset: str, split: str, data_dir: str = "", download: bool = False, resolution: int = 0) -> tuple[Tensor, Tensor | None, str]:
    """(images uint8 (N, C, H, W), labels (N,) or None, content hash) of a split; memoised per process."""
    if dataset_kind(dataset) != "image":
        raise ConfigError(f"dataset: {dataset!r} is not an image data set; image metrics need fashion-mnist, mnist, cifar10 or folder:PATH")
    x, y = load_images(dataset, split, data_dir, download, resolution)
    h = hashlib.sha256()
    h.update(repr((tuple(x.shape), str(x.dtype))).encode())
    h.update(x.numpy().tobytes())
    if y is not None:
        h.update(y.numpy().tobytes())
    return x, y, h.hexdigest()


def _slug(dataset: str) -> str:
    """A file-name-safe form of a data set name (folder:PATH keeps only its last component)."""
    base = dataset if not dataset.startswith("folder:") else "folder-" + Path(dataset[len("folder:") :]).name
    return "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in base)


def weights_digest(state: dict[str, Tensor]) -> str:
    """sha256 (hex) over a state dict's names, dtypes, shapes and bytes, in name order: the identity of trained weights."""
    h = hashlib.sha256()
    for k in sorted(state):
        t = state[k].detach().cpu().contiguous()
        h.update(f"{k}:{t.dtype}:{tuple(t.shape)};".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def classifier_key(dataset: str, data_hash: str, settings: ClassifierSettings) -> str:
    """16 hex digits naming a classifier: the training data's content hash, the settings, the architecture version."""
    canon = json.dumps({"data": data_hash, "settings": settings.to_dict(), "arch": ARCH_VERSION}, sort_keys=True)
    return hashlib.sha256(canon.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class ClassifierInfo:
    """A cached classifier: where its weights are, the name it is registered under, what it measured."""

    path: Path
    name: str  # torch-fidelity feature extractor name, and the `extractor` column of metric rows
    meta: dict[str, Any]


def _need_labels(dataset: str, labels: Tensor | None) -> Tensor:
    if labels is None:
        raise ConfigError(
            f"extractor: the classifier needs class labels and {dataset!r} has none; use the inception extractor "
            "(--extractor inception, with --inception-weights PATH or WGAN_INCEPTION_WEIGHTS)"
        )
    return labels


def get_classifier(
    dataset: str,
    data_dir: str = "",
    download: bool = False,
    settings: ClassifierSettings | None = None,
    *,
    train: bool = True,
    force: bool = False,
    log: Callable[[str], None] | None = None,
) -> ClassifierInfo:
    """The cached classifier for a data set, trained first if it is not cached (or if `force`)."""
    settings = settings or DEFAULT_SETTINGS
    _, labels, data_hash = load_split(dataset, "train", data_dir, download)
    _need_labels(dataset, labels)
    return cached_classifier(
        dataset, data_hash, settings, lambda: train_classifier(dataset, settings, data_dir, download),
        train=train, force=force, log=log, hint=f"train one with `python -m wgan_core classifier train --dataset {dataset}`",
    )  # fmt: skip


def cached_classifier(
    dataset: str,
    data_hash: str,
    settings: ClassifierSettings,
    fit: Callable[[], tuple[dict[str, Tensor], dict[str, Any]]],
    *,
    train: bool = True,
    force: bool = False,
    log: Callable[[str], None] | None = None,
    hint: str = "",
) -> ClassifierInfo:
    """The classifier named `dataset` whose training data hash to `data_hash`: from the cache, else `fit()` once.

    fit() -> (state_dict, meta with test_accuracy and train_time_s), as `train_classifier` or
    `fit_classifier` return; key, name, data_hash and weights (their digest) are added to the meta before it is cached.
    """
    key = classifier_key(dataset, data_hash, settings)
    path = cache_dir() / "classifiers" / f"{_slug(dataset)}-{key}.pt"
    log = log or (lambda m: print(m, file=sys.stderr))
    meta = None if force else _cached_meta(path, log)
    if meta is None and not train:
        raise ConfigError(f"extractor: no cached classifier for {dataset!r}" + (f"; {hint}" if hint else ""))
    if meta is None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with _lock(path.with_suffix(".lock")):  # the runs of a study start together: one trains, the others wait
            meta = None if force else _cached_meta(path, log)
            if meta is None:
                log(f"training the {dataset} feature classifier once ({settings.epochs} epochs; cached in {path.parent})")
                state, meta = fit()
                digest = weights_digest(state)
                meta.update(key=key, name=_name(dataset, key, digest), data_hash=data_hash, weights=digest)
                atomic_torch_save({"state_dict": state, "meta": meta}, path)  # temporary file, then os.replace
                write_json(path.with_suffix(".json"), meta)
                log(f"classifier {meta['name']}: test accuracy {meta['test_accuracy']:.4f}, trained in {meta['train_time_s']:.0f} s")
    if "weights" not in meta:  # cached before names carried the weights' digest: read it off the file
        meta = {**meta, "weights": weights_digest(torch.load(path, map_location="cpu", weights_only=True)["state_dict"])}
    return _registered(ClassifierInfo(path, _name(dataset, key, meta["weights"]), meta))


def _name(dataset: str, key: str, digest: str) -> str:
    """classifier-<data set>-<8 of the cache key>-w<8 of the weights' digest>: the recipe and the weights it gave."""
    return f"classifier-{_slug(dataset)}-{key[:8]}-w{digest[:8]}"


def _cached_meta(path: Path, log: Callable[[str], None]) -> dict[str, Any] | None:
    if not path.exists():
        return None
    try:
        return torch.load(path, map_location="cpu", weights_only=True)["meta"]
    except Exception as e:  # a damaged cache entry is retrained, not fatal
        log(f"cached classifier {path} is unreadable ({type(e).__name__}); retraining it")
        return None


@contextlib.contextmanager
def _lock(path: Path) -> Iterator[None]:
    """An exclusive advisory lock on `path` (POSIX flock; no locking where fcntl is missing)."""
    try:
        import fcntl
    except ImportError:
        yield
        return
    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _registered(info: ClassifierInfo) -> ClassifierInfo:
    """Register the classifier's name with torch-fidelity (once per process); weights come as the weights path."""
    if info.name not in FEATURE_EXTRACTORS_REGISTRY:
        register_feature_extractor(info.name, ClassifierFeatures)
    return info


# ---------------------------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------------------------
def train_classifier(dataset: str, settings: ClassifierSettings, data_dir: str = "", download: bool = False) -> tuple[dict[str, Tensor], dict[str, Any]]:
    """Train on a registered data set's training split, test on its test split: `fit_classifier` on load_split's tensors."""
    x, y, _ = load_split(dataset, "train", data_dir, download)
    xt, yt, test_hash = load_split(dataset, "test", data_dir, download)
    return fit_classifier(dataset, x, _need_labels(dataset, y), xt, _need_labels(dataset, yt), settings, test_hash)


def fit_classifier(
    dataset: str, x: Tensor, y: Tensor, xt: Tensor, yt: Tensor, settings: ClassifierSettings, test_hash: str = ""
) -> tuple[dict[str, Tensor], dict[str, Any]]:
    """Train on x uint8 (N, C, R, R), y (N,) (Adam, one-cycle schedule); (state_dict, meta with the accuracy on xt, yt and time)."""
    s = settings
    if s.limit:
        x, y = x[: s.limit], y[: s.limit]
    classes = int(y.max()) + 1
    channels, resolution = x.shape[1], x.shape[-1]
    t0, cpu0, load0 = time.perf_counter(), time.process_time(), environment()["load_avg_1min"]
    with torch.random.fork_rng(devices=[]):  # dropout draws from the global RNG: seed it, then restore it
        torch.manual_seed(s.seed)
        net = ClassifierNet(channels, classes, resolution, s.width, s.features).to(memory_format=torch.channels_last)
        order = torch.Generator().manual_seed(s.seed)
        opt = torch.optim.Adam(net.parameters(), lr=s.lr, weight_decay=s.weight_decay)
        per_epoch = math.ceil(len(x) / s.batch_size)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=s.lr, total_steps=s.epochs * per_epoch)
        net.train()
        for _ in range(s.epochs):
            perm = torch.randperm(len(x), generator=order)
            for i in range(per_epoch):
                idx = perm[i * s.batch_size : (i + 1) * s.batch_size]
                _, logits = net(_prep(x[idx]))
                loss = F.cross_entropy(logits, y[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
    train_time, train_cpu = time.perf_counter() - t0, time.process_time() - cpu0  # wall and CPU seconds (the machine may be shared)
    net.eval()
    acc = accuracy(net, xt, yt)
    meta = dict(
        dataset=dataset, settings=s.to_dict(), arch_version=ARCH_VERSION, channels=channels, classes=classes, resolution=resolution,
        train_images=len(x), test_images=len(xt), test_accuracy=acc, train_time_s=train_time, train_cpu_s=train_cpu,
        test_data_hash=test_hash, load_avg_1min_at_start=load0, **environment(),
    )  # fmt: skip
    return {k: v.detach().clone() for k, v in net.state_dict().items()}, meta


def _prep(x: Tensor) -> Tensor:
    """uint8 (B, C, H, W) -> float in [-1, 1], channels_last (about twice as fast for these convs on a CPU)."""
    return to_unit_range(x).contiguous(memory_format=torch.channels_last)


def net_input(net: ClassifierNet, x: Tensor) -> Tensor:
    """uint8 images (B, C, H, W) -> the classifier's input: [-1, 1], resized (bilinear, antialiased) to its resolution."""
    x = _prep(x)
    r = net.resolution
    if x.shape[-2:] != (r, r):
        x = F.interpolate(x, size=(r, r), mode="bilinear", antialias=True, align_corners=False)
    return x.contiguous(memory_format=torch.channels_last)


@torch.no_grad()
def predict(net: ClassifierNet, x: Tensor, chunk: int = 1000) -> Tensor:
    """Predicted classes (N,) of uint8 images (N, C, H, W)."""
    return torch.cat([net(net_input(net, x[i : i + chunk]))[1].argmax(1) for i in range(0, len(x), chunk)])


@torch.no_grad()
def accuracy(net: ClassifierNet, x: Tensor, y: Tensor, chunk: int = 1000) -> float:
    """Share of correctly classified images x uint8 (N, C, H, W) with labels y (N,)."""
    was = net.training
    net.eval()
    pred = predict(net, x, chunk)
    net.train(was)
    return float((pred == y).float().mean())


def load_net(path: str | Path) -> ClassifierNet:
    """A cached classifier, in eval mode (weights_only load: no code runs from the file)."""
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
        meta, s = blob["meta"], blob["meta"]["settings"]
        net = ClassifierNet(meta["channels"], meta["classes"], meta["resolution"], s["width"], s["features"])
        net.load_state_dict(blob["state_dict"])
        net = net.to(memory_format=torch.channels_last)
    except (OSError, KeyError, RuntimeError, TypeError) as e:
        raise ConfigError(f"extractor: cannot load classifier weights {path}: {e}") from None
    return net.eval().requires_grad_(False)


# ---------------------------------------------------------------------------------------------
# torch-fidelity feature extractor
# ---------------------------------------------------------------------------------------------
class UInt8Extractor(FeatureExtractorBase):
    """What every offline torch-fidelity extractor of the suite shares: uint8 (B, C, H, W) input, never compiled."""

    @staticmethod
    def can_be_compiled() -> bool:
        return False

    @staticmethod
    def get_dummy_input_for_compile() -> Tensor:
        return torch.zeros(1, 1, 28, 28, dtype=torch.uint8)


class ClassifierFeatures(UInt8Extractor):
    """torch-fidelity feature extractor over a suite classifier: 'feature' (FID, KID, PRC) and 'logits'.

    Takes uint8 images (B, C, H, W) like torch-fidelity's own extractors; images of another size
    are resized (bilinear, antialiased) to the classifier's resolution. The weights file comes as
    torch-fidelity's `feature_extractor_weights_path`.
    """

    def __init__(self, name: str, features_list: list[str], feature_extractor_weights_path: str | None = None, **kwargs: Any) -> None:
        super().__init__(name, features_list)
        if feature_extractor_weights_path is None:
            raise ConfigError(f"extractor: {name} needs its weights file (feature_extractor_weights_path)")
        self.net = load_net(feature_extractor_weights_path)

    @staticmethod
    def get_provided_features_list() -> tuple[str, ...]:
        return FEATURE_LAYER, LOGITS_LAYER

    @staticmethod
    def get_default_feature_layer_for_metric(metric: str) -> str:
        return {"isc": LOGITS_LAYER, "fid": FEATURE_LAYER, "kid": FEATURE_LAYER, "prc": FEATURE_LAYER}[metric]

    def forward(self, x: Tensor) -> tuple[Tensor, ...]:
        if x.dtype != torch.uint8 or x.dim() != 4 or x.shape[1] != self.net.channels:
            raise ValueError(f"{self.name}: expected uint8 images (B, {self.net.channels}, H, W), got {tuple(x.shape)} {x.dtype}")
        feats, logits = self.net(net_input(self.net, x))
        out = {FEATURE_LAYER: feats, LOGITS_LAYER: logits}
        return tuple(out[k].float() for k in self.features_list)
