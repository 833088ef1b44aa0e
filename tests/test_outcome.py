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
