"""What a GAN run measures, by data kind: registered evaluators, each computing its metrics and registering their metadata.

The trainer asks `evaluators_for(config)` and loops: at every evaluation each evaluator's
`at_evaluation` adds to the row of metrics.csv, at the end of a run (unless it diverged) each
`at_end` adds to final.json's metrics. Nothing else tells data kinds apart. The built-in ones:

    toy             exact W1 against its floor, VEEGAN/PacGAN mode statistics (metrics/toy.py);
                    at the end the sample panel and the 2,500-sample mode statistics (rundir/artifacts.py)
    image-features  FID and KID every evaluation; FID, KID, precision/recall, class KL at the end
                    (metrics/image.py, torch-fidelity on the run's feature network)
    image-modes     data with modes (stacked-mnist): modes and reverse KL of the fakes (metrics/modes.py)

A new metric is one `register_evaluator(name, Evaluator(applies, at_evaluation, at_end, {name: Metric(...)}))`:
its computation, the runs it applies to and its display metadata (metrics.registry.Metric).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from ..config import RunConfig
from ..data.registry import get_dataset
from ..errors import ConfigError, lookup
from ..metrics.registry import Metric, register_metric
from ..rundir.artifacts import toy_artifacts
from ..seeds import subseed


@dataclass(frozen=True)
class Sampled:
    """One evaluation: the run's fakes from its fixed latents and its fixed real batch, both on the CPU."""

    config: RunConfig
    fake: Tensor  # (n, ...) n = eval_samples; may hold non-finite values once a run has diverged
    real: Tensor  # (m, ...) the run's fixed real evaluation batch
    inputs: dict[str, Any]  # the run's evaluation cache: an evaluator may keep its own fixed inputs here
    device: torch.device


@dataclass(frozen=True)
class Finished:
    """The end of a run that did not diverge: its modules, a sampler and its directory."""

    config: RunConfig
    sample: Callable[[Tensor], Tensor]  # latents (n, z_dim) -> fakes on the CPU, in eval mode
    generator: nn.Module
    critic: nn.Module
    device: torch.device
    out: Path
    last: dict[str, Any]  # the last evaluation's row, and what the evaluators before this one added
    files: dict[str, Any]  # what an evaluator leaves for the run's own files ("panel": the toy panel samples.png draws)


@dataclass(frozen=True)
class Evaluator:
    applies: Callable[[RunConfig], bool]
    at_evaluation: Callable[[Sampled], dict[str, Any]] | None = None
    at_end: Callable[[Finished], dict[str, Any]] | None = None
    metrics: dict[str, Metric] = field(default_factory=dict)  # metadata of metrics it adds (direction, display, tested, plotted)


EVALUATORS: dict[str, Evaluator] = {}


def register_evaluator(name: str, evaluator: Evaluator) -> Evaluator:
    """Add (or replace) an evaluator, and register its metrics' metadata; evaluators run in registration order."""
    if not isinstance(evaluator, Evaluator) or not isinstance(evaluator.metrics, dict):
        raise ConfigError(f"evaluator {name!r}: needs an Evaluator whose metrics are a dict by name ({{name: Metric(...)}})")
    for name_, metric in evaluator.metrics.items():
        register_metric(name_, metric)
    EVALUATORS[name] = evaluator
    return evaluator


def get_evaluator(name: str) -> Evaluator:
    return lookup(EVALUATORS, name, "evaluator")


def evaluator_names() -> tuple[str, ...]:
    return tuple(EVALUATORS)


def evaluators_for(config: RunConfig) -> list[Evaluator]:
    return [e for e in EVALUATORS.values() if e.applies(config)]


# ----------------------------------------------------------------------------------------------
# Toy data: exact metrics on 2-D points.
# ----------------------------------------------------------------------------------------------
def _toy_row(s: Sampled) -> dict[str, Any]:
    from ..metrics.toy import toy_metrics, w1_floor

    if "w1_floor" not in s.inputs:  # two real samples' W1 from the seed alone: computed once per run
        s.inputs["w1_floor"] = w1_floor(s.config.dataset, subseed(s.config.seed, "w1-floor"), len(s.real))
    return toy_metrics(s.fake, s.real, s.config.dataset, s.inputs["w1_floor"]) if torch.isfinite(s.fake).all() else {}


def _toy_end(f: Finished) -> dict[str, Any]:
    f.files["panel"], metrics = toy_artifacts(f.out, f.config, f.generator, f.critic, f.device, f.last)
    return metrics


# ----------------------------------------------------------------------------------------------
# Images: feature-space metrics (torch-fidelity, imported only for image runs) and mode counts.
# ----------------------------------------------------------------------------------------------
def _features_row(s: Sampled) -> dict[str, Any]:
    from ..metrics.image import training_metrics

    return training_metrics(s.config, s.fake, s.device)


def _features_end(f: Finished) -> dict[str, Any]:
    from ..metrics.image import final_metrics

    return final_metrics(f.config, f.sample, f.device)  # the full-size FID/KID, once


def _modes_row(s: Sampled) -> dict[str, Any]:
    from ..metrics.image import image_mode_metrics

    if not torch.isfinite(s.fake).all():
        return {}
    m = image_mode_metrics(s.config.dataset, s.fake, s.config.data_dir)  # {} for data sets without modes
    return {k: m[k] for k in ("modes", "reverse_kl") if k in m}


def _modes_end(f: Finished) -> dict[str, Any]:
    from ..metrics.image import final_mode_metrics

    return final_mode_metrics(f.config, f.sample) if get_dataset(f.config.dataset).has_modes else {}


register_evaluator("toy", Evaluator(lambda c: c.kind == "toy", _toy_row, _toy_end))
register_evaluator("image-features", Evaluator(lambda c: c.kind == "image" and c.extractor != "none", _features_row, _features_end))
register_evaluator("image-modes", Evaluator(lambda c: c.kind == "image", _modes_row, _modes_end))

__all__ = ["EVALUATORS", "Evaluator", "Finished", "Sampled", "evaluator_names", "evaluators_for", "get_evaluator", "register_evaluator"]
