"""Image quality metrics: FID, KID and precision/recall through torch-fidelity, and a class histogram.

Every metric is computed by torch-fidelity (`torch_fidelity.calculate_metrics`
with Dataset inputs and `feature_extractor=...`): no Frechet code lives here.
The feature network is a registered feature space (metrics/spaces.py, `feature_space_names()`), chiefly:
  * classifier -- the suite's small CNN trained on the data set (metrics/classifier.py);
    offline, the default for Fashion-MNIST, MNIST and other small labelled sets;
  * inception  -- torch-fidelity's `inception-v3-compat`, with weights found by
    metrics/inception.py (never a hang or a download without permission);
  and pixels, random-cnn, digits, vgg16, to check that a ranking does not hang on one space.
Every result names its feature network (`extractor`), since FIDs of different
networks are not comparable, and its sample sizes (`n`/`n_fake`, `n_real`),
since FID is biased by the sample size (Binkowski et al. 2018).

The real side's features and FID statistics are cached by torch-fidelity under
`$WGAN_CACHE_DIR/fidelity` (default ~/.cache/wgan-suite/fidelity), named after
the data set, split, size, the data's content hash and the feature network; so
a training evaluation costs only the fakes' features.

`class_kl` = KL(p_fake || p_real): the divergence of the classifier's predicted-class
histogram of the fakes from the real class histogram of the split. It is 0 when
the fakes' classes are spread like the data's; dropping modes raises it (at most
log K when all fakes fall in one of K balanced classes). Even perfect fakes score a
little above 0, as the classifier errs.
"""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch_fidelity
from torch import Tensor
from torch.utils.data import Dataset

from ..config import ConfigError, RunConfig
from ..data import get_dataset, image_files, read_image
from ..seeds import subseed
from .classifier import ClassifierSettings, _slug, cache_dir, load_net, load_split, predict
from .extractors import Extractor, as_uint8
from .modes import FEATURES, MODE_METRICS
from .spaces import get_feature_space, space_extractor

EXTRACTORS = ("classifier", "inception")  # the feature spaces a training run may name (RunConfig.extractor); `metrics` takes any space
KID_SUBSET_SIZE = 1000  # torch-fidelity's default and the KID paper's
PRC_NEIGHBORHOOD = 3  # k of the k-NN balls of precision/recall (Kynkaanniemi et al. 2019)
METRIC_KEYS = ("fid", "kid", "kid_std", "precision", "recall", "class_kl")


# ---------------------------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------------------------
class ImageSet(Dataset):
    """uint8 images (N, C, H, W) as the Dataset torch-fidelity reads; `rgb` repeats a grey channel three times."""

    def __init__(self, images: Tensor, rgb: bool = False) -> None:
        self.images, self.rgb = images, rgb and images.shape[1] == 1

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> Tensor:
        x = self.images[i]  # (C, H, W) uint8
        return x.expand(3, -1, -1) if self.rgb else x


# ---------------------------------------------------------------------------------------------
# Feature networks
# ---------------------------------------------------------------------------------------------
def resolve_extractor(
    kind: str,
    dataset: str,
    *,
    data_dir: str = "",
    download: bool = False,
    inception_weights: str | Path | None = None,
    classifier: ClassifierSettings | None = None,
) -> Extractor:
    """The feature space `kind` (metrics/spaces.py) for `dataset`: trains the classifier on first use; ConfigError when weights are missing.

    inception_weights: the weights file of a space that needs one (inception, vgg16).
    """
    return space_extractor(kind, dataset, data_dir=data_dir, download=download, weights=inception_weights, classifier=classifier)


# ---------------------------------------------------------------------------------------------
# Metrics
# ---------------------------------------------------------------------------------------------
def fidelity(
    fake: Tensor,
    real: Tensor,
    extractor: Extractor,
    *,
    real_cache_name: str | None = None,
    kid: bool = True,
    prc: bool = False,
    kid_subset_size: int | None = None,
    device: str | torch.device | None = None,
) -> dict[str, Any]:
    """FID (and KID, precision/recall) of uint8 images `fake` (N, C, H, W) against `real` (M, C, H', W'), by torch-fidelity.

    real_cache_name: a name for torch-fidelity's cache of the real side's features and statistics
    (must identify the images exactly). kid_subset_size: None = min(1000, N, M), with a warning
    when that is below 1000; a larger explicit value than the sets allow is a ConfigError.
    """
    n, m = len(fake), len(real)
    need = PRC_NEIGHBORHOOD + 1 if prc else 2
    if min(n, m) < need:
        raise ConfigError(f"images: need at least {need} images on each side, got {n} fake and {m} real")
    kw: dict[str, Any] = {}
    if kid:
        kw.update(kid=True, kid_subset_size=_kid_subset(kid_subset_size, n, m))
    if prc:
        kw.update(prc=True, prc_neighborhood=PRC_NEIGHBORHOOD, prc_batch_size=2500)
    if real_cache_name:
        kw.update(input2_cache_name=real_cache_name)
    dev = torch.device(device) if device is not None else torch.device("cuda" if torch.cuda.is_available() else "cpu")
    cuda = dev.type == "cuda"
    # torch-fidelity takes cuda=True/False and uses the current CUDA device: make it the run's (cuda:1 stays on cuda:1).
    with torch.cuda.device(dev) if cuda else contextlib.nullcontext():
        out = torch_fidelity.calculate_metrics(
            input1=ImageSet(fake, extractor.rgb),
            input2=ImageSet(real, extractor.rgb),
            fid=True,
            feature_extractor=extractor.name,
            feature_extractor_weights_path=None if extractor.weights is None else str(extractor.weights),
            batch_size=extractor.batch_size,
            cuda=cuda,
            cache_root=str(cache_dir() / "fidelity"),
            save_cpu_ram=True,  # no DataLoader worker processes for in-memory tensors; blockwise precision/recall
            verbose=False,
            **kw,
        )
    res: dict[str, Any] = {"fid": out[torch_fidelity.KEY_METRIC_FID]}
    if kid:
        res.update(kid=out[torch_fidelity.KEY_METRIC_KID_MEAN], kid_std=out[torch_fidelity.KEY_METRIC_KID_STD], kid_subset_size=kw["kid_subset_size"])
    if prc:
        res.update(precision=out[torch_fidelity.KEY_METRIC_PRECISION], recall=out[torch_fidelity.KEY_METRIC_RECALL])
    return res


def _kid_subset(requested: int | None, n: int, m: int) -> int:
    most = min(n, m)
    if requested is not None:
        if not 2 <= requested <= most:
            raise ConfigError(f"kid_subset_size: must lie in [2, {most}] for {n} fake and {m} real images, got {requested}")
        return requested
    if most < KID_SUBSET_SIZE:
        warnings.warn(f"KID: {most} images on the smaller side, fewer than the usual subset size {KID_SUBSET_SIZE}; using subsets of {most}", stacklevel=3)
    return min(KID_SUBSET_SIZE, most)


def reference(
    dataset: str, split: str, resolution: int, *, data_dir: str = "", download: bool = False, n_real: int | None = None
) -> tuple[Tensor, Tensor | None, str]:
    """(real images uint8, labels or None, cache name) of a split at `resolution` pixels (0 = the data's own)."""
    x, y, digest = load_split(dataset, split, data_dir, download)
    if resolution and x.shape[-1] != resolution:
        x, y, digest = load_split(dataset, split, data_dir, download, resolution)
    name = f"wgan-{_slug(dataset)}-{split}-{x.shape[-1]}px-{digest[:12]}"
    if n_real is not None:
        if not 0 < n_real <= len(x):
            raise ConfigError(f"n_real: must lie in [1, {len(x)}] for the {split} split of {dataset}, got {n_real}")
        x, y, name = x[:n_real], None if y is None else y[:n_real], f"{name}-first{n_real}"
    return x, y, name


def image_metrics(
    fake: Tensor | np.ndarray,
    dataset: str,
    *,
    extractor: str = "classifier",
    split: str = "test",
    n: int | None = None,
    n_real: int | None = None,
    prc: bool = True,
    class_kl: bool = True,
    kid_subset_size: int | None = None,
    data_dir: str = "",
    download: bool = False,
    inception_weights: str | Path | None = None,
    classifier: ClassifierSettings | None = None,
    device: str | torch.device | None = None,
) -> dict[str, Any]:
    """FID, KID (+ std), precision, recall and class_kl of `fake` against a data set split, with `extractor` and sizes.

    extractor: a feature space's name (metrics/spaces.py: classifier, inception, pixels, random-cnn, digits, vgg16).
    fake: uint8 (N, C, H, W) or float in [-1, 1]; the first `n` are used (None = all).
    Real: the split's first `n_real` images (None = all), at the fakes' resolution.
    prc / class_kl: skip precision/recall or the class histogram (set to NaN) when False.
    class_kl needs class labels and the suite's classifier (trained on first use), also
    when the FID features come from Inception.
    """
    get_feature_space(extractor)  # an unknown space: one line naming the allowed ones, before any data is read
    fake = as_uint8(fake)
    if n is not None:
        if not 0 < n <= len(fake):
            raise ConfigError(f"n: must lie in [1, {len(fake)}] (the number of fakes given), got {n}")
        fake = fake[:n]
    real, labels, cache_name = reference(dataset, split, fake.shape[-1], data_dir=data_dir, download=download, n_real=n_real)
    if fake.shape[1] != real.shape[1]:
        raise ConfigError(f"fake: {fake.shape[1]}-channel images, but {dataset} has {real.shape[1]} channel(s)")
    ext = resolve_extractor(extractor, dataset, data_dir=data_dir, download=download, inception_weights=inception_weights, classifier=classifier)
    if not ext.name_tells_weights:
        cache_name = f"{cache_name}-w{ext.tag}"  # the registered name does not tell weights apart
    res = fidelity(fake, real, ext, real_cache_name=cache_name, kid=True, prc=prc, kid_subset_size=kid_subset_size, device=device)
    if not prc:
        res.update(precision=math.nan, recall=math.nan)
    res["class_kl"] = math.nan
    if class_kl and labels is not None and dataset not in FEATURES:  # labels of a set with its own features are modes
        net = load_net(resolve_extractor("classifier", dataset, data_dir=data_dir, download=download, classifier=classifier).weights)
        res["class_kl"] = class_divergence(predict(net, fake), labels, net.classes)
    res.update(extractor=ext.name, n=len(fake), n_real=len(real), split=split)
    return {k: res[k] for k in (*METRIC_KEYS, "extractor", "n", "n_real", "split", "kid_subset_size")}


def class_divergence(pred: Tensor, labels: Tensor, classes: int) -> float:
    """KL(p_fake || p_real) in nats between the predicted-class histogram and the label histogram."""
    p = torch.bincount(pred, minlength=classes).double() / len(pred)
    q = torch.bincount(labels, minlength=classes).double() / len(labels)
    nz = p > 0
    if (q[nz] == 0).any():
        return math.inf
    return float((p[nz] * (p[nz] / q[nz]).log()).sum())


# ---------------------------------------------------------------------------------------------
# In training
# ---------------------------------------------------------------------------------------------
FINAL_CHUNK = 1000  # latents per generator call in final_metrics


def reference_split(dataset: str) -> str:
    """The split fakes are compared with: the test split, or the only one of a folder."""
    return "train" if dataset.startswith("folder:") else "test"


def _run_metrics(c: RunConfig, fake: Tensor | None, n: int, device: torch.device, *, prc: bool, class_kl: bool) -> dict[str, Any]:
    """image_metrics for a run's fakes; fake None (a generator gone non-finite without a non-finite loss): NaNs, not a crash."""
    if fake is None:
        ext = resolve_extractor(c.extractor, c.dataset, data_dir=c.data_dir, download=c.download)
        return {**{k: math.nan for k in METRIC_KEYS}, "extractor": ext.name, "n": n, "n_real": 0, "kid_subset_size": 0}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the KID subset-size note: the row's kid_subset_size says it
        return image_metrics(
            fake, c.dataset, extractor=c.extractor, split=reference_split(c.dataset), prc=prc, class_kl=class_kl,
            data_dir=c.data_dir, download=c.download, device=device,
        )  # fmt: skip


def training_metrics(config: RunConfig, fake: Tensor, device: torch.device) -> dict[str, Any]:
    """FID, KID and KID std of one evaluation's fakes (n, C, H, W) in [-1, 1] against the test split, for a metrics.csv row.

    n = config.eval_samples (2,000 by default) fakes from the fixed evaluation latents; the
    real side is the whole test split, whose features are cached after the first evaluation.
    """
    m = _run_metrics(config, fake if torch.isfinite(fake).all() else None, len(fake), device, prc=False, class_kl=False)
    keys = ("fid", "kid", "kid_std", "extractor")
    return {**{k: m[k] for k in keys}, "n_fake": m["n"], "n_real": m["n_real"], "kid_subset_size": m["kid_subset_size"]}


@torch.no_grad()
def final_fakes(c: RunConfig, sample: Callable[[Tensor], Tensor]) -> Tensor | None:
    """config.final_eval_samples fakes as uint8 (N, C, H, W), from latents seeded by config.seed alone; None if non-finite.

    sample: latents (k, z_dim) -> images (k, C, H, W) in [-1, 1] on the CPU (Trainer.sample).
    """
    g = torch.Generator().manual_seed(subseed(c.seed, "final-eval"))  # on the CPU: the same latents on every device
    parts = []
    for start in range(0, c.final_eval_samples, FINAL_CHUNK):
        z = torch.randn(min(FINAL_CHUNK, c.final_eval_samples - start), c.z_dim, generator=g)  # (k, z_dim)
        x = sample(z)  # (k, C, H, W) float in [-1, 1], on the CPU
        if not torch.isfinite(x).all():
            return None
        parts.append(as_uint8(x))
    return torch.cat(parts)


def final_metrics(config: RunConfig, sample: Callable[[Tensor], Tensor], device: torch.device) -> dict[str, Any]:
    """FID, KID, precision, recall and class_kl of config.final_eval_samples fakes (10,000 by default) against the test split."""
    m = _run_metrics(config, final_fakes(config, sample), config.final_eval_samples, device, prc=True, class_kl=True)
    return {**{k: m[k] for k in (*METRIC_KEYS, "extractor")}, "n_fake": m["n"], "n_real": m["n_real"], "kid_subset_size": m["kid_subset_size"]}


def image_mode_metrics(dataset: str, fake: Tensor, data_dir: str = "") -> dict[str, Any]:
    """Image data with modes (metrics.modes.MODE_METRICS: stacked-mnist): its mode counts of `fake`; {} for other data sets."""
    return MODE_METRICS[dataset](fake, data_dir) if dataset in MODE_METRICS else {}


def final_mode_metrics(config: RunConfig, sample: Callable[[Tensor], Tensor]) -> dict[str, Any]:
    """Image data with modes: modes, reverse_kl (and kl_floor) of config.mode_samples fakes, and of as many real images.

    The fakes come from the final-evaluation latents' stream (seeded by config.seed alone), the real side
    from the data set's `reference` (its held-out images): `modes_real` / `reverse_kl_real` are what a
    perfect generator scores with this classifier and this many samples.
    """
    entry, count = get_dataset(config.dataset), MODE_METRICS[config.dataset]
    fake = final_fakes(config.replace(final_eval_samples=config.mode_samples), sample)
    out: dict[str, Any] = {"modes": math.nan, "reverse_kl": math.nan}
    if fake is not None:
        m = count(fake, config.data_dir)
        out = {"modes": m["modes"], "reverse_kl": m["reverse_kl"], "kl_floor": m.get("kl_floor", math.nan), "mode_samples": len(fake)}
        out["mode_classifier_accuracy"] = m.get("classifier_accuracy", math.nan)
    if entry.reference is not None:
        r = count(entry.reference(config.data_dir, config.mode_samples), config.data_dir)
        out.update(modes_real=r["modes"], reverse_kl_real=r["reverse_kl"])
    return out


# ---------------------------------------------------------------------------------------------
# Samples from files (the `metrics` command)
# ---------------------------------------------------------------------------------------------


def load_samples(path: str | Path, channels: int) -> Tensor:
    """Images from an .npy or .pt file (N, H, W), (N, C, H, W) or (N, H, W, C), or a folder of image files.

    Returns uint8 (N, C, H, W) or float in [-1, 1]; ConfigError for an unreadable file or a wrong layout.
    channels: the data set's channel count (images in a folder are converted to it).
    """
    p = Path(path).expanduser()
    if p.is_dir():
        return _load_folder(p, channels)
    if not p.is_file():
        raise ConfigError(f"samples: {p} does not exist")
    try:
        if p.suffix == ".npy":
            arr: Any = np.load(p, allow_pickle=False)
        elif p.suffix in (".pt", ".pth"):
            arr = torch.load(p, map_location="cpu", weights_only=True)
        else:
            raise ConfigError(f"samples: {p} is not an .npy or .pt file or a folder of images")
    except ConfigError:
        raise
    except Exception as e:  # whatever the file holds, it is the user's file: one line, no traceback
        raise ConfigError(f"samples: cannot read {p} ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})") from None
    if isinstance(arr, dict):
        tensors = [v for k, v in arr.items() if k in ("images", "samples", "fake")] or list(arr.values())
        if len(tensors) != 1 or not torch.is_tensor(tensors[0]):
            raise ConfigError(f"samples: {p} holds a dict; expected one tensor (under 'images' or 'samples')")
        arr = tensors[0]
    if not isinstance(arr, (np.ndarray, Tensor)) or (isinstance(arr, np.ndarray) and arr.dtype.kind not in "uif"):
        raise ConfigError(f"samples: {p} does not hold a numeric array")
    x = torch.as_tensor(arr)
    if x.dim() == 3:
        x = x.unsqueeze(1)  # (N, H, W) -> (N, 1, H, W)
    elif x.dim() == 4 and x.shape[1] not in (1, 3) and x.shape[-1] in (1, 3):
        x = x.permute(0, 3, 1, 2)  # (N, H, W, C) -> (N, C, H, W)
    return x.contiguous()


def _load_folder(folder: Path, channels: int) -> Tensor:
    files = image_files(folder, "samples")
    out = [read_image(files[0], "L" if channels == 1 else "RGB", "samples")]
    for f in files[1:]:
        out.append(read_image(f, "L" if channels == 1 else "RGB", "samples"))
        if out[-1].shape != out[0].shape:
            raise ConfigError(f"samples: {f} is {out[-1].shape[1]}x{out[-1].shape[0]} pixels but {files[0]} is {out[0].shape[1]}x{out[0].shape[0]}")
    x = torch.from_numpy(np.stack(out))  # (N, H, W) or (N, H, W, 3)
    return x.unsqueeze(1) if x.dim() == 3 else x.permute(0, 3, 1, 2).contiguous()
