"""Tables quoted in prose from report CSVs: rendered by hand-known rules, stale ones caught, and the repository's own agree."""

from pathlib import Path

import pytest

from wgan_core import ConfigError
from wgan_core.report.quote import check_file, quote_file, quoted_files, render

ROOT = Path(__file__).resolve().parent.parent


def _csv(tmp_path: Path) -> None:
    (tmp_path / "r.csv").write_text("dataset,objective,w1,failure_rate,n\nA,gan,0.123456,0.25,10\nA,wgan-gp,1.5,0.0,10\nB,gan,,1.0,3\n")


def test_render_formats_numbers_and_filters_rows(tmp_path):
    _csv(tmp_path)
    assert render("r.csv | objective, w1, failure_rate, n | dataset=A", tmp_path) == (
        "| objective | w1 | failure_rate | n |\n|---|---|---|---|\n| gan | 0.1235 | 25% | 10 |\n| wgan-gp | 1.5 | 0% | 10 |\n"
    )
    assert render("r.csv | dataset, w1 | objective!=wgan-gp", tmp_path) == "| dataset | w1 |\n|---|---|\n| A | 0.1235 |\n| B | — |\n"
    with pytest.raises(ConfigError, match="has no column"):
        render("r.csv | nope", tmp_path)
    with pytest.raises(ConfigError, match="cannot read"):
        render("missing.csv | a", tmp_path)


def test_a_quote_that_drifted_from_its_csv_is_caught_and_rewritten(tmp_path):
    _csv(tmp_path)
    md = tmp_path / "README.md"
    table = render("r.csv | objective, w1 | dataset=A", tmp_path)
    md.write_text(f"text\n<!-- quote: r.csv | objective, w1 | dataset=A -->\n{table}<!-- /quote -->\nmore\n")
    assert check_file(md, tmp_path) == [] and quoted_files(tmp_path) == [md]
    md.write_text(md.read_text().replace("0.1235", "0.124"))  # a number typed by hand
    assert check_file(md, tmp_path) == ["r.csv | objective, w1 | dataset=A"]
    assert quote_file(md, tmp_path) and check_file(md, tmp_path) == []
    assert md.read_text().startswith("text\n") and md.read_text().endswith("<!-- /quote -->\nmore\n")  # prose untouched


def test_every_table_the_repository_quotes_equals_its_csv():
    files = quoted_files(ROOT)
    stale = {str(f.relative_to(ROOT)): check_file(f, ROOT) for f in files}
    assert not any(stale.values()), f"run `python -m wgan_core quote`: {stale}"
