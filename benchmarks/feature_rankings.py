"""A study's runs scored by FID and KID in every feature space (issue 35), for the report's rankings across spaces.

Each run's final samples are regenerated from its model.pt with the run's own final latents and scored in
every space (metrics/spaces.py; in the run's own space the FID equals its final.json's). The study's report
(`python -m wgan_core report DIR`, wgan_core/report/feature_spaces.py) then ranks the objectives per space
and seed, with Kendall's tau between spaces and every flip.

    python benchmarks/feature_rankings.py ~/wgan-runs/stacked-mnist [--spaces pixels,random-cnn,classifier] [--out DIR]

Writes OUT/scores.csv (default DIR/feature-spaces/, where the report reads it; resumable: a scored run and
space is kept). A directory without study.json or an unknown space is a one-line error, exit 2.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from wgan_core.errors import ConfigError  # noqa: E402
from wgan_core.report.feature_spaces import SCORES  # noqa: E402
from wgan_core.report.tables import write_csv  # noqa: E402


def read_run(d: Path) -> tuple[Any, dict]:
    """A run folder's RunConfig and final.json ({"status": "missing"} where the run has not finished)."""
    from wgan_core.config import RunConfig

    final = json.loads((d / "final.json").read_text()) if (d / "final.json").is_file() else {"status": "missing"}
    return RunConfig.from_dict(json.loads((d / "config.json").read_text())), final


def regenerate(d: Path, config: Any) -> torch.Tensor | None:
    """The run's final fakes uint8 (N, C, H, W), from its model.pt and its final latents (the samples final.json scored);
    None without a model.pt or where they are not finite."""
    from wgan_core.metrics.generator_file import load_run_generator
    from wgan_core.metrics.image import final_fakes

    if not (d / "model.pt").is_file():
        return None
    g, _ = load_run_generator(d)
    with torch.no_grad():
        return final_fakes(config, lambda z: g(z).float())  # final_fakes calls it on 1,000 latents at a time


def score_runs(study: Path, spaces: list[str], path: Path, log) -> pd.DataFrame:
    """FID and KID of every run of a study in every space, from the run's model.pt and its final-evaluation latents.

    The fakes are the ones the run scored at its end (metrics/image.py final_fakes: config.final_eval_samples latents seeded by
    config.seed), so the classifier space reproduces final.json. A run that is not `ok`, has no model, or whose fakes are not finite
    gets NaN (ranked worst, never dropped). Rows in `path` are kept (a stopped run resumes) unless the run's status changed since.
    """
    from wgan_core.metrics.image import fidelity, reference, reference_split
    from wgan_core.metrics.spaces import space_extractor

    info = json.loads((study / "study.json").read_text())
    saved = pd.read_csv(path) if path.exists() else pd.DataFrame()
    done = {(r["run_id"], r["feature_space"]): r for r in saved.to_dict("records")}
    rows, t0, refs = [], time.perf_counter(), {}
    for i, run_id in enumerate(info["runs"]):
        d = study / run_id
        config, final = read_run(d)
        fm = final.get("metrics", {})
        base = dict(run_id=run_id, objective=config.variant, seed=config.seed, status=final.get("status", "missing"), final_fid=fm.get("fid"),
                    final_extractor=fm.get("extractor"), modes=fm.get("modes"))  # fmt: skip
        fake = None
        for space in spaces:
            if (run_id, space) in done and done[(run_id, space)]["status"] == base["status"]:  # scored as it is now (a run finished since: again)
                rows.append({**done[(run_id, space)], **base})  # the run's own fields read afresh from its files
                continue
            if fake is None and base["status"] == "ok":
                fake = regenerate(d, config)
            if config.dataset not in refs:
                refs[config.dataset] = reference(config.dataset, reference_split(config.dataset), 0)
            real, _, real_name = refs[config.dataset]
            ext = space_extractor(space, config.dataset)
            m = {"fid": math.nan, "kid": math.nan}
            if fake is not None:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    m = fidelity(fake, real, ext, real_cache_name=real_name if ext.name_tells_weights else f"{real_name}-w{ext.tag}", kid=True)
            row = {**base, "feature_space": space, "extractor": ext.name, "fid": m["fid"], "kid": m["kid"],
                   "n_fake": 0 if fake is None else len(fake), "n_real": len(real)}  # fmt: skip
            done[(run_id, space)] = row
            rows.append(row)
            write_csv(pd.DataFrame(list(done.values())), path)
            log(f"[{time.perf_counter() - t0:5.0f} s] run {i + 1}/{len(info['runs'])} {run_id} {config.variant:<10} seed {config.seed} {space:<10} "
                f"fid={m['fid']:.4g} kid={m['kid']:.4g}")  # fmt: skip
    return pd.DataFrame(rows)


def run_rankings(args: argparse.Namespace) -> int:
    from wgan_core.metrics.spaces import get_feature_space

    study = Path(args.study).expanduser()
    if not (study / "study.json").is_file():
        raise ConfigError(f"rankings: {study} holds no study.json (a study directory of `python -m wgan_core study`)")
    spaces = [s.strip() for s in args.spaces.split(",") if s.strip()]
    for s in spaces:
        get_feature_space(s)
    out = Path(args.out).expanduser() if args.out else study / SCORES.parent
    out.mkdir(parents=True, exist_ok=True)
    log = lambda m: print(m, file=sys.stderr, flush=True)  # noqa: E731
    scores = score_runs(study, spaces, out / "scores.csv", log)
    same = scores.extractor == scores.get("final_extractor")  # the network the run scored itself with: the FID must be final.json's
    scores["fid_minus_final"] = np.where(same, scores.fid - scores.final_fid.astype(float), np.nan)
    write_csv(scores, out / "scores.csv")
    log(f"wrote {out / 'scores.csv'}; the rankings: python -m wgan_core report {study} (the report reads {SCORES} beside its runs)")
    return 0


def main(argv: list[str] | None = None) -> int:
    r = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    r.add_argument("study", help="a study directory (study.json and its run folders)")
    r.add_argument("--spaces", default="pixels,random-cnn,classifier", help="feature spaces, comma-separated")
    r.add_argument("--out", default="", help="where scores.csv goes (default: DIR/feature-spaces, where the report reads it)")
    try:
        return run_rankings(r.parse_args(argv))
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
