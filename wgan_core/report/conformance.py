"""The metric conformance ladder's verdicts, for a note beside every report that shows a flagged metric.

benchmarks/conformance.py damages a real data set at increasing strength (dropped classes, collapse, blur,
noise; swapped channels on RGB) and writes results/metric-conformance/DATASET/: ladder.csv per metric, feature
space and degradation for one draw (with each rung's value), and replicates.csv over every draw (how many draws
worsen at every rung, and each draw's first break). A metric is flagged when, in any draw and any space, it
fails a rung of damage it is meant to see (`designed_for`); the note says in how many space-draws, where, and,
from the values of the draw ladder.csv holds, whether the score improved there or stopped changing (saturated).
A report flags by the ladder of its own data set; a data set without one gets a note saying so, since one data
set's verdicts need not hold on another. Without the files (the package used outside this repository) no note
is written. Torch-free.
"""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[2] / "results" / "metric-conformance"  # a folder per data set
LADDER_METRICS = ("fid", "kid", "precision", "recall")  # the metrics the ladder checks
WHAT = {"improves": "the score improves", "stays": "the score stops changing, saturated"}


@lru_cache(maxsize=4)
def _read(path: str) -> pd.DataFrame | None:
    p = Path(path)
    return pd.read_csv(p) if p.exists() else None


def _how(strengths: str, values: str, first_break: float) -> str:
    """'improves' where the score at the first break is better than one rung before, 'stays' where it is equal (saturated)."""
    s = [float(x) for x in str(strengths).split(";")]
    v = [float(x) for x in str(values).split(";")]
    i = s.index(first_break)
    return "stays" if v[i] == v[i - 1] else "improves"


def flagged(metric: str, folder: Path) -> dict[str, dict]:
    """{degradation: {"broken", "total" (space-draws), "spaces", "breaks", "how"}} for the damage `metric` is meant to see
    but does not worsen at, at every rung, in some draw and space."""
    reps, lad = _read(str(folder / "replicates.csv")), _read(str(folder / "ladder.csv"))
    if reps is None:
        return {}
    rows = reps[(reps["metric"] == metric) & reps["designed_for"].astype(bool)]
    out: dict[str, dict] = {}
    for degradation, g in rows.groupby("degradation", sort=False):
        bad = g[g["monotone_draws"] < g["draws"]]
        if bad.empty:
            continue
        breaks = sorted({float(b) for r in bad.itertuples() for b in str(r.first_breaks).split(";") if b != "-"})
        how: set[str] = set()
        if lad is not None:  # the draw with values: did the score improve, or saturate, at its break?
            one = lad[(lad["metric"] == metric) & (lad["degradation"] == degradation) & ~lad["monotone"].astype(bool)]
            how = {_how(r.strengths, r.values, float(r.first_break)) for r in one.itertuples() if not math.isnan(float(r.first_break))}
        out[str(degradation)] = {"broken": int((g["draws"] - g["monotone_draws"]).sum()), "total": int(g["draws"].sum()),
                                 "spaces": list(bad["feature_space"]), "breaks": breaks, "how": sorted(how)}  # fmt: skip
    return out


def conformance_notes(metrics: list[str], dataset: str, root: Path = ROOT, space: str | None = None) -> list[str]:
    """One note per flagged metric among `metrics` (those a report's tables show) on `dataset`'s ladder, naming where it breaks,
    and whether it breaks in `space`, the feature space the report's own values were computed in (when the ladder has it)."""
    metrics = [m for m in metrics if m in LADDER_METRICS]
    folder = root / dataset
    reps = _read(str(folder / "replicates.csv"))
    if reps is None:
        if not root.is_dir() or not metrics:
            return []
        have = ", ".join(sorted(d.name for d in root.iterdir() if (d / "replicates.csv").exists()))
        return [f"No metric conformance ladder has been run on {dataset} (results/metric-conformance/ has {have or 'none'}): its metrics are "
                f"unchecked there. `python benchmarks/conformance.py --dataset {dataset}` writes one, "
                "once that script has a source for the data set."]  # fmt: skip
    notes = []
    for m in metrics:
        where = flagged(m, folder)
        if not where:
            continue
        n = int(reps[reps["metric"] == m]["n_samples"].iloc[0])
        parts = []
        for degradation, f in where.items():
            at = "/".join(f"{b:g}" for b in f["breaks"])
            how = f", where {' or '.join(WHAT[h] for h in f['how'])}" if f["how"] else ""
            parts.append(f"{degradation} (in {f['broken']} of {f['total']} space-draws: {', '.join(f['spaces'])}; first break at strength {at}{how})")
        mine = reps[(reps["metric"] == m) & (reps["feature_space"] == space) & reps["designed_for"].astype(bool)]
        here = ""
        if len(mine):  # the report's own space is on the ladder: does the flag apply to the values shown?
            ok = bool((mine["monotone_draws"] == mine["draws"]).all())
            here = (f" In this report's feature space ({space}) it worsens at every such rung in every draw." if ok
                    else f" It breaks in this report's feature space ({space}) too.")  # fmt: skip
        notes.append(
            f"Flagged metric: {m} does not worsen at every rung of damage it is meant to see on the conformance ladder "
            f"(results/metric-conformance/{dataset}/replicates.csv: real {dataset}, {n:,} samples per side): {'; '.join(parts)}.{here} "
            f"Read its values and rankings with care."
        )
    return notes


__all__ = ["LADDER_METRICS", "ROOT", "conformance_notes", "flagged"]
