"""Data: the WGAN-GP toy distributions sampled on the fly, and image sets as one device tensor.

Every stream draws from its own seeded `torch.Generator`, one batch at a time,
so the k-th real batch is the same for every variant of a seed whatever its
n_critic: that is the "same data order" of a matched study.
"""

from __future__ import annotations

import gzip
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from ..config import ConfigError, dataset_kind

DEBIAN_FASHION_MNIST = "/usr/share/datasets/fashion-mnist"

# ---------------------------------------------------------------------------------------------
# Toy data as in gan_toy.py of the WGAN-GP code (Gulrajani et al. 2017): the same centres, sigmas
# and scalings. That code draws 25gaussians batches from a fixed, shuffled 100k-point set with
# 4,000 points per mode; here every batch is fresh, with a uniformly random mode per point.
# ---------------------------------------------------------------------------------------------
_SCALE = {"8gaussians": 1.414, "25gaussians": 2.828, "swissroll": 7.5}
_STD = {"8gaussians": 0.02, "25gaussians": 0.05}


def toy_centres(name: str) -> Tensor:
    """Mode centres after scaling, (K, 2). 8gaussians: radius 2 circle / 1.414; 25gaussians: grid -4..4 step 2 / 2.828."""
    if name == "8gaussians":
        r = 1.0 / math.sqrt(2.0)
        pts = [(1, 0), (-1, 0), (0, 1), (0, -1), (r, r), (r, -r), (-r, r), (-r, -r)]
        return torch.tensor(pts, dtype=torch.float32) * 2.0 / _SCALE[name]
    if name == "25gaussians":
        g = torch.arange(-2, 3, dtype=torch.float32) * 2.0
        xx, yy = torch.meshgrid(g, g, indexing="ij")
        return torch.stack([xx.reshape(-1), yy.reshape(-1)], 1) / _SCALE[name]
    raise ConfigError(f"dataset: {name!r} has no modes (toy mixtures: 8gaussians, 25gaussians)")


def toy_std(name: str) -> float:
    """Standard deviation of one mixture component after scaling."""
    return _STD[name] / _SCALE[name]


def sample_toy(name: str, n: int, generator: torch.Generator, device: torch.device | str = "cpu") -> Tensor:
    """n samples (n, 2) of a toy distribution, drawn with `generator` (which must live on `device`)."""
    kw = dict(generator=generator, device=device)
    if name in ("8gaussians", "25gaussians"):
        centres = toy_centres(name).to(device) * _SCALE[name]  # unscaled, as the reference code draws them
        idx = torch.randint(len(centres), (n,), **kw)
        x = centres[idx] + _STD[name] * torch.randn(n, 2, **kw)
        return x / _SCALE[name]
    if name == "swissroll":
        # sklearn.datasets.make_swiss_roll(n, noise=0.25), coordinates (x, z), / 7.5
        t = 1.5 * math.pi * (1 + 2 * torch.rand(n, **kw))
        y = 21.0 * torch.rand(n, **kw)
        pts = torch.stack([t * torch.cos(t), y, t * torch.sin(t)], 1) + 0.25 * torch.randn(n, 3, **kw)
        return pts[:, [0, 2]] / _SCALE[name]
    raise ConfigError(f"dataset: {name!r} is not a toy data set")


# ---------------------------------------------------------------------------------------------
# Image data sets, as uint8 tensors (N, C, H, W).
# ---------------------------------------------------------------------------------------------
def _read_idx(path: Path) -> np.ndarray:
    """Read an IDX file (gzipped or not): the format of the MNIST family."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError) as e:  # unreadable, or a corrupt .gz
        raise ConfigError(f"data_dir: cannot read {path}: {e}") from None
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 8:
        raise ConfigError(f"data_dir: {path} is not an unsigned-byte IDX file")
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    arr = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if arr.size != int(np.prod(shape)):
        raise ConfigError(f"data_dir: {path} is truncated ({arr.size} bytes for shape {shape})")
    return arr.reshape(shape)


_IDX_NAMES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"), "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}
_HOW_TO_GET = {
    "fashion-mnist": (
        "Fashion-MNIST not found in {where}. Install it with `sudo apt-get install dataset-fashion-mnist` "
        "(Debian/Ubuntu; files land in /usr/share/datasets/fashion-mnist), point WGAN_DATA_DIR or --set data_dir=DIR "
        "at a folder holding the four *-ubyte.gz files, or allow a download with --set download=true"
    ),
    "mnist": (
        "MNIST not found in {where}. Point --set data_dir=DIR (or WGAN_DATA_DIR) at a torchvision MNIST root, "
        "or allow a download with --set download=true"
    ),
    "cifar10": (
        "CIFAR-10 not found in {where}. Point --set data_dir=DIR (or WGAN_DATA_DIR) at a torchvision CIFAR-10 root, "
        "or allow a download with --set download=true"
    ),
}


def data_root(name: str, data_dir: str = "") -> Path:
    """Where a data set is looked for: data_dir, else $WGAN_DATA_DIR, else the Debian location (Fashion-MNIST)."""
    if data_dir:
        return Path(data_dir).expanduser()
    if os.environ.get("WGAN_DATA_DIR"):
        return Path(os.environ["WGAN_DATA_DIR"]).expanduser()
    if name == "fashion-mnist":
        return Path(DEBIAN_FASHION_MNIST)
    return Path.home() / ".cache" / "wgan-suite" / "data"


def _find_idx(root: Path, stem: str) -> Path | None:
    for sub in ("", "FashionMNIST/raw", "fashion-mnist", "raw"):
        for suffix in (".gz", ""):
            p = root / sub / (stem + suffix)
            if p.is_file():
                return p
    return None


def load_images(name: str, split: str = "train", data_dir: str = "", download: bool = False, resolution: int = 0) -> tuple[Tensor, Tensor | None]:
    """(images uint8 (N, C, H, W), labels int64 (N,) or None) of a data set split.

    Resized to `resolution` when it is non-zero and differs from the data's own.
    """
    dataset_kind(name)
    if split not in ("train", "test"):
        raise ConfigError(f"split: unknown {split!r}; allowed: train, test")
    root = data_root(name, data_dir)
    labels: Tensor | None
    if name == "fashion-mnist":
        img_p, lab_p = (_find_idx(root, s) for s in _IDX_NAMES[split])
        if (img_p is None or lab_p is None) and download:
            import torchvision

            torchvision.datasets.FashionMNIST(str(root), train=split == "train", download=True)
            img_p, lab_p = (_find_idx(root, s) for s in _IDX_NAMES[split])
        if img_p is None or lab_p is None:
            raise ConfigError(_HOW_TO_GET[name].format(where=root))
        x = torch.from_numpy(_read_idx(img_p).copy()).unsqueeze(1)  # (N, 1, 28, 28)
        labels = torch.from_numpy(_read_idx(lab_p).astype(np.int64))
    elif name in ("mnist", "cifar10"):
        import torchvision

        cls = torchvision.datasets.MNIST if name == "mnist" else torchvision.datasets.CIFAR10
        try:
            ds = cls(str(root), train=split == "train", download=download)
        except RuntimeError:
            raise ConfigError(_HOW_TO_GET[name].format(where=root)) from None
        x = torch.as_tensor(np.asarray(ds.data))
        x = x.unsqueeze(1) if x.dim() == 3 else x.permute(0, 3, 1, 2)  # (N, C, H, W)
        labels = torch.as_tensor(np.asarray(ds.targets), dtype=torch.int64)
    else:
        x, labels = _load_folder(Path(name[len("folder:") :]).expanduser(), resolution or 64), None
    x = x.contiguous()
    if resolution and x.shape[-1] != resolution:
        x = torch.nn.functional.interpolate(x.float(), size=(resolution, resolution), mode="bilinear", antialias=True, align_corners=False)
        x = x.round().clamp(0, 255).to(torch.uint8)
    return x, labels


IMAGE_SUFFIXES = (".bmp", ".gif", ".jpeg", ".jpg", ".png", ".tif", ".tiff", ".webp")


def image_files(folder: Path, field: str) -> list[Path]:
    """Every image file under `folder` (recursively), sorted; ConfigError naming `field` if there is none."""
    if not folder.is_dir():
        raise ConfigError(f"{field}: folder {str(folder)!r} does not exist or is not a directory")
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise ConfigError(f"{field}: folder {str(folder)!r} holds no image files ({', '.join(IMAGE_SUFFIXES)})")
    return files


def read_image(path: Path, mode: str, field: str, resolution: int = 0) -> np.ndarray:
    """One image file as uint8 (H, W) for mode "L" or (H, W, 3) for "RGB"; with `resolution`,
    centre-cropped to a square and resized to resolution x resolution. ConfigError if unreadable."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            im = im.convert(mode)
            if resolution:
                s = min(im.size)
                left, top = (im.width - s) // 2, (im.height - s) // 2
                im = im.crop((left, top, left + s, top + s)).resize((resolution, resolution), Image.BICUBIC)
            return np.asarray(im)
    except (OSError, UnidentifiedImageError) as e:
        raise ConfigError(f"{field}: cannot read image {path}: {e}") from None


def _load_folder(folder: Path, resolution: int) -> Tensor:
    """Every image file under `folder` (recursively), as RGB uint8 (N, 3, R, R), centre-cropped and resized."""
    files = image_files(folder, "dataset")
    out = np.empty((len(files), resolution, resolution, 3), dtype=np.uint8)  # one copy of the data set in memory
    for i, p in enumerate(files):
        out[i] = read_image(p, "RGB", "dataset", resolution)
    return torch.from_numpy(out).permute(0, 3, 1, 2).contiguous()


def to_unit_range(x: Tensor) -> Tensor:
    """uint8 [0, 255] -> float [-1, 1] (the generator's tanh range)."""
    return x.float().div_(127.5).sub_(1.0)


# ---------------------------------------------------------------------------------------------
# Batch streams used by the trainer.
# ---------------------------------------------------------------------------------------------
@dataclass
class DataInfo:
    kind: str  # toy | image
    channels: int
    resolution: int
    size: int  # number of training examples (0 = unlimited, toy)


class ToyStream:
    """Fresh toy samples for every batch (the reference code samples on the fly too)."""

    def __init__(self, name: str, batch_size: int, seed: int, device: torch.device) -> None:
        self.name, self.batch_size, self.device = name, batch_size, device
        self.gen = torch.Generator(device=device).manual_seed(seed)
        self.info = DataInfo("toy", 0, 0, 0)

    def next(self, k: int = 1) -> Tensor:
        """k consecutive batches, concatenated: (k*B, 2)."""
        return torch.cat([sample_toy(self.name, self.batch_size, self.gen, self.device) for _ in range(k)])

    def state_dict(self) -> dict:
        return {"gen": self.gen.get_state()}

    def load_state_dict(self, s: dict) -> None:
        self.gen.set_state(s["gen"])


class ImageStream:
    """Batches indexed from one device tensor in a fresh random order per epoch: no DataLoader."""

    def __init__(
        self, images: Tensor | None, batch_size: int, seed: int, device: torch.device, channels_last: bool = False, *, prepared: Tensor | None = None
    ) -> None:
        """prepared: another stream's device tensor to share (seed ensembles: one copy of the data set for all members)."""
        # (N, C, H, W) in [-1, 1], on the training device
        self.data = prepared if prepared is not None else to_unit_range(images.to(device))  # type: ignore[union-attr]
        if channels_last and prepared is None:
            self.data = self.data.contiguous(memory_format=torch.channels_last)
        self.batch_size, self.device = batch_size, device
        self.gen = torch.Generator(device=device).manual_seed(seed)
        n = self.data.shape[0]
        self.perm = torch.randperm(n, generator=self.gen, device=device)
        self.pos = 0
        self.info = DataInfo("image", self.data.shape[1], self.data.shape[-1], n)

    def next(self, k: int = 1) -> Tensor:
        """k consecutive batches, concatenated: (k*B, C, H, W). An epoch's leftover joins the next epoch."""
        need, parts = k * self.batch_size, []
        while need > 0:
            take = min(need, len(self.perm) - self.pos)
            parts.append(self.perm[self.pos : self.pos + take])
            self.pos += take
            need -= take
            if self.pos == len(self.perm):
                self.perm = torch.randperm(len(self.perm), generator=self.gen, device=self.device)
                self.pos = 0
        idx = parts[0] if len(parts) == 1 else torch.cat(parts)
        return self.data[idx]

    def state_dict(self) -> dict:
        return {"gen": self.gen.get_state(), "perm": self.perm, "pos": self.pos}

    def load_state_dict(self, s: dict) -> None:
        self.gen.set_state(s["gen"])
        self.perm = s["perm"].to(self.device)
        self.pos = int(s["pos"])


def make_stream(config, device: torch.device, seed: int, images: Tensor | None = None, like: ImageStream | ToyStream | None = None) -> ToyStream | ImageStream:
    """The training-data stream for a config; raises ConfigError if the data is missing or too small.

    images: an in-memory uint8 (N, C, H, W) training set that replaces loading config.dataset.
    like: a stream of the same data (a config differing only in its seed) whose device tensor this
    stream shares instead of loading its own copy; the order of the batches is still this seed's own.
    """
    if config.kind == "toy":
        return ToyStream(config.dataset, config.batch_size, seed, device)
    if isinstance(like, ImageStream):
        return ImageStream(None, config.batch_size, seed, device, prepared=like.data)
    if images is None:
        images, _ = load_images(config.dataset, "train", config.data_dir, config.download, config.resolution)
    if config.data_limit:
        images = images[: config.data_limit]
    if config.batch_size > images.shape[0]:
        raise ConfigError(f"batch_size: {config.batch_size} exceeds the {images.shape[0]} training images of {config.dataset}")
    return ImageStream(images, config.batch_size, seed, device, config.channels_last)
