"""benchmarks/gpu.py (`nox -s gpu`) on a CPU: it refuses at once in one line, its dry run prints the whole plan, a step over its
budget is stopped with its children while the run goes on, and its benchmark steps are `nox -s benchmark`'s."""

import csv
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
import gpu  # noqa: E402

from wgan_core import VARIANTS  # noqa: E402

NO_CUDA = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "PYTHONPATH": str(ROOT)}


def test_refuses_without_cuda_in_one_line_before_writing_anything(tmp_path):
    start = time.monotonic()
    p = subprocess.run([sys.executable, "benchmarks/gpu.py", "--out", str(tmp_path / "out")], cwd=ROOT, env=NO_CUDA,
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 2 and p.stdout == ""
    assert p.stderr.count("\n") == 1 and p.stderr.startswith("gpu.py: no CUDA device (torch ")
    assert time.monotonic() - start < 30 and not (tmp_path / "out").exists()


def _nox() -> str | None:
    found = shutil.which("nox") or str(Path.home() / ".cache" / "wgan-suite" / "nox" / "bin" / "nox")
    return found if Path(found).exists() else None


@pytest.mark.skipif(_nox() is None or not (Path(os.environ.get("WGAN_VENV", Path.home() / ".cache" / "wgan-suite" / "venv"))
                                           / ".wgan-requirements").exists(), reason="needs nox and the filled shared environment")
def test_nox_gpu_session_refuses_without_cuda():
    p = subprocess.run([_nox(), "-f", str(ROOT / "noxfile.py"), "-s", "gpu"], cwd=ROOT, env=NO_CUDA, capture_output=True, text=True,
                       timeout=120)
    out = p.stdout + p.stderr
    assert p.returncode != 0 and out.count("gpu.py: no CUDA device") == 1 and "Traceback" not in out


def test_dry_run_prints_every_step_and_the_matrix_within_the_budget(tmp_path, capsys):
    assert gpu.main(["--dry-run", "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    rows = {m[1]: (float(m[2]), int(m[3]), m[4]) for m in re.finditer(r"^  (\S+) +(\d+) +(\d+)  (.*)$", out, re.M)}
    names = [name for name, _ in gpu.matrix(tuple(VARIANTS))]
    assert list(rows) == ["cuda-tests", "compare-same", "compare", *names[:2], "study", "benchmark-baseline", "benchmark-compare", *names[2:], "history"]
    total = sum(est for est, _, _ in rows.values())
    assert total <= gpu.TOTAL_BUDGET_S and f"estimated {total:.0f} s of the 540 s budget" in out
    assert all(est <= budget for est, budget, _ in rows.values())
    # the core: the five at DCGAN 28 in fp32 (beside the textbook) and bf16, the MLP, ensembles of 4 and 16
    core = dict(gpu.matrix(tuple(VARIANTS)))
    assert core["throughput-dcgan28-fp32"].variants == core["throughput-dcgan28-bf16"].variants == gpu.FIVE
    assert core["throughput-dcgan28-fp32"].vs_textbook and core["throughput-dcgan28-bf16"].amp == "bf16"
    assert {c.ensemble for c in core.values()} == {0, 4, 16}
    # extended adds every other variant at DCGAN 28, DCGAN 64 and 32, S = 64 and compile
    full = dict(gpu.matrix(tuple(VARIANTS), extended=True))
    assert set(full["throughput-zoo-dcgan28-fp32"].variants) | set(gpu.FIVE) == set(VARIANTS)
    for name in ("throughput-dcgan32-fp32", "throughput-dcgan64-fp32", "throughput-dcgan64-bf16"):
        assert full[name].variants == gpu.FIVE
    assert {c.ensemble for c in full.values()} == {0, 4, 16, 64} and any(c.compile for c in full.values())
    for name, (_, _, what) in rows.items():  # each throughput step says which cells it measures
        if name.startswith("throughput-"):
            assert what == f"throughput {core[name].label}: {', '.join(core[name].variants)}"
    assert "--ensemble 16" in out and "--amp bf16" in out and "--compare 'HEAD~1'" in out
    assert not (tmp_path / "out").exists()  # a dry run writes nothing
    assert gpu.main(["--dry-run", "--extended", "--out", str(tmp_path / "out")]) == 0
    assert "--compile" in capsys.readouterr().out


def test_dry_run_refuses_a_cell_throughput_would_refuse(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(gpu, "matrix", lambda variants, extended=False: [("throughput-bad", gpu.Cell(("wgan-gp",), compile=True, ensemble=4))])
    assert gpu.main(["--dry-run", "--out", str(tmp_path)]) == 2
    assert "throughput-bad: wgan-gp: --ensemble: compile: ensembles run eager" in capsys.readouterr().out


CHILD_SLEEPS = ("import subprocess, sys, time; c = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); "
                "open(sys.argv[1], 'w').write(str(c.pid)); time.sleep(60)")


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except FileNotFoundError:
        return False
    return state not in ("Z", "X")  # a zombie has ended; only its exit status waits to be collected


def test_a_step_over_its_budget_is_stopped_with_its_children_and_the_run_goes_on(tmp_path):
    pid_file = tmp_path / "child.pid"
    sleepy = gpu.Step("sleepy", "sleeps past its budget", (sys.executable, "-c", CHILD_SLEEPS, str(pid_file)), 1, budget=2)
    quick = gpu.Step("quick", "prints", (sys.executable, "-c", "print('done')"), 1, budget=5)
    late = gpu.Step("late", "would not fit", (sys.executable, "-c", "print('never')"), 1, budget=20)
    final = gpu.Step("final", "held back for", (sys.executable, "-c", "print('last')"), 1, budget=5, final=True)
    seen = []
    start = time.monotonic()
    outcomes = gpu.run_all([sleepy, quick, late, final], tmp_path / "logs", budget_s=14, env=dict(os.environ),
                           on_progress=lambda done: seen.append(len(done)))
    assert time.monotonic() - start < 20
    assert [o.status for o in outcomes[:2]] == ["stopped at its 2 s budget", "ok"]
    assert 1.9 < outcomes[0].seconds < 10 and not _alive(int(pid_file.read_text()))  # the grandchild went with it
    assert (tmp_path / "logs" / "quick.log").read_text().endswith("done\n")
    # 14 s in all, 5 held back for the final step: after ~2 s, 'quick' gets its 5 s, 'late' (budget 20) gets under
    # gpu.MIN_START_S and is not started; 'final' runs anyway
    assert outcomes[2].status.startswith("not started (out of time") and outcomes[3].ok
    assert seen == [1, 2, 3, 4]  # the summary is rewritten after every step
    md = gpu.summary(outcomes[:2], [sleepy, quick, late], ["# test"], [], tmp_path / "logs", tmp_path / "none.log")
    assert "| sleepy | sleeps past its budget | stopped at its 2 s budget |" in md and "| late | would not fit | pending |" in md


def test_the_benchmark_steps_run_what_nox_s_benchmark_runs():
    """gpu.py cannot call nox where nox is missing (a bare GPU machine): it repeats the session's pytest arguments, which must not drift."""
    noxfile = (ROOT / "noxfile.py").read_text()
    body = noxfile[noxfile.index("def benchmark("):noxfile.index("def throughput(")]
    for arg in gpu.benchmark_args(Path("/tmp/storage"), compare=True):
        if arg.startswith("--benchmark-storage="):
            assert "--benchmark-storage=file://" in body
        elif arg not in ("-m", "cuda"):  # the GPU run times only the CUDA cases (the cuda marker)
            assert f'"{arg}"' in body, arg
    assert gpu.slug("NVIDIA H200") == "nvidia-h200" and gpu.slug("NVIDIA GeForce RTX 4090") == "nvidia-geforce-rtx-4090"


@pytest.mark.slow  # a subprocess or end-to-end run: nox -s slow (CI runs it)
def test_a_run_writes_its_summary_logs_and_archive(tmp_path, monkeypatch, capsys):
    """main() end to end on the CPU, with a stand-in GPU and a short plan: one real throughput step, one that fails, the history."""
    import tarfile

    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda index=0: "Stand-in GPU 9000")
    monkeypatch.setattr(gpu, "environment_lines", lambda tag, commit: [f"# stand-in {tag} {commit}"])

    def short_plan(python, out, tag, variants, study_dir, storage, compare_base, compare_rounds, extended, rehearse):
        csv_path = out / f"{tag}.csv"
        tiny = ("--variants", "gan", "--arch", "mlp", "--width", "8", "--batch", "8", "--warmup", "0", "--iters", "1",
                "--device", "cpu", "--no-plot", "--out", str(csv_path))
        return [gpu.Step("throughput-tiny", "a tiny MLP on the CPU", (python, "benchmarks/throughput.py", *tiny), 5),
                gpu.Step("broken", "exits 3", (python, "-c", "print('ValueError: a | b'); raise SystemExit(3)"), 1),
                gpu.Step("history", "the check", (python, "benchmarks/throughput.py", "--check-history", str(csv_path), "--no-plot"), 5,
                         final=True)]

    monkeypatch.setattr(gpu, "plan", short_plan)
    out, archive = tmp_path / "out", tmp_path / "evidence.tar.gz"
    assert gpu.main(["--out", str(out), "--archive", str(archive)]) == 1  # one step failed
    md = (out / "stand-in-gpu-9000.md").read_text()
    assert md.startswith("# stand-in stand-in-gpu-9000 ")
    assert "| throughput-tiny | a tiny MLP on the CPU | ok |" in md and "| broken | exits 3 | failed (exit 3); ValueError: a / b |" in md
    assert "## Throughput: rows appended by this run (1)" in md and "| gan | mlp w8 b8 fp32 |" in md
    assert "no configuration's newest commit is a confirmed regression" in md
    with tarfile.open(archive) as tar:
        names = tar.getnames()
    assert {"stand-in-gpu-9000.csv", "stand-in-gpu-9000.md", "stand-in-gpu-9000/history.log"} <= set(names)
    assert "throughput-tiny: ok" in capsys.readouterr().out


def test_throughput_keep_going_appends_the_variants_that_worked(tmp_path, monkeypatch, capsys):
    """The matrix steps pass --keep-going: one variant failing on the GPU must not cost the rows of the others."""


    import throughput

    def fake_run_isolated(variant, settings):
        if variant == "nsgan":
            return {"error": "RuntimeError: boom"}
        row = dict.fromkeys(throughput.COLUMNS, "")
        row.update(variant=variant, device="cpu", ms_per_gen_iter=10.0, ms_per_critic_step=2.0, ms_penalty=0.0, images_per_s=100.0)
        return row

    monkeypatch.setattr(throughput, "run_isolated", fake_run_isolated)
    args = ["--variants", "gan,nsgan,wgan-gp", "--arch", "mlp", "--device", "cpu", "--no-plot", "--out", str(tmp_path / "a.csv")]
    assert throughput.main(args) == 2 and not (tmp_path / "a.csv").exists()  # without it: the first failure ends the run
    assert capsys.readouterr().err == "throughput.py: error: nsgan: RuntimeError: boom\n"
    assert throughput.main([*args, "--keep-going"]) == 1
    assert capsys.readouterr().err == "throughput.py: error: nsgan: RuntimeError: boom\n"
    assert [r["variant"] for r in csv.DictReader((tmp_path / "a.csv").open())] == ["gan", "wgan-gp"]
    assert all("--keep-going" in cell.args(tmp_path / "x.csv") for _, cell in gpu.matrix(tuple(VARIANTS)))


@pytest.mark.slow  # the whole GPU plan on the CPU: nox -s slow (CI runs it)
def test_the_rehearsal_runs_every_step_of_the_gpu_plan_on_the_cpu(tmp_path, capsys):
    # how fast is a benchmark's question, not a test's: within its budget, every step must be ok
    assert gpu.main(["--rehearse", "--out", str(tmp_path)]) == 0  # every step ok: a missing step would fail it
    md = (tmp_path / "rehearsal.md").read_text()
    steps = [line.split(" | ") for line in md.splitlines() if line.startswith("| ") and " | ok" in line]
    names = [name for name, _ in gpu.matrix(tuple(VARIANTS))]
    assert [s[0][2:] for s in steps] == ["cuda-tests", "compare-same", "compare", *names[:2], "study", "benchmark-baseline",
                                         "benchmark-compare", *names[2:], "history"]
    # each throughput step appended its row as it measured: the CSV held one more row right after each of them
    counts = [int(re.search(r"(\d+) rows in rehearsal.csv", s[2]).group(1)) for s in steps if s[0][2:].startswith("throughput-")]
    assert counts == list(range(1, len(names) + 1))
    # both gate steps recorded their verdicts, the same-tree one first
    with (tmp_path / "compare.csv").open() as f:
        records = list(csv.DictReader(f))
    assert len(records) == 2 and records[0]["base"] == records[0]["head"] and int(records[0]["rounds"]) == 8
    assert f"{len(steps)} of {len(steps)} steps ok" in capsys.readouterr().out


def test_a_gpu_verdict_is_read_only_beside_a_passing_same_tree_comparison():
    same_pass = "wgan-gp dcgan28 w64 b64 nc5 fp32 1t  pass (no change): a slowdown beyond 3% is excluded"
    same_open = "wgan-gp dcgan28 w64 b64 nc5 fp32 1t  inconclusive: B may be up to 7.6% slower (...)"
    said = "wgan-gp dcgan28 w64 b64 nc5 fp32 1t  slower: B is more than 3% slower (4.1% at least)"
    assert gpu.beside_same_tree(said, same_pass) == said
    assert gpu.beside_same_tree(said, same_open).startswith("not a verdict: the same-tree comparison on this device did not pass")
    assert gpu.beside_same_tree(said, "").startswith("not a verdict") and said in gpu.beside_same_tree(said, "")
