"""Reading a study directory into DataFrames: runs, curves, the job kinds' run tables; cells; steps to a threshold.

Owns what the report knows about a run directory. It reads files only (config.json,
metrics.csv, final.json, the registered run tables of sections.py, and checks for panel.npz);
it never builds a model or imports torch. A run's label is the one the run wrote (final.json "variant").

A *cell* is a label plus any config field that varies within that label in the study
(e.g. "wgan-gp, penalty_weight=10" in the lambda preset); seeds are matched, so cells
are compared seed by seed.
"""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ConfigError
from ..metrics.registry import METRICS, threshold
from ..rundir.names import PANEL_FILE, PUBLISHED_KEY, data_kind, missing
from .sections import EXPERIMENTS, RUN_TABLES

THRESHOLD_SHARE = 0.10  # steps to reach within 10% of the run's own final value
# Config fields that never make a cell: they identify the run, the data set, or the label itself.
CELL_EXCLUDE = {"seed", "dataset", "variant", "loss", "constraint", "device", "data_dir", "experiment", "label"}


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None


def _kind(cfg: dict[str, Any]) -> str:
    """A GAN run's data kind (toy, image); another job kind's `experiment`: what its config.json names."""
    return cfg.get("experiment") or data_kind(cfg)


NOT_LABEL = ("seed", "device", "data_dir", "plugins", "tensorboard")  # config fields no job kind's label depends on
NARROW = ("experiment", "variant", "loss", "constraint")  # what a GAN run's label is a function of (RunConfig.label)


def _label_keys(cfg: dict[str, Any]) -> tuple[tuple, ...]:
    """Keys an unfinished run borrows a finished run's label by, most exact first: every config field but NOT_LABEL
    (whatever a job kind's label is a function of), then NARROW plus the constraint's settings, then NARROW alone."""
    full = tuple(sorted((k, repr(v)) for k, v in cfg.items() if k not in NOT_LABEL))
    narrow = tuple(repr(cfg.get(k, "")) for k in NARROW)
    return full, narrow + (repr(cfg.get("clip_value")), repr(cfg.get("penalty_weight"))), narrow


def _labels(configs: list[dict[str, Any]], finals: list[dict[str, Any] | None]) -> list[str]:
    """Each run's label as it wrote it in final.json; an unfinished run takes a finished one's with the same label key.

    An unfinished run with no finished sibling falls back to its preset name (`variant`) or
    constraint: the report does not import the job kinds' label rules, which need torch.
    """
    known: dict[tuple, str] = {}
    for c, f in zip(configs, finals):
        if f and f.get("variant"):
            for key in _label_keys(c):
                known.setdefault(key, str(f["variant"]))
    out = []
    for c, f in zip(configs, finals):
        if f and f.get("variant"):
            out.append(str(f["variant"]))
        else:
            borrowed = next((known[k] for k in _label_keys(c) if k in known), None)
            out.append(borrowed or str(c.get("variant") or c.get("constraint", "?")))
    return out


def steps_to_threshold(curve: pd.DataFrame, metric: str, share: float = THRESHOLD_SHARE) -> tuple[float, float]:
    """(step, wall seconds) of the first evaluation within `share` of the run's final value of `metric`."""
    c = curve[["step", "wall_time_s", metric]].dropna(subset=[metric]) if "wall_time_s" in curve else curve[["step", metric]].dropna()
    if c.empty:
        return math.nan, math.nan
    final = float(c[metric].iloc[-1])
    hit = c[(c[metric] - final).abs() <= share * abs(final)]
    first = hit.iloc[0]
    return float(first["step"]), float(first.get("wall_time_s", math.nan))


def _run_row(d: Path, cfg: dict[str, Any], final: dict[str, Any] | None, curves: pd.DataFrame) -> dict[str, Any]:
    """One run's row of runs.csv: its config, status, timing, final metrics and steps to the threshold."""
    row: dict[str, Any] = {"run_id": d.name, **cfg, "label": "", "kind": _kind(cfg)}
    if final is not None:
        row["status"] = final.get("status", "ok")
        row["steps_done"] = final.get("steps")
        for k in ("wall_time_s", "train_time_s", "gen_iters_per_s", "cpu_share"):
            row[k] = final.get(k)
        # A seed ensemble's member records the whole ensemble's wall time: its share is wall / members.
        row["ensemble_size"] = int((final.get("ensemble") or {}).get("size", 1))
        wall = final.get("wall_time_s")
        row["run_seconds"] = wall / row["ensemble_size"] if isinstance(wall, (int, float)) else math.nan
        row.update({k: v for k, v in final.get("metrics", {}).items() if k not in row})
        # JSON has no NaN or inf: a run writes a non-finite metric as null. Named here, so that the failure rule can tell
        # "ended non-finite" (failed) from "not measured" (a key the run never wrote).
        row["nonfinite"] = ",".join(k for k, v in final.get("metrics", {}).items() if v is None)
        if "extractor" in final.get("metrics", {}):  # the config's `extractor` is the kind; this is the network that scored
            row["feature_network"] = final["metrics"]["extractor"]
    else:
        row["status"] = "incomplete"
        row["steps_done"] = int(curves["step"].max()) if "step" in curves else 0
    if not curves.empty and final is not None:
        metric = next((m for m in threshold() if m in curves and curves[m].notna().any()), None)
        if metric:
            step, secs = steps_to_threshold(curves, metric)
            row[f"steps_to_{metric}_10pct"], row[f"time_to_{metric}_10pct"] = step, secs
    return row


RUNS_CSV, CURVES_CSV = "runs.csv", "curves.csv"  # the raw per-run tables a report writes first, and rebuilds from


def load_committed(root: Path, info: dict[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, pd.DataFrame], dict[str, Any]]:
    """A study without its run folders (a committed results/<study>): its report's raw runs.csv and curves.csv, as written."""
    runs = pd.read_csv(root / "report" / RUNS_CSV)
    cpath = root / "report" / CURVES_CSV
    curves = pd.read_csv(cpath) if cpath.exists() and cpath.stat().st_size > 1 else pd.DataFrame(columns=["run_id", "step"])
    return runs, curves, {}, info


def load_study(root: str | Path) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, pd.DataFrame], dict[str, Any]]:
    """(runs, curves, run tables, study_info) of every run directory under root (a directory holding config.json).

    run tables: each registered run table (sections.RUN_TABLES) some run wrote, by name: every run's rows.

    Without run directories (a study copied or committed without them), its report's raw runs.csv and curves.csv.
    """
    root = Path(root).expanduser()
    if not root.is_dir():
        raise ConfigError(f"report: {root} is not a directory")
    info = _read_json(root / "study.json") or {}
    order = {rid: i for i, rid in enumerate(info.get("runs", []))}
    run_rows, configs, finals, curve_frames = [], [], [], []
    table_frames: dict[str, list[pd.DataFrame]] = {name: [] for name in RUN_TABLES}
    config_fields: dict[str, None] = {}  # the union of config.json keys, in first-seen order
    for d in sorted(p for p in root.iterdir() if p.is_dir() and (p / "config.json").exists()):
        cfg = _read_json(d / "config.json")
        if cfg is None:
            continue
        config_fields.update(dict.fromkeys(cfg))
        final = _read_json(d / "final.json")
        mpath = d / "metrics.csv"
        curves = pd.read_csv(mpath) if mpath.exists() and mpath.stat().st_size else pd.DataFrame()
        run_rows.append(_run_row(d, cfg, final, curves))
        configs.append(cfg)
        finals.append(final)
        if not curves.empty:
            curves.insert(0, "run_id", d.name)
            curve_frames.append(curves)
        for name, table in RUN_TABLES.items():
            if (d / table.file).exists():
                t = pd.read_csv(d / table.file)
                t.insert(0, "run_id", d.name)
                table_frames[name].append(t)
    unknown = sorted({str(c["experiment"]) for c in configs if c.get("experiment", "") not in EXPERIMENTS})
    if unknown:
        warnings.warn(f"report: no job kind registered for experiment {', '.join(unknown)}: its metrics' metadata and run tables are "
                      "left out (import wgan_core.kinds, or its plug-in, first; `python -m wgan_core report` does)", stacklevel=2)  # fmt: skip
    if not run_rows:
        if (root / "report" / RUNS_CSV).exists():
            return load_committed(root, info)
        raise ConfigError(f"report: {root} holds no runs (no */config.json, no report/{RUNS_CSV})")
    for row, label in zip(run_rows, _labels(configs, finals)):
        row["label"] = label
    runs = pd.DataFrame(run_rows)
    runs["_order"] = [order.get(r, len(order) + i) for i, r in enumerate(runs["run_id"])]
    runs = runs.sort_values("_order", kind="stable").drop(columns="_order").reset_index(drop=True)
    runs.insert(1, "cell", cells(runs, tuple(config_fields)))
    cols = ["run_id", "dataset", "cell", "label", "seed"]
    curves = pd.concat(curve_frames, ignore_index=True) if curve_frames else pd.DataFrame(columns=["run_id", "step"])
    curves = runs[cols].merge(curves, on="run_id", how="inner")
    tables = {name: runs[cols].merge(pd.concat(fs, ignore_index=True), on="run_id", how="inner") for name, fs in table_frames.items() if fs}
    return runs, curves, tables, info


def primary_metric(runs: pd.DataFrame, info: dict[str, Any]) -> str | None:
    """The study's first metric: a search's selection metric, else the first threshold metric the runs have (W1, FID)."""
    if info.get("metric") in runs:
        return str(info["metric"])
    return next((m for m in threshold() if m in runs and runs[m].notna().any()), None)


def apply_failure_rule(runs: pd.DataFrame, metric: str | None) -> pd.DataFrame:
    """Every run, each flagged per metric by the one rule (wgan_core.outcome); no value is replaced.

    `failed_<m>`: the run diverged or did not finish (no final.json: killed, crashed, or still running when the
    report was written), or m ended non-finite (runs.csv `nonfinite` names the metrics a run wrote as null; an
    inf in the table also counts). A finished run that never wrote m (a run older than the metric, or a data kind
    without it) is not measured on m, not failed. `failed` is the first metric's flag (`metric`), or the status alone.
    """
    out = runs.copy()
    nonfinite = [set(str(v).split(",")) if isinstance(v, str) else set() for v in out.get("nonfinite", pd.Series("", index=out.index))]
    for m in [m for m in METRICS if m in out]:
        value = pd.to_numeric(out[m], errors="coerce")
        # outcome.RULE: not ok, or a non-finite end (a named null, or an inf); NaN on an ok run is "never written": not measured
        out[f"failed_{m}"] = [s != "ok" or m in nf or bool(np.isinf(v)) for s, v, nf in zip(out["status"], value, nonfinite)]
    out["failed"] = out[f"failed_{metric}"] if f"failed_{metric}" in out else out["status"] != "ok"
    return out


def _fmt_value(v: Any) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def cells(runs: pd.DataFrame, config_fields: tuple[str, ...]) -> list[str]:
    """The label, plus 'field=value' for each config field that varies within that label across the study."""
    config_cols = [c for c in config_fields if c in runs.columns and c not in CELL_EXCLUDE]
    varying: dict[str, list[str]] = {}
    for label, g in runs.groupby("label", sort=False):
        varying[label] = [c for c in config_cols if g[c].astype(str).nunique() > 1]
    return [", ".join([r["label"], *(f"{c}={_fmt_value(r[c])}" for c in varying[r["label"]])]) for _, r in runs.iterrows()]


def lacking_results(root: str | Path, runs: pd.DataFrame) -> dict[str, list[str]]:
    """Finished toy runs without the run-side results the report draws on, by what is missing (run ids, in study order).

    'panel.npz': the toy sample panel; 'modes_2500': the 2,500-sample mode metrics in
    final.json (8gaussians and 25gaussians only). Runs made before the run side stored
    them; `wgan_core.rundir.artifacts.complete_study` fills them in from model.pt.
    """
    root = Path(root).expanduser()
    out: dict[str, list[str]] = {PANEL_FILE: [], PUBLISHED_KEY: []}
    for rid in runs["run_id"]:
        for what in missing(root / rid):
            out[what].append(rid)
    return out


__all__ = [
    "CURVES_CSV", "RUNS_CSV", "THRESHOLD_SHARE", "apply_failure_rule", "cells", "lacking_results", "load_committed", "load_study", "primary_metric",
    "steps_to_threshold",
]  # fmt: skip
