"""A study's jobs: run every job of a study that has not finished, with one progress bar and an ETA.

Owns `run_study` (prepare DIR, skip finished runs, hand the rest to an executor, wait
for runs another invocation holds, collect failures), the progress display with its
one log line per finished run, `job_cost` (the relative cost behind the ETA) and
`finished_runs`. Kill-safe: a study killed at any moment and started again skips its
finished runs and resumes the interrupted ones from their checkpoints.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import ConfigError
from ..kinds import job_kind
from ..kinds.gan import critic_step_weight
from ..metrics import registry
from ..runtime import progress_bar, resolve_device
from .executors import Executor, JobResult, StudyError, StudyInterrupted, execute
from .identity import StudySpec, describe_job, prepare_dir
from .presets import Job


def job_cost(job: Job) -> float:
    """Relative cost, for the ETA and for starting the longest jobs first: the job kind's (wgan_core.kinds)."""
    return job_kind(job).cost(job)


@dataclass
class Progress:
    """One overall bar (runs done / total, current run, ETA) on a terminal; a log line per finished run always."""

    jobs: dict[str, Job]
    done: set[str]
    log: Callable[[str], None]
    enabled: bool | None = None
    t0: float = field(default_factory=time.perf_counter)
    done_cost: float = 0.0  # cost of the runs finished by this invocation

    def __post_init__(self) -> None:
        self.total_cost = sum(job_cost(j) for j in self.jobs.values())
        self.bar = progress_bar(
            len(self.jobs),
            initial=len(self.done),
            enabled=self.enabled,
            unit="run",
            bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} runs [{elapsed}{postfix}]",
        )

    def eta(self) -> str:
        remaining = sum(job_cost(j) for rid, j in self.jobs.items() if rid not in self.done)
        if remaining == 0:
            return "0s"
        if self.done_cost == 0:
            return "?"
        return _fmt_s((time.perf_counter() - self.t0) / self.done_cost * remaining)

    def running(self, names: list[str]) -> None:
        self.bar.set_postfix_str(f"ETA {self.eta()}, now: {', '.join(names)}" if names else f"ETA {self.eta()}")

    def finished(self, res: JobResult) -> None:
        rid = res.run_id
        job = self.jobs[rid]
        if rid in self.done:
            return
        self.done.add(rid)
        if res.ran:
            self.done_cost += job_cost(job)
        self.bar.update(1)
        final = res.final or {}
        m = final.get("metrics", {})
        shown = ", ".join(f"{k} {registry.fmt(k, m[k])}" for k in registry.shown() if m.get(k) is not None)
        line = f"[{len(self.done)}/{len(self.jobs)}] {describe_job(job)} ({rid}): {final.get('status', '?')}"
        if res.ran:
            line += f" in {_fmt_s(res.seconds)}"
        line += f"{' (' + shown + ')' if shown else ''}; ETA {self.eta()}"
        self.write(line)

    def write(self, line: str) -> None:
        if self.bar.disable:
            self.log(line)
        else:
            self.bar.write(line, file=sys.stderr)

    def close(self) -> None:
        self.bar.set_postfix_str("")
        self.bar.close()


def _fmt_s(s: float) -> str:
    s = int(round(s))
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else (f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s")


def run_plain(
    spec: StudySpec,
    root: str | Path,
    executor: Executor | None = None,
    *,
    progress: bool | None = None,
    log: Callable[[str], None] = print,
    command: str = "",
    poll_s: float = 10.0,
) -> dict[str, Any]:
    """Run every job of a study (not a search) that has not finished. Returns {'total', 'ran', 'skipped', 'failed', 'seconds'}.

    Runs held by another live invocation are waited for (and taken over if that
    invocation dies). Raises StudyError at the end if some runs failed.
    """
    executor = executor or Executor("local")
    root = Path(root).expanduser()
    jobs = spec.jobs()  # ConfigError for a bad preset, variant, data set or override: before anything is written
    check_device(spec, executor)
    prepare_dir(root, spec, jobs, command)
    summary = run_jobs(spec.preset, jobs, root, executor, progress=progress, log=log, poll_s=poll_s)
    raise_failures(summary, root)
    return summary


def check_device(spec: StudySpec, executor: Executor) -> None:
    if executor.kind in ("local", "process") and spec.device != "auto":
        resolve_device(spec.device)  # 'cuda' without CUDA: a user mistake, reported now


def raise_failures(summary: dict[str, Any], root: Path) -> None:
    failed, stopped = summary["failed"], summary.get("stopped", {})
    if failed:
        errors = "; ".join(f"{rid}: {err}" for rid, err in failed.items())
        more = f"; {len(stopped)} more stopped before finishing (resumed by the same command)" if stopped else ""
        raise StudyError(f"{len(failed)} run(s) failed: {errors} (error.log in each run directory under {root}){more}")
    if stopped:
        raise StudyInterrupted(
            f"{len(stopped)} run(s) stopped before finishing, their checkpoints kept: "
            + "; ".join(f"{rid}: {why}" for rid, why in stopped.items())
            + "; run the same command again to resume them",
            by_signal=summary.get("interrupted", False),
        )


def run_jobs(
    title: str,
    jobs: list[Job],
    root: Path,
    executor: Executor,
    *,
    progress: bool | None = None,
    log: Callable[[str], None] = print,
    poll_s: float = 10.0,
) -> dict[str, Any]:
    """Run the jobs not finished yet in root/<run_id>.

    Returns {'total', 'ran', 'skipped', 'failed': {run_id: error}, 'stopped': {run_id: why},
    'interrupted', 'seconds'}. A run stopped by a signal (state interrupted) stops the
    study: no further run starts. A cancelled Slurm job is recorded; the others go on.
    """
    by_id = {j.run_id(): j for j in jobs}
    done = {rid for rid in by_id if (root / rid / "final.json").exists()}
    t0 = time.perf_counter()
    log(f"study {title}: {len(by_id)} runs in {root} ({len(done)} finished already), executor {executor.name}")
    prog = Progress(by_id, set(done), log, progress)
    failed: dict[str, str] = {}
    stopped: dict[str, str] = {}  # interrupted or cancelled: resumable from their checkpoints
    interrupted = False
    ran = 0
    try:
        while not interrupted:
            todo = [j for rid, j in by_id.items() if rid not in prog.done and rid not in failed and rid not in stopped]
            if not todo:
                break
            # Longest first (stable): with N workers, the study then ends with short runs, not one long straggler.
            todo.sort(key=job_cost, reverse=True)
            busy: list[JobResult] = []
            results = execute(executor, todo, root, prog)
            for res in results:
                if res.state == "done":
                    ran += res.ran
                    prog.finished(res)
                elif res.state == "config_error":
                    raise ConfigError(res.error)
                elif res.state == "busy":
                    busy.append(res)
                elif res.state in ("interrupted", "cancelled"):
                    stopped[res.run_id] = res.error
                    prog.write(f"run {describe_job(by_id[res.run_id])} ({res.run_id}) {res.state}: {res.error}")
                    if res.state == "interrupted":  # a stop signal: start nothing more (the pool finishes what it holds)
                        interrupted = True
                        results.close()
                        break
                else:
                    failed[res.run_id] = res.error
                    prog.write(f"run {describe_job(by_id[res.run_id])} ({res.run_id}) failed: {res.error}; see {root / res.run_id / 'error.log'}")
            if busy and not interrupted:
                holders = sorted({f"pid {(b.holder or {}).get('pid')} on {(b.holder or {}).get('host')}" for b in busy})
                prog.running([])
                prog.write(f"waiting for {len(busy)} run(s) held by another invocation ({'; '.join(holders)})")
                time.sleep(poll_s)
    finally:
        prog.close()
    seconds = time.perf_counter() - t0
    log(f"study {title}: {len(prog.done)}/{len(by_id)} runs finished ({ran} run now) in {_fmt_s(seconds)}")
    return {"total": len(by_id), "ran": ran, "skipped": len(done), "failed": failed, "stopped": stopped, "interrupted": interrupted, "seconds": seconds}


def finished_runs(root: Path) -> list[str]:
    return sorted(p.parent.name for p in Path(root).glob("*/final.json"))


__all__ = ["Progress", "check_device", "critic_step_weight", "finished_runs", "job_cost", "raise_failures", "run_jobs", "run_plain"]
