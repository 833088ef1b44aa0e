"""The report's verdict machinery against hand values, scipy and brute force: the exact signed-rank test (ties and
failures included), equivalence, Holm over a declared family, median / IQM / P(improvement), and bad declarations."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest
import scipy.stats as sps

from wgan_core.cli import main as cli_main
from wgan_core.errors import ConfigError
from wgan_core.report.families import Family, check_family, family_tests, reach
from wgan_core.report.stats import holm, median_iqm, probability_of_improvement, signed_rank, tost


def brute_force(d: np.ndarray) -> float:
    """Two-sided p of the signed-rank statistic over all 2^n sign flips of the observed ranks (zeros dropped)."""
    d = d[d != 0]
    r = sps.rankdata(np.abs(d))
    t = r[d > 0].sum()
    sums = np.array([sum(r[i] for i in range(len(d)) if s[i]) for s in itertools.product((0, 1), repeat=len(d))])
    return min(1.0, 2 * min((sums <= t).mean(), (sums >= t).mean()))


@pytest.mark.parametrize("n", range(1, 13))
def test_signed_rank_is_scipys_exact_test_without_ties(n):
    d = np.random.default_rng(n).normal(0.3, 1.0, n)
    for alt in ("two-sided", "greater", "less"):
        assert signed_rank(d, alt)[1] == pytest.approx(sps.wilcoxon(d, method="exact", alternative=alt).pvalue, rel=1e-12)


@pytest.mark.parametrize(
    "d",
    [
        [1, 1, 2, -2, 3, 0.5, -0.5, 4],  # tied magnitudes of both signs
        [math.inf, math.inf, -math.inf, 0.2, -0.1, 0.3],  # failures on both sides: tied at the top rank
        [0, 0, 1, 2, 2, 2, -3],  # zeros dropped
        [math.inf] * 6,  # the cell failed on every seed the baseline did not: 2 / 2^6
        [0.01, 0.02, 0.03, 0.04, 0.05, -1e-3, 1e20],  # one finite blow-up does not tie the ordinary differences together
    ],
)
def test_signed_rank_with_ties_and_failures_is_the_exact_conditional_test(d):
    d = np.asarray(d, float)
    assert signed_rank(d)[1] == pytest.approx(brute_force(d), rel=1e-12)


def test_signed_rank_hand_values():
    assert signed_rank([math.inf] * 6)[1] == pytest.approx(2 / 64)  # every seed lost: the most extreme of 2^6 assignments
    t, p, n = signed_rank([0.0, 0.0, 0.0])
    assert (p, n) == (1.0, 0) and math.isnan(t)
    assert signed_rank([1.0, -1.0]) == (1.5, 1.0, 2)  # T+ = the tied rank 1.5; symmetric: p = 1


def test_tost_by_hand():
    # six differences of 0.1 inside a margin of 0.5: both one-sided tests see all six on one side, p = 1/2^6 each
    assert tost(np.full(6, 0.1), 0.5) == pytest.approx(1 / 64)
    # a shift as large as the margin cannot be shown inside it
    assert tost(np.full(6, 0.5), 0.5) == 1.0
    # a failure (inf) is never within any margin
    assert tost(np.array([math.inf] * 6), 100.0) == 1.0


def test_holm_by_hand():
    np.testing.assert_allclose(holm([0.01, 0.04, 0.03]), [0.03, 0.06, 0.06])


def test_median_iqm_and_probability_of_improvement_by_hand():
    agg = median_iqm([1.0, 2.0, 3.0, 4.0, math.inf, math.inf, 7.0, 8.0])  # two failures: ranked worst
    assert agg["median"] == 5.5  # sorted 1 2 3 4 7 8 inf inf: (4 + 7) / 2
    assert agg["iqm"] == pytest.approx(np.mean([3.0, 4.0, 7.0, 8.0]))  # n = 8: two cut from each end
    assert median_iqm(np.arange(9.0))["iqm"] == pytest.approx(np.mean([2.0, 3.0, 4.0, 5.0, 6.0]))  # n = 9: floor(9/4) = 2 cut each end
    assert agg["median_lo"] <= agg["median"] <= agg["median_hi"] and agg["iqm_lo"] <= agg["iqm"]
    assert median_iqm([1.0, math.inf, math.inf])["median"] == math.inf  # most runs failed: so does the median
    # x = (1, 2, 3) against y = (2, failed, failed): 9 pairs, x wins 7, ties 1 (2 = 2), loses 1 (3 > 2)
    p, lo, hi = probability_of_improvement([1.0, 2.0, 3.0], [2.0, math.inf, math.inf])
    assert p == pytest.approx(7.5 / 9) and lo <= p <= hi <= 1.0
    assert probability_of_improvement([math.inf] * 3, [math.inf] * 3)[0] == 0.5  # failures tie


def _runs(values: dict[str, list[float]], metric: str = "w1") -> pd.DataFrame:
    rows = [{"dataset": "d", "cell": c, "seed": s, "status": "ok", metric: v, f"failed_{metric}": not math.isfinite(v)}
            for c, vs in values.items() for s, v in enumerate(vs)]  # fmt: skip
    return pd.DataFrame(rows)


def test_holm_runs_over_exactly_the_declared_family():
    base = [0.10, 0.12, 0.11, 0.13, 0.09, 0.10, 0.12, 0.11]
    runs = _runs({"wgan-gp": base, "gan": [v + 0.1 for v in base], "nsgan": [v + 0.05 * (-1) ** i for i, v in enumerate(base)],
                  "wgan-lp": [v + 0.001 * (i % 3 - 1) for i, v in enumerate(base)]})  # fmt: skip
    one = family_tests(runs, [Family("all", ("gan", "nsgan", "wgan-lp"), "wgan-gp", ("w1",), {"w1": 0.05})])
    two = family_tests(runs, [Family("gan only", ("gan",), "wgan-gp", ("w1",), {"w1": 0.05})])
    raw = one["p_value"].to_numpy()
    np.testing.assert_allclose(one["p_holm"], holm(raw))
    assert one["family_size"].eq(3).all() and two["family_size"].eq(1).all()
    assert two["p_holm"].item() == pytest.approx(2 / 256)  # alone: gan worse on all 8 seeds, uncorrected
    verdicts = one.set_index("cell")["verdict"]
    assert verdicts["gan"] == "worse" and verdicts["wgan-lp"] == "equivalent within ±0.05"
    assert verdicts["nsgan"] == "not shown to differ"  # alternating ±0.05: neither better nor inside the margin


def test_a_failed_run_stays_as_a_pair_ranked_worst():
    base = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]
    runs = _runs({"wgan-gp": base, "gan": [0.05, 0.15, 0.25, 0.35, 0.45, math.inf]})  # better on 5 seeds, failed on the 6th
    row = family_tests(runs, [Family("f", ("gan",), "wgan-gp", ("w1",))]).iloc[0]
    assert (row["n_pairs"], row["better"], row["worse"], row["failed_cell"]) == (6, 5, 1, 1)
    assert row["statistic"] == 6.0 and row["p_value"] == pytest.approx(brute_force(np.array([-0.05] * 5 + [math.inf])))


@pytest.mark.parametrize(
    ("family", "words"),
    [
        (Family("f", ("nsgn",), "wgan-gp", ("w1",)), "cell 'nsgn' names no variant of the study"),
        (Family("f", ("nsgan",), "wgan-gp", ("fidd",)), "metric 'fidd' is not a tested metric"),
        (Family("f", ("nsgan",), "wgan-gp", ("w1",), {"w1": -1.0}), "margins.w1 must be a positive number, got -1.0"),
        (Family("f", ("nsgan",), "wgan-gp", ("w1",), {"w1": "x"}), "margins.w1 must be a positive number, got 'x'"),
        (Family("f", ("nsgan",), "wgan-gp", ("w1",), {"w1": True}), "margins.w1 must be a positive number, got True"),
        (Family("f", ("nsgan",), "wgan-gp", ("w1",), {"w1": math.nan}), "margins.w1 must be a positive number"),
    ],
)
def test_a_bad_declaration_is_one_line_naming_the_field(family, words):
    with pytest.raises(ConfigError, match=words.replace("(", r"\(").replace(")", r"\)")) as e:
        check_family(family, {"gan", "nsgan", "wgan-gp"})
    assert "\n" not in str(e.value)


def test_reach_is_the_smallest_exact_p_times_the_family():
    f = Family("headline", ("gan", "nsgan", "wgan-clip", "wgan-lp"), "wgan-gp", ("modes", "reverse_kl"), headline=True)
    assert reach(f, 10, 1) == (pytest.approx(2 / 1024), pytest.approx(8 * 2 / 1024))
    assert reach(f, 8, 1)[1] == pytest.approx(0.0625)  # the earlier 8 seeds: never below 0.05


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('[{"name": "x", "cells": ["nsgan"], "baseline": "wgan-gp", "metrics": ["w1"], "margins": {"w1": 0}}]', "margins.w1 must be a positive number"),
        ('[{"name": "x", "cells": ["nope"], "baseline": "wgan-gp", "metrics": ["w1"]}]', "cell 'nope' names no variant of the study"),
        ('[{"name": "x", "cells": ["nsgan"], "baseline": "wgan-gp", "metrics": ["nope"]}]', "metric 'nope' is not a tested metric"),
        ('{"name": "x"}', "must hold a JSON list of families"),
        ("[1,", "cannot read"),
    ],
)
def test_study_refuses_a_bad_families_file_before_anything_runs(tmp_path, capsys, text, words):
    f = tmp_path / "families.json"
    f.write_text(text)
    out = tmp_path / "study"
    assert cli_main(["study", "--preset", "toy", "--families", str(f), "--out", str(out), "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert words in err and err.count("\n") == 1 and "Traceback" not in err and not out.exists()


def test_study_refuses_a_headline_family_its_seeds_cannot_carry(tmp_path, capsys):
    out = tmp_path / "study"
    assert cli_main(["study", "--preset", "stacked", "--seeds", "8", "--out", str(out), "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert "cannot reach p < 0.05 with 8 seeds (smallest Holm-adjusted p 0.0625); it needs --seeds 9 or more" in err
    assert err.count("\n") == 1 and not out.exists()


def test_iqm_and_probability_of_improvement_are_rliables_on_finite_scores():
    """The report computes Agarwal et al.'s aggregates itself (rliable's interval code, rliable.library, does not import
    beside pandas 3 here: arch 7.2's deprecate_kwarg fails), so its point estimates are held to rliable.metrics'."""
    metrics = pytest.importorskip("rliable.metrics")
    rng = np.random.default_rng(0)
    for n, m in ((5, 5), (7, 9), (10, 10)):
        x, y = rng.normal(size=n).round(1), rng.normal(size=m).round(1)  # rounded: ties too
        assert median_iqm(x, n_resamples=10)["iqm"] == pytest.approx(metrics.aggregate_iqm(x[:, None]))
        # rliable's scores are higher-is-better, the report's costs lower-is-better: P(cost x < cost y) = P(-x > -y)
        assert probability_of_improvement(x, y)[0] == pytest.approx(metrics.probability_of_improvement(-x[:, None], -y[:, None]))


def test_a_preset_declaring_a_bad_family_is_refused_before_anything_runs(tmp_path, capsys, monkeypatch):
    from wgan_core.study import presets

    bad = presets.PRESETS["toy"]._replace(families=(Family("typo", ("nsgan",), "wgan-gp", ("w1",), {"w1": 0.0}),))
    monkeypatch.setitem(presets.PRESETS, "toy", bad)
    out = tmp_path / "study"
    assert cli_main(["study", "--preset", "toy", "--out", str(out), "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert err == "error: family 'typo': margins.w1 must be a positive number, got 0.0\n" and not out.exists()


def test_a_study_records_its_families_before_it_runs_and_its_report_tests_exactly_them(tmp_path, capsys):
    out = tmp_path / "study"
    args = ["study", "--preset", "toy", "--seeds", "2", "--variants", "nsgan,wgan-gp", "--datasets", "8gaussians", "--device", "cpu",
            "--executor", "local", "--quiet", "--out", str(out)]  # fmt: skip
    for s in ("width=16", "batch_size=32", "eval_samples=200", "steps=4", "eval_every=2"):
        args += ["--set", s]
    assert cli_main(args) == 0
    capsys.readouterr()
    import json

    recorded = [Family.from_dict(d) for d in json.loads((out / "study.json").read_text())["families"]]
    # the toy preset's two families, each kept to the cells this study runs (--variants)
    assert [(f.cells, f.baseline, f.metrics) for f in recorded] == [(("nsgan",), "wgan-gp", ("w1",)), (("nsgan",), "wgan-gp", ("modes_2500",))]
    stats = pd.read_csv(out / "report" / "stats.csv")
    assert list(stats["family"]) == [f.name for f in recorded] and (stats["family_size"] == 1).all()
    assert "recorded in study.json when the study was created, before it ran" in (out / "report" / "summary.md").read_text()


def test_a_declared_test_without_pairs_stays_in_holms_family_at_p_1():
    base = [0.10, 0.12, 0.11, 0.13, 0.09, 0.10, 0.12, 0.11]
    runs = _runs({"wgan-gp": base, "gan": [v + 0.1 for v in base]})  # nsgan declared but never ran
    t = family_tests(runs, [Family("f", ("gan", "nsgan"), "wgan-gp", ("w1",))]).set_index("cell")
    assert t["family_size"].eq(2).all() and t.loc["nsgan", "n_pairs"] == 0
    assert t.loc["gan", "p_holm"] == pytest.approx(2 * 2 / 256)  # Holm over the two declared tests, not over the one that ran


def test_every_run_of_a_cell_ending_non_finite_is_counted_not_hidden():
    from wgan_core.report.load import apply_failure_rule
    from wgan_core.report.tables import display_tables, summarize

    runs = pd.DataFrame({"run_id": list("abcd"), "dataset": ["d"] * 4, "cell": ["x", "x", "y", "y"], "seed": [0, 1, 0, 1],
                         "status": ["ok"] * 4, "fid": [30.0, 31.0, math.nan, math.nan], "nonfinite": ["", "", "fid", "fid"]})  # fmt: skip
    summary = summarize(apply_failure_rule(runs, "fid")).set_index("cell")
    assert summary.loc["y", "fid_failed"] == 2 and math.isnan(summary.loc["y", "fid_mean"]) and summary.loc["y", "fid_median"] == math.inf
    table, _ = display_tables(summary.reset_index())["d"]
    assert table.set_index("cell").loc["y", "FID failed"] == 2


def test_a_study_refuses_other_families_than_it_recorded(tmp_path, capsys):
    out = tmp_path / "study"
    base = ["study", "--preset", "toy", "--seeds", "1", "--variants", "nsgan,wgan-gp", "--datasets", "8gaussians", "--device", "cpu",
            "--executor", "local", "--quiet", "--no-report", "--out", str(out), "--set", "steps=2", "--set", "eval_every=2",
            "--set", "width=16", "--set", "eval_samples=100", "--descriptive"]  # fmt: skip
    assert cli_main(base) == 0
    f = tmp_path / "families.json"
    f.write_text('[{"name": "other", "cells": ["nsgan"], "baseline": "wgan-gp", "metrics": ["w1"]}]')
    before = (out / "study.json").read_text()
    capsys.readouterr()
    assert cli_main([*base, "--families", str(f)]) == 2
    err = capsys.readouterr().err
    assert "cannot change once it has started" in err and err.count("\n") == 1 and (out / "study.json").read_text() == before
