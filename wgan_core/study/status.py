"""`python -m wgan_core status DIR`: where a study stands, read from its files while it runs.

Per run: finished (final.json: ok or diverged), running (a live claim), stopped (a
checkpoint and no live claim: the next invocation resumes it), failed (error.log) or
queued (nothing yet); the step reached and the last evaluation's shown metrics. Then the
counts and an ETA: the remaining runs' relative cost (jobs.job_cost) at the wall time per
unit of cost the finished runs took, divided among the runs now in flight.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import ConfigError
from ..fileio import read_rows
from ..kinds import job_from_dict
from ..metrics import registry
from .claims import CLAIMS, claim_is_live
from .identity import StudySpec, describe_job, read_study
from .jobs import _fmt_s, job_cost
from .presets import Job

ORDER = ("running", "stopped", "failed", "queued", "finished")


@dataclass
class RunStatus:
    run_id: str
    state: str  # one of ORDER
    label: str
    step: int  # generator iterations done (from the last metrics row or final.json)
    steps: int  # of the run's total; 0 where unknown
    metrics: dict[str, Any]
    detail: str = ""  # diverged, the error's last line, the holder of a claim
    cost: float = 0.0  # jobs.job_cost of the whole run
    wall_s: float = 0.0  # a finished run's wall time


def _study_jobs(info: dict[str, Any]) -> dict[str, Job]:
    """The study's jobs rebuilt from study.json (so queued runs have names), or {} if the preset changed since."""
    try:
        keys = ("preset", "seeds", "device", "variants", "datasets", "set", "settings", "metric", "params")
        d = {k: info[k] for k in keys if k in info}
        spec = StudySpec(
            d["preset"], d["seeds"], d.get("device", "auto"), tuple(d.get("variants", ())), tuple(d.get("datasets", ())),
            tuple(d.get("set", ())), settings=d.get("settings", 0), metric=d.get("metric", ""), params=tuple(d.get("params", ())),
        )  # fmt: skip
        return {j.run_id(): j for j in spec.jobs()}
    except (ConfigError, KeyError, TypeError):
        return {}


def _float_metrics(m: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for k in registry.shown():
        v = m.get(k)
        try:
            v = float(v)
        except (TypeError, ValueError):
            continue
        if v == v:
            out[k] = v
    return out


def run_status(root: Path, rid: str, job: Job | None) -> RunStatus:
    d = root / rid
    if job is None and (d / "config.json").exists():
        try:
            job = job_from_dict(json.loads((d / "config.json").read_text()))
        except (ConfigError, ValueError):
            job = None
    label = describe_job(job) if job is not None else "?"
    steps = int(getattr(job, "steps", 0) or 0)
    cost = job_cost(job) if job is not None else 0.0
    if (d / "final.json").exists():
        final = json.loads((d / "final.json").read_text())
        detail = "diverged" if final.get("status") == "diverged" else ""
        return RunStatus(rid, "finished", label, int(final.get("steps", steps)), steps, _float_metrics(final.get("metrics", {})),
                         detail, cost, float(final.get("wall_time_s") or 0.0))  # fmt: skip
    rows = read_rows(d / "metrics.csv")
    step = int(rows[-1]["step"]) if rows else 0
    metrics = _float_metrics(rows[-1]) if rows else {}
    claim = root / CLAIMS / rid
    if claim.exists():
        try:
            holder = json.loads(claim.read_text())
            if claim_is_live(holder, claim.stat().st_mtime):
                return RunStatus(rid, "running", label, step, steps, metrics, f"pid {holder.get('pid')} on {holder.get('host')}", cost)
        except (OSError, ValueError):
            pass
    if (d / "checkpoint.pt").exists() or (d / "checkpoint.prev.pt").exists():
        return RunStatus(rid, "stopped", label, step, steps, metrics, "resumable from its checkpoint", cost)
    if (d / "error.log").exists():
        lines = (d / "error.log").read_text().strip().splitlines()
        return RunStatus(rid, "failed", label, step, steps, metrics, lines[-1] if lines else "", cost)
    return RunStatus(rid, "queued", label, 0, steps, {}, "", cost)


def study_status(root: str | Path) -> tuple[list[RunStatus], dict[str, Any]]:
    """Every run's status and a summary {counts, eta_s, running}. Raises ConfigError if DIR holds no study."""
    root = Path(root).expanduser()
    info = read_study(root)
    if info is None:
        raise ConfigError(f"status: {root} holds no study.json; give the --out directory of a study")
    ids = list(info.get("runs", []))
    ids += [r for r in info.get("stage2", {}).get("runs", {}) if r not in ids]  # a search's stage 2, once decided
    jobs = _study_jobs(info)
    runs = [run_status(root, rid, jobs.get(rid)) for rid in ids]
    counts = {s: sum(r.state == s for r in runs) for s in ORDER}
    done = [r for r in runs if r.state == "finished" and r.wall_s > 0 and r.cost > 0]
    remaining = sum(r.cost * (1 - (r.step / r.steps if r.steps else 0)) for r in runs if r.state != "finished")
    eta = None
    if remaining == 0:
        eta = 0.0
    elif done:
        per_cost = sum(r.wall_s for r in done) / sum(r.cost for r in done)
        eta = remaining * per_cost / max(1, counts["running"])
    return runs, {"counts": counts, "eta_s": eta, "total": len(runs), "preset": info.get("preset", "?")}


def format_status(runs: list[RunStatus], summary: dict[str, Any]) -> str:
    lines = []
    for r in sorted(runs, key=lambda r: (ORDER.index(r.state), r.label)):
        shown = ", ".join(f"{k} {registry.fmt(k, v)}" for k, v in r.metrics.items())
        progress = f"{r.step}/{r.steps}" if r.steps else str(r.step)
        extra = f" [{r.detail}]" if r.detail else ""
        lines.append(f"{r.run_id}  {r.state:<8}  {r.label:<40}  {progress:>13}  {shown}{extra}".rstrip())
    c = summary["counts"]
    eta = summary["eta_s"]
    eta_txt = "?" if eta is None else _fmt_s(eta)
    lines.append(
        f"study {summary['preset']}: {summary['total']} runs: {c['finished']} finished, {c['running']} running, {c['stopped']} stopped, "
        f"{c['failed']} failed, {c['queued']} queued; ETA {eta_txt}"
        + (" (from the finished runs' pace, shared among the running ones)" if eta else "")
        + f"; {time.strftime('%H:%M:%S')}"
    )
    return "\n".join(lines)


__all__ = ["ORDER", "RunStatus", "format_status", "run_status", "study_status"]
