"""`proxshift doctor [<cluster>]`."""

from __future__ import annotations

from typing import Annotated

import typer

from proxshift.cli.context import AppContext
from proxshift.errors import ExitCode


def doctor(
    ctx: typer.Context,
    cluster: Annotated[str | None, typer.Argument(help="Also check Proxmox and DNS for this cluster.")] = None,
) -> None:
    """Check everything a provision needs, before it starts: a table of ok / warning / failed."""
    from proxshift.engine.doctor import run_checks
    from proxshift.engine.phases.base import Options
    from proxshift.engine.phases.flow import PHASES
    from proxshift.engine.provision import Provision

    context: AppContext = ctx.obj
    project = context.project(only=[cluster] if cluster else None, quiet=True)
    checks = run_checks(project, cluster, context.ui.warning)
    context.ui.table(
        None, ("CHECK", "STATUS", "DETAIL", "HINT"), [(c.name, c.status, c.detail, c.hint) for c in checks]
    )
    ui = context.ui
    ui.info("provision runs these phases: " + " → ".join(phase.name for phase in PHASES))
    if cluster:
        for phase, why in Provision(project, cluster, Options(), lambda event: None).outline():
            if why:
                ui.info(f"  {phase.name} is skipped for {cluster}: not configured: {why}")
    if any(c.status == "failed" for c in checks):
        raise typer.Exit(int(ExitCode.FAILED))
