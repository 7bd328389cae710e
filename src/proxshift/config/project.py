"""Load and check everything a command needs: paths, site config, inventory, validation."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from proxshift.config.extra_manifests import extra_manifest_problems
from proxshift.config.inventory import Cluster, Inventory
from proxshift.config.inventory_loader import load_inventory
from proxshift.config.paths import Paths
from proxshift.config.rules import validate
from proxshift.config.settings import Settings, load_settings
from proxshift.errors import InvalidInput, Problem


@dataclass
class Project:
    """The validated inputs of one proxshift run."""

    paths: Paths
    settings: Settings
    inventory: Inventory
    warnings: list[Problem]

    def cluster(self, name: str) -> Cluster:
        return self.inventory.cluster(name)


def _concerns(problem: Problem, clusters: list[str]) -> bool:
    if not problem.location.startswith("clusters."):
        return True
    return any(problem.location == f"clusters.{c}" or problem.location.startswith(f"clusters.{c}.") for c in clusters)


def load_project(
    paths: Paths,
    *,
    need_site_config: bool = True,
    strict: bool = False,
    only: list[str] | None = None,
    on_settings: Callable[[Settings], None] | None = None,
) -> Project:
    """Everything is checked before anything is done; raise InvalidInput with every problem. `on_settings` is
    given the site config once it is read without error, before the inventory is (a login ahead, say)."""
    problems: list[Problem] = []
    try:
        settings = load_settings(paths)
    except InvalidInput as exc:
        problems += exc.problems
        settings = Settings()
    else:
        if on_settings is not None and paths.config is not None:
            on_settings(settings)
    if paths.config is None and need_site_config:
        tried = ", ".join(str(p) for p in paths.config_tried)
        problems.append(
            Problem(
                "site config",
                "",
                f"no site config found (looked in: {tried})",
                "create one (see docs/configuration.md) or pass --config / set PROXSHIFT_CONFIG",
            )
        )
    base_domain = settings.network_defaults.base_domain if settings.network_defaults else None
    inventory = load_inventory(paths.inventory, paths.shown(paths.inventory), base_domain)
    for name in only or []:
        if name not in inventory.broken_clusters:
            inventory.cluster(name)  # unknown names fail here, with the closest suggested
    problems += inventory.problems + validate(inventory, settings, only)
    for name, cluster in inventory.clusters.items():
        if not only or name in only:
            problems += extra_manifest_problems(paths, cluster)
    problems += list(settings.warnings)
    if only:
        problems = [p for p in problems if _concerns(p, only)]
    if any(p.is_error or strict for p in problems):
        raise InvalidInput(_dedupe(problems))
    return Project(paths, settings, inventory, _dedupe(problems))


def _dedupe(problems: list[Problem]) -> list[Problem]:
    return list(dict.fromkeys(problems))
