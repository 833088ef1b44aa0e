"""Reports: statistics checked against values computed by hand and against scipy; the files of a report; files only, no torch."""

import json
import math
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from wgan_core import RunConfig
from wgan_core.cli import main as cli_main
from wgan_core.metrics import registry
from wgan_core.metrics.registry import METRICS
from wgan_core.report import bootstrap_ci, family_tests, holm, load_study, min_signed_rank_p, rank_biserial, write_report
from wgan_core.report.families import Family, exploratory
from wgan_core.report.stats import interval, interval_label
from wgan_core.study import Executor, StudySpec, run_study

REPO = Path(__file__).resolve().parents[1]

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
    assert rank_biserial([-1, -2]) == -1.0


def test_bootstrap_ci_agrees_with_a_hand_written_percentile_bootstrap():
    x = np.array([0.1, 0.3, 0.2, 0.5, 0.4, 0.35, 0.22, 0.41])
    lo, hi = bootstrap_ci(x, method="percentile")
    rng = np.random.default_rng(123)  # another stream than bootstrap_ci's: agreement within Monte-Carlo error, not equality
    means = x[rng.integers(0, len(x), size=(10_000, len(x)))].mean(axis=1)
    ref_lo, ref_hi = np.quantile(means, [0.025, 0.975])
    # The 2.5% quantile of 10,000 resampled means has a standard error of ~0.027 sd(means); two independent estimates differ
    # by ~0.038 sd: 0.15 sd is four standard errors.
    tol = 0.15 * means.std()
    assert abs(lo - ref_lo) < tol and abs(hi - ref_hi) < tol
    assert lo < x.mean() < hi
    wide = bootstrap_ci(x, level=0.99, method="percentile")
    assert wide[0] < lo and hi < wide[1]  # the level is passed through
    assert bootstrap_ci(x) == bootstrap_ci(x)  # seeded
    other = bootstrap_ci(x, seed=1, method="percentile")
    assert other != (lo, hi) and abs(other[0] - lo) < tol  # the seed is passed through; results agree within MC error


def test_bootstrap_ci_edge_cases():
    assert bootstrap_ci([3.0, 3.0, 3.0]) == (3.0, 3.0)
    assert all(math.isnan(v) for v in bootstrap_ci([1.0]))
    assert all(math.isnan(v) for v in bootstrap_ci([1.0, math.nan, math.inf]))  # one finite value
    assert bootstrap_ci([1.0, 2.0, math.nan, 4.0, 3.0]) == bootstrap_ci([1.0, 2.0, 4.0, 3.0])  # non-finite values dropped


def test_interval_is_the_range_up_to_5_values_and_a_labelled_bca_interval_beyond():
    for n in range(1, 6):
        x = [0.5, 0.1, 0.9, 0.3, 0.7][:n]
        assert interval(x) == (min(x), max(x), "range")  # a bootstrap of so few values is their range anyway, covering far less
    x = np.array([0.1, 0.3, 0.2, 0.5, 0.4, 0.35])
    lo, hi, kind = interval(x)
    assert kind == "95% BCa bootstrap" and (lo, hi) == bootstrap_ci(x, method="BCa")
    assert x.min() < lo < x.mean() < hi < x.max()  # narrower than the range: it estimates the mean, not the spread
    assert interval([1.0, math.nan, 2.0]) == (1.0, 2.0, "range")  # non-finite values dropped before counting
    assert interval_label(["range", "range"]) == "range" and interval_label(["95% BCa bootstrap"]) == "95% BCa bootstrap CI"
    assert interval_label(["range", "95% BCa bootstrap", ""]) == "range if n <= 5, else 95% BCa bootstrap CI"


def test_min_signed_rank_p_is_the_exact_test_at_its_most_extreme():
    assert min_signed_rank_p(5) == 0.0625 and min_signed_rank_p(6) == 0.03125 and min_signed_rank_p(3) == 0.25
    assert min_signed_rank_p(0) == 1.0 and min_signed_rank_p(1) == 1.0
    for n in (3, 5, 8):
        assert sps.wilcoxon(np.arange(1.0, n + 1)).pvalue == pytest.approx(min_signed_rank_p(n))  # all differences one way


# ---------------------------------------------------------------------------------------------
# A synthetic finished study: known values, no training, no torch in the runs' files
# ---------------------------------------------------------------------------------------------
W1 = {  # 8gaussians, 6 matched seeds
    "wgan-gp": [0.10, 0.12, 0.11, 0.13, 0.09, 0.10],
    "nsgan": [0.30, 0.25, 0.40, 0.35, 0.20, 0.50],  # worse on every seed: exact p = 2/2^6
    "wgan-clip": [0.11, 0.10, 0.15, 0.12, 0.20, 0.09],
}
OLDER = ("25gaussians", "nsgan", 0)  # a run made before runs stored panel.npz and the 2,500-sample mode metrics


def _panel(seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    grid = np.linspace(-2, 2, 8, dtype=np.float32)
    return {"fake": rng.normal(size=(10, 2)).astype(np.float32), "real": rng.normal(size=(10, 2)).astype(np.float32), "grid": grid,
            "values": rng.normal(size=(8, 8)).astype(np.float32)}  # fmt: skip


def _fake_run(root: Path, config: RunConfig, w1: float, status: str = "ok", modes: int = 8, older: bool = False) -> str:
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
    metrics = {"w1": w1, "modes": modes, "high_quality": 0.5, "w1_floor": 0.02, "my_metric": 1.0}  # my_metric: not registered
    if not older:
        metrics.update(modes_2500=modes, modes_strict_2500=modes, high_quality_2500=0.5, reverse_kl_2500=0.1)
        np.savez(d / "panel.npz", **_panel(config.seed))
    final = {"status": status, "steps": 100, "wall_time_s": 101.0, "train_time_s": 100.0, "gen_iters_per_s": 1.0, "variant": config.label,
             "run_id": rid, "metrics": metrics}  # fmt: skip
    (d / "final.json").write_text(json.dumps(final))
    return rid


@pytest.fixture(scope="module")
def synthetic_runs(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("synthetic")
    for v, values in W1.items():
        for seed, w in enumerate(values):
            _fake_run(root, RunConfig.preset(v, "8gaussians", seed=seed, steps=100, eval_every=50), w)
    for v in W1:  # 25gaussians: 3 seeds, nsgan seed 2 diverged
        for seed in range(3):
            status = "diverged" if (v, seed) == ("nsgan", 2) else "ok"
            config = RunConfig.preset(v, "25gaussians", seed=seed, steps=100, eval_every=50)
            _fake_run(root, config, 0.2 + 0.01 * seed, status, modes=20, older=("25gaussians", v, seed) == OLDER)
    (root / "study.json").write_text(json.dumps({"preset": "toy", "seeds": 6, "baseline": "wgan-gp", "runs": [], "command": "test"}))
    return root


@pytest.fixture(scope="module")
def synthetic(synthetic_runs) -> Path:
    write_report(synthetic_runs)
    return synthetic_runs


def test_report_files(synthetic):
    rep = synthetic / "report"
    runs = pd.read_csv(rep / "runs.csv")
    assert len(runs) == 27 and set(runs["status"]) == {"ok", "diverged"}
    assert len(pd.read_csv(rep / "curves.csv")) == 27 * 3
    assert (runs["steps_to_w1_10pct"] == 50).all() and (runs["time_to_w1_10pct"] == 51).all()
    assert "my_metric" in runs and not any(c.startswith("my_metric") for c in pd.read_csv(rep / "summary.csv"))  # unregistered
    conv = pd.read_csv(rep / "convergence_w1.csv")
    assert len(conv) == 2 * 3 * 3  # data sets x cells x evaluation steps
    last = conv[(conv["dataset"] == "8gaussians") & (conv["step"] == 100)].set_index("cell")
    for v, values in W1.items():
        assert last.loc[v, "mean"] == pytest.approx(np.mean(values)) and last.loc[v, "n"] == 6
        assert last.loc[v, "lo"] <= last.loc[v, "mean"] <= last.loc[v, "hi"] and last.loc[v, "interval"] == "95% BCa bootstrap"
    five = conv[(conv["dataset"] == "25gaussians") & (conv["step"] == 100)]
    assert (five["interval"] == "range").all() and (five["lo"] == 0.2).all()  # n = 3: the band is the range, and says so
    final = pd.read_csv(rep / "final_w1.csv")
    diverged = runs[runs["status"] == "diverged"]["run_id"].item()
    assert len(final) == 26 and diverged not in set(final["run_id"])  # a failed run has no value to draw (its title counts it)
    final_modes = pd.read_csv(rep / "final_modes_2500.csv")  # from final.json: the report computes nothing
    assert len(final_modes) == 25 and final_modes["modes_2500"].isin([8, 20]).all()  # the older run (none stored) and the diverged one
    for name in ("convergence_w1", "convergence_modes", "convergence_high_quality", "final_w1", "final_modes_2500", "grad_norm"):
        assert (rep / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name


def test_toy_sample_figure_draws_each_cells_panel_npz(synthetic):
    rep = synthetic / "report"
    s8 = pd.read_csv(rep / "toy_samples_8gaussians.csv")
    assert list(s8.columns) == ["dataset", "cell", "seed", "source", "x", "y"]
    assert set(s8["cell"]) == set(W1) and (s8["seed"] == 0).all()  # each cell's first seed
    panel = _panel(0)
    for cell in W1:
        for source, key in (("generated", "fake"), ("real", "real")):
            got = s8[(s8["cell"] == cell) & (s8["source"] == source)][["x", "y"]].to_numpy()
            np.testing.assert_allclose(got, panel[key], rtol=1e-6)
    s25 = pd.read_csv(rep / "toy_samples_25gaussians.csv")
    assert set(s25["cell"]) == {"wgan-gp", "wgan-clip"}  # nsgan's first finished seed has no panel.npz: its axis says so
    assert (rep / "toy_samples_25gaussians.png").read_bytes()[:4] == b"\x89PNG"


def test_report_names_runs_without_run_side_results(synthetic):
    older = RunConfig.preset(OLDER[1], OLDER[0], seed=OLDER[2], steps=100, eval_every=50).run_id()
    md = (synthetic / "report" / "summary.md").read_text()
    page = (synthetic / "report" / "index.html").read_text()
    for text in (md, page):
        assert "1 finished toy run(s) lack panel.npz (1) / modes_2500 (1)" in text and older in text
        assert "python -m wgan_core report" in text
    assert md.count(" finished toy run(s) lack ") == 1  # one note, not one per run


def test_summary_against_hand_values(synthetic):
    s = pd.read_csv(synthetic / "report" / "summary.csv").set_index(["dataset", "cell"])
    for v, values in W1.items():
        r = s.loc[("8gaussians", v)]
        assert r["w1_mean"] == pytest.approx(np.mean(values))
        assert r["w1_median"] == pytest.approx(np.median(values))
        assert r["w1_iqm"] == pytest.approx(np.mean(sorted(values)[1:5]))  # n = 6: one cut from each end
        assert r["w1_median_lo"] <= r["w1_median"] <= r["w1_median_hi"] and r["w1_iqm_lo"] <= r["w1_iqm"] <= r["w1_iqm_hi"]
        assert r["w1_best"] == pytest.approx(min(values))  # lower is better
        assert r["w1_lo"] < r["w1_mean"] < r["w1_hi"] and r["w1_interval"] == "95% BCa bootstrap"  # n = 6
        assert r["runs"] == 6 and r["diverged"] == 0 and r["failed"] == 0 and r["modes_best"] == 8 and r["modes_2500_n"] == 6
    ns = s.loc[("25gaussians", "nsgan")]
    # the diverged seed is counted, left out of the mean (no value stands in for it) and ranked worst in the median
    assert ns["diverged"] == 1 and ns["failed"] == 1 and ns["failure_rate"] == pytest.approx(1 / 3) and ns["w1_failed"] == 1
    assert ns["w1_n"] == 2 and ns["w1_mean"] == pytest.approx((0.20 + 0.21) / 2)
    assert (ns["w1_lo"], ns["w1_hi"], ns["w1_interval"]) == (0.2, pytest.approx(0.21), "range")  # the range of what did not fail, labelled
    assert ns["w1_median"] == pytest.approx(0.21) and ns["w1_iqm"] == np.inf  # (0.20, 0.21, failed): n = 3 cuts nothing, so the IQM is the failure
    assert ns["modes_2500_n"] == 1 and ns["modes_2500_failed"] == 1  # the older run has none (not measured); the diverged one failed
    metric_cols = [c[: -len("_mean")] for c in s.columns if c.endswith("_mean") and c[: -len("_mean")] in METRICS]
    assert metric_cols == [m for m in METRICS if m in metric_cols]  # in the registry's order


def test_paired_tests_match_scipy_and_holm(synthetic):
    st = pd.read_csv(synthetic / "report" / "stats.csv")
    present = ("w1", "modes", "modes_2500", "high_quality_2500")  # the synthetic study's tested metrics
    assert list(dict.fromkeys(st[st["dataset"] == "8gaussians"]["metric"])) == [m for m in registry.tested() if m in present]
    w = st[(st["dataset"] == "8gaussians") & (st["metric"] == "w1")].set_index("cell")
    assert set(w.index) == {"nsgan", "wgan-clip"} and (w["baseline"] == "wgan-gp").all()
    # no family declared (study.json has none): one exploratory family per data set and metric, which says so
    assert (w["family"] == "exploratory (not declared): 8gaussians, w1").all() and (w["family_size"] == 2).all()
    p = {}
    for cell in ("nsgan", "wgan-clip"):
        d = np.subtract(W1[cell], W1["wgan-gp"])
        assert w.loc[cell, "method"].startswith("exact signed-rank")
        if len(np.unique(np.abs(d))) == len(d):  # nsgan: no ties, so scipy's exact test is the same test
            assert w.loc[cell, "p_value"] == pytest.approx(sps.wilcoxon(W1[cell], W1["wgan-gp"], method="exact").pvalue)
        p[cell] = w.loc[cell, "p_value"]
    assert p["nsgan"] == pytest.approx(2 / 2**6)
    lo, hi = sorted(p.values())
    holm_lo = min(1.0, 2 * lo)
    expect = {c: holm_lo if p[c] == lo else max(holm_lo, hi) for c in p}
    for cell in p:
        assert w.loc[cell, "p_holm"] == pytest.approx(expect[cell])
    assert w.loc["nsgan", "rank_biserial"] == pytest.approx(-1.0) and w.loc["nsgan", "worse"] == 6  # W1 higher (worse) on every seed
    # worse on all 6 seeds, p = 2/2^6, but Holm over the two tests gives 0.0625: not shown to differ at 0.05
    assert (w["verdict"] == "not shown to differ").all() and w.loc["nsgan", "p_holm"] == pytest.approx(0.0625)
    ties = st[(st["dataset"] == "8gaussians") & (st["metric"] == "modes_2500")]
    assert (ties["p_value"] == 1.0).all() and (ties["ties"] == 6).all()
    few = st[(st["dataset"] == "25gaussians") & (st["cell"] == "nsgan") & (st["metric"] == "w1")].iloc[0]
    # the diverged seed stays as a pair, ranked worst: seeds 0 and 1 tie (equal W1), nsgan loses seed 2, the one non-zero rank
    assert few["n_pairs"] == 3 and few["failed_cell"] == 1 and (few["worse"], few["ties"], few["n_nonzero"], few["statistic"]) == (1, 2, 1, 1.0)


def test_wgan_clips_tied_differences_get_the_exact_conditional_p_by_brute_force(synthetic):
    import itertools

    st = pd.read_csv(synthetic / "report" / "stats.csv")
    row = st[(st["dataset"] == "8gaussians") & (st["metric"] == "w1") & (st["cell"] == "wgan-clip")].iloc[0]
    d = np.round(np.subtract(W1["wgan-clip"], W1["wgan-gp"]), 12)
    d = d[d != 0]
    r = sps.rankdata(np.abs(d))
    t = r[d > 0].sum()
    sums = np.array([sum(r[i] for i in range(len(d)) if s[i]) for s in itertools.product((0, 1), repeat=len(d))])
    assert row["p_value"] == pytest.approx(min(1.0, 2 * min((sums <= t).mean(), (sums >= t).mean())))


def test_family_tests_with_no_baseline_or_all_ties():
    runs = pd.DataFrame({"dataset": ["a"] * 10, "cell": ["x"] * 5 + ["y"] * 5, "seed": list(range(5)) * 2, "status": ["ok"] * 10, "modes": [8] * 10})
    missing = family_tests(runs, [Family("f", ("y",), "nope", ("modes",))])  # a declared baseline without runs: declared, not tested
    assert (missing["n_pairs"].tolist(), missing["verdict"].tolist()) == ([0], ["not tested (no matched pairs)"])
    t = family_tests(runs, exploratory(runs, "x"))
    assert t.loc[0, "p_value"] == 1.0 and t.loc[0, "n_nonzero"] == 0 and t.loc[0, "verdict"] == "not shown to differ"


def test_summary_md_and_html(synthetic):
    rep = synthetic / "report"
    md = (rep / "summary.md").read_text()
    assert "## 8gaussians" in md and "W1 mean of the rest [95% BCa bootstrap CI]" in md
    assert "modes (2,500 samples) mean of the rest [95% BCa bootstrap CI]" in md and "W1 IQM [95% percentile bootstrap]" in md
    assert "W1 mean of the rest [range]" in md  # 25gaussians: 3 seeds, so ranges, and the header says so
    assert "| modes mean [" not in md  # the evaluation-sample mode metric gives way to its 2,500-sample version
    row = next(line for line in md.splitlines() if line.startswith("| wgan-gp | 6 | 0 | 0 |"))
    assert f"| {np.mean(W1['wgan-gp']):.4g} [" in row  # W1 in the registry's format (.4g)
    page = (rep / "index.html").read_text()
    assert page.count("data:image/png;base64,") == len(list(rep.glob("*.png")))  # every plot embedded
    assert not re.search(r"""(src|href)=['"]?https?://""", page)  # self-contained: nothing fetched
    assert "<h2>Paired tests</h2>" in page and "exploratory family per data set and metric" in page


def test_labels_and_cells_come_from_the_runs_files(tmp_path):
    a = RunConfig.preset("wgan-gp", "8gaussians", seed=0, steps=100, eval_every=50)
    b = a.replace(penalty_weight=10.0)
    c = a.replace(loss="minimax")  # overridden: the run wrote its label "minimax+gp"
    d = b.replace(seed=1)
    for config in (a, b, c, d):
        _fake_run(tmp_path, config, 0.1)
    (tmp_path / d.run_id() / "final.json").unlink()  # unfinished: takes the label of the finished run with the same variant/loss/constraint
    runs = load_study(tmp_path)[0].set_index("run_id")
    assert runs.loc[c.run_id(), "label"] == c.label == "minimax+gp"
    assert runs.loc[d.run_id(), "status"] == "incomplete" and runs.loc[d.run_id(), "label"] == "wgan-gp"
    cells = runs["cell"].to_dict()
    assert cells == {a.run_id(): "wgan-gp, penalty_weight=0.1", b.run_id(): "wgan-gp, penalty_weight=10", c.run_id(): "minimax+gp",
                     d.run_id(): "wgan-gp, penalty_weight=10"}  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Files only: no torch, no model.pt
# ---------------------------------------------------------------------------------------------
def _python(code: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH", "")]))}
    return subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)


def test_report_imports_no_torch():
    r = _python("import wgan_core.report, sys; assert 'torch' not in sys.modules")
    assert r.returncode == 0, r.stderr[-2000:]


def test_write_report_runs_without_torch(synthetic_runs, tmp_path):
    root = tmp_path / "study"
    shutil.copytree(synthetic_runs, root, ignore=shutil.ignore_patterns("report"))
    r = _python(f"import sys; from wgan_core.report import write_report; write_report({str(root)!r}); assert 'torch' not in sys.modules")
    assert r.returncode == 0, r.stderr[-2000:]
    assert (root / "report" / "index.html").exists() and (root / "report" / "toy_samples_8gaussians.csv").exists()


# ---------------------------------------------------------------------------------------------
# A tiny real study: what its runs wrote; the report command
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_study(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("tiny")
    spec = StudySpec("toy", 1, "cpu", ("nsgan", "wgan-gp"), ("8gaussians",), ("width=16", "batch_size=32", "eval_samples=200", "steps=4", "eval_every=2"))
    run_study(spec, root, Executor("local", threads=1), progress=False, log=lambda m: None)
    return root


def test_report_cli(tiny_study, tmp_path, capsys):
    root = tmp_path / "study"
    shutil.copytree(tiny_study, root)
    assert cli_main(["report", str(root)]) == 0
    assert capsys.readouterr().out.strip().endswith("report/index.html")
    rep = root / "report"
    runs = pd.read_csv(rep / "runs.csv")
    assert list(runs["cell"]) == ["nsgan", "wgan-gp"] and (runs["width"] == 16).all() and (runs["status"] == "ok").all()
    samples = pd.read_csv(rep / "toy_samples_8gaussians.csv")
    assert list(samples.columns) == ["dataset", "cell", "seed", "source", "x", "y"]
    assert (rep / "toy_samples_8gaussians.png").read_bytes()[:4] == b"\x89PNG"


def test_report_is_the_same_without_model_files(tiny_study, tmp_path):
    root = tmp_path / "study"
    shutil.copytree(tiny_study, root)
    names = ("runs.csv", "summary.csv", "stats.csv", "toy_samples_8gaussians.csv")
    write_report(root)
    before = {n: (root / "report" / n).read_bytes() for n in names}
    samples = pd.read_csv(root / "report" / "toy_samples_8gaussians.csv")
    counts = samples.groupby(["cell", "source"]).size().to_dict()
    assert set(counts) == {(c, s) for c in ("nsgan", "wgan-gp") for s in ("generated", "real")} and len(set(counts.values())) == 1
    runs = pd.read_csv(root / "report" / "runs.csv")
    assert runs["modes_2500"].between(0, 8).all() and runs["high_quality_2500"].between(0, 1).all()  # from final.json
    assert "lack panel.npz" not in (root / "report" / "summary.md").read_text()
    model_files = [p for p in root.rglob("*.pt")]
    assert {p.name for p in model_files} >= {"model.pt"}
    for p in model_files:
        p.unlink()
    shutil.rmtree(root / "report")
    write_report(root)
    for n in names:
        assert (root / "report" / n).read_bytes() == before[n], n


def test_report_cli_bad_input(tmp_path, capsys):
    assert cli_main(["report", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "holds no runs" in err
    assert cli_main(["report", str(tmp_path / "missing")]) == 2
    assert not (tmp_path / "report").exists()


def test_search_report_keeps_a_diverged_stage2_seed_ranked_worst(tmp_path):
    # stage 1: settings 0 and 1 of nsgan and wgan-gp on selection seed 1000; stage 2: both settings on fresh seeds 0..5
    stage1, stage2 = {}, {}
    for v in ("nsgan", "wgan-gp"):
        for i in (0, 1):
            c = RunConfig.preset(v, "8gaussians", seed=1000, steps=100, eval_every=50, lr_d=1e-4 * (i + 1))
            stage1[_fake_run(tmp_path, c, 0.3 - 0.1 * i)] = {"dataset": "8gaussians", "variant": v, "setting": i, "seed": 1000, "values": {}}
            for seed in range(6):
                diverged = (v, i, seed) == ("nsgan", 1, 3)
                w1 = (0.5 if v == "nsgan" else 0.2) + 0.01 * seed
                rid = _fake_run(tmp_path, c.replace(seed=seed), w1, "diverged" if diverged else "ok")
                stage2[rid] = {"dataset": "8gaussians", "variant": v, "setting": i, "seed": seed, "roles": ["tuned" if i == 1 else "defaults"]}
    info = {"preset": "search-toy", "seeds": 6, "baseline": "wgan-gp", "metric": "w1", "command": "test", "runs": list(stage1),
            "stage1": stage1, "stage2": {"metric": "w1", "selected": {}, "runs": stage2}}  # fmt: skip
    (tmp_path / "study.json").write_text(json.dumps(info))
    write_report(tmp_path)
    st = pd.read_csv(tmp_path / "report" / "stats.csv")
    row = st[(st["metric"] == "w1") & (st["cell"] == "nsgan (tuned)")].iloc[0]
    assert row["n_pairs"] == 6 and row["baseline"] == "wgan-gp (tuned)"  # the diverged seed 3 is a pair, not a gap
    assert row["failed_cell"] == 1 and row["worse"] == 6 and row["statistic"] == 21.0  # ranked worst, no value put in its place
    ranking = pd.read_csv(tmp_path / "report" / "ranking.csv").set_index("objective")
    assert ranking.loc["nsgan", "tuned_failure_rate"] == pytest.approx(1 / 6) and ranking.loc["wgan-gp", "tuned_failure_rate"] == 0
    stage1_csv = pd.read_csv(tmp_path / "report" / "stage1.csv")
    assert set(stage1_csv["seed"]) == {1000} and not set(stage1_csv["run_id"]) & set(stage2)  # selection and report seeds disjoint


def test_an_ensemble_members_seconds_are_its_share_of_the_ensembles_wall_time(tmp_path):
    config = RunConfig.preset("wgan-gp", "8gaussians", seed=0, steps=100, eval_every=50)
    rid = _fake_run(tmp_path, config, 0.1)
    final = json.loads((tmp_path / rid / "final.json").read_text())
    final.update(ensemble={"size": 4, "seeds": [0, 1, 2, 3]}, cpu_share=0.97)  # as a member of 4 writes it
    (tmp_path / rid / "final.json").write_text(json.dumps(final))
    alone = _fake_run(tmp_path, config.replace(seed=1), 0.1)
    runs = load_study(tmp_path)[0].set_index("run_id")
    assert runs.loc[rid, "run_seconds"] == pytest.approx(101.0 / 4) and runs.loc[rid, "cpu_share"] == 0.97
    assert runs.loc[alone, "run_seconds"] == 101.0 and runs.loc[alone, "ensemble_size"] == 1


def test_an_unfinished_run_borrows_the_label_of_its_cell_on_another_data_set():
    """A factorial cell (the wgan-gp preset with loss and constraint overridden) is labelled loss+constraint by its runs;
    an unfinished run of it with no finished twin of the same config borrows that label, not the preset's name."""
    from wgan_core.report.load import _labels

    done = {"variant": "wgan-gp", "loss": "minimax", "constraint": "none", "dataset": "8gaussians", "steps": 10, "seed": 0}
    other = {**done, "dataset": "25gaussians", "seed": 1}
    plain = {**done, "loss": "wasserstein", "constraint": "gp", "seed": 2}
    assert _labels([done, other, plain], [{"variant": "minimax+none"}, None, None]) == ["minimax+none", "minimax+none", "wgan-gp"]
