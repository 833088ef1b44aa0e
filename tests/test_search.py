"""The tuning-fair search: budget curves (order statistics), the settings, selection, kill -9 in either stage, bad input."""

import itertools
import json
import math
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from wgan_core import ConfigError, RunConfig
from wgan_core.report.budget import budget_band, budget_curve, budget_to_reach, expected_best
from wgan_core.study import PRESETS, StudySpec, job_cost
from wgan_core.study.presets import FIVE, MIXTURES, SEARCH_TOY
from wgan_core.study.run import score, select, stage1_table, stage2_jobs
from wgan_core.study.space import PARAM_NAMES, SPACE, setting

from .conftest import ablation_main

ROOT = Path(__file__).resolve().parent.parent
STUDY = [sys.executable, "-m", "wgan_core", "study"]  # run with PYTHONPATH=ROOT: the checkout under test
TINY = ("width=16", "batch_size=32", "eval_samples=200", "steps=4", "eval_every=2")
RANGES = {p.name: p for p in SPACE}


def _finals(root: Path) -> dict[str, tuple[int, bytes]]:
    return {p.parent.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in root.glob("*/final.json")}


# ---------------------------------------------------------------------------------------------
# Budget curves: exact order statistics against brute force
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("k", range(1, 8))
def test_expected_best_equals_brute_force_over_all_subsets(k):
    rng = np.random.default_rng(k)
    for trial in range(4):
        # trial 0: continuous scores; the others: few distinct values, so ties are certain for k >= 3
        scores = rng.normal(size=k) if trial == 0 else rng.integers(0, 3, size=k).astype(float)
        for m in range(1, k + 1):
            subsets = list(itertools.combinations(scores.tolist(), m))
            brute = sum(min(s) for s in subsets) / len(subsets)
            assert expected_best(scores, m) == pytest.approx(brute, rel=1e-12, abs=1e-12), (scores, m)
            assert expected_best(list(scores), m) == pytest.approx(brute, rel=1e-12, abs=1e-12)  # a list too
            assert expected_best(scores[::-1].copy(), m) == pytest.approx(brute, rel=1e-12, abs=1e-12)  # order of the K is irrelevant


@pytest.mark.parametrize("m", [0, 4, -1])
def test_expected_best_refuses_a_budget_outside_1_to_k(m):
    with pytest.raises(ValueError, match="budget m must lie in"):
        expected_best([1.0, 2.0, 3.0], m)


def test_budget_curve_runs_from_the_mean_to_the_minimum_and_never_increases():
    rng = np.random.default_rng(0)
    for k in (1, 2, 5, 16):
        for scores in (rng.exponential(size=k), rng.integers(0, 2, size=k).astype(float)):
            curve = budget_curve(scores)
            assert curve.shape == (k,)
            assert curve[0] == pytest.approx(scores.mean(), rel=1e-12)
            assert curve[-1] == pytest.approx(scores.min(), rel=1e-12, abs=1e-15)
            assert np.all(np.diff(curve) <= 1e-12), curve
    assert budget_curve([3.0, 1.0, 2.0]).tolist() == pytest.approx([2.0, (1 + 1 + 2) / 3, 1.0])  # by hand: pairs {3,1},{3,2},{1,2}


def test_budget_band_is_ordered_bounded_and_reproducible():
    scores = np.array([0.9, 1.3, 0.4, 2.2, 1.1, 0.7, 1.8, 0.5])
    curve = budget_curve(scores)
    lo, hi = budget_band(scores, seed=3)
    assert lo.shape == hi.shape == curve.shape
    assert np.all(lo <= hi)
    # every resample's curve is a weighted mean of resampled scores: inside [min, max] of the scores, always
    assert np.all(lo >= scores.min()) and np.all(hi <= scores.max())
    # at m = K the curve is the minimum, and no resample has a smaller minimum: the band lies at or above the curve there.
    assert lo[-1] >= curve[-1]
    # ... and it touches it: ~1 - (7/8)^8 = 66% of resamples hold the minimum, far above the 2.5% quantile (fixed seed).
    assert lo[-1] == curve[-1]
    # reproducible with the same seed, different with another
    lo2, hi2 = budget_band(scores, seed=3)
    assert np.array_equal(lo, lo2) and np.array_equal(hi, hi2)
    lo3, hi3 = budget_band(scores, seed=4)
    assert not (np.array_equal(lo, lo3) and np.array_equal(hi, hi3))
    # the same resamples at a higher level: a band at least as wide at every m
    wlo, whi = budget_band(scores, level=0.99, seed=3)
    assert np.all(wlo <= lo) and np.all(whi >= hi)
    # constant scores: every resample is the same, the band collapses onto the curve
    clo, chi = budget_band([2.0] * 5, n_resamples=50)
    assert clo.tolist() == pytest.approx([2.0] * 5, rel=1e-12) and chi.tolist() == pytest.approx([2.0] * 5, rel=1e-12)


def test_budget_to_reach_by_hand():
    curve = np.array([3.0, 2.0, 1.5, 1.0])
    assert budget_to_reach(curve, 3.5) == 1
    assert budget_to_reach(curve, 3.0) == 1  # "at or below"
    assert budget_to_reach(curve, 2.5) == 2
    assert budget_to_reach(curve, 2.0) == 2
    assert budget_to_reach(curve, 1.2) == 4
    assert budget_to_reach(curve, 1.0) == 4
    assert budget_to_reach(curve, 0.99) is None
    assert budget_to_reach(budget_curve([3.0, 1.0, 2.0]), 1.5) == 2  # curve [2, 4/3, 1]


# ---------------------------------------------------------------------------------------------
# Settings: the search space's draws
# ---------------------------------------------------------------------------------------------
def _base(variant: str) -> RunConfig:
    return RunConfig.preset(variant, "8gaussians", device="cpu")


# The keys a setting i > 0 holds, per objective: beta1 only with Adam, lambda only with a penalty, c only with clipping;
# beta2 never (Lucic et al. did not search it).
EXPECTED_KEYS = {
    "gan": {"lr_g", "lr_d", "beta1", "n_critic"},
    "nsgan": {"lr_g", "lr_d", "beta1", "n_critic"},
    "wgan-clip": {"lr_g", "lr_d", "n_critic", "clip_value"},  # RMSprop: no betas
    "wgan-gp": {"lr_g", "lr_d", "beta1", "n_critic", "penalty_weight"},
    "wgan-lp": {"lr_g", "lr_d", "beta1", "n_critic", "penalty_weight"},
}


def test_setting_0_is_the_defaults_and_draws_are_reproducible_and_distinct():
    for v in FIVE:
        assert setting(_base(v), 0) == {}
    draws = [setting(_base("wgan-gp"), i) for i in range(1, 21)]
    assert draws == [setting(_base("wgan-gp"), i) for i in range(1, 21)]  # same call, same draw
    assert len({json.dumps(d, sort_keys=True) for d in draws}) == 20  # every index its own draw
    assert len({d["lr_g"] for d in draws}) == 20
    assert setting(_base("wgan-gp"), 1, seed=1) != setting(_base("wgan-gp"), 1)  # the search seed matters


def test_setting_applies_only_the_objectives_parameters_and_pairs_shared_ones():
    assert _base("wgan-clip").optimizer == "rmsprop" and _base("gan").optimizer == "adam"  # premises of EXPECTED_KEYS
    for i in range(1, 31):
        s = {v: setting(_base(v), i) for v in FIVE}
        for v in FIVE:
            assert set(s[v]) == EXPECTED_KEYS[v], (v, i, s[v])
            assert s[v]["lr_g"] == s[v]["lr_d"]  # one learning rate for both nets
        # a parameter that applies to two objectives is the same draw for both (a paired design)
        for v in FIVE:
            for key in EXPECTED_KEYS[v] & EXPECTED_KEYS["gan"]:
                assert s[v][key] == s["gan"][key], (v, key, i)
        assert s["wgan-gp"]["penalty_weight"] == s["wgan-lp"]["penalty_weight"]


def test_setting_values_lie_in_the_declared_ranges_and_make_valid_configs():
    seen: dict[str, list] = {k: [] for k in ("lr_g", "beta1", "n_critic", "penalty_weight", "clip_value")}
    bases = {v: _base(v) for v in FIVE}
    for i in range(1, 201):
        for v in ("wgan-gp", "wgan-clip"):  # between them, every parameter of SPACE
            s = setting(bases[v], i)
            for k, val in s.items():
                if k in seen:
                    seen[k].append(val)
                if isinstance(val, float):
                    assert float(f"{val:.3g}") == val, (k, val)  # rounded to 3 significant digits
        if i <= 40:  # the overrides are accepted by the config's own validation
            for base in bases.values():
                base.replace(**setting(base, i))
    lr = RANGES["lr"]
    assert all(lr.low <= x <= lr.high for x in seen["lr_g"])
    assert all(0.0 <= x < 1.0 for x in seen["beta1"])  # Adam needs beta < 1
    assert set(seen["n_critic"]) == set(RANGES["n_critic"].choices)  # every choice drawn in 200 tries, no other
    for k in ("penalty_weight", "clip_value"):
        assert all(RANGES[k].low <= x <= RANGES[k].high for x in seen[k]), k
    # the draws spread over the ranges (log-uniform over 3 decades: both ends' decades are hit in 200 draws)
    assert min(seen["lr_g"]) < 1e-4 and max(seen["lr_g"]) > 1e-3
    assert min(seen["clip_value"]) < 1e-2 and max(seen["clip_value"]) > 1e-1  # 10^U[-3, 0]
    assert min(seen["beta1"]) < 0.1 and max(seen["beta1"]) > 0.9


def test_params_restricts_what_varies_without_changing_the_draw():
    for v in FIVE:
        for i in range(1, 11):
            full = setting(_base(v), i)
            only_lr = setting(_base(v), i, params=("lr",))
            assert only_lr == {"lr_g": full["lr_g"], "lr_d": full["lr_d"]}
            assert setting(_base(v), i, params=("n_critic",)) == {"n_critic": full["n_critic"]}
    assert setting(_base("gan"), 1, params=("penalty_weight",)) == {}  # does not apply: nothing
    with pytest.raises(ConfigError, match="unknown hyperparameter"):
        setting(_base("gan"), 1, params=("lr", "nope"))


def test_stage1_of_k_settings_is_a_prefix_of_k_plus_one():
    def ids(k):
        return [j.run_id() for j in StudySpec("search-toy", 1, "cpu", settings=k).jobs()]

    three, four = ids(3), ids(4)
    assert len(three) == 3 * 10 and len(four) == 4 * 10 and len(set(four)) == 40
    assert four[: len(three)] == three
    spec = StudySpec("search-toy", 1, "cpu", settings=4, params=("lr",))
    table = stage1_table(spec)
    # params=lr: only the learning rates differ between the settings of one objective
    for (ds, v), rows in itertools.groupby(sorted(table.values(), key=lambda r: (r["dataset"], r["variant"])), key=lambda r: (r["dataset"], r["variant"])):
        rows = list(rows)
        assert len(rows) == 4
        fixed = [{k: x for k, x in r["values"].items() if k not in ("lr_g", "lr_d")} for r in rows]
        assert all(f == fixed[0] for f in fixed), (ds, v)
        assert len({r["values"]["lr_g"] for r in rows}) == 4


# ---------------------------------------------------------------------------------------------
# Selection and stage 2
# ---------------------------------------------------------------------------------------------
def _table(n_settings=4, datasets=("a", "b"), variants=("gan", "wgan-gp"), seeds=(1000,)) -> dict:
    return {
        f"{ds}-{v}-{i}" + (f"-{r}" if len(seeds) > 1 else ""): {"dataset": ds, "variant": v, "setting": i, "seed": r, "values": {}}
        for i in range(n_settings) for r in seeds for ds in datasets for v in variants
    }  # fmt: skip


def test_select_lowest_ties_to_lower_index_never_inf():
    table = _table()
    inf = math.inf
    scores = {
        "a-gan-0": 2.0, "a-gan-1": 1.0, "a-gan-2": 3.0, "a-gan-3": 0.5,  # plain minimum: setting 3
        "a-wgan-gp-0": 1.0, "a-wgan-gp-1": 0.7, "a-wgan-gp-2": 0.9, "a-wgan-gp-3": 0.7,  # tie between 1 and 3: 1
        "b-gan-0": inf, "b-gan-1": inf, "b-gan-2": 9.0, "b-gan-3": inf,  # the only finite one wins, however large
        "b-wgan-gp-0": inf, "b-wgan-gp-1": inf, "b-wgan-gp-2": inf,  # all inf (3 missing: inf too): defaults kept
    }  # fmt: skip
    sel = select(table, scores)
    assert {ds: {v: s["setting"] for v, s in per.items()} for ds, per in sel.items()} == {
        "a": {"gan": 3, "wgan-gp": 1},
        "b": {"gan": 2, "wgan-gp": 0},
    }
    assert sel["a"]["gan"] == {"setting": 3, "score": 0.5, "run_ids": ["a-gan-3"]}
    assert sel["b"]["gan"]["score"] == 9.0 and sel["b"]["wgan-gp"] == {"setting": 0, "score": inf, "run_ids": ["b-wgan-gp-0"]}
    # a tie between setting 0 and a later one keeps the defaults
    assert select(_table(2, ("a",), ("gan",)), {"a-gan-0": 1.0, "a-gan-1": 1.0})["a"]["gan"]["setting"] == 0


def test_select_ranks_settings_by_their_mean_over_the_selection_seeds():
    table = _table(3, ("a",), ("gan",), seeds=(1000, 1001))
    # setting 1 holds the single best run (0.1) but the worse mean (0.1 + 0.9) / 2 = 0.5; setting 2's mean is 0.4
    scores = {"a-gan-0-1000": 1.0, "a-gan-0-1001": 1.0, "a-gan-1-1000": 0.1, "a-gan-1-1001": 0.9, "a-gan-2-1000": 0.4, "a-gan-2-1001": 0.4}
    sel = select(table, scores)["a"]["gan"]
    assert sel["setting"] == 2 and sel["score"] == pytest.approx(0.4) and sorted(sel["run_ids"]) == ["a-gan-2-1000", "a-gan-2-1001"]
    scores["a-gan-2-1001"] = math.inf  # one seed of setting 2 unscoreable: its mean is inf, setting 1 wins
    assert select(table, scores)["a"]["gan"]["setting"] == 1


def test_select_is_deterministic_and_ignores_input_order():
    rng = random.Random(0)
    table = _table(8, ("a", "b", "c"), FIVE)
    scores = {rid: rng.choice([0.5, 1.0, 1.5, math.inf]) for rid in table}  # many ties and infs
    ref = select(table, scores)
    assert select(table, scores) == ref
    for _ in range(10):
        items = list(table.items())
        rng.shuffle(items)
        sitems = list(scores.items())
        rng.shuffle(sitems)
        assert select(dict(items), dict(sitems)) == ref
    for ds, per in ref.items():  # and it is the brute-force answer
        for v, sel in per.items():
            rows = [(scores[r], t["setting"]) for r, t in table.items() if t["dataset"] == ds and t["variant"] == v]
            assert (sel["score"], sel["setting"]) == min(rows)


def test_score_follows_the_failure_rule(tmp_path):
    def run(rid, obj=None, text=None, step0=1.4):
        (tmp_path / rid).mkdir()
        (tmp_path / rid / "final.json").write_text(text if text is not None else json.dumps(obj))
        if step0 is not None:
            (tmp_path / rid / "metrics.csv").write_text(f"step,w1\n0,{step0}\n100,0.9\n")

    run("ok", {"status": "ok", "metrics": {"w1": 0.25}})
    run("diverged", {"status": "diverged", "metrics": {"w1": 0.01}})  # a low last value does not save a diverged run
    run("worse", {"status": "ok", "metrics": {"w1": 7.5}})  # worse than untrained (1.4): a bad result, not a failure
    run("null", {"status": "ok", "metrics": {"w1": None}})  # NaN is written as null
    run("nometric", {"status": "ok", "metrics": {}})
    run("torn", text='{"status": "o')
    assert score(tmp_path, "ok", "w1") == 0.25 and score(tmp_path, "worse", "w1") == 7.5
    for rid in ("diverged", "null", "nometric", "torn", "missing"):
        assert score(tmp_path, rid, "w1") == math.inf, rid  # failed or unfinished: ranked worst, never its untrained value


def _search_spec(settings=3, seeds=3, overrides=TINY) -> StudySpec:
    return StudySpec("search-toy", seeds, "cpu", ("gan", "wgan-gp"), ("8gaussians",), overrides, settings=settings)


def test_stage2_jobs_tuned_and_defaults_on_fresh_seeds_disjoint_from_stage1():
    spec = _search_spec()
    stage1 = {(j.variant, i): j for j, i in spec.tagged_jobs()}
    stage1_ids = {j.run_id() for j in stage1.values()}
    assert {j.seed for j in stage1.values()} == {1000}  # stage 1 selects on a seed of its own
    selected = {"8gaussians": {"gan": {"setting": 2, "score": 1.0, "run_id": "x"}, "wgan-gp": {"setting": 0, "score": 1.0, "run_id": "y"}}}
    tagged = stage2_jobs(spec, selected)
    assert len(tagged) == 3 * 2 * 2  # seeds x objectives x (tuned, defaults)
    got = {(j.variant, t["role"], t["setting"], j.seed) for j, t in tagged}
    want = {(v, role, i, s) for s in range(3) for v, tuned in (("gan", 2), ("wgan-gp", 0)) for role, i in (("tuned", tuned), ("defaults", 0))}
    assert got == want
    for job, tag in tagged:
        ref = stage1[(job.variant, tag["setting"])]
        assert job.to_dict() == ref.replace(seed=job.seed).to_dict()  # the stage-1 config, only the seed changed
        assert job.run_id() not in stage1_ids and job.seed < 1000, (job.variant, tag, job.seed)  # never a stage-1 run
        assert job.steps == 4 and job.width == 16  # the overrides carry over
    assert [j.seed for j, _ in tagged] == sorted(j.seed for j, _ in tagged)  # seed-major
    new = {j.run_id() for j, _ in tagged} - stage1_ids
    assert len(new) == 3 * 2 + 3  # gan: tuned and defaults at seeds 0, 1, 2; wgan-gp: one run per seed (tuned is the defaults)


def test_selection_seeds_train_every_setting_on_r_seeds_of_their_own():
    spec = StudySpec("search-toy", 4, "cpu", ("gan",), ("8gaussians",), TINY, settings=2, selection_seeds=3)
    table = stage1_table(spec)
    assert sorted((r["setting"], r["seed"]) for r in table.values()) == [(i, s) for i in range(2) for s in (1000, 1001, 1002)]
    selected = {"8gaussians": {"gan": {"setting": 1, "score": 1.0, "run_ids": []}}}
    assert {j.seed for j, _ in stage2_jobs(spec, selected)} == {0, 1, 2, 3}  # disjoint from 1000..1002
    with pytest.raises(ConfigError, match="seeds: a search reports on seeds 0..N-1"):
        StudySpec("search-toy", 1001, "cpu")
    with pytest.raises(ConfigError, match="selection-seeds: must be a positive integer"):
        StudySpec("search-toy", 2, "cpu", selection_seeds=0)
    with pytest.raises(ConfigError, match="only for the search presets"):
        StudySpec("toy", 2, "cpu", selection_seeds=2)


# ---------------------------------------------------------------------------------------------
# kill -9 in stage 1 and in stage 2, then the same command
# ---------------------------------------------------------------------------------------------
# 300 steps make a run ~1 s here, so each stage lasts several seconds: a window the poll cannot miss.
KILL_SET = ("steps=300", "eval_every=150", "width=16", "eval_samples=200", "batch_size=32")
POLL_TIMEOUT_S = 120


def _search_args(out: Path) -> list[str]:
    args = ["--preset", "search-toy", "--settings", "3", "--seeds", "3", "--datasets", "8gaussians", "--variants", "gan,wgan-gp",
            "--descriptive", "--device", "cpu", "--executor", "local", "--threads", "1", "--quiet", "--no-report", "--out", str(out)]  # fmt: skip
    for s in KILL_SET:
        args += ["--set", s]
    return args


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}


def _study(out: Path) -> dict:
    try:
        return json.loads((out / "study.json").read_text())
    except (OSError, ValueError):
        return {}


def _kill_when(out: Path, log: Path, condition, what: str) -> None:
    """Start the search, poll until condition(study) holds, then SIGKILL its process group. Fails clearly, never hangs."""
    with open(log, "wb") as f:
        proc = subprocess.Popen([*STUDY, *_search_args(out)], env=_env(), stdout=f, stderr=subprocess.STDOUT, start_new_session=True)
    hit = False
    deadline = time.monotonic() + POLL_TIMEOUT_S
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if condition(_study(out)):
                os.killpg(proc.pid, signal.SIGKILL)
                hit = True
                break
            time.sleep(0.02)
    finally:
        if proc.poll() is None and not hit:
            os.killpg(proc.pid, signal.SIGKILL)  # timed out: do not leave it running
        proc.wait(30)
    tail = log.read_text()[-2000:]
    assert hit, f"never saw {what} within {POLL_TIMEOUT_S} s (exit code {proc.returncode}); output:\n{tail}"
    assert proc.returncode == -signal.SIGKILL, tail


def _done(out: Path, ids) -> set[str]:
    return {rid for rid in ids if (out / rid / "final.json").exists()}


def _restart_and_check(out: Path, before: dict, stage2_before: dict | None) -> subprocess.CompletedProcess:
    rerun = subprocess.run([*STUDY, *_search_args(out)], env=_env(), capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stdout[-2000:] + rerun.stderr[-2000:]
    info = _study(out)
    spec = StudySpec("search-toy", 3, "cpu", ("gan", "wgan-gp"), ("8gaussians",), KILL_SET, settings=3)
    assert info["runs"] == [j.run_id() for j in spec.jobs()] and set(info["stage1"]) == set(info["runs"])
    stage2 = info["stage2"]
    if stage2_before is not None:
        assert stage2 == stage2_before  # re-derived after the kill: the same stage 2
    all_ids = set(info["stage1"]) | set(stage2["runs"])
    for rid in all_ids:
        final = json.loads((out / rid / "final.json").read_text())
        assert final["status"] == "ok" and final["steps"] == 300, rid
    after = _finals(out)
    assert set(after) == all_ids
    for rid, stamp in before.items():
        assert after[rid] == stamp, f"finished run {rid} was run again"
    n1 = len(set(before) & set(info["stage1"]))
    assert f"stage 1: 6 runs in {out} ({n1} finished already)" in rerun.stdout
    return rerun


@pytest.mark.slow  # a real process killed or run end to end: `nox -s slow` (CI runs it)
def test_kill_9_in_stage_1_then_restart_finishes_both_stages(tmp_path):
    out = tmp_path / "search"

    def mid_stage1(info):
        if not info or "stage2" in info:
            return False
        return 1 <= len(_done(out, info["runs"])) < len(info["runs"])

    _kill_when(out, tmp_path / "log1.txt", mid_stage1, "1 to 5 of the 6 stage-1 runs finished")
    before = _finals(out)
    info = _study(out)
    assert "stage2" not in info and 1 <= len(before) < 6 and set(before) <= set(info["runs"])
    rerun = _restart_and_check(out, before, None)
    assert f"stage 1: 6/6 runs finished ({6 - len(before)} run now)" in rerun.stdout


@pytest.mark.slow  # a real process killed or run end to end: `nox -s slow` (CI runs it)
def test_kill_9_in_stage_2_then_restart_keeps_its_record(tmp_path):
    out = tmp_path / "search"

    def mid_stage2(info):
        if "stage2" not in info:
            return False
        new = set(info["stage2"]["runs"]) - set(info["runs"])
        return 1 <= len(_done(out, new)) < len(new)

    _kill_when(out, tmp_path / "log2.txt", mid_stage2, "some but not all new stage-2 runs finished")
    before = _finals(out)
    info = _study(out)
    stage2 = info["stage2"]
    new = set(stage2["runs"]) - set(info["runs"])
    assert new == set(stage2["runs"])  # every stage-2 run is a fresh seed, none a stage-1 run
    assert set(info["runs"]) <= set(before) and 1 <= len(set(before) & new) < len(new)
    assert 2 * 3 <= len(new) <= 2 * 6  # 2 objectives, seeds 0..2, tuned and defaults (fewer where they coincide)
    rerun = _restart_and_check(out, before, stage2)
    assert "stage 1: 6/6 runs finished (0 run now)" in rerun.stdout
    n2 = len(stage2["runs"])
    assert f"stage 2: {n2} runs in {out} ({len(set(before) & set(stage2['runs']))} finished already)" in rerun.stdout
    assert f"stage 2: {n2}/{n2} runs finished ({n2 - len(set(before) & set(stage2['runs']))} run now)" in rerun.stdout


# ---------------------------------------------------------------------------------------------
# The command line: bad arguments, --dry-run
# ---------------------------------------------------------------------------------------------
def _main(argv, capsys):
    return ablation_main(argv, capsys)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--settings", "0"], "error: settings: must be a positive integer"),
        (["--settings", "-2"], "error: settings: must be a positive integer"),
        (["--seeds", "0"], "error: seeds: must be a positive integer"),
        (["--metric", "modes"], "error: metric: 'modes' cannot pick a setting"),  # higher is better
        (["--metric", "w1_floor"], "error: metric: 'w1_floor' cannot pick a setting"),  # no direction
        (["--metric", "nope"], "error: metric: 'nope' cannot pick a setting"),
        (["--params", "lr,nope"], "error: params: unknown hyperparameter(s) nope"),
        (["--selection-seeds", "0"], "error: selection-seeds: must be a positive integer"),
        (["--preset", "toy", "--settings", "3"], "error: settings/metric/params/selection-seeds: only for the search presets"),
        (["--preset", "toy", "--metric", "w1"], "error: settings/metric/params/selection-seeds: only for the search presets"),
    ],
)
def test_cli_bad_search_arguments_are_one_line_exit_2(tmp_path, capsys, argv, message):
    out = tmp_path / "out"
    preset = [] if "--preset" in argv else ["--preset", "search-toy"]
    rc, cap = _main([*preset, "--device", "cpu", "--out", str(out), *argv], capsys)
    assert rc == 2
    lines = cap.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(message), cap.err
    assert not out.exists()


def test_study_spec_search_validation():
    spec = StudySpec("search-toy", 2)
    assert (spec.settings, spec.metric, spec.params) == (SEARCH_TOY.settings, SEARCH_TOY.metric, ())
    assert StudySpec("search-fashion", 2).metric == "fid"
    with pytest.raises(ConfigError, match="settings: must be a positive integer"):
        StudySpec("search-toy", 1, settings=-1)
    with pytest.raises(ConfigError, match="params: unknown"):
        StudySpec("search-toy", 1, params=("beta3",))
    assert set(PARAM_NAMES) == {"lr", "beta1", "n_critic", "penalty_weight", "clip_value"}  # not beta2: Lucic et al. did not search it
    assert spec.identity()["settings"] == SEARCH_TOY.settings and "settings" not in StudySpec("toy", 1).identity()


def test_cli_dry_run_prints_both_stages_and_the_cost(tmp_path, capsys):
    out = tmp_path / "out"
    rc, cap = _main(["--preset", "search-toy", "--device", "cpu", "--dry-run", "--out", str(out)], capsys)
    assert rc == 0 and not out.exists()
    k, pairs, seeds = SEARCH_TOY.settings, len(FIVE) * len(MIXTURES), PRESETS["search-toy"].seeds
    assert (k, pairs, seeds) == (16, 10, 10)
    n1 = k * pairs
    assert f"stage 1: {n1} runs ({k} settings x {pairs} objective-data set pairs x 1 selection seed(s) from 1000)" in cap.out
    assert f"stage 2: {pairs * seeds} to {pairs * 2 * seeds} more runs" in cap.out  # 100 to 200
    assert f"\n{n1} runs\n" in cap.out
    listed = [line.split()[0] for line in cap.out.splitlines()[:n1]]
    spec = StudySpec("search-toy", seeds, "cpu")
    jobs = spec.jobs()
    assert listed == [j.run_id() for j in jobs]
    # the cost line, recomputed: stage 1's runs, plus at most 200 runs at the defaults' mean cost
    defaults = [j for j, i in spec.tagged_jobs() if i == 0]
    core_s = (sum(map(job_cost, jobs)) + pairs * 2 * seeds * sum(map(job_cost, defaults)) / len(defaults)) * SEARCH_TOY.core_s_per_cost
    cost_line = next(line for line in cap.out.splitlines() if line.startswith("estimated cost:"))
    assert f"about {core_s / 3600:.1f} CPU core-hours" in cost_line

    small = ["--preset", "search-toy", "--device", "cpu", "--dry-run", "--out", str(out), "--settings", "3", "--seeds", "2",
             "--datasets", "8gaussians", "--variants", "gan,wgan-gp"]  # fmt: skip
    rc, cap = _main(small, capsys)  # its headline families (gan against wgan-gp) cannot reach 0.05 with 2 seeds: refused
    assert rc == 2 and not out.exists() and cap.out == "" and cap.err.count("\n") == 1
    assert "the headline family 'w1 at the tuned setting: each against wgan-gp (tuned)' (1 tests) cannot reach p < 0.05 with 2 seeds" in cap.err
    assert "it needs --seeds 6 or more" in cap.err  # 2/2^6 = 0.031
    rc, cap = _main([*small, "--descriptive"], capsys)
    assert rc == 0 and not out.exists() and "1 tests, 2 seeds: smallest p 0.5, after Holm 0.5: CANNOT reach p < 0.05" in cap.out
    assert "stage 1: 6 runs (3 settings x 2 objective-data set pairs x 1 selection seed(s) from 1000)" in cap.out
    assert "stage 2: 4 to 8 more runs" in cap.out and "estimated cost: about" in cap.out
