"""The training loop, written once: `train()` runs one run, `train_ensemble()` the seeds of a cell as one.

Both drive `run_steppers`: trainers with their run directories, stepped by a `Stepper` (S = 1
for one run, an `Ensemble` of stacked modules for several), evaluated, checkpointed, stopped on a
signal and finished through the same `RunFiles`. A run alone is the S = 1 case, so a change
to the loop is made once; the bit-identity tests (tests/test_ensemble.py) guard that a member
of an ensemble computes what its single run computes. Another job kind's trainer goes through the
same loop (`train(..., make=...)`, any class of the run contract, training/protocol.py), so it
evaluates, checkpoints and stops on a signal the same way.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from ..config import ConfigError, RunConfig
from ..rundir import checkpoints
from ..runtime import progress_bar
from ..signals import Interrupted, StopSignals
from .ensemble import check_members
from .protocol import RunContract, Stepping
from .runfiles import RunFiles, finished_final
from .trainer import Trainer


def due(config: RunConfig, step: int) -> tuple[bool, bool]:
    """(evaluate, checkpoint) after generator iteration `step`: every eval_every and at the end; every checkpoint_every before it."""
    return step % config.eval_every == 0 or step == config.steps, step % config.checkpoint_every == 0 and step < config.steps


def sync_for(device: torch.device) -> Callable[[], None]:
    """What makes the host wait for the device: only at evaluations and checkpoints."""
    return torch.cuda.synchronize if device.type == "cuda" else (lambda: None)


def stepper_for(trainers: list[RunContract]) -> Stepping:
    """The trainers at one step, stepped as one: their kind's `stepper_for` (a GAN run alone or a seed ensemble; a kind that steps itself)."""
    return type(trainers[0]).stepper_for(trainers)


def train(config: Any, out_dir: str | Path, *, progress: bool | None = None, log=print, make: Callable[[Any], RunContract] = Trainer) -> dict[str, Any]:
    """Run (or resume, or skip if finished) one run in out_dir; returns the contents of final.json.

    make: the trainer for config, of a class that implements the run contract (protocol.RunContract):
    a GAN `Trainer`, or a registered job kind's (wgan_core.kinds); the loop and RunFiles do the rest.

    Writes config.json before the first step, metrics.csv at every evaluation,
    checkpoint.pt every checkpoint_every steps, and samples.png, model.pt and
    final.json at the end. A non-finite loss ends the run with status "diverged".
    A stop signal (SIGTERM, SIGINT, SIGUSR1, SIGUSR2) ends the current step, saves a
    checkpoint and raises signals.Interrupted: the same call then resumes bit-identically.
    """
    out = Path(out_dir)
    done = finished_final(config, out)
    if done is not None:
        return done
    trainer = make(config)  # loads and checks the data before anything is written
    return run_steppers([RunFiles(trainer, out, log)], progress, log)[0]


def train_ensemble(configs: list[RunConfig], out_dirs: list[str | Path], *, progress: bool | None = None, log=print) -> list[dict[str, Any]]:
    """Run (or resume, or skip where finished) S runs that differ only in their seed as one ensemble.

    Returns each member's final.json, in the order given. Members resumed at different
    steps train as separate ensembles, one per step, one after the other (a member alone at
    its step trains as an ordinary run). A member whose loss turns non-finite
    finishes as diverged (as its single run would) and the others go on without it. A stop
    signal saves every member's checkpoint and raises signals.Interrupted.
    """
    if len(configs) != len(out_dirs):
        raise ConfigError(f"ensemble: {len(configs)} configs but {len(out_dirs)} directories")
    check_members(list(configs))
    finals: list[dict[str, Any] | None] = [finished_final(c, Path(d)) for c, d in zip(configs, out_dirs)]
    todo = [i for i, f in enumerate(finals) if f is None]
    steps = {i: _checkpoint_step(Path(out_dirs[i])) for i in todo}
    first: Trainer | None = None  # every member shares its device copy of the data set
    for step in sorted(set(steps.values())):
        group = [i for i in todo if steps[i] == step]
        trainers = []
        for i in group:  # loads and checks the data before anything is written
            trainers.append(Trainer(configs[i], data_from=first))
            first = first or trainers[0]
        runs = [RunFiles(t, Path(out_dirs[i]), log) for t, i in zip(trainers, group)]
        for k, final in enumerate(run_steppers(runs, progress, log)):
            finals[group[k]] = final
    assert all(f is not None for f in finals)
    return finals  # type: ignore[return-value]


def _checkpoint_step(out: Path) -> int:
    """The step a run would resume at (0 without a readable checkpoint); members at one step train together."""
    state = checkpoints.load(out / "checkpoint.pt", required=("step",), log=lambda m: None)
    return int(state["step"]) if state is not None else 0


def run_steppers(runs: list[RunFiles], progress: bool | None, log) -> list[dict[str, Any]]:
    """The loop: runs at one step (one, or the seeds of a cell), stepped together; returns each one's final.json, in order."""
    c = runs[0].config
    for r in runs:
        r.start()
        if len(runs) > 1:
            r.ensemble = {"size": len(runs), "seeds": [x.config.seed for x in runs]}
    active = list(range(len(runs)))
    stepper = stepper_for([runs[i].trainer for i in active])
    sync = sync_for(stepper.device)
    finals: dict[int, dict[str, Any]] = {}
    bar = progress_bar(c.steps, stepper.step_count, progress, unit="it")
    seg = time.perf_counter()  # start of the current stretch of training steps
    # SIGTERM/SIGINT/SIGUSR1/SIGUSR2 (preemption, scancel, a time limit): finish the step, save, stop.
    with StopSignals() as stop:
        while active and stepper.step_count < c.steps:
            stepper.step()
            bar.update(1)
            s = stepper.step_count
            at_eval, at_ckpt = due(c, s)
            stopping = stop.signum is not None
            if not (at_eval or at_ckpt or stopping):
                continue
            # Only here does the host wait for the device: the steps in between queue up freely on a GPU.
            sync()
            share = (time.perf_counter() - seg) / len(active)  # each run's share of the stretch's time
            stepper.write_back()  # an ensemble's weights and optimiser states into its members
            for i in active:
                runs[i].train_time += share
            diverged = {i: d for i in active if (d := runs[i].trainer.diverged_at()) is not None}
            for i, d in diverged.items():
                finals[i] = runs[i].finish(d)  # the last rows, status diverged, the first bad step
            if diverged:
                active = [i for i in active if i not in diverged]
                if not active:
                    break
                stepper = stepper_for([runs[i].trainer for i in active])  # the others go on without it
            if at_eval:
                rows = [runs[i].add_row() for i in active]
                bar.set_postfix({k: f"{rows[0][k]:.3g}" for k in ("critic_loss", "generator_loss", "w1") if k in rows[0]})
            if stopping:
                bar.close()
                for i in active:
                    runs[i].stop(stop.signum)
                stop.forward()  # inside a submitit job on Slurm: its handler requeues the job (and exits)
                raise Interrupted(stop.signum, s, runs[active[0]].ckpt_path)
            if at_ckpt:
                for i in active:
                    runs[i].save_checkpoint()
            seg = time.perf_counter()
    bar.close()
    for i in active:
        finals[i] = runs[i].finish(None)
    return [finals[i] for i in range(len(runs))]


__all__ = ["due", "run_steppers", "stepper_for", "sync_for", "train", "train_ensemble"]
