"""Data: the registered data sets (`registry`), toy distributions (`toy`), image sets on disk (`images`),
Stacked MNIST (`stacked_mnist`), PacGAN's 2-D mixtures (`pacgan2d`) and the trainer's batch streams (`streams`).

`import wgan_core.data` imports no torch (the report reads the registry); the functions
below import their module on first use (PEP 562).
"""

from __future__ import annotations

from typing import Any

from .registry import DATASETS, DataSet, dataset_kind, get_dataset, register_dataset

_LAZY = {
    "DEBIAN_FASHION_MNIST": "images",
    "data_root": "images",
    "image_files": "images",
    "read_image": "images",
    "to_unit_range": "images",
    "DataInfo": "streams",
    "ImageStream": "streams",
    "ToyStream": "streams",
    "make_stream": "streams",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def sample_toy(name: str, n: int, generator: Any, device: Any = "cpu") -> Any:
    """n points (n, 2) of a toy data set, drawn with `generator` (which must live on `device`)."""
    entry = get_dataset(name)
    if entry.sample is None:
        from ..errors import ConfigError

        raise ConfigError(f"dataset: {name!r} is not a toy data set")
    return entry.sample(n, generator, device)


def toy_centres(name: str) -> Any:
    """A Gaussian mixture's mode centres after scaling, (K, 2)."""
    entry = get_dataset(name)
    if entry.centres is None:
        from ..errors import ConfigError

        raise ConfigError(f"dataset: {name!r} has no modes (mixtures: {', '.join(n for n, d in DATASETS.items() if d.centres)})")
    return entry.centres()


def toy_std(name: str) -> float:
    """Standard deviation of one mixture component after scaling."""
    return get_dataset(name).std


def load_images(name: str, split: str = "train", data_dir: str = "", download: bool = False, resolution: int = 0) -> tuple[Any, Any]:
    """(images uint8 (N, C, H, W), labels int64 (N,) or None) of a data set split, resized to `resolution` when non-zero."""
    from ..errors import ConfigError
    from .images import resize

    entry = get_dataset(name)
    if entry.load is None:
        raise ConfigError(f"dataset: {name!r} is not an image data set")
    if split not in ("train", "test"):
        raise ConfigError(f"split: unknown {split!r}; allowed: train, test")
    x, labels = entry.load(split, data_dir, download, resolution)
    return resize(x.contiguous(), resolution), labels


__all__ = ["DATASETS", "DataSet", "dataset_kind", "get_dataset", "load_images", "register_dataset", "sample_toy", "toy_centres", "toy_std", *_LAZY]
