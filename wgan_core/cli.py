"""Command line: `python -m wgan_core {study,train,variants,metrics,classifier,status,report,quote} ...`.

`study` is wgan_core.study.command (its own options: `python -m wgan_core study --help`).

User mistakes (ConfigError, bad arguments) print one line to stderr and exit 2, with no traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from .config import VARIANTS, ConfigError, RunConfig, describe_variants, parse_set
from .data.registry import DATASETS
from .errors import Parser
from .signals import EXIT_INTERRUPTED, Interrupted


def _cmd_variants(args: argparse.Namespace) -> int:
    print(describe_variants())
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    from .training.loop import train

    overrides = parse_set(args.set or [])
    for key in ("steps", "seed", "device"):
        if getattr(args, key) is not None:
            overrides[key] = getattr(args, key)
    config = RunConfig.preset(args.variant, args.dataset, **overrides)
    final = train(config, args.out, progress=None if not args.quiet else False)
    status = final["status"]
    m = final.get("metrics", {})
    shown = {k: m[k] for k in ("w1", "w1_floor", "modes", "high_quality", "fid", "kid") if k in m}
    print(json.dumps({"status": status, "steps": final["steps"], "wall_time_s": round(final["wall_time_s"], 1), **shown}))
    if status == "diverged":
        print(f"run diverged at generator iteration {final['steps']} (non-finite loss); see {args.out}/final.json", file=sys.stderr)
    return 0  # a diverged run is a result, not an error: sweeps go on


def build_parser() -> argparse.ArgumentParser:
    p = Parser(prog="python -m wgan_core", description="Matched training and evaluation of GAN objectives.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=Parser)

    sub.add_parser("study", help="run a matched study or search and write its report (see `python -m wgan_core study --help`)", add_help=False)

    v = sub.add_parser("variants", help="list the variants and their defaults")
    v.set_defaults(func=_cmd_variants)

    t = sub.add_parser("train", help="train (or resume) one run into --out")
    t.add_argument("--variant", default="wgan-gp", help=f"one of: {', '.join(VARIANTS)}")
    t.add_argument("--dataset", default="8gaussians", help="a registered data set: " + " | ".join((*DATASETS, "folder:PATH")))
    t.add_argument("--steps", type=int, help="generator iterations")
    t.add_argument("--seed", type=int)
    t.add_argument("--device", help="auto | cpu | cuda | cuda:N")
    t.add_argument("--out", required=True, help="run directory (resumed if it holds a checkpoint of the same config)")
    t.add_argument("--set", action="append", metavar="KEY=VALUE", help="override any RunConfig field; repeatable")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.set_defaults(func=_cmd_train)

    _add_metrics_commands(sub)
    _add_report_commands(sub)
    return p


def _add_metrics_commands(sub: argparse._SubParsersAction) -> None:
    """`metrics` and `classifier` subcommands (image quality metrics)."""
    import dataclasses
    import datetime
    from pathlib import Path

    def _cmd_metrics(args: argparse.Namespace) -> int:
        from .metrics.classifier import load_split
        from .metrics.image import image_metrics, load_samples, reference_split
        from .metrics.spaces import describe_feature_spaces, get_feature_space, space_extractor

        if args.list_feature_spaces:
            print(describe_feature_spaces())
            return 0
        if not args.dataset or not (args.samples or args.generator or args.run):
            raise ConfigError("metrics: give --dataset and one of --samples, --generator, --run (or --list-feature-spaces)")
        if args.feature_space and args.extractor and args.feature_space != args.extractor:
            raise ConfigError(f"feature space: --extractor {args.extractor} and --feature-space {args.feature_space} differ; give one")
        space = args.feature_space or args.extractor or "classifier"
        weights = args.feature_weights or args.inception_weights
        if get_feature_space(space).needs or weights:  # unknown space, missing or unloadable weights: one line before any sample is read
            space_extractor(space, args.dataset, data_dir=args.data_dir, download=args.download, weights=weights)
        channels = load_split(args.dataset, reference_split(args.dataset), args.data_dir, args.download)[0].shape[1]
        if args.samples:
            fake = load_samples(args.samples, channels)
        else:
            from .metrics.generator_file import generate, load_generator, load_run_generator

            if args.run:
                generator, z_dim = load_run_generator(args.run)
            else:
                if args.z_dim is None:
                    raise ConfigError("z-dim: --generator needs --z-dim, the generator's latent size")
                generator, z_dim = load_generator(args.generator), args.z_dim
            fake = generate(generator, z_dim, args.num_samples, seed=args.seed)
        m = image_metrics(
            fake, args.dataset, extractor=space, split=args.split or reference_split(args.dataset), n=args.n, n_real=args.n_real,
            prc=not args.no_prc, kid_subset_size=args.kid_subset_size, data_dir=args.data_dir, download=args.download,
            inception_weights=weights, device=args.device,
        )  # fmt: skip
        from .metrics.image import image_mode_metrics

        m.update(image_mode_metrics(args.dataset, fake[: args.n] if args.n else fake, args.data_dir))  # stacked-mnist: its modes
        from .fileio import json_safe

        print(json.dumps(json_safe(m)))
        return 0

    def _cmd_classifier_train(args: argparse.Namespace) -> int:
        from .fileio import write_json
        from .metrics.classifier import DEFAULT_SETTINGS, get_classifier

        settings = DEFAULT_SETTINGS
        for key in ("seed", "epochs"):
            if getattr(args, key) is not None:
                settings = dataclasses.replace(settings, **{key: getattr(args, key)})
        info = get_classifier(args.dataset, args.data_dir, args.download, settings, force=args.force)
        summary = {k: info.meta[k] for k in ("dataset", "test_accuracy", "train_time_s", "train_images", "test_images", "settings")}
        summary.update(name=info.name, path=str(info.path))
        print(json.dumps(summary))
        if args.report:
            from .env import git_commit

            commit = git_commit()
            report = dict(info.meta, name=info.name, cache_path=str(info.path), command="python -m wgan_core " + " ".join(sys.argv[1:]))
            report.update(git_commit=commit, reported_at=datetime.datetime.now().isoformat(timespec="seconds"))
            Path(args.report).parent.mkdir(parents=True, exist_ok=True)
            write_json(Path(args.report), report)
        return 0

    def _data_args(p: argparse.ArgumentParser, required: bool = True) -> None:
        p.add_argument("--dataset", required=required, help="fashion-mnist | mnist | cifar10 | stacked-mnist | folder:PATH")
        p.add_argument("--data-dir", default="", help="data root ('' = $WGAN_DATA_DIR or the Debian location)")
        p.add_argument("--download", action="store_true", help="allow downloads (torchvision data, Inception weights)")

    m = sub.add_parser("metrics", help="FID, KID, precision/recall and class_kl of generated images against a data set split")
    _data_args(m, required=False)  # --list-feature-spaces needs none; _cmd_metrics asks for it otherwise
    src = m.add_mutually_exclusive_group()
    src.add_argument("--samples", help="an .npy or .pt file of images (uint8, or float in [-1, 1]) or a folder of images")
    src.add_argument("--generator", help="a generator trained elsewhere: TorchScript (.pt, as torch-fidelity takes) or torch.export (.pt2)")
    src.add_argument("--run", help="a finished run directory of this suite (its config.json and model.pt)")
    m.add_argument("--z-dim", type=int, help="--generator: its latent size (z ~ N(0, I), shape (N, z_dim))")
    m.add_argument("--num-samples", type=int, default=10000, help="--generator / --run: how many samples to draw (default 10,000)")
    m.add_argument("--seed", type=int, default=0, help="--generator / --run: seed of the latents (default 0)")
    m.add_argument("--extractor", choices=["classifier", "inception"], help="feature network (default: classifier, offline); --feature-space takes any")
    m.add_argument("--feature-space", metavar="NAME", help="the feature space of FID/KID/precision/recall (default classifier; see --list-feature-spaces)")
    m.add_argument("--list-feature-spaces", action="store_true", help="print every feature space with its source and what it needs, and exit")
    m.add_argument("--inception-weights", help="torch-fidelity inception-v3-compat weights file (or set WGAN_INCEPTION_WEIGHTS)")
    m.add_argument("--feature-weights", metavar="PATH", help="the weights file of a feature space that needs one (vgg16; inception also takes it)")
    m.add_argument("--split", choices=["train", "test"], help="real split to compare with (default: test)")
    m.add_argument("--n", type=int, help="use the first N samples (default: all)")
    m.add_argument("--n-real", type=int, help="use the first N real images of the split (default: all)")
    m.add_argument("--kid-subset-size", type=int, help="KID subset size (default: min(1000, smaller set))")
    m.add_argument("--no-prc", action="store_true", help="skip precision/recall")
    m.add_argument("--device", help="cpu | cuda (default: cuda when available)")
    m.set_defaults(func=_cmd_metrics)

    c = sub.add_parser("classifier", help="the suite's feature classifier for image metrics")
    csub = c.add_subparsers(dest="action", required=True, parser_class=type(c))
    ct = csub.add_parser("train", help="train (or load from the cache) the classifier of a data set and print its test accuracy")
    _data_args(ct)
    ct.add_argument("--seed", type=int, help="training seed (default 0; part of the cache key)")
    ct.add_argument("--epochs", type=int, help="training epochs (part of the cache key)")
    ct.add_argument("--force", action="store_true", help="retrain even if a cached classifier exists")
    ct.add_argument("--report", metavar="PATH", help="also write the accuracy, training time and settings to this JSON file")
    ct.set_defaults(func=_cmd_classifier_train)


def _add_report_commands(sub: argparse._SubParsersAction) -> None:
    """`status` and `report` subcommands (a study's directory)."""

    def _cmd_report(args: argparse.Namespace) -> int:
        from . import kinds  # noqa: F401  the job kinds register their metrics and run tables
        from .report import write_report
        from .rundir.artifacts import complete_study
        from .study.identity import read_study
        from .study.presets import PRESETS

        complete_study(args.dir)  # runs written before the run-side report files existed: computed once from model.pt
        info = read_study(Path(args.dir).expanduser()) or {}
        preset = PRESETS.get(info.get("preset", ""))
        # A study made before families were recorded in study.json: its preset's declared families, which the report says
        # were declared after the runs; without a preset, the report's exploratory families.
        families = list(preset.families) if preset and "families" not in info and preset.families else None
        if args.baseline and (families or info.get("families")):
            print(f"note: --baseline {args.baseline} does not change the paired tests: the declared families name their baselines", file=sys.stderr)
        print(write_report(args.dir, baseline=args.baseline, out=args.out, families=families))
        return 0

    def _cmd_status(args: argparse.Namespace) -> int:
        from .study.status import format_status, study_status

        print(format_status(*study_status(args.dir)))
        return 0

    st = sub.add_parser("status", help="per run of a study: finished / running / stopped / failed / queued, last metrics, ETA")
    st.add_argument("dir", metavar="DIR", help="study directory (python -m wgan_core study --out)")
    st.set_defaults(func=_cmd_status)

    def _cmd_quote(args: argparse.Namespace) -> int:
        from pathlib import Path

        from .report.quote import check_file, quote_file, quoted_files

        root = Path(args.root)
        files = [Path(f) for f in args.files] or quoted_files(root)
        if args.check:
            stale = [f"{f}: {spec}" for f in files for spec in check_file(f, root)]
            for line in stale:
                print(f"differs from its CSV: {line}")
            return 1 if stale else 0
        for f in files:
            print(f"{f}: {'rewritten' if quote_file(f, root) else 'unchanged'}")
        return 0

    q = sub.add_parser("quote", help="rewrite the tables that Markdown files quote from report CSVs (<!-- quote: CSV | columns -->)")
    q.add_argument("files", nargs="*", help="Markdown files (default: README.md and results/*/README.md that quote)")
    q.add_argument("--root", default=".", help="the directory the quoted CSV paths are relative to (default: .)")
    q.add_argument("--check", action="store_true", help="change nothing; exit 1 naming every quote that differs from its CSV")
    q.set_defaults(func=_cmd_quote)

    r = sub.add_parser("report", help="write DIR/report/ (tables, paired tests, plots, index.html) from a study's runs")
    r.add_argument("dir", metavar="DIR", help="study directory (python -m wgan_core study --out)")
    r.add_argument("--baseline", help="cell the paired tests compare against (default: the study's, else wgan-gp)")
    r.add_argument("--out", help="write the report here instead of DIR/report/ (a rebuild beside the committed one)")
    r.set_defaults(func=_cmd_report)



def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["study"]:  # its own parser: every option of a study
        from .study.command import main as study_main

        return study_main(argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except Interrupted as e:
        print(f"interrupted: {e}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
