"""Reports: statistics checked against values computed by hand and against scipy; the files of a report."""

import json
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from wgan_core import RunConfig
from wgan_core.cli import main as cli_main
from wgan_core.report import bootstrap_ci, holm, min_wilcoxon_p, paired_tests, rank_biserial, write_report
from wgan_core.study import Executor, StudySpec, run_study

# ---------------------------------------------------------------------------------------------
# The statistics, by hand
# ---------------------------------------------------------------------------------------------


def test_holm_by_hand():
    # sorted: 0.005*4 = 0.02, 0.01*3 = 0.03, 0.03*2 = 0.06, 0.04*1 = 0.04 -> max(0.06, 0.04) = 0.06
    np.testing.assert_allclose(holm([0.01, 0.04, 0.03, 0.005]), [0.03, 0.06, 0.06, 0.02])
    np.testing.assert_allclose(holm([0.6, 0.2]), [0.6, 0.4])  # capped monotone: 0.2*2 = 0.4, then max(0.4, 0.6)
    out = holm([0.01, math.nan, 0.02])
    assert math.isnan(out[1]) and np.allclose(out[[0, 2]], [0.02, 0.02])  # NaN does not count in the family
    assert np.allclose(holm([0.5, 0.9, 0.7]), [1.0, 1.0, 1.0])


def test_rank_biserial_by_hand():
    # |d| ranks 1..5; R+ = 1 + 3 + 4 + 5 = 13, R- = 2 -> (13 - 2) / 15
    assert rank_biserial([1, -2, 3, 4, 5]) == pytest.approx(11 / 15)
    assert rank_biserial([0, 0, 2, 3]) == 1.0  # zeros dropped
    assert rank_biserial([0, 0]) == 0.0


def test_bootstrap_ci_contains_the_mean_and_agrees_with_scipy():
    x = np.array([0.1, 0.3, 0.2, 0.5, 0.4, 0.35, 0.22, 0.41])
    lo, hi = bootstrap_ci(x)
    assert lo < x.mean() < hi
    ref = sps.bootstrap((x,), np.mean, method="percentile", n_resamples=10_000, random_state=1).confidence_interval
    assert lo == pytest.approx(ref.low, abs=0.015) and hi == pytest.approx(ref.high, abs=0.015)
    assert bootstrap_ci(x) == bootstrap_ci(x)  # seeded
    assert bootstrap_ci([3.0, 3.0, 3.0]) == (3.0, 3.0)
    assert all(math.isnan(v) for v in bootstrap_ci([1.0]))


def test_min_wilcoxon_p():
    assert min_wilcoxon_p(5) == 0.0625 and min_wilcoxon_p(6) == 0.03125 and min_wilcoxon_p(3) == 0.25


# ---------------------------------------------------------------------------------------------
# A synthetic finished study: known values, no training
# ---------------------------------------------------------------------------------------------
W1 = {  # 8gaussians, 6 matched seeds
    "wgan-gp": [0.10, 0.12, 0.11, 0.13, 0.09, 0.10],
    "nsgan": [0.30, 0.25, 0.40, 0.35, 0.20, 0.50],  # worse on every seed: exact p = 2/2^6
    "wgan-clip": [0.11, 0.10, 0.15, 0.12, 0.20, 0.09],
}


def _fake_run(root: Path, config: RunConfig, w1: float, status: str = "ok", modes: int = 8) -> str:
    rid = config.run_id()
    d = root / rid
    d.mkdir(parents=True)
    (d / "config.json").write_text(config.to_json())
    curve = [(0, 1.0), (50, w1 * 1.05), (100, w1)]  # within 10% of the final W1 from step 50 on
    rows = [
        {"step": s, "w1": v, "modes": modes, "high_quality": 0.5, "grad_norm_mean": 1.0 + s / 100, "wall_time_s": 1.0 + s, "train_time_s": s}
        for s, v in curve
    ]
    pd.DataFrame(rows).to_csv(d / "metrics.csv", index=False)
    metrics = {"w1": w1, "modes": modes, "high_quality": 0.5, "w1_floor": 0.02}
    final = {"status": status, "steps": 100, "wall_time_s": 101.0, "train_time_s": 100.0, "gen_iters_per_s": 1.0, "variant": config.label,
             "run_id": rid, "metrics": metrics}
    (d / "final.json").write_text(json.dumps(final))
    return rid


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("synthetic")
    for v, values in W1.items():
        for seed, w in enumerate(values):
            _fake_run(root, RunConfig.preset(v, "8gaussians", seed=seed, steps=100, eval_every=50), w)
    for v in W1:  # 25gaussians: 3 seeds, nsgan seed 2 diverged
        for seed in range(3):
            status = "diverged" if (v, seed) == ("nsgan", 2) else "ok"
            _fake_run(root, RunConfig.preset(v, "25gaussians", seed=seed, steps=100, eval_every=50), 0.2 + 0.01 * seed, status, modes=20)
    (root / "study.json").write_text(json.dumps({"preset": "toy", "seeds": 6, "baseline": "wgan-gp", "runs": [], "command": "test"}))
    write_report(root)
    return root


def test_report_files(synthetic):
    rep = synthetic / "report"
    for name in ("runs.csv", "curves.csv", "summary.csv", "summary.md", "stats.csv", "index.html"):
        assert (rep / name).exists(), name
    for plot in ("convergence_w1", "convergence_modes", "final_w1", "final_modes_2500", "grad_norm"):
        assert (rep / f"{plot}.png").stat().st_size > 1000 and (rep / f"{plot}.csv").exists(), plot
    runs = pd.read_csv(rep / "runs.csv")
    assert len(runs) == 27 and set(runs["status"]) == {"ok", "diverged"}
    assert len(pd.read_csv(rep / "curves.csv")) == 27 * 3
    assert (runs["steps_to_w1_10pct"] == 50).all() and (runs["time_to_w1_10pct"] == 51).all()


def test_summary_against_hand_values(synthetic):
    s = pd.read_csv(synthetic / "report" / "summary.csv").set_index(["dataset", "cell"])
    for v, values in W1.items():
        r = s.loc[("8gaussians", v)]
        assert r["w1_mean"] == pytest.approx(np.mean(values))
        assert r["w1_median"] == pytest.approx(np.median(values))
        assert r["w1_best"] == pytest.approx(min(values))  # lower is better
        assert r["w1_ci_low"] <= r["w1_mean"] <= r["w1_ci_high"]
        assert r["runs"] == 6 and r["diverged"] == 0 and r["modes_best"] == 8
    ns = s.loc[("25gaussians", "nsgan")]
    assert ns["diverged"] == 1 and ns["w1_n"] == 2 and ns["w1_mean"] == pytest.approx(0.205)  # the diverged run is left out


def test_paired_tests_match_scipy_and_holm(synthetic):
    st = pd.read_csv(synthetic / "report" / "stats.csv")
    w = st[(st["dataset"] == "8gaussians") & (st["metric"] == "w1")].set_index("cell")
    assert set(w.index) == {"nsgan", "wgan-clip"} and (w["baseline"] == "wgan-gp").all()
    p = {}
    for cell in ("nsgan", "wgan-clip"):
        ref = sps.wilcoxon(W1[cell], W1["wgan-gp"])
        assert w.loc[cell, "p_value"] == pytest.approx(ref.pvalue) and w.loc[cell, "statistic"] == pytest.approx(ref.statistic)
        p[cell] = ref.pvalue
    assert p["nsgan"] == pytest.approx(2 / 2**6)
    lo, hi = sorted(p.values())
    holm_lo = min(1.0, 2 * lo)
    expect = {c: holm_lo if p[c] == lo else max(holm_lo, hi) for c in p}
    for cell in p:
        assert w.loc[cell, "p_holm"] == pytest.approx(expect[cell])
    assert w.loc["nsgan", "rank_biserial"] == pytest.approx(1.0) and w.loc["nsgan", "worse"] == 6  # W1 higher on every seed
    # 25gaussians: 3 (or 2) pairs -> no p-value, a note instead
    few = st[st["dataset"] == "25gaussians"]
    assert few["p_value"].isna().all() and few["note"].str.contains("cannot reach significance").all()
    assert set(few[few["cell"] == "nsgan"]["n_pairs"]) == {2}


def test_paired_tests_with_no_baseline_or_all_ties():
    runs = pd.DataFrame({"dataset": ["a"] * 10, "cell": ["x"] * 5 + ["y"] * 5, "seed": list(range(5)) * 2, "status": ["ok"] * 10, "modes": [8] * 10})
    assert paired_tests(runs, "nope").empty
    t = paired_tests(runs, "x", ("modes",))
    assert t.loc[0, "p_value"] == 1.0 and t.loc[0, "note"] == "all paired differences are 0"


def test_summary_md_and_html(synthetic):
    md = (synthetic / "report" / "summary.md").read_text()
    assert "## 8gaussians" in md and "| wgan-gp | 6 | 0 |" in md and "W1 mean [95% CI]" in md
    page = (synthetic / "report" / "index.html").read_text()
    assert page.count("data:image/png;base64,") >= 5
    assert not re.search(r"""(src|href)=['"]?https?://""", page)  # self-contained: nothing fetched
    assert "Paired tests against wgan-gp" in page


# ---------------------------------------------------------------------------------------------
# A tiny real study: model.pt -> sample scatters; the report command
# ---------------------------------------------------------------------------------------------
def test_report_of_a_tiny_real_study_and_cli(tmp_path, capsys):
    spec = StudySpec("toy", 1, "cpu", ("nsgan", "wgan-gp"), ("8gaussians",), ("width=16", "batch_size=32", "eval_samples=200", "steps=4", "eval_every=2"))
    run_study(spec, tmp_path, Executor("local", threads=1), progress=False, log=lambda m: None)
    assert cli_main(["report", str(tmp_path)]) == 0
    assert capsys.readouterr().out.strip().endswith("report/index.html")
    rep = tmp_path / "report"
    samples = pd.read_csv(rep / "toy_samples_8gaussians.csv")
    assert samples.groupby(["cell", "source"]).size().to_dict() == {
        ("nsgan", "generated"): 200, ("nsgan", "real"): 200, ("wgan-gp", "generated"): 200, ("wgan-gp", "real"): 200
    }  # the run's own evaluation latents and real batch (eval_samples=200), as in its samples.png
    assert (rep / "toy_samples_8gaussians.png").stat().st_size > 1000
    runs = pd.read_csv(rep / "runs.csv")
    assert list(runs["cell"]) == ["nsgan", "wgan-gp"] and (runs["width"] == 16).all()
    # evaluations used 200 samples: the published-definition mode metrics come from model.pt on 2,500
    assert runs["modes_2500"].between(0, 8).all() and runs["high_quality_2500"].between(0, 1).all()


def test_report_cli_bad_input(tmp_path, capsys):
    assert cli_main(["report", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "holds no runs" in err
    assert cli_main(["report", str(tmp_path / "missing")]) == 2
    assert not (tmp_path / "report").exists()
