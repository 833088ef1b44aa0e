"""Feature spaces for FID, KID and precision/recall: one registry, each space a torch-fidelity feature extractor.

Offline, the suite's FID/KID use its own classifier's features (no Inception weights here), so a
ranking might be an artifact of that one space: Kynkaanniemi et al. 2023 ("The Role of ImageNet
Classes in Frechet Inception Distance", ICLR) show FID can be moved by matching the feature
network's classes without better images; Stein et al. 2023 ("Exposing flaws of generative model
evaluation metrics", NeurIPS) find rankings change between Inception, CLIP and DINOv2 features.
So the same metrics, with the same conventions (metrics/image.py: torch-fidelity, k = 3 for
precision/recall, KID subsets of 1000), can be computed in every registered space:

  pixels      raw pixels, resized to PIXEL_SIDE x PIXEL_SIDE (bilinear, antialiased), in [0, 1], flattened;
  random-cnn  the classifier's architecture with random weights (PyTorch's default init, seed RANDOM_CNN_SEED);
  classifier  today's default: the suite's classifier of the data set (on stacked-mnist its own features, the digits');
  digits      the MNIST digit classifier of metrics/modes.py, read per channel (Stacked MNIST's mode reader);
  inception   torch-fidelity's inception-v3-compat, from a weights file the user supplies;
  vgg16       torch-fidelity's vgg16 (fc2), from a torchvision state dict the user supplies.

Calling style (the suite's registries): `register_feature_space(name, FeatureSpace(source, build, needs))`,
`get_feature_space(name)` (unknown: a one-line ConfigError naming the allowed ones), `feature_space_names()`.
A space's `build(dataset, data_dir=, download=, weights=, classifier=)` returns an `Extractor` ready for
`image.fidelity`; a space that needs weights refuses with one line naming what to supply.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY, register_feature_extractor

from ..errors import ConfigError, lookup
from ..fileio import atomic_torch_save
from . import inception
from .classifier import (
    ARCH_VERSION,
    ClassifierFeatures,
    ClassifierNet,
    ClassifierSettings,
    UInt8Extractor,
    cache_dir,
    get_classifier,
    load_split,
    weights_digest,
)
from .extractors import Extractor
from .modes import FEATURES, digit_classifier, stacked_extractor

PIXEL_SIDE = 16  # pixels: images resized to 16x16, so 256 features a channel (a covariance 2,000 samples estimate)
RANDOM_CNN_SEED = 0  # random-cnn: the seed of its weights (part of its name, with the weights' digest)
RANDOM_CNN_SIDE = 32  # random-cnn: input side (a multiple of 4, as the architecture needs)
VGG16_NAME = "vgg16"  # torch-fidelity's registered name


@dataclass(frozen=True)
class FeatureSpace:
    """A feature space: what it is and where it comes from, how to build its extractor, what the user must supply."""

    source: str  # one line: what the features are and where they come from (`metrics --list-feature-spaces` prints it)
    build: Callable[..., Extractor]  # (dataset, *, data_dir, download, weights, classifier) -> Extractor; ConfigError if it cannot
    needs: str = ""  # what the user must supply ("" = nothing: works offline)


SPACES: dict[str, FeatureSpace] = {}


def register_feature_space(name: str, space: FeatureSpace) -> FeatureSpace:
    """Add a feature space under `name` (lower case, digits and dashes); registering a name again replaces it (a plug-in
    may be imported twice), as every registry does. Returns the entry."""
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", name):
        raise ConfigError(f"feature space: name {name!r} must be lower-case letters, digits and dashes")
    if not isinstance(space, FeatureSpace) or not callable(space.build) or not space.source.strip():
        raise ConfigError(f"feature space {name!r}: expected FeatureSpace(source, build, needs) with a source and a callable build")
    SPACES[name] = space
    return space


def get_feature_space(name: str) -> FeatureSpace:
    return lookup(SPACES, name, "feature space")


def feature_space_names() -> tuple[str, ...]:
    return tuple(SPACES)


def describe_feature_spaces() -> str:
    """One line per space: name, what to supply, source."""
    width = max(map(len, SPACES))
    return "\n".join(f"{n:<{width}}  {'[needs ' + s.needs + '] ' if s.needs else ''}{s.source}" for n, s in SPACES.items())


def space_extractor(
    name: str,
    dataset: str,
    *,
    data_dir: str = "",
    download: bool = False,
    weights: str | Path | None = None,
    classifier: ClassifierSettings | None = None,
) -> Extractor:
    """The extractor of space `name` for `dataset` (ConfigError: unknown space, missing or wrong weights, a data set it cannot read)."""
    space = get_feature_space(name)
    if weights and not space.needs:
        raise ConfigError(f"feature space {name!r} takes no weights file (spaces that do: {', '.join(n for n, s in SPACES.items() if s.needs)})")
    return space.build(dataset, data_dir=data_dir, download=download, weights=weights, classifier=classifier)


# ---------------------------------------------------------------------------------------------
# pixels
# ---------------------------------------------------------------------------------------------
class PixelFeatures(UInt8Extractor):
    """torch-fidelity extractor 'pixels': uint8 (B, C, H, W) -> (B, C * S * S) floats in [0, 1], S = PIXEL_SIDE (resized)."""

    def __init__(self, name: str, features_list: list[str], feature_extractor_weights_path: str | None = None, **kwargs: Any) -> None:
        super().__init__(name, features_list)

    @staticmethod
    def get_provided_features_list() -> tuple[str, ...]:
        return ("pixels",)

    @staticmethod
    def get_default_feature_layer_for_metric(metric: str) -> str:
        return "pixels"

    def forward(self, x: Tensor) -> tuple[Tensor, ...]:
        if x.dtype != torch.uint8 or x.dim() != 4:
            raise ValueError(f"{self.name}: expected uint8 images (B, C, H, W), got {tuple(x.shape)} {x.dtype}")
        f = x.float() / 255.0  # (B, C, H, W) in [0, 1]
        if f.shape[-2:] != (PIXEL_SIDE, PIXEL_SIDE):
            f = F.interpolate(f, size=(PIXEL_SIDE, PIXEL_SIDE), mode="bilinear", antialias=True, align_corners=False)
        return (f.flatten(1),)  # (B, C * S * S)


PIXEL_NAME = f"pixels-{PIXEL_SIDE}px"


def _pixels(dataset: str, **_: Any) -> Extractor:
    if PIXEL_NAME not in FEATURE_EXTRACTORS_REGISTRY:
        register_feature_extractor(PIXEL_NAME, PixelFeatures)
    return Extractor("pixels", PIXEL_NAME, None, PIXEL_NAME, False, 1000)


# ---------------------------------------------------------------------------------------------
# random-cnn
# ---------------------------------------------------------------------------------------------
def random_cnn_state(channels: int, seed: int = RANDOM_CNN_SEED) -> tuple[dict[str, Tensor], dict[str, Any]]:
    """(state_dict, meta) of ClassifierNet(channels, 10 classes, RANDOM_CNN_SIDE) at PyTorch's default init, seeded by `seed`.

    The global RNG is left as it was. Batch norms keep their initial statistics (mean 0, variance 1): in eval mode
    they pass values through, so the features are a fixed random convolutional map followed by a random projection.
    """
    s = ClassifierSettings(seed=seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = ClassifierNet(channels, 10, RANDOM_CNN_SIDE, s.width, s.features)
    state = {k: v.detach().clone() for k, v in net.state_dict().items()}
    meta = dict(dataset="random", settings=s.to_dict(), arch_version=ARCH_VERSION, channels=channels, classes=10, resolution=RANDOM_CNN_SIDE,
                seed=seed, weights=weights_digest(state), trained=False)  # fmt: skip
    return state, meta


def _random_cnn(dataset: str, *, data_dir: str = "", download: bool = False, **_: Any) -> Extractor:
    channels = load_split(dataset, "test" if not dataset.startswith("folder:") else "train", data_dir, download)[0].shape[1]
    state, meta = random_cnn_state(channels)
    name = f"random-cnn-c{channels}-s{RANDOM_CNN_SEED}-w{meta['weights'][:8]}"
    path = cache_dir() / "feature-spaces" / f"{name}.pt"
    if not path.exists():  # the file torch-fidelity loads (ClassifierFeatures reads a weights path); its name holds the digest
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_torch_save({"state_dict": state, "meta": meta}, path)
    if name not in FEATURE_EXTRACTORS_REGISTRY:
        register_feature_extractor(name, ClassifierFeatures)
    return Extractor("random-cnn", name, path, meta["weights"], False, 500)


# ---------------------------------------------------------------------------------------------
# classifier, digits
# ---------------------------------------------------------------------------------------------
def _classifier(dataset: str, *, data_dir: str = "", download: bool = False, classifier: ClassifierSettings | None = None, **_: Any) -> Extractor:
    if dataset in FEATURES:
        return FEATURES[dataset](data_dir)  # the data set's own features (Stacked MNIST: the digit classifier per channel)
    info = get_classifier(dataset, data_dir, download, classifier)
    return Extractor("classifier", info.name, info.path, info.meta["weights"], False, 500)


def _digits(dataset: str, *, data_dir: str = "", download: bool = False, **_: Any) -> Extractor:
    channels = load_split(dataset, "test" if not dataset.startswith("folder:") else "train", data_dir, download)[0].shape[1]
    if channels == 3:
        return stacked_extractor(data_dir)
    info = digit_classifier(data_dir)  # registered with torch-fidelity as a ClassifierFeatures
    return Extractor("classifier", info.name, info.path, info.meta["weights"], False, 500)


# ---------------------------------------------------------------------------------------------
# Networks from the user's weights
# ---------------------------------------------------------------------------------------------
def _inception(dataset: str, *, download: bool = False, weights: str | Path | None = None, **_: Any) -> Extractor:
    path = inception.resolve_weights(weights, download)
    return Extractor("inception", inception.NAME, path, inception.weights_tag(path), True, 32)


def _vgg16_layout() -> dict[str, tuple[int, ...]]:
    """Names and shapes of torchvision's vgg16 state dict (built on the meta device: no memory, no weights)."""
    import torchvision

    with torch.device("meta"):
        return {k: tuple(v.shape) for k, v in torchvision.models.vgg16().state_dict().items()}


def _vgg16(dataset: str, *, weights: str | Path | None = None, **_: Any) -> Extractor:
    """torch-fidelity's vgg16 ('fc2'); its weights are checked here with weights_only=True before torch-fidelity loads them."""
    if not weights:
        raise ConfigError(f"feature space 'vgg16' needs {SPACES['vgg16'].needs}")
    path = Path(weights).expanduser()
    if not path.is_file():
        raise ConfigError(f"--feature-weights: {path} is not a file (vgg16 needs {SPACES['vgg16'].needs})")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # the user's file: one line
        raise ConfigError(f"--feature-weights: cannot load {path} as a state dict ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})") from None
    want = _vgg16_layout()
    got = {k: tuple(v.shape) for k, v in state.items() if torch.is_tensor(v)} if isinstance(state, dict) else {}
    if got != want:
        wrong = sorted(set(want) ^ set(got)) or sorted(k for k in want if want[k] != got[k])
        raise ConfigError(f"--feature-weights: {path} is not a torchvision vgg16 state dict ({len(wrong)} names missing, extra or reshaped, e.g. {wrong[0]})")
    return Extractor("torch-fidelity", VGG16_NAME, path, _file_tag(path), True, 32)


def _file_tag(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()[:12]


register_feature_space("pixels", FeatureSpace(
    f"raw pixels resized to {PIXEL_SIDE}x{PIXEL_SIDE} (bilinear, antialiased), in [0, 1], flattened; no network", _pixels))  # fmt: skip
register_feature_space("random-cnn", FeatureSpace(
    f"the suite classifier's architecture (metrics/classifier.py) untrained: PyTorch default init, seed {RANDOM_CNN_SEED}, inputs resized to "
    f"{RANDOM_CNN_SIDE}x{RANDOM_CNN_SIDE}; its 128 penultimate features", _random_cnn))  # fmt: skip
register_feature_space("classifier", FeatureSpace(
    "the suite's classifier trained on the data set (metrics/classifier.py; cached, trained on first use); on stacked-mnist the data "
    "set's own features, the MNIST digit classifier per channel (= digits); the default of training and `metrics`", _classifier))  # fmt: skip
register_feature_space("digits", FeatureSpace(
    "the MNIST digit classifier of metrics/modes.py (Stacked MNIST's mode reader), features of each channel concatenated; "
    "on one-channel data (Fashion-MNIST) a network trained on other data, as Inception is for most data sets", _digits))  # fmt: skip
register_feature_space("inception", FeatureSpace(
    f"torch-fidelity's {inception.NAME} (the TensorFlow FID Inception, 2048 pool features), weights from the user (metrics/inception.py)",
    _inception, f"--inception-weights PATH or {inception.ENV_VAR}=PATH (pt_inception-2015-12-05 from torch-fidelity's release)"))  # fmt: skip
register_feature_space("vgg16", FeatureSpace(
    "torch-fidelity's vgg16: torchvision VGG-16 'fc2' features (4096), images resized to 224, ImageNet normalisation; weights from the user",
    _vgg16, "--feature-weights PATH, a torchvision vgg16 state dict (torchvision.models.vgg16(weights='IMAGENET1K_V1').state_dict())"))  # fmt: skip

__all__ = [
    "PIXEL_SIDE", "RANDOM_CNN_SEED", "SPACES", "FeatureSpace", "PixelFeatures", "describe_feature_spaces", "feature_space_names",
    "get_feature_space", "random_cnn_state", "register_feature_space", "space_extractor",
]  # fmt: skip
