"""Image data sets on disk: the MNIST family's IDX files, torchvision's MNIST and CIFAR-10, folders of image files.

Every loader returns uint8 images (N, C, H, W) and int64 labels (N,) (or None for a folder);
a missing or unreadable data set is a one-line ConfigError saying how to get it.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from ..errors import ConfigError

DEBIAN_FASHION_MNIST = "/usr/share/datasets/fashion-mnist"


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


def load_fashion_mnist(split: str, data_dir: str = "", download: bool = False) -> tuple[Tensor, Tensor]:
    """Fashion-MNIST's IDX files (Debian's dataset-fashion-mnist, or data_dir): uint8 (N, 1, 28, 28), labels (N,)."""
    root = data_root("fashion-mnist", data_dir)
    img_p, lab_p = (_find_idx(root, s) for s in _IDX_NAMES[split])
    if (img_p is None or lab_p is None) and download:
        import torchvision

        torchvision.datasets.FashionMNIST(str(root), train=split == "train", download=True)
        img_p, lab_p = (_find_idx(root, s) for s in _IDX_NAMES[split])
    if img_p is None or lab_p is None:
        raise ConfigError(_HOW_TO_GET["fashion-mnist"].format(where=root))
    x = torch.from_numpy(_read_idx(img_p).copy()).unsqueeze(1)  # (N, 1, 28, 28)
    return x, torch.from_numpy(_read_idx(lab_p).astype(np.int64))


def load_torchvision(name: str, split: str, data_dir: str = "", download: bool = False) -> tuple[Tensor, Tensor]:
    """MNIST or CIFAR-10 through torchvision from data_dir: uint8 (N, C, H, W), labels (N,)."""
    import torchvision

    root = data_root(name, data_dir)
    cls = torchvision.datasets.MNIST if name == "mnist" else torchvision.datasets.CIFAR10
    try:
        ds = cls(str(root), train=split == "train", download=download)
    except RuntimeError:
        raise ConfigError(_HOW_TO_GET[name].format(where=root)) from None
    x = torch.as_tensor(np.asarray(ds.data))
    x = x.unsqueeze(1) if x.dim() == 3 else x.permute(0, 3, 1, 2)  # (N, C, H, W)
    return x, torch.as_tensor(np.asarray(ds.targets), dtype=torch.int64)


def resize(x: Tensor, resolution: int) -> Tensor:
    """uint8 (N, C, H, W) resized (bilinear, antialiased) to resolution x resolution; unchanged at 0 or the same size."""
    if not resolution or x.shape[-1] == resolution:
        return x
    y = torch.nn.functional.interpolate(x.float(), size=(resolution, resolution), mode="bilinear", antialias=True, align_corners=False)
    return y.round().clamp(0, 255).to(torch.uint8)


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


def load_folder(folder: Path, resolution: int) -> Tensor:
    """Every image file under `folder` (recursively), as RGB uint8 (N, 3, R, R), centre-cropped and resized."""
    files = image_files(folder, "dataset")
    out = np.empty((len(files), resolution, resolution, 3), dtype=np.uint8)  # one copy of the data set in memory
    for i, p in enumerate(files):
        out[i] = read_image(p, "RGB", "dataset", resolution)
    return torch.from_numpy(out).permute(0, 3, 1, 2).contiguous()


def to_unit_range(x: Tensor) -> Tensor:
    """uint8 [0, 255] -> float [-1, 1] (the generator's tanh range)."""
    return x.float().div_(127.5).sub_(1.0)
