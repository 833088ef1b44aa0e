"""Units: which jobs of a study train together as seed ensembles (wgan_core.training.ensemble), and why.

Owns `--ensemble auto|off|S` (`parse_ensemble`), auto's rule with the measurements behind it
(`ensemble_pays`, ENSEMBLE_CPU_MAX_WIDTH) and `plan_units`, which the executors call before
they run anything: a unit is one job, or up to S seeds of one cell.
"""

from __future__ import annotations

from typing import Any

from ..config import ConfigError
from ..kinds import job_kind
from .presets import Job

# Where seed ensembles pay, measured side by side on this project's 2-core CPU (one torch thread per
# process, as process:N workers run): `python benchmarks/throughput.py --variants wgan-gp --arch mlp
# --width W --batch 256 --device cpu --threads 1 --ensemble S --iters 10 --warmup 3`, rows in
# results/throughput/cpu.csv. Per-run throughput of an ensemble over S separate runs, wgan-gp:
#     width   32: 1.54x (S=3), 2.40x (S=10)      width  64: 1.42x, 1.63x      width 128: 1.14x, 1.09x
#     width  256: 0.96x, 0.96x                   width 512: 0.93x, 0.92x
# At width 128 and S=3 also gan 1.15x, nsgan 1.12x, wgan-clip 1.22x, wgan-lp 1.15x. The small MLPs spend
# their time in per-operator overhead, which stacking shares; from width 256 the step is bound by
# arithmetic and memory traffic, which it does not (stacked activations also fall out of the cache).
# The DCGAN critic as grouped convolutions gains nothing on this CPU either (README, "Seed ensembles").
# On CUDA small models leave the device idle between kernel launches, so every stackable run is
# expected to gain: written for it, unmeasured on a GPU until it has been.
ENSEMBLE_CPU_MAX_WIDTH = 128
ENSEMBLE_AUTO_MAX = 20  # members per ensemble under auto (a cell's seeds beyond it form further ensembles)


def parse_ensemble(value: str) -> str:
    """'auto', 'off' or a member count >= 2, as text (the Executor field)."""
    v = str(value).strip()
    if v in ("auto", "off") or (v.isdigit() and int(v) >= 2):
        return v
    if v == "1":
        return "off"
    raise ConfigError(f"ensemble: unknown {value!r}; allowed: auto, off, or a member count S >= 2")


def ensemble_pays(job: Job) -> bool:
    """auto's rule: a stackable run on CUDA, or a toy MLP of width <= ENSEMBLE_CPU_MAX_WIDTH on the CPU (never a DCGAN there)."""
    if job_kind(job).refusal(job) is not None:
        return False
    device = job.device
    if device == "auto":
        from .presets import cuda_available

        device = "cuda" if cuda_available() else "cpu"
    from ..models.registry import get_architecture

    return device.startswith("cuda") or (get_architecture(job.arch).cpu_ensembles_pay and job.width <= ENSEMBLE_CPU_MAX_WIDTH)


def plan_units(jobs: list[Job], ensemble: str = "off", workers: int = 1) -> list[list[Job]]:
    """Group jobs into units: the seeds of one cell (configs equal but for the seed) into ensembles of up to S members.

    off: every job alone. S: every stackable cell in ensembles of up to S. auto: where
    `ensemble_pays`, up to ENSEMBLE_AUTO_MAX members, and no more than leave a unit for each of
    the executor's `workers` (one cell of 10 seeds on process:2: two ensembles of 5, not one of 10
    with a core idle). A unit takes the position of its first job.
    """
    if ensemble == "off":
        return [[j] for j in jobs]
    from ..training.ensemble import seed_key

    size = int(ensemble) if ensemble != "auto" else max(1, min(ENSEMBLE_AUTO_MAX, -(-len(jobs) // max(1, workers))))
    units: list[list[Job]] = []
    open_units: dict[Any, list[Job]] = {}
    for job in jobs:
        ok = ensemble_pays(job) if ensemble == "auto" else job_kind(job).refusal(job) is None
        if not ok:
            units.append([job])
            continue
        key = seed_key(job)
        unit = open_units.get(key)
        if unit is None or len(unit) >= size:
            unit = open_units[key] = []
            units.append(unit)
        unit.append(job)
    return units


__all__ = ["ENSEMBLE_AUTO_MAX", "ENSEMBLE_CPU_MAX_WIDTH", "ensemble_pays", "parse_ensemble", "plan_units"]
