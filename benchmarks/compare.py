"""Is commit B slower than commit A? An interleaved comparison, decided per configuration (benchmarks/abtest.py).

    python benchmarks/throughput.py --compare A B --variants wgan-gp --arch mlp --width 32,128 --threads 1
    python benchmarks/throughput.py --compare HEAD .          # the working tree against its commit
    python benchmarks/throughput.py --bisect GOOD BAD wgan-gp --arch mlp --width 128
    nox -s benchmark -- --compare A B ...                     # the same

A and B are commits (checked out once into git worktrees under ~/.cache/wgan-suite/worktrees)
or source trees (a folder holding wgan_core/, e.g. `.`; what a machine without .git compares).
Each is timed by the same harness, benchmarks/probe.py of this checkout. R rounds; in each, a
fresh process per side, both pinned to the same CPUs with the same torch threads, builds and
warms up every configuration; then the two take turns of --chunk steps (A B, B A, ...) until
each has --steps timed steps of a configuration, and each side's median is the round's figure
(benchmarks/abtest.py decides from them). A side that cannot build or step a configuration
stops the comparison in round 0 with a one-line error (exit 2), nothing recorded.

Written under --out (default results/throughput/): compare.csv, one row per configuration and
comparison (verdict, ratio B/A with its interval, p, the settings), and compare_blocks.csv, the
median of every process (the data the verdict came from). --check-history reads compare.csv:
a history flag is settled by the comparison of its two commits. Exit 1 when a configuration is
`slower`, 2 on bad input, else 0. --bisect finds the first commit on GOOD..BAD slower than GOOD.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import os
import statistics
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
from abtest import Decision, decide, signed_rank_null, turn_orders  # noqa: E402
from history import CONFIG, append_rows, check_columns, config_label  # noqa: E402

WORKTREES = Path(os.environ.get("WGAN_WORKTREES", Path.home() / ".cache" / "wgan-suite" / "worktrees"))
RECORD = ["date", "device", "device_name", *CONFIG, "base", "head", "verdict", "ratio", "ci_low", "ci_high", "coverage",
          "p_value", "threshold", "rounds", "steps", "chunk", "warmup", "inject", "base_ms", "head_ms", "harness"]
BLOCK = ["date", "device_name", *CONFIG, "base", "head", "round", "side", "commit", "median_ms", "min_ms", "max_ms", "steps",
         "inject_ms"]


class CompareError(Exception):
    """Bad input or a side that cannot run a configuration: one line, exit 2, nothing recorded."""


@dataclass(frozen=True)
class Side:
    """A or B: the name it is recorded under (a short commit, `+dirty` for a changed tree) and the tree that is timed."""

    name: str
    tree: Path


def _git(*args: str, cwd: Path = ROOT) -> str:
    try:
        out = subprocess.run(["git", "-C", str(cwd), *args], capture_output=True, text=True)
    except OSError:
        raise CompareError("git is not available here: give source trees instead of commits") from None
    if out.returncode:
        raise CompareError(out.stderr.strip().splitlines()[-1] if out.stderr.strip() else f"git {' '.join(args)} failed")
    return out.stdout.strip()


def resolve(ref: str, repo: Path = ROOT) -> Side:
    """A commit (checked out into a cached worktree) or a folder holding wgan_core/ (timed as it is)."""
    folder = Path(ref)
    if folder.is_dir() and folder.resolve() == ROOT and os.environ.get("WGAN_GIT_COMMIT"):  # gpu.py's --commit: a copy's .git may lie
        return Side(os.environ["WGAN_GIT_COMMIT"], ROOT)
    if folder.is_dir():
        if not (folder / "wgan_core" / "__init__.py").is_file():
            raise CompareError(f"--compare: {ref} is a folder without wgan_core/; give a commit or a source tree")
        try:
            if Path(_git("rev-parse", "--show-toplevel", cwd=folder)).resolve() != folder.resolve():
                raise CompareError("a folder inside another checkout: not that checkout's commit")
            name = _git("rev-parse", "--short=7", "HEAD", cwd=folder)
            dirty = subprocess.run(["git", "-C", str(folder), "diff", "--quiet", "HEAD", "--", "wgan_core"]).returncode == 1
            name += "+dirty" if dirty else ""
        except (CompareError, OSError):  # not a checkout of its own: named by its folder
            name = folder.resolve().name
        return Side(name, folder.resolve())
    try:
        sha = _git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", cwd=repo)
    except CompareError:
        raise CompareError(f"--compare: unknown commit {ref!r} (not in {repo}'s git history, and no such folder)") from None
    tree = WORKTREES / sha[:12]
    if not (tree / "wgan_core" / "__init__.py").is_file():
        tree.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["git", "-C", str(repo), "worktree", "prune"], capture_output=True)
        _git("worktree", "add", "--detach", "--force", str(tree), sha, cwd=repo)
        if not (tree / "wgan_core" / "__init__.py").is_file():
            raise CompareError(f"--compare: commit {ref} has no wgan_core/ to time")
    return Side(sha[:7], tree)


def configurations(variants: list[str], arch: str, widths: list[int], batch: int, resolution: int, amp: str) -> list[dict]:
    """The probe's configurations (variants x widths) with the row fields their history label needs."""
    from wgan_core import RunConfig

    out = []
    for variant, width in itertools.product(variants, widths):
        res = resolution if arch == "dcgan" else 0
        dataset = "8gaussians" if arch == "mlp" else "fashion-mnist"
        n_critic = RunConfig.preset(variant, dataset).n_critic
        out.append(dict(variant=variant, arch=arch, width=width, batch=batch, resolution=res, amp=amp, n_critic=n_critic))
    return out


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
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            stream.close()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def label(c: dict, probe: Probe) -> str:
    return config_label(row_fields(c, probe))


def row_fields(c: dict, probe: Probe) -> dict:
    """The CONFIG columns of a configuration, as a throughput row names them."""
    dtype = "bf16" if c.get("amp") == "bf16" else "fp32"
    return dict(variant=c["variant"], arch=c["arch"], resolution=c["resolution"], width=c["width"], batch=c["batch"],
                n_critic=c["n_critic"], dtype=dtype, channels_last=False, compile=False, threads=probe.threads)


def machine(device: str) -> dict[str, str]:
    from wgan_core.env import cpu_model

    if device == "cuda":
        import torch

        return {"device": "cuda", "device_name": torch.cuda.get_device_name()}
    return {"device": "cpu", "device_name": cpu_model()}


def interleave(a: Side, b: Side, configs: list[dict], probe: Probe, rounds: int, inject: float = 0.0,
               progress=print) -> dict[str, list]:
    """Run the schedule: per round a fresh process per side, taking turns of `chunk` steps (abtest.turns).

    Returns {'A': medians, 'B': medians, 'blocks': rows}, medians[c][r] = configuration c's median
    over that side's timed steps in round r. Round 0's processes building every configuration is
    the check that both sides can run them: a CompareError before any time is recorded.
    """
    medians: dict[str, list] = {"A": [[0.0] * rounds for _ in configs], "B": [[0.0] * rounds for _ in configs], "blocks": []}
    turns = -(-probe.steps // probe.chunk)
    for r in range(rounds):
        live = {"A": Measuring(probe, a, configs), "B": Measuring(probe, b, configs, inject)}
        try:
            for m in live.values():
                m.ready()
            for i in range(len(configs)):
                ms: dict[str, list[float]] = {"A": [], "B": []}
                for t, order in enumerate(turn_orders(r, turns)):
                    k = min(probe.chunk, probe.steps - t * probe.chunk)
                    for which in order:
                        ms[which] += live[which].steps(i, k)
                for which, side in (("A", a), ("B", b)):
                    med = statistics.median(ms[which])
                    medians[which][i][r] = med
                    medians["blocks"].append(dict(round=r, side=which, commit=side.name, config=i, median_ms=round(med, 4),
                                                  min_ms=round(min(ms[which]), 4), max_ms=round(max(ms[which]), 4),
                                                  steps=len(ms[which]), inject_ms=live[which].inject_ms))
        finally:
            for m in live.values():
                m.close()
        progress(f"round {r + 1}/{rounds}: A ({a.name}) " + ", ".join(f"{medians['A'][i][r]:.2f}" for i in range(len(configs)))
                 + f" ms; B ({b.name}) " + ", ".join(f"{medians['B'][i][r]:.2f}" for i in range(len(configs))) + " ms")
    return medians


def run_compare(a_ref: str, b_ref: str, configs: list[dict], probe: Probe, rounds: int, threshold: float,
                confidence: float = 0.95, inject: float = 0.0, out: Path | None = None,
                progress=print) -> list[tuple[dict, Decision]]:
    """Resolve, interleave, decide, record (when out is given); returns (configuration, decision) pairs."""
    a, b = resolve(a_ref), resolve(b_ref)
    if out is not None:  # a record file of another shape is refused before anything is timed
        try:
            check_columns(out / "compare.csv", RECORD)
            check_columns(out / "compare_blocks.csv", BLOCK)
        except ValueError as e:
            raise CompareError(str(e)) from None
    data = interleave(a, b, configs, probe, rounds, inject, progress)
    decisions = [(c, decide(data["A"][i], data["B"][i], threshold, confidence)) for i, c in enumerate(configs)]
    if out is not None:
        now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        where = machine(probe.device)
        harness = resolve_name(ROOT)
        records = [dict(date=now, **where, **row_fields(c, probe), base=a.name, head=b.name, verdict=d.verdict,
                        ratio=f"{d.ratio:.4f}", ci_low=f"{d.low:.4f}", ci_high=f"{d.high:.4f}", coverage=f"{d.coverage:.4f}",
                        p_value=f"{d.p_value:.4g}", threshold=threshold, rounds=rounds, steps=probe.steps, chunk=probe.chunk, warmup=probe.warmup,
                        inject=inject, base_ms=f"{statistics.median(data['A'][i]):.4f}",
                        head_ms=f"{statistics.median(data['B'][i]):.4f}", harness=harness)
                   for i, (c, d) in enumerate(decisions)]
        blocks = [dict(date=now, device_name=where["device_name"], **row_fields(configs[blk["config"]], probe), base=a.name,
                       head=b.name, **{k: v for k, v in blk.items() if k != "config"}) for blk in data["blocks"]]
        append_rows(out / "compare.csv", records, RECORD)
        append_rows(out / "compare_blocks.csv", blocks, BLOCK)
    return decisions


def resolve_name(tree: Path) -> str:
    try:
        return resolve(str(tree)).name
    except CompareError:
        return "unknown"


def bisect(good: str, bad: str, run, repo: Path = ROOT, progress=print) -> str | None:
    """The first commit on the first-parent path GOOD..BAD that `run(GOOD, commit)` calls slower; None if BAD is not.

    Each step compares with GOOD itself (a slowdown built up over several commits is still found).
    """
    path = _git("rev-list", "--first-parent", "--reverse", f"{good}..{bad}", cwd=repo).split()
    if not path:
        raise CompareError(f"--bisect: {bad} is not a descendant of {good}")
    if not run(good, path[-1]):
        return None
    lo, hi = -1, len(path) - 1  # path[lo] (or GOOD) is not slower; path[hi] is
    while hi - lo > 1:
        mid = (lo + hi) // 2
        progress(f"bisect: {hi - lo - 1} commit(s) left; trying {path[mid][:7]}")
        if run(good, path[mid]):
            hi = mid
        else:
            lo = mid
    return path[hi]


def main(argv: list[str] | None = None) -> int:
    """throughput.py --compare A B | --bisect GOOD BAD VARIANT, with the configuration flags."""
    from wgan_core import VARIANTS
    from wgan_core.models import ARCHITECTURES

    p = argparse.ArgumentParser(prog="throughput.py --compare", description="Interleaved A/B speed comparison of two commits.")
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--compare", nargs=2, metavar=("A", "B"), help="commits or source trees: is B slower than A?")
    what.add_argument("--bisect", nargs=3, metavar=("GOOD", "BAD", "VARIANT"), help="the first commit slower than GOOD")
    p.add_argument("--variants", default="wgan-gp", help="comma-separated variants (default wgan-gp)")
    p.add_argument("--arch", choices=["mlp", "dcgan"], default="mlp")
    p.add_argument("--width", default="128", help="one width or several, comma-separated")
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--resolution", type=int, choices=[28, 32, 64], default=28)
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    p.add_argument("--amp", choices=["none", "bf16"], default="none")
    p.add_argument("--threads", type=int, default=1, help="torch threads per process (pinned to as many CPUs)")
    p.add_argument("--rounds", type=int, default=10, help="rounds of one A and one B process (ABBA order)")
    p.add_argument("--steps", type=int, default=20, help="timed steps per side, configuration and round")
    p.add_argument("--chunk", type=int, default=4, help="steps per turn before the other side's turn")
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--threshold", type=float, default=0.03, help="the smallest change called slower or faster (0.03 = 3%%)")
    p.add_argument("--confidence", type=float, default=0.95)
    p.add_argument("--inject-slowdown", type=float, default=0.0, metavar="F",
                   help="calibration only: B's steps get F of a step's time of extra busy work (0.10 = 10%% slower)")
    p.add_argument("--out", default=str(ROOT / "results" / "throughput"), help="folder of compare.csv and compare_blocks.csv")
    p.add_argument("--no-record", action="store_true", help="print the verdicts, write nothing")
    a = p.parse_args(argv)

    def error(message: str) -> int:
        print(f"throughput.py: error: {message}", file=sys.stderr)
        return 2

    variants = [a.bisect[2]] if a.bisect else [v.strip() for v in a.variants.split(",") if v.strip()]
    unknown = [v for v in variants if v not in VARIANTS]
    checks = [
        (not unknown, f"--variants: unknown {', '.join(unknown)}; allowed: {', '.join(VARIANTS)}"),
        (a.rounds >= 2 and signed_rank_null(a.rounds)[0] <= (1 - a.confidence) / 2,
         f"--rounds: too few for a bounded {100 * a.confidence:g}% interval (6 for 95%, 8 for 99%), got {a.rounds}"),
        (a.steps >= 1 and a.warmup >= 1 and a.chunk >= 1, "--steps, --chunk and --warmup: at least 1"),
        (0 < a.threshold < 1, f"--threshold: a fraction in (0, 1), got {a.threshold}"),
        (0.5 <= a.confidence < 1, f"--confidence: in [0.5, 1), got {a.confidence}"),
        (0 <= a.inject_slowdown < 10, f"--inject-slowdown: a fraction >= 0, got {a.inject_slowdown}"),
        (a.threads >= 1 and a.batch >= 1, "--threads and --batch: at least 1"),
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
    try:
        configs = configurations(variants, a.arch, widths, a.batch, a.resolution, a.amp)
        if a.bisect:
            good, bad, _ = a.bisect

            def slower(base: str, head: str) -> bool:
                found = run_compare(base, head, configs, probe, a.rounds, a.threshold, a.confidence, out=out, progress=_quiet)
                print(f"  {head[:7]} against {base[:7]}: {found[0][1].describe()}", flush=True)
                return found[0][1].verdict == "slower"

            first = bisect(good, bad, slower)
            print(f"first commit slower than {good}: {first[:7]}" if first else f"{bad} is not slower than {good}: nothing to bisect")
            return 0
        decisions = run_compare(*a.compare, configs, probe, a.rounds, a.threshold, a.confidence, a.inject_slowdown, out)
    except CompareError as e:
        return error(str(e))
    print(f"\nB = {a.compare[1]} against A = {a.compare[0]} (time B / time A; threshold {100 * a.threshold:g}%):")
    for c, d in decisions:
        print(f"  {label(c, probe):<36} {d.describe()}")
    if out is not None:
        print(f"recorded in {out / 'compare.csv'} (every process's median in {out / 'compare_blocks.csv'})")
    return 1 if any(d.verdict == "slower" for _, d in decisions) else 0


def _quiet(message: str) -> None:
    print(f"    {message}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
