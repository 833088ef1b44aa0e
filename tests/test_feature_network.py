"""The offline feature network's name carries a digest of its trained weights, so FIDs on different weights never
share a label, and the report says when the runs of one study were scored with more than one network.

Why: the same seeded classifier training gives other weights on another CPU (results/stacked-mnist: held-out
accuracy 0.977 on one machine, 0.976 on another, for one cache key), so the cache key alone does not name a network.
"""

import json

import pandas as pd
import pytest
import torch

from wgan_core import RunConfig
from wgan_core.metrics.classifier import ClassifierSettings, cached_classifier, classifier_key, weights_digest
from wgan_core.report.load import load_study
from wgan_core.report.render import feature_network_notes

SETTINGS = ClassifierSettings(width=4, features=8, epochs=1)


def _state(bump: float = 0.0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return {"embed.weight": torch.randn(4, 3, generator=g) + bump, "bn.num_batches_tracked": torch.tensor(5)}


def _fit(state):
    return lambda: (state, {"test_accuracy": 0.9, "train_time_s": 0.0})


def _quiet(message: str) -> None:
    pass


def test_weights_digest_is_the_identity_of_the_tensors():
    a = _state()
    assert weights_digest(a) == weights_digest(dict(reversed(list(a.items()))))  # not the dict's order
    assert weights_digest(a) == weights_digest({k: v.clone() for k, v in a.items()})  # not the storage
    one_ulp = _state()
    one_ulp["embed.weight"][0, 0] = torch.nextafter(one_ulp["embed.weight"][0, 0], torch.tensor(10.0))
    assert weights_digest(one_ulp) != weights_digest(a)  # one float32 step in one weight
    assert weights_digest({**a, "embed.weight": a["embed.weight"].double()}) != weights_digest(a)  # the dtype counts
    assert weights_digest({**a, "embed.weight": a["embed.weight"].reshape(3, 4)}) != weights_digest(a)  # the shape counts


def test_one_recipe_trained_to_other_weights_gets_another_name(tmp_path, monkeypatch):
    """Two machines, each with its own cache folder, train one recipe to different weights: one key, two names."""
    monkeypatch.setenv("WGAN_CACHE_DIR", str(tmp_path / "a"))
    a = cached_classifier("fashion-mnist", "datahash", SETTINGS, _fit(_state()), log=_quiet)
    monkeypatch.setenv("WGAN_CACHE_DIR", str(tmp_path / "b"))
    b = cached_classifier("fashion-mnist", "datahash", SETTINGS, _fit(_state(1e-3)), log=_quiet)
    assert a.meta["key"] == b.meta["key"] and a.path.name == b.path.name and a.name != b.name
    assert a.name == f"classifier-fashion-mnist-{a.meta['key'][:8]}-w{weights_digest(_state())[:8]}"
    assert a.meta["weights"] == weights_digest(_state()) and json.loads(a.path.with_suffix(".json").read_text())["name"] == a.name
    monkeypatch.setenv("WGAN_CACHE_DIR", str(tmp_path / "a"))  # loaded again: the same name, nothing trained
    assert cached_classifier("fashion-mnist", "datahash", SETTINGS, lambda: pytest.fail("retrained"), log=_quiet).name == a.name


def test_a_cache_entry_from_before_the_digest_is_named_by_its_weights_file(tmp_path, monkeypatch):
    monkeypatch.setenv("WGAN_CACHE_DIR", str(tmp_path))
    key = classifier_key("fashion-mnist", "datahash", SETTINGS)
    path = tmp_path / "classifiers" / f"fashion-mnist-{key}.pt"
    path.parent.mkdir(parents=True)
    torch.save({"state_dict": _state(), "meta": {"key": key, "test_accuracy": 0.9, "train_time_s": 0.0}}, path)
    info = cached_classifier("fashion-mnist", "datahash", SETTINGS, lambda: pytest.fail("retrained"), log=_quiet)
    assert info.meta["weights"] == weights_digest(_state()) and info.name.endswith(f"-w{weights_digest(_state())[:8]}")


def _image_run(root, seed: int, network: str) -> None:
    config = RunConfig.preset("wgan-gp", "fashion-mnist", seed=seed, steps=100)
    d = root / config.run_id()
    d.mkdir(parents=True)
    (d / "config.json").write_text(config.to_json())
    pd.DataFrame([{"step": 0, "fid": 300.0}, {"step": 100, "fid": 100.0}]).to_csv(d / "metrics.csv", index=False)
    final = {"status": "ok", "steps": 100, "wall_time_s": 1.0, "variant": "wgan-gp", "metrics": {"fid": 100.0, "extractor": network}}
    (d / "final.json").write_text(json.dumps(final))


def test_the_report_names_the_network_and_warns_when_a_study_mixes_two(tmp_path):
    for seed in (0, 1):
        _image_run(tmp_path / "one", seed, "net-wa")
    runs = load_study(tmp_path / "one")[0]
    assert list(runs["feature_network"]) == ["net-wa", "net-wa"] and runs["extractor"].eq("classifier").all()
    assert feature_network_notes(runs) == ["Feature network of fashion-mnist: `net-wa`, for every run's final FID/KID."]
    for seed, net in ((0, "net-wa"), (1, "net-wb"), (2, "net-wa")):
        _image_run(tmp_path / "mixed", seed, net)
    (note,) = feature_network_notes(load_study(tmp_path / "mixed")[0])
    assert note.startswith("WARNING: the runs of fashion-mnist were scored with 2 different feature networks (")
    assert "`net-wa`: 2 run(s), `net-wb`: 1 run(s)" in note
    assert feature_network_notes(pd.DataFrame({"dataset": ["8gaussians"], "w1": [0.1]})) == []  # toy runs: no network
