"""Executors: where a study's jobs run, and the one function every executor runs.

Owns `work` (claim one job, run it in DIR/<run_id>, return a `JobResult`), the
`Executor` spec parsed from --executor and --slurm, and the executors themselves:
`local` (sequential, in this process), `process:N` (N worker processes, torch threads
per worker = cores // N), `submitit[:N]` (Slurm through submitit, or its local executor
where there is no Slurm; N = jobs in flight) and `submitit-local[:N]` (submitit's local
executor, always). Every executor runs the same `work_unit`, so results land in the same layout.

A unit is one job, or the seeds of one cell trained as a seed ensemble (wgan_core.training.ensemble):
`--ensemble auto|off|S` decides how `plan_units` (study/units.py) groups a study's jobs (`Executor.ensemble`).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ..config import ConfigError
from ..kinds import job_kind
from ..signals import EXIT_INTERRUPTED, Interrupted
from .claims import Claim, try_claim
from .identity import describe_job
from .presets import Job
from .units import ENSEMBLE_AUTO_MAX, ENSEMBLE_CPU_MAX_WIDTH, ensemble_pays, parse_ensemble, plan_units

STATES = ("done", "busy", "failed", "config_error", "interrupted", "cancelled")


class StudyError(RuntimeError):
    """Runs of a study failed (not a user mistake): the CLI reports them and exits 1."""


class StudyInterrupted(StudyError):
    """Runs stopped before finishing (a stop signal, a cancelled Slurm job), checkpoints kept: exit 75, resume by rerunning."""

    def __init__(self, message: str, by_signal: bool = False) -> None:
        super().__init__(message)
        self.by_signal = by_signal  # this invocation was signalled: its user wants it to stop, so no report is written


@dataclass(frozen=True)
class JobResult:
    """What running (or trying to run) one job came to; pickles, so it crosses process and submitit boundaries.

    state: done (final holds the run's final.json; ran: trained by this call, not found
    finished), busy (holder: the claim info of the live process running it), failed
    (error: the exception's last line; the traceback is in the run's error.log),
    config_error (error: a user mistake that every run would hit; it stops the study),
    interrupted (a stop signal reached the training process: it saved a checkpoint; the
    study stops) or cancelled (its Slurm job was cancelled; the checkpoint stays for the
    next invocation; the study goes on with the other runs).
    """

    run_id: str
    state: str  # one of STATES
    final: dict[str, Any] | None = None
    seconds: float = 0.0
    ran: bool = False
    error: str = ""
    holder: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if self.state not in STATES:
            raise ValueError(f"JobResult.state: unknown {self.state!r}; allowed: {', '.join(STATES)}")


class Reporter(Protocol):
    """What the executors tell the study loop while jobs run (the loop's progress display)."""

    def running(self, names: list[str]) -> None: ...

    def write(self, line: str) -> None: ...


# ==============================================================================================
# Running one job: the same function under every executor.
# ==============================================================================================
def run_job(job: Job, run_dir: Path, log: Callable[[str], None] = print) -> dict[str, Any]:
    return job_kind(job).train(job, run_dir, log)


def run_unit(jobs: list[Job], run_dirs: list[Path], log: Callable[[str], None] = print) -> list[dict[str, Any]]:
    """Train one job, or several seeds of one cell as a seed ensemble; returns each one's final.json."""
    if len(jobs) == 1:
        return [run_job(jobs[0], run_dirs[0], log)]
    from ..training.loop import train_ensemble

    return train_ensemble(jobs, run_dirs, progress=False, log=log)  # type: ignore[arg-type]


def work(job: Job, root: str, threads: int | None = None) -> JobResult:
    """Claim and run one job in DIR/<run_id> (work_unit of one job)."""
    return work_unit([job], root, threads)[0]


def work_unit(jobs: list[Job], root: str, threads: int | None = None) -> list[JobResult]:
    """Claim and run a unit (one job, or the seeds of a cell as an ensemble) in DIR/<run_id> each; one JobResult per job.

    Finished jobs come back done, jobs another live process holds come back busy, and the
    rest train together. A ConfigError (a user mistake such as missing data: every run
    would hit it) comes back as state 'config_error' and stops the study; it is returned
    rather than raised so it crosses process and submitit boundaries intact. Any other
    exception is written to each run's error.log and reported as 'failed'.
    """
    if threads:
        import torch

        before = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            return work_unit(jobs, root, None)
        finally:
            torch.set_num_threads(before)  # the local executor runs in the caller's process: leave it as it was
    out: dict[str, JobResult] = {}
    claimed: list[tuple[Job, Claim]] = []
    for job in jobs:
        rid = job.run_id()
        run_dir = Path(root) / rid
        if (run_dir / "final.json").exists():
            out[rid] = JobResult(rid, "done", final=json.loads((run_dir / "final.json").read_text()))
            continue
        claim = try_claim(Path(root), rid)
        if isinstance(claim, Claim):
            claimed.append((job, claim))
        else:
            out[rid] = JobResult(rid, "busy", holder=claim)
    if claimed:
        out.update(_run_claimed(claimed, Path(root)))
    return [out[j.run_id()] for j in jobs]


def _run_claimed(claimed: list[tuple[Job, Claim]], root: Path) -> dict[str, JobResult]:
    t0 = time.perf_counter()
    rids = [job.run_id() for job, _ in claimed]
    with contextlib.ExitStack() as held:
        for _, claim in claimed:
            held.enter_context(claim)
        try:
            finals = run_unit([job for job, _ in claimed], [root / rid for rid in rids], log=lambda m: print(m, file=sys.stderr, flush=True))
        except Interrupted as e:
            if os.environ.get("SUBMITIT_EXECUTOR") == "slurm":
                # No result: Slurm's state decides. A requeued job runs again and resumes from the
                # checkpoint; a cancelled one is reported by the study, which resumes it next time.
                raise SystemExit(EXIT_INTERRUPTED) from None
            why = str(e)
            return _or_finished(root, rids, t0, lambda rid: JobResult(rid, "interrupted", error=why))
        except ConfigError as e:
            why = str(e)
            return _or_finished(root, rids, t0, lambda rid: JobResult(rid, "config_error", error=why))
        except Exception:  # noqa: BLE001 - a failed run is recorded; the study goes on
            tb = traceback.format_exc()

            def failed(rid: str) -> JobResult:
                (root / rid).mkdir(parents=True, exist_ok=True)
                (root / rid / "error.log").write_text(tb)
                return JobResult(rid, "failed", error=tb.strip().splitlines()[-1])

            return _or_finished(root, rids, t0, failed)
    seconds = (time.perf_counter() - t0) / len(rids)  # an ensemble's members share its time
    return {rid: JobResult(rid, "done", final=final, seconds=seconds, ran=True) for rid, final in zip(rids, finals)}


def _or_finished(root: Path, rids: list[str], t0: float, otherwise: Callable[[str], JobResult]) -> dict[str, JobResult]:
    """After a unit stopped or failed: members that finished before it did (diverged ones, say) are done; the rest `otherwise`."""
    out = {}
    for rid in rids:
        final = root / rid / "final.json"
        if final.exists():
            out[rid] = JobResult(rid, "done", final=json.loads(final.read_text()), seconds=(time.perf_counter() - t0) / len(rids), ran=True)
        else:
            out[rid] = otherwise(rid)
    return out


def _init_worker(threads: int) -> None:
    os.environ["OMP_NUM_THREADS"] = str(threads)
    import torch

    torch.set_num_threads(threads)


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


# ==============================================================================================
# The executor spec and the executors.
# ==============================================================================================
@dataclass(frozen=True)
class Executor:
    kind: str  # local | process | submitit | submitit-local
    n: int = 0  # workers (process) or jobs in flight (submitit; 0 = all on Slurm, cores locally)
    params: dict[str, Any] = field(default_factory=dict, hash=False)  # submitit parameters (--slurm KEY=VALUE)
    threads: int = 0  # torch threads per run; 0 = local: torch's default, process:N and local submitit: cores // N
    ensemble: str = "off"  # seed ensembles: off | auto (where they pay) | S (up to S seeds of a cell train as one); see plan_units

    @staticmethod
    def parse(spec: str, params: Iterable[str] = (), threads: int = 0, ensemble: str = "off") -> Executor:
        allowed = "local, process:N, submitit[:N], submitit-local[:N]"
        kind, sep, num = spec.partition(":")
        if kind not in ("local", "process", "submitit", "submitit-local") or (kind == "local" and sep):
            raise ConfigError(f"executor: unknown {spec!r}; allowed: {allowed}")
        n = 0
        if sep or kind == "process":
            if not num.isdigit() or int(num) < 1:
                raise ConfigError(f"executor: {spec!r} needs a positive worker count after ':' (e.g. process:2); allowed: {allowed}")
            n = int(num)
        parsed: dict[str, Any] = {}
        for item in params:
            key, sep2, value = item.partition("=")
            if not sep2 or not key:
                raise ConfigError(f"--slurm: expected KEY=VALUE (a submitit parameter such as timeout_min=240), got {item!r}")
            parsed[key] = _number(value)
        if parsed and not kind.startswith("submitit"):
            raise ConfigError("--slurm: parameters apply to the submitit executors only")
        if not isinstance(threads, int) or threads < 0:
            raise ConfigError(f"threads: must be a positive integer (0 = default), got {threads!r}")
        return Executor(kind, n, parsed, threads, parse_ensemble(ensemble))

    @property
    def name(self) -> str:
        return self.kind + (f":{self.n}" if self.n else "")


def _number(s: str) -> Any:
    for cast in (int, float):
        try:
            return cast(s)
        except ValueError:
            pass
    return s


def execute(executor: Executor, todo: list[Job], root: Path, prog: Reporter) -> Iterable[JobResult]:
    """Run `todo` with the executor, in units (plan_units); yields one JobResult per job, in the order they finish."""
    units = plan_units(todo, executor.ensemble, executor_workers(executor, len(todo)))
    if executor.kind == "local":
        for unit in units:
            prog.running([describe_job(j) for j in unit])
            yield from work_unit(unit, str(root), executor.threads or None)
    elif executor.kind == "process":
        yield from _execute_pool(executor.n, units, root, prog, executor.threads)
    else:
        yield from _execute_submitit(executor, units, root, prog)


def executor_workers(executor: Executor, jobs: int) -> int:
    """How many units `auto` should leave the executor to run at once: 1 (local), N (process:N, submitit:N),
    the cores (submitit-local), 1 for submitit without N (every unit its own job: whole ensembles save cluster hours)."""
    if executor.kind == "local":
        return 1
    if executor.n:
        return min(executor.n, jobs)
    return available_cores() if executor.kind == "submitit-local" else 1


def _execute_pool(n: int, units: list[list[Job]], root: Path, prog: Reporter, threads: int = 0) -> Iterable[JobResult]:
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    threads = threads or max(1, available_cores() // n)  # so n workers do not oversubscribe the cores
    # spawn: a fresh interpreter per worker (forking a process that has started torch's threads is unsafe)
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(n, mp_context=ctx, initializer=_init_worker, initargs=(threads,)) as pool:
        queue = list(units)
        running: dict[Any, list[Job]] = {}
        while queue or running:
            while queue and len(running) < n:  # keep exactly n in flight, so "now" names the runs being trained
                unit = queue.pop(0)
                running[pool.submit(work_unit, unit, str(root), threads)] = unit
            prog.running([describe_job(j) for u in running.values() for j in u])
            finished, _ = wait(list(running), return_when=FIRST_COMPLETED)
            for fut in finished:
                unit = running.pop(fut)
                try:
                    results = fut.result()
                except BrokenProcessPool:
                    raise StudyError(
                        f"a worker process died while running {', '.join(describe_job(j) for j in unit)} (killed, or out of memory); "
                        "run the same command again to resume"
                    ) from None
                yield from results


class SlurmWork:
    """`work` as a submitit Checkpointable: on preemption or a time limit (SIGUSR2) the job is requeued.

    The run has saved its checkpoint before submitit's handler calls `checkpoint` (see
    wgan_core.signals.StopSignals.forward), so the requeued call of the same `work`
    resumes from it. A plain class with the two methods submitit looks for, so that this
    module imports without submitit.
    """

    def __call__(self, unit: list[Job], root: str, threads: int | None = None) -> list[JobResult]:
        return work_unit(unit, root, threads)

    def checkpoint(self, *args: Any, **kwargs: Any) -> Any:
        import submitit

        return submitit.helpers.DelayedSubmission(self, *args, **kwargs)


# submitit's defaults that a study changes: a day per job, and enough requeues for a run many times
# longer than the partition's time limit (submitit counts every SIGUSR2 of a job shorter than
# 50 minutes as a time-out).
SUBMITIT_DEFAULTS = {"timeout_min": 24 * 60, "name": "wgan-study", "max_num_timeout": 20}


def _job_state(sj: Any) -> str:
    try:
        return str(sj.state)
    except Exception:  # noqa: BLE001 - no accounting, or the cluster went away: the state is unknown
        return "UNKNOWN"


def _execute_submitit(executor: Executor, units: list[list[Job]], root: Path, prog: Reporter) -> Iterable[JobResult]:
    try:
        import submitit
    except ImportError:
        raise ConfigError("executor: submitit is not installed; `pip install .[slurm]` (or pip install submitit)") from None
    cluster = "local" if executor.kind == "submitit-local" else None
    params = dict(SUBMITIT_DEFAULTS)
    params.update(executor.params)
    max_timeouts = params.pop("max_num_timeout")  # an executor constructor argument, not a job parameter
    if not isinstance(max_timeouts, int) or max_timeouts < 0:
        raise ConfigError(f"--slurm: max_num_timeout must be a non-negative integer, got {max_timeouts!r}")
    try:
        ex = submitit.AutoExecutor(folder=str(root / ".submitit" / "%j"), cluster=cluster, slurm_max_num_timeout=max_timeouts)
    except RuntimeError as e:  # no cluster found and no local fallback
        raise ConfigError(f"executor: {e}") from None
    local = ex.cluster == "local"
    in_flight = executor.n or (available_cores() if local else len(units))
    threads = executor.threads or (max(1, available_cores() // in_flight) if local else None)
    try:
        ex.update_parameters(**params)
    except (NameError, ValueError, TypeError) as e:  # submitit names the unknown parameter and lists the allowed ones
        raise ConfigError(f"--slurm: {str(e).strip().splitlines()[0]}") from None
    # The jobs unpickle wgan_core.study.executors.work (and JobResult): make this package importable in them.
    pkg_root = str(Path(__file__).resolve().parents[2])
    if pkg_root not in os.environ.get("PYTHONPATH", "").split(os.pathsep):
        os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (pkg_root, os.environ.get("PYTHONPATH", "")) if p)
    queue = [(unit, 0) for unit in units]
    running: dict[Any, tuple[list[Job], int]] = {}
    fn = work_unit if local else SlurmWork()
    while queue or running:
        while queue and len(running) < in_flight:
            unit, tries = queue.pop(0)
            running[ex.submit(fn, unit, str(root), threads)] = (unit, tries)
        prog.running([describe_job(j) for u, _ in running.values() for j in u])
        time.sleep(1.0)
        for sj in [s for s in running if s.done()]:
            unit, tries = running.pop(sj)
            try:
                results = sj.result()
            except Exception as e:  # noqa: BLE001 - the job ended without a result: cancelled, killed, failed to start
                state = _job_state(sj)
                names = ", ".join(describe_job(j) for j in unit)
                if state.startswith("CANCELLED"):
                    for job in unit:
                        yield JobResult(job.run_id(), "cancelled", error=f"Slurm job {sj.job_id} was cancelled ({state}); its checkpoint is kept")
                elif tries < 2:
                    prog.write(f"job {sj.job_id} for {names} ended without a result ({state}); resubmitting")
                    queue.append((unit, tries + 1))
                else:
                    why = str(e).strip().splitlines()[-1] if str(e).strip() else type(e).__name__
                    for job in unit:
                        yield JobResult(job.run_id(), "failed", error=f"submitit job {sj.job_id} ({state}): {why}")
                continue
            yield from results


__all__ = [
    "STATES",
    "SUBMITIT_DEFAULTS",
    "Executor",
    "SlurmWork",
    "StudyInterrupted",
    "JobResult",
    "Reporter",
    "StudyError",
    "ENSEMBLE_AUTO_MAX",
    "ENSEMBLE_CPU_MAX_WIDTH",
    "available_cores",
    "ensemble_pays",
    "execute",
    "executor_workers",
    "parse_ensemble",
    "plan_units",
    "run_unit",
    "run_job",
    "work",
    "work_unit",
]
