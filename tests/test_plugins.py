"""Losses and constraints as plug-ins: registration from user code, the README's example, plug-in files in worker processes."""

import json
import re
import textwrap
from pathlib import Path

import pytest
import torch

import wgan_core
from wgan_core import ConfigError, RunConfig, Trainer
from wgan_core.losses import LOSSES
from wgan_core.penalties import CONSTRAINTS
from wgan_core.study.presets import FASHION_BUDGET
from wgan_core.training.step import Stepper

README = Path(__file__).resolve().parents[1] / "README.md"


@pytest.fixture
def registries():
    """Restore the registries after a test that registers entries, so other tests see only the built-in ones."""
    losses, constraints = dict(LOSSES), dict(CONSTRAINTS)
    yield
    LOSSES.clear(), LOSSES.update(losses)
    CONSTRAINTS.clear(), CONSTRAINTS.update(constraints)


def _readme_example() -> str:
    section = README.read_text().split("### Your own objective, without forking", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_readme_registration_example_runs(tmp_path, monkeypatch, registries):
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    exec(compile(_readme_example(), "README.md", "exec"), scope)
    final = scope["final"]
    assert final["status"] == "ok" and final["steps"] == 20
    cfg = json.loads((tmp_path / "runs" / "my-hinge-r1" / "config.json").read_text())
    assert (cfg["loss"], cfg["constraint"]) == ("my-hinge", "my-r1")
    # the penalty column of metrics.csv is the registered penalty's value: > 0 for an R1 penalty on a trained critic
    rows = (tmp_path / "runs" / "my-hinge-r1" / "metrics.csv").read_text().splitlines()
    header = rows[0].split(",")
    assert float(rows[-1].split(",")[header.index("penalty")]) > 0


def test_registered_loss_is_what_the_trainer_minimises(registries):
    """A registered hinge loss: the trainer's critic loss on given scores is the hand-computed hinge value."""
    wgan_core.register_loss(
        "t-hinge", wgan_core.Loss(critic=lambda r, f: torch.relu(1 - r).mean() + torch.relu(1 + f).mean(), generator=lambda f, r=None: -f.mean(), source="test")
    )
    from wgan_core.losses import critic_loss, generator_loss

    real, fake = torch.tensor([2.0, 0.5, -1.0]), torch.tensor([-2.0, 0.0, 1.0])
    # relu(1 - real) = [0, 0.5, 2] -> mean 5/6; relu(1 + fake) = [0, 1, 2] -> mean 1
    torch.testing.assert_close(critic_loss("t-hinge", real, fake), torch.tensor(5 / 6 + 1.0))
    torch.testing.assert_close(generator_loss("t-hinge", fake), torch.tensor(1 / 3))
    config = RunConfig.preset("wgan-gp", "8gaussians", loss="t-hinge", constraint="none", width=16, batch_size=16, eval_samples=100, device="cpu")
    t = Stepper([Trainer(config)])
    real, z = t.critic_inputs()
    real, fake = real[:16], t.fakes(z[:16])
    with torch.no_grad():
        s_real, s_fake = t.critic(real), t.critic(fake)  # the scores the critic step will see
    want = torch.relu(1 - s_real).mean() + torch.relu(1 + s_fake).mean()  # the hinge, by hand, not through the registry
    loss, _, _ = t.critic_step(real, fake)  # (): a run alone drops the member axis
    torch.testing.assert_close(loss, want)  # the trainer's critic loss is the registered hinge


def test_register_rejects_bad_entries(registries):
    with pytest.raises(ConfigError, match="source"):
        wgan_core.register_loss("x", wgan_core.Loss(critic=lambda r, f: r.mean(), generator=lambda f, r=None: f.mean(), source=""))
    with pytest.raises(ConfigError, match="callable"):
        wgan_core.register_constraint("y", wgan_core.Constraint(terms="not a function", source="test"))
    with pytest.raises(ConfigError, match="without commas"):
        wgan_core.register_loss("a,b", wgan_core.Loss(critic=lambda r, f: r.mean(), generator=lambda f, r=None: f.mean(), source="test"))
    with pytest.raises(ConfigError, match=r"^register_loss: 'z' needs a Loss\(critic=..., generator=..., source=...\), got function$"):
        wgan_core.register_loss("z", lambda r, f: r.mean())


def test_double_backward_defaults_to_having_a_penalty(registries):
    Constraint = wgan_core.Constraint
    assert wgan_core.register_constraint("p", Constraint(terms=lambda c, r, f, g=None: r.sum() * 0, per_sample=False, source="test")).double_backward
    assert not wgan_core.register_constraint("q", Constraint(after_critic_step=lambda c, cfg: None, source="test")).double_backward
    assert not wgan_core.register_constraint("w", Constraint(terms=lambda c, r, f, g=None: r * 0, double_backward=False, source="test")).double_backward


PLUGIN = '''
import torch.nn.functional as F
import wgan_core

wgan_core.register_loss("plugin-hinge", wgan_core.Loss(
    critic=lambda real, fake: F.relu(1 - real).mean() + F.relu(1 + fake).mean(),
    generator=lambda fake, real=None: -fake.mean(),
    source="Lim & Ye 2017 (test plug-in)",
))
'''


@pytest.mark.slow  # a subprocess or end-to-end run: nox -s slow (CI runs it)
def test_plugin_file_runs_in_fresh_worker_processes(tmp_path, registries):
    """A loss registered by a plug-in file trains under process:1, whose spawned worker has never imported it."""
    from wgan_core.study import Executor, StudySpec, run_study

    plugin = tmp_path / "my_objectives.py"
    plugin.write_text(textwrap.dedent(PLUGIN))
    over = ("width=16", "batch_size=32", "eval_samples=200", "steps=2", "eval_every=2", f"plugins={plugin}", "loss=plugin-hinge")
    spec = StudySpec("toy", 1, "cpu", ("wgan-gp",), ("8gaussians",), over)
    summary = run_study(spec, tmp_path / "study", Executor.parse("process:1"), progress=False, log=lambda m: None)
    assert summary["ran"] == 1 and not summary["failed"]
    (run,) = [p for p in (tmp_path / "study").iterdir() if (p / "final.json").exists()]
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["loss"] == "plugin-hinge" and cfg["plugins"] == str(plugin)


def test_plugins_field_is_part_of_the_identity_but_old_run_ids_are_unchanged():
    base = RunConfig.preset("wgan-gp", "8gaussians")
    # a run's id committed in results/fashion/study.json before plugins, spectral_norm, penalty_every and init existed
    # (DCGANs were always initialised as DCGAN, so init="dcgan" keeps their ids)
    committed = json.loads((Path(__file__).resolve().parents[1] / "results" / "fashion" / "study.json").read_text())["runs"][0]
    assert RunConfig.preset("gan", "fashion-mnist", seed=0, **FASHION_BUDGET).run_id() == committed
    assert base.replace(plugins="os").run_id() != base.run_id()
    assert base.replace(init="torch").run_id() != base.run_id()  # the toy MLP's init changed its computation: a new id


def test_arch_follows_the_data_set():
    assert RunConfig(variant="wgan-gp", dataset="fashion-mnist").arch == "dcgan"
    assert RunConfig(dataset="25gaussians").arch == "mlp"
    with pytest.raises(ConfigError, match="mlp takes toy data and .fashion-mnist. is image data; use arch=dcgan"):
        RunConfig(dataset="fashion-mnist", arch="mlp")


def test_a_registered_variant_is_a_named_variant_everywhere(registries):
    from wgan_core.config import VARIANTS

    before = dict(VARIANTS)
    try:
        wgan_core.register_variant("hinge-gp", wgan_core.Variant(loss="hinge", constraint="gp", source="this project (a test)",
                                                                 toy=dict(n_critic=2, penalty_weight=1.0, lr_d=3e-4)))
        config = RunConfig.preset("hinge-gp", "8gaussians", width=8, batch_size=8)
        assert (config.variant, config.loss, config.constraint, config.label) == ("hinge-gp", "hinge", "gp", "hinge-gp")
        assert (config.n_critic, config.penalty_weight, config.lr_d) == (2, 1.0, 3e-4)
        Trainer(config).step()
        with pytest.raises(ConfigError, match="loss: unknown 'nope'"):
            wgan_core.register_variant("x", wgan_core.Variant(loss="nope", constraint="gp", source="s"))
        with pytest.raises(ConfigError, match="toy defaults of 'x': widht not settable"):
            wgan_core.register_variant("x", wgan_core.Variant(loss="hinge", constraint="gp", source="s", toy=dict(widht=3)))
        with pytest.raises(ConfigError, match="image defaults of 'x': loss not settable"):
            wgan_core.register_variant("x", wgan_core.Variant(loss="hinge", constraint="gp", source="s", image=dict(loss="minimax")))
        with pytest.raises(ConfigError, match="^register_variant: image defaults of 'x' must be a dict of RunConfig fields, got NoneType$"):
            wgan_core.register_variant("x", wgan_core.Variant(loss="hinge", constraint="gp", source="s", image=None))
        with pytest.raises(ConfigError, match="source of 'x'"):
            wgan_core.register_variant("x", wgan_core.Variant(loss="hinge", constraint="gp", source=""))
    finally:
        VARIANTS.clear(), VARIANTS.update(before)
