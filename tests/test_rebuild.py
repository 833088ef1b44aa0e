"""Every committed report is rebuilt from its committed raw CSVs (report/runs.csv, curves.csv, study.json), cell for cell.

`python -m wgan_core report results/<study> --out TMP` reads no run folder (they are not committed);
every table it writes must equal the committed one, so no committed number can drift from its runs
or from the code that summarises them. The last test shows the comparison catching one edited cell.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

import wgan_core.kinds  # noqa: F401  the built-in kinds' run tables, as `python -m wgan_core report` registers them
from wgan_core.cli import main as cli_main
from wgan_core.report.plots import kept_prefixes

RESULTS = Path(__file__).resolve().parent.parent / "results"
STUDIES = sorted(str(p.parent.parent.relative_to(RESULTS)) for p in RESULTS.glob("**/report/runs.csv"))


def differing_cells(committed: Path, rebuilt: Path) -> list[str]:
    """'file: row r, column c: committed != rebuilt' for every table cell (read as text) that differs, and every missing table."""
    out = []
    for theirs in sorted(rebuilt.glob("*.csv")):
        mine = committed / theirs.name
        if not mine.exists():
            out.append(f"{theirs.name}: rebuilt but not committed")
            continue
        a, b = pd.read_csv(mine, dtype=str, keep_default_na=False), pd.read_csv(theirs, dtype=str, keep_default_na=False)
        if list(a.columns) != list(b.columns) or len(a) != len(b):
            out.append(f"{theirs.name}: shape or columns differ ({a.shape} {list(a.columns)[:4]}... vs {b.shape})")
            continue
        diff = a.ne(b)
        out += [f"{theirs.name}: row {r}, column {c}: {a.at[r, c]!r} != {b.at[r, c]!r}" for r, c in zip(*diff.to_numpy().nonzero()) for c in [a.columns[c]]]
    for mine in sorted(committed.glob("*.csv")):  # a committed table the code no longer writes is stale (run-folder figures aside)
        if not (rebuilt / mine.name).exists() and not mine.name.startswith(kept_prefixes()):
            out.append(f"{mine.name}: committed but not rebuilt")
    if (rebuilt / "summary.md").read_text() != (committed / "summary.md").read_text():
        out.append("summary.md differs")
    return out


def test_every_committed_study_is_covered():
    assert {"depth", "fashion", "pacgan-2d", "search-toy", "stacked-mnist", "stacked-mnist/longer", "toy", "zoo-fashion", "zoo-toy"} <= set(STUDIES)


@pytest.mark.parametrize("study", STUDIES)
def test_the_committed_report_is_its_rebuild_from_the_committed_csvs(study, tmp_path):
    out = tmp_path / "report"
    assert cli_main(["report", str(RESULTS / study), "--out", str(out)]) == 0
    assert differing_cells(RESULTS / study / "report", out) == []
    assert len(list(out.glob("*.csv"))) >= 5  # runs, curves, summary, stats, improvement at least


def test_one_edited_committed_cell_is_caught(tmp_path):
    study = tmp_path / "pacgan-2d"
    (study / "report").mkdir(parents=True)
    shutil.copy(RESULTS / "pacgan-2d" / "study.json", study)
    for name in ("runs.csv", "curves.csv"):
        shutil.copy(RESULTS / "pacgan-2d" / "report" / name, study / "report")
    assert cli_main(["report", str(study), "--out", str(tmp_path / "rebuilt")]) == 0
    committed = tmp_path / "committed"
    shutil.copytree(RESULTS / "pacgan-2d" / "report", committed)
    assert differing_cells(committed, tmp_path / "rebuilt") == []
    summary = pd.read_csv(committed / "summary.csv", dtype=str, keep_default_na=False)
    was = summary.at[0, "high_quality_2500_mean"]
    summary.at[0, "high_quality_2500_mean"] = "1.0"  # the number the step-0 rule used to print
    summary.to_csv(committed / "summary.csv", index=False)
    assert differing_cells(committed, tmp_path / "rebuilt") == [f"summary.csv: row 0, column high_quality_2500_mean: '1.0' != {was!r}"]
