"""Fingerprints of what training computes: weights, optimiser states, statistics and the evaluation row after 7 steps.

A restructuring that must not change any number is checked by running this on the commit
before and the commit after and comparing the two JSON files (`--against OLD.json`). Every
configuration the suite's job kinds, data kinds and step shapes cover is here: toy runs of six
objectives, the PacGAN 2-D grid, DCGAN on Fashion-MNIST, a two-member seed ensemble and the
depth experiment's critic-only run.

    python benchmarks/bit_identity.py --out /tmp/before.json            # on the old commit
    python benchmarks/bit_identity.py --out /tmp/after.json --against /tmp/before.json

Besides the 7 steps' state and evaluation row, the end of a run (`finish_run`: final.json's metrics,
the toy panel, the critic weight histogram) is fingerprinted for three configurations.

Exit 1 when a fingerprint differs (each one named), 0 when all agree, 2 when the two files were
made under different settings. Run both under the same torch
and the same CPU set: the number of torch threads changes the order of convolution and batch-norm
reductions (pinned to one core with taskset, the DCGAN and PacGAN fingerprints differ from two cores').
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
import tempfile
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from wgan_core.config import RunConfig  # noqa: E402
from wgan_core.training import Ensemble, Trainer  # noqa: E402

STEPS = 7
TOY = dict(steps=STEPS, width=32, batch_size=32, eval_every=STEPS, eval_samples=256, device="cpu")
RUNS: dict[str, RunConfig] = {
    **{f"toy {v}": RunConfig.preset(v, **TOY) for v in ("wgan-gp", "wgan-lp", "wgan-clip", "gan", "r3gan", "dragan")},
    "toy nsgan-r1 lazy": RunConfig.preset("nsgan-r1", penalty_every=2, **TOY),  # lazy regularisation: a penalty on every 2nd critic step
    "pacgan grid": RunConfig.preset("nsgan", "2d-grid", arch="pacgan", **TOY),
    "dcgan fashion": RunConfig.preset(
        "wgan-gp", "fashion-mnist", steps=STEPS, width=8, batch_size=16, n_critic=2, data_limit=256,
        eval_every=STEPS, eval_samples=64, extractor="none", z_dim=16, device="cpu",
    ),
}  # fmt: skip
ENSEMBLES = {"ensemble toy wgan-gp": [RUNS["toy wgan-gp"].replace(seed=s) for s in (0, 1)]}
FINISHED = ("toy wgan-gp", "pacgan grid", "dcgan fashion")  # also fingerprint the end of the run


def digest(obj: Any) -> str:
    """sha256 of tensors' bytes and other values' repr, walked in a fixed order."""
    h = hashlib.sha256()

    def walk(x: Any) -> None:
        if torch.is_tensor(x):
            t = x.detach().cpu().contiguous()
            h.update(str((t.dtype, tuple(t.shape))).encode())
            h.update(t.numpy().tobytes() if t.dtype != torch.bfloat16 else t.float().numpy().tobytes())
        elif isinstance(x, dict):
            for k in sorted(x, key=str):
                h.update(str(k).encode())
                walk(x[k])
        elif isinstance(x, (list, tuple)):
            for v in x:
                walk(v)
        elif isinstance(x, float) and math.isnan(x):
            h.update(b"nan")
        else:
            h.update(repr(x).encode())

    walk(obj)
    return h.hexdigest()[:16]


def trainer_prints(t: Any, finish: bool = False) -> dict[str, str]:
    state = t.state_dict()
    out = {k: digest(state[k]) for k in ("generator", "critic", "opt_g", "opt_d", "rng") if k in state}
    row = t.evaluate()
    out["evaluation"] = digest(row)  # the statistics' means and every metric of the row
    if finish:
        with tempfile.TemporaryDirectory() as d:
            out["final metrics"] = digest(t.finish_run(Path(d), [row], None))
            out["run files"] = digest({p.name: p.read_bytes() for p in sorted(Path(d).iterdir()) if p.suffix in (".csv", ".npz")})
    return out


def depth_prints() -> dict[str, str]:
    try:
        from wgan_core.kinds.depth import DepthConfig, DepthTrainer
    except ImportError:  # before the job kinds were plug-ins
        from wgan_core.depth import DepthConfig, DepthTrainer  # type: ignore[no-redef]
    t = DepthTrainer(DepthConfig(steps=STEPS, depth=4, width=16, batch_size=32, eval_samples=64, record_every=STEPS, device="cpu"))
    for _ in range(STEPS):
        t.step()
    return {"critic": digest(t.critic.state_dict()), "opt_d": digest(t.opt_d.state_dict()), "evaluation": digest(t.evaluate())}


def fingerprints() -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for name, config in RUNS.items():
        t = Trainer(config)
        for _ in range(STEPS):
            t.step()
        out[name] = trainer_prints(t, finish=name in FINISHED)
    for name, configs in ENSEMBLES.items():
        members = [Trainer(c) for c in configs]
        ens = Ensemble(members)
        for _ in range(STEPS):
            ens.step()
        ens.write_back()
        for s, m in enumerate(members):
            out[f"{name} member {s}"] = trainer_prints(m)
    out["depth"] = depth_prints()
    out["_setting"] = {"torch": torch.__version__, "threads": str(torch.get_num_threads())}  # compared first: same setting or no comparison
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, required=True, help="where to write the fingerprints (JSON)")
    p.add_argument("--against", type=Path, help="an earlier commit's fingerprints: exit 1 if any differs")
    a = p.parse_args(argv)
    prints = fingerprints()
    a.out.write_text(json.dumps(prints, indent=1, sort_keys=True) + "\n")
    if a.against is None:
        print(f"{len(prints) - 1} configurations fingerprinted -> {a.out}")
        return 0
    old = json.loads(a.against.read_text())
    if old.get("_setting", prints["_setting"]) != prints["_setting"]:
        print(f"not comparable: {a.against} was made under {old['_setting']}, this run under {prints['_setting']}")
        return 2
    names = sorted((set(old) | set(prints)) - {"_setting"})
    keys = {n: sorted(set(old.get(n, {})) | set(prints.get(n, {}))) for n in names}
    diff = [f"{n} {k}" for n in names for k in keys[n] if old.get(n, {}).get(k) != prints.get(n, {}).get(k)]
    same = sum(len(keys[n]) for n in names) - len(diff)
    print(f"{len(names)} configurations: {same} fingerprints equal, {len(diff)} differ" + "".join(f"\n  differs: {d}" for d in diff))
    return 1 if diff else 0


if __name__ == "__main__":
    sys.exit(main())
