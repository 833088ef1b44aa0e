"""The GPU evidence in one command: `nox -s gpu`, or `python benchmarks/gpu.py` with any python holding torch.

    nox -s gpu                       # everything below, within 9 minutes on one H100/H200-class GPU
    nox -s gpu -- --dry-run          # the plan: every step, its throughput cells, estimated and budgeted seconds
    nox -s gpu -- --rehearse         # the whole plan on the CPU with tiny settings, a few minutes (no GPU needed)
    python3 benchmarks/gpu.py --steps compare,history --compare-base DIR   # some steps; a carried tree as the base

Steps, most telling first: the CUDA tests (pytest -m cuda); the speed gate on the GPU, first this
tree against itself (what the gate says when nothing changed: a GPU verdict is read beside it),
then --compare-base against this tree (benchmarks/compare.py, CUDA-event timings; recorded in
compare.csv beside the GPU's CSV); the throughput matrix (matrix(): the five objectives at DCGAN 28 in fp32 beside the
textbook loop and in bf16, seed ensembles of 4 and 16; --extended adds the toy MLP, the zoo's
variants, DCGAN 64 and 32, S = 64 and --compile); a short study (the fashion preset's wgan-gp
cell, 2 seeds x 200 iterations); `nox -s benchmark` twice on the CUDA cases; last the speed
history of the GPU's CSV, which turns red only on a regression the comparison confirmed.

Each step runs as its own process group under its own budget; one that overruns is stopped,
children included, and the next runs; the whole run keeps to --budget seconds (540), and a step
that no longer fits is recorded as not started. The estimates are the H200's measured times.

Written under --out (default results/throughput/), named by the GPU (e.g. nvidia-h200):
<tag>.csv (throughput rows), throughput_<tag>.png and history_<tag>.png, <tag>.md (the
summary, rewritten after every step) and <tag>/ (one log per step, the study's report tables).
Without a CUDA device it prints one line and exits 2 before writing anything.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import datetime as dt
import importlib.util
import os
import shlex
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from gpu_steps import MIN_START_S, Outcome, Step, run_all, run_step, stop_group  # noqa: E402, F401  (running the plan's commands)

TOTAL_BUDGET_S = 540  # 9 minutes of one device session (a command may run 10), start-up of the machine not included
FIVE = ("gan", "nsgan", "wgan-clip", "wgan-gp", "wgan-lp")
# Guesses for an H100/H200-class host (seconds), to be replaced by the step times of a GPU run's summary:
# Seconds on the H200 host (results/throughput/nvidia-h200*.md: the step times of its runs):
PARENT_S = 4  # a throughput.py process: imports, checking every cell's config before measuring
CHILD_S = 12  # one measuring process: spawn, imports, CUDA context, cuDNN autotuning, warm-up, timed steps (13 with the textbook)
TEXTBOOK_S = 1  # the textbook loop timed beside the trainer
COMPILE_S = 45  # torch.compile's first compilations in a measuring process
ENSEMBLE_MEMBER_S = 0.4  # per member of --ensemble S: two trainers built, its share of the separate runs' steps
COMPARE_ROUNDS = 8  # a compare step's budget in rounds: the gate's first look (benchmarks/abtest.py LOOKS), 2 processes each
COMPARE_ROUND_S = 12  # one round: two processes started side by side (one process took 12 s there), 2 x 20 steps
# --rehearse: the whole plan on the CPU; 143-162 s on 2-core machines, and CI's ran out at 178 s, so twice that
# (the rehearsal checks that every step works, not how fast: nox -s slow runs it)
REHEARSAL_BUDGET_S = 360
MODULES = ("torch_fidelity", "pytest", "pytest_benchmark", "pandas", "matplotlib", "scipy", "tqdm")  # what the steps import


@dataclass(frozen=True)
class Cell:
    """One throughput.py command: variants measured in turn, each in its own process, at one setting."""

    variants: tuple[str, ...]
    arch: str = "dcgan"
    resolution: int = 28
    width: int = 64
    batch: int = 64
    amp: str = "none"
    compile: bool = False
    ensemble: int = 0
    warmup: int = 3
    iters: int = 15
    vs_textbook: bool = False

    @property
    def label(self) -> str:
        shape = "mlp" if self.arch == "mlp" else f"dcgan{self.resolution}"
        extra = (" compile" if self.compile else "") + (f" ensemble S={self.ensemble}" if self.ensemble else "")
        extra += " vs textbook" if self.vs_textbook else ""
        return f"{shape} w{self.width} b{self.batch} {'bf16' if self.amp == 'bf16' else 'fp32'}{extra}"

    def args(self, csv_path: Path, device: str = "cuda") -> list[str]:
        """throughput.py's arguments for this cell, appending to csv_path."""
        args = ["--variants", ",".join(self.variants), "--arch", self.arch, "--width", str(self.width), "--batch", str(self.batch),
                "--device", device, "--amp", self.amp, "--warmup", str(self.warmup), "--iters", str(self.iters)]
        args += ["--resolution", str(self.resolution)] if self.arch == "dcgan" else []
        args += (["--compile"] if self.compile else []) + (["--vs-textbook"] if self.vs_textbook else [])
        args += ["--ensemble", str(self.ensemble)] if self.ensemble else []
        return args + ["--out", str(csv_path), "--no-plot", "--keep-going"]  # a failing variant costs its own row only

    def estimate_s(self) -> float:
        each = CHILD_S + TEXTBOOK_S * self.vs_textbook + COMPILE_S * self.compile + ENSEMBLE_MEMBER_S * self.ensemble
        return PARENT_S + len(self.variants) * each


def matrix(variants: tuple[str, ...], extended: bool = False) -> list[tuple[str, Cell]]:
    """The throughput matrix, by step name, most telling first; `extended` adds what one 9-minute lease cannot hold.

    `variants`: every registered variant. The core: the five objectives at DCGAN 28 in fp32 (beside
    the textbook loop) and bf16, seed ensembles of 4 and 16. Extended: the toy MLP, the zoo's
    variants at DCGAN 28, DCGAN 64 and 32, an ensemble of 64, torch.compile.
    """
    zoo = tuple(v for v in variants if v not in FIVE)
    core = [
        ("throughput-dcgan28-fp32", Cell(FIVE, vs_textbook=True)),
        ("throughput-dcgan28-bf16", Cell(FIVE, amp="bf16")),
        # S = 1 is the plain wgan-gp row of throughput-dcgan28-fp32; fewer timed pairs as the separate side grows
        ("throughput-ensemble-4", Cell(("wgan-gp",), ensemble=4)),
        ("throughput-ensemble-16", Cell(("wgan-gp",), ensemble=16, iters=8)),
    ]
    more = [
        # launch-bound on a GPU, and its 64 s now go to the gate's same-tree comparison, which a GPU verdict needs first
        ("throughput-mlp-fp32", Cell(FIVE, arch="mlp", width=512, batch=256)),
        ("throughput-zoo-dcgan28-fp32", Cell(zoo, vs_textbook=True)),
        ("throughput-zoo-dcgan28-bf16", Cell(zoo, amp="bf16")),
        ("throughput-dcgan64-fp32", Cell(FIVE, resolution=64)),
        ("throughput-dcgan64-bf16", Cell(FIVE, resolution=64, amp="bf16")),
        ("throughput-dcgan32-fp32", Cell(FIVE, resolution=32)),
        ("throughput-ensemble-64", Cell(("wgan-gp",), ensemble=64, warmup=2, iters=5)),
        # gan: no double backward, so generator and critic both compile (a penalty critic stays eager)
        ("throughput-compile", Cell(("gan",), amp="bf16", compile=True)),
    ]
    return core + (more if extended else [])


def benchmark_args(storage: Path, compare: bool, rehearse: bool = False) -> list[str]:
    """`nox -s benchmark`'s pytest arguments (noxfile.py), on the CUDA cases only (rehearsal: one small CPU case)."""
    args = ["-m", "pytest", "benchmarks/test_step_speed.py", "-o", "addopts=", "-p", "no:cacheprovider", "-q",
            f"--benchmark-storage=file://{storage}", "--benchmark-autosave", "--benchmark-columns=min,median,max,stddev,rounds"]
    args += ["-m", "not cuda", "-k", "wgan-gp and small"] if rehearse else ["-m", "cuda"]
    return args + (["--benchmark-compare"] if compare else [])  # shown, not judged: the compare step decides


def shrink(cell: Cell) -> Cell:
    """A cell as the rehearsal runs it on the CPU: its first variant, tiny width and batch, 2 timed steps."""
    return dataclasses.replace(cell, variants=cell.variants[:1], width=8, batch=8, warmup=1, iters=2, compile=False,
                               ensemble=min(cell.ensemble, 2), resolution=28)


def plan(python: str, out: Path, tag: str, variants: tuple[str, ...], study_dir: Path, storage: Path,
         compare_base: str = "HEAD~1", compare_rounds: int = COMPARE_ROUNDS, extended: bool = False,
         rehearse: bool = False) -> list[Step]:
    """Every step of the run, in order; `rehearse`: the same steps on the CPU with tiny settings (`--rehearse`)."""
    csv_path, logs = out / f"{tag}.csv", out / tag
    device = "cpu" if rehearse else "cuda"
    steps = [Step("cuda-tests", "the tests that need CUDA (pytest -m cuda)",
                  (python, "-m", "pytest", "tests", "-o", "addopts=", "-p", "no:cacheprovider", "-q", "-rs", "-m", "cuda"), 40)]
    # The speed gate on this device: first this tree against itself (what the gate says when nothing changed; a GPU
    # verdict is read only beside it), then compare_base against this tree; both recorded in compare.csv beside the
    # GPU's CSV, where the history step reads them. One configuration, one look at the first 8 rounds each.
    what = (["--arch", "mlp", "--width", "8", "--batch", "8", "--steps", "2", "--warmup", "1", "--chunk", "1", "--allow-dirty"]
            if rehearse else ["--arch", "dcgan", "--width", "64", "--batch", "64"])
    gate = ["--device", device, "--variants", "wgan-gp", *what, "--budget", str(compare_rounds), "--out", str(out)]
    steps.append(Step("compare-same", f"the speed gate, this tree against itself on {device}: no change expected",
                      (python, "benchmarks/throughput.py", "--compare", str(ROOT), str(ROOT), *gate),
                      PARENT_S + compare_rounds * COMPARE_ROUND_S, after=lambda: verdicts(logs / "compare-same.log"),
                      verdict_exits=(1, 3)))
    steps.append(Step("compare", f"is this tree slower than {compare_base} on {device}? interleaved, wgan-gp",
                      (python, "benchmarks/throughput.py", "--compare", compare_base, str(ROOT), *gate),
                      PARENT_S + compare_rounds * COMPARE_ROUND_S,
                      after=lambda: beside_same_tree(verdicts(logs / "compare.log"), verdicts(logs / "compare-same.log")),
                      verdict_exits=(1, 3)))
    cells = [(name, shrink(cell) if rehearse else cell) for name, cell in matrix(variants, extended)]
    thr = [Step(name, f"throughput {cell.label}: {', '.join(cell.variants)}",
                (python, "benchmarks/throughput.py", *cell.args(csv_path, device)), cell.estimate_s(), cell,
                after=lambda: rows_note(csv_path)) for name, cell in cells]
    settings = (["--preset", "toy", "--set", "steps=20", "--set", "eval_every=10", "--set", "checkpoint_every=10", "--set",
                 "eval_samples=256", "--descriptive"] if rehearse else
                ["--preset", "fashion", "--set", "steps=200", "--set", "eval_every=100", "--set", "checkpoint_every=100"])
    seeds = "1" if rehearse else "2"
    study = ("-m", "wgan_core", "study", *settings, "--variants", "wgan-gp", "--seeds", seeds, "--device", device,
             "--out", str(study_dir), "--quiet")
    steps += thr[:2]
    steps.append(Step("study", f"{settings[1]} preset, wgan-gp cell, {seeds} seed(s) x {settings[3][6:]} iterations: training, metrics, report",
                      (python, *study), 60, after=lambda: copy_study(study_dir, logs / "study")))
    steps += [Step("benchmark-baseline", "nox -s benchmark's pytest-benchmark run, CUDA cases: the baseline",
                   (python, *benchmark_args(storage, compare=False, rehearse=rehearse)), 20),
              Step("benchmark-compare", "the same again, shown beside the baseline (the compare step decides)",
                   (python, *benchmark_args(storage, compare=True, rehearse=rehearse)), 20)]
    steps += thr[2:]
    steps.append(Step("history", f"speed history of {csv_path.name}: newest commit vs previous, figures",
                      (python, "benchmarks/throughput.py", "--check-history", str(csv_path)), 8, final=True,
                      budget=12 if rehearse else 0))
    return steps


def verdicts(log: Path) -> str:
    """A compare step's verdict lines, for the summary."""
    return "; ".join(ln.strip().split("; B/A")[0] for ln in (log.read_text(errors="replace").splitlines() if log.is_file() else [])
                     if "; B/A " in ln)


def beside_same_tree(said: str, same: str) -> str:
    """The compare step's verdicts, read only beside the same-tree comparison: unless that one passed, they are not a verdict."""
    if same and all(" pass (" in part for part in same.split("; ")):
        return said
    return f"not a verdict: the same-tree comparison on this device did not pass ({same or 'no verdict'}); {said}"


def rows_note(csv_path: Path) -> str:
    """How many rows the throughput CSV holds right after a step: each step appends its rows as it measures."""
    return f"{len(throughput_rows(csv_path, 0))} rows in {csv_path.name}"


def copy_study(study_dir: Path, dest: Path) -> str:
    """The study's report tables (not its runs or checkpoints) into dest; a note saying what was copied."""
    report = study_dir / "report"
    files = sorted([*report.glob("*.md"), *report.glob("*.csv")]) if report.is_dir() else []
    if (study_dir / "study.json").is_file():
        files.append(study_dir / "study.json")
    if not files:
        return f"no report in {study_dir}"
    dest.mkdir(parents=True, exist_ok=True)
    for f in files:
        shutil.copy2(f, dest / f.name)
    return f"{len(files)} report files copied to {dest.name}/ (runs stay in {study_dir})"


def throughput_rows(csv_path: Path, skip: int) -> list[dict[str, str]]:
    return list(csv.DictReader(csv_path.open(newline="")))[skip:] if csv_path.is_file() else []


def summary(outcomes: list[Outcome], steps: list[Step], header: list[str], rows: list[dict[str, str]], logs: Path,
            history_log: Path) -> str:
    """The markdown summary: environment, one line per step (done or not yet), the throughput rows of this run, the history check."""
    lines = [*header, "", "| step | what | status | seconds | budget s | log |", "|---|---|---|---:|---:|---|"]
    by_name = {o.step.name: o for o in outcomes}
    for s in steps:
        o = by_name.get(s.name)
        status = (o.status + (f"; {o.note}" if o.note else "")) if o else "pending"
        seconds = f"{o.seconds:.0f}" if o and o.seconds else ""
        log = f"[log]({logs.name}/{s.name}.log)" if (logs / f"{s.name}.log").exists() else ""
        lines.append(f"| {s.name} | {s.what} | {status} | {seconds} | {s.budget_s} | {log} |")
    if rows:
        lines += ["", f"## Throughput: rows appended by this run ({len(rows)})", "",
                  "| variant | setting | ms / gen iter (min-max) | images / s | peak MB | vs textbook | ensemble S | ms / member iter | ensemble speed-up |",
                  "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
        for r in rows:
            shape = r["arch"] + ("" if r["resolution"] in ("", "0") else r["resolution"])
            setting = f"{shape} w{r['width']} b{r['batch']} {r['dtype']}{' compile' if r['compile'] == 'True' else ''}"
            lines.append(f"| {r['variant']} | {setting} | {r['ms_per_gen_iter']} ({r['ms_per_gen_iter_min']}-{r['ms_per_gen_iter_max']}) | "
                         f"{r['images_per_s']} | {r['peak_mem_mb']} | {r['ratio_vs_textbook']} | {r['ensemble']} | "
                         f"{r['ensemble_ms_per_member_iter']} | {r['ensemble_speedup']} |")
    if history_log.is_file():
        text = history_log.read_text().splitlines()
        verdict = [t for t in text if t.startswith(("SLOWER", "no configuration", "not enough evidence", "throughput.py: error"))]
        lines += ["", "## Speed history", "", *(f"    {t}" for t in verdict or text[-3:])]
    return "\n".join(lines) + "\n"


def slug(name: str) -> str:
    """'NVIDIA H200' -> 'nvidia-h200': a file name for a GPU."""
    return "-".join("".join(ch if ch.isalnum() or ch == "." else " " for ch in name.lower()).split()) or "gpu"


def environment_lines(tag: str, commit: str) -> list[str]:
    import torch

    props = torch.cuda.get_device_properties(0)
    try:
        smi = subprocess.run(["nvidia-smi", "--query-gpu=driver_version,clocks.max.sm", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=20).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        smi = ""
    return [f"# GPU evidence: {props.name} ({tag})", "",
            f"- commit {commit}, {dt.datetime.now(dt.timezone.utc).isoformat(timespec='seconds')}; command `{shlex.join(sys.argv)}`",
            f"- {props.total_memory / 2**30:.0f} GiB, {props.multi_processor_count} SMs; torch {torch.__version__}, CUDA {torch.version.cuda}, "
            f"cuDNN {torch.backends.cudnn.version()}; driver, max SM clock: {smi or 'nvidia-smi not available'}; {os.cpu_count()} CPUs"]


def preflight() -> list[str]:
    """What the steps need that this machine lacks: missing modules, Fashion-MNIST for the study."""
    from wgan_core.data import data_root

    notes = []
    missing = [m for m in MODULES if importlib.util.find_spec(m) is None]
    if missing:
        notes.append(f"missing python modules: {', '.join(missing)} (the steps importing them will fail)")
    root = data_root("fashion-mnist")
    if not (root.is_dir() and any(root.rglob("train-images-idx3-ubyte*"))):
        notes.append(f"Fashion-MNIST not found in {root}: the study step will fail (set WGAN_DATA_DIR)")
    return notes


def validate(steps: list[Step]) -> list[str]:
    """Each throughput cell's configs as throughput.py would build and check them: the errors, or []."""
    import throughput
    from textbook_loop import check_implemented

    from wgan_core.training.ensemble import refusal

    errors = []
    for s in (s for s in steps if s.cell is not None):
        c = s.cell
        try:
            settings = throughput.BenchSettings(arch=c.arch, resolution=c.resolution, width=c.width, batch=c.batch, device="cuda",
                                                amp=c.amp, compile=c.compile, ensemble=c.ensemble, warmup=c.warmup, iters=c.iters,
                                                vs_textbook=c.vs_textbook)
            for v in c.variants:
                config = throughput._config(v, settings)
                if c.vs_textbook:
                    check_implemented(config.loss, config.constraint)
                if c.ensemble and refusal(config):
                    raise ValueError(f"{v}: --ensemble: {refusal(config)}")
        except ValueError as e:
            errors.append(f"{s.name}: {e}")
    return errors


def print_plan(steps: list[Step], budget_s: float, gpu: str) -> None:
    total = sum(s.estimate_s for s in steps)
    print(f"plan for {gpu}: {len(steps)} steps, estimated {total:.0f} s of the {budget_s:.0f} s budget "
          f"(estimates are guesses until a GPU run's summary gives step times)")
    print(f"  {'step':<25} {'est s':>6} {'budget s':>8}  what")
    for s in steps:
        print(f"  {s.name:<25} {s.estimate_s:>6.0f} {s.budget_s:>8}  {s.what}")
    print("commands:")
    for s in steps:
        print(f"  {s.name}: {shlex.join(s.argv)}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="The GPU evidence in one command (see the module docstring).")
    p.add_argument("--dry-run", action="store_true", help="print the plan (steps, cells, estimated seconds) and exit; no GPU needed")
    p.add_argument("--budget", type=float, default=TOTAL_BUDGET_S, help="seconds for the whole run (default %(default)s)")
    p.add_argument("--steps", default="", help="comma-separated step names to run (default: all)")
    p.add_argument("--out", default=str(ROOT / "results" / "throughput"), help="folder for the CSV, figures, summary and logs")
    p.add_argument("--tag", default="", help="file name for this GPU (default: from its name, e.g. nvidia-h200)")
    p.add_argument("--commit", default="", help="commit to record where git cannot tell (a copy of the tree without .git)")
    p.add_argument("--archive", default="", help="also pack what this run wrote into this .tar.gz")
    p.add_argument("--compare-base", default="HEAD~1", help="commit or source tree the compare step times this tree against")
    p.add_argument("--compare-rounds", type=int, default=COMPARE_ROUNDS, help="each compare step's budget in rounds (at least 8)")
    p.add_argument("--rehearse", action="store_true", help="the whole plan on the CPU with tiny settings (no GPU needed; "
                   "writes to a temporary folder unless --out is given)")
    p.add_argument("--extended", action="store_true", help="also the zoo's variants, DCGAN 64 and 32, S = 64, compile (a longer lease)")
    args = p.parse_args(argv)

    import torch

    cuda = torch.cuda.is_available() and torch.cuda.device_count() > 0
    if args.rehearse:
        cuda = False
        args.out = args.out if args.out != p.get_default("out") else tempfile.mkdtemp(prefix="wgan-gpu-rehearsal-")
        args.budget = args.budget if args.budget != TOTAL_BUDGET_S else REHEARSAL_BUDGET_S
    if not cuda and not args.dry_run and not args.rehearse:
        print(f"gpu.py: no CUDA device (torch {torch.__version__}, CUDA build {torch.version.cuda}): nothing to measure; "
              "--dry-run prints the plan", file=sys.stderr)
        return 2
    from wgan_core import VARIANTS
    from wgan_core.env import git_commit

    gpu = torch.cuda.get_device_name(0) if cuda else "the CPU (rehearsal)" if args.rehearse else "a CUDA device (none here: dry run)"
    tag = args.tag or (slug(gpu) if cuda else "rehearsal" if args.rehearse else "gpu")
    out = Path(args.out).resolve()
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    study_dir = Path.home() / "wgan-runs" / f"gpu-{tag}-{stamp}"
    storage = Path(tempfile.gettempdir()) / f"wgan-gpu-benchmarks-{tag}-{stamp}"
    steps = plan(sys.executable, out, tag, tuple(VARIANTS), study_dir, storage, compare_base=args.compare_base,
                 compare_rounds=args.compare_rounds, extended=args.extended, rehearse=args.rehearse)
    wanted = [n.strip() for n in args.steps.split(",") if n.strip()]
    unknown = [n for n in wanted if n not in {s.name for s in steps}]
    if unknown:
        print(f"gpu.py: error: --steps: unknown {', '.join(unknown)}; allowed: {', '.join(s.name for s in steps)}", file=sys.stderr)
        return 2
    steps = [s for s in steps if not wanted or s.name in wanted]
    errors = validate(steps)
    if args.dry_run:
        print_plan(steps, args.budget, gpu)
        for line in preflight() + errors:
            print(line)
        return 2 if errors else 0
    if errors:
        print(f"gpu.py: error: {'; '.join(errors)}", file=sys.stderr)
        return 2

    commit = args.commit or git_commit(short=True) or "unknown"  # a copied tree's .git may be another commit's
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]),
           "PYTHONUNBUFFERED": "1", "WGAN_GIT_COMMIT": commit}
    csv_path, logs, md = out / f"{tag}.csv", out / tag, out / f"{tag}.md"
    header = (environment_lines(tag, commit) if cuda else [f"# GPU plan rehearsed on the CPU ({tag})", "", f"- commit {commit}"])
    header += [f"- {n}" for n in preflight()]
    before = len(throughput_rows(csv_path, 0))

    def write_summary(done: list[Outcome]) -> None:
        md.write_text(summary(done, steps, header, throughput_rows(csv_path, before), logs, logs / "history.log"))

    logs.mkdir(parents=True, exist_ok=True)
    print(f"gpu.py: {len(steps)} steps on {gpu}, budget {args.budget:.0f} s; summary in {md}", flush=True)
    outcomes = run_all(steps, logs, args.budget, env,
                       on_progress=lambda done: (write_summary(done), print(f"  {done[-1].step.name}: {done[-1].status} "
                                                                              f"({done[-1].seconds:.0f} s)", flush=True)))
    if args.archive:
        with tarfile.open(args.archive, "w:gz") as tar:
            for path in sorted([*out.glob(f"*{tag}*"), *out.glob("compare*.csv")]):
                tar.add(path, arcname=path.name)
        print(f"gpu.py: packed into {args.archive}")
    total = sum(o.seconds for o in outcomes)
    print(f"gpu.py: {sum(o.ok for o in outcomes)} of {len(outcomes)} steps ok in {total:.0f} s of the {args.budget:.0f} s budget")
    return 0 if all(o.ok for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
