"""One measuring process of an interleaved comparison (benchmarks/compare.py): time Trainer.step() of one source tree.

    python benchmarks/probe.py --source TREE --configs JSON [--warmup W] [--threads T] [--cpus 1] [--inject F]

The harness is this file, from the checkout that runs the comparison; the library it times is
`TREE/wgan_core` (a git worktree of one commit, or any source tree), put first on sys.path. So
both sides of a comparison are timed by the same code, and only the library differs.

It uses nothing of the library but what every commit since the speed tracker began has:
`RunConfig.preset(variant, dataset, **fields)`, `Trainer(config, images=...)` and
`trainer.step()` (and, for --ensemble S configurations, `wgan_core.training.ensemble.Ensemble`). Image
content does not matter for speed: random uint8 images of the right
shape. It builds and warms up every configuration, then times steps when the parent asks
(serve(): the protocol), so the parent can alternate it with the other side's process a few
steps at a time: a slow spell of the machine then falls on both sides alike.

--inject F (calibration and tests only: it measures the decision rule's power) adds a known
amount of work to every timed step: a busy loop of F times the median of this process's own
steady steps of that configuration (5 timed in its first turn, while the other side waits), inside the timed region, so the
step is about F slower; the milliseconds added are reported, so the fraction injected is known.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path


def build(c: dict, device: str):
    """A Trainer of the configuration c (variant, arch, width, batch, resolution, amp[, ensemble]) from the wgan_core imported."""
    import torch

    from wgan_core import RunConfig, Trainer

    arch = c["arch"]
    dataset = {"mlp": "8gaussians", "dcgan": "fashion-mnist" if c.get("resolution", 28) == 28 else "cifar10"}.get(arch)
    over = dict(width=c["width"], batch_size=c["batch"], device=device)
    if dataset is None:  # another registered architecture: the data set it is the default of (registries only)
        from wgan_core.data import DATASETS

        dataset = next(n for n, d in DATASETS.items() if d.arch == arch)
        over["arch"] = arch
    if dataset == "cifar10":
        over["resolution"] = c["resolution"]
    if c.get("amp", "none") != "none":  # only fields a commit must have for this configuration
        over["amp"] = c["amp"]
    config = RunConfig.preset(c["variant"], dataset, **over)
    images = None
    if config.kind == "image":
        channels = 1 if dataset == "fashion-mnist" else 3
        side = config.resolution or 28
        images = torch.randint(0, 256, (max(4096, 8 * config.batch_size * config.n_critic), channels, side, side),
                               dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    if c.get("ensemble", 0) >= 2:  # S seeds as one seed ensemble (wgan_core.training.ensemble): its step is timed
        from wgan_core.training.ensemble import Ensemble

        first = Trainer(config, images=images)
        return Ensemble([first] + [Trainer(config.replace(seed=s), images=images, data_from=first)
                                   for s in range(1, c["ensemble"])])
    return Trainer(config, images=images)


def spin(seconds: float) -> None:
    """Busy work for `seconds` (the injected slowdown): the CPU is kept busy, not asleep."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def timed_steps(trainer, warmup: int, steps: int, extra: float = 0.0, cuda: bool = False) -> list[float]:
    """Milliseconds of each of `steps` timed steps after `warmup` untimed ones (on a GPU: by CUDA events).

    `extra`: seconds of busy work after each timed step, inside the timed region (--inject).
    """
    import torch


    def one(extra: float = 0.0) -> float:
        if cuda:  # CUDA events: the GPU's own clock around the step's kernels, not the host's view of their queue
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            torch.cuda.synchronize()
            start.record()
            trainer.step()
            end.record()
            end.synchronize()
            if extra:
                spin(extra)
            return start.elapsed_time(end) + 1000 * extra
        t = time.perf_counter()
        trainer.step()
        if extra:
            spin(extra)
        return 1000 * (time.perf_counter() - t)

    for _ in range(warmup):
        one()
    return [one(extra) for _ in range(steps)]


def injected_seconds(trainer, fraction: float, steps: int = 5, cuda: bool = False) -> float:
    """The busy work --inject F adds to each step: F times the median of `steps` steady steps timed now.

    The steps are taken whatever F is, so both sides of a comparison take them alike (F = 0 on A).
    """
    import statistics

    return fraction * statistics.median(timed_steps(trainer, 0, steps, cuda=cuda)) / 1000


def serve(source: Path, configs: list[dict], device: str, warmup: int, inject: float, cpus: str) -> int:
    """Build every configuration, then time steps on request: the parent alternates this process with the other side's.

    Protocol (JSON lines): after building and warming up every configuration, one line
    {"ready": true} or {"error": "..."}; then for each request {"config": i, "steps": k} on
    stdin, {"ms": [k timings]}; end of stdin ends the process. Waiting on stdin takes no CPU, so
    the two sides' processes, pinned to the same CPUs, take turns without disturbing each other.
    """
    if cpus and hasattr(os, "sched_setaffinity"):  # imports ran on any CPU; building, warming up and timing on these
        os.sched_setaffinity(0, {int(c) for c in cpus.split(",")})
    cuda = device == "cuda"  # the timing method follows the device asked for, not what else touched CUDA
    trainers: list = []
    extras: dict[int, float] = {}
    for c in configs:
        try:
            trainer = build(c, device)
            timed_steps(trainer, warmup, 0, cuda=cuda)
        except Exception as e:  # this commit cannot run this configuration: said by the parent in one line
            print(json.dumps({"error": f"{type(e).__name__}: {e}".splitlines()[0], "config": len(trainers)}), flush=True)
            return 0
        trainers.append(trainer)
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        i = request["config"]
        if i not in extras:
            # The injected work is a fraction of a steady step, timed now, in this side's turn: while both sides
            # build and warm up they share the CPU, and a fresh trainer's first steps are slower still. Both sides
            # take these 5 steps (untimed for the comparison), so they stay alike.
            extras[i] = injected_seconds(trainers[i], inject, cuda=cuda)
        ms = timed_steps(trainers[i], 0, request["steps"], extra=extras[i], cuda=cuda)
        print(json.dumps({"ms": [round(x, 4) for x in ms], "inject_ms": round(1000 * extras[i], 4)}), flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--source", required=True, help="a source tree holding wgan_core/")
    p.add_argument("--configs", required=True, help="JSON list of {variant, arch, width, batch, resolution, amp}")
    p.add_argument("--device", default="cpu")
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--cpus", default="", help="comma-separated CPU ids to pin this process to ('' = not pinned)")
    p.add_argument("--inject", type=float, default=0.0, help="calibration only: add this fraction of a step as busy work")
    a = p.parse_args(argv)
    source = Path(a.source).resolve()
    sys.path.insert(0, str(source))
    import torch

    torch.set_num_threads(a.threads)
    torch.backends.cudnn.benchmark = True
    import wgan_core

    if Path(wgan_core.__file__).resolve().parent.parent != source:  # another wgan_core shadows the one to time
        print(json.dumps({"error": f"imported wgan_core from {wgan_core.__file__}, not from {source}"}), flush=True)
        return 2
    return serve(source, json.loads(a.configs), a.device, a.warmup, a.inject, a.cpus)


if __name__ == "__main__":
    sys.exit(main())
