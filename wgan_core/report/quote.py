"""Tables in prose that cannot drift: Markdown files quote report CSVs between markers, and one command rewrites them.

A quoted table in any Markdown file looks like

    <!-- quote: results/search-toy/report/ranking.csv | dataset, objective, tuned_mean | objective!=wgan-gp -->
    | dataset | objective | tuned_mean |
    |---|---|---|
    ...
    <!-- /quote -->

The marker names the CSV (relative to the repository root), the columns in order, and optional
filters `column=value` / `column!=value` (comma-separated, all must hold; a value holding commas,
such as a cell label, in double quotes: `cell="gan, lr_d=0.0001"`). A number in a sentence
is quoted inline the same way, `<!-- value: CSV | column | filters [| range] -->0.97<!-- /value -->`:
one cell (exactly one row must match) or an aggregate over the matching rows (render_value); a
JSON file (a run's final.json) reads as one row of its fields.
Numbers are printed with 4 significant digits, shares (columns ending in `_rate`) as percentages;
every cell is read as text first, so a commit such as 67877e9 stays one. `quote_file` rewrites
the quotes from their CSVs; `check_file` lists the quotes that differ from their CSVs, which the
test suite asserts is empty for the README and every results/*/README.md. Torch-free.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pandas as pd

from ..errors import ConfigError

QUOTE = re.compile(r"(<!-- quote: (?P<spec>.*?) -->\n)(?P<body>.*?)(<!-- /quote -->)", re.S)
FILTER = re.compile(r'(?:[^,"]|"[^"]*")+')  # one filter condition: commas inside "..." belong to the value
VALUE = re.compile(r"(<!-- value: (?P<spec>[^\n]*?) -->)(?P<body>[^\n]*?)(<!-- /value -->)")


def _value(text: str):
    """A CSV cell read as written: '' is missing, a number is a float, anything else (a commit such as 67877e9) is text.

    A digits-e-digits cell without sign or point is text: Python and pandas write every float
    exponent with a sign (1e-05, 1e+16), while 67877e9 and 0e12345 are abbreviated commits.
    """
    if text == "":
        return None
    if text in ("True", "False") or re.fullmatch(r"\d+e\d+", text):
        return text
    try:
        return float(text)
    except ValueError:
        return text


def _cell(column: str, v) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "—"
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, float):
        if column.endswith("_rate"):
            return f"{v:.0%}"
        if v.is_integer() and abs(v) < 1e6:
            return str(int(v))
        return f"{v:.4g}" if abs(v) < 1e4 else f"{v:.0f}"
    return str(v)


def _flatten(obj: dict, prefix: str = "") -> dict:
    """{"a": {"b": 1}, "c": 2} -> {"a.b": 1, "c": 2}; lists are left out (a quote names one value)."""
    out: dict = {}
    for k, v in obj.items():
        if isinstance(v, dict):
            out.update(_flatten(v, f"{prefix}{k}."))
        elif not isinstance(v, list):
            out[f"{prefix}{k}"] = v
    return out


def _json_text(v) -> str:
    """A JSON scalar as a CSV cell would hold it: null -> '', numbers in Python's repr, text as is."""
    return "" if v is None else str(v)


def _rows(parts: list[str], root: Path) -> pd.DataFrame:
    """The CSV parts[0] (every cell as text), filtered by parts[2] (`column=value` / `column!=value`, comma-separated)."""
    path = root / parts[0]
    try:
        if path.suffix == ".json":  # one row: the file's scalar fields, nested keys joined by dots
            df = pd.DataFrame([{k: _json_text(v) for k, v in _flatten(json.loads(path.read_text())).items()}], dtype=str)
        else:
            df = pd.read_csv(path, dtype=str, keep_default_na=False)  # every cell as text; _value reads numbers
    except (OSError, ValueError) as e:
        raise ConfigError(f"quote: cannot read {path} ({e})") from None
    # Conditions split at commas outside double quotes: a value with commas (a cell label) is written "in quotes".
    for cond in [c.strip() for c in (FILTER.findall(parts[2]) if len(parts) > 2 else []) if c.strip()]:
        match = re.fullmatch(r"([^!=]+)(!?)=(.*)", cond)
        if match is None or match.group(1).strip() not in df:
            raise ConfigError(f"quote: filter {cond!r} of {parts[0]}: no such column; columns: {', '.join(df.columns)}")
        value = match.group(3).strip()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        keep = df[match.group(1).strip()] == value
        df = df[~keep] if match.group(2) else df[keep]
    return df


def render(spec: str, root: Path) -> str:
    """The Markdown table a quote marker's spec asks for (ending in a newline)."""
    parts = [p.strip() for p in spec.split("|")]
    if len(parts) < 2:
        raise ConfigError(f"quote: expected 'CSV | columns [| filters]', got {spec!r}")
    df = _rows(parts, root)
    cols = [c.strip() for c in parts[1].split(",")]
    missing = [c for c in cols if c not in df]
    if missing:
        raise ConfigError(f"quote: {parts[0]} has no column(s) {', '.join(missing)}; columns: {', '.join(df.columns)}")
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for _, row in df[cols].iterrows():
        lines.append("| " + " | ".join(_cell(c, _value(row[c])) for c in cols) + " |")
    return "\n".join(lines) + "\n"


AGGREGATES = ("range", "min", "max", "median", "mean", "sd", "count")


def render_value(spec: str, root: Path) -> str:
    """The text an inline value marker's spec asks for: one cell, or an aggregate of a column over the filtered rows.

    Spec: `CSV | column | filters [| range|min|max|median|mean|sd|count]`. Without an aggregate exactly
    one row must match. `range` prints min-max (one value when they are equal); `sd` is the sample
    standard deviation (n - 1 in the denominator) of the finite values. A `.json` file is one row of
    its scalar fields, nested keys joined by dots (`final.json | metrics.w1 |`).
    """
    parts = [p.strip() for p in spec.split("|")]
    if len(parts) not in (3, 4) or (len(parts) == 4 and parts[3] not in AGGREGATES):
        raise ConfigError(f"quote: expected 'CSV | column | filters [| {'|'.join(AGGREGATES)}]', got {spec!r}")
    df, column = _rows(parts, root), parts[1]
    if column not in df:
        raise ConfigError(f"quote: {parts[0]} has no column {column}; columns: {', '.join(df.columns)}")
    how = parts[3] if len(parts) == 4 else ""
    if how == "count":
        return str(len(df))
    values = [_value(v) for v in df[column]]
    if not how:
        if len(values) != 1:
            raise ConfigError(f"quote: {spec!r} matches {len(values)} rows, not one: add a filter or an aggregate")
        return _cell(column, values[0])
    numbers = sorted(v for v in values if isinstance(v, float) and math.isfinite(v))
    if not numbers:
        raise ConfigError(f"quote: {spec!r}: no numbers to aggregate")
    low, high = _cell(column, numbers[0]), _cell(column, numbers[-1])
    if how == "range":
        return low if low == high else f"{low}–{high}"
    if how == "sd":
        if len(numbers) < 2:
            raise ConfigError(f"quote: {spec!r}: a standard deviation needs two numbers, got {len(numbers)}")
        return _cell(column, float(pd.Series(numbers).std(ddof=1)))
    series = pd.Series(numbers)
    return {"min": low, "max": high, "median": _cell(column, float(series.median())), "mean": _cell(column, float(series.mean()))}[how]


def quote_text(text: str, root: Path) -> str:
    text = QUOTE.sub(lambda m: m.group(1) + render(m.group("spec"), root) + m.group(4), text)
    return VALUE.sub(lambda m: m.group(1) + render_value(m.group("spec"), root) + m.group(4), text)


def quote_file(path: Path, root: Path) -> bool:
    """Rewrite the file's quoted tables from their CSVs; True if it changed."""
    text = path.read_text()
    new = quote_text(text, root)
    if new != text:
        path.write_text(new)
    return new != text


def check_file(path: Path, root: Path) -> list[str]:
    """The specs of the file's quotes whose tables differ from what their CSVs give now (empty: all agree)."""
    text = path.read_text()
    return ([m.group("spec") for m in QUOTE.finditer(text) if m.group("body") != render(m.group("spec"), root)]
            + [m.group("spec") for m in VALUE.finditer(text) if m.group("body") != render_value(m.group("spec"), root)])


def quoted_files(root: Path) -> list[Path]:
    """README.md and every results/*/README.md that holds a quote."""
    candidates = [root / "README.md", *sorted((root / "results").glob("*/README.md"))]
    return [p for p in candidates if p.exists() and (QUOTE.search(p.read_text()) or VALUE.search(p.read_text()))]


__all__ = ["check_file", "quote_file", "quote_text", "quoted_files", "render", "render_value"]
