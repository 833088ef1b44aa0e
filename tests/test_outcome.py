"""The one failure rule (wgan_core.outcome): what fails, what score it takes, in both metric directions."""

import math

import pytest

from wgan_core.outcome import failed, scored


@pytest.mark.parametrize(
    ("status", "final", "untrained", "is_failed", "score"),
    [
        ("ok", 0.2, 1.4, False, 0.2),  # learned something: its own value
        ("ok", 1.4, 1.4, False, 1.4),  # exactly as good as untrained is not worse
        ("ok", 1.5, 1.4, True, 1.4),  # worse than untrained: learned nothing
        ("ok", 1e20, 1.4, True, 1.4),  # a blow-up cannot swamp a mean
        ("ok", math.nan, 1.4, True, 1.4),
        ("ok", math.inf, 1.4, True, 1.4),
        ("ok", None, 1.4, True, 1.4),  # NaN is stored as null
        ("diverged", 0.01, 1.4, True, 1.4),  # a low last value does not save a diverged run
        ("incomplete", 0.2, 1.4, True, 1.4),
        ("ok", 0.3, math.nan, False, 0.3),  # no untrained value to compare with: only the final's finiteness counts
    ],
)
def test_rule_lower_is_better(status, final, untrained, is_failed, score):
    assert failed(status, final, untrained) is is_failed
    assert scored(status, final, untrained) == score


def test_rule_higher_is_better_and_unknown_untrained():
    assert failed("ok", 3, 5, lower_is_better=False) and scored("ok", 3, 5, lower_is_better=False) == 5  # fewer modes than untrained
    assert not failed("ok", 7, 5, lower_is_better=False) and scored("ok", 7, 5, lower_is_better=False) == 7
    assert math.isnan(scored("diverged", 0.1, None))  # nothing to score it by


def test_the_report_judges_each_metric_on_its_own_and_on_the_same_number_of_samples():
    import pandas as pd

    from wgan_core.report.load import apply_failure_rule

    runs = pd.DataFrame({
        "run_id": ["a", "b", "c"], "status": ["ok", "ok", "diverged"],
        "fid": [50.0, 30.0, 20.0],  # final, on final_eval_samples
        "modes": [11.0, 40.0, 9.0],
    })
    curves = pd.DataFrame({  # every evaluation, on eval_samples; step 0 is the untrained generator
        "run_id": ["a", "a", "b", "b", "c", "c"], "step": [0, 500, 0, 500, 0, 500],
        "fid": [40.0, 60.0, 44.0, 45.0, 41.0, 19.0], "modes": [1.0, 11.0, 2.0, 40.0, 1.0, 9.0],
    })
    out = apply_failure_rule(runs, curves, "fid").set_index("run_id")
    # a: worse FID than untrained (60 > 40 at the same n), more modes than untrained (11 > 1): failed on FID only
    assert (out.loc["a", "failed_fid"], out.loc["a", "failed_modes"], out.loc["a", "fid"], out.loc["a", "modes"]) == (True, False, 40.0, 11.0)
    # b: its 10,000-sample final FID (30) beats the 2,000-sample start (44), but its last 2,000-sample one (45) does not
    assert out.loc["b", "failed_fid"] and out.loc["b", "fid"] == 44.0 and not out.loc["b", "failed_modes"] and out.loc["b", "modes"] == 40.0
    # c diverged: every metric at its untrained value
    assert out.loc["c", "failed_fid"] and out.loc["c", "failed_modes"] and (out.loc["c", "fid"], out.loc["c", "modes"]) == (41.0, 1.0)
    assert list(out["failed"]) == [True, True, True]  # the primary metric's
    assert list(apply_failure_rule(runs, curves, "modes")["failed"]) == [False, False, True]
