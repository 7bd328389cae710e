"""Typer app with the global options; every command module registers itself here."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from proxshift import __version__
from proxshift.cli.console import UI
from proxshift.config.paths import Paths, discover_paths
from proxshift.errors import ExitCode, InvalidInput, ProxshiftError

if TYPE_CHECKING:
    from proxshift.config.project import Project

app = typer.Typer(
    name="proxshift",
    help="Provision OpenShift clusters on Proxmox VE from one inventory file.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
    rich_markup_mode=None,
)


@dataclass
class AppContext:
    """What the global options decided, handed to every command."""

    paths: Paths
    ui: UI
    debug: bool

    def project(
        self, *, need_site_config: bool = True, strict: bool = False, only: list[str] | None = None, quiet: bool = False
    ) -> Project:
        """Load and validate; print warnings in full, or (quiet) as a one-line pointer to validate."""
        from proxshift.config.project import load_project  # pydantic and YAML only for commands that read files

        project = load_project(self.paths, need_site_config=need_site_config, strict=strict, only=only)
        if quiet and project.warnings:
            count = len(project.warnings)
            self.ui.info(
                f"{count} warning{'s' if count != 1 else ''} in the inventory or site config: run 'proxshift validate'"
            )
        else:
            self.ui.problems(project.warnings)
        for key in project.settings.ignored_keys:
            self.ui.debug(f"{project.settings.source_label}: '{key}' is a predecessor key proxshift does not use")
        return project


def _version(value: bool) -> None:
    if value:
        typer.echo(f"proxshift {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    ctx: typer.Context,
    root: Annotated[
        Path | None, typer.Option(help="Project root [env: PROXSHIFT_ROOT; default: current directory].")
    ] = None,
    config: Annotated[Path | None, typer.Option(help="Site config file [env: PROXSHIFT_CONFIG].")] = None,
    inventory: Annotated[
        Path | None, typer.Option(help="Inventory file [default: <root>/inventory/clusters.yml].")
    ] = None,
    debug: Annotated[bool, typer.Option(help="Show debug notes and tracebacks.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """Provision OpenShift clusters on Proxmox VE from one inventory file."""
    del version
    ctx.obj = AppContext(discover_paths(root, config, inventory), UI(debug=debug), debug)


def run(argv: list[str]) -> int:
    """Run the CLI in-process and return the exit code; the one error boundary."""
    from proxshift.cli import commands  # noqa: F401 - registers the commands

    debug = "--debug" in argv
    ui = UI(debug=debug)
    try:
        result = app(args=argv, prog_name="proxshift", standalone_mode=False)
    except InvalidInput as exc:
        ui.problems(exc.problems)
        ui.error(exc)
        return int(exc.exit_code)
    except ProxshiftError as exc:
        if debug:
            ui.err.print_exception()
        ui.error(exc)
        return int(exc.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        ui.info("interrupted")
        return int(ExitCode.INTERRUPTED)
    except typer.TyperException as exc:  # usage errors: unknown option, missing argument
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        else:
            ui.info(f"Error: {exc.format_message()}")
        return int(ExitCode.BAD_INPUT)
    except typer.Exit as exc:
        return int(exc.exit_code)
    except Exception as exc:
        if debug:
            raise
        # The message of an unexpected error may carry anything, secrets included: name its type only.
        ui.err.print(f"[red]error:[/red] unexpected {type(exc).__name__} inside proxshift")
        ui.err.print("  [dim]hint:[/dim] run again with --debug for the traceback, and report it")
        return int(ExitCode.FAILED)
    return int(result) if isinstance(result, int) else int(ExitCode.OK)
