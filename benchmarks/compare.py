"""Is commit B slower than commit A by more than you tolerate? A sequential, interleaved comparison (benchmarks/abtest.py).

    python benchmarks/throughput.py --compare A B --variants wgan-gp --arch mlp --width 32,128 --threads 1
    python benchmarks/throughput.py --compare HEAD .          # the working tree against its commit
    python benchmarks/throughput.py --drift 5                 # HEAD against HEAD~5 (or --drift TAG): small slowdowns add up
    python benchmarks/throughput.py --bisect GOOD BAD --variants wgan-gp --arch mlp --width 128
    nox -s benchmark -- --compare A B ...                     # the same

A and B are commits (checked out once into git worktrees under ~/.cache/wgan-suite/worktrees)
or source trees (a folder holding wgan_core/, e.g. `.`, named by its commit and, when its
wgan_core/ differs from it, a hash of that difference). Each side is timed by the same harness,
benchmarks/probe.py of this checkout. Rounds (benchmarks/rounds.py): a fresh process per side, both pinned to the same
CPUs with the same torch threads, builds and warms up every configuration still undecided;
then the two take turns of --chunk steps (A B, B A, ...) until each has --steps timed steps of
a configuration, and each side's median is the round's figure. The rounds are read at the
looks of abtest.LOOKS (8, 12, 16, 24, ...) until every configuration is decided or --budget
(rounds, or minutes as `6m`) is spent. A side that cannot build or step a configuration stops
the comparison in its first round with a one-line error (exit 2), nothing recorded.

One sequence per pair: the rounds of A against B for one configuration on one machine kind
with one measuring setting are one sequence, wherever they were measured. A second `--compare`
of the pair resumes it (its rounds are read back from compare_blocks.csv) and spends only the
error left, so repeating a comparison cannot wash a slowdown out; a sequence whose 64 rounds
are spent is closed, and its verdict is final.

Written under --out (default results/throughput/): compare.csv, one row per configuration
and command (the sequence's verdict, ratio and bounds, error spent, the settings, the host),
and compare_blocks.csv, the median of every process (the data every verdict is rebuilt
from). Exit 1 when a configuration is `slower`, 3 when none is and one is `inconclusive`, 2 on
bad input, else 0 (every configuration passed).
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import datetime as dt
import hashlib
import itertools
import math
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
from abtest import LOOKS, Decision, decide, next_look  # noqa: E402
from history import append_rows, check_columns  # noqa: E402
from records import BLOCK, RECORD, earlier_slower, recorded_rounds, sequence_key  # noqa: E402
from rounds import CompareError, Probe, label, measure_round, reap, row_fields  # noqa: E402
from sides import _git, content_hash, resolve, tree_name  # noqa: E402, F401  (the two sides: commits or source trees)

CALIBRATION = ROOT / "results" / "throughput" / "calibration"
EXIT = {"pass": 0, "slower": 1, "inconclusive": 3}


def configurations(variants: list[str], arch: str, widths: list[int], batch: int, resolution: int, amp: str,
                   ensemble: int = 0) -> list[dict]:
    """The probe's configurations (variants x widths) with the row fields their history label needs."""
    from wgan_core import RunConfig

    out = []
    for variant, width in itertools.product(variants, widths):
        res = resolution if arch == "dcgan" else 0
        dataset = "8gaussians" if arch == "mlp" else "fashion-mnist"
        n_critic = RunConfig.preset(variant, dataset).n_critic
        out.append(dict(variant=variant, arch=arch, width=width, batch=batch, resolution=res, amp=amp, n_critic=n_critic,
                        ensemble=ensemble))
    return out


def machine(device: str) -> dict[str, str]:
    """device, device_name, host (the machine kind a calibration belongs to) and torch: what a time depends on.

    On a CPU the host is the model name and a hash of the CPU flags (two CPUs that print one model
    name but differ in their instruction sets are two kinds); on a GPU the GPU's name.
    """
    import torch

    from wgan_core.env import cpu_model

    if device == "cuda":
        name = torch.cuda.get_device_name()
        return {"device": "cuda", "device_name": name, "host": name, "torch": str(torch.__version__)}
    flags = ""
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("flags")), "")
    except OSError:
        pass
    kind = cpu_model() + (f" flags:{hashlib.sha1(' '.join(sorted(flags.split())).encode()).hexdigest()[:8]}" if flags else "")
    return {"device": "cpu", "device_name": cpu_model(), "host": kind, "torch": str(torch.__version__)}


@dataclass(frozen=True)
class Budget:
    """When a comparison stops measuring: after `rounds` rounds in all (the sequence's), or `minutes` of this command."""

    rounds: int = 48
    minutes: float = 0.0  # 0: no limit in time

    @staticmethod
    def parse(text: str) -> Budget:
        try:
            if text.endswith("m"):
                minutes = float(text[:-1])
                if minutes > 0:
                    return Budget(rounds=LOOKS[-1], minutes=minutes)
            elif int(text) >= LOOKS[0]:
                return Budget(rounds=int(text))
        except ValueError:
            pass
        raise CompareError(f"--budget: rounds (at least {LOOKS[0]}, e.g. 48) or minutes (e.g. 6m), got {text!r}")


def run_compare(a_ref: str, b_ref: str, configs: list[dict], probe: Probe, budget: Budget = Budget(),
                max_slowdown: float = 0.03, alpha: float = 0.05, inject: float = 0.0, out: Path | None = None,
                allow_dirty: bool = False, resume: bool = True, repo: Path = ROOT, progress=print) -> list[tuple[dict, Decision]]:
    """Resolve, resume the pair's recorded rounds, measure until decided or the budget, record; (configuration, decision) pairs.

    resume=False (calibration only: each of its comparisons must be a sequence of its own) reads no recorded rounds.
    """
    a, b = resolve(a_ref, repo), resolve(b_ref, repo)
    harness = harness_name()
    if ("+" in harness or harness == "unknown") and not allow_dirty:
        raise CompareError(f"the harness (benchmarks/ of {ROOT}) has uncommitted changes or no commit ({harness}): commit "
                           "them, or --allow-dirty to measure with it anyway (recorded as such)")
    if out is not None:  # a record file of another shape is refused before anything is timed
        try:
            check_columns(out / "compare.csv", RECORD)
            check_columns(out / "compare_blocks.csv", BLOCK)
        except ValueError as e:
            raise CompareError(str(e)) from None
    where = machine(probe.device)
    setting = dict(steps=probe.steps, chunk=probe.chunk, warmup=probe.warmup, inject=inject)
    fields = [dict(**where, **row_fields(c, probe), ensemble=c.get("ensemble", 0), base=a.name, head=b.name, **setting)
              for c in configs]
    started = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    recorded = recorded_rounds(out if resume else None, [sequence_key(f) for f in fields])
    rounds = [r for r, _ in recorded]
    # Each sequence keeps the error share per side it started with (alpha / its configurations): re-judging old looks
    # with another share after seeing them would spend error twice, or take a verdict back.
    share = [a if a is not None else alpha / len(configs) for _, a in recorded]
    resumed = [len(r["A"]) for r in rounds]
    if any(resumed):
        progress("resuming the recorded sequence(s): " + ", ".join(f"{label(c, probe)} {n} rounds" for c, n in zip(configs, resumed)))
    for c, (_, a_rec) in zip(configs, recorded):
        if a_rec is not None and not math.isclose(a_rec, alpha / len(configs)):
            progress(f"{label(c, probe)}: judged at the error share its sequence started with, {a_rec:.4g} per side "
                     f"(this command's would be {alpha / len(configs):.4g})")

    def decision(i: int) -> Decision | None:
        r = rounds[i]
        if not r["A"]:
            return None
        try:
            return decide(r["A"], r["B"], max_slowdown, share[i])
        except ValueError as e:  # e.g. a side's median of 0 ms: no ratio to read
            raise CompareError(f"{label(configs[i], probe)}: {e}") from None

    def due(i: int) -> int | None:  # the look configuration i waits for: None when decided, closed or beyond the budget
        d = decision(i)
        if d is not None and (d.decided or d.closed or d.detail == "contradictory"):
            return None
        target = next_look(d.looked if d else 0)
        return target if target is not None and target <= budget.rounds else None

    start, measured = time.monotonic(), 0
    while todo := [i for i in range(len(configs)) if due(i) is not None]:
        target = min(due(i) for i in todo)
        group = [i for i in todo if due(i) == target]
        missing = max(target - len(rounds[i]["A"]) for i in group)
        per_round = (time.monotonic() - start) / measured if measured else 0.0
        if budget.minutes and measured and time.monotonic() - start + missing * per_round > 60 * budget.minutes:
            progress(f"budget: the {missing} rounds to the look at {target} would pass {budget.minutes:g} min; stopping")
            break
        for _ in range(missing):
            per_round = (time.monotonic() - start) / measured if measured else 0.0
            if budget.minutes and measured and time.monotonic() - start + per_round > 60 * budget.minutes:
                break  # the rounds so far are recorded, and a later command resumes them
            sub = [i for i in group if len(rounds[i]["A"]) < target]
            rows = measure_round(a, b, [configs[i] for i in sub], probe, len(rounds[sub[0]]["A"]), inject)
            measured += 1
            blocks = []
            for row in rows:
                i = sub[row.pop("config")]
                row["round"] = len(rounds[i][row["side"]])
                rounds[i][row["side"]].append(row["median_ms"])
                blocks.append({**{k: v for k, v in fields[i].items() if k in BLOCK}, **row, "alpha": f"{share[i]:.6g}"})
            if out is not None:  # every round as it is measured: an interrupted comparison resumes from it
                now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
                append_rows(out / "compare_blocks.csv", [dict(b, date=now, started=started) for b in blocks], BLOCK)
            progress(f"round {len(rounds[sub[0]]['A'])}: " + "; ".join(
                f"{label(configs[i], probe)} B/A {rounds[i]['B'][-1] / rounds[i]['A'][-1]:.3f}" for i in sub))
        if any(len(rounds[i]["A"]) < target for i in group):
            progress(f"budget: {budget.minutes:g} min spent before the look at {target}; stopping")
            break
        progress(f"look at {target} rounds: " + "; ".join(f"{label(configs[i], probe)} {decision(i).verdict}" for i in group))
    reap()
    decisions = [(c, decision(i)) for i, c in enumerate(configs)]
    if any(d is None for _, d in decisions):
        raise CompareError("--budget: not one look within it; give at least 8 rounds or more minutes")
    if out is not None:
        now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        seconds = round(time.monotonic() - start, 1)
        records = [dict({k: v for k, v in fields[i].items() if k in RECORD}, date=now, started=started, verdict=d.verdict, detail=d.detail,
                        ratio=f"{d.ratio:.4f}", low=f"{d.low:.4f}", high=f"{d.high:.4f}", max_slowdown=max_slowdown,
                        alpha=f"{d.alpha:.4g}", spent=f"{d.spent:.4g}", looked=d.looked, rounds=d.rounds,
                        new_rounds=d.rounds - resumed[i], p_value=f"{d.p_value:.4g}",
                        base_ms=f"{statistics.median(rounds[i]['A']):.4f}", head_ms=f"{statistics.median(rounds[i]['B']):.4f}",
                        seconds=seconds, harness=harness)
                   for i, (c, d) in enumerate(decisions)]
        append_rows(out / "compare.csv", records, RECORD)
    standing = earlier_slower(out if resume else None, fields)
    return [(c, d if rec is None or d.verdict == "slower" else
             dataclasses.replace(d, verdict="slower", detail=f"recorded {rec['started'] or rec['date']} with {rec['steps']} steps, "
                                                               f"chunk {rec['chunk']}, torch {rec.get('torch') or '?'}"))
            for (c, d), rec in zip(decisions, standing)]


def harness_name() -> str:
    """The measuring harness's name: this checkout's commit, `+<hash>` when benchmarks/ has uncommitted changes."""
    try:
        return tree_name(ROOT, ("benchmarks",))
    except (CompareError, OSError):
        return "unknown"


def calibration_note(host: str, root: Path = CALIBRATION) -> str:
    """Where the gate's error rates on this machine kind were measured, or that they were not."""
    for summary in sorted(root.glob("*/summary.csv")):
        with summary.open(newline="") as f:
            if any(row.get("host") == host for row in csv.DictReader(f)):
                where = summary.parent.relative_to(ROOT) if summary.parent.is_relative_to(ROOT) else summary.parent
                return f"calibrated on this machine kind ({host}): {where}/"
    return (f"no calibration recorded for this machine kind ({host}): its false-alarm rate and power are not measured here "
            "(benchmarks/calibrate.py)")


def bisect(good: str, bad: str, run, repo: Path = ROOT, progress=print) -> tuple[str | None, str | None]:
    """(first, undecided): the first commit on the first-parent path GOOD..BAD that `run(GOOD, commit)` calls "slower"
    (None if BAD passes), and the commit whose comparison was "inconclusive" if one stopped the search (else None).

    Each step compares with GOOD itself (a slowdown built up over several commits is still found). An
    inconclusive step is neither side of the search: it stops it, naming that commit and the slower one
    found so far, since guessing either way could blame the wrong commit.
    """
    path = _git("rev-list", "--first-parent", "--reverse", f"{good}..{bad}", cwd=repo).split()
    if not path:
        raise CompareError(f"--bisect: {bad} is not a descendant of {good}")
    said = run(good, path[-1])
    if said != "slower":
        return None, (path[-1] if said == "inconclusive" else None)
    lo, hi = -1, len(path) - 1  # path[lo] (or GOOD) passes; path[hi] is slower
    while hi - lo > 1:
        mid = (lo + hi) // 2
        progress(f"bisect: {hi - lo - 1} commit(s) left; trying {path[mid][:7]}")
        said = run(good, path[mid])
        if said == "inconclusive":
            return path[hi], path[mid]
        if said == "slower":
            hi = mid
        else:
            lo = mid
    return path[hi], None


def anchor(text: str, repo: Path = ROOT) -> str:
    """--drift's anchor: N (the commit N first-parent steps before HEAD) or a tag or commit."""
    if text.isdigit():
        if int(text) < 1:
            raise CompareError(f"--drift: N commits back, at least 1, got {text}")
        try:
            return _git("rev-parse", "--verify", "--quiet", f"HEAD~{text}", cwd=repo)[:7]
        except CompareError:
            raise CompareError(f"--drift: HEAD has fewer than {text} commits before it") from None
    return text


def main(argv: list[str] | None = None) -> int:
    """throughput.py --compare A B | --drift N|REF | --bisect GOOD BAD, with the configuration flags."""
    from wgan_core import VARIANTS
    from wgan_core.models import ARCHITECTURES

    p = argparse.ArgumentParser(prog="throughput.py --compare", description="Sequential interleaved A/B speed comparison of two commits.")
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--compare", nargs=2, metavar=("A", "B"), help="commits or source trees: is B slower than A?")
    what.add_argument("--drift", metavar="N|REF", help="HEAD against HEAD~N or a tag or commit: several small slowdowns add up")
    what.add_argument("--bisect", nargs=2, metavar=("GOOD", "BAD"), help="the first commit slower than GOOD in any configuration")
    p.add_argument("--variants", default="wgan-gp", help="comma-separated variants (default wgan-gp)")
    p.add_argument("--arch", choices=["mlp", "dcgan"], default="mlp")
    p.add_argument("--width", default="128", help="one width or several, comma-separated")
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--resolution", type=int, choices=[28, 32, 64], default=28)
    p.add_argument("--ensemble", type=int, default=0, metavar="S", help="time S seeds trained as one seed ensemble (S >= 2)")
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    p.add_argument("--amp", choices=["none", "bf16"], default="none")
    p.add_argument("--threads", type=int, default=1, help="torch threads per process (pinned to as many CPUs)")
    p.add_argument("--budget", default="48", help="rounds of the sequence in all (default 48; looks at 8, 12, 16, 24, 32, 48, 64) "
                   "or minutes of this command (e.g. 6m)")
    p.add_argument("--steps", type=int, default=20, help="timed steps per side, configuration and round")
    p.add_argument("--chunk", type=int, default=4, help="steps per turn before the other side's turn (A B, B A, ...)")
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--max-slowdown", type=float, default=0.03, help="the slowdown you tolerate (0.03 = 3%%): the verdict is against it")
    p.add_argument("--confidence", type=float, default=0.95, help="1 - the error per side for the whole comparison")
    p.add_argument("--inject-slowdown", type=float, default=0.0, metavar="F",
                   help="calibration only: B's steps get F of a step's time of extra busy work (0.10 = 10%% slower)")
    p.add_argument("--allow-dirty", action="store_true", help="measure with a harness (benchmarks/) that has uncommitted changes")
    p.add_argument("--repo", default=str(ROOT), help="the git repository commits are read from (default this checkout)")
    p.add_argument("--out", default=str(ROOT / "results" / "throughput"), help="folder of compare.csv and compare_blocks.csv")
    p.add_argument("--no-record", action="store_true", help="print the verdicts, write nothing (and resume nothing)")
    a = p.parse_args(argv)

    def error(message: str) -> int:
        print(f"throughput.py: error: {message}", file=sys.stderr)
        return 2

    variants = [v.strip() for v in a.variants.split(",") if v.strip()]
    unknown = [v for v in variants if v not in VARIANTS]
    checks = [
        (not unknown, f"--variants: unknown {', '.join(unknown)}; allowed: {', '.join(VARIANTS)}"),
        (a.steps >= 1 and a.warmup >= 1 and a.chunk >= 1, "--steps, --chunk and --warmup: at least 1"),
        (0 < a.max_slowdown < 1, f"--max-slowdown: a fraction in (0, 1), got {a.max_slowdown}"),
        (0.8 <= a.confidence < 1, f"--confidence: in [0.8, 1), got {a.confidence}"),
        (0 <= a.inject_slowdown < 10, f"--inject-slowdown: a fraction >= 0, got {a.inject_slowdown}"),
        (a.threads >= 1 and a.batch >= 1, "--threads and --batch: at least 1"),
        (a.ensemble == 0 or a.ensemble >= 2, f"--ensemble: at least 2 members (0 = a single run), got {a.ensemble}"),
        (a.arch in ARCHITECTURES, f"--arch: {a.arch} is not registered"),
    ]
    try:
        widths = [int(w) for w in a.width.split(",") if w.strip()]
    except ValueError:
        return error(f"--width: integers, comma-separated, got {a.width!r}")
    checks.append((widths and min(widths) >= 1, f"--width: positive integers, got {a.width!r}"))
    for ok, message in checks:
        if not ok:
            return error(message)
    if a.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            return error("--device cuda: no CUDA device here")
    probe = Probe(a.device, a.threads, a.warmup, a.steps, a.chunk)
    out = None if a.no_record else Path(a.out)
    alpha, repo = 1 - a.confidence, Path(a.repo)
    try:
        budget = Budget.parse(a.budget)
        configs = configurations(variants, a.arch, widths, a.batch, a.resolution, a.amp, a.ensemble)
        host = machine(a.device)["host"]
        if a.bisect:
            good, bad = a.bisect

            def verdict(base: str, head: str) -> str:
                found = run_compare(base, head, configs, probe, budget, a.max_slowdown, alpha, out=out,
                                    allow_dirty=a.allow_dirty, repo=repo, progress=_quiet)
                for c, d in found:
                    print(f"  {head[:7]} against {base[:7]}, {label(c, probe)}: {d.describe()}", flush=True)
                said = {d.verdict for _, d in found}
                return "slower" if "slower" in said else "inconclusive" if "inconclusive" in said else "pass"

            first, undecided = bisect(good, bad, verdict, repo)
            if undecided:
                print(f"undecided: {undecided[:7]} is neither shown slower than {good} nor excluded"
                      + (f"; the first slower commit is at or before {first[:7]}" if first else "")
                      + " (more rounds: --budget; the recorded rounds are resumed)")
                return 3
            print(f"first commit slower than {good}: {first[:7]}" if first else f"{bad} is not slower than {good}: nothing to bisect")
            return 0
        base, head = a.compare if a.compare else (anchor(a.drift, repo), "HEAD")
        decisions = run_compare(base, head, configs, probe, budget, a.max_slowdown, alpha, a.inject_slowdown, out,
                                a.allow_dirty, repo=repo)
    except CompareError as e:
        return error(str(e))
    print(f"\nB = {head} against A = {base} (time B / time A; tolerated slowdown {100 * a.max_slowdown:g}%, "
          f"{100 * a.confidence:g}% per side over {len(configs)} configuration(s)):")
    for c, d in decisions:
        print(f"  {label(c, probe):<36} {d.describe()}")
    print(calibration_note(host))
    if out is not None:
        print(f"recorded in {out / 'compare.csv'} (every process's median in {out / 'compare_blocks.csv'})")
    verdicts = [d.verdict for _, d in decisions]
    worst = max((EXIT[v] for v in verdicts), key=lambda e: (e == 1, e == 3))
    if worst == 3 and all(d.closed or d.detail == "contradictory" for _, d in decisions if d.verdict == "inconclusive"):
        print("inconclusive, and final: every undecided sequence has spent its 64 rounds (or contradicts itself)")
    elif worst == 3:
        given = sys.argv[1:] if argv is None else list(argv)
        rerun = " ".join(x for i, x in enumerate(given) if x != "--budget" and (i == 0 or given[i - 1] != "--budget")
                         and not x.startswith("--budget="))
        print(f"inconclusive: more rounds decide it (the recorded rounds are resumed): python benchmarks/throughput.py {rerun} "
              f"--budget {min(LOOKS[-1], max(2 * max(d.looked for _, d in decisions), LOOKS[0]))}")
    return worst


def _quiet(message: str) -> None:
    print(f"    {message}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
