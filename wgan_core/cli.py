"""Command line: `python -m wgan_core {train,variants} ...`.

User mistakes (ConfigError, bad arguments) print one line to stderr and exit 2, with no traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from .config import VARIANTS, ConfigError, RunConfig, describe_variants, parse_set


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2 (argparse prints the usage too)
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        raise SystemExit(2)


def _cmd_variants(args: argparse.Namespace) -> int:
    print(describe_variants())
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    from .train import train

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
    p = _Parser(prog="python -m wgan_core", description="Matched training and evaluation of GAN objectives.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    v = sub.add_parser("variants", help="list the variants and their defaults")
    v.set_defaults(func=_cmd_variants)

    t = sub.add_parser("train", help="train (or resume) one run into --out")
    t.add_argument("--variant", default="wgan-gp", help=f"one of: {', '.join(VARIANTS)}")
    t.add_argument("--dataset", default="8gaussians", help="8gaussians | 25gaussians | swissroll | fashion-mnist | mnist | cifar10 | folder:PATH")
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


def _add_report_commands(sub: argparse._SubParsersAction) -> None:
    """`report` subcommand (study reports)."""

    def _cmd_report(args: argparse.Namespace) -> int:
        from .report import write_report

        print(write_report(args.dir, baseline=args.baseline))
        return 0

    r = sub.add_parser("report", help="write DIR/report/ (tables, paired tests, plots, index.html) from a study's runs")
    r.add_argument("dir", metavar="DIR", help="study directory (benchmarks/ablation.py --out)")
    r.add_argument("--baseline", help="cell the paired tests compare against (default: the study's, else wgan-gp)")
    r.set_defaults(func=_cmd_report)



def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
