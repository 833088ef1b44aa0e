"""The search space of the tuning-fair search: which hyperparameters vary, over what range, and where each range comes from.

Lucic et al. 2018 ("Are GANs Created Equal?") tune every model by drawing settings at
random from a wide range, then retrain the best. Setting 0 of every objective is its
paper defaults (the variant's sourced settings); setting i > 0 draws every parameter of
`SPACE` from a generator seeded by i alone, in a fixed order, and applies the ones the
objective has (beta1 only with Adam, the penalty weight only with a penalty, the clip
value only with an after-step hook). So setting i of two objectives shares its learning
rate, beta1 and n_critic: a paired design, and settings 0..K-1 are a prefix of 0..K.
Values are rounded to 3 significant digits so that configs stay readable.
"""

from __future__ import annotations

import hashlib
import math
import random
from typing import Any, NamedTuple

from ..config import ConfigError, RunConfig
from ..penalties import get_constraint


class Param(NamedTuple):
    name: str  # a RunConfig field, or "lr" for lr_g and lr_d together
    kind: str  # log (log-uniform) | uniform | choice
    low: float = 0.0
    high: float = 0.0
    choices: tuple[Any, ...] = ()
    source: str = ""


# Ranges: Lucic et al. 2018's "wide" ranges, as their code defines them (google/compare_gan, src/params.py,
# GetDefaultWideRange and the per-GAN ranges; sampled as generate_tasks_lib.py does: uniform, or 10^U on a log scale).
# They did not search Adam's beta2 (TensorFlow's 0.999 throughout) nor the batch size (64): neither is searched here,
# so every objective keeps its own sourced beta2 and batch size. Their batch-norm switch of the discriminator has no
# counterpart in the toy MLPs.
SPACE: tuple[Param, ...] = (
    Param("lr", "log", 1e-5, 1e-2, source="Lucic et al. 2018 (compare_gan src/params.py, wide range): learning rate 10^U[-5, -2], one for both nets"),
    Param("beta1", "uniform", 0.0, 1.0, source="Lucic et al. 2018 (compare_gan src/params.py, wide range): Adam beta1 U[0, 1]"),
    Param("n_critic", "choice", choices=(1, 5), source="Lucic et al. 2018 (compare_gan src/params.py, wide range): disc_iters in {1, 5}"),
    Param("penalty_weight", "log", 0.1, 100.0, source="Lucic et al. 2018 (compare_gan src/params.py, WGAN-GP and DRAGAN wide range): lambda 10^U[-1, 2]"),
    Param("clip_value", "log", 1e-3, 1.0, source="Lucic et al. 2018 (compare_gan src/params.py, WGAN wide range): weight clipping 10^U[-3, 0]"),
)
PARAM_NAMES = tuple(p.name for p in SPACE)


def _round3(x: float) -> float:
    return float(f"{x:.3g}")


def _draw(p: Param, rng: random.Random) -> Any:
    if p.kind == "log":
        return _round3(math.exp(rng.uniform(math.log(p.low), math.log(p.high))))
    if p.kind == "uniform":
        return min(_round3(rng.uniform(p.low, p.high)), 0.999)  # Adam's betas must stay below 1
    return p.choices[rng.randrange(len(p.choices))]


def applies(p: Param, config: RunConfig) -> bool:
    """Whether a parameter means anything for this config's objective."""
    if p.name == "beta1":
        return config.optimizer == "adam"
    if p.name == "penalty_weight":
        return get_constraint(config.constraint).penalises
    if p.name == "clip_value":
        return get_constraint(config.constraint).after_critic_step is not None
    return True


def setting(base: RunConfig, index: int, params: tuple[str, ...] = PARAM_NAMES, seed: int = 0) -> dict[str, Any]:
    """The config overrides of setting `index` for an objective whose defaults are `base` ({} for index 0: the defaults)."""
    if index == 0:
        return {}
    unknown = [n for n in params if n not in PARAM_NAMES]
    if unknown:
        raise ConfigError(f"search: unknown hyperparameter(s) {', '.join(unknown)}; allowed: {', '.join(PARAM_NAMES)}")
    rng = random.Random(int.from_bytes(hashlib.sha256(f"search:{seed}:{index}".encode()).digest()[:8], "big"))
    out: dict[str, Any] = {}
    for p in SPACE:  # every parameter is drawn, in order, so setting i is the same draw for every objective
        value = _draw(p, rng)
        if p.name in params and applies(p, base):
            if p.name == "lr":
                out["lr_g"] = out["lr_d"] = value
            else:
                out[p.name] = value
    return out


def describe_space() -> str:
    lines = []
    for p in SPACE:
        rng_ = f"{{{', '.join(map(str, p.choices))}}}" if p.kind == "choice" else f"{p.kind} [{p.low:g}, {p.high:g}]"
        lines.append(f"{p.name}: {rng_} -- {p.source}")
    return "\n".join(lines)


__all__ = ["PARAM_NAMES", "SPACE", "Param", "applies", "describe_space", "setting"]
