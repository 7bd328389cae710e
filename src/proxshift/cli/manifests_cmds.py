"""`manifests` and `vault check`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from proxshift.cli.completion import complete_cluster
from proxshift.cli.context import AppContext
from proxshift.errors import ExitCode


def manifests(
    ctx: typer.Context,
    cluster: Annotated[str, typer.Argument(help="Cluster name from the inventory.", autocompletion=complete_cluster)],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print both manifests, secrets redacted; write nothing.")
    ] = False,
    no_vault: Annotated[
        bool, typer.Option("--no-vault", help="Render with placeholders, without Vault; writes only with --output-dir.")
    ] = False,
    output_dir: Annotated[Path | None, typer.Option(help="Write here instead of <root>/ocp_install/<cluster>.")] = None,
    templates_dir: Annotated[Path | None, typer.Option(help="Template overrides [default: <root>/templates].")] = None,
) -> None:
    """Render and check install-config.yaml and agent-config.yaml for a cluster."""
    from proxshift.engine.manifests_flow import generate_manifests

    context: AppContext = ctx.obj
    project = context.project(only=[cluster])
    result = generate_manifests(
        project,
        cluster,
        dry_run=dry_run,
        no_vault=no_vault,
        output_dir=output_dir,
        templates_dir=templates_dir,
        notify=context.ui.warning,
    )
    ui = context.ui
    ui.problems(result.warnings)
    extra = [project.paths.shown(p) for p in result.extra]
    if result.report is None:
        for name, text in result.redacted.items():
            ui.out.file.write(f"# {name}\n{text}")
        for shown in extra:
            ui.out.file.write(f"# extra manifest {shown} -> openshift/\n")
        if dry_run:
            ui.info("dry run: nothing was written")
        return
    report = result.report
    if report.moved_to_history:
        ui.info(f"previous files moved to {project.paths.shown(report.moved_to_history)}")
    for path in report.written:
        ui.success(f"wrote {project.paths.shown(path)} (0600)")
    for path in report.unchanged:
        ui.info(f"unchanged {project.paths.shown(path)}")
    for shown in extra:
        ui.success(f"copied {shown} into openshift/")


def vault_check(
    ctx: typer.Context,
    cluster: Annotated[
        str | None, typer.Argument(help="Probe the credentials path of this cluster.", autocompletion=complete_cluster)
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Read every vault item and probe write access to the credentials path (nothing is written)."""
    from proxshift.engine.vault_check import check_vault

    context: AppContext = ctx.obj
    project = context.project(only=[cluster] if cluster else None, quiet=as_json)
    rows = check_vault(project, cluster, notify=context.ui.warning)
    if as_json:
        items = [{"item": r.item, "path": r.path, "ok": r.ok, "detail": r.detail} for r in rows]
        context.ui.json({"cluster": cluster, "ok": all(r.ok for r in rows), "items": items})
    else:
        context.ui.table(
            None,
            ("ITEM", "PATH", "STATUS", "DETAIL"),
            [(r.item, r.path, "ok" if r.ok else "FAILED", r.detail) for r in rows],
        )
    if not all(r.ok for r in rows):
        raise typer.Exit(int(ExitCode.FAILED))
