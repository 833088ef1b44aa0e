"""Where the Inception weights come from: a file the user names, torch-fidelity's cache, or (if allowed) a download.

torch-fidelity's `inception-v3-compat` (the TensorFlow FID Inception, converted)
downloads its weights on first use. On an offline machine that is a hang or a
raw URLError, so here the weights are found first and handed to torch-fidelity
as `feature_extractor_weights_path`:

  1. `--inception-weights PATH` (or the `weights` argument), else $WGAN_INCEPTION_WEIGHTS;
  2. torch-fidelity's own download location in the torch hub cache, if a file is there;
  3. a download into that location, only when downloads are allowed (`download=True`,
     as for the data sets), with a timeout.
Otherwise a ConfigError says how to provide the file. Before torch-fidelity sees
a file, it is loaded with `weights_only=True` and its structure checked, so a
wrong or unsafe file is a one-line error.
"""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
from functools import lru_cache
from pathlib import Path

import torch
from torch_fidelity.feature_extractor_inceptionv3 import URL_INCEPTION_V3

from ..config import ConfigError

NAME = "inception-v3-compat"  # torch-fidelity's registered name, and the `extractor` column
ENV_VAR = "WGAN_INCEPTION_WEIGHTS"
DOWNLOAD_TIMEOUT_S = 30


def hub_path() -> Path:
    """Where torch-fidelity's own download puts the weights (torch.hub's checkpoints folder)."""
    return Path(torch.hub.get_dir()) / "checkpoints" / URL_INCEPTION_V3.rsplit("/", 1)[-1]


def how_to_provide() -> str:
    return (
        f"Inception weights not found. Download {URL_INCEPTION_V3} on a machine with internet and pass "
        f"--inception-weights PATH (or set {ENV_VAR}=PATH), or put the file at {hub_path()}, or allow a download "
        "with --download (--set download=true in training); the offline default is --extractor classifier"
    )


def resolve_weights(weights: str | os.PathLike | None = None, download: bool = False) -> Path:
    """The checked weights file to use; ConfigError at once when there is none."""
    given = weights or os.environ.get(ENV_VAR)
    if given:
        path = Path(given).expanduser()
        if not path.is_file():
            source = "--inception-weights" if weights else ENV_VAR
            raise ConfigError(f"{source}: {path} is not a file. " + how_to_provide())
        _check(str(path), *_stamp(path))
        return path
    path = hub_path()
    if not path.is_file():
        if not download:
            raise ConfigError(how_to_provide())
        _download(path)
    _check(str(path), *_stamp(path))
    return path


def weights_tag(path: Path) -> str:
    """12 hex digits of the file's SHA-256, so cached reference features never mix weights."""
    return _sha256(str(path), *_stamp(path))[:12]


def _stamp(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_size, st.st_mtime_ns


@lru_cache(maxsize=4)
def _sha256(path: str, size: int, mtime_ns: int) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


@lru_cache(maxsize=4)
def _check(path: str, size: int, mtime_ns: int) -> None:
    """Load with weights_only=True (no code runs) and compare with the network's layout."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # an unpickling error, a truncated zip, a non-torch file: all the user's file
        raise ConfigError(f"inception weights: cannot load {path} as a state dict ({type(e).__name__}: {e})") from None
    fc = state.get("fc.weight") if isinstance(state, dict) else None
    conv = state.get("Conv2d_1a_3x3.conv.weight") if isinstance(state, dict) else None
    if fc is None or conv is None or tuple(fc.shape) != (1008, 2048) or tuple(conv.shape) != (32, 3, 3, 3):
        raise ConfigError(f"inception weights: {path} is not an {NAME} state dict (torch-fidelity's FeatureExtractorInceptionV3)")


def _download(path: Path) -> None:
    """Fetch the weights with a timeout into torch-fidelity's location (temporary file, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    try:
        with urllib.request.urlopen(URL_INCEPTION_V3, timeout=DOWNLOAD_TIMEOUT_S) as r, open(tmp, "wb") as f:
            for block in iter(lambda: r.read(1 << 20), b""):
                f.write(block)
        os.replace(tmp, path)
    except (urllib.error.URLError, OSError, TimeoutError) as e:
        tmp.unlink(missing_ok=True)
        raise ConfigError(f"inception weights: download failed ({e}). " + how_to_provide()) from None
