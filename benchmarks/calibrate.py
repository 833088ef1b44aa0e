"""How often does `--compare` cry wolf, and how often does it catch a real slowdown? Measured, on this machine.

    python benchmarks/calibrate.py --out ~/wgan-calibration --aa 10 --power 0.05:5,0.10:5
    python benchmarks/calibrate.py --out results/throughput/calibration/turns --summary

False alarms: A/A comparisons, the same commit against itself (--aa N comparisons), each
deciding every configuration (the five objectives x toy MLP widths 32 and 128, batch 256, one
pinned thread): the share of configurations called `slower` is the false-alarm rate (and
`faster`, the same error the other way, is counted beside it). Power:
the same commit against itself with --inject-slowdown F on B (a known F of extra work per
step, benchmarks/probe.py): the share called `slower` at each F, beside the slowdown actually
injected (`injected_measured`: the busy work per step over A's median step, the median over
rounds; the harness records it, so F is checked, not assumed). Every comparison uses the
defaults of --compare (10 rounds, 20 timed steps per side in turns of 4 after 5 warm-up,
threshold 3%, 95%), so the rates are those of the command as users run it.

Resumable: comparisons already in OUT/compare.csv count; only the missing ones run. The
summary (OUT/summary.csv, OUT/old_rule.csv) reads OUT's CSVs only: rates with Clopper-Pearson
95% intervals (scipy), and beside them the rule the history check used before, one row per
commit against a 10% threshold, applied to each single round of the A/A data of the first (process-level) design.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
from abtest import VERDICTS, verdict  # noqa: E402
from compare import Probe, configurations, run_compare  # noqa: E402

VARIANTS = ["gan", "nsgan", "wgan-clip", "wgan-gp", "wgan-lp"]
WIDTHS = [32, 128]


def _rows(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def comparisons_done(out: Path) -> dict[float, int]:
    """Comparisons recorded per injected fraction (a comparison: one date, one row per configuration)."""
    done: dict[float, set[str]] = defaultdict(set)
    for r in _rows(out / "compare.csv"):
        done[float(r["inject"])].add(r["date"])
    return {k: len(v) for k, v in done.items()}


def summary(out: Path) -> tuple[list[dict], dict]:
    """The calibration from OUT/compare.csv and OUT/compare_blocks.csv: one row per injected fraction, and the old rule.

    Rates come with exact (Clopper-Pearson) 95% intervals. The old rule is applied to each
    single round of the A/A comparisons: B's median over A's, flagged above 1.10.
    """
    from scipy.stats import binomtest

    by_inject: dict[float, list[dict[str, str]]] = defaultdict(list)
    for r in _rows(out / "compare.csv"):
        by_inject[float(r["inject"])].append(r)
    # What was injected, measured: each round's busy work per B step over A's median step, per comparison and configuration.
    per_round: dict[tuple[str, str, str], dict[str, float]] = defaultdict(dict)
    for b in _rows(out / "compare_blocks.csv"):
        key = (b["date"], b["variant"] + " " + b["width"], b["round"])
        per_round[key][b["side"]] = float(b["median_ms"])
        if b["side"] == "B":
            per_round[key]["inject_ms"] = float(b.get("inject_ms") or 0.0)
    injected: dict[str, list[float]] = defaultdict(list)
    for (date, _, _), v in per_round.items():
        if "A" in v and "inject_ms" in v:
            injected[date].append(v["inject_ms"] / v["A"])
    rows = []
    for inject in sorted(by_inject):
        rs = by_inject[inject]
        n = len(rs)
        # verdicts from each interval by today's rule (abtest.verdict), whatever the harness that ran wrote
        said = [verdict(float(r["ci_low"]), float(r["ci_high"]), float(r["threshold"])) for r in rs]
        count = {v: said.count(v) for v in VERDICTS}
        ci = binomtest(count["slower"], n).proportion_ci(0.95, method="exact")
        measured = [x for d in {r["date"] for r in rs} for x in injected.get(d, [])]
        rows.append(dict(injected_slowdown=inject, injected_measured=round(statistics.median(measured), 4) if measured else "",
                         comparisons=len({r["date"] for r in rs}), decisions=n, slower=count["slower"],
                         slower_share=round(count["slower"] / n, 4), slower_ci_low=round(ci.low, 4), slower_ci_high=round(ci.high, 4),
                         no_change=count["no change"], not_slower=count["not slower"], undecided=count["undecided"],
                         faster=count["faster"],
                         median_ratio=round(statistics.median(float(r["ratio"]) for r in rs), 4),
                         median_interval_high_over_low=round(statistics.median(float(r["ci_high"]) / float(r["ci_low"]) for r in rs), 4)))
    pairs: dict[tuple[str, str, str], dict[str, float]] = defaultdict(dict)
    for b in _rows(out / "compare_blocks.csv"):
        pairs[(b["date"], b["variant"] + b["width"], b["round"])][b["side"]] = float(b["median_ms"])
    # The old rule read one process per commit, run at its own time: only the first design's rounds are that (no turns).
    aa_dates = {r["date"] for r in by_inject.get(0.0, []) if not r.get("chunk")}
    ratios = sorted(p["B"] / p["A"] for (date, _, _), p in pairs.items() if date in aa_dates and {"A", "B"} <= set(p))
    old = {}
    if ratios:
        flagged = sum(r > 1.10 for r in ratios)
        ci = binomtest(flagged, len(ratios)).proportion_ci(0.95, method="exact")
        old = dict(rule="one row per commit, flagged above +10%", single_round_ratios=len(ratios), flagged=flagged,
                   flagged_share=round(flagged / len(ratios), 4), ci_low=round(ci.low, 4), ci_high=round(ci.high, 4),
                   ratio_p5=round(ratios[len(ratios) // 20], 4), ratio_p95=round(ratios[-1 - len(ratios) // 20], 4),
                   ratio_min=round(ratios[0], 4), ratio_max=round(ratios[-1], 4))
    return rows, old


def write_summary(out: Path) -> list[Path]:
    """OUT/summary.csv (the rates) and OUT/old_rule.csv, which results/throughput/README.md quotes."""
    rows, old = summary(out)
    written = []
    for name, table in (("summary.csv", rows), ("old_rule.csv", [old] if old else [])):
        if table:
            with (out / name).open("w", newline="") as f:
                w = csv.DictWriter(f, fieldnames=list(table[0]), lineterminator="\n")
                w.writeheader()
                w.writerows(table)
            written.append(out / name)
    return written


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True, help="folder of the calibration's compare.csv and compare_blocks.csv")
    p.add_argument("--commit", default="HEAD", help="the commit compared with itself")
    p.add_argument("--aa", type=int, default=10, help="A/A comparisons")
    p.add_argument("--power", default="0.05:5,0.10:5", help="F:N,... N comparisons with F injected into B")
    p.add_argument("--summary", action="store_true", help="write OUT/summary.csv and OUT/old_rule.csv from OUT's files; run nothing")
    a = p.parse_args(argv)
    out = Path(a.out)
    if a.summary:
        for path in write_summary(out):
            print(path.read_text())
        return 0
    plan = [(0.0, a.aa)] + [(float(f), int(n)) for f, n in (x.split(":") for x in a.power.split(",") if x)]
    probe = Probe()  # the defaults of --compare: cpu, 1 thread, 5 warm-up, 20 timed steps in turns of 4
    configs = configurations(VARIANTS, "mlp", WIDTHS, 256, 28, "none")
    for inject, wanted in plan:
        while comparisons_done(out).get(inject, 0) < wanted:
            k = comparisons_done(out).get(inject, 0) + 1
            print(f"inject {inject:g}: comparison {k} of {wanted}", flush=True)
            found = run_compare(a.commit, a.commit, configs, probe, rounds=10, threshold=0.03, inject=inject, out=out,
                                progress=lambda m: None)
            print("  " + ", ".join(f"{c['variant']} w{c['width']}: {d.verdict} {d.ratio:.3f}" for c, d in found), flush=True)
    write_summary(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
