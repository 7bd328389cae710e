"""VM lifecycle on Proxmox: `vms create`, `start`, `stop`, `deprovision`, `status`, `iso upload`."""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from proxshift.cli.completion import complete_cluster
from proxshift.cli.context import AppContext
from proxshift.cli.many import Parallel, for_each
from proxshift.errors import ProxshiftError

if TYPE_CHECKING:
    from proxshift.clients.proxmox.connection import Connection
    from proxshift.config.project import Project
    from proxshift.config.settings import Settings
    from proxshift.engine.vm_run import VmRun


DryRun = Annotated[bool, typer.Option("--dry-run", help="Print the per-VM plan with exact parameters; change nothing.")]
ClusterName = Annotated[
    str, typer.Argument(metavar="CLUSTER", help="Cluster name from the inventory.", autocompletion=complete_cluster)
]
ClusterNames = Annotated[
    list[str],
    typer.Argument(
        metavar="CLUSTER...", help="Cluster names from the inventory (one or more).", autocompletion=complete_cluster
    ),
]


def _progress(context: AppContext, cluster: str = ""):  # type: ignore[no-untyped-def]
    lock = threading.Lock()
    prefix = f"{cluster} " if cluster else ""

    def report(host: str, message: str) -> None:
        with lock:
            context.ui.info(f"  {prefix}{host}: {message}")

    return report


class _EarlyLogin:
    """The site config's callback that logs in to Proxmox on a thread while the inventory is read and checked
    (engine/connections.log_in_early); `take()` hands the connection over once."""

    def __init__(self) -> None:
        self.connection: Connection | None = None

    def __call__(self, settings: Settings) -> None:
        from proxshift.engine.connections import log_in_early

        self.connection = log_in_early(settings)

    def take(self) -> Connection | None:
        connection, self.connection = self.connection, None
        return connection


def _locked(project: Project, cluster: str, command: str, dry_run: bool) -> contextlib.AbstractContextManager[None]:
    """Each cluster's own lock, in the thread that works on it (one cluster: already held, by cli/main.py's
    wrapper, and a nested take is free); a dry run changes nothing and takes none."""
    from proxshift.engine.lock import cluster_lock

    if dry_run:
        return contextlib.nullcontext()
    return cluster_lock(project.paths.install_dir(cluster), f"proxshift {command} {cluster}")


def _show_each(context: AppContext, outcomes: list[tuple[str, VmRun | ProxshiftError]], dry_run: bool) -> None:
    """One cluster: its table (or its error, through the boundary). Several: each under a `# <cluster>` line,
    then the worst exit code."""
    if len(outcomes) == 1:
        outcome = outcomes[0][1]
        if isinstance(outcome, ProxshiftError):
            raise outcome
        _show(context, outcome, dry_run)
        return
    codes = []
    for cluster, outcome in outcomes:
        context.ui.out.file.write(f"# {cluster}\n")
        if isinstance(outcome, ProxshiftError):
            context.ui.error(outcome)
            codes.append(int(outcome.exit_code))
            continue
        try:
            _show(context, outcome, dry_run)
            codes.append(0)
        except ProxshiftError as exc:
            context.ui.error(exc)
            codes.append(int(exc.exit_code))
    from proxshift.engine.fleet import worst  # its events module: ~10-80 ms, on the way out of every VM command

    if worst(codes):
        raise typer.Exit(worst(codes))


def _show(context: AppContext, run: VmRun, dry_run: bool, again: str = "then run the command again") -> None:
    ui = context.ui
    if dry_run:
        for plan in run.plans:
            action = run.intent or plan.action
            state = f"{plan.status or 'absent'}, {plan.reason}" if run.intent else plan.reason
            ui.out.file.write(f"{action:<10} {plan.spec.host} (vmid {plan.spec.vmid} on {plan.spec.node}): {state}\n")
            for difference in plan.drift:
                ui.out.file.write(f"           {difference}\n")
            if plan.action in ("create", "recreate"):
                for key, value in plan.spec.params.items():
                    ui.out.file.write(f"           {key}={value}\n")
        for note in run.notes:
            ui.out.file.write(f"{note}\n")
        ui.info("dry run: nothing was changed")
        return
    ui.table(
        None,
        ("HOST", "VMID", "NODE", "ACTION", "RESULT", "TIME"),
        [
            (
                r.host,
                str(r.vmid or "-"),
                r.node,
                r.action,
                ("ok: " if r.ok else "FAILED: ") + r.detail,
                f"{r.seconds:.1f}s",
            )
            for r in run.results
        ],
    )
    if (failure := run.failure(again)) is not None:  # a failed VM ends the command: its error, exit 1
        raise failure


def vms_create(
    ctx: typer.Context,
    name: ClusterName,
    force: Annotated[
        bool, typer.Option(help="Recreate proxshift's VMs that differ from the inventory (lists them, asks).")
    ] = False,
    yes: Annotated[
        bool, typer.Option("--yes", help="Do not ask before --force recreates (needed without a terminal).")
    ] = False,
    dry_run: DryRun = False,
) -> None:
    """Create the cluster's VMs (one API call each, in parallel); leave matching ones alone."""
    from proxshift.cli.consent import asker
    from proxshift.engine.connections import proxmox_for
    from proxshift.engine.teardown import RECREATE_QUESTION, recreate_items
    from proxshift.engine.vm_lifecycle import create_vms
    from proxshift.errors import Aborted

    context: AppContext = ctx.obj
    early = _EarlyLogin()
    prox, cluster = proxmox_for(context.project(only=[name], on_settings=early), name, context.ui.warning, early.take())
    if dry_run:
        _show(context, create_vms(prox, cluster, force=force, dry_run=True), dry_run)
        return
    if force:  # the VMs it would recreate are listed, and asked about, before the first is destroyed
        items = recreate_items(create_vms(prox, cluster, force=True, dry_run=True).plans)
        if items and not asker(context.ui, yes, f"vms create {name} --force")(RECREATE_QUESTION, items):
            raise Aborted()
    _show(context, create_vms(prox, cluster, force=force, progress=_progress(context)), dry_run)


def start(ctx: typer.Context, name: ClusterNames, dry_run: DryRun = False, parallel: Parallel = 1) -> None:
    """Start every VM of the clusters and wait until each runs."""
    from proxshift.engine.connections import proxmox_for
    from proxshift.engine.vm_lifecycle import start_vms

    context: AppContext = ctx.obj
    names = list(dict.fromkeys(name))
    early = _EarlyLogin()
    project = context.project(only=names, on_settings=early if len(names) == 1 else None)

    def one(cluster_name: str) -> VmRun:
        with _locked(project, cluster_name, "start", dry_run):
            prox, cluster = proxmox_for(project, cluster_name, context.ui.warning, early.take())
            progress = _progress(context, cluster_name if len(names) > 1 else "")
            return start_vms(prox, cluster, dry_run=dry_run, progress=progress)

    _show_each(context, for_each(names, parallel, one), dry_run)


def stop(
    ctx: typer.Context,
    name: ClusterNames,
    force: Annotated[bool, typer.Option(help="Hard-stop VMs that do not shut down in time.")] = False,
    timeout: Annotated[int, typer.Option(help="Seconds to wait for a graceful shutdown.")] = 120,
    dry_run: DryRun = False,
    parallel: Parallel = 1,
) -> None:
    """Shut the clusters' VMs down gracefully (hard stop only with --force)."""
    from proxshift.engine.connections import proxmox_for
    from proxshift.engine.vm_lifecycle import stop_vms

    context: AppContext = ctx.obj
    names = list(dict.fromkeys(name))
    early = _EarlyLogin()
    project = context.project(only=names, on_settings=early if len(names) == 1 else None)

    def one(cluster_name: str) -> VmRun:
        with _locked(project, cluster_name, "stop", dry_run):
            prox, cluster = proxmox_for(project, cluster_name, context.ui.warning, early.take())
            progress = _progress(context, cluster_name if len(names) > 1 else "")
            return stop_vms(prox, cluster, force=force, timeout=timeout, dry_run=dry_run, progress=progress)

    _show_each(context, for_each(names, parallel, one), dry_run)


def deprovision(
    ctx: typer.Context,
    cluster: ClusterName,
    yes: Annotated[
        bool, typer.Option("--yes", help="Do not ask for confirmation (needed without a terminal).")
    ] = False,
    keep_iso: Annotated[bool, typer.Option(help="Keep the ISO proxshift uploaded.")] = False,
    keep_acm: Annotated[bool, typer.Option(help="Leave it on the ACM hub (also when the hub is unreachable).")] = False,
    keep_files: Annotated[bool, typer.Option(help="Keep ocp_install/<cluster> where it is.")] = False,
    no_backup: Annotated[
        bool, typer.Option("--no-backup", help="Do not back the cluster's Secrets up first (post_install.backup).")
    ] = False,
    dry_run: DryRun = False,
) -> None:
    """Back up its Secrets (when configured), detach from ACM, destroy the VMs proxshift created, remove its ISO,
    archive the install dir."""
    from functools import partial

    from proxshift.cli.consent import asker
    from proxshift.engine.connections import proxmox_for
    from proxshift.engine.deprovision import deprovision as take_down
    from proxshift.errors import Aborted

    context: AppContext = ctx.obj
    ui = context.ui
    project = context.project(only=[cluster])
    prox = proxmox_for(project, cluster, ui.warning)[0]
    take = partial(
        take_down,
        project,
        cluster,
        keep_iso=keep_iso,
        keep_acm=keep_acm,
        keep_files=keep_files,
        backup=not no_backup,
        prox=prox,
    )
    plan = take(dry_run=True, notify=ui.warning)  # the refusals (a foreign VM, an unwritable dir) come first
    if dry_run:
        for item in plan.items(project.paths.shown):
            ui.out.file.write(item + "\n")
    if plan.refusal is not None:  # the hub out of reach: shown in the plan above, and refused either way
        raise plan.refusal
    if dry_run:
        ui.info("dry run: nothing was changed")
        return
    confirm = asker(ui, yes, f"deprovision {cluster}")
    if not confirm(f"deprovision {cluster}: this goes (and this stays):", plan.items(project.paths.shown)):
        raise Aborted()
    teardown = take(notify=ui.warning, report=ui.info, progress=_progress(context))  # e.g. why a backup was skipped
    if teardown.acm_skipped:
        ui.info(f"ACM detach skipped: {teardown.acm_skipped}")
    again = f"then 'proxshift deprovision {cluster}' again (the install directory stays until every VM is gone)"
    _show(context, teardown.run, False, again)
    if teardown.archive:
        ui.info(f"install directory archived to {project.paths.shown(teardown.archive)}")


def status(
    ctx: typer.Context,
    name: ClusterNames,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print JSON instead of a table (several clusters: an array).")
    ] = False,
    parallel: Parallel = 4,
) -> None:
    """Each VM: exists, ours, power state, uptime, node, CPU and memory use, drift from the inventory."""
    from proxshift.engine.connections import proxmox_for
    from proxshift.engine.fleet import worst
    from proxshift.engine.vm_lifecycle import vm_status

    context: AppContext = ctx.obj
    names = list(dict.fromkeys(name))
    project = context.project(only=names, quiet=as_json)

    def one(cluster_name: str) -> dict[str, Any]:
        prox, cluster = proxmox_for(project, cluster_name, context.ui.warning)
        return {"cluster": cluster_name, "vms": vm_status(prox, cluster), "acm": _acm_state(project, cluster_name)}

    outcomes = for_each(names, parallel, one)
    found = [outcome for _, outcome in outcomes if not isinstance(outcome, ProxshiftError)]
    failures = [outcome for _, outcome in outcomes if isinstance(outcome, ProxshiftError)]
    if len(names) == 1 and failures:
        raise failures[0]
    if as_json:
        context.ui.json(found[0] if len(names) == 1 else found)
    else:
        _status_table(context, found, several=len(names) > 1)
    for failure in failures:
        context.ui.error(failure)
    if failures:
        raise typer.Exit(worst([int(f.exit_code) for f in failures]))


def _status_table(context: AppContext, found: list[dict[str, Any]], several: bool) -> None:
    columns = ("HOST", "VMID", "NODE", "EXISTS", "OURS", "STATE", "UPTIME", "CPU", "MEMORY", "DRIFT")
    rows = [
        (
            *((one["cluster"],) if several else ()),
            r["host"],
            str(r["vmid"]),
            r["node"],
            "yes" if r["exists"] else "no",
            "yes" if r["ours"] else ("-" if not r["exists"] else "NO"),
            r["status"],
            f"{r.get('uptime', 0) // 60} min" if r.get("uptime") else "-",
            f"{r['cpu'] * 100:.0f}%" if "cpu" in r else "-",
            f"{r['mem'] // 2**20}/{r['maxmem'] // 2**20} MiB" if r.get("maxmem") else "-",
            "; ".join(r["drift"]) or r["note"] or "-",
        )
        for one in found
        for r in one["vms"]
    ]
    context.ui.table(None, (("CLUSTER",) if several else ()) + columns, rows)
    for one in found:
        context.ui.out.file.write(f"ACM{' ' + one['cluster'] if several else ''}: {one['acm']}\n")


def _acm_state(project: Project, cluster: str) -> str:
    """joined / available / pending / missing on the hub, or why it is not known."""
    from proxshift.engine.acm_flow import acm_context
    from proxshift.errors import ProxshiftError

    try:
        acm = acm_context(project, cluster, "manual")
        if acm.skipped or acm.hub is None:
            return f"n/a ({acm.skipped})"
        from proxshift.clients.acm import state

        return state(acm.hub, cluster)
    except ProxshiftError as exc:
        return f"unknown ({exc.message})"


def iso_upload(
    ctx: typer.Context,
    name: ClusterName,
    iso: Annotated[
        Path | None, typer.Option(help="ISO file [default: <root>/ocp_install/<cluster>/agent.x86_64.iso].")
    ] = None,
    replace: Annotated[bool, typer.Option(help="Replace an ISO of the same name that differs.")] = False,
    from_url: Annotated[str | None, typer.Option(help="Let Proxmox download the ISO from this URL instead.")] = None,
    dry_run: DryRun = False,
) -> None:
    """Upload the agent ISO to the storage named by the inventory's iso_image."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TaskID, TimeRemainingColumn, TransferSpeedColumn

    from proxshift.engine.connections import proxmox_for
    from proxshift.engine.iso_upload import IsoTarget, download_iso, upload_iso

    context: AppContext = ctx.obj
    project = context.project(only=[name])
    prox, cluster = proxmox_for(project, name, context.ui.warning)
    install_dir = project.paths.install_dir(name)
    if from_url:
        for node, volume in download_iso(prox, cluster, from_url, dry_run=dry_run):
            if dry_run:
                context.ui.info(f"{node} would download {from_url} to {volume}")
            else:
                context.ui.success(f"{node} downloaded {from_url} to {volume}")
        return
    path = iso or install_dir.iso
    bars = Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=context.ui.err,
        transient=False,
    )
    tasks: dict[str, TaskID] = {}

    def progress(target: IsoTarget, done: int, total: int) -> None:
        key = f"{target.node}:{target.volid}"
        if key not in tasks:
            tasks[key] = bars.add_task(f"{target.volid} → {target.node}", total=total)
        bars.update(tasks[key], completed=done)

    with bars:
        targets = upload_iso(prox, cluster, path, install_dir, replace=replace, dry_run=dry_run, progress=progress)
    for target in targets:
        verb = {"skip": "skipped (already there)", "upload": "uploaded", "replace": "replaced"}[target.action]
        if dry_run:
            verb = {"skip": "would skip (already there)", "upload": "would upload", "replace": "would replace"}[
                target.action
            ]
        context.ui.info(f"{target.volid} on {target.node}: {verb}")
