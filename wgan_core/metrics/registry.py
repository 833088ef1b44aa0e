"""The one registry of metric metadata: direction, display name, format, and where each metric is used.

The report (tables, paired tests, plots), the study's progress line and the CLI all
read `METRICS`; a metric computed by a run but not registered here still lands in
runs.csv and curves.csv, it is just not tested, plotted or shown. Pure Python: the
report imports it without torch.
"""

from __future__ import annotations

from typing import NamedTuple

from ..errors import ConfigError, lookup


class Metric(NamedTuple):
    lower_is_better: bool | None  # None: a diagnostic with no better direction
    display: str  # name in tables and on axes
    fmt: str = ".3g"  # format of one value in tables and log lines
    tested: bool = False  # paired tests against the baseline, strip plots of final values
    plotted: bool = False  # convergence curves over training
    shown: bool = False  # in the study's one line per finished run
    threshold: bool = False  # "steps to within 10% of the final value" (the first present is used)
    name: str = ""  # set by register_metric


METRICS: dict[str, Metric] = {}


def register_metric(name: str, metric: Metric) -> Metric:
    """Add (or replace) a metric's metadata; returns it."""
    if not isinstance(metric, Metric):
        raise ConfigError(f"register_metric: {name!r} needs a Metric(lower_is_better, display, ...), got {type(metric).__name__}")
    METRICS[name] = metric = metric._replace(name=name)
    return metric


def get_metric(name: str) -> Metric:
    return lookup(METRICS, name, "metric")


def metric_names() -> tuple[str, ...]:
    return tuple(METRICS)


for _name, _m in (
    # toy data (metrics/toy.py): VEEGAN/PacGAN mode statistics and the exact W1
    ("modes", Metric(False, "modes", ".4g", tested=True, plotted=True, shown=True)),
    ("modes_strict", Metric(False, "modes (strict)")),
    ("high_quality", Metric(False, "high-quality share", ".3f", plotted=True, shown=True)),
    ("reverse_kl", Metric(True, "reverse KL", tested=True)),
    ("modes_real", Metric(None, "modes of as many real samples (reference)", ".4g")),
    ("reverse_kl_real", Metric(None, "reverse KL of as many real samples (reference)")),
    ("kl_floor", Metric(None, "reverse KL sampling floor (K - 1) / 2N")),
    ("mode_classifier_accuracy", Metric(None, "mode classifier's held-out accuracy", ".4f")),
    ("modes_2500", Metric(False, "modes (2,500 samples)", tested=True)),
    ("modes_strict_2500", Metric(False, "modes strict (2,500)")),
    ("high_quality_2500", Metric(False, "high-quality share (2,500)", ".3f", tested=True)),
    ("reverse_kl_2500", Metric(True, "reverse KL (2,500)")),
    ("w1", Metric(True, "W1", ".4g", tested=True, plotted=True, shown=True, threshold=True)),
    ("w1_floor", Metric(None, "W1 floor", ".4g")),
    # images (metrics/image.py): torch-fidelity on the suite's classifier or Inception features
    ("fid", Metric(True, "FID", ".4g", tested=True, plotted=True, shown=True, threshold=True)),
    ("kid", Metric(True, "KID", ".4g", tested=True, plotted=True, shown=True)),
    ("precision", Metric(False, "precision", ".3f")),
    ("recall", Metric(False, "recall", ".3f")),
    ("class_kl", Metric(True, "class KL")),
    # diagnostics
    ("gen_score_grad", Metric(None, "mean |dL_G/dD(G(z))| per sample (saturation)", plotted=True)),
    ("critic_weights_at_max", Metric(None, "share of critic weights within 1% of the largest |w|")),
):  # a job kind registers the metrics its own runs write (wgan_core.kinds)
    register_metric(_name, _m)


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


__all__ = ["METRICS", "Metric", "fmt", "get_metric", "metric_names", "lower_is_better", "plotted", "register_metric", "shown", "tested", "threshold"]
