"""RunConfig: presets, JSON round trip, hashing; the CLI's one-line errors with exit code 2 and an untouched DIR."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from wgan_core import VARIANTS, RunConfig
from wgan_core.cli import main
from wgan_core.config import ConfigError

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("variant", list(VARIANTS))
@pytest.mark.parametrize("dataset", ["8gaussians", "fashion-mnist"])
def test_presets_round_trip_through_json(variant, dataset):
    c = RunConfig.preset(variant, dataset)
    assert RunConfig.from_json(c.to_json()) == c
    with pytest.raises(ConfigError, match="expected a JSON object"):
        RunConfig.from_json("[1, 2]")
    assert c.run_id() == RunConfig.from_json(c.to_json()).run_id()
    assert len(c.run_id()) == 12


def test_preset_defaults_follow_their_sources():
    gp_img, gp_toy = RunConfig.preset("wgan-gp", "fashion-mnist"), RunConfig.preset("wgan-gp", "8gaussians")
    assert (gp_img.penalty_weight, gp_img.lr_d, gp_img.beta1, gp_img.beta2, gp_img.n_critic) == (10.0, 1e-4, 0.0, 0.9, 5)
    assert (gp_toy.penalty_weight, gp_toy.beta1, gp_toy.batch_size, gp_toy.width) == (0.1, 0.5, 256, 512)
    clip = RunConfig.preset("wgan-clip", "fashion-mnist")
    assert (clip.optimizer, clip.lr_d, clip.clip_value, clip.n_critic) == ("rmsprop", 5e-5, 0.01, 5)
    gan = RunConfig.preset("gan", "fashion-mnist")
    assert (gan.loss, gan.constraint, gan.lr_d, gan.beta2, gan.n_critic) == ("minimax", "none", 2e-4, 0.999, 1)
    assert RunConfig.preset("wgan-lp", "8gaussians").constraint == "lp"


def test_a_cross_is_expressible_and_labelled():
    c = RunConfig.preset("nsgan", "8gaussians", constraint="gp", penalty_weight=1.0)
    assert (c.loss, c.constraint, c.label) == ("nonsaturating", "gp", "nonsaturating+gp")
    assert c.run_id() != RunConfig.preset("nsgan", "8gaussians").run_id()


@pytest.mark.parametrize(
    "overrides, message",
    [
        (dict(loss="hinge2"), "loss: unknown 'hinge2'"),
        (dict(constraint="spectral"), "constraint: unknown 'spectral'"),
        (dict(steps=0), "steps: must be a positive integer"),
        (dict(lr_d=0.0), "lr_d: must be a positive finite number"),
        (dict(lr_g=-1e-4), "lr_g: must be a positive finite number"),
        (dict(batch_size=0), "batch_size: must be a positive integer"),
        (dict(n_critic=0), "n_critic: must be a positive integer"),
        (dict(penalty_weight=-1.0), "penalty_weight: lambda must be >= 0"),
        (dict(clip_value=0.0), "clip_value: c must be > 0"),
        (dict(steps="ten"), "steps: expected int"),
        (dict(device="cudaX"), "device: unknown 'cudaX'"),
        (dict(device="gpu"), "device: unknown 'gpu'"),
    ],
)
def test_bad_fields_name_the_field(overrides, message):
    with pytest.raises(ConfigError, match=message):
        RunConfig.preset("wgan-gp", "8gaussians", **overrides)


def test_unknown_variant_and_dataset():
    with pytest.raises(ConfigError, match="variant: unknown 'wgan'; allowed: gan, nsgan, wgan-clip, wgan-gp, wgan-lp"):
        RunConfig.preset("wgan", "8gaussians")
    with pytest.raises(ConfigError, match="dataset: unknown 'imagenet'"):
        RunConfig.preset("gan", "imagenet")


def _cli(tmp_path, *args):
    """Run the CLI in a subprocess (a real exit code and real stderr)."""
    return subprocess.run([sys.executable, "-m", "wgan_core", *args], cwd=ROOT, capture_output=True, text=True, timeout=120)


def _cli_inprocess(capsys, *args):
    """Run the CLI's main() in this process: (exit code, stderr). Same code path as `python -m wgan_core`."""
    try:
        code = main(list(args))
    except SystemExit as e:  # argparse errors
        code = e.code
    return code, capsys.readouterr().err


BAD_COMMANDS = {
    "variant": (["--variant", "wgan"], "variant: unknown 'wgan'"),
    "dataset": (["--dataset", "imagenet"], "dataset: unknown 'imagenet'"),
    "loss": (["--set", "loss=hinge2"], "loss: unknown 'hinge2'"),
    "constraint": (["--set", "constraint=box"], "constraint: unknown 'box'"),
    "steps": (["--steps", "0"], "steps: must be a positive integer"),
    "lr": (["--set", "lr_d=-1"], "lr_d: must be a positive finite number"),
    "batch": (["--set", "batch_size=0"], "batch_size: must be a positive integer"),
    "n_critic": (["--set", "n_critic=0"], "n_critic: must be a positive integer"),
    "lambda": (["--set", "penalty_weight=-0.5"], "penalty_weight: lambda must be >= 0"),
    "clip": (["--set", "clip_value=0"], "clip_value: c must be > 0"),
    "malformed_set": (["--set", "lr_d"], "--set: expected key=value"),
    "unknown_set": (["--set", "learning_rate=1"], "--set: unknown field 'learning_rate'"),
    "no_cuda": (["--device", "cuda:7"], "device: 'cuda:7'"),
    "bad_type": (["--set", "width=wide"], "width: expected int"),
    "missing_data": (["--dataset", "fashion-mnist", "--set", "data_dir=/nonexistent"], "apt-get install dataset-fashion-mnist"),
    "batch_over_data": (
        ["--dataset", "fashion-mnist", "--set", "data_limit=10", "--set", "batch_size=64"],
        "batch_size: 64 exceeds the 10 training images",
    ),
    "unreadable_dir": (["--dataset", "folder:/nonexistent/images", "--set", "extractor=none"], "does not exist or is not a directory"),
    "folder_without_labels": (["--dataset", "folder:/tmp"], "extractor: a folder: data set has no labels"),
    "unknown_loss": (["--set", "loss=hinge2"], "loss: unknown 'hinge2'; allowed: minimax, nonsaturating, wasserstein"),
    "unknown_constraint": (["--set", "constraint=r7"], "constraint: unknown 'r7'; allowed: none, clip, gp, lp"),
    "unimportable_plugin": (["--set", "plugins=no_such_module_for_wgan"], "plugins: cannot import 'no_such_module_for_wgan'"),
    "missing_plugin_file": (["--set", "plugins=/nonexistent/objectives.py"], "plugins: no file '/nonexistent/objectives.py'"),
}


@pytest.mark.parametrize("case", list(BAD_COMMANDS))
def test_cli_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path, capsys, case):
    args, message = BAD_COMMANDS[case]
    if case == "no_cuda" and torch.cuda.device_count() > 7:
        pytest.skip("this machine has a cuda:7")
    if case == "batch_over_data":
        from .conftest import HAVE_FASHION

        if not HAVE_FASHION:
            pytest.skip("Fashion-MNIST not installed")
    out = tmp_path / "run"
    code, err = _cli_inprocess(capsys, "train", "--out", str(out), "--steps", "1", *args)
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], err
    assert not out.exists()


@pytest.mark.slow  # a real process killed or run end to end: `nox -s slow` (CI runs it)
@pytest.mark.parametrize("args", [["--set", "lr_d"], ["--variant", "wgan"], ["--bogus-flag"]])
def test_cli_subprocess_exit_code_and_no_traceback(tmp_path, args):
    r = _cli(tmp_path, "train", "--out", str(tmp_path / "run"), *args)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists()


def test_cli_resume_with_another_config_is_refused_and_keeps_the_run(tmp_path, capsys):
    out = tmp_path / "run"
    common = ["train", "--out", str(out), "--steps", "2", "--set", "width=16", "--set", "eval_samples=100", "--quiet"]
    assert _cli_inprocess(capsys, *common)[0] == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    code, err = _cli_inprocess(capsys, *common, "--set", "n_critic=2")
    assert code == 2 and "differing fields: n_critic (5 there, 2 here)" in err
    assert len(err.strip().splitlines()) == 1
    assert before == {p.name: p.read_bytes() for p in out.iterdir()}


def test_cli_train_and_variants(tmp_path, capsys):
    assert main(["variants"]) == 0
    listing = capsys.readouterr().out
    assert all(name in listing for name in VARIANTS)
    out = tmp_path / "run"
    assert main(["train", "--variant", "nsgan", "--dataset", "swissroll", "--steps", "2", "--out", str(out),
                 "--set", "width=16", "--set", "eval_samples=100", "--quiet"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["status"] == "ok" and "w1" in summary and "modes" not in summary  # swissroll has no modes
    assert RunConfig.from_json(out / "config.json").label == "nsgan"


def test_corrupt_data_files_are_a_one_line_error(tmp_path, capsys):
    for stem in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"):
        (tmp_path / stem).write_bytes(b"this is not gzip")
    out = tmp_path / "run"
    code, err = _cli_inprocess(capsys, "train", "--dataset", "fashion-mnist", "--out", str(out), "--set", f"data_dir={tmp_path}")
    assert code == 2 and err.count("\n") == 1 and "data_dir: cannot read" in err
    assert not out.exists()
