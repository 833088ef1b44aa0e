"""The suite's user-facing error, in a module of its own so that torch-free code (the report) can raise it."""


class ConfigError(ValueError):
    """A user mistake in a run's configuration or inputs; the CLI prints it on one line and exits 2."""


__all__ = ["ConfigError"]
