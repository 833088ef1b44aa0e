"""The study command: expand a preset into matched runs, run them (resumably), then write the report.

    python -m wgan_core study [--preset NAME] [--out DIR] [--seeds N] [--executor EXEC] [--device DEV]
    python -m wgan_core study --preset search-toy --settings K --seeds N   # the tuning-fair search
    python -m wgan_core study --list                  # the presets
    python -m wgan_core study --preset toy --dry-run  # the runs a study would make
    nox -s ablation -- ARGS                           # the same, in the shared environment

The default executor uses the machine: one process per core (process:N, one torch thread
each) for CPU runs on a machine with several cores, else local (sequential, in this process).

Killed at any moment (even kill -9), the same command resumes: finished runs are
skipped and interrupted ones continue from their last checkpoint. What it drives lives
beside it in wgan_core/study/ (presets, executors, search) and in wgan_core/report.
"""

from __future__ import annotations

import argparse
import shlex
import signal
import sys
from pathlib import Path

from ..config import ConfigError
from ..errors import Parser
from ..report.families import check_family, reach
from ..signals import EXIT_INTERRUPTED
from . import (
    PRESETS,
    Executor,
    StudyError,
    StudyInterrupted,
    StudySpec,
    available_cores,
    default_preset,
    describe_job,
    describe_presets,
    run_study,
)
from .presets import cuda_available


def build_parser() -> argparse.ArgumentParser:
    p = Parser(prog="python -m wgan_core study", description="Run a matched ablation study and write its report.")
    p.add_argument("--preset", help=f"one of: {', '.join(PRESETS)} (default: toy without a GPU, fashion with one)")
    p.add_argument("--out", help="study directory (default: ~/wgan-runs/<preset>, outside the work tree)")
    p.add_argument("--seeds", type=int, help="seeds 0..N-1 (default: the preset's, 3; paper: 5; a search's stage 2: 10)")
    p.add_argument("--settings", type=int, help="search presets: K settings per objective in stage 1 (default: the preset's)")
    p.add_argument("--metric", help="search presets: the metric that picks stage 2's setting, lower is better (default: w1 toy, fid images)")
    p.add_argument("--params", help="search presets: comma-separated hyperparameters to vary (default: all; see --list)")
    p.add_argument(
        "--selection-seeds", type=int,
        help="search presets: R seeds per stage-1 setting (1000..1000+R-1), selected on their mean; stage 2 reports on fresh seeds 0..N-1 (default 1)",
    )  # fmt: skip
    p.add_argument(
        "--executor",
        help="local (sequential) | process:N | submitit[:N] (Slurm) | submitit-local[:N] (default: process:<cores> for CPU runs, else local)",
    )
    p.add_argument(
        "--ensemble",
        default="auto",
        help="seed ensembles: auto (where they pay: toy MLPs of width <= 128 on a CPU, any stackable run on CUDA) | off | S "
        "(up to S seeds of a cell train as one); every member writes its run as its single run would (on a CPU the toy MLPs bit-identically, "
        "otherwise to float tolerance)",
    )
    p.add_argument("--threads", type=int, default=0, help="torch threads per run (default: torch's own for local, cores // N for process:N)")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N (also picks the default preset)")
    p.add_argument("--variants", help="comma-separated variants (or cells) of the preset to keep")
    p.add_argument("--datasets", help="comma-separated data sets of the preset to keep")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config field in every run (e.g. steps=200); repeatable")
    p.add_argument(
        "--slurm", action="append", default=[], metavar="KEY=VALUE", help="submitit parameter (e.g. timeout_min=240, slurm_partition=gpu); repeatable"
    )
    p.add_argument(
        "--families", metavar="FILE",
        help="a JSON list of families of comparisons ({name, cells, baseline, metrics, margins, headline, datasets}) replacing the preset's "
        "declared ones; recorded in study.json before any run",
    )  # fmt: skip
    p.add_argument(
        "--descriptive", action="store_true",
        help="run although a headline family cannot reach p < 0.05 with these seeds (a smoke test, a small rehearsal): no family is a headline",
    )  # fmt: skip
    p.add_argument("--baseline", help="cell the report's paired tests compare against (default: the preset's, wgan-gp)")
    p.add_argument("--no-report", action="store_true", help="run only; `python -m wgan_core report DIR` writes the report later")
    p.add_argument("--dry-run", action="store_true", help="list the runs and exit")
    p.add_argument("--list", action="store_true", help="list the presets and exit")
    p.add_argument("--quiet", action="store_true", help="no progress bar (one line per finished run is still printed)")
    return p


def default_executor(spec: StudySpec) -> str:
    """process:<cores> where the runs use the CPU and there are several cores (one torch thread each); else local.

    On a CPU, one process per core with one torch thread each beats one process of several threads
    for these small models (the toy preset's whole time depends on the CPU kind: a reviewer measured
    608 s on a 2-core Intel Xeon and 1,754 s on a 2-core AMD EPYC; each run's time is in
    results/toy/report/runs.csv, wall_time_s); on a GPU, runs share one device, so they go one at a time.
    """
    cores = available_cores()
    on_cpu = spec.device == "cpu" or (spec.device == "auto" and not cuda_available())
    return f"process:{cores}" if on_cpu and cores > 1 else "local"


def cell_labels(jobs) -> set[str]:
    """The labels a family's cells may start with in this study: its jobs' labels and variants."""
    return {j.label for j in jobs} | {getattr(j, "variant", j.label) for j in jobs}


def family_plan(families, seeds: int, datasets: int) -> list[str]:
    """One line per declared family: its tests, the smallest p one test can reach with `seeds` matched pairs, and after Holm."""
    out = []
    for f in families:
        p, holm_p = reach(f, seeds, datasets)
        ok = "can reach p < 0.05" if holm_p < 0.05 else "CANNOT reach p < 0.05: its tests are descriptive"
        out.append(f"family{' (headline)' if f.headline else ''} {f.name!r}: {f.size(datasets)} tests, {seeds} seeds: "
                   f"smallest p {p:.3g}, after Holm {holm_p:.3g}: {ok}")
    return out


def refuse_unreachable(families, seeds: int, datasets: int) -> None:
    """A one-line ConfigError when a headline family cannot reach p < 0.05 with the planned seeds (nothing has run yet)."""
    for f in families:
        p, holm_p = reach(f, seeds, datasets)
        if f.headline and holm_p >= 0.05:
            need = next(n for n in range(1, 64) if reach(f, n, datasets)[1] < 0.05)
            raise ConfigError(f"seeds: the headline family {f.name!r} ({f.size(datasets)} tests) cannot reach p < 0.05 with {seeds} seeds "
                              f"(smallest Holm-adjusted p {holm_p:.3g}); it needs --seeds {need} or more (or --descriptive: no headline)")


def _split(s: str | None) -> tuple[str, ...]:
    return tuple(x.strip() for x in s.split(",") if x.strip()) if s else ()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.list:
        from .space import describe_space

        print(describe_presets())
        print("search space (search presets):\n" + describe_space())
        return 0
    try:
        for name in ("seeds", "settings", "selection_seeds"):
            value = getattr(args, name)
            if value is not None and value < 1:
                raise ConfigError(f"{name.replace('_', '-')}: must be a positive integer, got {value}")
        preset = args.preset or default_preset(args.device)
        seeds = args.seeds if args.seeds is not None else (PRESETS[preset].seeds if preset in PRESETS else 1)
        spec = StudySpec(
            preset, seeds, args.device, _split(args.variants), _split(args.datasets), tuple(args.set),
            settings=args.settings if args.settings is not None else 0, metric=args.metric or "", params=_split(args.params),
            selection_seeds=args.selection_seeds if args.selection_seeds is not None else 1, families_file=args.families or "",
            descriptive=args.descriptive,
        )  # fmt: skip
        jobs = spec.jobs()
        datasets = {j.dataset for j in jobs}
        for f in spec.families:  # the cells and data sets a family names must be this study's (not a typo that tests nothing)
            check_family(f, cell_labels(jobs), datasets)
        refuse_unreachable(spec.families, seeds, len(datasets))  # before anything runs or prints
        plan = family_plan(spec.families, seeds, len(datasets))
        executor = Executor.parse(args.executor or default_executor(spec), args.slurm, args.threads, args.ensemble)
        if args.dry_run:
            for j in jobs:
                print(f"{j.run_id()}  {describe_job(j)}  steps={j.steps}")
            from .executors import executor_workers, plan_units

            together = [u for u in plan_units(jobs, executor.ensemble, executor_workers(executor, len(jobs))) if len(u) > 1]
            print(f"--ensemble {executor.ensemble}: {sum(map(len, together))} runs in {len(together)} seed ensembles, the rest alone")
            print(f"{len(jobs)} runs")
            print("\n".join(plan))
            if spec.search is not None:
                from .run import plan_summary

                print(plan_summary(spec))
            return 0
        out = Path(args.out).expanduser() if args.out else Path.home() / "wgan-runs" / preset
        command = "python -m wgan_core study " + shlex.join(argv if argv is not None else sys.argv[1:])
        print("\n".join(plan))
        failure = None
        signal.signal(signal.SIGTERM, _terminate)  # kill / Slurm around the whole study: stop as on Ctrl-C
        try:
            run_study(spec, out, executor, progress=False if args.quiet else None, command=command)
        except StudyError as e:
            failure = e  # some runs failed or stopped: still report the others
        if isinstance(failure, StudyInterrupted) and failure.by_signal:
            print(f"error: {failure}", file=sys.stderr)
            return EXIT_INTERRUPTED  # asked to stop: no report now
        if not args.no_report:
            from ..report import write_report
            from ..rundir.artifacts import complete_study

            complete_study(out)  # runs written before the run-side report files existed: computed once from model.pt
            print(f"report: {write_report(out, baseline=args.baseline)}")
        if failure is not None:
            print(f"error: {failure}", file=sys.stderr)
            return EXIT_INTERRUPTED if isinstance(failure, StudyInterrupted) else 1
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; run the same command again to resume", file=sys.stderr)
        return EXIT_INTERRUPTED
    return 0


def _terminate(signum, frame) -> None:
    raise KeyboardInterrupt  # outside a run's training loop (which saves and stops on its own): the same as Ctrl-C


if __name__ == "__main__":
    sys.exit(main())
