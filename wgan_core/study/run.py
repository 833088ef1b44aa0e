"""`run_study`, a study's one entry point: a plain study's jobs (jobs.run_plain) or a search's two stages (search.run_search).

Above both, so that neither imports the other back.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from .executors import Executor
from .identity import StudySpec
from .jobs import run_plain
from .search import run_search


def run_study(
    spec: StudySpec,
    root: str | Path,
    executor: Executor | None = None,
    *,
    progress: bool | None = None,
    log: Callable[[str], None] = print,
    command: str = "",
    poll_s: float = 10.0,
) -> dict[str, Any]:
    """Run every unfinished run of the study (a search: both stages). Returns its summary; StudyError at the end if runs failed."""
    if spec.search is not None:
        root = Path(root).expanduser()
        return run_search(spec, root, executor or Executor("local"), progress=progress, log=log, command=command, poll_s=poll_s)
    return run_plain(spec, root, executor, progress=progress, log=log, command=command, poll_s=poll_s)


__all__ = ["run_study"]
