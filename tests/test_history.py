"""--check-history on hand-made speed histories with known answers: who is flagged, what is compared with what, in which order."""

import csv
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import compare  # noqa: E402
import history  # noqa: E402
import history_plots  # noqa: E402
import throughput  # noqa: E402

XEON, EPYC = "Intel(R) Xeon(R) Processor", "AMD EPYC"


def row(commit: str, ms: float, machine: str = XEON, variant: str = "wgan-gp", width: int = 128, ms_min: float | None = None,
        ensemble: int | str = "", member: float | str = "") -> dict:
    """One throughput CSV row (all of throughput.COLUMNS) of an MLP measured on the CPU."""
    r = dict.fromkeys(throughput.COLUMNS, "")
    r.update(variant=variant, arch="mlp", resolution=0, width=width, batch=256, n_critic=5 if variant.startswith("wgan") else 1,
             device="cpu", dtype="fp32", channels_last=False, compile=False, ms_per_gen_iter=ms,
             ms_per_gen_iter_min=ms if ms_min is None else ms_min, ms_per_gen_iter_max=1.2 * ms, images_per_s=round(256e3 / ms, 1),
             peak_mem_mb=100.0, timed_iters=10, torch="2.x", device_name=machine, cpu=machine, threads=1, git_commit=commit,
             date="2026-12-01T00:00:00+00:00", ensemble=ensemble, ensemble_ms_per_member_iter=member)
    return r


def write(path: Path, rows: list[dict]) -> Path:
    with path.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=throughput.COLUMNS)
        w.writeheader()
        w.writerows(rows)
    return path


def slower_lines(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith("SLOWER")]


def unsettled_lines(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith("not enough evidence")]


def record(base: str, head: str, verdict: str, ratio: float, machine: str = XEON, variant: str = "wgan-gp", width: int = 128,
           low: float | None = None, high: float | None = None, ensemble: int = 0) -> dict:
    """One compare.csv row (benchmarks/compare.py RECORD) of the configuration row() measures."""
    r = dict.fromkeys(compare.RECORD, "")
    r.update(date="2026-12-04T00:00:00+00:00", device="cpu", device_name=machine, variant=variant, arch="mlp", resolution=0,
             width=width, batch=256, n_critic=5 if variant.startswith("wgan") else 1, dtype="fp32", channels_last=False,
             compile=False, threads=1, base=base, head=head, verdict=verdict, ratio=ratio, low=low or ratio - 0.02,
             high=high or ratio + 0.02, max_slowdown=0.03, looked=16, rounds=16, host=machine, ensemble=ensemble)
    return r


def records(folder: Path, rows: list[dict]) -> None:
    with (folder / "compare.csv").open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=compare.RECORD)
        w.writeheader()
        w.writerows(rows)


# Commit names that are no abbreviation of any real commit (not hexadecimal): git knows none, so the order is the append order.
def test_rows_thirty_percent_slower_ask_for_a_compare_and_only_a_confirmed_regression_is_red(tmp_path, capsys):
    csv_path = write(tmp_path / "cpu.csv", [
        row("old-1", 100.0), row("old-1", 100.0, variant="gan"),
        row("new-2", 130.0), row("new-2", 102.0, variant="gan"),
    ])
    # rows alone (one per commit, measured at different times) never turn the history red: they ask for a compare
    assert throughput.main(["--check-history", str(csv_path)]) == 0
    out = capsys.readouterr().out
    assert slower_lines(out) == []
    assert unsettled_lines(out) == [f"not enough evidence: cpu {XEON} | wgan-gp mlp w128 b256 nc5 fp32 1t: old-1 -> new-2 +30.0% in rows"]
    assert ("to decide, on this machine: python benchmarks/throughput.py --compare old-1 new-2 --variants wgan-gp --arch mlp "
            "--width 128 --batch 256 --threads 1") in out
    gan = next(line for line in out.splitlines() if line.strip().startswith("gan mlp"))
    assert "+2.0%" in gan and "evidence" not in gan
    assert (tmp_path / "history_cpu.png").exists() and (tmp_path / "throughput_cpu.png").exists()
    # a comparison of exactly these commits on this machine that says slower: red, exit 1, its interval quoted
    records(tmp_path, [record("old-1", "new-2", "slower", 1.28, low=1.21, high=1.33)])
    assert throughput.main(["--check-history", str(csv_path), "--no-plot"]) == 1
    out = capsys.readouterr().out
    assert slower_lines(out) == [f"SLOWER cpu {XEON} | wgan-gp mlp w128 b256 nc5 fp32 1t: old-1 -> new-2 "
                                 "slower: B/A 1.280, bounds [1.210, 1.330] after 16 rounds (3% tolerated)"]
    assert unsettled_lines(out) == []
    # a later record of the pair that passes does not wash the slowdown out
    records(tmp_path, [record("old-1", "new-2", "slower", 1.28, low=1.21, high=1.33), record("old-1", "new-2", "pass", 1.0)])
    assert throughput.main(["--check-history", str(csv_path), "--no-plot"]) == 1
    capsys.readouterr()
    # the same flag settled as a pass: green, the verdict printed beside the rows
    records(tmp_path, [record("old-1", "new-2", "pass", 1.01, low=0.995, high=1.025)])
    assert throughput.main(["--check-history", str(csv_path), "--no-plot"]) == 0
    out = capsys.readouterr().out
    assert "(compare: pass: B/A 1.010, bounds [0.995, 1.025]" in out and not unsettled_lines(out) and not slower_lines(out)


def test_a_compare_settles_only_its_own_commits_configuration_and_machine(tmp_path, capsys):
    csv_path = write(tmp_path / "cpu.csv", [row("old-1", 100.0), row("new-2", 130.0)])
    for other in (record("old-0", "new-2", "slower", 1.3), record("old-1", "new-2", "slower", 1.3, width=32),
                  record("old-1", "new-2", "slower", 1.3, variant="wgan-lp")):
        records(tmp_path, [other])
        assert throughput.main(["--check-history", str(csv_path), "--no-plot"]) == 0
        assert len(unsettled_lines(capsys.readouterr().out)) == 1
    # another machine's verdict is shown beside the flag, and does not settle it
    records(tmp_path, [record("old-1", "new-2", "pass", 1.0, machine=EPYC)])
    assert throughput.main(["--check-history", str(csv_path), "--no-plot"]) == 0
    (line,) = unsettled_lines(capsys.readouterr().out)
    assert line.endswith(f"; on {EPYC}: pass: B/A 1.000, bounds [0.980, 1.020] after 16 rounds (3% tolerated)")
    # the verdict is read from the bounds by today's rule, not from the label an older harness wrote
    records(tmp_path, [record("old-1", "new-2", "undecided", 1.3, low=1.2, high=1.4)])
    assert throughput.main(["--check-history", str(csv_path), "--no-plot"]) == 1


def test_commit_names_match_by_abbreviation_and_a_dirty_tree_only_itself():
    assert history.same_commit("67877e9", "67877e9f0a") and history.same_commit("67877e9f0a", "67877e9")
    assert not history.same_commit("67877e9", "67877e8") and not history.same_commit("678", "6789abc")
    assert history.same_commit("67877e9+dirty", "67877e9+dirty") and not history.same_commit("67877e9+dirty", "67877e9")


def test_every_flagged_configuration_is_named_and_the_threshold_is_a_flag(tmp_path, capsys):
    rows = [row("old-1", 100.0, width=w) for w in (32, 64, 128)] + [row("new-2", ms, width=w) for w, ms in ((32, 150.0), (64, 99.0), (128, 111.0))]
    assert throughput.main(["--check-history", str(write(tmp_path / "a.csv", rows)), "--no-plot"]) == 0
    flagged = unsettled_lines(capsys.readouterr().out)
    assert [line.split(" | ")[1].split(":")[0] for line in flagged] == ["wgan-gp mlp w32 b256 nc5 fp32 1t", "wgan-gp mlp w128 b256 nc5 fp32 1t"]
    # at 20%, +11% is no hint and +50% still is
    assert throughput.main(["--check-history", str(tmp_path / "a.csv"), "--no-plot", "--slower-than", "0.2"]) == 0
    assert len(unsettled_lines(capsys.readouterr().out)) == 1
    rows = [row("old-1", 100.0), row("new-2", 109.0)]
    assert throughput.main(["--check-history", str(write(tmp_path / "b.csv", rows)), "--no-plot"]) == 0
    out = capsys.readouterr().out
    assert "no configuration's newest commit is a confirmed regression" in out and not unsettled_lines(out)


def test_another_machines_rows_are_never_compared(tmp_path):
    # EPYC measured the newest commit twice as slow as anything on the Xeon: a different machine, so nothing to compare it with
    rows = [row("c-1", 100.0), row("c-2", 200.0, machine=EPYC), row("c-3", 101.0), row("c-4", 60.0, machine=EPYC, variant="gan")]
    comparisons = history.compare(history.load(write(tmp_path / "cpu.csv", rows), repo=None))
    by = {(c.series.machine, c.series.config): c for c in comparisons}
    assert len(by) == 3
    xeon = by[(f"cpu {XEON}", "wgan-gp mlp w128 b256 nc5 fp32 1t")]
    assert (xeon.previous, xeon.newest, round(xeon.change, 3), xeon.flagged) == ("c-1", "c-3", 0.01, False)
    epyc = by[(f"cpu {EPYC}", "wgan-gp mlp w128 b256 nc5 fp32 1t")]
    assert epyc.series.commits == ("c-2",) and epyc.previous is None and not epyc.flagged
    assert throughput.main(["--check-history", str(tmp_path / "cpu.csv"), "--no-plot"]) == 0


def test_commits_in_the_order_appended_not_alphabetical(tmp_path, capsys):
    rows = [row("zz-first", 100.0), row("mm-second", 100.0), row("aa-third", 150.0)]
    assert throughput.main(["--check-history", str(write(tmp_path / "cpu.csv", rows)), "--no-plot"]) == 0
    assert unsettled_lines(capsys.readouterr().out)[0].endswith("mm-second -> aa-third +50.0% in rows")


def test_commits_in_git_order_where_git_knows_them(tmp_path):
    """An old commit re-measured later is not the newest; a +dirty tree comes right after its commit."""
    repo = tmp_path / "repo"
    repo.mkdir()
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"]
    subprocess.run([*git, "init", "-q"], check=True)
    shas = []
    for message in ("older", "newer"):
        subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", message], check=True)
        shas.append(subprocess.run([*git, "rev-parse", "--short=10", "HEAD"], check=True, capture_output=True, text=True).stdout.strip())
    older, newer = shas
    rows = [row(newer, 100.0), row(older, 130.0)]  # the older commit measured after the newer one
    path = write(tmp_path / "cpu.csv", rows)
    (series,) = history.load(path, repo=repo)
    assert series.commits == (older, newer)
    (c,) = history.compare([series])
    assert c.newest == newer and round(c.change, 3) == round(100 / 130 - 1, 3) and not c.flagged  # faster, not flagged
    assert history.load(path, repo=None)[0].commits == (newer, older)  # without git: as appended (and then it would flag)
    write(path, [row(f"{newer}+dirty", 140.0), *rows])
    (series,) = history.load(path, repo=repo)
    assert series.commits == (older, newer, f"{newer}+dirty")
    assert history.compare([series])[0].flagged  # 140 against the clean commit's 100
    # one commit git does not know: the whole series falls back to the order of appending
    write(path, [*rows, row("not-a-commit", 100.0)])
    assert history.load(path, repo=repo)[0].commits == (newer, older, "not-a-commit")


def test_a_commits_figure_is_the_median_of_its_rows(tmp_path):
    # three rows at the newest commit, one of them slow: the median (101) is not 10% above 100; the mean (120.3) would be
    rows = [row("c-1", 100.0), row("c-2", 100.0), row("c-2", 160.0), row("c-2", 101.0)]
    (c,) = history.compare(history.load(write(tmp_path / "cpu.csv", rows), repo=None))
    assert c.series.rows == ((100.0,), (100.0, 160.0, 101.0)) and round(c.change, 3) == 0.01 and not c.flagged


def test_ensemble_rows_give_a_member_series_per_s_and_share_the_step_series(tmp_path):
    rows = [row("c-1", 100.0, ensemble=3, member=50.0), row("c-1", 104.0, ensemble=10, member=30.0),
            row("c-2", 101.0, ensemble=3, member=70.0), row("c-2", 103.0, ensemble=10, member=30.5)]
    by = {c.series.config: c for c in history.compare(history.load(write(tmp_path / "cpu.csv", rows), repo=None))}
    step = by["wgan-gp mlp w128 b256 nc5 fp32 1t"]
    assert step.series.rows == ((100.0, 104.0), (101.0, 103.0)) and not step.flagged  # S does not change the single run's step
    assert by["wgan-gp mlp w128 b256 nc5 fp32 1t ensemble S=3 per member"].flagged  # 50 -> 70 ms per member
    assert not by["wgan-gp mlp w128 b256 nc5 fp32 1t ensemble S=10 per member"].flagged


def test_an_ensemble_hint_names_a_compare_that_settles_it(tmp_path, capsys):
    rows = [row("c-1", 100.0, ensemble=3, member=50.0), row("c-2", 101.0, ensemble=3, member=70.0)]
    csv_path = write(tmp_path / "cpu.csv", rows)
    assert throughput.main(["--check-history", str(csv_path), "--no-plot"]) == 0
    out = capsys.readouterr().out
    assert "--compare c-1 c-2 --variants wgan-gp --arch mlp --width 128 --batch 256 --threads 1 --ensemble 3" in out
    # the printed command's record (a compare with --ensemble 3) settles the member series, and only it
    records(tmp_path, [record("c-1", "c-2", "slower", 1.4, low=1.3, high=1.5, ensemble=3)])
    assert throughput.main(["--check-history", str(csv_path), "--no-plot"]) == 1
    assert slower_lines(capsys.readouterr().out)[0].startswith(
        f"SLOWER cpu {XEON} | wgan-gp mlp w128 b256 nc5 fp32 1t ensemble S=3 per member: c-1 -> c-2 slower")


def test_repeat_spread_of_the_median_and_the_min_column(tmp_path):
    rows = [row("c-1", 100.0, ms_min=90.0), row("c-1", 110.0, ms_min=108.0), row("c-2", 50.0)]  # c-2: one row, no spread
    spread = history.repeat_spread(write(tmp_path / "cpu.csv", rows))
    assert spread["median"] == [pytest.approx(0.10)] and spread["min"] == [pytest.approx(0.20)]


def test_history_figure_has_one_panel_per_configuration_and_machine(tmp_path):
    rows = [row("c-1", 100.0), row("c-1", 10.0, variant="gan"), row("c-1", 100.0, machine=EPYC),
            row("c-2", 140.0), row("c-2", 10.0, variant="gan"), row("c-2", 99.0, machine=EPYC)]
    png, titles = history_plots.plot_history(write(tmp_path / "cpu.csv", rows), repo=None)
    assert png == tmp_path / "history_cpu.png" and png.stat().st_size > 1000
    assert titles == [f"cpu {XEON} | wgan-gp mlp w128 b256 nc5 fp32 1t +40% compare?", f"cpu {XEON} | gan mlp w128 b256 nc1 fp32 1t +0%",
                      f"cpu {EPYC} | wgan-gp mlp w128 b256 nc5 fp32 1t -1%"]


def test_check_history_of_a_missing_file_is_one_line(tmp_path, capsys):
    assert throughput.main(["--check-history", str(tmp_path / "none.csv")]) == 2
    assert capsys.readouterr().err == f"throughput.py: error: --check-history: no such file {tmp_path / 'none.csv'}\n"


def test_check_history_of_a_csv_without_its_columns_is_one_line(tmp_path, capsys):
    (tmp_path / "cpu.csv").write_text("variant,ms_per_gen_iter\nwgan-gp,10\n")
    assert throughput.main(["--check-history", str(tmp_path / "cpu.csv")]) == 2
    err = capsys.readouterr().err
    prefix = f"throughput.py: error: --check-history: {tmp_path / 'cpu.csv'}: missing column(s) device, device_name, arch,"
    assert err.startswith(prefix) and err.count("\n") == 1


@pytest.mark.parametrize("commit", ["1234567", "67877e9", "0e12345", "00001"])
def test_commit_ids_stay_text_through_appending_and_the_history(tmp_path, commit):
    """pandas would read 67877e9 as 6.7877e13 and 0e12345 as 0.0; every identifying column must stay as written."""
    path = tmp_path / "cpu.csv"
    history.append_rows(path, [row(commit, 10.0)], throughput.COLUMNS)
    history.append_rows(path, [row(commit, 11.0, width=32)], throughput.COLUMNS)  # re-reads the file, appends
    assert [r["git_commit"] for r in csv.DictReader(path.open())] == [commit, commit]
    assert {s.commits for s in history.load(path, repo=None)} == {(commit,)}
    history_plots.plot(path)  # the figures read it too


def test_appending_to_a_csv_of_other_columns_is_refused_and_leaves_it_alone(tmp_path, capsys):
    path = tmp_path / "cpu.csv"
    path.write_text("variant,ms\ngan,1\n")
    code = throughput.main(["--variants", "gan", "--arch", "mlp", "--width", "8", "--batch", "8", "--iters", "1", "--warmup", "0",
                            "--device", "cpu", "--out", str(path), "--no-plot"])
    assert code == 2 and path.read_text() == "variant,ms\ngan,1\n"
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "its columns differ from this version's (missing: arch," in err


def test_calibration_records_settle_nothing_and_a_dirty_tree_gets_no_command(tmp_path, capsys):
    csv_path = write(tmp_path / "cpu.csv", [row("old-1", 100.0), row("new-2", 130.0)])
    injected = record("old-1", "new-2", "slower", 1.3)
    injected["inject"] = 0.05  # a calibration run (--inject-slowdown): busy work, not the commit's speed
    records(tmp_path, [injected])
    assert throughput.main(["--check-history", str(csv_path), "--no-plot"]) == 0
    assert len(unsettled_lines(capsys.readouterr().out)) == 1
    csv_path = write(tmp_path / "cpu.csv", [row("old-1", 100.0), row("old-1+dirty", 130.0)])
    assert throughput.main(["--check-history", str(csv_path), "--no-plot"]) == 0
    out = capsys.readouterr().out
    assert "to decide, on this machine: none: old-1+dirty was a tree with uncommitted changes" in out and "--compare old-1 old-1+dirty" not in out
