"""Studies: presets that expand into matched runs, executors that run them, claims that keep invocations apart.

A study is a list of jobs (RunConfig for GAN runs, DepthConfig for the depth
experiment), each run in DIR/<job.run_id()>. Because a run's directory is named
by its config's hash and `train()` skips finished runs and resumes partial ones
from their checkpoint, a study killed at any moment and started again loses at
most the steps since each interrupted run's last checkpoint, and no finished run.

Layout of a study directory:
    DIR/study.json          the study's identity (preset and arguments) and its run ids
    DIR/<run_id>/           one run (config.json, metrics.csv, final.json, ...)
    DIR/.claims/<run_id>    who is running that run now (host, pid); see `Claim`
    DIR/report/             written by wgan_core.report at the end

Executors: `local` (sequential, in this process), `process:N` (N worker
processes, torch threads per worker = cores // N), `submitit[:N]` (Slurm through
submitit, or its local executor where there is no Slurm; N = jobs in flight) and
`submitit-local[:N]` (submitit's local executor, always). Every executor runs the
same `_work` function, so results land in the same layout.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, NamedTuple

from .config import VARIANTS, ConfigError, RunConfig, parse_set
from .depth import DepthConfig
from .env import git_commit

Job = RunConfig | DepthConfig

STUDY_FILE = "study.json"
CLAIMS = ".claims"
# A claim from another host is stale when its heartbeat (the file's mtime, touched
# every HEARTBEAT_S by the process that holds it) is older than this.
STALE_AFTER_S = 600.0
HEARTBEAT_S = 30.0


class StudyError(RuntimeError):
    """Runs of a study failed (not a user mistake): the CLI reports them and exits 1."""


# ==============================================================================================
# Presets: Python functions that generate the configs (no grid files).
# ==============================================================================================
TOY_DATASETS = ("8gaussians", "25gaussians")

# The toy preset's budget, sized so that the 30 runs finish in about 15 minutes on a 2-core CPU
# with `--executor process:2` (measured: see results/toy/README.md).
#  * width 128 instead of the WGAN-GP toy code's 512: one generator iteration of the five
#    variants costs ~0.5 s at width 512 (30 ms gan/nsgan, 92 ms wgan-clip, 170 ms wgan-gp/lp)
#    and ~4x less at width 128, still ample for 2-D mixtures of 8 and 25 Gaussians;
#  * 1,000 generator iterations (the reference code runs 100,000): an early-training
#    comparison at a matched budget, not converged runs;
#  * eval_samples 1,000: the exact W1 (an optimal assignment) of a collapsed generator costs
#    ~15 s at 2,000 samples and ~1.5 s at 1,000; evaluations are every 250 iterations. The
#    mode counts with the published definition (2,500 samples; VEEGAN, PacGAN) are computed
#    by the report from each run's final generator, the "(2,500)" columns.
TOY_BUDGET = dict(steps=1000, width=128, eval_every=250, checkpoint_every=250, eval_samples=1000)


def _seeds(n: int) -> range:
    return range(n)


def preset_toy(seeds: int, device: str) -> list[Job]:
    """8gaussians and 25gaussians x the five variants x seeds, at the CPU budget TOY_BUDGET (~15 min with 3 seeds, process:2)."""
    return [
        RunConfig.preset(v, ds, seed=s, device=device, **TOY_BUDGET)
        for s in _seeds(seeds)
        for ds in TOY_DATASETS
        for v in VARIANTS
    ]


# Fashion-MNIST on 2 CPU cores: DCGAN width 64 costs 180-820 ms per generator iteration; width 32
# (measured, one thread): 60 ms nsgan, 186 ms wgan-clip, 319 ms wgan-gp, so one matched set of the
# five variants costs ~0.95 s per iteration: 3,000 iterations x 3 seeds ~2.4 CPU-hours (~1.2 h with
# process:2 on free cores), plus ~5 s per evaluation (2,000 fakes, classifier features). Minutes on a GPU.
# Measured with process:2: 13 of the 15 runs (and the rest of 2 resumed ones) in 1 h 19 min (results/fashion/).
FASHION_BUDGET = dict(steps=3000, width=32, eval_every=500, checkpoint_every=250, eval_samples=2000, extractor="classifier")


def preset_fashion(seeds: int, device: str) -> list[Job]:
    """Fashion-MNIST 28x28, the five variants x seeds, CPU-sized DCGAN (width 32, 3,000 iterations), classifier FID/KID."""
    return [RunConfig.preset(v, "fashion-mnist", seed=s, device=device, **FASHION_BUDGET) for s in _seeds(seeds) for v in VARIANTS]


INCEPTION_WEIGHTS = "weights-inception-2015-12-05-6726825d.pth"  # torch-fidelity's Inception (FID) weights file


def inception_weights_present() -> bool:
    """Whether the Inception (FID) weights can be had without a download: $WGAN_INCEPTION_WEIGHTS or torch-fidelity's cache."""
    try:
        from .metrics.inception import resolve_weights
    except ImportError:  # image metrics not installed: look in torch-fidelity's cache only
        import torch.hub

        return (Path(torch.hub.get_dir()) / "checkpoints" / INCEPTION_WEIGHTS).exists()
    try:
        resolve_weights(download=False)
        return True
    except ConfigError:
        return False


# WGAN-GP's MNIST model (gan_mnist.py): DIM 64; batch 64 here for every variant; 200,000
# generator iterations as in the WGAN-GP code (gan_mnist.py, gan_cifar.py: ITERS = 200000).
PAPER_BUDGET = dict(steps=200_000, width=64, batch_size=64, eval_every=5000, checkpoint_every=2000, eval_samples=2000)


def preset_paper(seeds: int, device: str) -> list[Job]:
    """The GPU study: Fashion-MNIST, the papers' width 64, batch 64, 200k iterations, 5 seeds; Inception FID when its weights are cached.

    The extractor is decided when the study is created (Inception if its weights are
    in the torch hub cache, else the offline classifier) and recorded in every config.
    """
    extractor = "inception" if inception_weights_present() else "classifier"
    return [
        RunConfig.preset(v, "fashion-mnist", seed=s, device=device, extractor=extractor, **PAPER_BUDGET)
        for s in _seeds(seeds)
        for v in VARIANTS
    ]


LAMBDAS = (0.1, 1.0, 10.0, 100.0)


def preset_lambda(seeds: int, device: str) -> list[Job]:
    """Penalty weight lambda in {0.1, 1, 10, 100} for wgan-gp and wgan-lp on the toy data, at the toy budget."""
    return [
        RunConfig.preset(v, ds, seed=s, device=device, penalty_weight=lam, **TOY_BUDGET)
        for s in _seeds(seeds)
        for ds in TOY_DATASETS
        for v in ("wgan-gp", "wgan-lp")
        for lam in LAMBDAS
    ]


N_CRITICS = (1, 2, 5)


def preset_ncritic(seeds: int, device: str) -> list[Job]:
    """n_critic in {1, 2, 5} for every variant on the toy data, at the toy budget (other settings: the variant's own)."""
    return [
        RunConfig.preset(v, ds, seed=s, device=device, n_critic=k, **TOY_BUDGET)
        for s in _seeds(seeds)
        for ds in TOY_DATASETS
        for v in VARIANTS
        for k in N_CRITICS
    ]


FACTORIAL_LOSSES = ("minimax", "nonsaturating", "wasserstein")
FACTORIAL_CONSTRAINTS = ("none", "clip", "gp", "lp")


def preset_factorial(seeds: int, device: str) -> list[Job]:
    """loss {minimax, nonsaturating, wasserstein} x constraint {none, clip, gp, lp}: 12 cells on the toy data.

    Only the two factors change between cells: every cell uses wgan-gp's toy optimiser
    settings (Adam 1e-4, betas (0.5, 0.9), n_critic 5, lambda 0.1) and c = 0.01, so a
    difference between cells is the loss's or the constraint's, not the optimiser's.
    """
    return [
        RunConfig.preset("wgan-gp", ds, seed=s, device=device, loss=loss, constraint=con, **TOY_BUDGET)
        for s in _seeds(seeds)
        for ds in TOY_DATASETS
        for loss in FACTORIAL_LOSSES
        for con in FACTORIAL_CONSTRAINTS
    ]


CLIP_VALUES = (0.1, 0.01, 0.001)


def preset_depth(seeds: int, device: str) -> list[Job]:
    """WGAN-GP Fig. 1b: a 12-layer ReLU critic on swissroll, generator fixed to real data + N(0, 1); clipping c in {0.1, 0.01, 0.001} vs GP."""
    jobs: list[Job] = []
    for s in _seeds(seeds):
        jobs += [DepthConfig(constraint="clip", clip_value=c, seed=s, device=device) for c in CLIP_VALUES]
        jobs.append(DepthConfig(constraint="gp", seed=s, device=device))
    return jobs


class Preset(NamedTuple):
    build: Callable[[int, str], list[Job]]  # (seeds, device) -> jobs
    seeds: int  # default number of seeds
    baseline: str  # the cell the report's paired tests compare against ('' = none)


PRESETS: dict[str, Preset] = {
    "toy": Preset(preset_toy, 3, "wgan-gp"),
    "fashion": Preset(preset_fashion, 3, "wgan-gp"),
    "paper": Preset(preset_paper, 5, "wgan-gp"),
    "lambda": Preset(preset_lambda, 3, "wgan-gp, penalty_weight=0.1"),
    "ncritic": Preset(preset_ncritic, 3, "wgan-gp, n_critic=5"),
    "factorial": Preset(preset_factorial, 3, "wgan-gp"),
    "depth": Preset(preset_depth, 3, ""),
}


def describe_presets() -> str:
    return "\n".join(f"{name}: {(p.build.__doc__ or '').splitlines()[0]} (default seeds: {p.seeds})" for name, p in PRESETS.items())


def cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def default_preset(device: str) -> str:
    """fashion where the runs will use a GPU, toy otherwise."""
    if device.startswith("cuda") or (device == "auto" and cuda_available()):
        return "fashion"
    return "toy"


# ==============================================================================================
# A study's identity and its jobs.
# ==============================================================================================
@dataclass(frozen=True)
class StudySpec:
    """What determines a study's runs: the preset and the arguments that change its configs."""

    preset: str
    seeds: int
    device: str = "auto"
    variants: tuple[str, ...] = ()  # keep only these variants / cells ('' = all)
    datasets: tuple[str, ...] = ()  # keep only these data sets ('' = all)
    overrides: tuple[str, ...] = ()  # KEY=VALUE applied to every config (--set)

    def __post_init__(self) -> None:
        if self.preset not in PRESETS:
            raise ConfigError(f"preset: unknown {self.preset!r}; allowed: {', '.join(PRESETS)}")
        if not isinstance(self.seeds, int) or self.seeds < 1:
            raise ConfigError(f"seeds: must be a positive integer, got {self.seeds!r}")
        if not (self.device in ("auto", "cpu") or self.device.startswith("cuda")):
            raise ConfigError(f"device: unknown {self.device!r}; allowed: auto, cpu, cuda, cuda:N")

    def identity(self) -> dict[str, Any]:
        return {
            "preset": self.preset,
            "seeds": self.seeds,
            "device": self.device,
            "variants": list(self.variants),
            "datasets": list(self.datasets),
            "set": list(self.overrides),
        }

    @property
    def baseline(self) -> str:
        return PRESETS[self.preset].baseline

    def jobs(self) -> list[Job]:
        """The study's jobs in run order (seed-major, so every variant advances together), without duplicates."""
        jobs = PRESETS[self.preset].build(self.seeds, self.device)
        if self.datasets:
            known = list(dict.fromkeys(j.dataset for j in jobs))
            bad = [d for d in self.datasets if d not in known]
            if bad:
                raise ConfigError(f"datasets: {', '.join(bad)} not in preset {self.preset!r}; allowed: {', '.join(known)}")
            jobs = [j for j in jobs if j.dataset in self.datasets]
        if self.variants:
            known = list(dict.fromkeys(n for j in jobs for n in (j.variant, j.label)))
            bad = [v for v in self.variants if v not in known]
            if bad:
                raise ConfigError(f"variant: unknown {', '.join(map(repr, bad))} for preset {self.preset!r}; allowed: {', '.join(known)}")
            jobs = [j for j in jobs if j.variant in self.variants or j.label in self.variants]
        if self.overrides:
            jobs = [_override(j, self.overrides) for j in jobs]
        return list({j.run_id(): j for j in jobs}.values())


def _override(job: Job, items: Iterable[str]) -> Job:
    if isinstance(job, RunConfig):
        return job.replace(**parse_set(list(items)))
    changes: dict[str, Any] = {}
    types = {k: type(v) for k, v in job.to_dict().items()}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or key not in types:
            raise ConfigError(f"--set: expected KEY=VALUE with KEY one of {', '.join(types)}, got {item!r}")
        try:
            changes[key] = types[key](value)
        except ValueError:
            raise ConfigError(f"--set: {key} expects {types[key].__name__}, got {value!r}") from None
    return job.replace(**changes)


def describe_job(job: Job) -> str:
    return f"{job.dataset} {job.label} seed {job.seed}"


def job_from_dict(d: dict[str, Any]) -> Job:
    return DepthConfig.from_dict(d) if d.get("experiment") == "depth" else RunConfig.from_dict(d)


def prepare_dir(root: Path, spec: StudySpec, jobs: list[Job], command: str = "") -> dict[str, Any]:
    """Create DIR/study.json, or check that DIR holds this same study. Refuses (ConfigError) before writing anything."""
    ids = [j.run_id() for j in jobs]
    path = root / STUDY_FILE
    if root.exists() and not root.is_dir():
        raise ConfigError(f"out: {root} exists and is not a directory")
    if not path.exists() and root.is_dir():
        runs = sorted(p.name for p in root.iterdir() if (p / "config.json").exists())
        if runs:
            raise ConfigError(f"out: {root} holds {len(runs)} run(s) but no {STUDY_FILE}: not this study's directory; choose another --out")
    if not path.exists():
        root.mkdir(parents=True, exist_ok=True)
        info = {
            **spec.identity(),
            "baseline": spec.baseline,
            "runs": ids,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "git_commit": git_commit(),
            "command": command,
        }
        _create_exclusive(path, json.dumps(info, indent=2) + "\n")  # two invocations racing: one creates, both compare
    info = _read_study(path)
    mine = spec.identity()
    differ = [k for k in mine if info.get(k) != mine[k]]
    if differ:
        details = "; ".join(f"{k}: {info.get(k)!r} there, {mine[k]!r} here" for k in differ)
        raise ConfigError(f"out: {root} holds another study ({details}); choose another --out")
    if info.get("runs") != ids:
        n = len(set(ids) ^ set(info.get("runs", [])))
        raise ConfigError(
            f"out: {root} holds preset {spec.preset!r} as it was defined when the study started; its configs have changed since "
            f"({n} run ids differ): choose another --out"
        )
    return info


def _read_study(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise ConfigError(f"out: {path} is unreadable ({e}); choose another --out") from None


def _create_exclusive(path: Path, text: str) -> bool:
    """Write `text` to `path` only if it does not exist, atomically (a reader sees nothing or all). True if created."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    try:
        os.link(tmp, path)  # fails if path exists: create-if-absent with the whole content at once
        return True
    except FileExistsError:
        return False
    finally:
        tmp.unlink(missing_ok=True)


def read_study(root: Path) -> dict[str, Any] | None:
    path = Path(root) / STUDY_FILE
    return _read_study(path) if path.exists() else None


# ==============================================================================================
# Claims: one process at a time per run, across invocations and hosts.
# ==============================================================================================
def _proc_start(pid: int) -> str:
    """The process's start time in clock ticks since boot (field 22 of /proc/PID/stat), '' where unavailable."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return ""


def _pid_alive(pid: int, start: str) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    now = _proc_start(pid)
    return not (start and now and now != start)  # a different start time: the pid was reused


def claim_is_live(info: dict[str, Any], mtime: float) -> bool:
    """On this host: the claiming process still exists. Elsewhere: its heartbeat is recent."""
    if info.get("host") == socket.gethostname():
        return _pid_alive(int(info.get("pid", -1)), str(info.get("start", "")))
    return time.time() - mtime < STALE_AFTER_S


class Claim:
    """DIR/.claims/<run_id>: created with O_EXCL under a short flock of DIR/.claims/.guard.

    Holds {host, pid, start, token}. A claim whose process is gone (same host: the pid
    no longer exists or was reused; another host: no heartbeat for STALE_AFTER_S) is
    stale and is taken over, so a kill -9 leaves nothing that blocks a restart.
    """

    def __init__(self, path: Path, token: str) -> None:
        self.path, self.token = path, token
        self._stop = threading.Event()
        self._beat = threading.Thread(target=self._heartbeat, daemon=True)
        self._beat.start()

    def _heartbeat(self) -> None:
        while not self._stop.wait(HEARTBEAT_S):
            try:
                os.utime(self.path)
            except OSError:
                return

    def release(self) -> None:
        self._stop.set()
        try:
            if json.loads(self.path.read_text()).get("token") == self.token:
                self.path.unlink()
        except (OSError, json.JSONDecodeError):
            pass

    def __enter__(self) -> Claim:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.release()


def try_claim(root: Path, run_id: str) -> Claim | dict[str, Any]:
    """A Claim on the run, or (when a live process holds it) that holder's claim info."""
    claims = Path(root) / CLAIMS
    claims.mkdir(parents=True, exist_ok=True)
    path = claims / run_id
    with open(claims / ".guard", "a") as guard:
        fcntl.flock(guard, fcntl.LOCK_EX)  # serialises inspect-break-create among claimers
        try:
            try:
                info = json.loads(path.read_text())
                if claim_is_live(info, path.stat().st_mtime):
                    return info
                path.unlink()  # stale: its process died (kill -9, node failure)
            except FileNotFoundError:
                pass
            except (OSError, json.JSONDecodeError):
                path.unlink(missing_ok=True)  # half-written by a process killed mid-write
            pid = os.getpid()
            token = f"{socket.gethostname()}:{pid}:{time.time_ns()}"
            info = {"host": socket.gethostname(), "pid": pid, "start": _proc_start(pid), "token": token, "since": time.time()}
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            with os.fdopen(fd, "w") as f:
                json.dump(info, f)
            return Claim(path, token)
        finally:
            fcntl.flock(guard, fcntl.LOCK_UN)


# ==============================================================================================
# Running one job: the same function under every executor.
# ==============================================================================================
def run_job(job: Job, run_dir: Path, log: Callable[[str], None] = print) -> dict[str, Any]:
    if isinstance(job, DepthConfig):
        from .depth import train_depth

        return train_depth(job, run_dir, progress=False, log=log)
    from .train import train

    return train(job, run_dir, progress=False, log=log)


def _work(job: Job, root: str, threads: int | None = None) -> dict[str, Any]:
    """Claim and run one job in DIR/<run_id>. Returns {'run_id', 'state': done|busy|failed, ...}.

    A ConfigError (a user mistake such as missing data: every run would hit it) comes back
    as state 'config_error' and stops the study; it is returned rather than raised so it
    crosses process and submitit boundaries intact. Any other exception is written to the
    run's error.log and reported as 'failed'.
    """
    if threads:
        import torch

        before = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            return _work(job, root, None)
        finally:
            torch.set_num_threads(before)  # the local executor runs in the caller's process: leave it as it was
    rid = job.run_id()
    run_dir = Path(root) / rid
    t0 = time.perf_counter()
    if (run_dir / "final.json").exists():
        return {"run_id": rid, "state": "done", "final": json.loads((run_dir / "final.json").read_text()), "seconds": 0.0, "ran": False}
    claim = try_claim(Path(root), rid)
    if not isinstance(claim, Claim):
        return {"run_id": rid, "state": "busy", "holder": claim}
    with claim:
        try:
            final = run_job(job, run_dir, log=lambda m: print(m, file=sys.stderr, flush=True))
        except ConfigError as e:
            return {"run_id": rid, "state": "config_error", "error": str(e)}
        except Exception:  # noqa: BLE001 - a failed run is recorded; the study goes on
            run_dir.mkdir(parents=True, exist_ok=True)
            (run_dir / "error.log").write_text(traceback.format_exc())
            return {"run_id": rid, "state": "failed", "error": traceback.format_exc().strip().splitlines()[-1]}
    return {"run_id": rid, "state": "done", "final": final, "seconds": time.perf_counter() - t0, "ran": True}


def _init_worker(threads: int) -> None:
    os.environ["OMP_NUM_THREADS"] = str(threads)
    import torch

    torch.set_num_threads(threads)


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


@dataclass(frozen=True)
class Executor:
    kind: str  # local | process | submitit | submitit-local
    n: int = 0  # workers (process) or jobs in flight (submitit; 0 = all on Slurm, cores locally)
    params: dict[str, Any] = field(default_factory=dict, hash=False)  # submitit parameters (--slurm KEY=VALUE)
    threads: int = 0  # torch threads per run; 0 = local: torch's default, process:N and local submitit: cores // N

    @staticmethod
    def parse(spec: str, params: Iterable[str] = (), threads: int = 0) -> Executor:
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
        return Executor(kind, n, parsed, threads)


def _number(s: str) -> Any:
    for cast in (int, float):
        try:
            return cast(s)
        except ValueError:
            pass
    return s


# ==============================================================================================
# The study loop.
# ==============================================================================================
def job_cost(job: Job) -> float:
    """Relative cost, for the ETA: critic steps weigh by their kind, an evaluation ~200 steps' worth."""
    if isinstance(job, DepthConfig):
        return job.steps * (3.0 if job.constraint == "gp" else 1.0)
    per = {"gp": 2.2, "lp": 2.2, "clip": 1.2}.get(job.constraint, 1.0)
    evals = job.steps // job.eval_every + 2
    return job.steps * (1 + job.n_critic * per) + 200.0 * evals


@dataclass
class _Progress:
    """One overall bar (runs done / total, current run, ETA) on a terminal; a log line per finished run always."""

    jobs: dict[str, Job]
    done: set[str]
    log: Callable[[str], None]
    enabled: bool | None = None
    t0: float = field(default_factory=time.perf_counter)
    done_cost: float = 0.0  # cost of the runs finished by this invocation

    def __post_init__(self) -> None:
        from tqdm.auto import tqdm

        self.total_cost = sum(job_cost(j) for j in self.jobs.values())
        self.bar = tqdm(
            total=len(self.jobs),
            initial=len(self.done),
            unit="run",
            disable=None if self.enabled is None else not self.enabled,
            file=sys.stderr,
            dynamic_ncols=True,
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

    def finished(self, res: dict[str, Any]) -> None:
        rid = res["run_id"]
        job = self.jobs[rid]
        if rid in self.done:
            return
        self.done.add(rid)
        if res.get("ran"):
            self.done_cost += job_cost(job)
        self.bar.update(1)
        final = res.get("final", {})
        m = final.get("metrics", {})
        shown = ", ".join(f"{k} {_g(m[k])}" for k in ("modes", "high_quality", "w1", "fid", "kid", "log10_grad_ratio") if m.get(k) is not None)
        line = f"[{len(self.done)}/{len(self.jobs)}] {describe_job(job)} ({rid}): {final.get('status', '?')}"
        if res.get("ran"):
            line += f" in {_fmt_s(res.get('seconds', 0.0))}"
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


def _g(v: Any) -> str:
    return f"{v:.3g}" if isinstance(v, float) else str(v)


def _fmt_s(s: float) -> str:
    s = int(round(s))
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else (f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s")


def run_study(
    spec: StudySpec,
    root: str | Path,
    executor: Executor | None = None,
    *,
    progress: bool | None = None,
    log: Callable[[str], None] = print,
    command: str = "",
    poll_s: float = 10.0,
) -> dict[str, Any]:
    """Run every job of the study that has not finished. Returns {'total', 'ran', 'skipped', 'failed', 'seconds'}.

    Runs held by another live invocation are waited for (and taken over if that
    invocation dies). Raises StudyError at the end if some runs failed.
    """
    executor = executor or Executor("local")
    root = Path(root).expanduser()
    jobs = spec.jobs()  # ConfigError for a bad preset, variant, data set or override: before anything is written
    if executor.kind in ("local", "process") and spec.device != "auto":
        from .train import resolve_device

        resolve_device(spec.device)  # 'cuda' without CUDA: a user mistake, reported now
    prepare_dir(root, spec, jobs, command)
    by_id = {j.run_id(): j for j in jobs}
    done = {rid for rid in by_id if (root / rid / "final.json").exists()}
    t0 = time.perf_counter()
    ex_name = executor.kind + (f":{executor.n}" if executor.n else "")
    log(f"study {spec.preset}: {len(jobs)} runs in {root} ({len(done)} finished already), executor {ex_name}")
    prog = _Progress(by_id, set(done), log, progress)
    failed: dict[str, str] = {}
    ran = 0
    try:
        while True:
            todo = [j for rid, j in by_id.items() if rid not in prog.done and rid not in failed]
            if not todo:
                break
            busy: list[dict[str, Any]] = []
            for res in _execute(executor, todo, root, prog):
                if res["state"] == "done":
                    ran += bool(res.get("ran"))
                    prog.finished(res)
                elif res["state"] == "config_error":
                    raise ConfigError(res["error"])
                elif res["state"] == "busy":
                    busy.append(res)
                else:
                    rid = res["run_id"]
                    failed[rid] = res.get("error", "")
                    prog.write(f"run {describe_job(by_id[rid])} ({rid}) failed: {failed[rid]}; see {root / rid / 'error.log'}")
            if busy:
                holders = sorted({f"pid {b['holder'].get('pid')} on {b['holder'].get('host')}" for b in busy})
                prog.running([])
                prog.write(f"waiting for {len(busy)} run(s) held by another invocation ({'; '.join(holders)})")
                time.sleep(poll_s)
    finally:
        prog.close()
    seconds = time.perf_counter() - t0
    summary = {"total": len(jobs), "ran": ran, "skipped": len(done), "failed": sorted(failed), "seconds": seconds}
    log(f"study {spec.preset}: {len(prog.done)}/{len(jobs)} runs finished ({ran} run now) in {_fmt_s(seconds)}")
    if failed:
        errors = "; ".join(f"{rid}: {err}" for rid, err in failed.items())
        raise StudyError(f"{len(failed)} run(s) failed: {errors} (error.log in each run directory under {root})")
    return summary


def _execute(executor: Executor, todo: list[Job], root: Path, prog: _Progress) -> Iterable[dict[str, Any]]:
    if executor.kind == "local":
        for job in todo:
            prog.running([describe_job(job)])
            yield _work(job, str(root), executor.threads or None)
    elif executor.kind == "process":
        yield from _execute_pool(executor.n, todo, root, prog, executor.threads)
    else:
        yield from _execute_submitit(executor, todo, root, prog)


def _execute_pool(n: int, todo: list[Job], root: Path, prog: _Progress, threads: int = 0) -> Iterable[dict[str, Any]]:
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    threads = threads or max(1, available_cores() // n)  # so n workers do not oversubscribe the cores
    # spawn: a fresh interpreter per worker (forking a process that has started torch's threads is unsafe)
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(n, mp_context=ctx, initializer=_init_worker, initargs=(threads,)) as pool:
        queue = list(todo)
        running: dict[Any, Job] = {}
        while queue or running:
            while queue and len(running) < n:  # keep exactly n in flight, so "now" names the runs being trained
                job = queue.pop(0)
                running[pool.submit(_work, job, str(root), threads)] = job
            prog.running([describe_job(j) for j in running.values()])
            finished, _ = wait(list(running), return_when=FIRST_COMPLETED)
            for fut in finished:
                job = running.pop(fut)
                try:
                    res = fut.result()
                except BrokenProcessPool:
                    raise StudyError(
                        f"a worker process died while running {describe_job(job)} (killed, or out of memory); "
                        "run the same command again to resume"
                    ) from None
                yield res


def _execute_submitit(executor: Executor, todo: list[Job], root: Path, prog: _Progress) -> Iterable[dict[str, Any]]:
    try:
        import submitit
    except ImportError:
        raise ConfigError("executor: submitit is not installed; `pip install .[slurm]` (or pip install submitit)") from None
    cluster = "local" if executor.kind == "submitit-local" else None
    ex = submitit.AutoExecutor(folder=str(root / ".submitit" / "%j"), cluster=cluster)
    local = ex.cluster == "local"
    in_flight = executor.n or (available_cores() if local else len(todo))
    threads = executor.threads or (max(1, available_cores() // in_flight) if local else None)
    params = {"timeout_min": 24 * 60, "name": "wgan-study"}
    params.update(executor.params)
    ex.update_parameters(**params)
    # The jobs unpickle wgan_core.study._work: make this package importable in them.
    pkg_root = str(Path(__file__).resolve().parent.parent)
    if pkg_root not in os.environ.get("PYTHONPATH", "").split(os.pathsep):
        os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (pkg_root, os.environ.get("PYTHONPATH", "")) if p)
    queue = [(job, 0) for job in todo]
    running: dict[Any, tuple[Job, int]] = {}
    while queue or running:
        while queue and len(running) < in_flight:
            job, tries = queue.pop(0)
            running[ex.submit(_work, job, str(root), threads)] = (job, tries)
        prog.running([describe_job(j) for j, _ in running.values()])
        time.sleep(1.0)
        for sj in [s for s in running if s.done()]:
            job, tries = running.pop(sj)
            try:
                res = sj.result()
            except Exception as e:  # noqa: BLE001 - the job was killed (timeout, preemption): resume it from its checkpoint
                if tries < 2:
                    prog.write(f"job {sj.job_id} for {describe_job(job)} ended without a result ({type(e).__name__}); resubmitting")
                    queue.append((job, tries + 1))
                else:
                    why = str(e).strip().splitlines()[-1] if str(e).strip() else type(e).__name__
                    yield {"run_id": job.run_id(), "state": "failed", "error": f"submitit job {sj.job_id}: {why}"}
                continue
            yield res


def finished_runs(root: Path) -> list[str]:
    return sorted(p.parent.name for p in Path(root).glob("*/final.json"))


__all__ = [
    "PRESETS",
    "Claim",
    "Executor",
    "StudyError",
    "StudySpec",
    "default_preset",
    "describe_presets",
    "job_from_dict",
    "prepare_dir",
    "read_study",
    "run_study",
    "try_claim",
]
