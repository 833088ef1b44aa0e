"""Job kinds: what a study can run, one registered plug-in per kind, and the only place that tells them apart.

A kind is one `register_job_kind(name, JobKind(...))`: its config class, its trainer (a class of the
run contract, wgan_core/training/protocol.py, checked here at registration), how a study costs it and
whether it may train in a seed ensemble, the metrics it writes and the run tables and figures it adds
to the report (wgan_core/report/sections.py). The training loop trains it, the study schedules it and
the report shows it without naming it. The built-in kinds, each one module:

    gan     a GAN run (RunConfig, training.Trainer): the matched training loop of every objective
    depth   the WGAN-GP paper's Figure 1b: a deep critic alone under clipping or the gradient penalty

Every part of a study (executors, units, the ETA, study.json) asks the job's kind, never its type:
`job_kind(job)`; `job_from_dict(d)` reads a config.json or study.json entry back by its `experiment`.
"""

from . import depth, gan  # the built-in kinds register themselves
from .registry import JOB_KINDS, JobKind, get_job_kind, job_from_dict, job_kind, job_kind_names, register_job_kind

__all__ = ["JOB_KINDS", "JobKind", "depth", "gan", "get_job_kind", "job_from_dict", "job_kind", "job_kind_names", "register_job_kind"]
