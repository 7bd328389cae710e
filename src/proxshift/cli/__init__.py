"""The `proxshift` command: Typer app, global options and the error boundary."""

from __future__ import annotations

import sys

from proxshift.cli.app import app, run


def main() -> None:
    """Console-script entry point."""
    sys.exit(run(sys.argv[1:]))


__all__ = ["app", "main", "run"]
