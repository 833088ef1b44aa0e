"""Writing a study's report: `write_report(DIR)` and its two documents, summary.md and index.html.

`write_report` reads the study (load.py: the run folders, or without them the report's own raw
runs.csv and curves.csv, so a committed report is rebuilt from its committed files) and writes DIR/report/:

    runs.csv        one row per run: config columns, final metrics as the run wrote them, status, wall time, steps to threshold
    curves.csv      one row per evaluation of every run
    summary.csv     per data set and cell and metric: failures (wgan_core.outcome), the mean of the runs that did not fail
                    with its interval (range for n <= 5, 95% BCa bootstrap beyond), median and IQM with failures ranked
                    worst and their percentile bootstrap intervals, best; steps to the threshold, wall time, iterations/s
    summary.md      the same as Markdown tables, each with the measured coverage of its intervals (coverage.py)
    stats.csv       the paired tests of the declared families (families.py): exact signed-rank, Holm over each family,
                    equivalence within the declared margins, a verdict per row
    improvement.csv P(cell beats baseline) with its percentile bootstrap interval, for every pair of every family
    *.png + *.csv   every plot and the data behind it (plots.py), performance profiles among them
    feature_*.csv   where DIR/feature-spaces/scores.csv exists: ranks per feature space, Kendall τ, flips (feature_spaces.py)
    index.html      one self-contained page (plots embedded) with the tables and plots

It reads files only: finished toy runs that predate the run-side panel.npz and 2,500-sample
mode metrics are named in both documents, with the command that fills them in.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path
from typing import Any

import pandas as pd

from ..fileio import atomic_write_text
from ..metrics.registry import METRICS
from ..outcome import RULE
from ..rundir.panel import PANEL_FILE
from .conformance import conformance_notes
from .coverage import coverage_note
from .families import Family, exploratory, family_tests
from .feature_spaces import feature_space_sections
from .load import CURVES_CSV, PUBLISHED_KEY, RUNS_CSV, THRESHOLD_SHARE, apply_failure_rule, lacking_results, load_study, primary_metric
from .plots import all_plots
from .published import mode_tables
from .search_tables import ROLES, is_search, search_sections, stage2_view
from .stats import BCA, BOOT_RESAMPLES, PERCENTILE, RANGE_MAX_N
from .tables import display_tables, factorial_tables, improvement_display, improvement_table, markdown, stats_display, summarize, write_csv

LIST_RUNS = 5  # run ids named in the note on runs that lack run-side results


RECORDED, AFTER, EXPLORATORY = "recorded", "declared after the runs", "exploratory"


def study_families(
    info: dict[str, Any], runs: pd.DataFrame, baseline: str, roles: tuple[str, ...] = (), given: list[Family] | None = None
) -> tuple[list[Family], str]:
    """(the families the paired tests run over, where they come from): study.json's (declared before the runs), else `given`
    (a preset's declaration, made after these runs), else exploratory ones (per role of a search)."""
    if "families" in info:  # recorded before the study ran, possibly none at all
        return [Family.from_dict(d) for d in info["families"]], RECORDED
    if given:
        return list(given), AFTER
    if roles:
        return [f for r in roles for f in exploratory(runs[runs["role"] == r], f"{baseline} ({r})")], EXPLORATORY
    return exploratory(runs, baseline), EXPLORATORY


def write_report(root: str | Path, baseline: str | None = None, out: str | Path | None = None, families: list[Family] | None = None) -> Path:
    """Write the report (tables, statistics, plots, index.html) into out (default DIR/report/); returns the path of index.html.

    From the run folders where they are; without them (a committed results/<study>), from report/runs.csv and
    curves.csv, so every table is rebuilt from the committed raw values (plots that need a run's files are kept as they are).
    families: the paired tests' families where study.json records none (a preset's, declared after the runs).
    """
    root = Path(root).expanduser()
    runs, curves, tables, info = load_study(root)
    from_folders = any((root / str(r)).is_dir() for r in runs["run_id"])
    baseline = baseline or info.get("baseline") or "wgan-gp"
    out = Path(out).expanduser() if out else root / "report"
    out.mkdir(parents=True, exist_ok=True)

    write_csv(runs, out / RUNS_CSV)
    write_csv(curves, out / CURVES_CSV)
    sections: list[tuple[str, pd.DataFrame, str]] = []
    search_plots: list[tuple[str, Path]] = []
    metric = primary_metric(runs, info)
    all_curves = curves
    if is_search(info):  # the tables, tests and plots below describe stage 2: '<objective> (tuned)' and '(defaults)'
        all_runs = runs
        runs, curves = stage2_view(all_runs, all_curves, info)
    scored = apply_failure_rule(runs, metric)  # every run, flagged per metric; no value replaced
    families, declared = study_families(info, scored, baseline, ROLES if is_search(info) else (), families)
    if is_search(info):
        sections, search_plots = search_sections(all_runs, all_curves, scored, info, baseline, out)
    stats = family_tests(scored, families)
    improvement = improvement_table(scored, families)
    summary = summarize(scored)
    write_csv(summary, out / "summary.csv")
    published = mode_tables(summary, scored)  # data sets with published mode counts: ours beside theirs
    for heading, t, _ in published:
        write_csv(t, out / f"modes_{heading.split(':')[0]}.csv")
    write_csv(stats, out / "stats.csv")
    write_csv(improvement, out / "improvement.csv")
    plots = search_plots + all_plots(root if from_folders else None, scored, curves, tables, out, families)

    unfinished = int((~runs["status"].isin(["ok", "diverged"])).sum())
    lacking = lacking_note(root, runs) if from_folders else ""
    doc = _Doc(info, runs, display_tables(summary), stats, factorial_tables(scored), baseline, lacking, sections, metric, unfinished)
    if not improvement.empty:
        n = int(improvement[["n_cell", "n_baseline"]].min().min())
        doc.after = published + [("Probability of improvement", improvement_display(improvement), f"{IMPROVEMENT_NOTE} {coverage_note(n, ('p_improvement',))}")]
    else:
        doc.after = published
    doc.after += feature_space_sections(root, out, runs)  # where benchmarks/feature_rankings.py scored the runs in several spaces
    doc.declared = declared
    atomic_write_text(out / "summary.md", doc.markdown())
    index = out / "index.html"
    atomic_write_text(index, doc.html(plots))
    return index


IMPROVEMENT_NOTE = (
    "P(cell beats baseline): the share of all (cell run, baseline run) pairs in which the cell's run is better, ties counting "
    "half, failures worst and tied among themselves (rliable's probability of improvement, Agarwal et al. 2021); interval: "
    "95% percentile bootstrap over each cell's runs. 0.5: neither tends to win."
)


def lacking_note(root: Path, runs: pd.DataFrame) -> str:
    """'' when every finished toy run holds its run-side results; otherwise which runs lack what, and the command that fills them in."""
    lacking = lacking_results(root, runs)
    ids = list(dict.fromkeys(rid for what in (PANEL_FILE, PUBLISHED_KEY) for rid in lacking[what]))
    if not ids:
        return ""
    what = " / ".join(f"{k} ({len(v)})" for k, v in lacking.items() if v)
    shown = ", ".join(ids[:LIST_RUNS]) + (f" and {len(ids) - LIST_RUNS} more" if len(ids) > LIST_RUNS else "")
    return f"{len(ids)} finished toy run(s) lack {what} (older runs): `python -m wgan_core report {root}` fills them in from model.pt. Runs: {shown}."


def feature_network_notes(runs: pd.DataFrame) -> list[str]:
    """Per image data set, the feature network its final FID/KID came from; a warning where its runs used more than one."""
    if "feature_network" not in runs:
        return []
    notes = []
    for dataset, nets in runs.dropna(subset=["feature_network"]).groupby("dataset", sort=False)["feature_network"]:
        counts = nets.value_counts()
        names = sorted(counts.index, key=lambda n: (-counts[n], n))  # the most used first
        if len(names) == 1:
            notes.append(f"Feature network of {dataset}: `{names[0]}`, for every run's final FID/KID.")
        else:
            notes.append(
                f"WARNING: the runs of {dataset} were scored with {len(names)} different feature networks ("
                + ", ".join(f"`{n}`: {int(counts[n])} run(s)" for n in names)
                + "): the same recipe trained to other weights (another machine or cache folder), so their FID, KID, precision "
                "and recall do not compare across networks; score them with one network (one shared cache folder)."
            )
    return notes


def _notes(runs: pd.DataFrame, baseline: str, tested: bool, metric: str | None, unfinished: int) -> list[str]:
    notes = [
        f"Failures: {RULE}. Each metric's `failed` column counts them.",
        f"Intervals of the mean (over the runs that did not fail): the range (min, max) where a cell has n <= {RANGE_MAX_N} values; "
        f"beyond, a {BCA} interval ({BOOT_RESAMPLES:,} seeded resamples). Median and IQM (interquartile mean: the mean of the middle "
        f"50% of runs, failures ranked worst; with n < 4 it is the mean): {PERCENTILE} intervals over the cell's runs. The "
        "coverage each interval kind actually reaches is measured in results/coverage (it is not assumed from the nominal level).",
        f"Steps to ±10%: the first evaluation within {THRESHOLD_SHARE:.0%} of the run's own final value (runs that did not fail).",
    ]
    if unfinished:
        notes.append(f"{unfinished} run(s) have not finished (no final.json): by the rule they count as failed on every metric "
                     "(ranked worst, no value) until they finish and the report is written again.")
    if tested:  # no paired tests where the study has no baseline cell (a job kind without one)
        notes.append(
            "Paired tests (stats.csv): each cell of a family against its baseline on matched seeds, the exact signed-rank test "
            "(the sign-flip distribution conditional on the ranks, ties included; a failed run ranked worst, two failures tie), "
            "Holm-corrected over exactly the family (stats.csv `family`, `family_size`). A verdict is 'better' or 'worse' at "
            "p (Holm) < 0.05, 'equivalent within ±m' where two one-sided signed-rank tests reject a shift of m or more "
            "(Holm over the family), and otherwise 'not shown to differ', which is not a claim of equality."
        )
    notes += feature_network_notes(runs)
    for dataset, part in runs.groupby("dataset", sort=False) if "dataset" in runs else ():  # flagged by the data set's conformance ladder
        spaces = part["extractor"].dropna().unique() if "extractor" in part else []
        notes += conformance_notes([m for m in METRICS if m in part and part[m].notna().any()], str(dataset), space=spaces[0] if len(spaces) == 1 else None)
    if "modes" in runs:
        notes.append(
            "Mode metrics '(2,500)' as in VEEGAN/PacGAN: 2,500 samples of the final generator; a sample is high quality within 3σ "
            "of its nearest mode; a mode is covered with ≥1 high-quality sample (strict: ≥ a quarter of the uniform share). "
            "W1: exact optimal assignment between min(2,000, eval_samples) generated and as many real samples; "
            "the curves use each evaluation's eval_samples."
        )
    return notes


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:1.5em auto;max-width:1200px;color:#222;padding:0 1em}
table{border-collapse:collapse;font-size:13px;margin:0.5em 0 1.2em}
th,td{border:1px solid #ccc;padding:3px 7px;text-align:left;vertical-align:top}
th{background:#f2f2f2} tr:nth-child(even) td{background:#fafafa}
figure{margin:1.2em 0} figure img{max-width:100%;border:1px solid #ddd}
figcaption{font-size:13px;color:#555} code{background:#f4f4f4;padding:0 3px}
.meta{font-size:13px;color:#555} .warn{background:#fff4d6;border:1px solid #e0c070;padding:0.4em 0.7em}
"""


class _Doc:
    """The report's content, rendered as Markdown (summary.md) or as one self-contained HTML page (index.html)."""

    def __init__(self, info, runs, tables, stats, fact, baseline: str, lacking: str, sections=(), metric=None, unfinished: int = 0) -> None:
        self.info, self.runs, self.tables, self.stats, self.fact = info, runs, tables, stats, fact
        self.baseline, self.lacking = baseline, lacking
        self.sections = list(sections)  # (heading, table, note): a search's sections, before the summary
        self.notes = _notes(runs, baseline, not stats.empty, metric, unfinished)
        self.after: list[tuple[str, pd.DataFrame, str]] = []  # (heading, table, note) after the summary: mode counts beside published ones
        self.declared = EXPLORATORY  # where the paired tests' families come from (study_families)

    def family_note(self) -> str:
        if self.declared == RECORDED:
            return "Families: declared in the preset and recorded in study.json when the study was created, before it ran."
        if self.declared == AFTER:
            return ("Families: declared in the preset (wgan_core/study/presets.py) after these runs were made (study.json records "
                    "none), so they were chosen knowing the results: read the p-values as a re-analysis, not a confirmation.")
        return ("Families: none was declared for this study (made before families existed), so every cell is tested against the "
                "baseline, one exploratory family per data set and metric; read its p-values as exploratory.")

    def markdown(self) -> str:
        info = self.info
        parts = [f"# Study report: {info.get('preset', 'runs')}", ""]
        if info:
            parts += [f"{len(self.runs)} runs; command: `{info.get('command', '')}`; git commit `{info.get('git_commit', '')[:12]}`.", ""]
        if self.lacking:
            parts += [f"> **Note:** {self.lacking}", ""]
        for heading, t, note in self.sections:
            parts += [f"## {heading}", "", markdown(t), "", note, ""]
        if self.sections:
            parts += ["## Stage 2: seeds of the tuned and the default setting of each objective", ""]
        for ds, (t, extra) in self.tables.items():
            parts += [f"## {ds}", "", markdown(t), ""] + ([markdown(extra), ""] if len(extra.columns) > 1 else [])
            parts += [coverage_note(int(t["runs"].min())), ""]
        for name, t in self.fact.items():
            parts += [f"### {name} (loss × constraint)", "", markdown(t), ""]
        for heading, t, note in self.after:
            parts += [f"## {heading}", "", markdown(t), "", note, ""]
        if not self.stats.empty:
            table, note = stats_display(self.stats)
            parts += ["## Paired tests", "", self.family_note(), ""] + ([f"Test: {note}.", ""] if note else []) + [markdown(table.fillna("")), ""]
        parts += ["Notes:", ""] + [f"- {n}" for n in self.notes] + [""]
        return "\n".join(parts)

    def html(self, plots: list[tuple[str, Path]]) -> str:
        esc, info = html.escape, self.info
        status = self.runs["status"].value_counts().to_dict()
        title = esc(str(info.get("preset", "runs")))
        parts = [
            "<!DOCTYPE html><html><head><meta charset='utf-8'>",
            f"<title>Study report: {title}</title><style>{_CSS}</style></head><body>",
            f"<h1>Study report: {title}</h1>",
            "<p class='meta'>" + esc(f"{len(self.runs)} runs ({', '.join(f'{v} {k}' for k, v in status.items())})"),
        ]
        if info:
            made = f"created {info.get('created', '')}, git commit {info.get('git_commit', '')[:12]}, seeds {info.get('seeds')}"
            parts.append("<br>" + esc(f"command: {info.get('command', '')}") + "<br>" + esc(made))
        parts.append("</p>")
        if self.lacking:
            parts.append(f"<p class='warn'>{esc(self.lacking)}</p>")
        for heading, t, note in self.sections:
            parts += [f"<h2>{esc(heading)}</h2>", t.to_html(index=False, escape=True, border=0), f"<p class='meta'>{esc(note)}</p>"]
        parts.append("<h2>Stage 2: seeds of the tuned and the default setting of each objective</h2>" if self.sections else "<h2>Summary</h2>")
        for ds, (t, extra) in self.tables.items():
            parts += [f"<h3>{esc(str(ds))}</h3>", t.to_html(index=False, escape=True, border=0)]
            if len(extra.columns) > 1:  # "cell" alone: no metric with a direction (median / best)
                parts.append(extra.to_html(index=False, escape=True, border=0))
            parts.append(f"<p class='meta'>{esc(coverage_note(int(t['runs'].min())))}</p>")
        for name, t in self.fact.items():
            parts += [f"<h3>{esc(name)} (loss × constraint)</h3>", t.to_html(index=False, escape=True, border=0)]
        for heading, t, note in self.after:
            parts += [f"<h2>{esc(heading)}</h2>", t.to_html(index=False, escape=True, border=0), f"<p class='meta'>{esc(note)}</p>"]
        if not self.stats.empty:
            table, note = stats_display(self.stats)
            parts += ["<h2>Paired tests</h2>", f"<p>{esc(self.family_note())}</p>"] + ([f"<p>Test: {esc(note)}.</p>"] if note else [])
            parts.append(table.fillna("").to_html(index=False, escape=True, border=0))
        parts += ["<ul>"] + [f"<li>{esc(n)}</li>" for n in self.notes] + ["</ul>", "<h2>Plots</h2>"]
        for caption, path in plots:
            b64 = base64.b64encode(path.read_bytes()).decode()
            parts.append(
                f"<figure><img alt='{esc(path.name)}' src='data:image/png;base64,{b64}'>"
                f"<figcaption>{esc(caption)} — <code>{esc(path.name)}</code>, data: <code>{esc(path.with_suffix('.csv').name)}</code></figcaption></figure>"
            )
        more = ", improvement.csv, stage1.csv, budget.csv, sensitivity.csv, ranking.csv, cost.csv" if self.sections else ""
        parts.append(f"<p class='meta'>Tables as CSV: runs.csv, curves.csv, summary.csv, stats.csv{more} (beside this file).</p></body></html>")
        return "\n".join(parts)


__all__ = ["feature_network_notes", "lacking_note", "write_report"]
