"""The speed history (a throughput CSV and its rows) and its check: is a configuration's newest commit slower?
Its figures and the `--check-history` command are benchmarks/history_plots.py.

    python benchmarks/throughput.py --check-history results/throughput/cpu.csv

A throughput CSV (benchmarks/throughput.py, one row per measured variant) is split into
series: one per configuration (variant, architecture, resolution, width, batch, n_critic,
dtype, channels_last, compile, torch threads) on one machine (device and device name).
Rows of two machines are never compared. Within a series the commits are put in order
by git history where git knows every one of them (a `+dirty` working tree right after
its commit), otherwise in the order their rows were appended to the CSV; never
alphabetically. The newest commit's figure is set beside the previous commit's; a change of
more than THRESHOLD (10%) flags the series, which is a hint, never a verdict: rows of two
commits were measured at different times, and one row per commit flags about one same-commit
pair in ten here (results/throughput/README.md). A flag prints the `--compare` command that
settles it; a comparison recorded in compare.csv beside the CSV (benchmarks/compare.py) of
exactly those two commits, that configuration and that machine settles it, and only a
confirmed `slower` makes the check exit 1. Rows measured with --ensemble S also form a
series per S (ms per member iteration), settled by `--compare ... --ensemble S`. A pair's
records never wash each other out: one that says `slower` settles the flag whatever a later
record of the pair says (a later --compare of the pair resumes its sequence anyway).

The figure: a row's ms_per_gen_iter (the median over its timed steps), and for a commit with
several rows, the median of those; `--check-history` prints the spread of rows repeated at
one commit from the file each time it runs.
"""

from __future__ import annotations

import csv
import statistics
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
THRESHOLD = 0.10  # flag a newest commit more than 10% slower than the previous one
MACHINE = ("device", "device_name")
CONFIG = ("variant", "arch", "resolution", "width", "batch", "n_critic", "dtype", "channels_last", "compile", "threads")
STEP, MEMBER = "ms_per_gen_iter", "ensemble_ms_per_member_iter"  # the two timed quantities a row can carry


@dataclass(frozen=True)
class Series:
    """One configuration on one machine: the commits oldest first, and per commit the metric of each of its rows."""

    machine: str
    config: str
    metric: str  # STEP or MEMBER
    commits: tuple[str, ...]
    rows: tuple[tuple[float, ...], ...]  # rows[i]: the metric of each row of commits[i], in append order
    fields: dict[str, str] = field(default_factory=dict, compare=False)  # the configuration's columns (of its first row)

    def figure(self, i: int) -> float:
        """The figure of commits[i]: the median over its rows (each row's value is itself a median over timed steps)."""
        return statistics.median(self.rows[i])


@dataclass(frozen=True)
class Comparison:
    """A series' newest commit beside the previous one, and what an interleaved comparison of the two said, if one ran.

    flagged: the rows say the newest is more than the threshold slower (one or a few rows per
    commit, measured at different times: a hint, never a verdict). settled: the compare.csv
    record of exactly these two commits, this configuration and this machine
    (benchmarks/compare.py): one that says slower if any does, else the newest. slower, the only thing that turns the history red: settled says so.
    """

    series: Series
    change: float | None  # newest / previous - 1, from the rows
    flagged: bool
    settled: dict[str, str] | None = None
    elsewhere: tuple[dict[str, str], ...] = ()  # records of the same two commits and configuration on other machines

    @property
    def slower(self) -> bool:
        return self.settled is not None and rule(self.settled) == "slower"

    @property
    def newest(self) -> str:
        return self.series.commits[-1]

    @property
    def previous(self) -> str | None:
        return self.series.commits[-2] if len(self.series.commits) > 1 else None


def _norm(value: str) -> str:
    """A CSV cell as a key part: '28.0' and '28' alike (pandas writes integer columns with gaps as floats)."""
    try:
        number = float(value)
    except ValueError:
        return value
    return str(int(number)) if number.is_integer() else value


def config_label(row: dict[str, str], metric: str = STEP) -> str:
    """A short, unique name of a row's configuration, e.g. 'wgan-gp dcgan28 w64 b64 nc5 fp32 2t'."""
    r = {k: _norm(row.get(k, "")) for k in (*CONFIG, "ensemble")}
    shape = r["arch"] + ("" if r["resolution"] in ("", "0") else r["resolution"])  # toy architectures: resolution 0
    extra = (" channels_last" if r["channels_last"] == "True" else "") + (" compile" if r["compile"] == "True" else "")
    label = f"{r['variant']} {shape} w{r['width']} b{r['batch']} nc{r['n_critic']} {r['dtype']}{extra} {r['threads']}t"
    return label + (f" ensemble S={r['ensemble']} per member" if metric == MEMBER else "")


def _git_positions(commits: set[str], repo: Path) -> dict[str, int]:
    """Position in git history (0 = oldest) of each commit git knows, by its name as given; {} without git."""
    try:
        query = "".join(f"{c}^{{commit}}\n" for c in sorted(commits))
        found = subprocess.run(["git", "-C", str(repo), "cat-file", "--batch-check"], input=query, capture_output=True,
                               text=True, timeout=30)
        order = subprocess.run(["git", "-C", str(repo), "rev-list", "--topo-order", "--reverse", "--all"], capture_output=True,
                               text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return {}
    if found.returncode or order.returncode:
        return {}
    index = {sha: i for i, sha in enumerate(order.stdout.split())}
    positions = {}
    for name, line in zip(sorted(commits), found.stdout.splitlines()):
        sha = line.split()[0]
        if line.endswith(" missing") or line.endswith(" ambiguous") or sha not in index:
            continue
        positions[name] = index[sha]
    return positions


def commit_order(appended: list[str], positions: dict[str, int]) -> list[str]:
    """Commits (given in the order their rows were first appended) oldest first.

    By git history (`positions`) where it knows every one of them, a `+dirty` working tree
    right after its commit; otherwise the order of appending, which is also kept as the
    tie-break.
    """
    base = [c.split("+")[0] for c in appended]
    if not all(b in positions for b in base):
        return list(appended)
    return sorted(appended, key=lambda c: (positions[c.split("+")[0]], "+" in c, appended.index(c)))


REQUIRED = (*MACHINE, *CONFIG, STEP, "git_commit")


def read_rows(path: Path, required: tuple[str, ...] = REQUIRED) -> list[dict[str, str]]:
    """A CSV's rows, every cell as text (a commit such as 1234567 or 0e12345 stays what it is); ValueError names missing columns."""
    with Path(path).open(newline="") as f:
        reader = csv.DictReader(f)
        missing = [c for c in required if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"{path}: missing column(s) {', '.join(missing)}")
        return list(reader)


def load(path: Path, repo: Path | None = ROOT) -> list[Series]:
    """The series of a throughput CSV, machines apart and each in commit order (see the module docstring)."""
    rows = read_rows(path)
    groups: dict[tuple[str, str, str], dict[str, list[float]]] = {}  # (machine, config, metric) -> commit -> values
    fields_of: dict[tuple[str, str, str], dict[str, str]] = {}
    for row in rows:
        machine = " ".join(row.get(k, "") for k in MACHINE).strip()
        commit = row.get("git_commit", "") or "unknown"
        for metric in (STEP, MEMBER):
            value = row.get(metric, "")
            if value in ("", "nan"):
                continue
            key = (machine, config_label(row, metric), metric)
            groups.setdefault(key, {}).setdefault(commit, []).append(float(value))
            fields_of.setdefault(key, {k: _norm(row.get(k, "")) for k in (*MACHINE, *CONFIG, "ensemble")})
    commits = {c.split("+")[0] for by_commit in groups.values() for c in by_commit}
    positions = _git_positions(commits, repo) if repo is not None else {}
    series = []
    for key, by_commit in groups.items():
        order = commit_order(list(by_commit), positions)
        series.append(Series(*key, tuple(order), tuple(tuple(by_commit[c]) for c in order), fields_of[key]))
    return series


def same_commit(a: str, b: str) -> bool:
    """Two names of one commit: equal, or one an abbreviation (7+ characters) of the other; a +dirty tree only equals itself."""
    if "+" in a or "+" in b:
        return a == b
    return a == b or (min(len(a), len(b)) >= 7 and (a.startswith(b) or b.startswith(a)))


def load_records(path: Path) -> list[dict[str, str]]:
    """The comparisons recorded beside a throughput CSV (compare.csv in its folder), oldest first; [] without one."""
    records = Path(path).with_name("compare.csv")
    return read_rows(records, ("device", "device_name", *CONFIG, "base", "head", "verdict")) if records.is_file() else []


def compare(series: list[Series], threshold: float = THRESHOLD, records: list[dict[str, str]] = ()) -> list[Comparison]:
    """Each series' newest commit against the previous one: flagged by its rows, settled by a recorded comparison."""
    out = []
    for s in series:
        if len(s.commits) < 2:
            out.append(Comparison(s, None, False))
            continue
        change = s.figure(-1) / s.figure(-2) - 1
        pair = [r for r in records if record_label(r) == s.config and float(r.get("inject") or 0) == 0  # calibration runs settle nothing
                and same_commit(r["base"], s.commits[-2]) and same_commit(r["head"], s.commits[-1])]
        here = [r for r in pair if f"{r['device']} {r['device_name']}".strip() == s.machine]
        there = tuple(r for r in pair if r not in here)
        settled = next((r for r in reversed(here) if rule(r) == "slower"), here[-1] if here else None)
        out.append(Comparison(s, change, change > threshold, settled, there))
    return out


def record_label(r: dict[str, str]) -> str:
    """The series label a compare.csv record settles: the step's, or with --ensemble S the per-member series'."""
    return config_label(r, MEMBER if _norm(r.get("ensemble", "")) not in ("", "0") else STEP)


def compare_command(c: Comparison) -> str:
    """The --compare command that settles a flag: the two commits and the series' configuration.

    A row of a tree with uncommitted changes (`abc1234+dirty`) names no tree that can be checked
    out again: it gets no command, only that.
    """
    if "+" in c.previous or "+" in c.newest:
        return (f"none: {c.previous if '+' in c.previous else c.newest} was a tree with uncommitted changes, which no command "
                "can check out again; commit it and measure the commit")
    f = c.series.fields
    cmd = f"python benchmarks/throughput.py --compare {c.previous} {c.newest} --variants {f['variant']} --arch {f['arch']} "
    cmd += f"--width {f['width']} --batch {f['batch']} --threads {f['threads']}"
    cmd += f" --resolution {f['resolution']}" if f["arch"] == "dcgan" else ""
    cmd += " --amp bf16" if f["dtype"] == "bf16" else ""
    cmd += f" --ensemble {f['ensemble']}" if c.series.metric == MEMBER else ""
    return cmd + (" --device cuda" if f["device"] == "cuda" else "")


def repeat_spread(path: Path) -> dict[str, list[float]]:
    """Run-to-run spread (largest / smallest - 1) of rows repeated at one commit, for the median and the min column.

    Groups: same machine, configuration and commit (the single-run step only: rows that
    differ only in --ensemble S repeat the same measurement, which is taken before the
    ensemble). Returns {'median': [...], 'min': [...]}, one value per group of >= 2 rows.
    """
    with Path(path).open(newline="") as f:
        rows = list(csv.DictReader(f))
    groups: dict[tuple[str, str, str], list[dict[str, str]]] = {}
    for row in rows:
        key = (" ".join(row.get(k, "") for k in MACHINE), config_label(row), row.get("git_commit", ""))
        groups.setdefault(key, []).append(row)
    spread: dict[str, list[float]] = {"median": [], "min": []}
    for group in groups.values():
        if len(group) < 2:
            continue
        for name, column in (("median", STEP), ("min", "ms_per_gen_iter_min")):
            values = [float(r[column]) for r in group if r.get(column, "") not in ("", "nan")]
            if len(values) >= 2:
                spread[name].append(max(values) / min(values) - 1)
    return spread


def report(path: Path, threshold: float = THRESHOLD, repo: Path | None = ROOT) -> tuple[list[str], list[Comparison]]:
    """The lines --check-history prints, and the comparisons (the confirmed regressions have .slower)."""
    comparisons = compare(load(path, repo), threshold, load_records(path))
    lines = [
        f"speed history of {path}: per configuration and machine, the newest commit beside the previous one",
        f"rows: ms per iteration, the median of a row's timed steps, then the median over the commit's rows; a change of more "
        f"than {100 * threshold:g}% is a hint to compare; only an interleaved --compare of the two commits (compare.csv) decides",
    ]
    spread = repeat_spread(path)
    if spread["median"]:
        def summary(v: list[float]) -> str:
            return f"median {100 * statistics.median(v):.1f}%, largest {100 * max(v):.1f}%"

        lines.append(f"run-to-run spread of rows repeated at one commit ({len(spread['median'])} groups): "
                     f"median column {summary(spread['median'])}; min column {summary(spread['min'])}")
    width = max((len(c.series.config) for c in comparisons), default=0)
    for machine in dict.fromkeys(c.series.machine for c in comparisons):
        lines.append(f"\n{machine}")
        for c in (c for c in comparisons if c.series.machine == machine):
            s = c.series
            newest = f"{c.newest:>14} {s.figure(-1):9.2f} ms ({_rows(len(s.rows[-1]))})"
            if c.previous is None:
                lines.append(f"  {s.config:<{width}}  {newest}  (no earlier commit)")
                continue
            previous = f"{c.previous:>14} {s.figure(-2):9.2f} ms ({_rows(len(s.rows[-2]))})"
            lines.append(f"  {s.config:<{width}}  {newest}  vs {previous}  {100 * c.change:+6.1f}%  {status(c)}".rstrip())
    slower = [c for c in comparisons if c.slower]
    unsettled = [c for c in comparisons if c.flagged and c.settled is None]
    for c in unsettled:
        lines.append(f"\nnot enough evidence: {c.series.machine} | {c.series.config}: {c.previous} -> {c.newest} "
                     f"{100 * c.change:+.1f}% in rows" + "".join(f"; on {r['device_name']}: {verdict(r)}" for r in c.elsewhere))
        lines.append(f"  to decide, on this machine: {compare_command(c)}")
    if slower:
        lines.append(f"\n{len(slower)} configuration(s) slower at their newest commit, confirmed by an interleaved comparison:")
        lines += [f"SLOWER {c.series.machine} | {c.series.config}: {c.previous} -> {c.newest} {verdict(c.settled)}" for c in slower]
    else:
        lines.append("\nno configuration's newest commit is a confirmed regression")
    return lines, comparisons


def rule(record: dict[str, str]) -> str:
    """A record's verdict by today's rule (abtest.judge) from its bounds and tolerated slowdown, whatever its harness wrote."""
    from abtest import judge

    try:
        return judge(float(record["low"]), float(record["high"]), float(record["max_slowdown"]))[0]
    except (KeyError, ValueError):
        return record["verdict"]


def verdict(record: dict[str, str]) -> str:
    """A compare.csv record in words: 'slower: B/A 1.120, bounds [1.080, 1.160] after 16 rounds (3% tolerated)'."""
    return (f"{rule(record)}: B/A {float(record['ratio']):.3f}, bounds [{float(record['low']):.3f}, {float(record['high']):.3f}] "
            f"after {record.get('looked', '?')} rounds ({100 * float(record.get('max_slowdown') or 0.03):g}% tolerated)")


def status(c: Comparison) -> str:
    """What the history says of one series: a confirmed verdict, a hint to compare, or nothing."""
    if c.settled is not None:
        return ("SLOWER " if c.slower else "") + f"(compare: {verdict(c.settled)})"
    return "not enough evidence: run --compare" if c.flagged else ""


def _rows(n: int) -> str:
    return f"{n} row" + ("s" if n != 1 else "")


def check(path: Path, threshold: float = THRESHOLD, repo: Path | None = ROOT) -> int:
    """Print the report; 1 when a configuration's newest commit is a regression a comparison confirmed, else 0."""
    lines, comparisons = report(path, threshold, repo)
    print("\n".join(lines), flush=True)
    return 1 if any(c.slower for c in comparisons) else 0


def append_rows(path: Path, rows: list[dict], columns: list[str]) -> None:
    """Append throughput rows to the CSV at path (created with `columns` if missing), atomically; every cell kept as text."""
    import io

    from wgan_core.fileio import atomic_write_text

    path.parent.mkdir(parents=True, exist_ok=True)
    existing = path.read_text() if path.exists() else ""
    if existing.strip():
        check_columns(path, columns)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    if not existing.strip():
        writer.writeheader()
    writer.writerows({k: r.get(k, "") for k in columns} for r in rows)
    atomic_write_text(path, existing + ("" if not existing or existing.endswith("\n") else "\n") + buf.getvalue())


def check_columns(path: Path, columns: list[str]) -> None:
    """ValueError (one line) when an existing CSV's header is not `columns`: nothing is appended to a file of another shape."""
    if not path.exists() or not path.read_text().strip():
        return
    with path.open(newline="") as f:
        header = next(csv.reader(f))
    missing, extra = [c for c in columns if c not in header], [c for c in header if c not in columns]
    if missing or extra:
        raise ValueError(f"{path}: its columns differ from this version's (missing: {', '.join(missing) or 'none'}; "
                         f"unknown: {', '.join(extra) or 'none'}): append to a new file with --out")
