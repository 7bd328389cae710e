"""`iso create`, `installer fetch`, `wait` and `credentials`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from proxshift.cli.completion import complete_cluster
from proxshift.cli.context import AppContext

if TYPE_CHECKING:
    from proxshift.clients.install_watch.watcher import Installed
    from proxshift.config.project import Project


def iso_create(
    ctx: typer.Context, cluster: Annotated[str, typer.Argument(help="Cluster name.", autocompletion=complete_cluster)]
) -> None:
    """Run `openshift-install agent create image` in ocp_install/<cluster>, log in proxshift.log."""
    from proxshift.engine.install import create_iso

    context: AppContext = ctx.obj
    project = context.project(only=[cluster])
    from rich.text import Text

    try:
        with context.ui.err.status("openshift-install agent create image") as spinner:
            iso = create_iso(project, cluster, lambda line: spinner.update(Text(f"openshift-install: {line[:100]}")))
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM: the installer was stopped and reaped first
        context.ui.info(f"interrupted; openshift-install was stopped. Run 'proxshift iso create {cluster}' again")
        raise
    context.ui.success(f"created {project.paths.shown(iso)} ({iso.stat().st_size / 2**20:.0f} MiB)")


def installer_fetch(
    ctx: typer.Context,
    version: Annotated[str, typer.Argument(help="OpenShift release, e.g. 4.19.1.")],
    mirror: Annotated[str | None, typer.Option(help="Client mirror base URL.")] = None,
    oc: Annotated[
        bool, typer.Option("--oc", help="Fetch that release's oc client instead (what 'nodes add' runs).")
    ] = False,
) -> None:
    """Download openshift-install (or oc) for a release, verify its checksum, keep it in proxshift's cache."""
    from proxshift.clients.installer import DEFAULT_MIRROR, fetch_installer, fetch_oc

    context: AppContext = ctx.obj
    fetch, tool = (fetch_oc, "oc") if oc else (fetch_installer, "openshift-install")
    binary = fetch(version, mirror or DEFAULT_MIRROR)
    context.ui.success(f"{tool} {version} verified and stored at {binary}")


def wait(
    ctx: typer.Context,
    cluster: Annotated[str, typer.Argument(help="Cluster name.", autocompletion=complete_cluster)],
    timeout: Annotated[str, typer.Option(help="Give up after this long (e.g. 120m, 2h).")] = "120m",
    poll_interval: Annotated[
        float, typer.Option(help="Seconds between polls (the last stage polls at most every 2 s).")
    ] = 5.0,
) -> None:
    """Follow the install to the end (bootstrap, then the cluster), then store the credentials in Vault."""
    from proxshift.config.durations import parse_duration
    from proxshift.engine.install import store_credentials, wait_for_install

    context: AppContext = ctx.obj
    project = context.project(only=[cluster])
    try:
        if context.ui.err.is_terminal:
            installed = _wait_live(context, project, cluster, parse_duration(timeout), poll_interval)
        else:
            installed = wait_for_install(project, cluster, parse_duration(timeout), context.ui.info, poll_interval)
    except KeyboardInterrupt:
        context.ui.info(f"interrupted; nothing was changed. Resume with: proxshift wait {cluster}")
        raise
    where = store_credentials(project, cluster, installed.api_url, context.ui.warning)
    ui = context.ui
    ui.success(f"{cluster} is installed ({installed.seconds / 60:.1f} min watched)")
    ui.info(f"  console:     {installed.console_url or '(route not found)'}")
    ui.info(f"  API:         {installed.api_url}")
    ui.info(f"  credentials: Vault {where} (proxshift credentials {cluster})")


def _wait_live(context: AppContext, project: Project, cluster: str, timeout: float, poll: float) -> Installed:
    """On a terminal: a line with the elapsed time and the deadline, above it one row per host while they
    bootstrap, redrawn in place; events and stage lines scroll above. Cluster text is never read as markup."""
    import time

    from rich.console import Group, RenderableType
    from rich.live import Live
    from rich.table import Table
    from rich.text import Text

    from proxshift.clients.install_watch.watcher import deadline_text
    from proxshift.engine.install import wait_for_install

    began = time.monotonic()
    deadline = deadline_text(timeout, time.time())
    rows: list[tuple[str, ...]] = []

    def view() -> RenderableType:
        elapsed = int(time.monotonic() - began)
        status = Text(f"waiting for {cluster}: {elapsed // 60}:{elapsed % 60:02d} elapsed, {deadline}", style="cyan")
        if not rows:
            return status
        table = Table(
            "HOST", "ROLE", "STATUS", "STAGE", "%", "IN STAGE", title="bootstrap: hosts", title_justify="left"
        )
        for row in rows:
            table.add_row(*(Text(cell) for cell in row))
        return Group(table, status)

    def hosts(new: list[tuple[str, ...]]) -> None:
        rows[:] = new

    with Live(get_renderable=view, console=context.ui.err, refresh_per_second=4, transient=True) as live:

        def line(text: str) -> None:
            live.console.print(text, markup=False, highlight=False, emoji=False)

        return wait_for_install(project, cluster, timeout, line, poll, on_hosts=hosts)


def credentials(
    ctx: typer.Context,
    cluster: Annotated[str, typer.Argument(help="Cluster name.", autocompletion=complete_cluster)],
    kubeconfig_out: Annotated[
        Path | None, typer.Option(help="Write the kubeconfig here: YAML, mode 0600, never over a different file.")
    ] = None,
    force: Annotated[bool, typer.Option(help="Replace a different file at --kubeconfig-out.")] = False,
    show_password: Annotated[bool, typer.Option(help="Print the kubeadmin password.")] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print JSON (the password only with --show-password).")
    ] = False,
) -> None:
    """Read the cluster's credentials back from Vault."""
    from proxshift.engine.install import deprovisioned, read_credentials

    context: AppContext = ctx.obj
    ui = context.ui
    project = context.project(only=[cluster], quiet=as_json)
    stored = read_credentials(project, cluster, ui.warning)
    gone = deprovisioned(project, cluster)
    if gone:
        ui.warning(
            f"{cluster} was deprovisioned ({gone}): these are the credentials of the cluster that was removed; "
            f"'proxshift provision {cluster}' builds it again"
        )
    base_domain = project.cluster(cluster).base_domain
    facts = {
        "cluster": cluster,
        "api": stored["api"].reveal(),
        "console": f"https://console-openshift-console.apps.{cluster}.{base_domain}",
        "user": "kubeadmin",
        "password": stored["kubeadmin"].reveal() if show_password else None,
        "kubeconfig": str(kubeconfig_out.expanduser().absolute()) if kubeconfig_out else None,
    }
    if as_json:
        if kubeconfig_out:
            _write_kubeconfig(context, kubeconfig_out, stored["kubeconfig"].reveal(), force, announce=False)
        ui.json(facts)
        return
    ui.out.file.write(f"API:      {facts['api']}\n")
    ui.out.file.write(f"console:  {facts['console']}\n")
    ui.out.file.write("user:     kubeadmin\n")
    ui.out.file.write(f"password: {facts['password'] or '(hidden; --show-password prints it)'}\n")
    if kubeconfig_out:
        _write_kubeconfig(context, kubeconfig_out, stored["kubeconfig"].reveal(), force)


def _write_kubeconfig(context: AppContext, path: Path, stored: str, force: bool, announce: bool = True) -> None:
    """YAML, through the one private atomic writer; an existing different file stays unless --force."""
    import shlex

    import yaml

    from proxshift.errors import OperationError, UserInputError
    from proxshift.files import write_private

    try:
        text = yaml.safe_dump(yaml.safe_load(stored), sort_keys=False)  # stored as JSON or YAML: written as YAML
    except yaml.YAMLError:
        raise OperationError("the kubeconfig stored in Vault is neither YAML nor JSON", "store it again") from None
    target = path.expanduser().absolute()
    try:
        present = target.read_text() if target.exists() else None
    except (OSError, UnicodeDecodeError):
        present = ""
    if target.is_dir():
        raise UserInputError(f"{target} is a directory", "name a file for --kubeconfig-out")
    if present is not None and present != text and not force:
        raise UserInputError(
            f"{target} exists and holds something else (another cluster's kubeconfig?); it was left as it is",
            "name another file, or pass --force to replace it",
        )
    if present == text:
        context.ui.success(f"kubeconfig at {target} is already this one (0600)")
    else:
        try:
            write_private(target, text)
        except OSError as exc:
            raise OperationError(f"cannot write {target}: {exc.strerror}", "check the directory") from None
        context.ui.success(f"kubeconfig written to {target} (YAML, 0600)")
    target.chmod(0o600)
    if announce:  # not with --json: stdout is the JSON document then
        context.ui.out.file.write(f"export KUBECONFIG={shlex.quote(str(target))}\n")
