"""The `proxshift` command: every command and group wired here, the global options, the error boundary.

Command modules define plain functions and import nothing from this module, so that importing the app
always yields every command, and the cli package has no import cycle.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import gc
import inspect
import os
import sys
from collections.abc import Callable, MutableMapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, cast

import typer
from typer.core import TyperGroup
from typer.models import TyperInfo

from proxshift import __version__
from proxshift.cli import (
    acm_cmds,
    adopt_cmds,
    backup_cmds,
    doctor_cmds,
    install_cmds,
    inventory_cmds,
    lab_cmds,
    manifests_cmds,
    nodes_cmds,
    post_cmds,
    provision_cmds,
    vm_cmds,
)
from proxshift.cli.console import UI
from proxshift.cli.context import AppContext
from proxshift.config.paths import discover_paths
from proxshift.errors import Aborted, ExitCode, InvalidInput, ProxshiftError, UserInputError

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


def holding_the_lock(command: Callable[..., None]) -> Callable[..., None]:
    """A command that changes a cluster holds its lock (engine/lock.py) from the moment its project is loaded
    (the cluster is then known to exist) to its end; with a flag of WRITES_NOTHING_WITH (a dry run) it takes
    none."""
    argument = cluster_parameter(command)
    assert argument is not None, command.__name__  # noqa: S101 - a wiring mistake, caught by tests/cli/test_lock.py
    read_only = WRITES_NOTHING_WITH.get(command, ("dry_run",))

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


# Every command that takes a cluster is one of these two: a command that changes a cluster (its VMs, its
# files, its credentials, its place on the hub) holds the cluster's lock; a read-only one never waits for it.
# tests/cli/test_lock.py checks that each such command is in exactly one, and that the first kind is refused
# while another process holds the lock.
CHANGES_A_CLUSTER: tuple[Callable[..., None], ...] = (
    provision_cmds.provision,
    post_cmds.post,
    vm_cmds.deprovision,
    vm_cmds.vms_create,
    vm_cmds.start,
    vm_cmds.stop,
    install_cmds.iso_create,
    vm_cmds.iso_upload,
    install_cmds.wait,
    acm_cmds.acm_import,
    acm_cmds.acm_detach,
    manifests_cmds.manifests,  # it writes the manifests into ocp_install/<cluster>/
    nodes_cmds.nodes_add,
    adopt_cmds.adopt,
    lab_cmds.lab_predecessor,  # builds the cluster's VMs in the lab and writes its install dir
    backup_cmds.backup,  # writes the cluster's backups into Vault
    backup_cmds.restore,
)
READS_A_CLUSTER: tuple[Callable[..., None], ...] = (
    inventory_cmds.show,
    doctor_cmds.doctor,
    post_cmds.health,  # its Vault read is recorded in the audit trail all the same (engine/health.py)
    vm_cmds.status,
    install_cmds.credentials,
    manifests_cmds.vault_check,
)


# The flags with which a command in CHANGES_A_CLUSTER changes nothing of the cluster (default: --dry-run).
WRITES_NOTHING_WITH: dict[Callable[..., None], tuple[str, ...]] = {
    manifests_cmds.manifests: ("dry_run", "no_vault", "output_dir"),  # --no-vault writes only to --output-dir
}


def _wired(command: Callable[..., None]) -> Callable[..., None]:
    return holding_the_lock(command) if command in CHANGES_A_CLUSTER else command


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


def build_app() -> typer.Typer:
    """The whole command tree, in the order `--help` lists it."""
    app = typer.Typer(**ROOT)
    app.callback()(main_options)
    top_level: tuple[Callable[..., None], ...] = (
        provision_cmds.provision,
        post_cmds.post,
        manifests_cmds.manifests,
        inventory_cmds.clusters,
        inventory_cmds.show,
        inventory_cmds.validate,
        doctor_cmds.doctor,
        post_cmds.health,
        vm_cmds.start,
        vm_cmds.stop,
        vm_cmds.status,
        vm_cmds.deprovision,
        adopt_cmds.adopt,
        install_cmds.wait,
        install_cmds.credentials,
        backup_cmds.backup,
        backup_cmds.restore,
    )
    for command in top_level:
        app.command()(_wired(command))

    vms = _group("Proxmox VMs of a cluster.")
    vms.command("create")(_wired(vm_cmds.vms_create))
    iso = _group("The agent ISO on Proxmox storage.")
    iso.command("create")(_wired(install_cmds.iso_create))
    iso.command("upload")(_wired(vm_cmds.iso_upload))
    installer = _group("The release's binaries: openshift-install, and oc for nodes add.")
    installer.command("fetch")(install_cmds.installer_fetch)
    vault = _group("Vault: check access to the inputs and the credentials path.")
    vault.command("check")(manifests_cmds.vault_check)
    acm = _group("Red Hat ACM: import a cluster into the hub, detach it.")
    acm.command("import")(_wired(acm_cmds.acm_import))
    acm.command("detach")(_wired(acm_cmds.acm_detach))
    nodes = _group("Day-2: add worker nodes to a running cluster.")
    nodes.command("add")(_wired(nodes_cmds.nodes_add))
    lab = _group("A local lab that SIMULATES Proxmox, Vault and OpenShift, for trying proxshift.")
    for name, command in (
        ("up", lab_cmds.lab_up),
        ("down", lab_cmds.lab_down),
        ("status", lab_cmds.lab_status),
        ("env", lab_cmds.lab_env),
        ("predecessor", lab_cmds.lab_predecessor),
    ):
        lab.command(name)(_wired(command))
    groups = {"vms": vms, "iso": iso, "installer": installer, "vault": vault, "acm": acm, "nodes": nodes}
    for name, group in groups.items():
        app.add_typer(group, name=name)
    app.add_typer(lab, name="lab")
    return app


app = build_app()


def _made(info: Any) -> Any:
    """The click command (or group) of one of app's registered commands (or groups)."""
    if not isinstance(info, TyperInfo):
        return typer.main.get_command_from_info(
            info, pretty_exceptions_short=app.pretty_exceptions_short, rich_markup_mode=app.rich_markup_mode
        )
    return typer.main.get_group_from_info(
        info,
        pretty_exceptions_short=app.pretty_exceptions_short,
        rich_markup_mode=app.rich_markup_mode,
        suggest_commands=app.suggest_commands,
    )


def _name(info: Any) -> str:
    """A registered command's name as typer gives it (from its function's when not given), or a group's."""
    return str(info.name or typer.main.get_command_name(info.callback.__name__))


class _OnDemand(TyperGroup):
    """The root group of a run: a command's click command is made when click asks for it by name, so a run
    does not wait for typer to read every command's signature (~20 ms); `--help` asks for every one."""

    def __init__(self, **settings: Any) -> None:
        super().__init__(**settings)
        self._infos: dict[str, Any] = {_name(info): info for info in [*app.registered_commands, *app.registered_groups]}
        # Every name is known from the start (the order of --help, "did you mean"), no command made yet.
        self.commands = cast("MutableMapping[str, Any]", dict.fromkeys(self._infos))

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name in self._infos and self.commands.get(cmd_name) is None:
            self.commands[cmd_name] = _made(self._infos[cmd_name])
        return self.commands.get(cmd_name)


def _entry() -> typer.Typer:
    """What a run calls: app's root (its options, its help), with each command made on demand."""
    root = typer.Typer(cls=_OnDemand, **ROOT)
    root.callback()(main_options)
    return root


def _failed(ui: UI, exc: ProxshiftError, debug: bool) -> int:
    """An operation's error: one line and a hint (a traceback with --debug)."""
    if debug:
        ui.err.print_exception()
    if not isinstance(exc, UserInputError):  # old lab tokens: re-sourcing .lab/env is the fix, not a login
        from proxshift.cli.lab_env import stale_lab_env

        exc.hint = stale_lab_env() or exc.hint
    ui.error(exc)
    return int(exc.exit_code)


def run(argv: list[str]) -> int:  # noqa: PLR0911 - the error boundary: one return per kind of ending
    """Run the CLI in-process and return the exit code; the one error boundary."""
    argv, debug = _hoist_debug(argv)
    ui = UI(debug=debug)
    try:
        # A context of its own: the audit trail's command (engine/audit.py) is this run's, in-process too.
        result = contextvars.copy_context().run(_invoke, argv)
    except InvalidInput as exc:
        ui.problems(exc.problems)
        ui.error(exc)
        return int(exc.exit_code)
    except Aborted as exc:  # the user said no: not an error, just the fact
        ui.info(exc.message)
        return int(exc.exit_code)
    except ProxshiftError as exc:
        return _failed(ui, exc, debug)
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
    except SystemExit as exc:  # --show-completion and --install-completion end with sys.exit
        return exc.code if isinstance(exc.code, int) else int(ExitCode.OK if exc.code is None else ExitCode.FAILED)
    except Exception as exc:
        if debug:
            raise
        # The message of an unexpected error may carry anything, secrets included: name its type only.
        ui.err.print(f"[red]error:[/red] unexpected {type(exc).__name__} inside proxshift")
        ui.err.print("  [dim]hint:[/dim] run again with --debug for the traceback, and report it")
        return int(ExitCode.FAILED)
    return int(result) if isinstance(result, int) else int(ExitCode.OK)


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
    code = run(sys.argv[1:])
    # All that is left goes with the process: spare the collector its passes over every object at exit
    # (typer's, pydantic's, requests'...), a fifth of a short command's CPU time.
    gc.freeze()
    sys.exit(code)
