"""One rule for failed runs: used by the search's selection, its budget curves, the report's summaries and paired tests.

A run *fails* on a metric when it diverged (a non-finite loss ended it), did not finish, or
ends with a non-finite value of that metric. Nothing else: a run is never judged against its
own untrained generator (on PacGAN's 2-D grid the untrained generator sits on the centre mode
and scores a perfect high-quality share of 1.0, so that comparison called every trained run a
failure and printed the untrained value as the result).

A failed run stays in every comparison, *ranked worst* on the metric (failures tie among
themselves): `worst_first` maps a metric to a "cost" where lower is better and a failure is
+inf, so order statistics (median, IQM), the probability of improvement and the signed-rank
test see it as the worst value, and no number is substituted into a mean (means are over the
runs that did not fail, printed beside the failures). One blow-up (W1 ~ 1e20) is handled by
the robust aggregates, not by replacing it. Pure Python, so the report uses it without torch.
"""

from __future__ import annotations

import math

RULE = (
    "a run fails on a metric when it diverged, did not finish, or ends with a non-finite value of it (never by comparison "
    "with its untrained generator); a failed run stays in every comparison ranked worst on that metric (failures tie), no "
    "value is put in its place, means are over the runs that did not fail, and `failed` counts failures per metric"
)


def failed(status: str, final: float | None) -> bool:
    """Whether a run failed by RULE. status: final.json's ('ok', 'diverged'; anything else: unfinished)."""
    final = math.nan if final is None else float(final)
    return status != "ok" or not math.isfinite(final)


def cost(status: str, final: float | None, lower_is_better: bool = True) -> float:
    """The run's value oriented so that lower is better, +inf if it failed (ranked worst; failures tie at +inf)."""
    if failed(status, final):
        return math.inf
    return float(final) if lower_is_better else -float(final)  # type: ignore[arg-type]


__all__ = ["RULE", "cost", "failed"]
