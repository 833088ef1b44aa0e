"""User plug-ins: modules or .py files that register losses and constraints, imported before a run is built.

A run that uses a registered objective from user code names it in RunConfig.plugins
(comma-separated importable module names or .py file paths). The config imports them
before it checks the loss and constraint names, and so does every worker process
(process:N and submitit start fresh interpreters), so a plug-in objective runs under
every executor. The field is part of the run's identity.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path

from .errors import ConfigError

_LOADED: set[str] = set()


def plugin_items(spec: str) -> list[str]:
    return [p.strip() for p in spec.split(",") if p.strip()]


def load_plugins(spec: str) -> None:
    """Import each plug-in of a comma-separated list once per process; a one-line ConfigError if one cannot be imported."""
    for item in plugin_items(spec):
        if item in _LOADED:
            continue
        try:
            if item.endswith(".py"):
                path = Path(item).expanduser().resolve()
                if not path.is_file():
                    raise ConfigError(f"plugins: no file {item!r} (a .py file path or an importable module name)")
                name = f"wgan_plugin_{path.stem}_{abs(hash(str(path))) % 10**8}"
                spec_ = importlib.util.spec_from_file_location(name, path)
                assert spec_ is not None and spec_.loader is not None
                module = importlib.util.module_from_spec(spec_)
                sys.modules[name] = module
                spec_.loader.exec_module(module)
            else:
                importlib.import_module(item)
        except ConfigError:
            raise
        except Exception as e:  # noqa: BLE001 - any failure of user code is reported on one line
            raise ConfigError(f"plugins: cannot import {item!r}: {type(e).__name__}: {e}".splitlines()[0]) from None
        _LOADED.add(item)


__all__ = ["load_plugins", "plugin_items"]
