"""The `proxshift` command line; `from proxshift.cli import app` gives the app with every command."""

from proxshift.cli.main import app, main, run

__all__ = ["app", "main", "run"]
