"""The metric conformance ladder's verdicts, for a note beside every report that shows a flagged metric.

benchmarks/conformance.py damages real Fashion-MNIST at increasing strength (dropped classes, collapse,
blur, noise) and writes results/metric-conformance/ladder.csv: per metric, feature space and
degradation, whether the score worsens at every rung (`monotone`), the first rung that does not
(`first_break`) and whether the metric is meant to see that damage (`designed_for`). A metric that
fails a rung of damage it is meant to see is flagged in every report whose tables show it. Without
the file (the package used outside this repository) no note is written. Torch-free.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import pandas as pd

LADDER_CSV = Path(__file__).resolve().parents[2] / "results" / "metric-conformance" / "ladder.csv"
WHAT = {"improves": "the score improves", "stays": "the score stops changing, saturated"}


@lru_cache(maxsize=1)
def _ladder(path: str) -> pd.DataFrame | None:
    p = Path(path)
    return pd.read_csv(p) if p.exists() else None


def _how(strengths: str, values: str, first_break: float) -> str:
    """'improves' where the score at the first break is better than one rung before, 'stays' where it is equal (saturated)."""
    s = [float(x) for x in str(strengths).split(";")]
    v = [float(x) for x in str(values).split(";")]
    i = s.index(first_break)
    return "stays" if v[i] == v[i - 1] else "improves"


def flagged(metric: str, path: Path = LADDER_CSV) -> dict[str, list[tuple[str, float, str]]]:
    """{degradation: [(feature space, first break, 'improves' | 'stays'), ...]} for the rungs of damage `metric` is meant
    to see but does not worsen at."""
    t = _ladder(str(path))
    if t is None:
        return {}
    bad = t[(t["metric"] == metric) & t["designed_for"].astype(bool) & ~t["monotone"].astype(bool)]
    out: dict[str, list[tuple[str, float, str]]] = {}
    for r in bad.itertuples():
        out.setdefault(str(r.degradation), []).append((str(r.feature_space), float(r.first_break), _how(r.strengths, r.values, float(r.first_break))))
    return out


def conformance_notes(metrics: list[str], path: Path = LADDER_CSV) -> list[str]:
    """One note per flagged metric among `metrics` (those a report's tables show), naming where its ladder breaks."""
    t = _ladder(str(path))
    if t is None:
        return []
    notes = []
    for m in metrics:
        where = flagged(m, path)
        if not where:
            continue
        n_spaces = t[t["metric"] == m]["feature_space"].nunique()
        n = int(t[t["metric"] == m]["n_samples"].iloc[0])
        parts = []
        for degradation, hits in where.items():
            breaks = sorted({b for _, b, _ in hits})
            at = f"{breaks[0]:g}" if len(breaks) == 1 else "/".join(f"{b:g}" for b in breaks)
            what = " or ".join(WHAT[h] for h in sorted({h for _, _, h in hits}))
            parts.append(f"{degradation} ({what} at strength {at}, in {len(hits)} of {n_spaces} feature spaces)")
        notes.append(
            f"Flagged metric: {m} does not worsen at every rung of damage it is meant to see on the conformance ladder "
            f"(results/metric-conformance/ladder.csv: real Fashion-MNIST, {n:,} samples per side, one draw): {'; '.join(parts)}. "
            f"Read its values and rankings with care."
        )
    return notes


__all__ = ["LADDER_CSV", "conformance_notes", "flagged"]
