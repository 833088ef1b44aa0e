"""What a measurement depends on: the code's git commit, the CPU model, torch's threads, the load."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent


def git_commit(short: bool = False) -> str:
    """The commit of this checkout ('' outside git), with '+dirty' when wgan_core/ has uncommitted changes."""
    try:
        args = ["git", "rev-parse", *(["--short"] if short else []), "HEAD"]
        commit = subprocess.run(args, cwd=REPO, capture_output=True, text=True, check=True).stdout.strip()
        if subprocess.run(["git", "diff", "--quiet", "HEAD", "--", "wgan_core"], cwd=REPO).returncode == 1:
            commit += "+dirty"
        return commit
    except (OSError, subprocess.CalledProcessError):
        return ""


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            return next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), "") or platform.machine()
    except OSError:
        return platform.processor() or platform.machine()


def environment() -> dict[str, Any]:
    """torch version, threads, CPU model and the 1-minute load average: what a time on this machine depends on."""
    import torch

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return dict(torch=str(torch.__version__), threads=torch.get_num_threads(), cpu=cpu_model(), load_avg_1min=round(load, 2))
