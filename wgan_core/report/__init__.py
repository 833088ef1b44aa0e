"""Study reports: tables, paired statistics and plots from the files the runs of a study directory wrote.

`write_report(DIR)` writes DIR/report/ (runs.csv, curves.csv, summary.csv, summary.md,
stats.csv, every plot with its CSV, index.html). The report reads files only and imports
no torch, so it runs anywhere the results are copied to.

    load.py     a study directory (or its committed runs.csv / curves.csv) -> DataFrames; cells; the failure flags
    stats.py    intervals, median / IQM, P(improvement), the exact signed-rank test, equivalence (TOST), Holm
    families.py declared families of comparisons and the paired tests over them
    coverage.py the measured coverage of the intervals (results/coverage), for the notes beside the tables
    tables.py   summary.csv, display tables, factorial tables, Markdown
    budget.py   the search's expected-best-score-by-budget curves
    search_tables.py  the search's report: stage-1 tables, selection, stage-2 tests
    plots.py    every figure and the CSV behind it
    render.py   write_report, summary.md, index.html
    quote.py    `python -m wgan_core quote`: README tables filled from report CSVs

Metric metadata (direction, display name, format, which are tested and plotted) comes from
wgan_core.metrics.registry.
"""

from .families import Family, family_tests
from .load import cells, lacking_results, load_study, steps_to_threshold
from .render import write_report
from .stats import bootstrap_ci, holm, min_signed_rank_p, rank_biserial
from .tables import display_tables, factorial_tables, stats_display, summarize

__all__ = [
    "Family", "bootstrap_ci", "cells", "family_tests", "display_tables", "factorial_tables", "holm", "lacking_results", "load_study", "min_signed_rank_p",
    "rank_biserial", "stats_display", "steps_to_threshold", "summarize", "write_report",
]  # fmt: skip
