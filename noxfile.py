"""Sessions: `nox -s tests`, `nox -s slow`, `nox -s lint`, `nox -s ablation`, `nox -s benchmark`, `nox -s throughput`,
`nox -s coverage`, `nox -s gpu`, `nox -s cluster` (`nox -l` lists them with one line each).

All sessions that need torch share ONE virtual environment (a CUDA build of
torch is about 5.5 GB), kept outside the work tree so it survives fresh
checkouts: $WGAN_VENV, default ~/.cache/wgan-suite/venv. It is (re)filled only
when pyproject.toml or the pins below change.
"""

from __future__ import annotations

import hashlib
import os
import platform
import sys
from pathlib import Path

import nox

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: nox itself depends on tomli there
    import tomli as tomllib

nox.options.default_venv_backend = "none"
nox.options.sessions = ["tests", "lint"]

ROOT = Path(__file__).parent
VENV = Path(os.environ.get("WGAN_VENV", Path.home() / ".cache" / "wgan-suite" / "venv"))
# The releases on this project's machines' disk (pip is capped there): on x86_64 a CUDA build, also
# fine on a CPU; on aarch64 the pair that installs there as a CPU build.
TORCH_PINS = ["torch==2.9.1", "torchvision==0.24.1"] if platform.machine() == "aarch64" else ["torch==2.14.1", "torchvision==0.29.1"]


def _requirements() -> list[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project.get("optional-dependencies", {})
    deps = [d for d in project["dependencies"] if not d.startswith(("torch>", "torchvision>"))]
    return deps + extras.get("dev", []) + extras.get("slurm", []) + extras.get("tensorboard", [])


# Modules the filled environment must have: checked (cheaply, without importing them) on every call.
_MODULES = ("pip", "torch", "torchvision", "torch_fidelity", "scipy", "pandas", "pytest")
_PROBE = f"import importlib.util as u, sys; sys.exit(0 if all(u.find_spec(m) for m in {_MODULES!r}) else 1)"


def _healthy(python: Path) -> bool:
    """The interpreter runs and finds pip and the packages (a creation stopped half-way leaves one without)."""
    import subprocess

    try:
        return subprocess.run([str(python), "-c", _PROBE], capture_output=True, timeout=60).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def shared_python(session: nox.Session) -> str:
    """The shared environment's python, created and filled on first use; rebuilt if an earlier creation stopped half-way."""
    import shutil

    python = VENV / "bin" / "python"
    wanted = hashlib.sha256("\n".join(TORCH_PINS + _requirements()).encode()).hexdigest()
    stamp = VENV / ".wgan-requirements"
    stamped = stamp.exists() and stamp.read_text() == wanted
    if VENV.exists() and (not python.exists() or (stamped and not _healthy(python))):
        # An interpreter without pip (creation interrupted in its first seconds) or a stamp without the packages.
        session.log(f"the shared environment {VENV} is incomplete (an interrupted creation?): rebuilding it")
        shutil.rmtree(VENV)
        stamped = False
    if not python.exists():
        session.log(f"creating the shared torch environment in {VENV} (once; about 5.5 GB)")
        session.run(sys.executable, "-m", "venv", str(VENV), external=True)
    if not stamped:
        stamp.unlink(missing_ok=True)  # written only once everything is in
        session.run(str(python), "-m", "ensurepip", "--upgrade", external=True)  # a venv whose pip never got in
        session.run(str(python), "-m", "pip", "install", "-q", "--upgrade", "pip", external=True)
        session.run(str(python), "-m", "pip", "install", "-q", *TORCH_PINS, external=True)
        session.run(str(python), "-m", "pip", "install", "-q", *_requirements(), external=True)
        stamp.write_text(wanted)
    session.env["PYTHONPATH"] = str(ROOT)
    return str(python)


@nox.session
def tests(session: nox.Session) -> None:
    """Run the test suite on the CPU (pytest; pass extra pytest arguments after --)."""
    python = shared_python(session)
    session.run(python, "-m", "pytest", "-q", *session.posargs, external=True)


@nox.session(default=False)
def slow(session: nox.Session) -> None:
    """The slow tests (real processes killed with kill -9, subprocess end-to-end checks): pytest -m slow; CI runs them."""
    python = shared_python(session)
    session.run(python, "-m", "pytest", "-q", "-m", "slow", *session.posargs, external=True)


@nox.session
def lint(session: nox.Session) -> None:
    """Lint with ruff."""
    python = shared_python(session)
    session.run(python, "-m", "ruff", "check", ".", external=True)


@nox.session(default=False)
def ablation(session: nox.Session) -> None:
    """Run a study (default: the toy preset on a CPU); arguments after -- go to `python -m wgan_core study`."""
    python = shared_python(session)
    session.run(python, "-m", "wgan_core", "study", *session.posargs, external=True)


def _machine_tag() -> str:
    """A name for this machine's hardware, so speed is only ever compared with runs on the same hardware."""
    import platform
    import re

    cpu = platform.processor() or platform.machine()
    try:
        cpu = next(line.split(":", 1)[1] for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    gpu = ""
    try:
        import subprocess

        gpu = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"], capture_output=True, text=True).stdout
    except OSError:
        pass
    tag = f"{cpu}-{os.cpu_count()}cpu-{gpu.splitlines()[0] if gpu.strip() else 'nogpu'}"
    return re.sub(r"[^A-Za-z0-9.]+", "-", tag).strip("-")


@nox.session(default=False)
def benchmark(session: nox.Session) -> None:
    """Speed: `-- --compare A B` decides whether B is slower (interleaved, exit 1 on a regression); bare: pytest-benchmark of Trainer.step()."""
    python = shared_python(session)
    if session.posargs and session.posargs[0] in ("--compare", "--bisect", "--drift", "--check-history"):
        session.run(python, "benchmarks/throughput.py", *session.posargs, external=True)
        return
    storage = Path(os.environ.get("WGAN_BENCH_STORAGE", Path.home() / ".cache" / "wgan-suite" / "benchmarks")) / _machine_tag()
    args = [
        "-m", "pytest", "benchmarks/test_step_speed.py", "-o", "addopts=", "-p", "no:cacheprovider", "-q",
        f"--benchmark-storage=file://{storage}", "--benchmark-autosave", "--benchmark-columns=min,median,max,stddev,rounds",
    ]
    if any(storage.rglob("*.json")):
        # Shown, not judged: two runs minutes apart differ by more than 10% on a shared machine
        # (results/throughput/README.md); the speed gate (--compare) decides.
        args += ["--benchmark-compare"]
        session.log(f"comparing with the last saved run in {storage} (to decide: nox -s benchmark -- --compare BASE HEAD)")
    else:
        session.log(f"no earlier run saved in {storage}: this run becomes the baseline")
    session.run(python, *args, *session.posargs, external=True)


@nox.session(default=False)
def throughput(session: nox.Session) -> None:
    """Measure training throughput per variant (benchmarks/throughput.py; arguments after --)."""
    python = shared_python(session)
    session.run(python, "benchmarks/throughput.py", *session.posargs, external=True)


@nox.session(default=False)
def coverage(session: nox.Session) -> None:
    """Measure the coverage of every interval the reports print, and the paired tests' false positives (results/coverage)."""
    python = shared_python(session)
    session.run(python, "benchmarks/coverage.py", *(session.posargs or ["--studies", "1000", "--out", "results/coverage"]), external=True)


@nox.session(default=False)
def gpu(session: nox.Session) -> None:
    """GPU evidence in one command (benchmarks/gpu.py): CUDA tests, throughput matrix, benchmark twice, a short study; -- --dry-run: the plan."""
    python = shared_python(session)
    session.run(python, "benchmarks/gpu.py", *session.posargs, external=True)


@nox.session(default=False)
def cluster(session: nox.Session) -> None:
    """Studies on a real one-node Slurm cluster (tests/test_cluster.py); needs root: installs and starts it, always stops it.

    .ci/slurm-cluster installs Debian's slurm-wlm, slurmdbd, munge and mariadb-server where
    they are missing, and runs private daemons (munged, MariaDB, slurmdbd, slurmctld,
    slurmd) under $WGAN_SLURM_DIR (default ~/.cache/wgan-suite/slurm) on loopback ports.
    """
    python = shared_python(session)
    script = str(ROOT / ".ci" / "slurm-cluster")
    state = os.environ.get("WGAN_SLURM_DIR", str(Path.home() / ".cache" / "wgan-suite" / "slurm"))
    session.run("bash", script, "install", external=True)
    try:
        session.run("bash", script, "start", state, external=True)
        session.env.update(SLURM_CONF=str(Path(state) / "slurm.conf"), WGAN_CLUSTER_TESTS="1")
        session.run(python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_cluster.py", "-rs", *session.posargs, external=True)
    finally:
        session.run("bash", script, "stop", state, external=True)
