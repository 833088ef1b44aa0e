"""One round of an interleaved comparison (benchmarks/compare.py): a measuring process per side, taking turns.

`Probe` says how the processes measure, `Measuring` is one side's live process
(benchmarks/probe.py, driven over a pipe), and `measure_round` runs one round: a fresh process
per side, both pinned to the same CPUs, building every configuration, then turns of `chunk`
steps (abtest.turn_orders) until each side has its timed steps; each side's median is the
round's figure. A side that cannot build or step a configuration is a `CompareError`.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from abtest import turn_orders  # noqa: E402
from history import config_label  # noqa: E402


class CompareError(Exception):
    """Bad input or a side that cannot run a configuration: one line, exit 2, nothing recorded."""


@dataclass(frozen=True)
class Side:
    """A or B: the name it is recorded under (a short commit, `+<hash>` for a changed tree) and the tree that is timed."""

    name: str
    tree: Path


@dataclass(frozen=True)
class Probe:
    """How the processes measure: device, torch threads (pinned to as many CPUs), warm-up, timed steps per side, turn length."""

    device: str = "cpu"
    threads: int = 1
    warmup: int = 5
    steps: int = 20  # timed steps per side, configuration and round
    chunk: int = 4  # steps one side takes in a turn before the other side's turn

    @property
    def cpus(self) -> str:
        """The last `threads` CPUs this process may use (the first is left to the parent and the system), '' for all."""
        mine = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
        return ",".join(map(str, mine[-self.threads:])) if 0 < self.threads < len(mine) else ""

    def start(self, side: Side, configs: list[dict], inject: float = 0.0) -> subprocess.Popen:
        """A measuring process of `side` (benchmarks/probe.py) that builds every configuration and waits for requests."""
        args = [sys.executable, str(ROOT / "benchmarks" / "probe.py"), "--source", str(side.tree), "--device", self.device,
                "--configs", json.dumps(configs), "--warmup", str(self.warmup), "--threads", str(self.threads),
                "--cpus", self.cpus, "--inject", str(inject)]
        # Nothing may shadow the side's wgan_core: PYTHONPATH keeps only entries without one (e.g. carried wheels).
        keep = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and not (Path(p) / "wgan_core").exists()]
        env = {**{k: v for k, v in os.environ.items() if k != "PYTHONPATH"}, **({"PYTHONPATH": os.pathsep.join(keep)} if keep else {})}
        return subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1,
                                env=env, cwd=side.tree)


class Measuring:
    """One side's live process in a round: ready() once, then steps(i, k) as often as the schedule asks."""

    def __init__(self, probe: Probe, side: Side, configs: list[dict], inject: float = 0.0):
        self.probe, self.side, self.configs = probe, side, configs
        self.proc = probe.start(side, configs, inject)
        self.inject_ms = 0.0

    def _reply(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait()
            tail = (self.proc.stderr.read().strip().splitlines() or ["no output"])[-1]
            raise CompareError(f"{self.side.name}: the measuring process ended (exit {self.proc.returncode}): {tail}")
        reply = json.loads(line)
        if "error" in reply:
            where = f" cannot run {label(self.configs[reply['config']], self.probe)}" if "config" in reply else ""
            raise CompareError(f"{self.side.name}{where}: {reply['error']}")
        return reply

    def ready(self) -> None:
        self._reply()

    def steps(self, i: int, k: int) -> list[float]:
        self.proc.stdin.write(json.dumps({"config": i, "steps": k}) + "\n")
        self.proc.stdin.flush()
        reply = self._reply()
        self.inject_ms = reply.get("inject_ms", 0.0)  # the busy work --inject-slowdown added to each step (calibration)
        return reply["ms"]

    def close(self) -> None:
        """End the process without waiting for it: its exit (torch's teardown, ~0.7 s here) overlaps the next round's start."""
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            stream.close()
        EXITING.append(self.proc)


EXITING: list[subprocess.Popen] = []  # measuring processes told to end, not yet reaped


def reap() -> None:
    """Wait for every ended measuring process: before a round times anything, none may still be tearing down."""
    while EXITING:
        proc = EXITING.pop()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def label(c: dict, probe: Probe) -> str:
    return config_label(row_fields(c, probe)) + (f" S={c['ensemble']}" if c.get("ensemble") else "")


def row_fields(c: dict, probe: Probe) -> dict:
    """The CONFIG columns of a configuration, as a throughput row names them."""
    dtype = "bf16" if c.get("amp") == "bf16" else "fp32"
    return dict(variant=c["variant"], arch=c["arch"], resolution=c["resolution"], width=c["width"], batch=c["batch"],
                n_critic=c["n_critic"], dtype=dtype, channels_last=False, compile=False, threads=probe.threads)


def measure_round(a: Side, b: Side, configs: list[dict], probe: Probe, r: int, inject: float) -> list[dict]:
    """One round: a fresh process per side, taking turns of `chunk` steps (abtest.turn_orders); one row per side and configuration.

    The first round's processes building every configuration is the check that both sides can
    run them: a CompareError before any time is recorded.
    """
    rows = []
    turns = -(-probe.steps // probe.chunk)
    live = {"A": Measuring(probe, a, configs), "B": Measuring(probe, b, configs, inject)}
    try:
        for m in live.values():
            m.ready()
        reap()  # the last round's processes have exited before this round times a step
        for i in range(len(configs)):
            ms: dict[str, list[float]] = {"A": [], "B": []}
            for t, order in enumerate(turn_orders(r, turns)):
                k = min(probe.chunk, probe.steps - t * probe.chunk)
                for which in order:
                    ms[which] += live[which].steps(i, k)
            for which, side in (("A", a), ("B", b)):
                rows.append(dict(config=i, round=r, side=which, commit=side.name, median_ms=round(statistics.median(ms[which]), 4),
                                 min_ms=round(min(ms[which]), 4), max_ms=round(max(ms[which]), 4),
                                 inject_ms=live[which].inject_ms))
    finally:
        for m in live.values():
            m.close()
    return rows
