"""How often do the report's intervals hold the truth, and how often do its paired tests cry wolf? Simulated studies, not assumptions.

Every interval kind the reports print is computed by the report's own functions
(wgan_core.report.stats) on `--studies` simulated cells of n seeds drawn from a known population,
and the share of intervals that hold the population's value is recorded:

  * mean:   the mean of the runs that did not fail, its range (n <= 5) or 95% BCa bootstrap (n >= 6)
  * median, iqm: of the costs (failures +inf), 95% percentile bootstrap
  * p_improvement: P(X beats Y) of two populations, 95% percentile bootstrap over both cells' runs
  * budget m=M: the search's band of the expected best of M settings from K = 16 (report.budget), on the
    populations without failures

The populations are shaped like the committed runs: `w1` is log-normal with the seed-to-seed spread
of log W1 pooled within the cells of results/zoo-toy (fitted at start-up, printed); `lognormal-heavy`
has sigma 1 (a run now and then several times worse than the rest); `w1+failures`
adds a 20% failure rate (+inf); `counts` are Poisson(0.6) integers (many ties, as the strict mode
counts of results/pacgan-2d: 0, 0, 1); `t3` has heavy tails on both sides; `normal` is the textbook case.

The paired tests: families of 4 cells against one baseline on n matched seeds (a seed effect shared
by all cells, which every paired difference cancels as matching intends, plus each run's own noise), every cell drawn like the baseline (the null): the share of
families with any Holm-adjusted p < 0.05 (family-wise false positives) and of single tests with
p < 0.05; and for the equivalence test, with every cell shifted by exactly the margin (the null of
TOST), the share of families declaring any equivalence. The level of one test is measured on 10 x --studies
independent pairs of cells (the four tests of a family share a baseline, so they are not independent trials).

    python benchmarks/coverage.py --studies 1000 --out results/coverage

Writes coverage.csv (population, n, interval, studies, covered, coverage, 95% Clopper-Pearson bounds of
the coverage itself, median width) and tests.csv (population, n, test, families, rejections, rate, bounds).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import binomtest, trim_mean

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from wgan_core.report.budget import BAND_RESAMPLES, budget_band  # noqa: E402
from wgan_core.report.stats import holm, interval, median_iqm, probability_of_improvement, signed_rank, tost  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
NS = (3, 5, 8, 10, 20)  # 3: the toy and image studies; 8: the earlier Stacked MNIST; 10: stage 2 of the search
FAMILY = 4  # cells tested against one baseline in a simulated family
FAIL = 0.2
SINGLE = 10  # independent single tests per simulated family, for the level of one test
POP_DRAWS = 2_000_000  # draws that fix a population's true median, IQM and P(X beats Y)


def w1_log_sd() -> float:
    """The seed-to-seed sd of log W1 pooled within the cells of the committed zoo-toy study (what `w1` is shaped like)."""
    runs = pd.read_csv(ROOT / "results/zoo-toy/report/runs.csv")
    runs = runs[(runs["status"] == "ok") & np.isfinite(runs["w1"]) & (runs["w1"] > 0)]
    logs = np.log(runs["w1"])
    centred = logs - logs.groupby([runs["dataset"], runs["cell"]]).transform("mean")
    dof = len(runs) - runs.groupby(["dataset", "cell"]).ngroups
    return float(np.sqrt((centred**2).sum() / dof))


def populations(sigma: float) -> dict[str, callable]:
    """name -> draw(rng, size): costs (lower is better; +inf = failed)."""

    def w1(rng, size):
        return np.exp(rng.normal(0.0, sigma, size))

    def w1_fail(rng, size):
        x = w1(rng, size)
        return np.where(rng.random(size) < FAIL, np.inf, x)

    return {
        "normal": lambda rng, size: rng.normal(0.0, 1.0, size),
        "t3": lambda rng, size: rng.standard_t(3, size),
        "w1": w1,
        "lognormal-heavy": lambda rng, size: np.exp(rng.normal(0.0, 1.0, size)),  # a one-off blow-up now and then
        "w1+failures": w1_fail,
        "counts": lambda rng, size: rng.poisson(0.6, size).astype(float),
    }


def truth(draw, rng) -> dict[str, float]:
    x = np.sort(draw(rng, POP_DRAWS))
    ok = x[np.isfinite(x)]
    return {"mean": float(ok.mean()), "median": float(np.median(x)), "iqm": float(trim_mean(x, 0.25)) if np.isfinite(x[int(0.75 * len(x))]) else math.inf}


def poi_truth(draw, shift: float, rng) -> float:
    x, y = draw(rng, POP_DRAWS) + shift, draw(rng, POP_DRAWS)
    return float(np.mean(x < y) + 0.5 * np.mean(x == y))


def _holds(lo: float, hi: float, v: float) -> bool:
    return (lo <= v <= hi) if math.isfinite(v) else hi == v  # a failed truth (+inf) is held by an interval reaching it


def coverage_rows(name: str, draw, n: int, studies: int, seed: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    t = truth(draw, rng)
    shift = 0.25 if name != "counts" else 1.0  # X better than Y by a quarter (a count of one): P(X beats Y) well inside (0, 1)
    p_true = poi_truth(draw, -shift, rng)
    hits: dict[str, list[bool]] = {k: [] for k in ("mean", "median", "iqm", "p_improvement")}
    widths: dict[str, list[float]] = {k: [] for k in hits}
    kinds = set()
    for s in range(studies):
        x = draw(rng, n)
        ok = x[np.isfinite(x)]
        if len(ok) >= 2:
            lo, hi, kind = interval(ok)
            kinds.add(kind)
            hits["mean"].append(_holds(lo, hi, t["mean"]))
            widths["mean"].append(hi - lo)
        agg = median_iqm(x, seed=s)
        for k in ("median", "iqm"):
            hits[k].append(_holds(agg[f"{k}_lo"], agg[f"{k}_hi"], t[k]))
            widths[k].append(agg[f"{k}_hi"] - agg[f"{k}_lo"])
        p, lo, hi = probability_of_improvement(draw(rng, n) - shift, draw(rng, n), seed=s)
        hits["p_improvement"].append(_holds(lo, hi, p_true))
        widths["p_improvement"].append(hi - lo)
    rows = []
    for k, h in hits.items():
        c = int(np.sum(h))
        ci = binomtest(c, len(h)).proportion_ci(0.95) if h else None
        label = {"mean": " / ".join(sorted(kinds)), "p_improvement": "95% percentile bootstrap"}.get(k, "95% percentile bootstrap")
        w = np.asarray(widths[k], float)
        rows.append({
            "population": name, "n": n, "interval": k, "method": label, "studies": len(h), "covered": c,
            "coverage": c / len(h) if h else math.nan, "coverage_lo": ci.low if ci else math.nan, "coverage_hi": ci.high if ci else math.nan,
            "median_width": float(np.median(w[np.isfinite(w)])) if np.isfinite(w).any() else math.nan,
            "truth": p_true if k == "p_improvement" else t[k],
        })  # fmt: skip
    return rows


def test_rows(name: str, draw, n: int, studies: int, seed: int) -> list[dict]:
    """Family-wise false positives of the signed-rank tests with Holm, and false equivalences of TOST, under their nulls."""
    rng = np.random.default_rng(seed)
    margin = 0.5 if name != "counts" else 1.0
    fw, single, fe = 0, 0, 0
    for _ in range(studies):
        seed_effect = rng.normal(0.0, 1.0, n)  # shared by every cell of a seed: matched runs
        base = draw(rng, n) + seed_effect
        cells = [draw(rng, n) + seed_effect for _ in range(FAMILY)]
        with np.errstate(invalid="ignore"):  # inf - inf where both failed: replaced by the tie 0
            diffs = [np.where(np.isinf(c) & np.isinf(base), 0.0, c - base) for c in cells]
        p = [signed_rank(d)[1] for d in diffs]
        fw += bool(np.any(holm(p) < 0.05))
        # TOST's null: every cell worse by exactly the margin
        with np.errstate(invalid="ignore"):
            shifted = [np.where(np.isinf(c) & np.isinf(base), 0.0, c + margin - base) for c in cells]
        fe += bool(np.any(holm([tost(d, margin) for d in shifted]) < 0.05))
    for _ in range(SINGLE * studies):  # the level of one test, on independent pairs of cells (10x the families: a tighter bound)
        seed_effect = rng.normal(0.0, 1.0, n)
        c, base = draw(rng, n) + seed_effect, draw(rng, n) + seed_effect
        with np.errstate(invalid="ignore"):
            single += bool(signed_rank(np.where(np.isinf(c) & np.isinf(base), 0.0, c - base))[1] < 0.05)
    out = []
    for test, k, total in (
        (f"signed-rank, Holm over {FAMILY}: any false positive", fw, studies),
        ("signed-rank, one test: false positive", single, SINGLE * studies),
        (f"equivalence (TOST ±{margin:g}), Holm over {FAMILY}: any false equivalence", fe, studies),
    ):
        ci = binomtest(k, total).proportion_ci(0.95)
        out.append({"population": name, "n": n, "test": test, "trials": total, "rejections": k, "rate": k / total, "rate_lo": ci.low, "rate_hi": ci.high})
    return out


def budget_rows(name: str, draw, studies: int, seed: int, k: int = 16, budgets: tuple[int, ...] = (1, 2, 4, 8)) -> list[dict]:
    """The search's budget band (report.budget.budget_band: a percentile bootstrap over the K settings' scores): how often it
    holds the population's expected best of m settings, E[min of m draws] (fixed by POP_DRAWS draws)."""
    rng = np.random.default_rng(seed)
    pool = draw(rng, POP_DRAWS)
    truth = {m: float(np.mean(np.min(pool[: (POP_DRAWS // m) * m].reshape(-1, m), axis=1))) for m in budgets}
    hits = {m: 0 for m in budgets}
    for s in range(studies):
        scores = draw(rng, k)
        lo, hi = budget_band(scores, seed=s)
        for m in budgets:
            hits[m] += bool(lo[m - 1] <= truth[m] <= hi[m - 1])
    rows = []
    for m in budgets:
        ci = binomtest(hits[m], studies).proportion_ci(0.95)
        rows.append({
            "population": name, "n": k, "interval": f"budget m={m}", "method": f"95% percentile bootstrap ({BAND_RESAMPLES} resamples)",
            "studies": studies, "covered": hits[m], "coverage": hits[m] / studies, "coverage_lo": ci.low, "coverage_hi": ci.high,
            "median_width": math.nan, "truth": truth[m],
        })  # fmt: skip
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--studies", type=int, default=1000, help="simulated studies per population and n (default 1000)")
    p.add_argument("--ns", default=",".join(map(str, NS)), help=f"seeds per cell, comma-separated integers >= 2 (default {','.join(map(str, NS))})")
    p.add_argument("--out", default="results/coverage", help="folder for coverage.csv and tests.csv")
    args = p.parse_args(argv)
    if args.studies < 1:
        print("coverage: --studies must be a positive integer", file=sys.stderr)
        return 2
    try:
        ns = [int(v) for v in args.ns.split(",")]
        if min(ns) < 2:
            raise ValueError
    except ValueError:
        print(f"coverage: --ns must be comma-separated integers >= 2, got {args.ns!r}", file=sys.stderr)
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    sigma = w1_log_sd()
    print(f"w1 population: log-normal, sigma {sigma:.3f} (pooled within-cell sd of log W1 in results/zoo-toy)", flush=True)
    cov, tests = [], []
    for i, (name, draw) in enumerate(populations(sigma).items()):
        for j, n in enumerate(ns):
            t0 = time.time()
            cov += coverage_rows(name, draw, n, args.studies, seed=100 * i + j)
            tests += test_rows(name, draw, n, args.studies, seed=10_000 + 100 * i + j)
            print(f"{name} n={n}: {time.time() - t0:.0f} s", flush=True)
        if name in ("w1", "lognormal-heavy", "normal"):  # the search's budget band, K = 16 settings (no failures: E[best] finite)
            cov += budget_rows(name, draw, args.studies, seed=20_000 + i)
        pd.DataFrame(cov).to_csv(out / "coverage.csv", index=False)  # written per population: a stopped run keeps what it measured
        pd.DataFrame(tests).to_csv(out / "tests.csv", index=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
