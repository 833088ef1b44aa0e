"""The GPU session's steps and how they run: each command in its own process group, into its log, stopped at its budget;
the whole plan within the session's budget, the final steps' budgets held back (benchmarks/gpu.py builds the plan).
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
MIN_START_S = 10  # a step is not started with less time left than this (or than its budget, if smaller)


@dataclass(frozen=True)
class Step:
    """One command of the run, with its estimate and the budget after which it is stopped."""

    name: str
    what: str
    argv: tuple[str, ...]
    estimate_s: float
    cell: Any = None  # the gpu.Cell a throughput step measures
    after: Callable[[], str] | None = field(default=None, compare=False)  # in-process, after the command: a note for the summary
    final: bool = False  # runs even when the others used up the budget (its own budget is held back for it)
    budget: int = 0  # seconds after which it is stopped; 0: 1.5 x the estimate + 15 s
    verdict_exits: tuple[int, ...] = ()  # exit codes that are a verdict, not a failure (the gate: 1 slower, 3 inconclusive)

    @property
    def budget_s(self) -> int:
        return self.budget or int(1.5 * self.estimate_s + 15)


@dataclass
class Outcome:
    step: Step
    status: str  # ok | failed (exit N) | stopped at its N s budget | not started (...)
    seconds: float = 0.0
    note: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def stop_group(p: subprocess.Popen) -> None:
    """End the process group a step started (its children too, e.g. throughput.py's measuring processes)."""
    for sig, wait in ((signal.SIGTERM, 5), (signal.SIGKILL, 5)):
        try:
            os.killpg(p.pid, sig)
        except ProcessLookupError:
            return
        try:
            p.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue


def run_step(step: Step, log: Path, timeout_s: float, env: dict[str, str]) -> Outcome:
    """Run one step's command into its log, stopped (with its whole process group) after timeout_s."""
    log.parent.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    with log.open("w") as f:
        f.write(f"$ {shlex.join(step.argv)}\n")
        f.flush()
        p = subprocess.Popen(step.argv, stdout=f, stderr=subprocess.STDOUT, cwd=ROOT, env=env, start_new_session=True)
        try:
            rc = p.wait(timeout=timeout_s)
            status = "ok" if rc == 0 or rc in step.verdict_exits else f"failed (exit {rc})"
        except subprocess.TimeoutExpired:
            status = f"stopped at its {timeout_s:.0f} s budget"
        except KeyboardInterrupt:
            stop_group(p)
            raise
        stop_group(p)  # also whatever it left behind
    outcome = Outcome(step, status, time.monotonic() - start)
    if status != "ok":  # the log's last line, usually the error, into the summary
        last = [line for line in log.read_text(errors="replace").splitlines() if line.strip()][-1:]
        outcome.note = last[0].strip().replace("|", "/")[:200] if last and not last[0].startswith("$ ") else ""
    if step.after is not None:
        outcome.note = "; ".join(filter(None, [outcome.note, step.after()]))
    return outcome


def run_all(steps: list[Step], logs: Path, budget_s: float, env: dict[str, str],
            on_progress: Callable[[list[Outcome]], None] = lambda done: None) -> list[Outcome]:
    """Run the steps in order within budget_s: each under min(its budget, what is left); the final steps' budgets held back."""
    deadline = time.monotonic() + budget_s
    reserve = sum(s.budget_s for s in steps if s.final)
    done: list[Outcome] = []
    for step in steps:
        left = deadline - time.monotonic() - (0 if step.final else reserve)
        timeout = step.budget_s if step.final else min(step.budget_s, left)
        if timeout < min(MIN_START_S, step.budget_s):
            done.append(Outcome(step, f"not started (out of time: {max(left, 0):.0f} s left of {budget_s:.0f} s)"))
        else:
            done.append(run_step(step, logs / f"{step.name}.log", timeout, env))
        if step.final:
            reserve -= step.budget_s
        on_progress(done)
    return done


__all__ = ["MIN_START_S", "Outcome", "Step", "run_all", "run_step", "stop_group"]
