"""Genuine slowdowns for the speed gate's calibration: code changes that make the step slower and leave its result unchanged.

    python benchmarks/regressions.py                 # each change's size, measured in one process by alternating both paths

Each entry is a textual change of one source file (applied to a scratch commit by
benchmarks/calibrate.py, which then asks `--compare` for a verdict) and the same change made in
one process to a second trainer (`slow_down`), so its size is measured without any of the
noise between processes: two trainers of one configuration and seed, stepped alternately,
the ratio of their step times per pair, the median over pairs. That the result is unchanged is
checked too: after the timed steps both trainers' parameters are compared.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


@dataclass(frozen=True)
class Regression:
    """A change that slows the step: where (file, old text, new text), why it is slower, and the same change in a live trainer."""

    name: str
    path: str
    old: str
    new: str
    why: str
    slow_down: Callable  # (trainer) -> None: the change, made to one trainer in this process


def _fakes_with_a_graph(trainer) -> None:
    import types

    from wgan_core.training.step import Stepper

    def step() -> None:  # Trainer.step, with the critic steps' generator forwards recording a graph
        stepper = Stepper([trainer])
        stepper.fakes = types.MethodType(Stepper.fakes.__wrapped__, stepper)
        stepper.step()
        stepper.write_back()

    trainer.step = step


def _critic_weight_grads_in_generator_step(trainer) -> None:
    critic = trainer.critic
    critic.requires_grad_ = lambda flag=True: critic  # the generator step's requires_grad_(False) does nothing


REGRESSIONS = {r.name: r for r in [
    Regression("fakes-with-a-graph", "wgan_core/training/step.py",
               "    @torch.no_grad()\n    def fakes(", "    def fakes(",
               "the critic steps' generator forwards record a graph, so every critic backward also runs the generator's "
               "backward (gradients the generator step then zeroes)", _fakes_with_a_graph),
    Regression("critic-grads-in-generator-step", "wgan_core/training/step.py",
               "        self.critic.requires_grad_(False)  # only d loss / d x is needed: no critic weight gradients\n",
               "",
               "the generator step's backward also computes the critic's weight gradients, which the next critic step discards",
               _critic_weight_grads_in_generator_step),
]}


def apply(regression: Regression, tree: Path) -> None:
    """Make the change in a source tree (a scratch checkout); refused when the file no longer holds the old text."""
    path = tree / regression.path
    text = path.read_text()
    if text.count(regression.old) != 1:
        raise ValueError(f"{regression.name}: {regression.path} does not hold the text to change exactly once")
    path.write_text(text.replace(regression.old, regression.new))


def measure(regression: Regression, variant: str = "wgan-gp", width: int = 128, batch: int = 64, pairs: int = 400,
            warmup: int = 10) -> dict:
    """The change's size in one process: trainers A (as committed) and B (changed), one step each in turn, order alternating."""
    import torch

    from wgan_core import RunConfig, Trainer

    torch.set_num_threads(1)
    config = RunConfig.preset(variant, "8gaussians", width=width, batch_size=batch, device="cpu")
    fast, slow = Trainer(config), Trainer(config)
    regression.slow_down(slow)

    def timed(t) -> float:
        start = time.perf_counter()
        t.step()
        return time.perf_counter() - start

    for _ in range(warmup):
        fast.step()
        slow.step()
    ratios = []
    for i in range(pairs):
        if i % 2:
            b = timed(slow)
            a = timed(fast)
        else:
            a = timed(fast)
            b = timed(slow)
        ratios.append(b / a)
    ratios.sort()
    diff = max((p - q).abs().max().item() for p, q in zip([*fast.generator.parameters(), *fast.critic.parameters()],
                                                           [*slow.generator.parameters(), *slow.critic.parameters()]))
    return dict(regression=regression.name, variant=variant, width=width, batch=batch, pairs=pairs,
                slowdown_in_process=round(statistics.median(ratios) - 1, 4),
                ratio_q25=round(ratios[len(ratios) // 4], 4), ratio_q75=round(ratios[3 * len(ratios) // 4], 4),
                max_parameter_difference=f"{diff:.3g}", why=regression.why)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--variants", default="wgan-gp,nsgan")
    p.add_argument("--pairs", type=int, default=400)
    a = p.parse_args(argv)
    for r in REGRESSIONS.values():
        for v in a.variants.split(","):
            print(measure(r, v, pairs=a.pairs), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
