"""Compose the service modules into what commands do; the only place that wires them together."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from proxshift.config.install_dir import InstallDir
from proxshift.config.project import Project
from proxshift.errors import OperationError, Problem, ProxshiftError, UserInputError
from proxshift.manifests.render import (
    RenderedManifests,
    WriteReport,
    build_context,
    check,
    render,
    require_valid,
    write,
)
from proxshift.secret import InstallSecrets

if TYPE_CHECKING:
    from proxshift.clients.acm import ImportPlan, Kube
    from proxshift.clients.install_watch import Installed, WatchSettings
    from proxshift.clients.proxmox import Proxmox
    from proxshift.clients.vault import Vault
    from proxshift.config.inventory import Cluster
    from proxshift.secret import Secret


@dataclass
class ManifestsResult:
    """What `manifests` did: the redacted texts (for printing) and what was written."""

    redacted: RenderedManifests
    warnings: list[Problem]
    report: WriteReport | None = None
    vault_paths: list[str] = field(default_factory=list)


Notify = Callable[[str], None]


def _ignore(message: str) -> None:
    del message


def vault_for(project: Project, notify: Notify) -> Vault:
    from proxshift.clients.vault import Vault, vault_access

    access = vault_access(project.settings)
    for warning in access.warnings:
        notify(warning)
    return Vault(access)


def generate_manifests(
    project: Project,
    cluster_name: str,
    *,
    dry_run: bool = False,
    no_vault: bool = False,
    output_dir: Path | None = None,
    templates_dir: Path | None = None,
    notify: Notify = _ignore,
) -> ManifestsResult:
    """Read the secrets, render, check, and (unless dry-run / no-vault) write both manifests."""
    from proxshift.clients.vault import item_sources

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
    redacted = (
        rendered if no_vault else render(build_context(cluster, settings, placeholders, inventory_file), templates)
    )
    result = ManifestsResult(redacted, [p for p in problems if not p.is_error])
    if dry_run or (no_vault and output_dir is None):
        return result
    destination = InstallDir(output_dir) if output_dir else project.paths.install_dir(cluster_name)
    try:
        result.report = write(rendered, destination)
    except OSError as exc:
        raise OperationError(
            f"cannot write manifests to {destination}: {exc.strerror}", "check the directory's permissions"
        ) from None
    return result


@dataclass
class VaultCheckRow:
    item: str
    path: str
    ok: bool
    detail: str


def check_vault(project: Project, cluster_name: str | None, notify: Notify = _ignore) -> list[VaultCheckRow]:
    """Read every input item and probe write access to the credentials path, without writing."""
    from proxshift.clients.vault import KvPath, install_items
    from proxshift.secret import SecretFormatError, check_ca_bundle, check_ssh_public_keys, normalize_pull_secret

    settings = project.settings
    if cluster_name:
        project.cluster(cluster_name)
    vault = vault_for(project, notify)
    vault.client()  # unreachable / sealed / bad token fail here, once, with their own message
    checks: dict[str, Callable[[Any], str]] = {
        "pull-secret": normalize_pull_secret,
        "ssh-key": check_ssh_public_keys,
        "ca-bundle": check_ca_bundle,
    }
    rows = []
    for role, item in install_items(settings).items():
        location = str(KvPath.parse(item.path))
        try:
            read = vault.read_key(item)
            checks[role](read.value)
            rows.append(VaultCheckRow(item.name, f"{location} key {item.key}", True, f"version {read.version}"))
        except SecretFormatError as exc:
            rows.append(VaultCheckRow(item.name, f"{location} key {item.key}", False, f"malformed: {exc}"))
        except ProxshiftError as exc:
            rows.append(VaultCheckRow(item.name, f"{location} key {item.key}", False, exc.message))
    base = KvPath.parse(settings.credentials_path)
    target = base.child(cluster_name) if cluster_name else base.child("<cluster>")
    probe = str(target) if cluster_name else f"{base.api_path}/+"
    capabilities = set(vault.capabilities([probe])[probe])
    writable = bool(capabilities & {"create", "update", "root"})
    detail = ", ".join(sorted(capabilities)) or "no capabilities"
    rows.append(VaultCheckRow("credentials", str(target), writable, detail if writable else f"cannot write ({detail})"))
    return rows


def proxmox_for(project: Project, cluster_name: str, notify: Notify = _ignore) -> tuple[Proxmox, Cluster]:
    """A Proxmox connection for this cluster, with credentials from the environment or Vault."""
    from proxshift.clients.vault import KvPath
    from proxshift.engine.vms import connect

    cluster = project.cluster(cluster_name)

    def read_vault(path: str) -> dict[str, Any]:
        return dict(vault_for(project, notify).read(KvPath.parse(path)).value)

    return connect(project.settings, cluster, read_vault, notify), cluster


# -- install: ISO, wait, credentials ---------------------------------------------------------------


def create_iso(project: Project, cluster_name: str, on_line: Callable[[str], None] | None = None) -> Path:
    from proxshift.clients.installer import create_image, find_installer

    cluster = project.cluster(cluster_name)
    found = find_installer(cluster.vars.ocp_version, project.settings.ocp_installer_path)
    return create_image(found.path, project.paths.install_dir(cluster_name), on_line)


def watch_settings(project: Project, cluster_name: str, timeout: float, poll: float = 5.0) -> WatchSettings:
    from proxshift.clients.install_watch import WatchSettings
    from proxshift.clients.installer import watcher_token

    cluster = project.cluster(cluster_name)
    install_dir = project.paths.install_dir(cluster_name)
    kubeconfig = install_dir.kubeconfig
    if not kubeconfig.is_file():
        raise UserInputError(f"{kubeconfig} does not exist", f"run 'proxshift iso create {cluster_name}' first")
    url = project.settings.agent_api_urls.get(cluster_name) or (
        f"http://{cluster.rendezvous_ip}:8090/api/assisted-install/v2"
    )
    return WatchSettings(
        agent_url=url,
        kubeconfig=kubeconfig,
        expected_nodes=len(cluster.nodes),
        cluster=cluster_name,
        watcher_token=watcher_token(install_dir),
        timeout=timeout,
        poll=poll,
    )


def wait_for_install(
    project: Project,
    cluster_name: str,
    timeout: float,
    report: Callable[[str], None],
    poll: float = 5.0,
    on_hosts: Callable[[list[tuple[str, ...]]], None] | None = None,
) -> Installed:
    from proxshift.clients.install_watch import InstallWatcher

    settings = watch_settings(project, cluster_name, timeout, poll)
    return InstallWatcher(settings, report, on_hosts=on_hosts).run()


def store_credentials(project: Project, cluster_name: str, api_url: str, notify: Notify = _ignore) -> str:
    """kubeconfig, kubeadmin password and API URL to <vault_path>/<cluster>; returns where."""
    from proxshift.clients.vault import KvPath
    from proxshift.secret import Secret

    install_dir = project.paths.install_dir(cluster_name)
    try:
        kubeconfig = install_dir.kubeconfig.read_text()
        password = install_dir.kubeadmin_password.read_text().strip()
    except OSError as exc:
        raise OperationError(f"cannot read {install_dir.auth}: {exc.strerror}", "was the ISO created here?") from None
    base = KvPath.parse(project.settings.credentials_path)
    values = {
        "api": Secret(api_url, "api"),
        "kubeconfig": Secret(kubeconfig, f"kubeconfig of {cluster_name}"),
        "kubeadmin": Secret(password, f"kubeadmin password of {cluster_name}"),
    }
    vault_for(project, notify).write_credentials(base, cluster_name, values)
    return str(base.child(cluster_name))


def read_credentials(project: Project, cluster_name: str, notify: Notify = _ignore) -> dict[str, Secret]:
    from proxshift.clients.vault import KvPath

    project.cluster(cluster_name)
    return vault_for(project, notify).read_credentials(KvPath.parse(project.settings.credentials_path), cluster_name)


# -- ACM ---------------------------------------------------------------------------------------------------


@dataclass
class AcmContext:
    """The hub to talk to and the documents for one cluster, or why nothing is to be done."""

    cluster: str
    hub_name: str | None
    skipped: str | None = None
    plan: ImportPlan | None = None
    hub: Kube | None = None


def _hub_kubeconfig(project: Project, hub_file: Path | None, notify: Notify) -> tuple[str, Secret, str]:
    import os

    from proxshift.clients.vault import KvPath
    from proxshift.secret import Secret

    settings = project.settings
    path = hub_file or (
        Path(os.environ["PROXSHIFT_HUB_KUBECONFIG"]) if os.environ.get("PROXSHIFT_HUB_KUBECONFIG") else None
    )
    if path is not None:
        try:
            return settings.hub_cluster or "hub", Secret(path.read_text(), str(path)), str(path)
        except OSError as exc:
            raise UserInputError(f"cannot read the hub kubeconfig {path}: {exc.strerror}", "check the path") from None
    if not settings.hub_cluster:
        raise UserInputError(
            "no ACM hub is configured",
            "set hub_cluster in the site config, or pass --hub-kubeconfig / PROXSHIFT_HUB_KUBECONFIG",
        )
    base = KvPath.parse(settings.credentials_path)
    try:
        found = vault_for(project, notify).read_credentials(base, settings.hub_cluster)
    except OperationError as exc:
        raise OperationError(
            f"cannot get the ACM hub's kubeconfig: {exc.message}",
            f"provision the hub {settings.hub_cluster} first, pass --hub-kubeconfig / PROXSHIFT_HUB_KUBECONFIG, "
            "or skip ACM (--skip acm)",
        ) from None
    return settings.hub_cluster, found["kubeconfig"], str(base.child(settings.hub_cluster))


def cluster_kubeconfig(project: Project, cluster_name: str, notify: Notify = _ignore) -> Secret:
    """The new cluster's kubeconfig: the install directory's, else the one stored in Vault."""
    from proxshift.clients.vault import KvPath
    from proxshift.secret import Secret

    local = project.paths.install_dir(cluster_name).kubeconfig
    if local.is_file():
        return Secret(local.read_text(), str(local))
    base = KvPath.parse(project.settings.credentials_path)
    return vault_for(project, notify).read_credentials(base, cluster_name)["kubeconfig"]


def acm_context(
    project: Project,
    cluster_name: str,
    mode: str,
    hub_file: Path | None = None,
    notify: Notify = _ignore,
    connect: bool = True,
) -> AcmContext:
    from proxshift.clients.acm import AddOns, Kube, labels_for, render_plan

    cluster = project.cluster(cluster_name)
    settings = project.settings
    if settings.hub_cluster == cluster_name and hub_file is None:
        return AcmContext(cluster_name, settings.hub_cluster, skipped=f"{cluster_name} is the ACM hub itself")
    hub_name, hub_kubeconfig, _ = _hub_kubeconfig(project, hub_file, notify)
    if hub_name == cluster_name:
        return AcmContext(cluster_name, hub_name, skipped=f"{cluster_name} is the ACM hub itself")
    kubeconfig = None
    if mode == "auto":
        try:
            kubeconfig = cluster_kubeconfig(project, cluster_name, notify)
        except ProxshiftError:
            if connect:
                raise
            # A dry run before the ISO exists: the secret will hold the kubeconfig the install creates.
            from proxshift.secret import Secret

            local = project.paths.install_dir(cluster_name).kubeconfig
            kubeconfig = Secret("", f"the kubeconfig {project.paths.shown(local)} will hold")
    labels = labels_for(cluster_name, cluster.vars.clusterset, dict(cluster.vars.acm_labels))
    addons = AddOns(**{k: bool(v) for k, v in settings.acm_addons.items() if k in AddOns.__dataclass_fields__})
    plan = render_plan(cluster_name, labels, addons, kubeconfig, project.paths.root / "templates", mode)
    hub = Kube(hub_kubeconfig.reveal(), f"hub {hub_name}") if connect else None
    return AcmContext(cluster_name, hub_name, plan=plan, hub=hub)


def acm_import(
    project: Project, context: AcmContext, mode: str, timeout: float, report: Callable[[str], None], poll: float = 2.0
) -> dict[str, str]:
    from proxshift.clients.acm import Kube, import_auto, import_manual

    assert context.hub is not None and context.plan is not None  # noqa: S101 - built by acm_context
    if mode == "auto":
        return import_auto(context.hub, context.plan, timeout, poll, report)
    spoke = Kube(cluster_kubeconfig(project, context.cluster).reveal(), context.cluster)
    return import_manual(context.hub, spoke, context.plan, timeout, poll, report)


def acm_detach(context: AcmContext, timeout: float, report: Callable[[str], None], poll: float = 2.0) -> bool:
    from proxshift.clients.acm import detach

    assert context.hub is not None  # noqa: S101 - built by acm_context
    return detach(context.hub, context.cluster, timeout, poll, report)
