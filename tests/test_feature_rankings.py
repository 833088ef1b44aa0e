"""benchmarks/feature_rankings.py: every run's final samples scored again in every feature space, for the report's rankings."""

from __future__ import annotations

import json
import math
import shutil
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import feature_rankings  # noqa: E402

from wgan_core import train  # noqa: E402

from .conftest import needs_fashion, tiny_image  # noqa: E402


@needs_fashion
def test_scores_reproduce_each_run_s_final_fid_and_a_run_finished_since_is_scored_again(tmp_path, capsys):
    study = tmp_path / "study"
    for run_id, variant in (("a", "gan"), ("b", "wgan-gp")):
        train(tiny_image(variant, seed=0), study / run_id, progress=False)
    (study / "study.json").write_text(json.dumps({"runs": ["a", "b"]}))
    final_b = study / "b" / "final.json"
    shutil.move(final_b, tmp_path / "final_b.json")  # b has not finished yet: scored NaN (ranked worst by the report), never dropped

    assert feature_rankings.main([str(study), "--spaces", "pixels,classifier"]) == 0
    path = study / "feature-spaces" / "scores.csv"  # where the report reads it
    s = pd.read_csv(path).set_index(["run_id", "feature_space"])
    assert sorted(s.index) == [("a", "classifier"), ("a", "pixels"), ("b", "classifier"), ("b", "pixels")]
    assert s.loc[("b", "pixels"), "status"] == "missing" and math.isnan(s.loc[("b", "pixels"), "fid"])
    own = json.loads((study / "a" / "final.json").read_text())["metrics"]["fid"]
    assert abs(s.loc[("a", "classifier"), "fid_minus_final"]) <= 1e-6 * own  # the run's own space: the samples its final.json scored
    assert math.isnan(s.loc[("a", "pixels"), "fid_minus_final"]) and s.loc[("a", "pixels"), "n_fake"] == 100

    marked = pd.read_csv(path)
    marked.loc[(marked.run_id == "a") & (marked.feature_space == "pixels"), "fid"] = 123.0  # a mark: a kept row is not scored again
    marked.to_csv(path, index=False)
    shutil.move(tmp_path / "final_b.json", final_b)  # b finished since
    assert feature_rankings.main([str(study), "--spaces", "pixels,classifier"]) == 0
    s = pd.read_csv(path).set_index(["run_id", "feature_space"])
    assert s.loc[("a", "pixels"), "fid"] == 123.0
    own_b = json.loads(final_b.read_text())["metrics"]["fid"]
    assert s.loc[("b", "pixels"), "status"] == "ok" and abs(s.loc[("b", "classifier"), "fid"] - own_b) <= 1e-6 * own_b
    assert "the rankings: python -m wgan_core report" in capsys.readouterr().err


def test_spread_is_the_median_nearest_other_distance_over_the_data_s_and_zero_for_copies():
    from spread import main, nearest_other, spread  # benchmarks/ is on the path (above)

    def px(*values: int) -> torch.Tensor:  # one-pixel images uint8 (N, 1, 1, 1)
        return torch.tensor(values, dtype=torch.uint8).view(-1, 1, 1, 1)

    torch.testing.assert_close(nearest_other(px(0, 51, 102, 255)), torch.tensor([0.2, 0.2, 0.2, 0.6], dtype=torch.float64))
    assert spread(px(0, 51, 102, 255), px(0, 102, 204)) == pytest.approx(0.2 / 0.4)  # fakes 0.2 apart, the data 0.4 apart
    assert spread(px(7, 7, 200, 200), px(0, 102, 204)) == 0.0  # every sample has an exact copy: the ladder's collapse
    assert main([str(Path(__file__).parent), "--n", "1000"]) == 2  # no study.json: one line, exit 2
