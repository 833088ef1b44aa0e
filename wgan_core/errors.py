"""The suite's user-facing errors, in a module of its own so that torch-free code (the report) can raise them.

`ConfigError` is a user mistake; `Parser` is argparse with its errors on one line and exit code 2;
`lookup` is every registry's `get_x(name)`: the entry, or one line naming the allowed names.
"""

import argparse
import sys
from typing import TypeVar

T = TypeVar("T")


class ConfigError(ValueError):
    """A user mistake in a run's configuration or inputs; the CLI prints it on one line and exits 2."""


def lookup(entries: dict[str, T], name: str, what: str, hint: str = "") -> T:
    """entries[name], or a ConfigError: '<what>: unknown <name>; allowed: <names><hint>'."""
    try:
        return entries[name]
    except (KeyError, TypeError):  # TypeError: an unhashable name
        raise ConfigError(f"{what}: unknown {name!r}; allowed: {', '.join(entries) or 'none registered'}{hint}") from None


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2 (argparse prints the usage too)
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        raise SystemExit(2)


__all__ = ["ConfigError", "Parser", "lookup"]
