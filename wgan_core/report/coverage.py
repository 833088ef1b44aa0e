"""What the report's intervals are worth: their coverage as measured by simulation, for the note beside every table.

benchmarks/coverage.py simulates studies of n seeds from populations shaped like the committed runs
and writes results/coverage/coverage.csv: per interval kind ('mean', 'median', 'iqm',
'p_improvement', 'budget m=M'), n and population, the share of intervals that held the truth. A report
quotes, for the n of its cells, the lowest and highest coverage over the populations, so a "95%"
interval is read as what it is. Without that file (the package used outside this repository) the
note says the coverage was not measured. Torch-free.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import pandas as pd

COVERAGE_CSV = Path(__file__).resolve().parents[2] / "results" / "coverage" / "coverage.csv"
KINDS = {"mean": "mean", "median": "median", "iqm": "IQM", "p_improvement": "P(improvement)"}


@lru_cache(maxsize=1)
def _table(path: str) -> pd.DataFrame | None:
    p = Path(path)
    return pd.read_csv(p) if p.exists() else None


def measured(kind: str, n: int, path: Path = COVERAGE_CSV) -> str:
    """'lo-hi% at n=N' over the simulated populations, at the largest measured n <= n; '' where nothing applies."""
    t = _table(str(path))
    if t is None or n < 2:
        return ""
    rows = t[t["interval"] == kind]
    ns = sorted(v for v in rows["n"].unique() if v <= n)
    if not ns:
        return ""
    at = rows[rows["n"] == ns[-1]]["coverage"]
    return f"{at.min():.0%}-{at.max():.0%} at n={ns[-1]}"


def coverage_note(n: int, kinds: tuple[str, ...] = ("mean", "median", "iqm"), path: Path = COVERAGE_CSV) -> str:
    """One sentence: the measured coverage of the nominal 95% intervals of cells with n values, per interval kind."""
    parts = [f"{KINDS[k]} {m}" for k in kinds if (m := measured(k, n, path))]
    if not parts:
        return f"Coverage of these intervals at n={n}: not measured (benchmarks/coverage.py writes {COVERAGE_CSV.name})."
    return (
        "Measured coverage of these nominal 95% intervals (share of simulated studies whose interval held the truth, lowest-highest "
        f"over the populations of results/coverage): {'; '.join(parts)}."
    )


__all__ = ["COVERAGE_CSV", "coverage_note", "measured"]
