"""`manifests`: read the secrets, render, check and write install-config and agent-config."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from proxshift.config.extra_manifests import extra_manifests
from proxshift.config.install_dir import InstallDir
from proxshift.config.project import Project
from proxshift.engine.connections import Notify, ignore, vault_for
from proxshift.errors import Problem, file_error
from proxshift.manifests.check import check, require_valid
from proxshift.manifests.context import build_context
from proxshift.manifests.render import RenderedManifests, render
from proxshift.manifests.write import WriteReport, write
from proxshift.secret import InstallSecrets

if TYPE_CHECKING:
    from proxshift.config.inventory import Cluster


@dataclass
class ManifestsResult:
    """What `manifests` did: the redacted texts (for printing) and what was written."""

    redact: Callable[[], RenderedManifests] = field(repr=False)
    warnings: list[Problem]
    report: WriteReport | None = None
    extra: list[Path] = field(default_factory=list)  # the extra manifests (copied into openshift/ unless a dry run)

    @cached_property
    def redacted(self) -> RenderedManifests:
        """Both texts with placeholders where the secrets go: rendered when asked for (only a run that
        prints them does), never from the secrets."""
        return self.redact()


def generate_manifests(
    project: Project,
    cluster_name: str,
    *,
    dry_run: bool = False,
    no_vault: bool = False,
    output_dir: Path | None = None,
    templates_dir: Path | None = None,
    notify: Notify = ignore,
) -> ManifestsResult:
    """Read the secrets, render, check, and (unless dry-run / no-vault) write both manifests."""
    from proxshift.config.vault_paths import item_sources

    cluster = project.cluster(cluster_name)
    settings = project.settings
    sources = item_sources(settings)
    with_ca = "ca-bundle" in {k for k, v in sources.items() if v != "ca-bundle"}
    if no_vault:
        secrets = InstallSecrets.placeholders(sources, with_ca)
    else:
        secrets = vault_for(project, notify).read_install_secrets(settings)
    inventory_file = project.inventory.file
    templates = templates_dir or project.paths.root / "templates"
    context = build_context(cluster, settings, secrets, inventory_file)
    rendered = render(context, templates)
    problems = check(rendered, context, secrets_are_real=not no_vault)
    require_valid(problems)
    placeholders = InstallSecrets.placeholders(sources, secrets.ca_bundle is not None)
    extra = extra_manifests(cluster.extra_manifests_dir(project.paths.root))
    warnings = [p for p in problems if not p.is_error]
    if no_vault:
        result = ManifestsResult(lambda: rendered, warnings, extra=extra)
    else:
        result = ManifestsResult(
            lambda: render(build_context(cluster, settings, placeholders, inventory_file), templates),
            warnings,
            extra=extra,
        )
    if dry_run or (no_vault and output_dir is None):
        return result
    destination = InstallDir(output_dir) if output_dir else project.paths.install_dir(cluster_name)
    try:
        result.report = write(rendered, destination)
        copy_extra_manifests(project, cluster_name, destination)
    except OSError as exc:
        raise file_error(exc, f"write the manifests to {project.paths.shown(destination)}") from None
    return result


def extra_manifest_texts(project: Project, cluster: Cluster) -> list[tuple[str, str]]:
    """(name, text) of each extra manifest: what the manifests and iso phases' inputs digests count."""
    return [(p.name, p.read_text()) for p in extra_manifests(cluster.extra_manifests_dir(project.paths.root))]


def copy_extra_manifests(project: Project, cluster_name: str, install_dir: InstallDir) -> list[Path]:
    """Make `openshift/` hold exactly the cluster's extra manifests (the installer consumes them with the
    image, so this runs again before each image); a file that is no longer among them goes to history."""
    from proxshift.config.extra_manifests import SUFFIXES
    from proxshift.files import private_dir, write_private

    cluster = project.cluster(cluster_name)
    sources = {p.name: p.read_text() for p in extra_manifests(cluster.extra_manifests_dir(project.paths.root))}
    target = install_dir.extra_manifests
    stale = [p for p in target.iterdir() if p.suffix in SUFFIXES and p.name not in sources] if target.is_dir() else []
    if stale:
        history = install_dir.history_entry() / target.name
        private_dir(history)
        for path in stale:
            path.replace(history / path.name)
    copied = []
    for name, text in sources.items():
        path = target / name
        if not path.is_file() or path.read_text() != text:
            private_dir(target)
            write_private(path, text)
        copied.append(path)
    return copied
