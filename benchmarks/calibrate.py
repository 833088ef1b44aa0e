"""How often does the speed gate cry wolf, say "inconclusive", or let a slowdown pass? Measured on this machine kind.

    python benchmarks/calibrate.py                      # the plan below, resumable, into results/throughput/calibration/<kind>/
    python benchmarks/calibrate.py --summary            # summary.csv, regressions.csv and resampled.csv from the record files
    python benchmarks/calibrate.py --plan               # the plan, nothing run
    python benchmarks/calibrate.py --device cuda --limit 6   # on a lent GPU: the plan's first 6 comparisons there

Every comparison is `--compare` as users run it (benchmarks/compare.py: its defaults, a budget
of 48 rounds, 3% tolerated, 95% per side), each a sequence of its own, over three kinds of
configuration: the toy MLP at batch 64 and at batch 256 (nsgan and wgan-gp, width 128: two
configurations per comparison, so the false-alarm rate is per comparison) and DCGAN 28 (wgan-gp,
width 32, batch 64). The plan, interleaved so that a partial run is balanced:
- same code: the commit against itself, and against commits that change only README.md, each in
  a fresh worktree of a scratch clone (what differs between two checkouts: paths, file layout);
- power: the commit against itself with a known fraction of busy work injected into B's steps
  (--inject-slowdown 0.03, 0.05, 0.10; the injected share is measured and recorded);
- genuine regressions (benchmarks/regressions.py): a scratch commit that makes a code change
  slowing the step without changing its result, whose size is also measured in one process by
  alternating the two code paths.
Then bisect and drift on the scratch history: five commits of which one holds a regression
(--bisect must name it), and two consecutive commits that each add about 3% of work (--drift 2).

The summary reads the record files only: per plan category, comparisons, per-comparison false
alarms with their Clopper-Pearson 95% bound (scipy), the share inconclusive, power per
configuration, median seconds and rounds. resampled.csv adds a power curve at 3/5/10% from the
same-code rounds resampled with replacement, shifted by the slowdown (an assumption spelled out
there: rounds exchangeable, a slowdown multiplies every round alike).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import random
import re
import shutil
import statistics
import subprocess
import sys
from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
from abtest import judge, looks, walsh_averages  # noqa: E402
from compare import CALIBRATION, Budget, Probe, configurations, machine, run_compare  # noqa: E402
from regressions import REGRESSIONS, apply, measure  # noqa: E402

KINDS = {  # name: (variants, arch, width, batch)
    "mlp-b64": (["nsgan", "wgan-gp"], "mlp", 128, 64),
    "mlp-b256": (["nsgan", "wgan-gp"], "mlp", 128, 256),
    "dcgan-b64": (["wgan-gp"], "dcgan", 32, 64),
}
TARGETS = {"same commit": 20, "docs only": 8, "inject 0.03": 2, "inject 0.05": 3, "inject 0.1": 2,
           "regression fakes-with-a-graph": 1, "regression critic-grads-in-generator-step": 1}
HISTORY_AFTER = 16  # the bisect and drift checks run after this many planned comparisons (a partial run still holds them)
SLOW_WORK_S = 3.7e-4  # the drift check's ~3% step: busy work per Trainer.step, ~3% of the ~12 ms wgan-gp MLP w128 b64 step under --compare here


@dataclass(frozen=True)
class Item:
    """One planned comparison: its index, category, configuration kind and what B is."""

    index: int
    category: str
    kind: str


def plan(targets: dict[str, int] = TARGETS) -> list[Item]:
    """Every category's comparisons spread evenly over the plan (so a partial run is balanced), kinds in rotation."""
    slots = sorted(((k + 0.5) / n, cat, k) for cat, n in targets.items() for k in range(n))
    kinds = list(KINDS)
    out = []
    for i, (_, cat, k) in enumerate(slots):
        kind = "mlp-b64" if cat.startswith("regression") else kinds[k % len(kinds)]
        out.append(Item(i, cat, kind))
    return out


def slug(host: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", host.lower()).strip("-")


def _git(*args: str, cwd: Path) -> str:
    return subprocess.run(["git", "-C", str(cwd), *args], check=True, capture_output=True, text=True).stdout.strip()


def scratch_commit(scratch: Path, base: str, name: str, change) -> Path:
    """A fresh worktree of a new commit on `base` in the scratch clone, made by change(tree); returns the tree."""
    repo = scratch / "repo"
    if not repo.is_dir():
        subprocess.run(["git", "clone", "--quiet", "--no-checkout", str(ROOT), str(repo)], check=True)
    tree = scratch / name
    if tree.is_dir():
        return tree
    _git("fetch", "--quiet", str(ROOT), "HEAD", cwd=repo)  # a clone made for an earlier base lacks a newer one
    _git("worktree", "add", "--quiet", "--detach", str(tree), base, cwd=repo)
    change(tree)
    git = ["-c", "user.name=calibration", "-c", "user.email=calibration@localhost", "-c", "commit.gpgsign=false"]
    _git(*git, "commit", "--quiet", "-am", f"calibration: {name}", cwd=tree)
    return tree


def docs_change(k: int):
    def change(tree: Path) -> None:
        with (tree / "README.md").open("a") as f:
            f.write(f"\n<!-- calibration: a documentation-only change, {k} -->\n")
    return change


def run_plan(out: Path, scratch: Path, commit: str, stop: int | None = None, device: str = "cpu", progress=print) -> None:
    """Run the planned comparisons (up to index `stop`) not yet in OUT/plan.csv (resumable), recording each in OUT's files."""
    planned = plan()
    done = {int(r["index"]) for r in _rows(out / "plan.csv")}
    for r in _rows(out / "plan.csv"):  # a plan changed under recorded comparisons would mislabel them
        if int(r["index"]) >= len(planned) or (planned[int(r["index"])].category, planned[int(r["index"])].kind) != (r["category"], r["kind"]):
            raise SystemExit(f"calibrate.py: error: {out / 'plan.csv'} item {r['index']} is {r['category']} {r['kind']}, "
                             "not what the plan says: another plan; give another --out")
    base = subprocess.run(["git", "-C", str(ROOT), "rev-parse", commit], check=True, capture_output=True, text=True).stdout.strip()
    for item in planned[:stop]:
        if item.index in done:
            continue
        variants, arch, width, batch = KINDS[item.kind]
        configs = configurations(variants, arch, [width], batch, 28, "none")
        inject, head = 0.0, base
        if item.category == "docs only":
            head = str(scratch_commit(scratch, base, f"docs-{item.index}", docs_change(item.index)))
        elif item.category.startswith("inject"):
            inject = float(item.category.split()[1])
        elif item.category.startswith("regression"):
            r = REGRESSIONS[item.category.split()[1]]
            head = str(scratch_commit(scratch, base, f"{r.name}-{item.index}", lambda tree, r=r: apply(r, tree)))
        progress(f"[{item.index + 1}/{len(plan())}] {item.category}, {item.kind}")
        found = run_compare(base, head, configs, Probe(device), Budget(), inject=inject, out=out, resume=False, progress=lambda m: None)
        started = _rows(out / "compare.csv")[-1]["started"]
        progress("  " + "; ".join(f"{c['variant']}: {d.verdict} {d.ratio:.3f} [{d.low:.3f}, {d.high:.3f}] {d.looked} rounds"
                                  for c, d in found))
        _append(out / "plan.csv", [dict(asdict(item), started=started, head=Path(head).name)])


def _rows(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def _append(path: Path, rows: list[dict]) -> None:
    new = not path.exists()
    with path.open("a", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]), lineterminator="\n")
        if new:
            w.writeheader()
        w.writerows(rows)


def _write(path: Path, rows: list[dict]) -> None:
    if rows:
        with path.open("w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0]), lineterminator="\n")
            w.writeheader()
            w.writerows(rows)


def _bound(k: int, n: int) -> tuple[float, float]:
    from scipy.stats import binomtest

    ci = binomtest(k, n).proportion_ci(0.95, method="exact")
    return round(ci.low, 4), round(ci.high, 4)


def summary(out: Path) -> list[dict]:
    """One row per plan category: comparisons, false alarms per comparison (bounded), inconclusive, power, time."""
    records = _rows(out / "compare.csv")
    by_started = defaultdict(list)
    for r in records:
        by_started[r["started"]].append(r)
    blocks = defaultdict(list)
    for b in _rows(out / "compare_blocks.csv"):
        if b["side"] == "B" and b["inject_ms"] not in ("", "0", "0.0"):
            blocks[b["started"]].append(b)
    a_ms = {(b["started"], b["variant"], b["round"]): float(b["median_ms"]) for b in _rows(out / "compare_blocks.csv") if b["side"] == "A"}
    rows = []
    items = _rows(out / "plan.csv")
    for cat in TARGETS:
        mine = [by_started[i["started"]] for i in items if i["category"] == cat and by_started[i["started"]]]
        if not mine:
            continue
        n, decisions = len(mine), [r for c in mine for r in c]
        slower = sum(any(r["verdict"] == "slower" for r in c) for c in mine)
        inconclusive = sum(any(r["verdict"] == "inconclusive" for r in c) for c in mine)
        passed = sum(all(r["verdict"] == "pass" for r in c) for c in mine)
        injected = [float(b["inject_ms"]) / a_ms[(b["started"], b["variant"], b["round"])] for i in items if i["category"] == cat
                    for b in blocks.get(i["started"], []) if (b["started"], b["variant"], b["round"]) in a_ms]
        low, high = _bound(slower, n)
        rows.append(dict(host=records[0]["host"], category=cat, comparisons=n, decisions=len(decisions),
                         comparisons_slower=slower, slower_ci_low=low, slower_ci_high=high,
                         comparisons_inconclusive=inconclusive, inconclusive_share=round(inconclusive / n, 4),
                         comparisons_passed=passed,
                         decisions_slower=sum(r["verdict"] == "slower" for r in decisions),
                         decisions_inconclusive=sum(r["verdict"] == "inconclusive" for r in decisions),
                         decisions_pass=sum(r["verdict"] == "pass" for r in decisions),
                         injected_measured=round(statistics.median(injected), 4) if injected else "",
                         median_ratio=round(statistics.median(float(r["ratio"]) for r in decisions), 4),
                         median_rounds=statistics.median(int(r["looked"]) for r in decisions),
                         median_seconds=statistics.median(float(c[0]["seconds"]) for c in mine),
                         max_seconds=max(float(c[0]["seconds"]) for c in mine)))
    return rows


def sequential_verdict(d: list[float], max_slowdown: float = 0.03, alpha: float = 0.05) -> str:
    """What --compare says of log ratios d read at the looks, stopping at the first decided one (abtest's rule, one pass)."""
    low, high = -math.inf, math.inf
    for look in looks(d, alpha):
        low, high = max(low, look.low), min(high, look.high)
        verdict = judge(math.exp(low), math.exp(high), max_slowdown)[0]
        if verdict != "inconclusive":
            return verdict
    return "inconclusive"


def resampled(out: Path, slowdowns=(0.0, 0.03, 0.04, 0.05, 0.10), trials: int = 400, seed: int = 0) -> list[dict]:
    """The power curve from the same-code rounds: rounds drawn with replacement, B shifted by the slowdown, decided sequentially.

    Per configuration, the pool is every round of the same-code comparisons (log B/A), centred on
    its Hodges-Lehmann estimate (the code is the same, so its true ratio is 1). A
    simulated comparison draws up to 48 rounds from it, adds log(1 + slowdown) to each, and reads
    them at the looks as --compare does (one configuration: alpha 0.05 per side). Assumes the
    rounds are exchangeable and that a slowdown multiplies every round alike; the measured
    injections and regressions in summary.csv check it.
    """
    same = {i["started"] for i in _rows(out / "plan.csv") if i["category"] in ("same commit", "docs only")}
    pool: dict[str, dict[tuple, dict[str, float]]] = defaultdict(dict)
    for b in _rows(out / "compare_blocks.csv"):
        if b["started"] in same:
            kind = f"{b['arch']}-b{b['batch']} {b['variant']}"  # pooled per configuration: their spreads differ
            pool[kind].setdefault((b["started"], b["variant"], b["round"]), {})[b["side"]] = float(b["median_ms"])
    rng, rows = random.Random(seed), []
    for kind, rounds in sorted(pool.items()):
        d = [math.log(r["B"] / r["A"]) for r in rounds.values() if {"A", "B"} <= set(r)]
        if len(d) < 2:
            continue
        centre = statistics.median(walsh_averages(d))  # the Hodges-Lehmann centre: what the signed-rank bounds aim at
        d = [x - centre for x in d]  # same code: the true ratio is 1, so the pool's own centre is noise, not a slowdown
        for s in slowdowns:
            said = defaultdict(int)
            for _ in range(trials):
                said[sequential_verdict([x + math.log(1 + s) for x in rng.choices(d, k=48)])] += 1
            rows.append(dict(kind=kind, pooled_rounds=len(d), pool_centre=round(math.exp(centre), 4),
                             round_sd=round(statistics.stdev(d), 4), slowdown=s, trials=trials,
                             slower=round(said["slower"] / trials, 3), inconclusive=round(said["inconclusive"] / trials, 3),
                             passed=round(said["pass"] / trials, 3)))
    return rows


def regressions_and_history(out: Path, scratch: Path, commit: str, progress=print) -> None:
    """The regressions' in-process sizes (regressions.csv), then --bisect among 5 commits and --drift over two ~3% steps."""
    if not (out / "regressions.csv").exists():
        _write(out / "regressions.csv", [measure(r, v) for r in REGRESSIONS.values() for v in ("nsgan", "wgan-gp")])
    if (out / "history_checks.csv").exists():
        return
    base = subprocess.run(["git", "-C", str(ROOT), "rev-parse", commit], check=True, capture_output=True, text=True).stdout.strip()
    repo = scratch / "history"
    if repo.is_dir():  # an earlier, interrupted try: start the scratch history again
        shutil.rmtree(repo)
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(repo)], check=True)
    _git("checkout", "--quiet", "-B", "history", base, cwd=repo)
    git = ["-c", "user.name=calibration", "-c", "user.email=calibration@localhost", "-c", "commit.gpgsign=false"]

    def commit_(message: str, change) -> str:
        change(repo)
        _git(*git, "commit", "--quiet", "-am", message, cwd=repo)
        return _git("rev-parse", "HEAD", cwd=repo)

    regression = REGRESSIONS["fakes-with-a-graph"]
    shas = [commit_("docs 1", docs_change(1)), commit_("docs 2", docs_change(2)),
            commit_("regression", lambda t: apply(regression, t)), commit_("docs 4", docs_change(4)), commit_("docs 5", docs_change(5))]
    slow = "        stepper = Stepper([self])"  # the run-alone step in Trainer.step: the busy work goes before it

    def work(k: int):
        def change(tree: Path) -> None:
            path = tree / "wgan_core" / "training" / "trainer.py"
            text = path.read_text()
            busy = (f"        _until = __import__('time').perf_counter() + {SLOW_WORK_S}  # calibration: ~3% more work, step {k}\n"
                    "        while __import__('time').perf_counter() < _until:\n            pass\n")
            if text.count(slow) != 1:
                raise SystemExit(f"calibrate: {path} holds {text.count(slow)} copies of {slow.strip()!r}, need exactly 1")
            path.write_text(text.replace(slow, busy + slow, 1))
        return change

    drift = [commit_("work 1", work(1)), commit_("work 2", work(2))]
    rows = []
    configs = configurations(["wgan-gp"], "mlp", [128], 64, 28, "none")
    cmd = [sys.executable, str(ROOT / "benchmarks" / "throughput.py")]
    common = ["--variants", "wgan-gp", "--arch", "mlp", "--width", "128", "--batch", "64", "--repo", str(repo), "--out",
              str(out / "history")]
    for name, args, expect in (
        ("bisect among 5", ["--bisect", base, shas[-1]], shas[2][:7]),
        ("drift over two ~3% steps", ["--drift", "2"], "slower"),
        ("first ~3% step alone", ["--compare", shas[-1], drift[0], "--budget", "24"], ""),
        ("second ~3% step alone", ["--compare", drift[0], drift[1], "--budget", "24"], ""),
    ):
        progress(f"{name}: {' '.join(args)}")
        done = subprocess.run([*cmd, *args, *common], capture_output=True, text=True, cwd=ROOT)
        said = [ln for ln in done.stdout.splitlines() if ln.startswith(("first commit", "  ")) and ("slower" in ln or "pass" in ln
                                                                                                    or "inconclusive" in ln)]
        rows.append(dict(check=name, command="python benchmarks/throughput.py " + " ".join(args + common[:-4]), exit=done.returncode,
                         expected=expect, said=" | ".join(s.strip() for s in said)[-600:]))  # history_summary.csv: the last
        progress(f"  exit {done.returncode}: {rows[-1]['said'][:300]}")
    _write(out / "history_checks.csv", rows)
    del configs


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="", help="record folder (default results/throughput/calibration/<this machine kind>)")
    p.add_argument("--commit", default="HEAD", help="the commit compared with itself and changed by the scratch commits")
    p.add_argument("--scratch", default=str(Path.home() / "wgan-speed" / "scratch"), help="scratch clones and worktrees")
    p.add_argument("--summary", action="store_true", help="write the summaries from OUT's files; run nothing")
    p.add_argument("--plan", action="store_true", help="print the plan; run nothing")
    p.add_argument("--skip-history", action="store_true", help="no regressions.csv, --bisect or --drift checks")
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu",
                   help="cuda: the GPU's calibration (the plan's comparisons on the GPU; no history checks)")
    p.add_argument("--limit", type=int, default=0, help="run at most the plan's first N comparisons (0: all; a GPU lease)")
    a = p.parse_args(argv)
    if a.plan:
        for item in plan():
            print(json.dumps(asdict(item)))
        return 0
    host = machine(a.device)["host"]
    out = Path(a.out) if a.out else CALIBRATION / slug(host)
    out.mkdir(parents=True, exist_ok=True)
    scratch = Path(a.scratch)
    scratch.mkdir(parents=True, exist_ok=True)
    if not a.summary:
        limit = a.limit or None
        run_plan(out, scratch, a.commit, stop=min(HISTORY_AFTER, limit or HISTORY_AFTER), device=a.device)
        if not a.skip_history and a.device == "cpu":
            regressions_and_history(out, scratch, a.commit)
        run_plan(out, scratch, a.commit, stop=limit, device=a.device)
    _write(out / "summary.csv", summary(out))
    _write(out / "resampled.csv", resampled(out))
    _write(out / "history_summary.csv", [dict(check=r["check"], exit=r["exit"], expected=r["expected"],
                                              said=r["said"].split(" | ")[-1].strip())  # the command's last verdict line
                                         for r in _rows(out / "history_checks.csv")])
    print((out / "summary.csv").read_text() if (out / "summary.csv").exists() else "nothing recorded yet")
    return 0


if __name__ == "__main__":
    sys.exit(main())
