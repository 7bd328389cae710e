"""`proxshift doctor [<cluster>]`."""

from __future__ import annotations

from typing import Annotated

import typer

from proxshift.cli.completion import complete_cluster
from proxshift.cli.context import AppContext
from proxshift.errors import ExitCode


def doctor(
    ctx: typer.Context,
    cluster: Annotated[
        str | None, typer.Argument(help="Also check Proxmox and DNS for this cluster.", autocompletion=complete_cluster)
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Check everything a provision needs, before it starts: a table of ok / warning / failed, one row per
    problem."""
    from proxshift.engine.doctor import run_checks
    from proxshift.engine.phases.base import Options
    from proxshift.engine.phases.flow import PHASES
    from proxshift.engine.provision import Provision

    context: AppContext = ctx.obj
    project = context.project(only=[cluster] if cluster else None, quiet=True)
    checks = run_checks(project, cluster, context.ui.warning)
    outline = Provision(project, cluster, Options(), lambda event: None).outline() if cluster else []
    skipped = {phase.name: why for phase, why in outline if why}
    failed = any(c.status == "failed" for c in checks)
    ui = context.ui
    if as_json:
        ui.json(
            {
                "cluster": cluster,
                "ok": not failed,
                "checks": [c.as_dict() for c in checks],
                "phases": [phase.name for phase in PHASES],
                "not_configured": skipped,
            }
        )
    else:
        ui.table(None, ("CHECK", "STATUS", "DETAIL", "HINT"), [(c.name, c.status, c.detail, c.hint) for c in checks])
        ui.info("provision runs these phases: " + " → ".join(phase.name for phase in PHASES))
        for name, why in skipped.items():
            ui.info(f"  {name} is skipped for {cluster}: not configured: {why}")
    if failed:
        raise typer.Exit(int(ExitCode.FAILED))
