"""Tables quoted in prose from report CSVs: rendered by hand-known rules, stale ones caught, and the repository's own agree."""

from pathlib import Path

import pytest

from wgan_core import ConfigError
from wgan_core.report.quote import VALUE, check_file, quote_file, quoted_files, render, render_value

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


@pytest.mark.parametrize("commit", ["67877e9", "1234567", "0e12345"])
def test_commit_ids_are_quoted_as_written_and_filter_as_text(tmp_path, commit):
    (tmp_path / "c.csv").write_text(f"base,head,ratio,small,big\n{commit},abc1234,1.0123456,1e-05,1e+16\nother,x,2,0,0\n")
    assert render(f"c.csv | base, head, ratio, small, big | base={commit}", tmp_path) == (
        f"| base | head | ratio | small | big |\n|---|---|---|---|---|\n| {commit} | abc1234 | 1.012 | 1e-05 | 10000000000000000 |\n")


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


def test_inline_values_one_cell_or_an_aggregate_and_stale_ones_caught(tmp_path):
    _csv(tmp_path)
    assert render_value("r.csv | w1 | objective=gan, dataset=A", tmp_path) == "0.1235"
    assert render_value("r.csv | w1 | dataset=A | range", tmp_path) == "0.1235–1.5"
    assert render_value("r.csv | n | dataset=A | range", tmp_path) == "10"  # min = max: one value
    assert render_value("r.csv | n | | max", tmp_path) == "10" and render_value("r.csv | w1 | | median", tmp_path) == "0.8117"
    assert render_value("r.csv | objective | objective=gan | count", tmp_path) == "2"
    with pytest.raises(ConfigError, match="matches 2 rows, not one"):
        render_value("r.csv | w1 | objective=gan", tmp_path)
    # mean (0.123456 + 1.5) / 2; sample sd |1.5 - 0.123456| / sqrt(2) = 0.97336 (n - 1 = 1), by hand
    assert render_value("r.csv | w1 | | mean", tmp_path) == "0.8117" and render_value("r.csv | w1 | | sd", tmp_path) == "0.9734"
    with pytest.raises(ConfigError, match="needs two numbers"):
        render_value("r.csv | w1 | objective=wgan-gp | sd", tmp_path)
    with pytest.raises(ConfigError, match="expected"):
        render_value("r.csv | w1 | | average", tmp_path)
    md = tmp_path / "README.md"
    md.write_text("W1 was <!-- value: r.csv | w1 | objective=gan, dataset=A -->0.12<!-- /value --> at the end.\n")
    assert quoted_files(tmp_path) == [md] and check_file(md, tmp_path) == ["r.csv | w1 | objective=gan, dataset=A"]
    assert quote_file(md, tmp_path) and md.read_text() == (
        "W1 was <!-- value: r.csv | w1 | objective=gan, dataset=A -->0.1235<!-- /value --> at the end.\n")
    assert check_file(md, tmp_path) == []


def test_a_filter_value_with_commas_in_double_quotes(tmp_path):
    (tmp_path / "c.csv").write_text('cell,seed,w1\n"gan, lr=0.1",0,1.0\n"gan, lr=0.1",1,3.0\n"gan, lr=0.2",0,7.0\n')
    assert render_value('c.csv | w1 | cell="gan, lr=0.1" | mean', tmp_path) == "2"
    assert render_value('c.csv | w1 | cell="gan, lr=0.1", seed!=0', tmp_path) == "3"
    assert render_value('c.csv | w1 | cell!="gan, lr=0.1"', tmp_path) == "7"


def test_a_json_file_is_one_row_of_its_fields(tmp_path):
    (tmp_path / "final.json").write_text('{"cpu_share": 0.1234567, "commit": "67877e9", "metrics": {"w1": 0.5}, "seeds": [1, 2], "fid": null}')
    assert render_value("final.json | cpu_share |", tmp_path) == "0.1235"
    assert render_value("final.json | commit |", tmp_path) == "67877e9"  # text, not 6.8e13
    assert render_value("final.json | metrics.w1 |", tmp_path) == "0.5" and render_value("final.json | fid |", tmp_path) == "—"
    with pytest.raises(ConfigError, match="no column seeds"):  # a list is not one value
        render_value("final.json | seeds |", tmp_path)


def test_the_repository_quotes_something():
    """The agreement test above passes vacuously on a repository that quotes nothing: this one cannot."""
    files = quoted_files(ROOT)
    assert ROOT / "README.md" in files
    unquoted = [p for p in sorted((ROOT / "results").glob("*/README.md")) if p not in files]
    assert not unquoted, f"results READMEs that quote no CSV: {unquoted}"
    values = [f for f in files if VALUE.search(f.read_text())]
    assert len(values) == len(files), "every quoting file quotes numbers in its prose too (<!-- value: ... -->)"
