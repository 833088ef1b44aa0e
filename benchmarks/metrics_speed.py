"""Speed of the image metrics: FID + KID of 10,000 Fashion-MNIST fakes against the cached test-split
statistics with the classifier extractor (target: under 30 s on a 2-core CPU), and the full final
evaluation (FID, KID, precision/recall, class_kl) for comparison.

The reference statistics and the classifier are cached before timing, as in training after the
first evaluation. The fakes are training images under Gaussian noise: the cost does not depend on
what the images show. Writes results/metrics/speed.csv with the environment (torch, threads, CPU,
load average, git commit, date).

    python benchmarks/metrics_speed.py [--repeats 3] [--out results/metrics/speed.csv]
"""

from __future__ import annotations

import argparse
import csv
import datetime
import statistics
import time
import warnings
from pathlib import Path

import torch

from wgan_core.data import load_images
from wgan_core.env import environment, git_commit
from wgan_core.metrics import image_metrics
from wgan_core.metrics.classifier import get_classifier

ROOT = Path(__file__).resolve().parents[1]
TASKS = {  # name: image_metrics switches
    "fid+kid": dict(prc=False, class_kl=False),
    "fid+kid+prc+class_kl": dict(prc=True, class_kl=True),
}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=10000, help="fakes")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--out", default=str(ROOT / "results" / "metrics" / "speed.csv"))
    args = p.parse_args()

    info = get_classifier("fashion-mnist")  # trained on first use (not timed)
    x, _ = load_images("fashion-mnist", "train")
    g = torch.Generator().manual_seed(0)
    fake = (x[: args.n].float() / 127.5 - 1 + 0.1 * torch.randn(x[: args.n].shape, generator=g)).clamp(-1, 1)  # (n, 1, 28, 28)
    image_metrics(fake[:100], "fashion-mnist", kid_subset_size=50, class_kl=False)  # caches the test split's features and statistics

    rows = []
    for task, switches in TASKS.items():
        times = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                m = image_metrics(fake, "fashion-mnist", **switches)
            times.append(time.perf_counter() - t0)
        row = dict(
            task=task, n_fake=m["n"], n_real=m["n_real"], extractor=m["extractor"], fid=round(m["fid"], 5),
            median_s=round(statistics.median(times), 2), min_s=round(min(times), 2), repeats=args.repeats,
            target_s=30 if task == "fid+kid" else "", **environment(), git_commit=git_commit(),
            date=datetime.datetime.now().isoformat(timespec="seconds"),
        )  # fmt: skip
        print(row, flush=True)
        rows.append(row)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]), lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    print(f"classifier {info.name} (test accuracy {info.meta['test_accuracy']:.4f}); wrote {out}")


if __name__ == "__main__":
    main()
