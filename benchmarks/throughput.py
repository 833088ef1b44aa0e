"""Training throughput of `wgan_core.Trainer.step()` per variant: the suite's speed tracker.

    python benchmarks/throughput.py --variants gan,nsgan,wgan-clip,wgan-gp,wgan-lp --arch dcgan \\
        --resolution 28 --width 64 --batch 64 --device cpu --vs-textbook --out results/throughput/cpu.csv

Each variant is measured in a fresh process (clean peak memory, no warm caches
from the previous variant): warm-up steps, then the median / min / max over the
timed steps, with torch.cuda.synchronize() around each timed step on a GPU and
CUDA events for the per-phase breakdown. With --vs-textbook the textbook loop
(benchmarks/textbook_loop.py, on contiguous-format copies of the same modules)
is timed interleaved with the trainer, one iteration each in turn, and
ratio_vs_textbook is the median of the per-pair ratios; a variant whose loss or constraint
the textbook loop does not implement is refused before anything is measured. With
--ensemble S, S seeds trained as one seed ensemble (wgan_core.training.ensemble) are timed
interleaved with the same S seeds trained as separate runs in the same process, one
generator iteration of each in turn: ensemble_ms_per_member_iter, separate_ms_per_run_iter
and ensemble_speedup (the median of the per-pair ratios). Rows are appended to --out (one
CSV per device) with the environment, and plots are redrawn next to it. --check-history CSV:
what the committed history says (benchmarks/history.py); --compare A B: is commit B slower
than A, decided by an interleaved comparison (benchmarks/compare.py).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as dt
import json
import multiprocessing as mp
import os
import queue
import resource
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
from history import append_rows, check_columns  # noqa: E402  (the CSV)
from history_plots import check_history, plot  # noqa: E402  (its figures, --check-history)
from profiling import OP_GROUPS, profile, profile_name  # noqa: E402, F401  (torch.profiler's operator table)

COLUMNS = [
    "variant", "arch", "resolution", "width", "batch", "n_critic", "device", "dtype", "channels_last", "compile",
    "ms_per_gen_iter", "ms_per_gen_iter_min", "ms_per_gen_iter_max", "ms_per_critic_step", "ms_penalty", "ms_generator_step",
    "images_per_s", "peak_mem_mb", "textbook_ms_per_gen_iter", "ratio_vs_textbook",
    "ensemble", "ensemble_ms_per_member_iter", "separate_ms_per_run_iter", "ensemble_speedup", "timed_iters", "note",
    "torch", "device_name", "cuda", "cudnn", "cpu", "threads", "git_commit", "date",
]


def _timer(device) -> Callable[[Callable[[], Any]], float]:
    """Milliseconds one call of fn takes: perf_counter on the CPU, CUDA events (with a sync) on a GPU."""
    import torch

    if device.type == "cuda":
        def timed(fn):
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            torch.cuda.synchronize()
            start.record()
            fn()
            end.record()
            torch.cuda.synchronize()
            return start.elapsed_time(end)
    else:
        def timed(fn):
            t = time.perf_counter()
            fn()
            return 1000 * (time.perf_counter() - t)
    return timed


@dataclass(frozen=True)
class BenchSettings:
    """What is measured and how: the command line, typed; pickled to each variant's measuring process."""

    arch: str = "dcgan"  # a registered architecture: mlp, pacgan (toy data) | dcgan (random images); _dataset() picks the data
    resolution: int = 28  # image side: 28 (Fashion-MNIST's shape, 1 channel) | 32 | 64 (CIFAR-10's shape, 3 channels)
    width: int = 64  # MLP hidden width, or DCGAN base channel count
    batch: int = 64  # samples per critic step and per generator step
    device: str = "auto"  # auto | cpu | cuda
    amp: str = "none"  # none | bf16 (autocast of the forward passes)
    channels_last: bool = False  # channels_last memory format for the DCGAN models and data
    compile: bool = False  # torch.compile the generator (and a critic without a double-backward penalty)
    threads: int = 0  # torch threads in the measuring process (0 = torch's default)
    warmup: int = 3  # untimed generator iterations before timing
    iters: int = 15  # timed generator iterations; as many timed calls per phase, and pairs with the textbook loop
    vs_textbook: bool = False  # also time benchmarks/textbook_loop.py on copies of the same modules, interleaved
    ensemble: int = 0  # S >= 2: also time S seeds as one seed ensemble against S separate runs, interleaved (0 = not)
    profile: int = 0  # generator iterations under torch.profiler after timing (0 = no profile)
    profile_dir: str = str(ROOT / "results" / "throughput")  # folder for the profile tables: main() puts them next to --out

    def __post_init__(self) -> None:
        for name, low in (("warmup", 0), ("profile", 0), ("iters", 1), ("width", 1), ("batch", 1), ("ensemble", 0)):
            if getattr(self, name) < low:
                raise ValueError(f"--{name}: must be >= {low}, got {getattr(self, name)}")
        if self.ensemble == 1:
            raise ValueError("--ensemble: a seed ensemble has at least 2 members (0 = no ensemble measurement)")


def _cuda(s: BenchSettings) -> bool:
    import torch

    return s.device == "cuda" or (s.device == "auto" and torch.cuda.is_available())


def _dataset(s: BenchSettings) -> str:
    """The first data set --arch is the default of (else of its kind); images not 28 wide: CIFAR-10's shape. Content is random."""
    from wgan_core.data import DATASETS
    from wgan_core.models import get_architecture

    kind = get_architecture(s.arch).data_kind
    if kind == "image" and s.resolution != 28:
        return "cifar10"
    return next((n for n, d in DATASETS.items() if d.arch == s.arch), next(n for n, d in DATASETS.items() if d.kind == kind))


def _config(variant: str, s: BenchSettings):
    from wgan_core import RunConfig

    dataset = _dataset(s)
    over = dict(width=s.width, batch_size=s.batch, device=s.device, amp=s.amp, channels_last=s.channels_last, compile=s.compile)
    return RunConfig.preset(variant, dataset, arch=s.arch, **over, **({"resolution": s.resolution} if dataset == "cifar10" else {}))


def measure(variant: str, s: BenchSettings) -> dict:
    """Time one variant (runs in its own process); returns its CSV row (COLUMNS)."""
    import torch

    from wgan_core import Trainer
    from wgan_core.env import environment, git_commit
    from wgan_core.training.step import Stepper

    if s.threads:
        torch.set_num_threads(s.threads)
    torch.backends.cudnn.benchmark = True
    config = _config(variant, s)
    images = None
    if config.kind == "image":  # content does not matter for speed: random images of the right shape, offline
        ch = 1 if config.dataset == "fashion-mnist" else 3
        images = torch.randint(0, 256, (max(4096, 8 * config.batch_size * config.n_critic), ch, s.resolution, s.resolution),
                               dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    trainer = Trainer(config, images=images)
    dev = trainer.device
    timed = _timer(dev)
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)
    note = []
    if config.compile and trainer.constraint.double_backward:
        note.append("compile: generator only; the penalty critic stays eager (torch.compile does not support double backward)")

    for _ in range(s.warmup):
        trainer.step()
    step_ms = [timed(trainer.step) for _ in range(s.iters)]

    # Per-phase breakdown on prepared inputs (extra updates: fine for a benchmark).
    b = config.batch_size
    stepper = Stepper([trainer])  # the step's parts, as Trainer.step() calls them
    real, z = stepper.critic_inputs()
    r, f = real[:b], stepper.fakes(z[:b]).to(real.dtype)
    critic_ms = [timed(lambda: stepper.critic_step(r, f)) for _ in range(s.iters)]
    gen_ms = [timed(lambda: stepper.generator_step(r)) for _ in range(s.iters)]  # r: as step() passes the last real batch
    # The constraint's share of a critic step: the same step with the penalty and the after-step hook switched off.
    has_constraint = stepper.constraint.penalises or stepper.constraint.after_critic_step is not None
    with constraint_off(stepper):
        bare_ms = [timed(lambda: stepper.critic_step(r, f)) for _ in range(s.iters)]

    textbook = ratio = None
    if s.vs_textbook:
        from textbook_loop import textbook_from_trainer

        loop = textbook_from_trainer(trainer)
        for _ in range(s.warmup):
            loop.step()
        # Interleave with the trainer so both see the same machine state, and take the ratio
        # pair by pair: a slow spell of the machine then slows both sides of a pair alike.
        # The order alternates within pairs, so going first or second favours neither loop.
        ours, theirs = [], []
        for i in range(s.iters):
            if i % 2:
                theirs.append(timed(loop.step))
                ours.append(timed(trainer.step))
            else:
                ours.append(timed(trainer.step))
                theirs.append(timed(loop.step))
        step_ms = step_ms + ours
        textbook = statistics.median(theirs)
        ratio = statistics.median(o / t for o, t in zip(ours, theirs))

    if dev.type == "cuda":
        peak = torch.cuda.max_memory_allocated(dev) / 2**20
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux -> MiB
    ens = time_ensemble(variant, s, images, timed) if s.ensemble else {}  # after the peak: its 2*S trainers must not count

    if s.profile:  # after the peak memory is read: the profiler's own memory must not count
        note.append(f"profile: {profile(trainer, s.profile, Path(s.profile_dir) / profile_name(config, dev.type))}")
    med = statistics.median(step_ms)
    host = environment()  # torch, threads, cpu (and the load average, which has no column)
    return {
        "variant": variant, "arch": config.arch, "resolution": s.resolution if config.kind == "image" else 0,
        "width": config.width, "batch": b, "n_critic": config.n_critic, "device": dev.type,
        "dtype": "bf16" if config.amp == "bf16" else "fp32", "channels_last": config.channels_last, "compile": config.compile,
        "ms_per_gen_iter": round(med, 2), "ms_per_gen_iter_min": round(min(step_ms), 2), "ms_per_gen_iter_max": round(max(step_ms), 2),
        "ms_per_critic_step": round(statistics.median(critic_ms), 2),
        # only where there is a constraint to switch off; elsewhere the difference would be timing noise
        "ms_penalty": round(max(0.0, statistics.median(critic_ms) - statistics.median(bare_ms)), 2)
        if has_constraint else 0.0,
        "ms_generator_step": round(statistics.median(gen_ms), 2),
        "images_per_s": round(config.n_critic * b / (med / 1000), 1),
        "peak_mem_mb": round(peak, 1),
        "textbook_ms_per_gen_iter": round(textbook, 2) if textbook else "",
        "ratio_vs_textbook": round(ratio, 3) if textbook else "",
        "ensemble": s.ensemble or "", "ensemble_ms_per_member_iter": ens.get("member", ""), "separate_ms_per_run_iter": ens.get("separate", ""),
        "ensemble_speedup": ens.get("speedup", ""),
        "timed_iters": len(step_ms), "note": "; ".join(note),
        "torch": host["torch"], "cpu": host["cpu"], "threads": host["threads"], **device_columns(dev, host["cpu"]),
        "git_commit": os.environ.get("WGAN_GIT_COMMIT") or git_commit(short=True) or "unknown",  # gpu.py names a copied tree
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }


def time_ensemble(variant: str, s: BenchSettings, images, timed) -> dict[str, float]:
    """S seeds as one ensemble vs the same S seeds as separate runs, one generator iteration of each in turn.

    Both sides are built from the same configs (seeds 0..S-1) and step the same number of
    times, so they do the same work; the order alternates within pairs. Returns ms per
    member iteration, ms per separate run iteration, and the median of the per-pair ratios.
    """
    from wgan_core import Trainer
    from wgan_core.training.ensemble import Ensemble

    configs = [_config(variant, s).replace(seed=seed) for seed in range(s.ensemble)]
    separate = [Trainer(c, images=images) for c in configs]
    ensemble = Ensemble([Trainer(c, images=images, data_from=separate[0]) for c in configs])  # one copy of the data for the ensemble

    def separate_step() -> None:
        for t in separate:
            t.step()

    for _ in range(s.warmup):
        separate_step()
        ensemble.step()
    ens_ms, sep_ms = [], []
    for i in range(s.iters):
        if i % 2:
            sep_ms.append(timed(separate_step))
            ens_ms.append(timed(ensemble.step))
        else:
            ens_ms.append(timed(ensemble.step))
            sep_ms.append(timed(separate_step))
    n = s.ensemble
    return {
        "member": round(statistics.median(ens_ms) / n, 3),
        "separate": round(statistics.median(sep_ms) / n, 3),
        "speedup": round(statistics.median(a / b for a, b in zip(sep_ms, ens_ms)), 3),
    }


@contextlib.contextmanager
def constraint_off(stepper) -> Iterator[None]:
    """Within the block, the stepper's critic step runs without its constraint's penalty and after-step hook."""
    constraint = stepper.constraint
    stepper.constraint = dataclasses.replace(constraint, terms=None, after_critic_step=None)
    try:
        yield
    finally:
        stepper.constraint = constraint


def device_columns(dev, cpu: str) -> dict:
    """The columns wgan_core.env.environment() has no value for: the device's name (the CPU model on the CPU), CUDA and cuDNN."""
    import torch

    cuda = dev.type == "cuda"
    return {
        "device_name": torch.cuda.get_device_name(dev) if cuda else cpu,
        "cuda": torch.version.cuda if cuda else "",
        "cudnn": torch.backends.cudnn.version() if cuda else "",
    }


def _worker(variant: str, settings: BenchSettings, queue) -> None:
    try:
        queue.put(measure(variant, settings))
    except Exception as e:  # reported by the parent as one line
        queue.put({"error": f"{type(e).__name__}: {e}"})


def run_isolated(variant: str, settings: BenchSettings) -> dict:
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=_worker, args=(variant, settings, q))
    p.start()
    while True:  # a worker killed (out of memory, a crash) must not leave us waiting forever
        try:
            result = q.get(timeout=5)
            break
        except queue.Empty:
            if not p.is_alive():
                return {"error": f"the measuring process died (exit code {p.exitcode})"}
    p.join()
    return result


# ---------------------------------------------------------------------------------------------
def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if {"--compare", "--bisect", "--drift"} & set(argv):  # an interleaved A/B of two commits: benchmarks/compare.py
        from compare import main as compare_main

        return compare_main(argv)
    from wgan_core import VARIANTS
    from wgan_core.models import ARCHITECTURES

    d = BenchSettings()  # the defaults
    p = argparse.ArgumentParser(description="Time Trainer.step() per variant.")
    p.add_argument("--variants", default=",".join(VARIANTS))
    p.add_argument("--arch", choices=list(ARCHITECTURES), default=d.arch, help="a registered architecture (its data kind picks the data)")
    p.add_argument("--resolution", type=int, choices=[28, 32, 64], default=d.resolution)
    p.add_argument("--width", type=int, default=d.width)
    p.add_argument("--batch", type=int, default=d.batch)
    p.add_argument("--device", default=d.device, help="auto | cpu | cuda")
    p.add_argument("--amp", choices=["none", "bf16"], default=d.amp)
    p.add_argument("--channels-last", action="store_true")
    p.add_argument("--compile", action="store_true")
    p.add_argument("--threads", type=int, default=d.threads, help="torch threads (0 = torch's default)")
    p.add_argument("--warmup", type=int, default=d.warmup)
    p.add_argument("--iters", type=int, default=d.iters, help="timed generator iterations")
    p.add_argument("--vs-textbook", action="store_true", help="also time benchmarks/textbook_loop.py on the same modules")
    p.add_argument("--ensemble", type=int, default=d.ensemble, metavar="S", help="also time S seeds as one ensemble vs separately")
    p.add_argument("--profile", type=int, default=d.profile, metavar="N", help="torch.profiler over N iterations, table next to --out")
    p.add_argument("--out", help="CSV to append to (default results/throughput/<device>.csv)")
    p.add_argument("--no-plot", action="store_true")
    p.add_argument("--keep-going", action="store_true", help="report a failing variant, measure the rest, append each row at once")
    p.add_argument("--check-history", metavar="CSV", help="measure nothing: per configuration, is the newest commit slower?")
    p.add_argument("--slower-than", type=float, default=0.10, metavar="FRACTION", help="--check-history's row threshold")
    args = p.parse_args(argv)
    if args.check_history:
        return check_history(Path(args.check_history), args.slower_than, plot_figures=not args.no_plot)

    def error(message: str) -> int:
        return print(f"throughput.py: error: {message}", file=sys.stderr) or 2
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        return error(f"--variants: unknown {', '.join(unknown)}; allowed: {', '.join(VARIANTS)}")
    fields = {f.name for f in dataclasses.fields(BenchSettings)}
    out = Path(args.out) if args.out else None
    try:
        settings = BenchSettings(**{k: v for k, v in vars(args).items() if k in fields},
                                 profile_dir=str(out.parent) if out else d.profile_dir)
        check_columns(out or ROOT / "results" / "throughput" / f"{'cuda' if _cuda(settings) else 'cpu'}.csv", COLUMNS)
    except ValueError as e:
        return error(str(e))
    # Refuse a bad setting or a variant without a textbook version before measuring anything.
    from textbook_loop import check_implemented

    for v in variants:
        try:
            config = _config(v, settings)  # ConfigError (a ValueError) on a bad setting
            if settings.vs_textbook:
                check_implemented(config.loss, config.constraint)
            if settings.ensemble:
                from wgan_core.training.ensemble import refusal

                why = refusal(config)
                if why is not None:
                    raise ValueError(f"--ensemble: {why}")
        except ValueError as e:
            return error(f"{v}: {e}")
    rows, failed = [], 0
    for v in variants:
        row = run_isolated(v, settings)
        if "error" in row:  # with --keep-going: on stderr, and the other variants' rows are still appended
            failed += error(f"{v}: {row['error']}")
            if not args.keep_going:
                return 2
            continue
        rows.append(row)
        if args.keep_going:  # each row as it comes: a run stopped at its time budget (gpu.py) keeps what it measured
            append_rows(out or ROOT / "results" / "throughput" / f"{row['device']}.csv", [row], COLUMNS)
        extra = f", textbook {row['textbook_ms_per_gen_iter']} ms ({row['ratio_vs_textbook']}x)" if row["ratio_vs_textbook"] else ""
        if row["ensemble"]:
            extra += (f", ensemble of {row['ensemble']}: {row['ensemble_ms_per_member_iter']} ms per member iteration vs "
                      f"{row['separate_ms_per_run_iter']} ms separately ({row['ensemble_speedup']}x)")
        print(f"{v:10s} {row['ms_per_gen_iter']:8.1f} ms/iter  critic step {row['ms_per_critic_step']:7.1f} ms "
              f"(constraint {row['ms_penalty']:6.1f})  {row['images_per_s']:8.1f} img/s{extra}", flush=True)
    if not rows:  # --keep-going, and every variant failed
        return 2
    out = out or ROOT / "results" / "throughput" / f"{rows[0]['device']}.csv"
    if not args.keep_going:  # all or nothing
        append_rows(out, rows, COLUMNS)
    print(json.dumps({"appended": len(rows), "to": str(out)}))
    if not args.no_plot:
        plot(out)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
