"""How noisy is the search's selection score? W1 of fixed trained generators over fresh evaluation draws, beside the gaps selection decides.

For each chosen finished run of a toy study (its model.pt), the generator is fixed and W1 is
computed `--draws` times, each on a fresh latent batch and a fresh real sample, at every sample
size of `--sizes` (n generated vs n real, exact optimal assignment): the standard deviation over
draws is the evaluation noise of one score. Beside it, from the study's stage-1 table, the gap
between each objective's best and second-best setting: the difference selection has to resolve.

    python benchmarks/selection_noise.py ~/wgan-runs/search-toy --out results/search-toy/selection_noise.csv

Writes one row per (run, n): dataset, objective, setting, run_id, n, w1_mean, w1_sd, draws; and a
second CSV (`*_gaps.csv`) with the stage-1 gaps per data set and objective.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from wgan_core.config import RunConfig  # noqa: E402
from wgan_core.data import sample_toy  # noqa: E402
from wgan_core.metrics.toy import w1_exact  # noqa: E402
from wgan_core.models import build_models  # noqa: E402
from wgan_core.study.run import score  # noqa: E402


def w1_spread(run_dir: Path, sizes: list[int], draws: int) -> list[dict]:
    """W1 of the run's final generator over `draws` fresh evaluation draws at each sample size."""
    config = RunConfig.from_json(run_dir / "config.json")
    g, _ = build_models(config)
    g.load_state_dict(torch.load(run_dir / "model.pt", map_location="cpu", weights_only=True)["generator"])
    g.eval()
    rows = []
    for n in sizes:
        values = []
        for r in range(draws):
            gen = torch.Generator().manual_seed(10_000 + r)  # draws no run's evaluation used
            with torch.no_grad():
                fake = g(torch.randn(n, config.z_dim, generator=gen))
            values.append(w1_exact(fake, sample_toy(config.dataset, n, gen)))
        rows.append({"n": n, "w1_mean": float(np.mean(values)), "w1_sd": float(np.std(values, ddof=1)), "draws": draws})
    return rows


def stage1_gaps(root: Path, info: dict) -> pd.DataFrame:
    """Per data set and objective: the best and second-best mean setting score of stage 1 (as selection scores them), and their gap."""
    rows = [{**{k: row[k] for k in ("dataset", "variant", "setting")}, "score": score(root, rid, "w1")} for rid, row in info["stage1"].items()]
    df = pd.DataFrame(rows).groupby(["dataset", "variant", "setting"], as_index=False)["score"].mean()
    out = []
    for (ds, v), g in df.groupby(["dataset", "variant"], sort=False):
        s = np.sort(g["score"].to_numpy(float))
        out.append({"dataset": ds, "objective": v, "best": s[0], "second": s[1], "gap": s[1] - s[0]})
    return pd.DataFrame(out)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("root", type=Path, help="a finished search study directory (study.json with stage1 and stage2)")
    p.add_argument("--out", type=Path, required=True, help="CSV to write (and *_gaps.csv beside it)")
    p.add_argument("--sizes", default="1000,2000", help="sample sizes n (n vs n), comma-separated")
    p.add_argument("--draws", type=int, default=10, help="fresh evaluation draws per run and size")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    info = json.loads((args.root / "study.json").read_text())
    sizes = [int(s) for s in args.sizes.split(",")]
    rows = []
    # The stage-1 run of every objective's selected setting on its first selection seed: the runs whose scores chose.
    for ds, per in info["stage2"]["selected"].items():
        for v, sel in per.items():
            rid = sel["run_ids"][0]
            for r in w1_spread(args.root / rid, sizes, args.draws):
                rows.append({"dataset": ds, "objective": v, "setting": sel["setting"], "run_id": rid, **r})
    args.out.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(args.out, index=False)
    stage1_gaps(args.root, info).to_csv(args.out.with_name(args.out.stem + "_gaps.csv"), index=False)
    print(args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
