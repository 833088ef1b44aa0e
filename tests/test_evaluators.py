"""Evaluators (wgan_core.training.evaluators): a run's metrics by data kind; a new metric is one registration.

The made-up metric below is registered in this file alone, computed by every toy run's evaluations,
written to metrics.csv and final.json, and tested and plotted by the report of a study.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest
import torch

from wgan_core import ConfigError
from wgan_core.metrics.registry import METRICS, Metric
from wgan_core.models import build_models
from wgan_core.report import write_report
from wgan_core.runtime import eval_batch
from wgan_core.study.executors import Executor
from wgan_core.study.jobs import run_jobs
from wgan_core.training.evaluators import EVALUATORS, Evaluator, evaluator_names, evaluators_for, get_evaluator, register_evaluator

from .conftest import tiny_image, tiny_toy


def _spread(s) -> dict:
    """The fakes' mean distance from their centroid: a made-up metric, computable by hand from the run's model."""
    return {"spread": float((s.fake - s.fake.mean(0)).norm(dim=1).mean())}


@pytest.fixture
def spread():
    metric = Metric(False, "spread (made up)", ".4g", tested=True, plotted=True)
    register_evaluator("spread", Evaluator(lambda c: c.kind == "toy", at_evaluation=_spread, metrics={"spread": metric}))
    yield
    del EVALUATORS["spread"], METRICS["spread"]


def test_a_made_up_metric_is_one_registration_computed_by_runs_and_reported(tmp_path, spread):
    jobs = [tiny_toy(v, seed=s) for v in ("wgan-gp", "nsgan") for s in range(3)]
    run_jobs("spread", jobs, tmp_path, Executor.parse("local"), progress=False, log=lambda m: None, poll_s=0.01)
    run = tmp_path / jobs[0].run_id()
    rows = pd.read_csv(run / "metrics.csv")
    assert list(rows["step"]) == [0, 2, 4] and rows["spread"].notna().all()  # every evaluation, the untrained one included
    # The final value by hand: the saved generator on the run's fixed evaluation latents.
    g, _ = build_models(jobs[0])
    g.load_state_dict(torch.load(run / "model.pt", weights_only=True)["generator"])
    with torch.no_grad():
        fake = g.eval()(eval_batch(jobs[0])[1]["z"])
    by_hand = float((fake - fake.mean(0)).norm(dim=1).mean())
    assert json.loads((run / "final.json").read_text())["metrics"]["spread"] == pytest.approx(by_hand, rel=1e-6)
    index = write_report(tmp_path, baseline="wgan-gp")
    stats = pd.read_csv(tmp_path / "report" / "stats.csv")
    assert "spread" in set(stats["metric"])  # tested: nsgan against wgan-gp, seed by seed
    assert (tmp_path / "report" / "convergence_spread.png").exists() and "convergence_spread.png" in index.read_text()


def test_each_data_kind_gets_its_own_evaluators():
    assert [n for n in evaluator_names() if get_evaluator(n) in evaluators_for(tiny_toy())] == ["toy"]
    image = [n for n in evaluator_names() if get_evaluator(n) in evaluators_for(tiny_image())]
    assert image == ["image-features", "image-modes"]
    assert [n for n in evaluator_names() if get_evaluator(n) in evaluators_for(tiny_image(extractor="none"))] == ["image-modes"]
    with pytest.raises(ConfigError, match="evaluator: unknown 'nope'; allowed: toy, image-features, image-modes"):
        get_evaluator("nope")


def test_old_forms_are_refused_in_one_line():
    """Registries take register_x(name, entry); an entry's metrics are a dict by name."""
    from wgan_core.metrics.registry import register_metric

    with pytest.raises(ConfigError, match=r"^evaluator 'old': needs an Evaluator whose metrics are a dict by name"):
        register_evaluator("old", Evaluator(lambda c: False, metrics=(Metric(False, "old"),)))  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"^register_metric: 'old' needs a Metric\(lower_is_better, display, ...\), got tuple$"):
        register_metric("old", (False, "old"))  # type: ignore[arg-type]
    assert "old" not in EVALUATORS and "old" not in METRICS
