"""Studies: presets that expand into matched runs, executors that run them, claims that keep invocations apart.

A study is a list of jobs (RunConfig for GAN runs, DepthConfig for the depth
experiment; each a registered job kind, wgan_core.kinds), each run in DIR/<job.run_id()>. Because a run's directory is named
by its config's hash and `train()` skips finished runs and resumes partial ones
from their checkpoint, a study killed at any moment and started again loses at
most the steps since each interrupted run's last checkpoint, and no finished run.

Layout of a study directory:
    DIR/study.json          the study's identity (preset and arguments) and its run ids
    DIR/<run_id>/           one run (config.json, metrics.csv, final.json, ...)
    DIR/.claims/<run_id>    who is running that run now (host, pid); see `Claim`
    DIR/report/             written by wgan_core.report at the end

Modules, in import order (each imports only those above it):
    space       the search space (Lucic et al.'s ranges) and setting i of an objective
    presets     the presets and their budgets (PRESETS, TOY_BUDGET, ...), the search's selection seeds
    identity    StudySpec, --set overrides, study.json (prepare_dir, read_study)
    claims      DIR/.claims: one process per run, heartbeats, stale claims
    units       which runs of a study train together as seed ensembles
    executors   JobResult, `work` (one job), Executor and the local/process/submitit executors
    jobs        run_plain (a study's jobs), the progress line and ETA (job_cost)
    run         run_study, the one entry point: a plain study, or a search's two stages (selection seeds,
                selection, fresh stage-2 seeds)
    status      `python -m wgan_core status DIR`
    command     `python -m wgan_core study`: arguments, run_study, then the report
"""

from ..kinds import JOB_KINDS, JobKind, job_from_dict, job_kind, register_job_kind
from ..kinds.gan import critic_step_weight
from .claims import CLAIMS, HEARTBEAT_S, STALE_AFTER_S, Claim, claim_is_live, try_claim
from .executors import STATES, Executor, JobResult, StudyError, StudyInterrupted, available_cores, run_job, work
from .identity import STUDY_FILE, StudySpec, describe_job, override, prepare_dir, read_study
from .jobs import finished_runs, job_cost
from .presets import (
    CLIP_VALUES,
    FACTORIAL_CONSTRAINTS,
    FACTORIAL_LOSSES,
    FASHION_BUDGET,
    LAMBDAS,
    MIXTURES,
    N_CRITICS,
    PAPER_BUDGET,
    PRESETS,
    TOY_BUDGET,
    Job,
    Preset,
    default_preset,
    describe_presets,
    inception_weights_present,
)
from .run import run_study

__all__ = [
    "CLAIMS",
    "CLIP_VALUES",
    "FACTORIAL_CONSTRAINTS",
    "FACTORIAL_LOSSES",
    "FASHION_BUDGET",
    "HEARTBEAT_S",
    "LAMBDAS",
    "N_CRITICS",
    "PAPER_BUDGET",
    "PRESETS",
    "STALE_AFTER_S",
    "STATES",
    "STUDY_FILE",
    "TOY_BUDGET",
    "MIXTURES",
    "Claim",
    "Executor",
    "Job",
    "JobResult",
    "Preset",
    "StudyError",
    "StudyInterrupted",
    "StudySpec",
    "available_cores",
    "claim_is_live",
    "critic_step_weight",
    "default_preset",
    "describe_job",
    "describe_presets",
    "finished_runs",
    "inception_weights_present",
    "job_cost",
    "job_from_dict",
    "job_kind",
    "JOB_KINDS",
    "JobKind",
    "register_job_kind",
    "override",
    "prepare_dir",
    "read_study",
    "run_job",
    "run_study",
    "try_claim",
    "work",
]
