"""The speed tracker's interleaved comparison: the decision rule by hand, the schedule, bisection, bad input in one line."""

import math
import random
import subprocess
import sys
from pathlib import Path

import pytest
from torch.testing import assert_close

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import abtest  # noqa: E402
import compare  # noqa: E402
import probe  # noqa: E402
import throughput  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def test_signed_rank_null_distribution_by_hand():
    # n = 3: the 8 sign patterns give T+ = 0, 1, 2, 3, 3, 4, 5, 6
    assert abtest.signed_rank_null(3) == [1 / 8, 1 / 8, 1 / 8, 2 / 8, 1 / 8, 1 / 8, 1 / 8]
    p10 = abtest.signed_rank_null(10)
    assert len(p10) == 56 and math.isclose(sum(p10), 1.0)
    # the tabulated lower tail for n = 10 (Hollander & Wolfe, Table A.4): P(T+ <= 8) = 25/1024, P(T+ <= 9) = 33/1024
    assert math.isclose(sum(p10[:9]), 25 / 1024) and math.isclose(sum(p10[:10]), 33 / 1024)


def test_hodges_lehmann_and_its_interval_by_hand():
    # d = 1..10: the 55 Walsh averages; k = 8 (P(T+ <= 8) = 0.0244 <= 0.025), so the 9th smallest (3) and the 9th largest (8)
    estimate, low, high, coverage = abtest.hl_interval([float(i) for i in range(1, 11)], 0.95)
    assert (estimate, low, high) == (5.5, 3.0, 8.0)
    assert_close(coverage, 1 - 2 * 25 / 1024)
    # five values cannot give a 95% interval (the smallest two-sided level is 2/32): unbounded, said so
    assert abtest.hl_interval([0.1, 0.2, 0.3, 0.4, 0.5], 0.95)[1:] == (-math.inf, math.inf, 1.0)
    # ... but a 90% one: [min, max] of the Walsh averages at k = 0, coverage 1 - 2/32
    assert abtest.hl_interval([0.1, 0.2, 0.3, 0.4, 0.5], 0.90)[1:] == (0.1, 0.5, 1 - 2 / 32)


def test_the_interval_covers_the_centre_at_least_as_often_as_it_says():
    rng = random.Random(0)
    trials = 2000
    covered = sum(low <= 0.0 <= high for _ in range(trials)
                  for _, low, high, _ in [abtest.hl_interval([rng.gauss(0, 1) for _ in range(10)], 0.95)])
    assert covered / trials >= 0.94  # exact coverage 0.951; 2000 draws put the estimate within about 0.01 of it


@pytest.mark.parametrize("factor, verdict", [(1.10, "slower"), (0.80, "faster"), (1.01, "no change")])
def test_verdicts_on_constant_ratios(factor, verdict):
    a = [100.0 + i for i in range(10)]
    d = abtest.decide(a, [x * factor for x in a])
    assert d.verdict == verdict and math.isclose(d.ratio, factor) and math.isclose(d.low, factor) and math.isclose(d.high, factor)


@pytest.mark.parametrize("low, high, said", [
    (1.031, 1.2, "slower"), (0.8, 0.97, "faster"), (0.975, 1.025, "no change"), (0.95, 1.0, "not slower"),
    (0.99, 1.05, "undecided"), (0.9, 1.1, "undecided"), (1.0, 1.03, "undecided"), (0.97, 1.0, "not slower"),
])
def test_the_verdict_of_an_interval_against_a_3_percent_threshold(low, high, said):
    assert abtest.verdict(low, high, 0.03) == said


def test_noisy_rounds_are_undecided_and_only_a_whole_interval_beyond_the_threshold_is_slower():
    a = [100.0] * 10
    # ratios 0.95..1.15: the interval straddles 1.03, so neither slower nor no change
    d = abtest.decide(a, [100.0 * r for r in (0.95, 1.15, 1.0, 1.1, 0.97, 1.12, 1.05, 1.0, 1.08, 0.99)])
    assert d.verdict == "undecided" and d.low < 1.03 < d.high
    # every round 5-7% slower: the whole interval above 1.03
    d = abtest.decide(a, [100.0 * r for r in (1.05, 1.06, 1.07, 1.05, 1.06, 1.07, 1.05, 1.06, 1.07, 1.06)])
    assert d.verdict == "slower" and 1.03 < d.low <= 1.06 <= d.high <= 1.07
    with pytest.raises(ValueError, match="paired rounds"):
        abtest.decide([1.0, 2.0], [1.0])


def test_the_schedule_alternates_which_side_goes_first():
    assert abtest.turn_orders(0, 3) == [("A", "B"), ("B", "A"), ("A", "B")]
    assert abtest.turn_orders(1, 3) == [("B", "A"), ("A", "B"), ("B", "A")]  # over two rounds each side goes first 3 times


def test_the_injected_work_is_the_fraction_of_a_steady_steps_median_after_every_timed_step(monkeypatch):
    spun = []
    monkeypatch.setattr(probe, "spin", spun.append)

    class Fake:
        device = type("D", (), {"type": "cpu"})()

        def step(self):
            pass

    # five steady steps of 4, 2, 2, 3, 2 ms: median 2 ms, so F = 0.25 adds 0.5 ms of busy work
    times = iter([0.0, 0.004, 0.010, 0.012, 0.020, 0.022, 0.030, 0.033, 0.040, 0.042] + [1.0 + i for i in range(10)])
    monkeypatch.setattr(probe.time, "perf_counter", lambda: next(times))
    extra = probe.injected_seconds(Fake(), 0.25)
    assert extra == pytest.approx(0.25 * 0.002) and spun == []  # the base steps carry no busy work
    probe.timed_steps(Fake(), warmup=0, steps=2, extra=extra)
    assert spun == [pytest.approx(0.0005)] * 2  # after every timed step
    assert probe.injected_seconds(Fake(), 0.0) == 0.0  # nothing timed, nothing added without --inject


def _repo(tmp_path: Path, n: int) -> tuple[Path, list[str]]:
    repo = tmp_path / "repo"
    repo.mkdir()
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"]
    subprocess.run([*git, "init", "-q"], check=True)
    shas = []
    for i in range(n):
        subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", f"c{i}"], check=True)
        shas.append(subprocess.run([*git, "rev-parse", "HEAD"], check=True, capture_output=True, text=True).stdout.strip())
    return repo, shas


@pytest.mark.parametrize("first_slow", [1, 4, 7])
def test_bisect_finds_the_first_commit_slower_than_good_in_few_comparisons(tmp_path, first_slow):
    repo, shas = _repo(tmp_path, 8)
    asked = []

    def run(base, head):
        asked.append(head)
        assert base == shas[0]  # every step compares with GOOD itself
        return shas.index(head) >= first_slow

    assert compare.bisect(shas[0], shas[-1], run, repo=repo, progress=lambda m: None) == shas[first_slow]
    assert len(asked) <= 1 + math.ceil(math.log2(7))  # BAD first, then halving the 7 commits
    assert compare.bisect(shas[0], shas[-1], lambda b, h: False, repo=repo, progress=lambda m: None) is None
    with pytest.raises(compare.CompareError, match="not a descendant"):
        compare.bisect(shas[-1], shas[0], run, repo=repo)


def test_a_source_tree_is_timed_as_it_is_and_an_unknown_commit_is_named(tmp_path):
    assert compare.resolve(str(ROOT)).tree == ROOT
    with pytest.raises(compare.CompareError, match="unknown commit 'no-such-commit'"):
        compare.resolve("no-such-commit")
    with pytest.raises(compare.CompareError, match="a folder without wgan_core"):
        compare.resolve(str(tmp_path))


@pytest.mark.parametrize("args, message", [
    (["--compare", "HEAD", ".", "--variants", "wgan-xx"], "--variants: unknown wgan-xx; allowed: gan,"),
    (["--compare", "HEAD", ".", "--rounds", "5"], "--rounds: too few for a bounded 95% interval (6 for 95%, 8 for 99%), got 5"),
    (["--compare", "HEAD", ".", "--threshold", "1.5"], "--threshold: a fraction in (0, 1), got 1.5"),
    (["--compare", "HEAD", ".", "--width", "1,x"], "--width: integers, comma-separated, got '1,x'"),
    (["--compare", "no-such-commit", "HEAD"], "--compare: unknown commit 'no-such-commit'"),
])
def test_bad_input_is_one_line_exit_2_and_nothing_recorded(tmp_path, capsys, args, message):
    assert throughput.main([*args, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"throughput.py: error: {message}") and err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow  # a subprocess or end-to-end run: nox -s slow (CI runs it)
def test_a_side_that_cannot_run_the_configuration_is_refused_before_anything_is_timed(tmp_path, capsys):
    tree = tmp_path / "old"
    (tree / "wgan_core").mkdir(parents=True)
    (tree / "wgan_core" / "__init__.py").write_text(
        "class RunConfig:\n    @staticmethod\n    def preset(variant, dataset, **fields):\n"
        "        raise ValueError(f'unknown variant {variant}')\n\nclass Trainer:\n    pass\n")
    code = throughput.main(["--compare", str(ROOT), str(tree), "--width", "8", "--batch", "8", "--out", str(tmp_path / "rec")])
    assert code == 2
    err = capsys.readouterr().err
    assert err == "throughput.py: error: old cannot run wgan-gp mlp w8 b8 nc5 fp32 1t: ValueError: unknown variant wgan-gp\n"
    assert not (tmp_path / "rec").exists()


@pytest.mark.slow
def test_compare_end_to_end_catches_an_injected_slowdown_and_records_it(tmp_path, capsys):
    out = tmp_path / "rec"
    args = ["--compare", "HEAD", str(ROOT), "--variants", "gan", "--width", "8", "--batch", "8", "--rounds", "6", "--steps", "5",
            "--warmup", "2", "--out", str(out)]
    assert throughput.main([*args, "--inject-slowdown", "1.0"]) == 1  # B does twice the work: slower, exit 1
    import csv

    (rec,) = list(csv.DictReader((out / "compare.csv").open()))
    assert rec["verdict"] == "slower" and float(rec["ci_low"]) > 1.03 and rec["inject"] == "1.0" and rec["rounds"] == "6"
    blocks = list(csv.DictReader((out / "compare_blocks.csv").open()))
    assert [(b["round"], b["side"]) for b in blocks][:4] == [("0", "A"), ("0", "B"), ("1", "A"), ("1", "B")] and len(blocks) == 12
    assert {b["steps"] for b in blocks} == {"5"}
    assert "slower: B/A" in capsys.readouterr().out


def test_calibration_summary_counts_verdicts_by_todays_rule_and_the_old_rule(tmp_path):
    import csv

    import calibrate

    def rec(date, inject, low, high, verdict="undecided"):
        r = dict.fromkeys(compare.RECORD, "")
        r.update(date=date, inject=inject, ci_low=low, ci_high=high, ratio=(low + high) / 2, threshold=0.03, verdict=verdict)
        return r

    records = [rec("d1", 0.0, 0.98, 1.02), rec("d1", 0.0, 0.95, 1.01), rec("d2", 0.0, 1.01, 1.05),  # no change, not slower, undecided
               rec("d3", 0.1, 1.06, 1.14), rec("d3", 0.1, 1.02, 1.12)]  # slower (recorded as undecided), undecided
    for name, cols, rows in (("compare.csv", compare.RECORD, records), ("compare_blocks.csv", compare.BLOCK, [])):
        with (tmp_path / name).open("w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=cols)
            w.writeheader()
            w.writerows(rows)
    with (tmp_path / "compare_blocks.csv").open("a", newline="") as f:  # two A/A rounds: B/A 1.2 (flagged) and 1.05
        w = csv.DictWriter(f, fieldnames=compare.BLOCK)
        for rnd, (a, b) in enumerate(((10.0, 12.0), (10.0, 10.5))):
            w.writerow({**dict.fromkeys(compare.BLOCK, ""), "date": "d1", "variant": "gan", "width": "8", "round": rnd, "side": "A",
                        "median_ms": a})
            w.writerow({**dict.fromkeys(compare.BLOCK, ""), "date": "d1", "variant": "gan", "width": "8", "round": rnd, "side": "B",
                        "median_ms": b})
    rows, old = calibrate.summary(tmp_path)
    aa, power = rows
    assert (aa["comparisons"], aa["decisions"], aa["slower"], aa["no_change"], aa["not_slower"], aa["undecided"]) == (2, 3, 0, 1, 1, 1)
    assert (power["decisions"], power["slower"], power["undecided"], power["slower_share"]) == (2, 1, 1, 0.5)
    assert aa["slower_ci_low"] == 0.0 and math.isclose(aa["slower_ci_high"], 1 - 0.025 ** (1 / 3), abs_tol=1e-4)  # Clopper-Pearson, 0 of 3
    assert (old["single_round_ratios"], old["flagged"], old["flagged_share"]) == (2, 1, 0.5)
