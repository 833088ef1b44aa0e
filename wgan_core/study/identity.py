"""A study's identity: which jobs it holds, and the study.json that ties a directory to it.

Owns `StudySpec` (preset, seeds, device, filters and --set overrides: everything that
decides a study's runs), the overrides themselves, `describe_job`, and
DIR/study.json: `prepare_dir` creates it, or refuses a directory that holds runs of
another study, before anything is written; `read_study` reads it back.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..config import VARIANTS, ConfigError
from ..env import git_commit
from ..metrics.registry import METRICS
from ..report.families import Family, cell_label, check_family
from .presets import PRESETS, SELECTION_SEED0, Job, search_stage1
from .space import PARAM_NAMES

STUDY_FILE = "study.json"


@dataclass(frozen=True)
class StudySpec:
    """What determines a study's runs: the preset and the arguments that change its configs."""

    preset: str
    seeds: int
    device: str = "auto"
    variants: tuple[str, ...] = ()  # keep only these variants / cells ('' = all)
    datasets: tuple[str, ...] = ()  # keep only these data sets ('' = all)
    overrides: tuple[str, ...] = ()  # KEY=VALUE applied to every config (--set)
    settings: int = 0  # search presets: K settings per objective in stage 1 (0 = the preset's default)
    metric: str = ""  # search presets: the metric that picks stage 2's setting, lower is better ('' = the preset's)
    params: tuple[str, ...] = ()  # search presets: the hyperparameters to vary ('' = all of study.space.SPACE)
    selection_seeds: int = 1  # search presets: R seeds per stage-1 setting, selected on their mean (disjoint from stage 2's)
    families_file: str = ""  # a JSON list of families (report.families.Family) replacing the preset's declared ones
    descriptive: bool = False  # run although a headline family cannot reach p < 0.05: its families are recorded as not headline

    def __post_init__(self) -> None:
        if self.preset not in PRESETS:
            raise ConfigError(f"preset: unknown {self.preset!r}; allowed: {', '.join(PRESETS)}")
        if not isinstance(self.seeds, int) or isinstance(self.seeds, bool) or self.seeds < 1:
            raise ConfigError(f"seeds: must be a positive integer, got {self.seeds!r}")
        if not (self.device in ("auto", "cpu") or self.device.startswith("cuda")):
            raise ConfigError(f"device: unknown {self.device!r}; allowed: auto, cpu, cuda, cuda:N")
        object.__setattr__(self, "_families", self._load_families())
        plan = PRESETS[self.preset].search
        if plan is None:
            if self.settings or self.metric or self.params or self.selection_seeds != 1:
                searches = ", ".join(n for n, p in PRESETS.items() if p.search)
                raise ConfigError(f"settings/metric/params/selection-seeds: only for the search presets ({searches}), not {self.preset!r}")
            return
        if not isinstance(self.selection_seeds, int) or isinstance(self.selection_seeds, bool) or self.selection_seeds < 1:
            raise ConfigError(f"selection-seeds: must be a positive integer, got {self.selection_seeds!r}")
        if self.seeds > SELECTION_SEED0:
            raise ConfigError(
                f"seeds: a search reports on seeds 0..N-1 and selects on seeds from {SELECTION_SEED0}: N must be <= {SELECTION_SEED0}, got {self.seeds}"
            )

        if not isinstance(self.settings, int) or isinstance(self.settings, bool) or self.settings < 0:
            raise ConfigError(f"settings: must be a positive integer, got {self.settings!r}")
        object.__setattr__(self, "settings", self.settings or plan.settings)
        object.__setattr__(self, "metric", self.metric or plan.metric)
        directed = [n for n, m in METRICS.items() if m.lower_is_better is True]
        if self.metric not in directed:
            raise ConfigError(f"metric: {self.metric!r} cannot pick a setting; allowed (lower is better): {', '.join(directed)}")
        bad = [n for n in self.params if n not in PARAM_NAMES]
        if bad:
            raise ConfigError(f"params: unknown hyperparameter(s) {', '.join(bad)}; allowed: {', '.join(PARAM_NAMES)}")

    def _load_families(self) -> tuple[Family, ...]:
        """The preset's declared families, or those of --families FILE; each checked (one-line ConfigError) before anything runs."""
        if not self.families_file:
            families = PRESETS[self.preset].families
        else:
            try:
                raw = json.loads(Path(self.families_file).expanduser().read_text())
            except (OSError, json.JSONDecodeError) as e:
                raise ConfigError(f"families: cannot read {self.families_file!r} as JSON: {str(e).splitlines()[0]}") from None
            if not isinstance(raw, list):
                raise ConfigError(f"families: {self.families_file!r} must hold a JSON list of families, got {type(raw).__name__}")
            families = tuple(Family.from_dict(d) for d in raw)
        labels = set(VARIANTS)
        for f in families:
            check_family(f, labels)
        if self.variants:  # --variants keeps some cells: each family keeps those, and goes where its baseline went
            def kept(cell: str) -> bool:
                return cell in self.variants or cell_label(cell) in self.variants

            families = [replace(f, cells=tuple(c for c in f.cells if kept(c))) for f in families if kept(f.baseline)]
            families = [f for f in families if f.cells]
        if self.datasets:
            families = [replace(f, datasets=tuple(d for d in f.datasets if d in self.datasets)) for f in families
                        if not f.datasets or set(f.datasets) & set(self.datasets)]
        if self.descriptive:
            families = [replace(f, headline=False) for f in families]
        return tuple(families)

    @property
    def families(self) -> tuple[Family, ...]:
        return self._families  # type: ignore[attr-defined]

    @property
    def search(self):  # the SearchPlan of a search preset, else None
        return PRESETS[self.preset].search

    def identity(self) -> dict[str, Any]:
        ident: dict[str, Any] = {
            "preset": self.preset,
            "seeds": self.seeds,
            "device": self.device,
            "variants": list(self.variants),
            "datasets": list(self.datasets),
            "set": list(self.overrides),
        }
        if self.search is not None:  # only searches carry these, so older studies' identities are unchanged
            ident.update(settings=self.settings, metric=self.metric, params=list(self.params), selection_seeds=self.selection_seeds)
        return ident

    @property
    def baseline(self) -> str:
        return PRESETS[self.preset].baseline

    def jobs(self) -> list[Job]:
        """The study's jobs in run order (seed-major, so every variant advances together), without duplicates.

        For a search preset: stage 1 (stage 2 depends on its results: wgan_core.study.run).
        """
        return list({j.run_id(): j for j, _ in self.tagged_jobs()}.values())

    def tagged_jobs(self) -> list[tuple[Job, int | None]]:
        """(job, setting index) in run order after filters and overrides; the index is None outside a search."""
        plan = self.search
        if plan is None:
            tagged: list[tuple[Job, int | None]] = [(j, None) for j in PRESETS[self.preset].build(self.seeds, self.device)]
        else:
            tagged = list(search_stage1(plan, self.settings, self.device, self.params, self.selection_seeds))
        return self.filtered(tagged)

    def filtered(self, tagged: list[tuple[Job, Any]]) -> list[tuple[Job, Any]]:
        """The --datasets and --variants filters and the --set overrides, applied to (job, tag) pairs."""
        if self.datasets:
            known = list(dict.fromkeys(j.dataset for j, _ in tagged))
            bad = [d for d in self.datasets if d not in known]
            if bad:
                raise ConfigError(f"datasets: {', '.join(bad)} not in preset {self.preset!r}; allowed: {', '.join(known)}")
            tagged = [(j, t) for j, t in tagged if j.dataset in self.datasets]
        if self.variants:
            known = list(dict.fromkeys(n for j, _ in tagged for n in (j.variant, j.label)))
            bad = [v for v in self.variants if v not in known]
            if bad:
                raise ConfigError(f"variant: unknown {', '.join(map(repr, bad))} for preset {self.preset!r}; allowed: {', '.join(known)}")
            tagged = [(j, t) for j, t in tagged if j.variant in self.variants or j.label in self.variants]
        if self.overrides:
            tagged = [(override(j, self.overrides), t) for j, t in tagged]
        return tagged


def override(job: Job, items: Iterable[str]) -> Job:
    """The job with --set KEY=VALUE items applied, each value converted by the config's own field types."""
    return job.replace(**type(job).parse_set(list(items)))


def describe_job(job: Job) -> str:
    return f"{job.dataset} {job.label} seed {job.seed}"


def prepare_dir(root: Path, spec: StudySpec, jobs: list[Job], command: str = "", extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Create DIR/study.json, or check that DIR holds this same study. Refuses (ConfigError) before writing anything.

    extra: more fields for a new study.json (a search's stage-1 table).
    """
    ids = [j.run_id() for j in jobs]
    path = root / STUDY_FILE
    if root.exists() and not root.is_dir():
        raise ConfigError(f"out: {root} exists and is not a directory")
    if not path.exists() and root.is_dir():
        runs = sorted(p.name for p in root.iterdir() if (p / "config.json").exists())
        if runs:
            raise ConfigError(f"out: {root} holds {len(runs)} run(s) but no {STUDY_FILE}: not this study's directory; choose another --out")
    if not path.exists():
        root.mkdir(parents=True, exist_ok=True)
        info = {
            **spec.identity(),
            "baseline": spec.baseline,
            "runs": ids,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "git_commit": git_commit(),
            "command": command,
            "families": [f.to_dict() for f in spec.families],  # declared before any run: the report's tests are over these
            **(extra or {}),
        }
        _create_exclusive(path, json.dumps(info, indent=2) + "\n")  # two invocations racing: one creates, both compare
    info = _read_study(path)
    mine = spec.identity()
    differ = [k for k in mine if info.get(k) != mine[k]]
    if differ:
        details = "; ".join(f"{k}: {info.get(k)!r} there, {mine[k]!r} here" for k in differ)
        raise ConfigError(f"out: {root} holds another study ({details}); choose another --out")
    if "families" in info and [Family.from_dict(d) for d in info["families"]] != list(spec.families):
        raise ConfigError(
            f"families: {root} recorded other comparisons before it ran (study.json 'families'); a study's declared families "
            "cannot change once it has started: choose another --out, or the families it recorded"
        )
    if info.get("runs") != ids:
        n = len(set(ids) ^ set(info.get("runs", [])))
        raise ConfigError(
            f"out: {root} holds preset {spec.preset!r} as it was defined when the study started; its configs have changed since "
            f"({n} run ids differ): choose another --out"
        )
    return info


def _read_study(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise ConfigError(f"out: {path} is unreadable ({e}); choose another --out") from None


def _create_exclusive(path: Path, text: str) -> bool:
    """Write `text` to `path` only if it does not exist, atomically (a reader sees nothing or all). True if created."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    try:
        os.link(tmp, path)  # fails if path exists: create-if-absent with the whole content at once
        return True
    except FileExistsError:
        return False
    finally:
        tmp.unlink(missing_ok=True)


def read_study(root: Path) -> dict[str, Any] | None:
    path = Path(root) / STUDY_FILE
    return _read_study(path) if path.exists() else None


__all__ = ["STUDY_FILE", "StudySpec", "describe_job", "override", "prepare_dir", "read_study"]
