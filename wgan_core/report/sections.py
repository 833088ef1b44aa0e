"""What a job kind adds to the report: a table file its runs write and the plot drawn from every run's rows.

The report reads every run directory alike (config.json, metrics.csv, final.json). A job kind whose
runs also write a long-format CSV of their own registers it here, with the figure drawn from all runs'
rows; the report then loads and draws it without naming the kind. The built-in kinds register theirs
in wgan_core/kinds (imported by the study and the `report` command before a report is written). A
report written without them imported (`write_report` called alone, torch-free) has neither their
files nor their metrics' metadata: `load_study` warns, naming the experiments it cannot show.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..errors import lookup


@dataclass(frozen=True)
class RunTable:
    """One run file and its figure.

    plot(rows, colors, out) -> PNG path or None: rows are every run's rows of `file` with the run's
    run_id, dataset, cell, label and seed in front; colors maps each cell to its colour.
    """

    file: str  # the CSV each run of the kind writes into its directory
    caption: str  # the figure's caption in the report
    plot: Callable[[pd.DataFrame, dict[str, str], Path], Path | None]
    kept: str  # the figure's file name prefix: kept as it is when the report is rebuilt without run folders


RUN_TABLES: dict[str, RunTable] = {}
EXPERIMENTS: set[str] = {""}  # the config.json `experiment` values of the registered job kinds ('' a GAN run's)


def declare_experiment(experiment: str) -> None:
    """A job kind's registration says the report knows its runs (their metrics and run tables are registered)."""
    EXPERIMENTS.add(experiment)


def register_run_table(name: str, table: RunTable) -> RunTable:
    """Make the report load `table.file` from every run directory and draw `table.plot`; registering a name again replaces it."""
    RUN_TABLES[name] = table
    return table


def get_run_table(name: str) -> RunTable:
    return lookup(RUN_TABLES, name, "run table")


def run_table_names() -> tuple[str, ...]:
    return tuple(RUN_TABLES)


__all__ = ["EXPERIMENTS", "RUN_TABLES", "RunTable", "declare_experiment", "get_run_table", "register_run_table", "run_table_names"]
