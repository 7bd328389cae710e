"""Shell completion of cluster names: from the cached `clusters` listing, so a TAB costs no pydantic.

Typer calls `complete_cluster` with the line parsed so far (the group's --root, --config and --inventory
included) when the shell asks (`proxshift --install-completion` sets that up). Nothing here may print: the
shell reads stdout as the candidates.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer


def _names(ctx: typer.Context) -> list[tuple[str, str]]:
    from proxshift.cli.listing_cache import listing_key, read_listing, write_listing
    from proxshift.config.paths import discover_paths

    given: dict[str, Any] = ctx.find_root().params
    paths = discover_paths(*(Path(given[k]) if given.get(k) else None for k in ("root", "config", "inventory")))
    key = listing_key(paths)
    listing = read_listing(key) if key else None
    if listing is None:  # the first TAB after an edit: read the inventory once, and cache the listing
        from proxshift.cli.views import cluster_summary
        from proxshift.config.project import load_project

        project = load_project(paths, need_site_config=False)
        listing = {
            "clusters": [cluster_summary(c) for c in project.inventory.clusters.values()],
            "warnings": len(project.warnings),
        }
        if key:
            write_listing(key, listing)
    return [(c["name"], str(c.get("topology_label", ""))) for c in listing["clusters"]]


def complete_cluster(ctx: typer.Context, incomplete: str) -> list[tuple[str, str]]:
    """The inventory's cluster names that start with what is typed and are not on the line yet, each with its
    topology as help (zsh and fish show it)."""
    try:
        names = _names(ctx)
    except Exception:  # a broken inventory completes nothing; the command itself will say why
        return []
    given = ctx.params.get("cluster")  # `provision a b`: the clusters already on the line
    taken = set(given) if isinstance(given, (list, tuple)) else set()
    return [(name, label) for name, label in names if name.startswith(incomplete) and name not in taken]
