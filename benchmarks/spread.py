"""How close a study's samples lie to one another, beside the data's own spacing: collapse measured per run (issue 35).

For each run: its final fakes, regenerated from model.pt with the run's final latents (as benchmarks/feature_rankings.py
does, so they are the samples its final.json scored); the first N (1,000), flattened to pixels in [0, 1]; for each
sample the Euclidean distance to its nearest *other* sample; the median of those distances. `spread` is that median over
the same median for the first N images of the reference split (for an even N the lower median, as torch.median gives):

    spread = median_i min_{j != i} |x_i - x_j|  /  median_i min_{j != i} |r_i - r_j|

1 means as spaced as the data; near 0, samples nearly repeat one another (the conformance ladder's `collapse` damage
repeats exact copies: 0). A run that is not `ok`, has no model.pt, or whose fakes are not finite gets NaN.

    python benchmarks/spread.py ~/wgan-runs/stacked-mnist [--n 1000] [--out DIR/feature-spaces/spread.csv]

A directory without study.json, or --n below 2, is a one-line error, exit 2.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import pandas as pd
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from wgan_core.errors import ConfigError  # noqa: E402
from wgan_core.report.tables import write_csv  # noqa: E402


def nearest_other(x: torch.Tensor) -> torch.Tensor:
    """Images (N, C, H, W) uint8 -> (N,) float64: each image's Euclidean pixel distance ([0, 1] scale) to its nearest other image."""
    f = x.flatten(1).double() / 255.0  # (N, C*H*W)
    d = torch.cdist(f, f)  # (N, N)
    d.fill_diagonal_(math.inf)
    return d.min(dim=1).values


def spread(fake: torch.Tensor, real: torch.Tensor) -> float:
    """Median nearest-other distance of the fakes over that of the real images (both (N, C, H, W) uint8)."""
    return float(nearest_other(fake).median() / nearest_other(real).median())


def run(args: argparse.Namespace) -> int:
    from feature_rankings import read_run, regenerate  # benchmarks/: this script's own folder

    from wgan_core.metrics.image import reference, reference_split

    study = Path(args.study).expanduser()
    if not (study / "study.json").is_file():
        raise ConfigError(f"spread: {study} holds no study.json (a study directory of `python -m wgan_core study`)")
    if args.n < 2:
        raise ConfigError(f"--n: needs at least 2 samples (a nearest other one), got {args.n}")
    out = Path(args.out).expanduser() if args.out else study / "feature-spaces" / "spread.csv"
    rows, refs = [], {}
    for run_id in json.loads((study / "study.json").read_text())["runs"]:
        d = study / run_id
        config, final = read_run(d)
        if config.dataset not in refs:
            real = reference(config.dataset, reference_split(config.dataset), 0)[0][: args.n]  # (n, C, H, W) uint8
            refs[config.dataset] = (real, float(nearest_other(real).median()))
        real, real_median = refs[config.dataset]
        fake = regenerate(d, config) if final.get("status") == "ok" else None
        value = math.nan if fake is None else spread(fake[: args.n], real)
        rows.append(dict(run_id=run_id, objective=config.variant, seed=config.seed, status=final.get("status", "missing"),
                         modes=final.get("metrics", {}).get("modes"), spread=value, n=0 if fake is None else min(args.n, len(fake)),
                         real_median=real_median))  # fmt: skip
        print(f"{run_id} {config.variant:<10} seed {config.seed}: spread {value:.4g}", file=sys.stderr, flush=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_csv(pd.DataFrame(rows), out)
    print(f"wrote {out}", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("study", help="a study directory (study.json and its run folders)")
    p.add_argument("--n", type=int, default=1000, help="samples per run and real images compared (default 1,000)")
    p.add_argument("--out", default="", help="the CSV written (default DIR/feature-spaces/spread.csv)")
    try:
        return run(p.parse_args(argv))
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
