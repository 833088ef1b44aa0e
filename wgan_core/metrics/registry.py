"""The one registry of metric metadata: direction, display name, format, and where each metric is used.

The report (tables, paired tests, plots), the study's progress line and the CLI all
read `METRICS`; a metric computed by a run but not registered here still lands in
runs.csv and curves.csv, it is just not tested, plotted or shown. Pure Python: the
report imports it without torch.
"""

from __future__ import annotations

from typing import NamedTuple


class Metric(NamedTuple):
    name: str
    lower_is_better: bool | None  # None: a diagnostic with no better direction
    display: str  # name in tables and on axes
    fmt: str = ".3g"  # format of one value in tables and log lines
    tested: bool = False  # paired tests against the baseline, strip plots of final values
    plotted: bool = False  # convergence curves over training
    shown: bool = False  # in the study's one line per finished run
    threshold: bool = False  # "steps to within 10% of the final value" (the first present is used)


METRICS: dict[str, Metric] = {}


def register_metric(metric: Metric) -> Metric:
    """Add (or replace) a metric's metadata; returns it."""
    METRICS[metric.name] = metric
    return metric


for _m in (
    # toy data (metrics/toy.py): VEEGAN/PacGAN mode statistics and the exact W1
    Metric("modes", False, "modes", ".4g", tested=True, plotted=True, shown=True),
    Metric("modes_strict", False, "modes (strict)"),
    Metric("high_quality", False, "high-quality share", ".3f", plotted=True, shown=True),
    Metric("reverse_kl", True, "reverse KL", tested=True),
    Metric("modes_real", None, "modes of as many real samples (reference)", ".4g"),
    Metric("reverse_kl_real", None, "reverse KL of as many real samples (reference)"),
    Metric("kl_floor", None, "reverse KL sampling floor (K - 1) / 2N"),
    Metric("mode_classifier_accuracy", None, "mode classifier's held-out accuracy", ".4f"),
    Metric("modes_2500", False, "modes (2,500 samples)", tested=True),
    Metric("modes_strict_2500", False, "modes strict (2,500)"),
    Metric("high_quality_2500", False, "high-quality share (2,500)", ".3f", tested=True),
    Metric("reverse_kl_2500", True, "reverse KL (2,500)"),
    Metric("w1", True, "W1", ".4g", tested=True, plotted=True, shown=True, threshold=True),
    Metric("w1_floor", None, "W1 floor", ".4g"),
    # images (metrics/image.py): torch-fidelity on the suite's classifier or Inception features
    Metric("fid", True, "FID", ".4g", tested=True, plotted=True, shown=True, threshold=True),
    Metric("kid", True, "KID", ".4g", tested=True, plotted=True, shown=True),
    Metric("precision", False, "precision", ".3f"),
    Metric("recall", False, "recall", ".3f"),
    Metric("class_kl", True, "class KL"),
    # diagnostics
    Metric("gen_score_grad", None, "mean |dL_G/dD(G(z))| per sample (saturation)", plotted=True),
    Metric("critic_weights_at_max", None, "share of critic weights within 1% of the largest |w|"),
):  # a job kind registers the metrics its own runs write (wgan_core.kinds)
    register_metric(_m)


def tested() -> tuple[str, ...]:
    return tuple(m.name for m in METRICS.values() if m.tested)


def plotted() -> tuple[str, ...]:
    return tuple(m.name for m in METRICS.values() if m.plotted)


def shown() -> tuple[str, ...]:
    return tuple(m.name for m in METRICS.values() if m.shown)


def threshold() -> tuple[str, ...]:
    return tuple(m.name for m in METRICS.values() if m.threshold)


def lower_is_better(name: str) -> bool:
    """The direction the failure rule and selection judge a metric by: lower is better unless registered otherwise."""
    return METRICS[name].lower_is_better is not False if name in METRICS else True


def fmt(name: str, value: object) -> str:
    """One value as the registry formats it ('.3g' for unregistered metrics)."""
    if not isinstance(value, float):
        return str(value)
    spec = METRICS[name].fmt if name in METRICS else ".3g"
    return format(value, spec)


__all__ = ["METRICS", "Metric", "fmt", "lower_is_better", "plotted", "register_metric", "shown", "tested", "threshold"]
