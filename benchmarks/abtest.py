"""The decision rule of an interleaved speed comparison: is B slower than A by more than the user tolerates?

The data: rounds; in each, a fresh measuring process of commit A and one of commit B, pinned
to the same CPU, take turns of a few steps (A B, B A, A B, ...) until each has its timed
steps, and a_i, b_i are the medians of each side's steps in round i. Taking turns within a
round puts a slow spell of the machine on both sides alike; fresh processes every round
sample what differs between processes (memory layout, placement). The unit is the round, not
the step: steps of one process are not independent draws. Round i gives d_i = log(b_i / a_i).

Estimate: the Hodges-Lehmann estimate of the centre of d (the median of the Walsh averages
(d_i + d_j) / 2, i <= j), reported as the ratio time B / time A. Bounds: the distribution-free
signed-rank bounds (Hollander, Wolfe & Chicken, Nonparametric Statistical Methods, 3rd ed.,
section 3.3): the (k+1)-th smallest Walsh average is a lower bound that misses with exact
probability P(T+ <= k), and the (k+1)-th largest an upper bound with the same error. Its only
assumption is that d is symmetric about its centre.

Sequential, and valid however often it is looked at. The rounds are read only at the fixed
LOOKS (8, 12, 16, 24, 32, 48, 64 rounds), never in between, and each look may spend only the
error its spending function releases: alpha(n) = alpha * ln(1 + (e - 1) n / 64), the Pocock-type
function of Lan & DeMets (1983, "Discrete sequential boundaries for clinical trials",
Biometrika 70:659-663), fixed in rounds, not in a user's budget. A look's bounds use the largest
exact signed-rank tail within alpha(n) minus what earlier looks spent (what the discreteness of
the exact tails leaves unspent carries forward). The union bound over the looks then makes
every look's bounds hold together with probability at least 1 - alpha, whatever the rounds'
dependence between looks and whenever the comparison stops (a budget, a decision, a second
command that resumes the recorded rounds), so the running intersection of the bounds is valid
and a verdict once reached stays. After 64 rounds nothing is left to spend: the sequence is
closed. Over the C configurations of one comparison each bound gets alpha / C (Bonferroni):
Holm's step-down has no simultaneous bounds to go with it (Strassburger & Bretz 2008,
Statistics in Medicine 27:4914-4927), and these verdicts are read from bounds.

Verdict against the tolerated slowdown t (--max-slowdown, 3% by default), from the running
intersection [L, U] of the ratio:
- `slower` when L > 1 + t: B is slower by more than t (a false alarm, for a configuration
  that is not, has probability at most alpha / C, so at most alpha for the comparison);
- `pass` when U <= 1 + t: a slowdown beyond t is excluded (the same error bound the other way),
  detailed as `faster` (U < 1 / (1 + t)), `no change` (L >= 1 / (1 + t)) or `not slower`;
- `inconclusive` otherwise, with U - 1, the largest slowdown the rounds cannot exclude (and
  when L > U, the looks contradicting each other, which only a missed bound can cause).
Like two one-sided tests (Schuirmann 1987), each error is one-sided at alpha: a configuration
cannot be both slower than t and not.
"""

from __future__ import annotations

import functools
import math
import statistics
from dataclasses import dataclass

LOOKS = (8, 12, 16, 24, 32, 48, 64)  # the rounds at which a sequence is read; at 64 its error is spent
VERDICTS = ("slower", "pass", "inconclusive")
DETAILS = ("faster", "no change", "not slower")  # what a pass says of a speed-up


@functools.cache
def signed_rank_null(n: int) -> tuple[float, ...]:
    """P(T+ = s) for s = 0..n(n+1)/2 under the null: each rank 1..n is positive with probability 1/2, independently."""
    counts = [1]  # counts[s]: the subsets of the ranks so far whose sum is s
    for rank in range(1, n + 1):
        grown = counts + [0] * rank
        for s, c in enumerate(counts):
            grown[s + rank] += c
        counts = grown
    total = 2.0**n
    return tuple(c / total for c in counts)


def walsh_averages(d: list[float]) -> list[float]:
    """(d_i + d_j) / 2 for every i <= j, sorted: the n(n+1)/2 values the estimate and the bounds are read from."""
    return sorted((d[i] + d[j]) / 2 for i in range(len(d)) for j in range(i, len(d)))


def rank_for_tail(n: int, tail: float) -> tuple[int, float]:
    """(k, P(T+ <= k)): the largest k whose exact lower tail is at most `tail`; (-1, 0.0) when even T+ = 0 is likelier."""
    k, achieved, cumulative = -1, 0.0, 0.0
    for s, p in enumerate(signed_rank_null(n)):
        cumulative += p
        if cumulative > tail * (1 + 1e-9):
            break
        k, achieved = s, cumulative
    return k, achieved


def spending(n: int, alpha: float) -> float:
    """alpha(n): the error the first n rounds may spend in all (Lan-DeMets, Pocock type, over the 64 rounds of LOOKS)."""
    return alpha * math.log(1 + (math.e - 1) * min(n, LOOKS[-1]) / LOOKS[-1])


@dataclass(frozen=True)
class Look:
    """One look: its rounds, the one-sided error it spent, and its own bounds of the log ratio (+-inf: none)."""

    rounds: int
    spent: float
    low: float
    high: float


def looks(d: list[float], alpha: float) -> list[Look]:
    """Every look the rounds d reach (LOOKS <= len(d)), each with its bounds at the error it may spend."""
    out, spent = [], 0.0
    for n in (n for n in LOOKS if n <= len(d)):
        k, tail = rank_for_tail(n, spending(n, alpha) - spent)
        if k < 0:
            out.append(Look(n, 0.0, -math.inf, math.inf))
            continue
        walsh = walsh_averages(d[:n])
        spent += tail
        out.append(Look(n, tail, walsh[k], walsh[len(walsh) - 1 - k]))
    return out


@dataclass(frozen=True)
class Decision:
    """B against A for one configuration: ratio = time B / time A (> 1: B slower), its running bounds and the verdict."""

    verdict: str  # VERDICTS
    detail: str  # for a pass: DETAILS; else ""
    ratio: float  # Hodges-Lehmann over every round so far
    low: float  # running intersection of the looks' bounds, as ratios
    high: float
    rounds: int  # rounds measured
    looked: int  # rounds at the last look (the verdict's data)
    spent: float  # one-sided error spent per side, this configuration
    alpha: float  # the one-sided error it may spend per side (alpha / configurations)
    p_value: float  # two-sided Wilcoxon signed-rank of every round: descriptive, not the verdict
    max_slowdown: float

    @property
    def decided(self) -> bool:
        return self.verdict != "inconclusive"

    @property
    def closed(self) -> bool:
        """No error left to spend: more rounds cannot change the verdict."""
        return self.looked >= LOOKS[-1]

    def describe(self) -> str:
        bounds = f"B/A {self.ratio:.3f}, bounds [{self.low:.3f}, {self.high:.3f}] after {self.looked} rounds"
        if self.verdict == "slower" and self.detail:
            said = f"slower: an earlier sequence of this pair said so ({self.detail}), and it stands"
        elif self.verdict == "slower":
            said = f"slower: B is more than {100 * self.max_slowdown:g}% slower ({100 * (self.low - 1):.1f}% at least)"
        elif self.verdict == "pass":
            said = f"pass ({self.detail}): a slowdown beyond {100 * self.max_slowdown:g}% is excluded"
        elif self.detail == "contradictory":
            said = "inconclusive: the looks' bounds contradict each other (one of them missed); no verdict"
        else:
            said = (f"inconclusive: B may be up to {100 * (self.high - 1):.1f}% slower "
                    f"(a slowdown beyond {100 * self.max_slowdown:g}% is neither shown nor excluded)")
        return f"{said}; {bounds} (error spent {self.spent:.4f} of {self.alpha:.4f} per side, p {self.p_value:.3g})"


def decide(a: list[float], b: list[float], max_slowdown: float = 0.03, alpha: float = 0.05, configurations: int = 1) -> Decision:
    """The verdict on paired round medians a[i], b[i] (see the module docstring); alpha per side, split over configurations."""
    if len(a) != len(b) or not a:
        raise ValueError(f"paired rounds needed: {len(a)} of A, {len(b)} of B")
    if min(a + b) <= 0:
        raise ValueError("times must be positive")
    d = [math.log(y / x) for x, y in zip(a, b)]
    share = alpha / configurations
    seen = looks(d, share)
    low = max((lk.low for lk in seen), default=-math.inf)
    high = min((lk.high for lk in seen), default=math.inf)
    verdict_, detail = judge(math.exp(low), math.exp(high), max_slowdown)
    return Decision(verdict_, detail, math.exp(statistics.median(walsh_averages(d))), math.exp(low), math.exp(high), len(d),
                    seen[-1].rounds if seen else 0, sum(lk.spent for lk in seen), share, wilcoxon_p(d), max_slowdown)


def judge(low: float, high: float, max_slowdown: float) -> tuple[str, str]:
    """(verdict, detail) of ratio bounds [low, high] against the tolerated slowdown (the module docstring)."""
    up, down = 1 + max_slowdown, 1 / (1 + max_slowdown)
    if low > high:  # the looks' bounds do not overlap: one of them missed (probability at most 2 alpha); no verdict
        return "inconclusive", "contradictory"
    if low > up:
        return "slower", ""
    if high <= up:
        return "pass", "faster" if high < down else "no change" if low >= down else "not slower"
    return "inconclusive", ""


def next_look(rounds: int) -> int | None:
    """The first look after `rounds` rounds, None when the sequence is closed."""
    return next((n for n in LOOKS if n > rounds), None)


def wilcoxon_p(d: list[float]) -> float:
    """Two-sided p of the Wilcoxon signed-rank test of d (scipy: exact without ties or zeros); 1.0 when every d is 0."""
    from scipy import stats

    if all(x == 0 for x in d):
        return 1.0
    return float(stats.wilcoxon(d).pvalue)


def turn_orders(round_index: int, turns: int) -> list[tuple[str, str]]:
    """Who goes first in each turn of a round: A B, B A, A B, ... starting with B A in odd rounds (each side first equally often)."""
    return [("A", "B") if (round_index + t) % 2 == 0 else ("B", "A") for t in range(turns)]
