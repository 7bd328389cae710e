"""`clusters`, `show` and `validate`: read-only views of the inventory."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Any

import typer

from proxshift.cli.completion import complete_cluster
from proxshift.cli.context import AppContext

if TYPE_CHECKING:
    from proxshift.errors import Problem


def clusters(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """List the clusters of the inventory."""
    from proxshift.cli.listing_cache import listing_key, read_listing, write_listing

    context: AppContext = ctx.obj
    key = listing_key(context.paths)
    listing = read_listing(key) if key else None
    if listing is None:
        from proxshift.cli.views import cluster_summary

        project = context.project(need_site_config=False, quiet=True)
        listing = {
            "clusters": [cluster_summary(c) for c in project.inventory.clusters.values()],
            "warnings": len(project.warnings),
        }
        if key:
            write_listing(key, listing)
    elif listing["warnings"]:
        context.ui.warnings_pointer(listing["warnings"])
    summaries = listing["clusters"]
    if as_json:
        context.ui.json(summaries)
        return
    rows = [
        (s["name"], s["topology_label"], s["version"], s["api_address"] or "-", ", ".join(s["pve_nodes"]))
        for s in summaries
    ]
    context.ui.table(None, ("CLUSTER", "TOPOLOGY", "VERSION", "API ADDRESS", "PROXMOX NODES"), rows)


def show(
    ctx: typer.Context,
    cluster: Annotated[str, typer.Argument(help="Cluster name from the inventory.", autocompletion=complete_cluster)],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
) -> None:
    """Show every node of a cluster with its derived settings."""
    context: AppContext = ctx.obj
    from proxshift.cli.views import cluster_details

    project = context.project(only=[cluster])
    details = cluster_details(project.cluster(cluster), project.settings)
    if as_json:
        context.ui.json(details)
        return
    ui = context.ui
    facts = [
        ("cluster", details["name"]),
        ("topology", project.cluster(cluster).topology_label),
        ("version", details["version"]),
        ("base domain", details["base_domain"] or "-"),
        ("API address", details["api_address"] or "-"),
        ("ingress address", details["ingress_vip"] or details["api_address"] or "-"),
        ("rendezvous IP", details["rendezvous_ip"] or "-"),
    ]
    if details["network"]:
        facts += [
            (k.replace("_", " "), v if isinstance(v, str) else ", ".join(v)) for k, v in details["network"].items()
        ]
    if details["acm_labels"]:
        facts.append(("ACM labels", json.dumps(details["acm_labels"], sort_keys=True)))
    ui.table(None, ("SETTING", "VALUE"), facts)
    hosts = details["hosts"]
    ui.newline()
    ui.table(
        None,
        ("HOST", "ROLE", "IP", "MAC", "VMID", "NODE", "VCPU", "MEMORY"),
        [
            (
                h["name"],
                h["role"],
                h["ip"] or "-",
                h["mac"] or "-",
                str(h["vmid"]),
                h["pve_node"],
                str(h["cores"] * h["sockets"]),
                f"{h['memory_mb']} MiB",
            )
            for h in hosts
        ],
    )
    ui.table(
        None,
        ("HOST", "DISKS", "NICS", "ROOT DEVICE"),
        [
            (
                h["name"],
                "\n".join(h["disks_text"]),
                "\n".join(h["nics_text"]),
                f"wwn {h['root_device_wwn']}" if h["root_device_wwn"] else "- (no hint)",
            )
            for h in hosts
        ],
    )


def validate(
    ctx: typer.Context,
    clusters: Annotated[
        list[str] | None, typer.Argument(help="Clusters to check (default: all).", autocompletion=complete_cluster)
    ] = None,
    strict: Annotated[bool, typer.Option(help="Treat warnings as errors.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the verdict and every problem as JSON.")] = False,
) -> None:
    """Check the inventory and the site config; exit 2 on any error."""
    from proxshift.errors import ExitCode, InvalidInput

    context: AppContext = ctx.obj
    if as_json:
        try:
            project = context.project(strict=strict, only=clusters or None, quiet=True)
        except InvalidInput as exc:
            context.ui.json(_verdict(clusters or [], exc.problems, strict))
            raise typer.Exit(int(ExitCode.BAD_INPUT)) from None
        names = clusters or list(project.inventory.clusters)
        context.ui.json(_verdict(names, project.warnings, strict))
        return
    project = context.project(strict=strict, only=clusters or None)
    names = clusters or list(project.inventory.clusters)
    warnings = len(project.warnings)
    suffix = f" ({warnings} warning{'s' if warnings != 1 else ''})" if warnings else ""
    context.ui.success(f"{len(names)} cluster{'s' if len(names) != 1 else ''} valid: {', '.join(names)}{suffix}")


def _verdict(names: list[str], problems: Sequence[Problem], strict: bool) -> dict[str, Any]:
    """validate --json: the verdict, the counts, and each problem with its file, line, location and fix."""
    errors = sum(1 for p in problems if p.is_error or strict)
    return {
        "valid": errors == 0,
        "clusters": names,
        "errors": errors,
        "warnings": len(problems) - errors,
        "problems": [
            {
                "severity": "error" if p.is_error or strict else "warning",
                "file": p.file,
                "line": p.line,
                "location": p.location,
                "message": p.message,
                "fix": p.fix or None,
            }
            for p in problems
        ],
    }
