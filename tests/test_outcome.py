"""The one failure rule (wgan_core.outcome): what fails, how a failure ranks, and that no value ever stands in for one."""

import math
from pathlib import Path

import pandas as pd
import pytest

from wgan_core.outcome import cost, failed


@pytest.mark.parametrize(
    ("status", "final", "is_failed"),
    [
        ("ok", 0.2, False),
        ("ok", 1.5, False),  # worse than an untrained generator is a (bad) result, not a failure
        ("ok", 1e20, False),  # a blow-up is a value: the robust aggregates, not a substitution, keep it from swamping a summary
        ("ok", math.nan, True),
        ("ok", math.inf, True),
        ("ok", None, True),  # NaN is stored as null
        ("diverged", 0.01, True),  # a low last value does not save a diverged run
        ("incomplete", 0.2, True),
    ],
)
def test_rule(status, final, is_failed):
    assert failed(status, final) is is_failed


def test_a_failure_costs_infinity_in_both_directions_and_a_value_keeps_its_order():
    assert cost("ok", 0.3) == 0.3 and cost("ok", 7, lower_is_better=False) == -7  # more modes: lower cost
    assert cost("diverged", 0.01) == math.inf and cost("ok", math.nan, lower_is_better=False) == math.inf
    assert cost("ok", 7, lower_is_better=False) < cost("ok", 3, lower_is_better=False) < cost("diverged", 900, lower_is_better=False)


def test_the_report_flags_each_metric_and_replaces_nothing():
    from wgan_core.report.load import apply_failure_rule

    runs = pd.DataFrame({
        "run_id": ["a", "b", "c", "d"], "dataset": ["x"] * 4, "status": ["ok", "ok", "diverged", "incomplete"],
        "fid": [60.0, math.inf, 20.0, 10.0], "modes": [11.0, 40.0, 9.0, 5.0],
    })  # fmt: skip
    out = apply_failure_rule(runs, "fid").set_index("run_id")
    assert list(out.index) == ["a", "b", "c", "d"]  # every run stays, the unfinished one too: it did not finish, so it failed
    assert list(out["failed_fid"]) == [False, True, True, True] and list(out["failed_modes"]) == [False, False, True, True]
    assert list(out["fid"]) == [60.0, math.inf, 20.0, 10.0] and list(out["modes"]) == [11.0, 40.0, 9.0, 5.0]  # as the runs wrote them
    assert list(out["failed"]) == [False, True, True, True]
    assert list(apply_failure_rule(runs, "modes")["failed"]) == [False, False, True, True]


def test_a_metric_written_as_null_failed_and_one_never_written_is_not_measured():
    """JSON has no inf: a run writes a non-finite metric as null, which the report names in `nonfinite`."""
    import json

    from wgan_core.report.load import _run_row, apply_failure_rule

    final = json.loads(json.dumps({"status": "ok", "metrics": {"fid": None, "modes": 12}}))  # fid ended non-finite; kid never written
    row = _run_row(Path("r"), {"dataset": "8gaussians", "seed": 0}, final, pd.DataFrame())
    runs = pd.DataFrame([row, {**row, "run_id": "s", "fid": 30.0, "nonfinite": "", "kid": 0.2}])
    out = apply_failure_rule(runs, "fid")
    assert list(out["failed_fid"]) == [True, False] and list(out["failed_kid"]) == [False, False] and not out["failed_modes"].any()


def test_pacgan_grid_high_quality_share_lies_within_its_runs():
    """The committed study whose untrained generator scored a perfect 1.0: the summary now sits inside its runs' range."""
    from wgan_core.report.load import apply_failure_rule
    from wgan_core.report.tables import summarize

    runs = pd.read_csv(Path(__file__).parent.parent / "results/pacgan-2d/report/runs.csv")
    grid = runs[runs["dataset"] == "2d-grid"]
    row = summarize(apply_failure_rule(grid, "w1")).iloc[0]
    lo, hi = grid["high_quality_2500"].min(), grid["high_quality_2500"].max()
    assert lo <= row["high_quality_2500_mean"] <= hi and lo <= row["high_quality_2500_median"] <= hi
    assert (row["high_quality_2500_lo"], row["high_quality_2500_hi"]) == (lo, hi)  # n = 3: the range
