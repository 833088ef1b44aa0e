"""Stacked MNIST and PacGAN's 2-D mixtures through the suite: a run's mode counts and reference, the metrics
command, the published table and the presets' settings."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pandas as pd
import pytest

from wgan_core import RunConfig
from wgan_core.cli import main
from wgan_core.data.stacked_mnist import load_stacked
from wgan_core.report.published import PUBLISHED, mode_tables
from wgan_core.study.presets import PRESETS
from wgan_core.training import train


@pytest.mark.slow  # a subprocess or end-to-end run: nox -s slow (CI runs it)
def test_a_stacked_run_counts_modes_during_and_after_training_beside_the_real_reference(tmp_path):
    c = RunConfig.preset("wgan-gp", "stacked-mnist", steps=2, width=8, z_dim=16, batch_size=16, eval_every=2, eval_samples=300,
                         final_eval_samples=300, mode_samples=1500, device="cpu")  # fmt: skip
    final = train(c, tmp_path / "run", progress=False, log=lambda m: None)
    m = final["metrics"]
    assert final["status"] == "ok" and m["mode_samples"] == 1500
    assert 1 <= m["modes"] <= 1000 and m["reverse_kl"] <= math.log(1000) + 1e-9
    # 1,500 real stacks: about 1000 (1 - e^-1.5) = 777 distinct modes, read by a classifier of ~96% per digit
    assert 650 <= m["modes_real"] <= 850 and m["reverse_kl_real"] < 0.6
    assert m["modes"] < m["modes_real"]  # an untrained generator covers fewer modes than real data
    assert m["extractor"].startswith("stacked-classifier-mnist-digits") and m["class_kl"] is None
    row = next(csv.DictReader(open(tmp_path / "run" / "metrics.csv")))
    assert 1 <= int(row["modes"]) <= 300  # counted on the evaluation's 300 fakes


def test_metrics_command_counts_the_modes_of_real_stacks_and_refuses_one_channel(tmp_path, capsys):
    x = load_stacked("test", n=2000)[0]
    np.save(tmp_path / "real.npy", x.numpy())
    assert main(["metrics", "--dataset", "stacked-mnist", "--samples", str(tmp_path / "real.npy"), "--no-prc"]) == 0
    m = json.loads(capsys.readouterr().out)
    assert 780 <= m["modes"] <= 900  # 1000 (1 - e^-2) = 865 expected distinct modes in 2,000 uniform draws
    np.save(tmp_path / "gray.npy", x[:, :1].numpy())
    assert main(["metrics", "--dataset", "stacked-mnist", "--samples", str(tmp_path / "gray.npy")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "channel" in err and "Traceback" not in err


def test_the_published_table_stands_beside_our_cells_and_the_reference():
    summary = pd.DataFrame([
        {"dataset": "stacked-mnist", "cell": "gan", "runs": 8, "failed": 1, "modes_mean": 120.0, "modes_lo": 90.0, "modes_hi": 150.0,
         "modes_interval": "95% BCa bootstrap CI", "reverse_kl_mean": 3.0, "reverse_kl_lo": 2.5, "reverse_kl_hi": 3.5},
    ])  # fmt: skip
    runs = pd.DataFrame([{"dataset": "stacked-mnist", "modes_real": 999.0, "reverse_kl_real": 0.02}])
    ((heading, table, note),) = mode_tables(summary, runs)
    assert heading.startswith("stacked-mnist")
    assert list(table["method"][:2]) == ["gan", "real data (reference)"]
    assert len(table) == 2 + len(PUBLISHED["stacked-mnist"]) and table["source"][2:].str.startswith("published: ").all()
    assert table.iloc[0]["modes (mean [95% BCa bootstrap CI])"] == "120 [90, 150]"
    assert table.iloc[2]["modes (mean [95% BCa bootstrap CI])"] == "99"  # VEEGAN Table 2 (cited by PacGAN), DCGAN
    pacgan = table[table["source"] == "published: Lin et al. 2018 (PacGAN) Table 2"].set_index("method")
    assert pacgan.loc["DCGAN", "modes (mean [95% BCa bootstrap CI])"] == "78.9" and "6.46" in pacgan.loc["DCGAN", "setting"]
    veegan = "published: Srivastava et al. 2017 (VEEGAN) Table 2, as Lin et al. 2018 (PacGAN) Table 2 cites it"
    assert table[table["method"] == "VEEGAN"]["source"].item() == veegan


def test_the_presets_follow_the_papers_settings():
    stacked = PRESETS["stacked"].build(PRESETS["stacked"].seeds, "cpu")
    assert len(stacked) == 5 * 10 and {c.dataset for c in stacked} == {"stacked-mnist"}  # 10 seeds: its headline family can reach 0.05
    paper = PRESETS["stacked-paper"].build(1, "cpu")
    assert {(c.steps * c.batch_size, c.z_dim, c.width) for c in paper} == {(50 * 128_000, 100, 64)}  # VEEGAN: 50 epochs of 128k
    pac = {(c.dataset, c.variant): c for c in PRESETS["pacgan-2d"].build(1, "cpu")}
    g = pac[("2d-grid", "nsgan")]
    assert (g.arch, g.batch_size, g.steps, g.eval_samples) == ("pacgan", 100, 400 * 100_000 // 100, 2500)
    assert (g.optimizer, g.lr_d, g.beta1, g.beta2, g.n_critic, g.init) == ("adam", 1e-4, 0.8, 0.999, 1, "pacgan")


@pytest.mark.slow  # a subprocess or end-to-end run: nox -s slow (CI runs it)
def test_pacgan_data_and_nets_train_with_the_veegan_mode_statistics(tmp_path):
    c = RunConfig.preset("nsgan", "2d-ring", steps=4, eval_every=4, eval_samples=2500, device="cpu")
    final = train(c, tmp_path / "run", progress=False, log=lambda m: None)
    m = final["metrics"]
    assert 0 <= m["modes_2500"] <= 8 and 0 <= m["high_quality_2500"] <= 1
    assert final["status"] == "ok" and (c.arch, c.width, c.batch_size) == ("pacgan", 400, 100)
