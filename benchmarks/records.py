"""A comparison's records: the columns of compare.csv (one verdict per configuration) and compare_blocks.csv (every
process's median, round by round), and reading them back: the rounds a sequence already has (so a repeat resumes it) and
a recorded `slower` of the same pair (which stands under any later setting).

A *pair* is what one question shares (machine kind, configuration, the two sides); a *sequence* is a pair under one torch
and one measuring setting: its rounds are one sample, judged with the error share it started with (benchmarks/compare.py).
"""

from __future__ import annotations

import csv
from pathlib import Path

from history import CONFIG, _norm

SETTING = ("steps", "chunk", "warmup", "inject")  # how a round measures: a sequence's rounds share them
RECORD = ["date", "started", "device", "device_name", "host", "torch", *CONFIG, "ensemble", "base", "head", "verdict", "detail", "ratio",
          "low", "high", "max_slowdown", "alpha", "spent", "looked", "rounds", "new_rounds", *SETTING, "p_value", "base_ms",
          "head_ms", "seconds", "harness"]
BLOCK = ["date", "started", "device_name", "host", "torch", *CONFIG, "ensemble", "base", "head", "round", "side", "commit",
         "median_ms", "min_ms", "max_ms", *SETTING, "inject_ms", "alpha"]


def pair(row: dict) -> tuple:
    """Machine kind, configuration and the two sides: what every sequence of one question shares, whatever its setting."""
    return (row["host"], *(_norm(str(row[k])) for k in CONFIG), _norm(str(row.get("ensemble") or 0)), row["base"], row["head"])


def sequence_key(row: dict) -> tuple:
    """What makes rounds one sequence: the pair, torch, and the measuring setting (rounds of another are another sample)."""
    return (*pair(row), row.get("torch", ""), *(str(float(row[k] or 0)) for k in SETTING))


def recorded_rounds(out: Path | None, keys: list[tuple]) -> list[tuple[dict[str, list[float]], float | None]]:
    """Per key, the rounds already recorded in OUT/compare_blocks.csv ({'A': [...], 'B': [...]} in round order) and the
    error share per side the sequence was started with (None for a new sequence)."""
    found: list[dict[int, dict[str, float]]] = [{} for _ in keys]
    share: list[float | None] = [None for _ in keys]
    path = out / "compare_blocks.csv" if out is not None else None
    if path is not None and path.is_file():
        index = {k: i for i, k in enumerate(keys)}
        with path.open(newline="") as f:
            for row in csv.DictReader(f):
                i = index.get(sequence_key(row))
                if i is None or not row.get("median_ms") or not row.get("round"):
                    continue
                found[i].setdefault(int(row["round"]), {})[row["side"]] = float(row["median_ms"])
                if share[i] is None and row.get("alpha"):
                    share[i] = float(row["alpha"])
    return [({s: [r[s] for _, r in sorted(f.items()) if {"A", "B"} <= set(r)] for s in "AB"}, a) for f, a in zip(found, share)]


def earlier_slower(out: Path | None, fields: list[dict]) -> list[dict | None]:
    """Per configuration, a recorded `slower` of the same pair under any setting (another --steps, --chunk, torch ...): it
    stands, whatever this sequence says, so a fresh setting cannot wash a slowdown out either."""
    path = out / "compare.csv" if out is not None else None
    if path is None or not path.is_file():
        return [None for _ in fields]
    with path.open(newline="") as f:
        slower = [r for r in csv.DictReader(f) if r.get("verdict") == "slower" and float(r.get("inject") or 0) == 0]
    return [next((r for r in reversed(slower) if pair(r) == pair(f)), None) for f in fields]


__all__ = ["BLOCK", "RECORD", "SETTING", "earlier_slower", "pair", "recorded_rounds", "sequence_key"]
