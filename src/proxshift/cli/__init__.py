"""The `proxshift` command line; `from proxshift.cli import app` gives the app with every command."""

from typing import Any

from proxshift.cli.main import build_app, main, run

__all__ = ["app", "main", "run"]


def __getattr__(name: str) -> Any:
    if name == "app":  # built when asked for: a run imports only the module of the command it runs
        return build_app()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
