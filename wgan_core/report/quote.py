"""Tables in prose that cannot drift: Markdown files quote report CSVs between markers, and one command rewrites them.

A quoted table in any Markdown file looks like

    <!-- quote: results/search-toy/report/ranking.csv | dataset, objective, tuned_mean | objective!=wgan-gp -->
    | dataset | objective | tuned_mean |
    |---|---|---|
    ...
    <!-- /quote -->

The marker names the CSV (relative to the repository root), the columns in order, and optional
filters `column=value` / `column!=value` (comma-separated, all must hold). Numbers are printed
with 4 significant digits, shares (columns ending in `_rate`) as percentages. `quote_file` rewrites
the tables from their CSVs; `check_file` lists the quotes that differ from their CSVs, which the
test suite asserts is empty for the README and every results/*/README.md. Torch-free.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import pandas as pd

from ..errors import ConfigError

QUOTE = re.compile(r"(<!-- quote: (?P<spec>.*?) -->\n)(?P<body>.*?)(<!-- /quote -->)", re.S)


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


def render(spec: str, root: Path) -> str:
    """The Markdown table a quote marker's spec asks for (ending in a newline)."""
    parts = [p.strip() for p in spec.split("|")]
    if len(parts) < 2:
        raise ConfigError(f"quote: expected 'CSV | columns [| filters]', got {spec!r}")
    path = root / parts[0]
    try:
        df = pd.read_csv(path)
    except (OSError, ValueError) as e:
        raise ConfigError(f"quote: cannot read {path} ({e})") from None
    for cond in [c.strip() for c in (parts[2].split(",") if len(parts) > 2 else []) if c.strip()]:
        col, neg, value = re.fullmatch(r"([^!=]+)(!?)=(.*)", cond).groups() if re.fullmatch(r"([^!=]+)(!?)=(.*)", cond) else (None, "", "")
        if col is None or col.strip() not in df:
            raise ConfigError(f"quote: filter {cond!r} of {parts[0]}: no such column; columns: {', '.join(df.columns)}")
        keep = df[col.strip()].astype(str) == value.strip()
        df = df[~keep] if neg else df[keep]
    cols = [c.strip() for c in parts[1].split(",")]
    missing = [c for c in cols if c not in df]
    if missing:
        raise ConfigError(f"quote: {parts[0]} has no column(s) {', '.join(missing)}; columns: {', '.join(df.columns)}")
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for _, row in df[cols].iterrows():
        lines.append("| " + " | ".join(_cell(c, row[c]) for c in cols) + " |")
    return "\n".join(lines) + "\n"


def quote_text(text: str, root: Path) -> str:
    return QUOTE.sub(lambda m: m.group(1) + render(m.group("spec"), root) + m.group(4), text)


def quote_file(path: Path, root: Path) -> bool:
    """Rewrite the file's quoted tables from their CSVs; True if it changed."""
    text = path.read_text()
    new = quote_text(text, root)
    if new != text:
        path.write_text(new)
    return new != text


def check_file(path: Path, root: Path) -> list[str]:
    """The specs of the file's quotes whose tables differ from what their CSVs give now (empty: all agree)."""
    return [m.group("spec") for m in QUOTE.finditer(path.read_text()) if m.group("body") != render(m.group("spec"), root)]


def quoted_files(root: Path) -> list[Path]:
    """README.md and every results/*/README.md that holds a quote."""
    candidates = [root / "README.md", *sorted((root / "results").glob("*/README.md"))]
    return [p for p in candidates if p.exists() and QUOTE.search(p.read_text())]


__all__ = ["check_file", "quote_file", "quote_text", "quoted_files", "render"]
