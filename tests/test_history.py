"""--check-history on hand-made speed histories with known answers: who is flagged, what is compared with what, in which order."""

import csv
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import history  # noqa: E402
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


# Commit names that are no abbreviation of any real commit (not hexadecimal): git knows none, so the order is the append order.
def test_thirty_percent_slower_is_flagged_two_percent_is_not(tmp_path, capsys):
    csv_path = write(tmp_path / "cpu.csv", [
        row("old-1", 100.0), row("old-1", 100.0, variant="gan"),
        row("new-2", 130.0), row("new-2", 102.0, variant="gan"),
    ])
    assert throughput.main(["--check-history", str(csv_path)]) == 1
    out = capsys.readouterr().out
    assert slower_lines(out) == [f"SLOWER cpu {XEON} | wgan-gp mlp w128 b256 nc5 fp32 1t: old-1 -> new-2 +30.0%"]
    gan = next(line for line in out.splitlines() if line.strip().startswith("gan mlp"))
    assert "+2.0%" in gan and "SLOWER" not in gan
    # the figures are redrawn, the history one panel per configuration, the slower one red
    assert (tmp_path / "history_cpu.png").exists() and (tmp_path / "throughput_cpu.png").exists()


def test_every_slower_configuration_is_named_and_none_slower_exits_0(tmp_path, capsys):
    rows = [row("old-1", 100.0, width=w) for w in (32, 64, 128)] + [row("new-2", ms, width=w) for w, ms in ((32, 150.0), (64, 99.0), (128, 111.0))]
    assert throughput.main(["--check-history", str(write(tmp_path / "a.csv", rows)), "--no-plot"]) == 1
    flagged = slower_lines(capsys.readouterr().out)
    assert [line.split(" | ")[1].split(":")[0] for line in flagged] == ["wgan-gp mlp w32 b256 nc5 fp32 1t", "wgan-gp mlp w128 b256 nc5 fp32 1t"]
    # the threshold is a flag: at 20%, +11% passes and +50% does not
    assert throughput.main(["--check-history", str(tmp_path / "a.csv"), "--no-plot", "--slower-than", "0.2"]) == 1
    assert len(slower_lines(capsys.readouterr().out)) == 1
    rows = [row("old-1", 100.0), row("new-2", 109.0)]
    assert throughput.main(["--check-history", str(write(tmp_path / "b.csv", rows)), "--no-plot"]) == 0
    assert "no configuration is more than 10% slower" in capsys.readouterr().out


def test_another_machines_rows_are_never_compared(tmp_path):
    # EPYC measured the newest commit twice as slow as anything on the Xeon: a different machine, so nothing to compare it with
    rows = [row("c-1", 100.0), row("c-2", 200.0, machine=EPYC), row("c-3", 101.0), row("c-4", 60.0, machine=EPYC, variant="gan")]
    comparisons = history.compare(history.load(write(tmp_path / "cpu.csv", rows), repo=None))
    by = {(c.series.machine, c.series.config): c for c in comparisons}
    assert len(by) == 3
    xeon = by[(f"cpu {XEON}", "wgan-gp mlp w128 b256 nc5 fp32 1t")]
    assert (xeon.previous, xeon.newest, round(xeon.change, 3), xeon.slower) == ("c-1", "c-3", 0.01, False)
    epyc = by[(f"cpu {EPYC}", "wgan-gp mlp w128 b256 nc5 fp32 1t")]
    assert epyc.series.commits == ("c-2",) and epyc.previous is None and not epyc.slower
    assert throughput.main(["--check-history", str(tmp_path / "cpu.csv"), "--no-plot"]) == 0


def test_commits_in_the_order_appended_not_alphabetical(tmp_path, capsys):
    rows = [row("zz-first", 100.0), row("mm-second", 100.0), row("aa-third", 150.0)]
    assert throughput.main(["--check-history", str(write(tmp_path / "cpu.csv", rows)), "--no-plot"]) == 1
    assert slower_lines(capsys.readouterr().out)[0].endswith("mm-second -> aa-third +50.0%")


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
    assert c.newest == newer and round(c.change, 3) == round(100 / 130 - 1, 3) and not c.slower  # faster, not flagged
    assert history.load(path, repo=None)[0].commits == (newer, older)  # without git: as appended (and then it would flag)
    write(path, [row(f"{newer}+dirty", 140.0), *rows])
    (series,) = history.load(path, repo=repo)
    assert series.commits == (older, newer, f"{newer}+dirty")
    assert history.compare([series])[0].slower  # 140 against the clean commit's 100
    # one commit git does not know: the whole series falls back to the order of appending
    write(path, [*rows, row("not-a-commit", 100.0)])
    assert history.load(path, repo=repo)[0].commits == (newer, older, "not-a-commit")


def test_a_commits_figure_is_the_median_of_its_rows(tmp_path):
    # three rows at the newest commit, one of them slow: the median (101) is not 10% above 100; the mean (120.3) would be
    rows = [row("c-1", 100.0), row("c-2", 100.0), row("c-2", 160.0), row("c-2", 101.0)]
    (c,) = history.compare(history.load(write(tmp_path / "cpu.csv", rows), repo=None))
    assert c.series.rows == ((100.0,), (100.0, 160.0, 101.0)) and round(c.change, 3) == 0.01 and not c.slower


def test_ensemble_rows_give_a_member_series_per_s_and_share_the_step_series(tmp_path):
    rows = [row("c-1", 100.0, ensemble=3, member=50.0), row("c-1", 104.0, ensemble=10, member=30.0),
            row("c-2", 101.0, ensemble=3, member=70.0), row("c-2", 103.0, ensemble=10, member=30.5)]
    by = {c.series.config: c for c in history.compare(history.load(write(tmp_path / "cpu.csv", rows), repo=None))}
    step = by["wgan-gp mlp w128 b256 nc5 fp32 1t"]
    assert step.series.rows == ((100.0, 104.0), (101.0, 103.0)) and not step.slower  # S does not change the single run's step
    assert by["wgan-gp mlp w128 b256 nc5 fp32 1t ensemble S=3 per member"].slower  # 50 -> 70 ms per member
    assert not by["wgan-gp mlp w128 b256 nc5 fp32 1t ensemble S=10 per member"].slower


def test_repeat_spread_of_the_median_and_the_min_column(tmp_path):
    rows = [row("c-1", 100.0, ms_min=90.0), row("c-1", 110.0, ms_min=108.0), row("c-2", 50.0)]  # c-2: one row, no spread
    spread = history.repeat_spread(write(tmp_path / "cpu.csv", rows))
    assert spread["median"] == [pytest.approx(0.10)] and spread["min"] == [pytest.approx(0.20)]


def test_history_figure_has_one_panel_per_configuration_and_machine(tmp_path):
    rows = [row("c-1", 100.0), row("c-1", 10.0, variant="gan"), row("c-1", 100.0, machine=EPYC),
            row("c-2", 140.0), row("c-2", 10.0, variant="gan"), row("c-2", 99.0, machine=EPYC)]
    png, titles = history.plot_history(write(tmp_path / "cpu.csv", rows), repo=None)
    assert png == tmp_path / "history_cpu.png" and png.stat().st_size > 1000
    assert titles == [f"cpu {XEON} | wgan-gp mlp w128 b256 nc5 fp32 1t +40% SLOWER", f"cpu {XEON} | gan mlp w128 b256 nc1 fp32 1t +0%",
                      f"cpu {EPYC} | wgan-gp mlp w128 b256 nc5 fp32 1t -1%"]


def test_check_history_of_a_missing_file_is_one_line(tmp_path, capsys):
    assert throughput.main(["--check-history", str(tmp_path / "none.csv")]) == 2
    assert capsys.readouterr().err == f"throughput.py: error: --check-history: no such file {tmp_path / 'none.csv'}\n"
