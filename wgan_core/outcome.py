"""One rule for failed runs: used by the search's selection, its budget curves, the report's summaries and paired tests.

A run *fails* when it diverged (a non-finite loss ended it), did not finish, or its final value
of the metric is not finite or worse than its own untrained generator's (the step-0 evaluation
of the same run: some settings blow a generator's outputs up to W1 ~ 1e20). Where a score is
needed, a failed run takes its untrained value ("learned nothing"), and it stays in every
comparison with that value: it never vanishes, and one blow-up cannot swamp a mean. The report
applies it to each metric on its own (wgan_core.report.load.apply_failure_rule): a run whose FID
got worse can still have covered more modes, and is judged on each at the same number of samples
at step 0 and at its last evaluation. Pure Python, so the report uses it without torch.
"""

from __future__ import annotations

import math

RULE = (
    "a run fails on a metric when it diverged, did not finish, or that metric is not finite at the end or worse at its "
    "last evaluation than its own untrained generator's (step 0, the same number of samples); where it fails, that metric "
    "takes its untrained value and the run stays in every comparison; `failed` counts failures on {metric}"
)


def _worse(final: float, untrained: float, lower_is_better: bool) -> bool:
    if not math.isfinite(untrained):
        return False  # no untrained value to compare with: only non-finite finals fail
    return final > untrained if lower_is_better else final < untrained


def failed(status: str, final: float | None, untrained: float | None, lower_is_better: bool = True) -> bool:
    """Whether a run failed by RULE. status: final.json's ('ok', 'diverged'; anything else: unfinished)."""
    final = math.nan if final is None else float(final)
    untrained = math.nan if untrained is None else float(untrained)
    return status != "ok" or not math.isfinite(final) or _worse(final, untrained, lower_is_better)


def scored(status: str, final: float | None, untrained: float | None, lower_is_better: bool = True) -> float:
    """The run's score by RULE: its final value, or its untrained value if it failed (NaN if that is unknown too)."""
    if failed(status, final, untrained, lower_is_better):
        return math.nan if untrained is None else float(untrained)
    return float(final)  # type: ignore[arg-type]


__all__ = ["RULE", "failed", "scored"]
