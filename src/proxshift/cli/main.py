"""The `proxshift` command: every command and group wired here, the global options, the error boundary.

Command modules define plain functions and import nothing from this module, so that the app always
yields every command, and the cli package has no import cycle. The wiring names commands by their path
(COMMANDS): a run imports the module of the command it runs, and makes only that click command.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import gc
import importlib
import inspect
import os
import sys
from collections.abc import Callable, MutableMapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, cast

import typer
from typer.core import TyperGroup

from proxshift import __version__
from proxshift.cli.console import UI
from proxshift.cli.context import AppContext
from proxshift.config.paths import discover_paths
from proxshift.errors import Aborted, ExitCode, InvalidInput, ProxshiftError, UserInputError, local_failure

if TYPE_CHECKING:
    from proxshift.config.project import Project


def _version(value: bool) -> None:
    if value:
        typer.echo(f"proxshift {__version__}")
        raise typer.Exit()


def main_options(
    ctx: typer.Context,
    root: Annotated[
        Path | None, typer.Option(help="Project root [env: PROXSHIFT_ROOT; default: current directory].")
    ] = None,
    config: Annotated[Path | None, typer.Option(help="Site config file [env: PROXSHIFT_CONFIG].")] = None,
    inventory: Annotated[
        Path | None, typer.Option(help="Inventory file [default: <root>/inventory/clusters.yml].")
    ] = None,
    debug: Annotated[
        bool, typer.Option(help="Show debug notes and tracebacks (anywhere on the line) [env: PROXSHIFT_DEBUG=1].")
    ] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """Provision OpenShift clusters on Proxmox VE from one inventory file."""
    del version
    ctx.obj = AppContext(discover_paths(root, config, inventory), UI(debug=debug), debug)


def cluster_parameter(command: Callable[..., Any]) -> str | None:
    """The name of the command's cluster argument (its first after ctx: `cluster` or `name`), or None."""
    parameters = list(inspect.signature(command).parameters)
    return parameters[1] if len(parameters) > 1 and parameters[1] in ("cluster", "name") else None


def holding_the_lock(command: Callable[..., None], read_only: tuple[str, ...]) -> Callable[..., None]:
    """A command that changes a cluster holds its lock (engine/lock.py) from the moment its project is loaded
    (the cluster is then known to exist) to its end; with one of the `read_only` flags (a dry run) it takes
    none."""
    argument = cluster_parameter(command)
    assert argument is not None, command.__name__  # noqa: S101 - a wiring mistake, caught by tests/cli/test_lock.py

    @functools.wraps(command)
    def locked(*args: Any, **kwargs: Any) -> None:
        from proxshift.engine.lock import cluster_lock

        ctx: typer.Context = kwargs["ctx"]
        context: AppContext = ctx.obj
        given = kwargs[argument]
        clusters = list(dict.fromkeys(given)) if isinstance(given, list) else [given]
        # Several clusters: each one's run takes its own lock (provision's in its process, start's and stop's
        # in their thread), so that one held lock refuses that cluster alone.
        if any(kwargs.get(flag) for flag in read_only) or len(clusters) > 1:
            command(*args, **kwargs)
            return
        cluster: str = clusters[0]
        with contextlib.ExitStack() as held:

            def take(project: Project) -> None:
                held.enter_context(cluster_lock(project.paths.install_dir(cluster), f"{ctx.command_path} {cluster}"))

            context.on_project = take
            try:
                command(*args, **kwargs)
            finally:
                context.on_project = None

    return locked


# Every command, by its path, in the order --help lists them: the function that runs it, as
# "module:function" of a module in proxshift.cli (imported when the command is made).
COMMANDS: dict[str, str] = {
    "provision": "provision_cmds:provision",
    "post": "post_cmds:post",
    "manifests": "manifests_cmds:manifests",
    "clusters": "inventory_cmds:clusters",
    "show": "inventory_cmds:show",
    "validate": "inventory_cmds:validate",
    "doctor": "doctor_cmds:doctor",
    "health": "post_cmds:health",
    "start": "vm_cmds:start",
    "stop": "vm_cmds:stop",
    "status": "vm_cmds:status",
    "deprovision": "vm_cmds:deprovision",
    "adopt": "adopt_cmds:adopt",
    "wait": "install_cmds:wait",
    "credentials": "install_cmds:credentials",
    "backup": "backup_cmds:backup",
    "restore": "backup_cmds:restore",
    "vms create": "vm_cmds:vms_create",
    "iso create": "install_cmds:iso_create",
    "iso upload": "vm_cmds:iso_upload",
    "installer fetch": "install_cmds:installer_fetch",
    "vault check": "manifests_cmds:vault_check",
    "acm import": "acm_cmds:acm_import",
    "acm detach": "acm_cmds:acm_detach",
    "nodes add": "nodes_cmds:nodes_add",
    "lab up": "lab_cmds:lab_up",
    "lab down": "lab_cmds:lab_down",
    "lab status": "lab_cmds:lab_status",
    "lab env": "lab_cmds:lab_env",
    "lab predecessor": "lab_cmds:lab_predecessor",
}
GROUPS: dict[str, str] = {  # their help lines; --help lists them after the commands
    "vms": "Proxmox VMs of a cluster.",
    "iso": "The agent ISO on Proxmox storage.",
    "installer": "The release's binaries: openshift-install, and oc for nodes add.",
    "vault": "Vault: check access to the inputs and the credentials path.",
    "acm": "Red Hat ACM: import a cluster into the hub, detach it.",
    "nodes": "Day-2: add worker nodes to a running cluster.",
    "lab": "A local lab that SIMULATES Proxmox, Vault and OpenShift, for trying proxshift.",
}

# Every command that takes a cluster is one of these two: a command that changes a cluster (its VMs, its
# files, its credentials, its place on the hub) holds the cluster's lock; a read-only one never waits for it.
# tests/cli/test_lock.py checks that each such command is in exactly one, and that the first kind is refused
# while another process holds the lock.
CHANGES_A_CLUSTER: tuple[str, ...] = (
    "provision",
    "post",
    "deprovision",
    "vms create",
    "start",
    "stop",
    "iso create",
    "iso upload",
    "wait",
    "acm import",
    "acm detach",
    "manifests",  # it writes the manifests into ocp_install/<cluster>/
    "nodes add",
    "adopt",
    "lab predecessor",  # builds the cluster's VMs in the lab and writes its install dir
    "backup",  # writes the cluster's backups into Vault
    "restore",
)
READS_A_CLUSTER: tuple[str, ...] = (
    "show",
    "doctor",
    "health",  # its Vault read is recorded in the audit trail all the same (engine/health.py)
    "status",
    "credentials",
    "vault check",
)


# The flags with which a command in CHANGES_A_CLUSTER changes nothing of the cluster (default: --dry-run).
WRITES_NOTHING_WITH: dict[str, tuple[str, ...]] = {
    "manifests": ("dry_run", "no_vault", "output_dir"),  # --no-vault writes only to --output-dir
}


def command_function(path: str) -> Callable[..., None]:
    """The function of the command at `path`, its module imported."""
    module, _, name = COMMANDS[path].partition(":")
    function: Callable[..., None] = getattr(importlib.import_module(f"proxshift.cli.{module}"), name)
    return function


def _wired(path: str) -> Callable[..., None]:
    command = command_function(path)
    if path in CHANGES_A_CLUSTER:
        return holding_the_lock(command, WRITES_NOTHING_WITH.get(path, ("dry_run",)))
    return command


def _group(help_text: str) -> typer.Typer:
    return typer.Typer(help=help_text, no_args_is_help=True, context_settings={"help_option_names": ["-h", "--help"]})


def _hoist_debug(argv: list[str]) -> tuple[list[str], bool]:
    """`--debug` is welcome anywhere before `--` (users add it to the end of the line they just ran)."""
    end = argv.index("--") if "--" in argv else len(argv)
    debug = "--debug" in argv[:end] or os.environ.get("PROXSHIFT_DEBUG", "") not in ("", "0")
    rest = [a for a in argv[:end] if a != "--debug"] + argv[end:]
    return (["--debug", *rest] if debug else rest), debug


ROOT: dict[str, Any] = {
    "name": "proxshift",
    "help": "Provision OpenShift clusters on Proxmox VE from one inventory file.",
    "no_args_is_help": True,
    "add_completion": True,  # --install-completion, --show-completion; cluster names: cli/completion.py
    "pretty_exceptions_show_locals": False,
    "rich_markup_mode": None,
    "context_settings": {"help_option_names": ["-h", "--help"]},
}


def _register(app: typer.Typer, names: list[str]) -> typer.Typer:
    """Add these top-level commands and groups (names of COMMANDS and GROUPS) to app, importing their modules."""
    for name in names:
        if name in COMMANDS:
            app.command(name)(_wired(name))
    for name in names:
        if name in GROUPS:
            group = _group(GROUPS[name])
            for path in COMMANDS:
                if path.startswith(f"{name} "):
                    group.command(path.removeprefix(f"{name} "))(_wired(path))
            app.add_typer(group, name=name)
    return app


def _top_level() -> list[str]:
    return [path for path in COMMANDS if " " not in path] + list(GROUPS)


@functools.cache
def build_app() -> typer.Typer:
    """The whole command tree, every command module imported (`from proxshift.cli import app`)."""
    app = typer.Typer(**ROOT)
    app.callback()(main_options)
    return _register(app, _top_level())


def __getattr__(name: str) -> Any:
    if name == "app":  # built when asked for: a run imports only the module of the command it runs
        return build_app()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class _OnDemand(TyperGroup):
    """The root group of a run: a command (its module imported, its click command made) when click asks for
    it by name; `--help` asks for every one."""

    def __init__(self, **settings: Any) -> None:
        super().__init__(**settings)
        # Every name is known from the start (the order of --help, "did you mean"), no command made yet.
        self.commands = cast("MutableMapping[str, Any]", dict.fromkeys(_top_level()))

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name in self.commands and self.commands[cmd_name] is None:
            holder = _register(typer.Typer(**ROOT), [cmd_name])
            self.commands[cmd_name] = typer.main.get_group(holder).commands[cmd_name]
        return self.commands.get(cmd_name)


def _entry() -> typer.Typer:
    """What a run calls: app's root (its options, its help), with each command made on demand."""
    root = typer.Typer(cls=_OnDemand, **ROOT)
    root.callback()(main_options)
    return root


def _failed(ui: UI, exc: ProxshiftError, debug: bool) -> int:
    """An operation's error: one line and a hint (a traceback with --debug)."""
    if debug:  # said after the except block it came from: its traceback given, not found in sys.exc_info()
        from rich.traceback import Traceback

        ui.err.print(Traceback.from_exception(type(exc), exc, exc.__traceback__))
    if not isinstance(exc, UserInputError):  # old lab tokens: re-sourcing .lab/env is the fix, not a login
        from proxshift.cli.lab_env import stale_lab_env

        exc.hint = stale_lab_env() or exc.hint
    ui.error(exc)
    return int(exc.exit_code)


def run(argv: list[str], *, exiting: bool = False) -> int:
    """Run the CLI in-process and return the exit code; the one error boundary. `exiting`: the process ends
    after it (the console script), and Ctrl-C stays ignored from the run's ending on."""
    argv, debug = _hoist_debug(argv)
    ui = UI(debug=debug)
    ended: BaseException | None = None
    try:
        # A context of its own: the audit trail's command (engine/audit.py) is this run's, in-process too.
        result = contextvars.copy_context().run(_invoke, argv)
    except BaseException as exc:
        ended = exc
    if ended is None and not exiting:
        return int(result) if isinstance(result, int) else int(ExitCode.OK)
    # The ending is said whole: a second Ctrl-C a moment after the first (pressed twice, or the one `timeout
    # --foreground` passes on) would put a traceback in its place, or cut the exit's atexit callbacks short.
    from proxshift.processes import ignore_sigint

    restore = ignore_sigint()
    try:
        if ended is None:
            return int(result) if isinstance(result, int) else int(ExitCode.OK)
        return _ending(ui, ended, debug)
    finally:
        if not exiting:
            restore()


def _ending(ui: UI, exc: BaseException, debug: bool) -> int:  # noqa: PLR0911 - one return per kind of ending
    """How a run that raised ends: what it says and its exit code."""
    if isinstance(exc, InvalidInput):
        ui.problems(exc.problems)
        ui.error(exc)
        return int(exc.exit_code)
    if isinstance(exc, Aborted):  # the user said no: not an error, just the fact
        ui.info(exc.message)
        return int(exc.exit_code)
    if isinstance(exc, ProxshiftError):
        return _failed(ui, exc, debug)
    if isinstance(exc, (typer.Abort, KeyboardInterrupt)):
        ui.info("interrupted")
        return int(ExitCode.INTERRUPTED)
    if isinstance(exc, typer.TyperException):  # usage errors: unknown option, missing argument
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        else:
            ui.info(f"Error: {exc.format_message()}")
        return int(ExitCode.BAD_INPUT)
    if isinstance(exc, typer.Exit):
        return int(exc.exit_code)
    if isinstance(exc, SystemExit):  # --show-completion and --install-completion end with sys.exit
        return exc.code if isinstance(exc.code, int) else int(ExitCode.OK if exc.code is None else ExitCode.FAILED)
    if debug or not isinstance(exc, Exception):
        raise exc
    if (failure := local_failure(exc)) is not None:  # a file proxshift could not write or read
        ui.error(failure)
        return int(ExitCode.FAILED)
    # The message of an unexpected error may carry anything, secrets included: name its type only.
    ui.err.print(f"[red]error:[/red] unexpected {type(exc).__name__} inside proxshift")
    ui.err.print("  [dim]hint:[/dim] run again with --debug for the traceback, and report it")
    return int(ExitCode.FAILED)


def _invoke(argv: list[str]) -> object:
    from proxshift.engine.audit import set_command

    set_command(argv)
    return _entry()(args=argv, prog_name="proxshift", standalone_mode=False)


def main() -> None:
    """Console-script entry point."""
    # A run allocates a lot at first and keeps most of it (pydantic's schemas, the clients): at the
    # default threshold (700) the young generation is collected ~130 times in a `manifests`, for ~10% of
    # its CPU time and nothing found. 10,000 collects ~10 times, and still keeps long runs (provision,
    # wait) from piling up cycles.
    gc.set_threshold(10_000)
    code = run(sys.argv[1:], exiting=True)
    # All that is left goes with the process: spare the collector its passes over every object at exit
    # (typer's, pydantic's, requests'...), a fifth of a short command's CPU time.
    gc.freeze()
    sys.exit(code)
