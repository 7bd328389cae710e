"""`backup` and `restore`: a cluster's Secrets and certificates into Vault, and back into a (rebuilt) cluster.

Both hold the cluster's lock (cli/main.py wires it) except with --dry-run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from proxshift.cli.completion import complete_cluster
from proxshift.cli.context import AppContext

ClusterName = Annotated[
    str, typer.Argument(metavar="CLUSTER", help="Cluster name from the inventory.", autocompletion=complete_cluster)
]


def backup(
    ctx: typer.Context,
    cluster: ClusterName,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Read the cluster and Vault; say what would be written.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Keep the cluster's listed Secrets (and certificates) in Vault, at <vault_path>/backups/<cluster>/."""
    from dataclasses import asdict

    from proxshift.engine.backup import backup as save

    context: AppContext = ctx.obj
    ui = context.ui
    project = context.project(only=[cluster], quiet=as_json)
    saved = save(project, cluster, dry_run=dry_run, notify=ui.warning)
    if as_json:
        ui.json([asdict(s) for s in saved])
    else:
        ui.table(
            None,
            ("SECRET", "ROLE", "VAULT", "RESULT"),
            [(f"{s.namespace}/{s.name}", s.role, s.location, s.result) for s in saved],
        )
    if dry_run:
        ui.info("dry run: nothing was written")


def restore(
    ctx: typer.Context,
    cluster: ClusterName,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Say what would be applied; change nothing.")] = False,
    from_dir: Annotated[
        Path | None,
        typer.Option("--from-dir", help="Restore the predecessor's <namespace>-<name>.yaml files instead of Vault's."),
    ] = None,
    timeout: Annotated[str, typer.Option(help="Each wait for a ClusterOperator (e.g. 20m).")] = "20m",
    poll_interval: Annotated[float, typer.Option(help="Seconds between polls.")] = 5.0,
) -> None:
    """Apply the cluster's backed-up Secrets; repoint ingress, then the API, at restored certificates."""
    from proxshift.config.durations import parse_duration
    from proxshift.engine.restore import restore as bring_back

    context: AppContext = ctx.obj
    ui = context.ui
    project = context.project(only=[cluster])
    lines = bring_back(
        project,
        cluster,
        source=from_dir,
        dry_run=dry_run,
        timeout=parse_duration(timeout),
        poll=poll_interval,
        notify=ui.warning,
        report=ui.info if not dry_run else lambda line: None,
    )
    if dry_run:
        for line in lines:
            ui.out.file.write(line + "\n")
        ui.info("dry run: nothing was changed")
    else:
        ui.success(f"{cluster}: restore done")
