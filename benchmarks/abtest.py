"""The decision rule of an interleaved speed comparison: is B slower than A, faster, unchanged, or not yet decided?

The data: R rounds; in each, a fresh measuring process of commit A and one of commit B, pinned
to the same CPU, take turns of a few steps (A B, B A, A B, ...) until each has its timed
steps, and a_i, b_i are the medians of each side's steps in round i. Taking turns within a
round puts a slow spell of the machine on both sides alike (bursts last seconds here, longer
than a turn and shorter than a process); fresh processes every round sample what differs
between processes (memory layout, placement). The unit is the round, not the step: steps of
one process are not independent draws, and a test over pooled steps would declare tiny
differences significant. Round i gives d_i = log(b_i / a_i).

Estimate: the Hodges-Lehmann estimate of the median of d (the median of the Walsh averages
(d_i + d_j) / 2, i <= j), reported as the ratio exp(HL) = time B / time A. Interval: the
distribution-free confidence interval that inverts the Wilcoxon signed-rank test (Hollander,
Wolfe & Chicken, Nonparametric Statistical Methods, 3rd ed., section 3.3): the (k+1)-th
smallest and largest Walsh averages, with k the largest count whose exact null probability
P(T+ <= k) is at most (1 - confidence) / 2. Its assumption is only that d is symmetric about
its centre; the achieved coverage (the exact one, at least the one asked) is reported.
p: scipy's Wilcoxon signed-rank test of d (exact without ties or zeros).

Verdict, with the practical threshold t (the smallest change worth a word, 3% by default):
`slower` when the whole interval lies above 1 + t; `faster` when below 1 / (1 + t); `no change`
when it lies between them; `not slower` when it lies below 1 + t but reaches below 1 / (1 + t)
(a slowdown of t is ruled out, a speed-up is not established); `undecided` when it reaches above
1 + t without lying above it (a slowdown of t is not ruled out: more rounds narrow it). Only
`slower` makes a comparison exit 1.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

VERDICTS = ("slower", "faster", "no change", "not slower", "undecided")


def signed_rank_null(n: int) -> list[float]:
    """P(T+ = s) for s = 0..n(n+1)/2 under the null: each rank 1..n is positive with probability 1/2, independently."""
    counts = [1]  # counts[s]: the subsets of the ranks so far whose sum is s
    for rank in range(1, n + 1):
        grown = counts + [0] * rank
        for s, c in enumerate(counts):
            grown[s + rank] += c
        counts = grown
    total = 2.0**n
    return [c / total for c in counts]


def walsh_averages(d: list[float]) -> list[float]:
    """(d_i + d_j) / 2 for every i <= j, sorted: the n(n+1)/2 values the estimate and the interval are read from."""
    return sorted((d[i] + d[j]) / 2 for i in range(len(d)) for j in range(i, len(d)))


def hl_interval(d: list[float], confidence: float = 0.95) -> tuple[float, float, float, float]:
    """(estimate, low, high, achieved coverage) for the centre of d: Hodges-Lehmann and the signed-rank interval.

    With too few values for the confidence asked (n = 5 reaches at most 93.75%), the
    interval is unbounded (-inf, inf) and its coverage 1.
    """
    n = len(d)
    if n == 0:
        raise ValueError("no rounds to decide from")
    walsh = walsh_averages(d)
    estimate = statistics.median(walsh)
    tail, cumulative, k = (1 - confidence) / 2, 0.0, -1
    for s, p in enumerate(signed_rank_null(n)):
        cumulative += p
        if cumulative > tail + 1e-12:
            break
        k, achieved_tail = s, cumulative
    if k < 0:
        return estimate, -math.inf, math.inf, 1.0
    return estimate, walsh[k], walsh[len(walsh) - 1 - k], 1 - 2 * achieved_tail


@dataclass(frozen=True)
class Decision:
    """B against A for one configuration: ratio = time B / time A (> 1: B slower), its interval and the verdict."""

    verdict: str
    ratio: float
    low: float
    high: float
    coverage: float  # the interval's exact coverage
    p_value: float  # Wilcoxon signed-rank, two-sided
    rounds: int

    def describe(self) -> str:
        return (f"{self.verdict}: B/A {self.ratio:.3f} [{self.low:.3f}, {self.high:.3f}] "
                f"({100 * self.coverage:.1f}% signed-rank CI of the Hodges-Lehmann ratio, {self.rounds} rounds, p {self.p_value:.3g})")


def decide(a: list[float], b: list[float], threshold: float = 0.03, confidence: float = 0.95) -> Decision:
    """The verdict on paired block medians a[i], b[i] (round i): see the module docstring."""
    if len(a) != len(b) or not a:
        raise ValueError(f"paired rounds needed: {len(a)} of A, {len(b)} of B")
    if min(a + b) <= 0:
        raise ValueError("times must be positive")
    d = [math.log(y / x) for x, y in zip(a, b)]
    estimate, low, high, coverage = hl_interval(d, confidence)
    ratio, low_ratio, high_ratio = math.exp(estimate), math.exp(low), math.exp(high)
    return Decision(verdict(low_ratio, high_ratio, threshold), ratio, low_ratio, high_ratio, coverage, wilcoxon_p(d), len(d))


def verdict(low: float, high: float, threshold: float) -> str:
    """The verdict of an interval [low, high] of the ratio B/A against the threshold t (see the module docstring)."""
    up, down = 1 + threshold, 1 / (1 + threshold)
    if low > up:
        return "slower"
    if high < down:
        return "faster"
    if high < up:
        return "no change" if low > down else "not slower"
    return "undecided"


def wilcoxon_p(d: list[float]) -> float:
    """Two-sided p of the Wilcoxon signed-rank test of d (scipy: exact without ties or zeros); 1.0 when every d is 0."""
    from scipy import stats

    if all(x == 0 for x in d):
        return 1.0
    return float(stats.wilcoxon(d).pvalue)


def turn_orders(round_index: int, turns: int) -> list[tuple[str, str]]:
    """Who goes first in each turn of a round: A B, B A, A B, ... starting with B A in odd rounds (each side first equally often)."""
    return [("A", "B") if (round_index + t) % 2 == 0 else ("B", "A") for t in range(turns)]
