"""Time the README's two commands on a fresh clone, as a new user types them; append the rows to docs/command_times.csv.

    python benchmarks/time_commands.py                       # nox -s tests, then nox -s ablation, at HEAD
    python benchmarks/time_commands.py --commands tests      # one of them
    python benchmarks/time_commands.py --commit 2c8d8b8

Each command runs in a fresh clone of the commit (no build outputs, no run folders: the study
writes to an empty directory, as `~/wgan-runs/toy` is on a new machine) and reuses the shared
environment (~/.cache/wgan-suite/venv), which the first nox call of a new machine creates once.
A row: the command, its wall time and the CPU seconds of its processes (children of this one: a
cpu_s well under 2 x wall_s on 2 cores means the command waited, or ran single-threaded), exit
status, pytest's summary line (tests), the machine and the commit. The README and
docs/measurements.md quote the rows (python -m wgan_core quote).
"""

from __future__ import annotations

import argparse
import csv
import datetime
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "command_times.csv"
NOX = os.environ.get("NOX", str(Path.home() / ".cache" / "wgan-suite" / "nox" / "bin" / "nox"))
FIELDS = ["command", "wall_s", "cpu_s", "rc", "summary", "cpu", "cpus", "commit", "date"]


def cpu_model() -> str:
    try:
        return next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or platform.machine()


def run(command: list[str], cwd: Path, log: Path) -> tuple[float, float, int, str]:
    """(wall s, CPU s of the children, exit status, last pytest summary line) of one command."""
    before = os.times()
    t0 = time.perf_counter()
    with open(log, "w") as f:
        rc = subprocess.run(command, cwd=cwd, stdout=f, stderr=subprocess.STDOUT).returncode
    wall = time.perf_counter() - t0
    after = os.times()
    cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    text = log.read_text(errors="replace")
    found = re.findall(r"^=*\s*(\d+ passed.*?)\s*=*$", text, flags=re.M)
    return wall, cpu, rc, found[-1] if found else ""


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--commands", default="tests,ablation", help="comma-separated: tests, ablation")
    p.add_argument("--commit", default="HEAD")
    p.add_argument("--keep", action="store_true", help="keep the clone and the logs (printed)")
    a = p.parse_args()
    names = [c for c in a.commands.split(",") if c]
    bad = [c for c in names if c not in ("tests", "ablation")]
    if bad:
        print(f"--commands: unknown {', '.join(bad)}; allowed: tests, ablation", file=sys.stderr)
        return 2
    commit = subprocess.run(["git", "rev-parse", "--short", a.commit], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    if not commit:
        print(f"--commit: {a.commit!r} is not a commit of this repository", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="wgan-time-"))
    clone, runs = work / "clone", work / "runs"
    subprocess.run(["git", "clone", "-q", "--no-local", str(ROOT), str(clone)], check=True)
    subprocess.run(["git", "checkout", "-q", commit], cwd=clone, check=True)
    rows = []
    for name in names:
        argv = [NOX, "-s", name] + (["--", "--out", str(runs / "toy")] if name == "ablation" else [])
        shown = f"nox -s {name}"
        print(f"{shown} in {clone} ...", flush=True)
        wall, cpu, rc, summary = run(argv, clone, work / f"{name}.log")
        print(f"  {wall:.0f} s wall, {cpu:.0f} s CPU, exit {rc} {summary}", flush=True)
        rows.append({"command": shown, "wall_s": round(wall, 1), "cpu_s": round(cpu, 1), "rc": rc, "summary": summary,
                     "cpu": cpu_model(), "cpus": os.cpu_count(), "commit": commit,
                     "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")})
    new = not OUT.exists()
    with open(OUT, "a", newline="") as f:
        w = csv.DictWriter(f, fieldnames=FIELDS, lineterminator="\n")
        if new:
            w.writeheader()
        w.writerows(rows)
    print(f"appended {len(rows)} rows to {OUT.relative_to(ROOT)}")
    if a.keep:
        print(f"kept: {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if all(r["rc"] == 0 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
