"""A study's one entry point, `run_study`: a plain study's jobs (jobs.run_plain), or the tuning-fair search's
two stages (Lucic et al. 2018's protocol, `run_search` below), run kill-safe like every study.

Stage 1: settings 0..K-1 of every objective (setting 0 = its paper defaults; the others drawn
from study.space.SPACE), each on R selection seeds (presets.selection_seeds: 1000, 1001, ...).
Stage 2: for every data set and objective, the setting with the lowest mean score over its R
selection seeds (ties broken by setting index), and the defaults, each retrained on seeds 0..N-1.
No stage-2 seed was used in stage 1, so a tuned score never includes the run that chose it
(the selection bias of retraining the selecting seed). Scores follow the one failure rule
(wgan_core.outcome): a failed run scores +inf (ranked worst).

Stage 2 is derived from stage 1's finished results alone, deterministically, and recorded in
study.json ("stage2") before any stage-2 run starts; a later invocation re-derives it and
refuses a directory whose record differs. Killed at any moment, the same command resumes: in
stage 1, in between, or in stage 2, with no finished run recomputed.

study.json of a search holds "stage1": {run_id: {dataset, variant, setting, seed, values}} and
"stage2": {"metric", "selected", "runs": {run_id: {dataset, variant, setting, seed, roles}}},
which the report reads (budget curves, sensitivity, the tuned and default cells). A stage-1 run
that failed with an exception (not a divergence) stops the search before stage 2: fix it and
run the same command again.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..config import ConfigError, RunConfig
from ..fileio import write_json
from ..metrics.registry import lower_is_better
from ..outcome import cost
from .executors import Executor
from .identity import STUDY_FILE, StudySpec, prepare_dir, read_study
from .jobs import check_device, job_cost, raise_failures, run_jobs, run_plain
from .presets import SELECTION_SEED0

# The config fields a setting can change (study.space.SPACE; 'lr' sets lr_g and lr_d), as recorded per stage-1 run.
HYPERPARAMETERS = ("lr_g", "lr_d", "beta1", "beta2", "n_critic", "penalty_weight", "clip_value", "optimizer")


def stage1_table(spec: StudySpec) -> dict[str, dict[str, Any]]:
    """{run_id: {dataset, variant, setting, seed, values (the hyperparameters' values)}} of stage 1, in run order."""
    table: dict[str, dict[str, Any]] = {}
    for job, i in spec.tagged_jobs():
        values = {k: v for k, v in job.to_dict().items() if k in HYPERPARAMETERS}
        table.setdefault(job.run_id(), {"dataset": job.dataset, "variant": job.variant, "setting": i, "seed": job.seed, "values": values})
    return table


def score(root: Path, run_id: str, metric: str) -> float:
    """A stage-1 run's score by the failure rule (outcome.cost): its final value (lower is better), +inf if it failed or is unfinished."""
    try:
        final = json.loads((root / run_id / "final.json").read_text())
    except (OSError, ValueError):
        return math.inf  # unfinished: cannot win
    value = final.get("metrics", {}).get(metric)
    value = float(value) if isinstance(value, (int, float)) else math.nan
    return cost(str(final.get("status")), value, bool(lower_is_better(metric)))


def select(table: dict[str, dict[str, Any]], scores: dict[str, float]) -> dict[str, dict[str, dict[str, Any]]]:
    """{dataset: {variant: {'setting', 'score', 'run_ids'}}}: per objective the setting with the lowest mean score over its
    selection seeds, ties to the lower setting index. A setting with no finite score on some seed means inf, so it cannot win
    unless nothing else can; with no finite mean at all, setting 0 (the defaults) is kept.
    """
    groups: dict[tuple[str, str, int], list[str]] = {}
    for rid, row in table.items():
        groups.setdefault((row["dataset"], row["variant"], row["setting"]), []).append(rid)
    best: dict[str, dict[str, dict[str, Any]]] = {}
    for (dataset, variant, setting), rids in groups.items():
        mean = sum(scores.get(r, math.inf) for r in rids) / len(rids)
        key = (mean, setting)
        cur = best.setdefault(dataset, {}).get(variant)
        if cur is None or key < (cur["score"], cur["setting"]):
            best[dataset][variant] = {"setting": setting, "score": mean, "run_ids": rids}
    return best


def stage2_jobs(spec: StudySpec, selected: dict[str, dict[str, dict[str, Any]]]) -> list[tuple[RunConfig, dict[str, Any]]]:
    """(config, {'role', 'setting'}) of stage 2: the selected and the default setting of every objective on the fresh seeds 0..N-1, seed-major."""
    stage1: dict[tuple[str, str, int], RunConfig] = {}
    for j, i in spec.tagged_jobs():
        stage1.setdefault((j.dataset, j.variant, i), j)
    out: list[tuple[RunConfig, dict[str, Any]]] = []
    for seed in range(spec.seeds):
        for dataset, per in selected.items():
            for variant, sel in per.items():
                for role, i in (("tuned", sel["setting"]), ("defaults", 0)):
                    job = stage1[(dataset, variant, i)].replace(seed=seed)
                    out.append((job, {"role": role, "setting": i}))
    return out


def plan_summary(spec: StudySpec) -> str:
    """What --dry-run prints: both stages' run counts and an estimated cost."""
    stage1 = spec.jobs()
    objectives = len({(j.dataset, j.variant) for j in stage1})
    worst = objectives * 2 * spec.seeds  # tuned and defaults differ
    least = objectives * spec.seeds
    per_run = sum(job_cost(j) for j in stage1) / max(len(stage1), 1) * spec.search.core_s_per_cost
    defaults = [j for j, i in spec.tagged_jobs() if i == 0]
    per_stage2 = sum(job_cost(j) for j in defaults) / max(len(defaults), 1) * spec.search.core_s_per_cost
    cost = len(stage1) * per_run + worst * per_stage2
    return (
        f"stage 1: {len(stage1)} runs ({spec.settings} settings x {objectives} objective-data set pairs x {spec.selection_seeds} "
        f"selection seed(s) from {SELECTION_SEED0})\n"
        f"stage 2: {least} to {worst} more runs (the best and the default setting of each objective on fresh seeds 0..{spec.seeds - 1}; "
        "fewer where the best is the default)\n"
        f"estimated cost: about {cost / 3600:.1f} CPU core-hours at most ({cost / 3600 / 2:.1f} h with process:2 on 2 free cores), "
        "from this machine's measured cost per run; a GPU has not been measured"
    )


def run_search(
    spec: StudySpec,
    root: Path,
    executor: Executor,
    *,
    progress: bool | None = None,
    log: Callable[[str], None] = print,
    command: str = "",
    poll_s: float = 10.0,
) -> dict[str, Any]:
    """Run stage 1, derive and record stage 2, run stage 2. Returns the run_study summary of both stages together."""
    table = stage1_table(spec)  # ConfigError for bad arguments: before anything is written
    stage1 = spec.jobs()
    check_device(spec, executor)
    prepare_dir(root, spec, stage1, command, extra={"stage1": table})
    s1 = run_jobs(f"{spec.preset} stage 1", stage1, root, executor, progress=progress, log=log, poll_s=poll_s)
    raise_failures(s1, root)  # stage 2 is derived from every stage-1 result, so it waits for all of them

    scores = {rid: score(root, rid, spec.metric) for rid in table}
    selected = select(table, scores)
    tagged = stage2_jobs(spec, selected)
    runs: dict[str, dict[str, Any]] = {}
    for job, tag in tagged:
        entry = runs.setdefault(job.run_id(), {"dataset": job.dataset, "variant": job.variant, "seed": job.seed, "setting": tag["setting"], "roles": []})
        entry["roles"].append(tag["role"])
    record = {"metric": spec.metric, "selected": _json_scores(selected), "runs": runs}
    _record_stage2(root, record)

    jobs2 = list({j.run_id(): j for j, _ in tagged}.values())
    s2 = run_jobs(f"{spec.preset} stage 2", jobs2, root, executor, progress=progress, log=log, poll_s=poll_s)
    summary = {
        "total": s1["total"] + len(runs),  # stage 2's seeds are fresh: no stage-1 run among them
        "ran": s1["ran"] + s2["ran"],
        "skipped": s1["skipped"] + s2["skipped"],
        "failed": {**s1["failed"], **s2["failed"]},
        "stopped": s2["stopped"],
        "interrupted": s2["interrupted"],
        "seconds": s1["seconds"] + s2["seconds"],
        "selected": {ds: {v: sel["setting"] for v, sel in per.items()} for ds, per in selected.items()},
    }
    raise_failures(summary, root)
    return summary


def _json_scores(selected: dict[str, dict[str, dict[str, Any]]]) -> dict[str, dict[str, dict[str, Any]]]:
    return {ds: {v: {**sel, "score": sel["score"] if math.isfinite(sel["score"]) else None} for v, sel in per.items()} for ds, per in selected.items()}



def _record_stage2(root: Path, record: dict[str, Any]) -> None:
    """Write stage 2 into study.json, or check that the recorded one is the same (a resumed or concurrent invocation)."""
    info = read_study(root) or {}
    old = info.get("stage2")
    if old is not None and json.loads(json.dumps(old)) != json.loads(json.dumps(record)):
        raise ConfigError(
            f"out: {root / STUDY_FILE} records another stage 2 than stage 1's results give now (were stage-1 runs changed or deleted?); "
            "choose another --out"
        )
    if old is None:
        info["stage2"] = record
        write_json(root / STUDY_FILE, info)



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


__all__ = ["plan_summary", "run_search", "run_study", "score", "select", "stage1_table", "stage2_jobs"]
