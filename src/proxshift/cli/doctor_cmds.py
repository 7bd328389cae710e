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

    context: AppContext = ctx.obj
    project = context.project(only=[cluster] if cluster else None, quiet=True)
    checks = run_checks(project, cluster, context.ui.warning)
    context.ui.table(
        None, ("CHECK", "STATUS", "DETAIL", "HINT"), [(c.name, c.status, c.detail, c.hint) for c in checks]
    )
    if any(c.status == "failed" for c in checks):
        raise typer.Exit(int(ExitCode.FAILED))
