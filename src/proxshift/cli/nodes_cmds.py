"""`nodes add`: day-2 workers from the inventory, joined with their two CSRs approved (docs/day2.md)."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Annotated

import typer

from proxshift.cli.completion import complete_cluster
from proxshift.cli.context import AppContext
from proxshift.errors import OperationError

if TYPE_CHECKING:
    from proxshift.config.project import Project
    from proxshift.engine.nodes_add import AddNodesOutcome
    from proxshift.engine.nodes_plan import AddNodesPlan


def nodes_add(
    ctx: typer.Context,
    cluster: Annotated[
        str,
        typer.Argument(metavar="CLUSTER", help="Cluster name from the inventory.", autocompletion=complete_cluster),
    ],
    hosts: Annotated[
        list[str] | None,
        typer.Argument(metavar="[HOST]...", help="Inventory hosts to add [default: every host that is not a Node]."),
    ] = None,
    timeout: Annotated[str, typer.Option(help="Give up waiting for the hosts after this long (90m, 2h).")] = "90m",
    poll_interval: Annotated[float, typer.Option(help="Seconds between looks at the hosts and CSRs.")] = 5.0,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the hosts, VMs, ISO and oc command; change nothing.")
    ] = False,
) -> None:
    """Add the cluster's inventory hosts that are not Nodes yet as workers: ISO, VMs, join, CSRs."""
    from proxshift.config.durations import parse_duration
    from proxshift.engine.nodes_add import add_nodes

    context: AppContext = ctx.obj
    ui = context.ui
    project = context.project(only=[cluster])
    lock = threading.Lock()

    def progress(host: str, message: str) -> None:
        with lock:
            ui.info(f"  {host}: {message}")

    outcome = add_nodes(
        project,
        cluster,
        hosts or [],
        dry_run=dry_run,
        timeout=parse_duration(timeout),
        poll=poll_interval,
        report=ui.info,
        notify=ui.warning,
        progress=progress,
    )
    plan = outcome.plan
    if not plan.hosts:
        ui.success(f"nothing to add: every host of {cluster} in the inventory is a Node")
        return
    if dry_run:
        _show_plan(context, project, plan)
        return
    _summary(context, outcome)


def _show_plan(context: AppContext, project: Project, plan: AddNodesPlan) -> None:
    from proxshift.clients.node_image import REGISTRY_CONFIG_SHOWN, command

    write = context.ui.out.file.write
    write(f"cluster    {plan.name}: OpenShift {plan.version}, API {plan.api}")
    write(f" (kubeconfig from {plan.kubeconfig_source})\n")
    for node in plan.hosts:
        write(f"add        {node.name} (worker, {node.ip}, vmid {node.spec.vmid} on {node.spec.pve_node})\n")
    if plan.run_dir is not None:
        write(f"write      {project.paths.shown(plan.run_dir.nodes_config)} (the hosts' agent-config entries)\n")
    if plan.oc is not None and plan.run_dir is not None:
        argv = command(plan.oc.path, plan.run_dir, REGISTRY_CONFIG_SHOWN, plan.oc.has_report)
        write(f"run        KUBECONFIG=<temporary 0600 copy> {' '.join(argv)}")
        write(f"   (oc {plan.oc.version}, {plan.oc.source})\n")
    elif plan.oc_problem is not None:
        write(f"run        oc adm node-image create: {plan.oc_problem.message}\n")
    for iso in plan.isos:
        write(f"{iso.action:<10} {iso.volid} on {iso.node}\n")
    for vm in plan.vms:
        write(f"{vm.action:<10} VM {vm.spec.host} (vmid {vm.spec.vmid} on {vm.spec.node}): {vm.reason}\n")
        if vm.action in ("create", "recreate"):
            for key, value in vm.spec.params.items():
                write(f"           {key}={value}\n")
    write("start      the VMs, then approve per host its client and its serving CSR, and nothing else\n")
    write("eject      the CD of each host once its Node is Ready\n")
    context.ui.info("dry run: nothing was changed")


def _summary(context: AppContext, outcome: AddNodesOutcome) -> None:
    ui = context.ui
    join = outcome.join
    if join is None:
        return
    for csr, host, kind in join.approved:
        ui.info(f"approved: {kind} CSR {csr} of {host}")
    for verdict in join.left_pending:
        ui.info(f"not approved: CSR {verdict.csr}: {verdict.reason}")
    for host in join.without_serving:
        ui.warning(f"{host} is Ready but its serving CSR did not come: see docs/day2.md before approving one by hand")
    for note in outcome.notes:
        ui.debug(note)
    if join.timed_out:
        states = "; ".join(f"{h.joining.name}: {h.state}" for h in join.hosts if not h.ready)
        raise OperationError(
            f"not every host joined within {join.seconds / 60:.0f} min ({states})",
            "see docs/day2.md, 'A host never asks for its certificate'; run 'proxshift nodes add "
            f"{outcome.plan.name}' again to carry on",
        )
    took = f"{join.seconds:.0f} s" if join.seconds < 120 else f"{join.seconds / 60:.0f} min"
    ui.success(f"{', '.join(join.ready)} joined {outcome.plan.name} and Ready ({took} after their VMs started)")
