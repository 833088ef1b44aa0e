"""The speed tracker's interleaved comparison: the decision rule by hand, the schedule, bisection, bad input in one line."""

import csv
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
    assert abtest.signed_rank_null(3) == (1 / 8, 1 / 8, 1 / 8, 2 / 8, 1 / 8, 1 / 8, 1 / 8)
    p10 = abtest.signed_rank_null(10)
    assert len(p10) == 56 and math.isclose(sum(p10), 1.0)
    # the tabulated lower tail for n = 10 (Hollander & Wolfe, Table A.4): P(T+ <= 8) = 25/1024, P(T+ <= 9) = 33/1024
    assert math.isclose(sum(p10[:9]), 25 / 1024) and math.isclose(sum(p10[:10]), 33 / 1024)
    assert abtest.rank_for_tail(10, 0.025) == (8, pytest.approx(25 / 1024))
    assert abtest.rank_for_tail(8, 1 / 512) == (-1, 0.0)  # even T+ = 0 has 1/256: no bound at that error


def test_the_spending_function_by_hand():
    # Lan-DeMets, Pocock type over 64 rounds: alpha ln(1 + (e - 1) n / 64); all of alpha at 64 and nothing more after
    assert_close(abtest.spending(8, 0.05), 0.05 * math.log(1 + (math.e - 1) / 8))
    assert_close(abtest.spending(64, 0.05), 0.05) and abtest.spending(200, 0.05) == abtest.spending(64, 0.05)
    spent = [abtest.spending(n, 0.05) for n in abtest.LOOKS]
    assert spent == sorted(spent) and abtest.next_look(64) is None and abtest.next_look(12) == 16 and abtest.next_look(0) == 8


def test_the_first_looks_bounds_by_hand():
    # d = 1..8: the first look may spend alpha(8) = 0.00974, so k = 1 (P(T+ <= 1) = 2/256): the 2nd smallest and 2nd largest
    # of the 36 Walsh averages, 1.5 and 7.5
    (look,) = abtest.looks([float(i) for i in range(1, 9)], 0.05)
    assert (look.rounds, look.low, look.high) == (8, 1.5, 7.5) and look.spent == pytest.approx(2 / 256)
    # ten configurations share alpha: 0.005 each, and alpha(8) = 0.00097 is below 1/256, so the first look has no bound;
    # the one at 12 rounds may spend alpha(12) = 0.0014: k = 3 (P(T+ <= 3) = 5/4096; 4 would be 7/4096)
    first, second = abtest.looks([float(i) for i in range(1, 13)], 0.005)
    assert (first.low, first.high, first.spent) == (-math.inf, math.inf, 0.0)
    assert second.spent == pytest.approx(5 / 4096) and second.low == abtest.walsh_averages([float(i) for i in range(1, 13)])[3]


def test_every_look_holds_together_at_the_error_spent():
    # Union bound: the chance that any look's lower bound lies above the true centre is at most alpha (0.05), however
    # many looks; 1000 sequences of 64 normal rounds put the estimate within 0.021 (3 standard errors) of 0.05 at most.
    # Spending all of alpha at every look instead misses in 0.143 of these 1000 (0.029 with the spending function).
    rng = random.Random(0)
    missed = sum(any(look.low > 0 for look in abtest.looks([rng.gauss(0, 1) for _ in range(64)], 0.05)) for _ in range(1000))
    assert missed / 1000 <= 0.05 + 0.021


@pytest.mark.parametrize("factor, verdict, detail", [(1.10, "slower", ""), (0.80, "pass", "faster"), (1.01, "pass", "no change")])
def test_verdicts_on_constant_ratios(factor, verdict, detail):
    a = [100.0 + i for i in range(8)]
    d = abtest.decide(a, [x * factor for x in a])
    assert (d.verdict, d.detail, d.looked) == (verdict, detail, 8)
    assert math.isclose(d.ratio, factor) and math.isclose(d.low, factor) and math.isclose(d.high, factor)
    # before the first look nothing is decided, whatever the rounds say
    early = abtest.decide(a[:7], [x * factor for x in a[:7]])
    assert (early.verdict, early.looked, early.low, early.high) == ("inconclusive", 0, 0.0, math.inf)


@pytest.mark.parametrize("low, high, said", [
    (1.031, 1.2, ("slower", "")), (0.8, 0.97, ("pass", "faster")), (0.975, 1.025, ("pass", "no change")),
    (0.95, 1.0, ("pass", "not slower")), (0.99, 1.05, ("inconclusive", "")), (0.9, 1.1, ("inconclusive", "")),
    (1.0, 1.03, ("pass", "no change")), (1.02, 1.031, ("inconclusive", "")),
])
def test_the_verdict_of_bounds_against_a_3_percent_tolerance(low, high, said):
    assert abtest.judge(low, high, 0.03) == said


def test_noisy_rounds_are_inconclusive_with_the_slowdown_not_excluded_and_a_verdict_once_reached_stays():
    a = [100.0] * 8
    d = abtest.decide(a, [100.0 * r for r in (0.95, 1.15, 1.0, 1.1, 0.97, 1.12, 1.05, 1.0)])
    assert d.verdict == "inconclusive" and d.low < 1.03 < d.high
    assert f"B may be up to {100 * (d.high - 1):.1f}% slower" in d.describe()
    # 8 rounds 10% slower, then 8 the same: the look at 16 alone would not say slower, the running intersection does
    slow = [110.0] * 8 + [100.0] * 8
    assert abtest.decide([100.0] * 16, slow).verdict == "slower"
    alone = abtest.looks([math.log(b / 100.0) for b in slow], 0.05)[-1]
    assert math.exp(alone.low) <= 1.03
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
    times = iter([0.0, 0.004, 0.010, 0.012, 0.020, 0.022, 0.030, 0.033, 0.040, 0.042] + [1.0 + i for i in range(14)])
    monkeypatch.setattr(probe.time, "perf_counter", lambda: next(times))
    extra = probe.injected_seconds(Fake(), 0.25)
    assert extra == pytest.approx(0.25 * 0.002) and spun == []  # the base steps carry no busy work
    probe.timed_steps(Fake(), warmup=0, steps=2, extra=extra)
    assert spun == [pytest.approx(0.0005)] * 2  # after every timed step
    steps_before = len(spun)
    assert probe.injected_seconds(Fake(), 0.0) == 0.0 and len(spun) == steps_before  # nothing added without --inject ...
    with pytest.raises(StopIteration):  # ... but the 5 steady steps were taken (10 clock reads), as on the injected side
        next(times)


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
        return "slower" if shas.index(head) >= first_slow else "pass"

    assert compare.bisect(shas[0], shas[-1], run, repo=repo, progress=lambda m: None) == (shas[first_slow], None)
    assert len(asked) <= 1 + math.ceil(math.log2(7))  # BAD first, then halving the 7 commits
    assert compare.bisect(shas[0], shas[-1], lambda b, h: "pass", repo=repo, progress=lambda m: None) == (None, None)
    # an inconclusive step stops the search, naming it and the slower commit found so far (no guess either way)
    assert compare.bisect(shas[0], shas[-1], lambda b, h: "inconclusive", repo=repo, progress=lambda m: None) == (None, shas[-1])
    maybe = lambda b, h: "slower" if h == shas[-1] else "inconclusive"  # noqa: E731
    assert compare.bisect(shas[0], shas[-1], maybe, repo=repo, progress=lambda m: None) == (shas[-1], shas[3])
    with pytest.raises(compare.CompareError, match="not a descendant"):
        compare.bisect(shas[-1], shas[0], run, repo=repo)


def test_a_source_tree_is_timed_as_it_is_and_an_unknown_commit_is_named(tmp_path):
    assert compare.resolve(str(ROOT)).tree == ROOT
    with pytest.raises(compare.CompareError, match="unknown commit 'no-such-commit'"):
        compare.resolve("no-such-commit")
    with pytest.raises(compare.CompareError, match="a folder without wgan_core"):
        compare.resolve(str(tmp_path))


def test_a_changed_tree_is_named_by_its_change(tmp_path):
    repo, _ = _repo(tmp_path, 1)
    (repo / "wgan_core").mkdir()
    init = repo / "wgan_core" / "__init__.py"
    init.write_text("x = 1\n")
    subprocess.run(["git", "-C", str(repo), "add", "."], check=True)
    subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "c"], check=True)
    clean = compare.resolve(str(repo)).name
    assert "+" not in clean and len(clean) == 7
    init.write_text("x = 2\n")
    two = compare.resolve(str(repo)).name
    init.write_text("x = 3\n")
    three = compare.resolve(str(repo)).name
    # two different changes are two sides (a resumed sequence must not mix them); the same change, the same name
    assert two.startswith(clean + "+") and three.startswith(clean + "+") and two != three
    init.write_text("x = 2\n")
    assert compare.resolve(str(repo)).name == two
    (repo / "README.md").write_text("docs\n")  # outside wgan_core/: not the library timed
    assert compare.resolve(str(repo)).name == two


@pytest.mark.parametrize("args, message", [
    (["--compare", "HEAD", ".", "--variants", "wgan-xx"], "--variants: unknown wgan-xx; allowed: gan,"),
    (["--compare", "HEAD", ".", "--budget", "5"], "--budget: rounds (at least 8, e.g. 48) or minutes (e.g. 6m), got '5'"),
    (["--compare", "HEAD", ".", "--budget", "0m"], "--budget: rounds (at least 8, e.g. 48) or minutes (e.g. 6m), got '0m'"),
    (["--compare", "HEAD", ".", "--max-slowdown", "1.5"], "--max-slowdown: a fraction in (0, 1), got 1.5"),
    (["--compare", "HEAD", ".", "--ensemble", "1"], "--ensemble: at least 2 members (0 = a single run), got 1"),
    (["--compare", "HEAD", ".", "--width", "1,x"], "--width: integers, comma-separated, got '1,x'"),
    (["--compare", "no-such-commit", "HEAD", "--allow-dirty"], "--compare: unknown commit 'no-such-commit'"),
    (["--drift", "0"], "--drift: N commits back, at least 1, got 0"),
    (["--drift", "100000"], "--drift: HEAD has fewer than 100000 commits before it"),
])
def test_bad_input_is_one_line_exit_2_and_nothing_recorded(tmp_path, capsys, args, message):
    assert throughput.main([*args, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"throughput.py: error: {message}") and err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


def test_a_harness_with_uncommitted_changes_is_refused_unless_allowed(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(compare, "harness_name", lambda: "abc1234+5d41402")
    assert throughput.main(["--compare", "HEAD", "HEAD", "--out", str(tmp_path)]) == 2
    assert "the harness (benchmarks/ of" in capsys.readouterr().err and list(tmp_path.iterdir()) == []
    _fake_rounds(monkeypatch, {"wgan-gp": 1.0})
    assert throughput.main(["--compare", "HEAD", "HEAD", "--out", str(tmp_path), "--allow-dirty"]) == 0
    (rec,) = list(csv.DictReader((tmp_path / "compare.csv").open()))
    assert rec["harness"] == "abc1234+5d41402"  # recorded as such


def _fake_rounds(monkeypatch, ratio: dict[str, float], calls: list | None = None, noise: float = 0.0) -> None:
    """measure_round replaced: each configuration's B takes ratio[variant] times A's time (a slower one times a seeded wobble)."""
    rng = random.Random(1)

    def measure_round(a, b, configs, probe, r, inject):
        if calls is not None:
            calls.append((r, [c["variant"] for c in configs]))
        rows = []
        for i, c in enumerate(configs):
            wobble = math.exp(rng.gauss(0, noise)) if noise and ratio[c["variant"]] != 1.0 else 1.0
            rows += [dict(config=i, round=r, side="A", commit=a.name, median_ms=10.0, min_ms=9.0, max_ms=11.0, inject_ms=0.0),
                     dict(config=i, round=r, side="B", commit=b.name, median_ms=10.0 * ratio[c["variant"]] * wobble, min_ms=9.0,
                          max_ms=11.0, inject_ms=0.0)]
        return rows

    monkeypatch.setattr(compare, "measure_round", measure_round)


def test_exit_codes_pass_slower_and_inconclusive(tmp_path, monkeypatch, capsys):
    args = ["--compare", "HEAD", "HEAD", "--variants", "gan,wgan-gp", "--allow-dirty", "--no-record"]
    _fake_rounds(monkeypatch, {"gan": 1.0, "wgan-gp": 0.99})
    assert throughput.main(args) == 0
    _fake_rounds(monkeypatch, {"gan": 1.0, "wgan-gp": 1.08})
    assert throughput.main(args) == 1
    # 4% slower with rounds that wobble by 6%: neither excluded nor shown within 48 rounds; never a pass
    _fake_rounds(monkeypatch, {"gan": 1.0, "wgan-gp": 1.04}, noise=0.06)
    assert throughput.main(args) == 3
    out = capsys.readouterr().out
    assert "inconclusive: B may be up to" in out and "more rounds decide it (the recorded rounds are resumed)" in out
    assert "--budget 64" in out.splitlines()[-1] and out.count("--budget") == 1


def test_a_second_compare_resumes_the_sequence_and_cannot_wash_a_slowdown_out(tmp_path, monkeypatch, capsys):
    calls = []
    args = ["--compare", "HEAD", "HEAD", "--variants", "gan,wgan-gp", "--allow-dirty", "--out", str(tmp_path)]
    _fake_rounds(monkeypatch, {"gan": 1.0, "wgan-gp": 1.10}, calls)
    assert throughput.main([*args, "--budget", "8"]) == 1  # wgan-gp slower; gan passes
    assert [r for r, _ in calls] == list(range(8)) and all(v == ["gan", "wgan-gp"] for _, v in calls)
    # the same pair again, now measuring B as fast as A: the recorded slowdown stays, nothing new is measured
    calls.clear()
    _fake_rounds(monkeypatch, {"gan": 1.0, "wgan-gp": 1.0}, calls)
    assert throughput.main([*args, "--budget", "48"]) == 1 and calls == []
    recs = list(csv.DictReader((tmp_path / "compare.csv").open()))
    assert [(r["variant"], r["verdict"], r["rounds"], r["new_rounds"]) for r in recs] == [
        ("gan", "pass", "8", "8"), ("wgan-gp", "slower", "8", "8"), ("gan", "pass", "8", "0"), ("wgan-gp", "slower", "8", "0")]
    # an undecided configuration is resumed where it stopped: only it is measured, from round 8 to the next look
    calls.clear()
    _fake_rounds(monkeypatch, {"gan": 1.0, "nsgan": 1.04}, calls, noise=0.06)
    nsgan = ["--compare", "HEAD", "HEAD", "--variants", "gan,nsgan", "--allow-dirty", "--out", str(tmp_path / "b")]
    assert throughput.main([*nsgan, "--budget", "8"]) == 3
    first = len(calls)
    assert throughput.main([*nsgan, "--budget", "12"]) in (1, 3)
    assert [(r, v) for r, v in calls[first:]] == [(r, ["nsgan"]) for r in range(8, 12)]
    blocks = list(csv.DictReader((tmp_path / "b" / "compare_blocks.csv").open()))
    assert sorted(int(b["round"]) for b in blocks if b["variant"] == "nsgan" and b["side"] == "B") == list(range(12))


def test_a_budget_in_minutes_stops_before_a_look_it_cannot_reach(tmp_path, monkeypatch):
    clock = [0.0]
    monkeypatch.setattr(compare.time, "monotonic", lambda: clock[0])
    calls = []
    _fake_rounds(monkeypatch, {"nsgan": 1.04}, calls, noise=0.06)
    inner = compare.measure_round

    def ten_seconds(*args):  # every round takes 10 s of the fake clock
        clock[0] += 10.0
        return inner(*args)

    monkeypatch.setattr(compare, "measure_round", ten_seconds)
    args = ["--compare", "HEAD", "HEAD", "--variants", "nsgan", "--allow-dirty", "--no-record", "--budget", "2m"]
    # 8 rounds take 80 s; the look at 12 ends at 120 s, within 2 min; the one at 16 would end at 160 s: not started
    assert throughput.main(args) == 3 and len(calls) == 12


def test_bisect_judges_every_configuration(tmp_path, monkeypatch, capsys):
    repo, shas = _repo(tmp_path, 6)  # GOOD and five commits after it; the 3rd of them slows only wgan-gp

    def run_compare(base, head, configs, probe, budget, max_slowdown, alpha, out=None, allow_dirty=False, repo=None, progress=None):
        slow = shas.index(head) >= 3
        return [(c, abtest.decide([10.0] * 8, [10.0 * (1.1 if slow and c["variant"] == "wgan-gp" else 1.0)] * 8)) for c in configs]

    monkeypatch.setattr(compare, "run_compare", run_compare)
    assert throughput.main(["--bisect", shas[0], shas[-1], "--variants", "gan,wgan-gp", "--repo", str(repo), "--no-record"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == f"first commit slower than {shas[0]}: {shas[3][:7]}"


def test_drift_compares_head_with_the_commit_n_back(tmp_path, monkeypatch):
    repo, shas = _repo(tmp_path, 4)
    assert compare.anchor("2", repo) == shas[1][:7] and compare.anchor("v1.0", repo) == "v1.0"
    seen = []
    monkeypatch.setattr(compare, "run_compare", lambda base, head, configs, *a, **k: seen.append((base, head)) or
                        [(c, abtest.decide([1.0] * 8, [1.0] * 8)) for c in configs])
    assert throughput.main(["--drift", "3", "--repo", str(repo), "--no-record"]) == 0
    assert seen == [(shas[0][:7], "HEAD")]


def test_a_compare_says_whether_this_machine_kind_is_calibrated(tmp_path):
    (tmp_path / "kind").mkdir()
    (tmp_path / "kind" / "summary.csv").write_text("host,category\nAMD EPYC flags:1234abcd,same commit\n")
    assert "no calibration recorded for this machine kind (Other CPU)" in compare.calibration_note("Other CPU", tmp_path)
    assert compare.calibration_note("AMD EPYC flags:1234abcd", tmp_path).startswith("calibrated on this machine kind")


def test_the_probe_builds_a_seed_ensemble_for_ensemble_configurations():
    from wgan_core.training.ensemble import Ensemble

    (c,) = compare.configurations(["wgan-gp"], "mlp", [8], 8, 28, "none", ensemble=3)
    built = probe.build(c, "cpu")
    assert isinstance(built, Ensemble) and built.size == 3
    assert [m.config.seed for m in built.members] == [0, 1, 2]
    assert len(probe.timed_steps(built, 1, 2)) == 2
    assert compare.label(c, compare.Probe()) == "wgan-gp mlp w8 b8 nc5 fp32 1t S=3"


@pytest.mark.slow  # a subprocess or end-to-end run: nox -s slow (CI runs it)
def test_a_side_that_cannot_run_the_configuration_is_refused_before_anything_is_timed(tmp_path, capsys):
    tree = tmp_path / "old"
    (tree / "wgan_core").mkdir(parents=True)
    (tree / "wgan_core" / "__init__.py").write_text(
        "class RunConfig:\n    @staticmethod\n    def preset(variant, dataset, **fields):\n"
        "        raise ValueError(f'unknown variant {variant}')\n\nclass Trainer:\n    pass\n")
    code = throughput.main(["--compare", str(ROOT), str(tree), "--width", "8", "--batch", "8", "--out", str(tmp_path / "rec"),
                            "--allow-dirty"])
    assert code == 2
    err = capsys.readouterr().err
    name = f"old+{compare.content_hash(tree)}"  # a tree git cannot name: its folder and a hash of its wgan_core/
    assert err == f"throughput.py: error: {name} cannot run wgan-gp mlp w8 b8 nc5 fp32 1t: ValueError: unknown variant wgan-gp\n"
    assert not (tmp_path / "rec").exists()


@pytest.mark.slow
def test_compare_end_to_end_catches_an_injected_slowdown_and_records_it(tmp_path, capsys):
    out = tmp_path / "rec"
    args = ["--compare", "HEAD", str(ROOT), "--variants", "gan", "--width", "8", "--batch", "8", "--budget", "8", "--steps", "5",
            "--warmup", "2", "--out", str(out), "--allow-dirty", "--ensemble", "3"]
    assert throughput.main([*args, "--inject-slowdown", "1.0"]) == 1  # B does twice the work: slower, exit 1
    (rec,) = list(csv.DictReader((out / "compare.csv").open()))
    assert rec["verdict"] == "slower" and float(rec["low"]) > 1.03 and rec["inject"] == "1.0" and rec["rounds"] == "8"
    assert rec["ensemble"] == "3" and rec["host"].startswith(rec["device_name"])
    blocks = list(csv.DictReader((out / "compare_blocks.csv").open()))
    assert [(b["round"], b["side"]) for b in blocks][:4] == [("0", "A"), ("0", "B"), ("1", "A"), ("1", "B")] and len(blocks) == 16
    assert {b["steps"] for b in blocks} == {"5"} and {b["started"] for b in blocks} == {rec["started"]}
    assert "slower: B is more than 3% slower" in capsys.readouterr().out


def test_calibration_summary_counts_comparisons_and_bounds_the_false_alarms(tmp_path):
    import calibrate

    def rec(started, variant, verdict, ratio=1.0, looked=8, seconds=60.0):
        r = dict.fromkeys(compare.RECORD, "")
        r.update(started=started, host="H", variant=variant, verdict=verdict, ratio=ratio, looked=looked, seconds=seconds)
        return r

    records = [rec("s1", "gan", "pass"), rec("s1", "nsgan", "pass"),  # same commit: passed
               rec("s2", "gan", "pass", seconds=300.0), rec("s2", "nsgan", "inconclusive", looked=48, seconds=300.0),  # same commit: inconclusive
               rec("s3", "gan", "slower", 1.1), rec("s3", "nsgan", "slower", 1.1)]  # inject 0.1: caught, one comparison
    for name, cols, rows in (("compare.csv", compare.RECORD, records), ("compare_blocks.csv", compare.BLOCK, [])):
        with (tmp_path / name).open("w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=cols)
            w.writeheader()
            w.writerows(rows)
    (tmp_path / "plan.csv").write_text("index,category,kind,started,head\n0,same commit,mlp-b64,s1,x\n"
                                       "1,same commit,mlp-b64,s2,x\n2,inject 0.1,mlp-b64,s3,x\n")
    same, power = calibrate.summary(tmp_path)
    assert (same["comparisons"], same["comparisons_slower"], same["comparisons_inconclusive"], same["comparisons_passed"]) == (2, 0, 1, 1)
    assert same["slower_ci_low"] == 0.0 and math.isclose(same["slower_ci_high"], 1 - 0.025 ** (1 / 2), abs_tol=1e-4)  # 0 of 2
    assert (same["median_seconds"], same["max_seconds"], same["decisions_inconclusive"]) == (180.0, 300.0, 1)
    assert (power["category"], power["comparisons_slower"], power["decisions_slower"]) == ("inject 0.1", 1, 2)
    # the plan spreads every category over the run and rotates the configuration kinds
    items = calibrate.plan({"same commit": 6, "inject 0.05": 2})
    assert [i.category for i in items] == ["same commit", "inject 0.05", "same commit", "same commit", "same commit",
                                           "inject 0.05", "same commit", "same commit"]
    assert [i.kind for i in items if i.category == "same commit"] == ["mlp-b64", "mlp-b256", "dcgan-b64"] * 2


def test_the_resampled_power_curve_reads_the_looks_as_compare_does():
    import calibrate

    rng = random.Random(3)
    for shift in (0.0, 0.03, 0.05, 0.10):
        d = [shift + rng.gauss(0, 0.03) for _ in range(48)]
        said = "inconclusive"
        for n in (n for n in abtest.LOOKS if n <= 48):  # what repeated --compare commands would print, look by look
            said = abtest.decide([1.0] * n, [math.exp(x) for x in d[:n]]).verdict
            if said != "inconclusive":
                break
        assert calibrate.sequential_verdict(d) == said


def test_the_looks_never_spend_more_than_the_spending_function_releases():
    rng = random.Random(5)
    for alpha in (0.05, 0.05 / 3, 0.005):
        d = [rng.gauss(0, 1) for _ in range(64)]
        spent = 0.0
        for look in abtest.looks(d, alpha):
            spent += look.spent
            assert spent <= abtest.spending(look.rounds, alpha) * (1 + 1e-9)
        assert spent > 0.5 * alpha  # and most of it is used by the end (the exact tails are discrete)


def test_bounds_that_contradict_each_other_are_no_verdict():
    assert abtest.judge(1.10, 1.007, 0.03) == ("inconclusive", "contradictory")
    assert abtest.judge(0.95, 0.90, 0.03) == ("inconclusive", "contradictory")


def test_a_resumed_sequence_keeps_its_error_share_so_more_configurations_cannot_take_a_verdict_back(tmp_path, monkeypatch):
    calls = []
    out = ["--allow-dirty", "--out", str(tmp_path)]
    _fake_rounds(monkeypatch, {"wgan-gp": 1.10}, calls)
    assert throughput.main(["--compare", "HEAD", "HEAD", "--variants", "wgan-gp", "--budget", "8", *out]) == 1
    # three configurations now (alpha / 3 each): the recorded sequence is judged at the share it started with, alpha / 1,
    # so wgan-gp stays slower and is not measured again; the two new ones start at alpha / 3
    calls.clear()
    _fake_rounds(monkeypatch, {"gan": 1.0, "nsgan": 1.0, "wgan-gp": 1.0}, calls)
    assert throughput.main(["--compare", "HEAD", "HEAD", "--variants", "gan,nsgan,wgan-gp", *out]) == 1
    assert all("wgan-gp" not in v for _, v in calls)
    blocks = list(csv.DictReader((tmp_path / "compare_blocks.csv").open()))
    assert {b["alpha"] for b in blocks if b["variant"] == "wgan-gp"} == {"0.05"}
    assert {b["alpha"] for b in blocks if b["variant"] != "wgan-gp"} == {f"{0.05 / 3:.6g}"}


def test_an_earlier_slower_sequence_of_the_pair_stands_under_another_setting(tmp_path, monkeypatch, capsys):
    out = ["--compare", "HEAD", "HEAD", "--allow-dirty", "--out", str(tmp_path)]
    _fake_rounds(monkeypatch, {"wgan-gp": 1.10})
    assert throughput.main([*out, "--budget", "8"]) == 1
    _fake_rounds(monkeypatch, {"wgan-gp": 1.0})
    assert throughput.main([*out, "--budget", "8", "--steps", "10"]) == 1  # a fresh sequence (another setting) passes ...
    said = capsys.readouterr().out
    assert "slower: an earlier sequence of this pair said so (recorded" in said and "20 steps" in said  # ... the earlier one stands
    assert [r["verdict"] for r in csv.DictReader((tmp_path / "compare.csv").open())] == ["slower", "pass"]  # each as measured


def test_a_closed_inconclusive_sequence_says_it_is_final(tmp_path, monkeypatch, capsys):
    _fake_rounds(monkeypatch, {"wgan-gp": 1.03}, noise=0.05)
    args = ["--compare", "HEAD", "HEAD", "--allow-dirty", "--out", str(tmp_path), "--budget", "64"]
    assert throughput.main(args) == 3
    out = capsys.readouterr().out
    assert "inconclusive, and final: every undecided sequence has spent its 64 rounds" in out and "--budget 64" not in out


def test_trees_git_cannot_name_are_named_by_their_content(tmp_path):
    for where, text in (("a", "x = 1\n"), ("b", "x = 2\n"), ("c", "x = 1\n")):
        (tmp_path / where / "wgan" / "wgan_core").mkdir(parents=True)
        (tmp_path / where / "wgan" / "wgan_core" / "__init__.py").write_text(text)
    a, b, c = (compare.resolve(str(tmp_path / w / "wgan")).name for w in "abc")
    assert a.startswith("wgan+") and a != b and a == c  # one folder name, two contents: two sides; the same content: one
