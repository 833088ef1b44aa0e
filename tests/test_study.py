"""Studies: presets, identity and refusal, claims, executors, kill -9 and restart, bad input."""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from wgan_core import VARIANTS, ConfigError, RunConfig
from wgan_core.kinds.depth import DepthConfig
from wgan_core.metrics import registry
from wgan_core.study import (
    CLAIMS,
    PRESETS,
    Claim,
    Executor,
    JobResult,
    StudySpec,
    default_preset,
    job_cost,
    prepare_dir,
    run_study,
    try_claim,
)
from wgan_core.study.presets import FIVE

from .conftest import ablation_main

ROOT = Path(__file__).resolve().parent.parent
STUDY = [sys.executable, "-m", "wgan_core", "study"]  # run with PYTHONPATH=ROOT: the checkout under test
TINY = ("width=16", "batch_size=32", "eval_samples=200", "steps=4", "eval_every=2", "checkpoint_every=2")


def tiny_spec(variants=("nsgan", "wgan-gp"), seeds=1, overrides=TINY, datasets=("8gaussians",)) -> StudySpec:
    return StudySpec("toy", seeds, "cpu", tuple(variants), tuple(datasets), tuple(overrides))


def _finals(root: Path) -> dict[str, tuple[int, bytes]]:
    return {p.parent.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in root.glob("*/final.json")}


# ---------------------------------------------------------------------------------------------
# Presets
# ---------------------------------------------------------------------------------------------
def test_toy_preset_is_matched_five_variants_two_datasets_three_seeds():
    jobs = StudySpec("toy", PRESETS["toy"].seeds).jobs()
    assert len(jobs) == 30 and len({j.run_id() for j in jobs}) == 30
    assert {j.variant for j in jobs} == set(FIVE) and set(FIVE) < set(VARIANTS)  # later variants do not change this preset
    assert {j.dataset for j in jobs} == {"8gaussians", "25gaussians"}
    assert {j.seed for j in jobs} == {0, 1, 2}
    # matched: architecture, budget and evaluation are the same for every variant
    assert len({(j.width, j.batch_size, j.steps, j.eval_every, j.eval_samples, j.z_dim) for j in jobs}) == 1
    assert all(j.eval_samples == 2000 and j.steps == 3000 for j in jobs)  # W1 on 2,000 vs 2,000; modes on 2,500 at the end
    # seed-major order: the first five runs are one matched set
    assert [j.variant for j in jobs[:5]] == list(FIVE) and {j.seed for j in jobs[:10]} == {0}


@pytest.mark.parametrize(
    ("preset", "n", "check"),
    [
        ("fashion", 15, lambda js: {j.dataset for j in js} == {"fashion-mnist"} and all(j.extractor == "classifier" for j in js)),
        ("paper", 25, lambda js: all(j.width == 64 and j.batch_size == 64 and j.steps == 200_000 for j in js)),
        ("lambda", 3 * 2 * 2 * 4, lambda js: {j.penalty_weight for j in js} == {0.1, 1.0, 10.0, 100.0} and {j.variant for j in js} == {"wgan-gp", "wgan-lp"}),
        ("ncritic", 3 * 2 * 5 * 3, lambda js: {j.n_critic for j in js} == {1, 2, 5}),
        ("factorial", 3 * 2 * 12, lambda js: len({(j.loss, j.constraint) for j in js}) == 12 and len({(j.lr_d, j.optimizer, j.n_critic) for j in js}) == 1),
        ("depth", 3 * 4, lambda js: all(isinstance(j, DepthConfig) and j.depth == 12 and j.dataset == "swissroll" for j in js)),
    ],
)
def test_presets_expand(preset, n, check):
    jobs = StudySpec(preset, PRESETS[preset].seeds).jobs()
    assert len(jobs) == n and len({j.run_id() for j in jobs}) == n
    assert check(jobs)


def test_default_preset_follows_the_device():
    assert default_preset("cpu") == "toy"
    assert default_preset("cuda") == "fashion"


def test_filters_and_overrides():
    spec = tiny_spec(variants=("wgan-gp",), seeds=2)
    jobs = spec.jobs()
    assert [(j.variant, j.seed, j.width, j.steps) for j in jobs] == [("wgan-gp", 0, 16, 4), ("wgan-gp", 1, 16, 4)]
    depth = StudySpec("depth", 1, "cpu", ("clip c=0.01",), (), ("steps=3",)).jobs()
    assert len(depth) == 1 and depth[0].clip_value == 0.01 and depth[0].steps == 3


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(preset="nope", seeds=1), "preset: unknown 'nope'"),
        (dict(preset="toy", seeds=0), "seeds: must be a positive integer"),
        (dict(preset="toy", seeds=1, variants=("wgan-xx",)), "variant: unknown 'wgan-xx'"),
        (dict(preset="toy", seeds=1, datasets=("mnist",)), "datasets: mnist not in preset"),
        (dict(preset="toy", seeds=1, overrides=("nosuch=1",)), "unknown field 'nosuch'"),
        (dict(preset="toy", seeds=1, device="tpu"), "device: unknown 'tpu'"),
    ],
)
def test_bad_spec_is_a_config_error(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        StudySpec(**kwargs).jobs()


@pytest.mark.parametrize("spec", ["threads", "process", "process:0", "process:x", "local:2", "slurm"])
def test_bad_executor(spec):
    with pytest.raises(ConfigError, match="executor"):
        Executor.parse(spec)


def test_executor_parse():
    assert Executor.parse("local") == Executor("local", 0)
    assert Executor.parse("process:2").n == 2
    ex = Executor.parse("submitit:4", ["timeout_min=30", "slurm_partition=gpu"])
    assert (ex.kind, ex.n, ex.params) == ("submitit", 4, {"timeout_min": 30, "slurm_partition": "gpu"})
    with pytest.raises(ConfigError, match="--slurm"):
        Executor.parse("local", ["timeout_min=30"])


# ---------------------------------------------------------------------------------------------
# Job results and costs
# ---------------------------------------------------------------------------------------------
def test_job_result_survives_pickling():
    """Results cross process and submitit boundaries by pickle."""
    import pickle

    for res in (
        JobResult("abc", "done", final={"status": "ok", "metrics": {"w1": 0.25}}, seconds=1.5, ran=True),
        JobResult("abc", "busy", holder={"host": "h", "pid": 12}),
        JobResult("abc", "failed", error="RuntimeError: boom"),
        JobResult("abc", "config_error", error="dataset: missing"),
    ):
        assert pickle.loads(pickle.dumps(res)) == res
    with pytest.raises(ValueError, match="state"):
        JobResult("abc", "finished")


# steps * (1 + n_critic * weight) + 200 * (steps // eval_every + 2), at the toy budget (steps 3000, eval_every 1000):
# a critic step weighs 2.2 with a gradient penalty, 1.2 with clipping, else 1.
TOY_COSTS = {
    "gan": 3000 * (1 + 1 * 1.0) + 200 * 5,  # 7000
    "nsgan": 3000 * (1 + 1 * 1.0) + 200 * 5,  # 7000
    "wgan-clip": 3000 * (1 + 5 * 1.2) + 200 * 5,  # 22000
    "wgan-gp": 3000 * (1 + 5 * 2.2) + 200 * 5,  # 37000
    "wgan-lp": 3000 * (1 + 5 * 2.2) + 200 * 5,  # 37000
}


def test_job_cost_matches_the_hand_computed_numbers():
    jobs = StudySpec("toy", 1, datasets=("8gaussians",)).jobs()
    assert {j.variant: job_cost(j) for j in jobs} == pytest.approx(TOY_COSTS)
    assert TOY_COSTS["wgan-gp"] == pytest.approx(37000) and TOY_COSTS["wgan-clip"] == pytest.approx(22000)
    depth = {j.label: job_cost(j) for j in StudySpec("depth", 1).jobs()}  # critic-only, 500 steps: gp weighs 3, clip 1
    assert depth == pytest.approx({"clip c=0.1": 500.0, "clip c=0.01": 500.0, "clip c=0.001": 500.0, "gp λ=0.1": 1500.0})


# ---------------------------------------------------------------------------------------------
# Identity: study.json, refusal of another study's directory
# ---------------------------------------------------------------------------------------------
def test_study_json_records_identity_and_refuses_another_study(tmp_path):
    spec = tiny_spec()
    info = prepare_dir(tmp_path, spec, spec.jobs(), command="cmd")
    assert info["preset"] == "toy" and info["seeds"] == 1 and info["set"] == list(TINY) and info["command"] == "cmd"
    assert info["runs"] == [j.run_id() for j in spec.jobs()] and info["baseline"] == "wgan-gp"
    before = (tmp_path / "study.json").read_bytes()
    assert prepare_dir(tmp_path, spec, spec.jobs())["runs"] == info["runs"]  # the same study: accepted
    other = tiny_spec(seeds=2)
    with pytest.raises(ConfigError, match=r"holds another study \(seeds: 1 there, 2 here\)"):
        prepare_dir(tmp_path, other, other.jobs())
    assert (tmp_path / "study.json").read_bytes() == before  # nothing overwritten


def test_directory_with_runs_but_no_study_json_is_refused(tmp_path):
    (tmp_path / "abc").mkdir()
    (tmp_path / "abc" / "config.json").write_text(RunConfig().to_json())
    with pytest.raises(ConfigError, match="no study.json"):
        prepare_dir(tmp_path, tiny_spec(), tiny_spec().jobs())
    assert not (tmp_path / "study.json").exists()


# ---------------------------------------------------------------------------------------------
# Claims
# ---------------------------------------------------------------------------------------------
def test_claim_is_exclusive_and_released(tmp_path):
    first = try_claim(tmp_path, "run1")
    assert isinstance(first, Claim)
    second = try_claim(tmp_path, "run1")
    assert isinstance(second, dict) and second["pid"] == os.getpid()  # held by a live process: busy
    first.release()
    third = try_claim(tmp_path, "run1")
    assert isinstance(third, Claim)
    third.release()
    assert not (tmp_path / CLAIMS / "run1").exists()


def test_stale_claims_are_taken_over(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    claims = tmp_path / CLAIMS
    claims.mkdir()
    import socket

    (claims / "a").write_text(json.dumps({"host": socket.gethostname(), "pid": dead.pid, "start": "", "token": "x"}))
    (claims / "b").write_text(json.dumps({"host": "elsewhere", "pid": 1, "start": "", "token": "y"}))
    os.utime(claims / "b", (time.time() - 3600, time.time() - 3600))  # no heartbeat for an hour
    (claims / "c").write_text(json.dumps({"host": "elsewhere", "pid": 1, "start": "", "token": "z"}))  # fresh heartbeat
    (claims / "d").write_text('{"host": "')  # half-written by a killed process
    for rid in "abd":
        c = try_claim(tmp_path, rid)
        assert isinstance(c, Claim), rid
        c.release()
    assert isinstance(try_claim(tmp_path, "c"), dict)


def test_a_run_held_by_another_invocation_is_waited_for(tmp_path):
    """Another live process holds one run: the study runs the others, waits, then takes over when the claim goes."""
    spec = tiny_spec()
    jobs = spec.jobs()
    prepare_dir(tmp_path, spec, jobs)
    held = try_claim(tmp_path, jobs[1].run_id())
    assert isinstance(held, Claim)
    lines: list[str] = []
    result: dict = {}
    t = threading.Thread(target=lambda: result.update(run_study(spec, tmp_path, Executor("local", threads=1), progress=False, log=lines.append, poll_s=0.2)))
    t.start()
    deadline = time.time() + 120
    while not any("waiting for 1 run" in m for m in lines) and time.time() < deadline:
        time.sleep(0.05)
    assert (tmp_path / jobs[0].run_id() / "final.json").exists()
    assert not (tmp_path / jobs[1].run_id()).exists()  # not touched while held
    held.release()
    t.join(120)
    assert result["ran"] == 2 and all((tmp_path / j.run_id() / "final.json").exists() for j in jobs)


# ---------------------------------------------------------------------------------------------
# Executors: the same layout whichever ran the runs
# ---------------------------------------------------------------------------------------------
def _layout(root: Path) -> dict[str, tuple[str, int]]:
    return {p.parent.name: (json.loads(p.read_text())["status"], json.loads(p.read_text())["steps"]) for p in root.glob("*/final.json")}


def test_local_executor_runs_skips_and_logs(tmp_path):
    spec = tiny_spec()
    lines: list[str] = []
    s = run_study(spec, tmp_path, Executor.parse("local", threads=1), progress=False, log=lines.append)
    assert s["ran"] == 2 and s["skipped"] == 0
    assert set(_layout(tmp_path)) == {j.run_id() for j in spec.jobs()}
    assert any(m.startswith("[2/2] 8gaussians") and "ETA" in m for m in lines)
    for rid in _layout(tmp_path):  # the log line shows the registry's metrics, in the registry's format
        line = next(m for m in lines if f"({rid}): ok" in m)
        metrics = json.loads((tmp_path / rid / "final.json").read_text())["metrics"]
        shown = [k for k in registry.shown() if metrics.get(k) is not None]
        assert shown and all(f"{k} {registry.fmt(k, metrics[k])}" in line for k in shown), line
        assert {"config.json", "metrics.csv", "final.json", "model.pt", "samples.png"} <= {p.name for p in (tmp_path / rid).iterdir()}
        assert not (tmp_path / rid / "checkpoint.pt").exists()
    before = _finals(tmp_path)
    again = run_study(spec, tmp_path, progress=False, log=lambda m: None)
    assert again["ran"] == 0 and again["skipped"] == 2 and _finals(tmp_path) == before
    assert [p.name for p in (tmp_path / CLAIMS).iterdir() if not p.name.startswith(".")] == []  # claims released


@pytest.mark.slow  # a subprocess or end-to-end run: nox -s slow (CI runs it)
def test_process_and_submitit_executors_give_the_same_layout(tmp_path):
    spec = tiny_spec()
    layouts = {}
    for name in ("process:2", "submitit-local:2"):
        out = tmp_path / name.replace(":", "_")
        run_study(spec, out, Executor.parse(name), progress=False, log=lambda m: None)
        layouts[name] = _layout(out)
        assert (out / "study.json").exists()
    assert layouts["process:2"] == layouts["submitit-local:2"] == {j.run_id(): ("ok", 4) for j in spec.jobs()}
    assert any((tmp_path / "submitit-local_2" / ".submitit").rglob("*_result.pkl"))  # really ran as submitit jobs


# ---------------------------------------------------------------------------------------------
# kill -9 and restart
# ---------------------------------------------------------------------------------------------
KILL_SET = ("width=16", "batch_size=32", "eval_samples=200", "steps=150", "eval_every=50", "checkpoint_every=10")


def _script(*args: str) -> list[str]:
    return [*STUDY, *args]


@pytest.mark.slow  # a real process killed or run end to end: `nox -s slow` (CI runs it)
@pytest.mark.parametrize(
    "how",
    [("--ensemble", "off"), ("--executor", "local")],
    ids=["separate-runs", "seed-ensembles"],  # local + auto: gan's two seeds finish as one ensemble, then nsgan's is killed
)
def test_kill_9_mid_study_then_restart_finishes_without_rerunning(tmp_path, how):
    out = tmp_path / "study"
    args = ["--preset", "toy", "--seeds", "2", "--variants", "gan,nsgan", "--datasets", "8gaussians", "--device", "cpu", "--out", str(out),
            "--no-report", "--quiet", "--threads", "1", *how]
    for s in KILL_SET:
        args += ["--set", s]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(_script(*args), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    victim = None
    deadline = time.time() + 180
    try:
        while time.time() < deadline and proc.poll() is None:
            finished = {p.parent.name for p in out.glob("*/final.json")}
            # a run with a checkpoint and at most the evaluations at steps 0 and 50: far from its end
            partial = [
                p.parent.name for p in out.glob("*/checkpoint.pt")
                if p.parent.name not in finished and len((p.parent / "metrics.csv").read_text().splitlines()) <= 3
            ]
            if finished and partial:
                victim = partial[0]
                os.killpg(proc.pid, signal.SIGKILL)  # the whole study, mid-run, no chance to clean up
                break
            time.sleep(0.02)
    finally:
        proc.wait(30)
    assert victim is not None, "the study ended before it could be killed mid-run: " + proc.stdout.read().decode()[-2000:]
    assert proc.returncode == -signal.SIGKILL
    before = _finals(out)
    assert (out / CLAIMS / victim).exists()  # the dead process's claim is left behind: stale
    stopped_at = len((out / victim / "metrics.csv").read_text().splitlines()) - 1  # evaluations written before the kill
    assert (out / victim / "checkpoint.pt").exists() and 1 <= stopped_at < 150 // 50 + 1  # killed mid-run, after a checkpoint

    rerun = subprocess.run(_script(*args), env=env, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert f"resuming {out / victim}" in rerun.stderr + rerun.stdout
    after = _finals(out)
    assert len(after) == 4
    for rid, stamp in before.items():
        assert after[rid] == stamp, f"finished run {rid} was run again"
    assert f"{len(after)}/4 runs finished ({4 - len(before)} run now)" in rerun.stdout
    rows = (out / victim / "metrics.csv").read_text().splitlines()
    assert [r.split(",")[0] for r in rows[1:]] == ["0", "50", "100", "150"]  # no duplicated or lost evaluations


# ---------------------------------------------------------------------------------------------
# The command line: bad input is one line, exit 2, nothing written
# ---------------------------------------------------------------------------------------------
def _main(argv, capsys):
    return ablation_main(argv, capsys)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--preset", "nope"], "error: preset: unknown 'nope'"),
        (["--executor", "threads:2"], "error: executor: unknown 'threads:2'"),
        (["--variants", "wgan-xx"], "error: variant: unknown 'wgan-xx'"),
        (["--seeds", "0"], "error: seeds: must be a positive integer"),
        (["--device", "cuda:7"], "error: device"),
    ],
)
def test_cli_bad_input_is_one_line_exit_2(tmp_path, capsys, argv, message):
    out = tmp_path / "out"
    rc, cap = _main(["--preset", "toy", "--out", str(out), *argv] if "--preset" not in argv else ["--out", str(out), *argv], capsys)
    assert rc == 2
    lines = cap.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(message), cap.err
    assert not out.exists()


def test_cli_refuses_another_study_and_overwrites_nothing(tmp_path, capsys):
    out = tmp_path / "out"
    spec = tiny_spec()
    prepare_dir(out, spec, spec.jobs())
    before = (out / "study.json").read_bytes()
    rc, cap = _main(["--preset", "toy", "--seeds", "3", "--device", "cpu", "--out", str(out)], capsys)
    assert rc == 2 and cap.err.count("\n") == 1 and "holds another study" in cap.err
    assert (out / "study.json").read_bytes() == before and sorted(p.name for p in out.iterdir()) == ["study.json"]


@pytest.mark.slow  # a real process killed or run end to end: `nox -s slow` (CI runs it)
def test_cli_subprocess_bad_input_has_no_traceback(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    r = subprocess.run(_script("--preset", "nope", "--out", str(tmp_path / "x")), capture_output=True, text=True, timeout=120, env=env)
    assert r.returncode == 2 and "Traceback" not in r.stderr and r.stderr.strip().count("\n") == 0
    r = subprocess.run(_script("--seeds", "abc"), capture_output=True, text=True, timeout=120, env=env)
    assert r.returncode == 2 and "Traceback" not in r.stderr and r.stderr.strip().count("\n") == 0


def test_cli_list_and_dry_run(capsys):
    rc, cap = _main(["--list"], capsys)
    assert rc == 0 and all(name in cap.out for name in PRESETS)
    rc, cap = _main(["--preset", "toy", "--dry-run", "--device", "cpu"], capsys)
    assert rc == 0 and "\n30 runs\n" in cap.out and cap.out.strip().endswith("CANNOT reach p < 0.05: its tests are descriptive")  # toy: 3 seeds


@pytest.mark.slow  # a subprocess or end-to-end run: nox -s slow (CI runs it)
def test_two_concurrent_invocations_share_the_work(tmp_path):
    """Two processes on the same directory: every run done once, no corrupted files."""
    out = tmp_path / "study"
    args = ["--preset", "toy", "--seeds", "2", "--variants", "gan,nsgan", "--datasets", "8gaussians", "--device", "cpu", "--out", str(out),
            "--quiet", "--threads", "1"]
    for s in TINY:
        args += ["--set", s]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen(_script(*args), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    ran = sum(int(o[0].split(" run now)")[0].rsplit("(", 1)[1]) for o in outs)
    assert ran == 4  # each run trained by exactly one of the two
    metrics = sorted(out.glob("*/metrics.csv"))
    assert len(metrics) == 4  # every run wrote its metrics, or the loop below would check fewer
    for p in metrics:
        assert [r.split(",")[0] for r in p.read_text().splitlines()[1:]] == ["0", "2", "4"]
