"""The suite's user-facing errors, in a module of its own so that torch-free code (the report) can raise them.

`ConfigError` is a user mistake; `Parser` is argparse with its errors on one line and exit code 2.
"""

import argparse
import sys


class ConfigError(ValueError):
    """A user mistake in a run's configuration or inputs; the CLI prints it on one line and exits 2."""


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2 (argparse prints the usage too)
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        raise SystemExit(2)


__all__ = ["ConfigError", "Parser"]
