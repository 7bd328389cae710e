"""`post` (the phases after the install, on an installed cluster) and `health`."""

from __future__ import annotations

from typing import Annotated

import typer

from proxshift.cli.acm_cmds import HubFile
from proxshift.cli.context import AppContext
from proxshift.errors import ExitCode


def post(
    ctx: typer.Context,
    cluster: Annotated[str, typer.Argument(help="Cluster name from the inventory.")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the plan; change nothing anywhere.")] = False,
    only: Annotated[str | None, typer.Option(metavar="PHASE", help="Run only this phase.")] = None,
    skip: Annotated[
        list[str] | None, typer.Option(metavar="PHASE", help="Skip this phase (repeatable), e.g. --skip storage.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON event per line instead of the live view.")] = False,
    poll_interval: Annotated[
        float, typer.Option(min=0.01, help="Most seconds between two looks at the cluster.")
    ] = 5.0,
    hub_kubeconfig: HubFile = None,
) -> None:
    """Finish an installed cluster: the phases after the ACM import (restore, node labels, GitOps, ESO, the root
    Application, the default StorageClass, health)."""
    from proxshift.cli.render.choose import ending_with_error, renderer
    from proxshift.cli.render.plan import plan_text
    from proxshift.engine.phases.base import Options
    from proxshift.engine.post import Post

    context: AppContext = ctx.obj
    ui = context.ui
    options = Options(only=only, skip=tuple(skip or ()), wait_poll=poll_interval, hub_kubeconfig=hub_kubeconfig)
    if dry_run:
        project = context.project(only=[cluster], quiet=as_json)
        with renderer(ui) as report:  # warnings on stderr; the plan is the output
            plans = Post(project, cluster, options, report).plan()
        if as_json:
            ui.json([plan.as_dict() for plan in plans])
        else:
            ui.stdout.write(plan_text(plans))
        ui.info("dry run: nothing was changed anywhere")
        return
    with renderer(ui, as_json) as report, ending_with_error(report):
        project = context.project(only=[cluster], quiet=as_json)
        Post(project, cluster, options, report).run()


def health(
    ctx: typer.Context,
    cluster: Annotated[str, typer.Argument(help="Cluster name from the inventory.")],
    as_json: Annotated[bool, typer.Option("--json", help="The checks as JSON on stdout.")] = False,
    hub_kubeconfig: HubFile = None,
) -> None:
    """Check an installed cluster: VMs, API, its certificate, ClusterVersion, operators, Nodes, ACM. Exit 1 when
    anything failed."""
    from proxshift.engine.health import cluster_health

    context: AppContext = ctx.obj
    ui = context.ui
    project = context.project(only=[cluster], quiet=as_json)
    report = cluster_health(project, cluster, ui.warning, hub_kubeconfig)
    if as_json:
        ui.json(report.as_dict())
    else:
        ui.table(
            None, ("CHECK", "STATUS", "DETAIL", "HINT"), [(c.name, c.status, c.detail, c.hint) for c in report.checks]
        )
        failed = sum(1 for c in report.checks if c.status == "failed")
        ui.info(f"{cluster}: healthy" if report.healthy else f"{cluster}: {failed} failed")
    if not report.healthy:
        raise typer.Exit(int(ExitCode.FAILED))
