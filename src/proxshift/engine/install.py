"""The install: the agent ISO, watching it to the end, the credentials it leaves."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from proxshift.config.project import Project
from proxshift.engine.connections import Notify, ignore, vault_for
from proxshift.errors import OperationError, ProxshiftError, UserInputError

if TYPE_CHECKING:
    from proxshift.clients.install_watch.watcher import Installed, WatchSettings
    from proxshift.secret import Secret


def create_iso(project: Project, cluster_name: str, on_line: Callable[[str], None] | None = None) -> Path:
    from proxshift.clients.installer import create_image, find_installer
    from proxshift.engine.manifests_flow import copy_extra_manifests

    cluster = project.cluster(cluster_name)
    installer = find_installer(cluster.vars.ocp_version, project.settings.ocp_installer_path)
    install_dir = project.paths.install_dir(cluster_name)
    copy_extra_manifests(project, cluster_name, install_dir)  # the last image consumed them
    return create_image(installer.path, install_dir, on_line, project.settings.installer_timeout)


def watch_settings(project: Project, cluster_name: str, timeout: float, poll: float = 5.0) -> WatchSettings:
    from proxshift.clients.install_watch.watcher import WatchSettings
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
    from proxshift.clients.install_watch.watcher import InstallWatcher

    settings = watch_settings(project, cluster_name, timeout, poll)
    return InstallWatcher(settings, report, on_hosts=on_hosts).run()


def store_credentials(project: Project, cluster_name: str, api_url: str, notify: Notify = ignore) -> str:
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


def read_credentials(project: Project, cluster_name: str, notify: Notify = ignore) -> dict[str, Secret]:
    from proxshift.clients.vault import KvPath

    project.cluster(cluster_name)
    return vault_for(project, notify).read_credentials(KvPath.parse(project.settings.credentials_path), cluster_name)


def api_url_of(kubeconfig: Secret) -> str | None:
    """The API URL a kubeconfig points at (its first cluster's server)."""
    import yaml

    try:
        data = yaml.safe_load(kubeconfig.reveal())
        return str(data["clusters"][0]["cluster"]["server"])
    except (yaml.YAMLError, KeyError, IndexError, TypeError):
        return None


def live_api(project: Project, cluster_name: str) -> str | None:
    """The API URL if the cluster answers with the credentials in Vault (a live cluster); else None."""
    from proxshift.clients.install_watch.cluster import KUBE_TIMEOUT, cluster_version
    from proxshift.clients.kube import Kube
    from proxshift.clients.transport import POLL_RETRY

    try:
        kubeconfig = read_credentials(project, cluster_name)["kubeconfig"].reveal()
        # A probe: asked again once at once, not with the one-shot backoff (a gone cluster is the usual answer).
        kube = Kube(kubeconfig, cluster_name, timeout=KUBE_TIMEOUT, retry=POLL_RETRY)
        return kube.server if cluster_version(kube) is not None else None
    except (ProxshiftError, ValueError):  # ValueError: the client's own complaint about the server URL
        return None


def deprovisioned(project: Project, cluster_name: str) -> str | None:
    """When the cluster was deprovisioned (it has no VMs since, only files), as a UTC time; None if it was not."""
    from proxshift.engine.state import State

    install_dir = project.paths.install_dir(cluster_name)
    if install_dir.state_file.is_file():
        try:
            return State(install_dir.state_file).deprovisioned  # `deprovision --keep-files`
        except UserInputError:
            return None
    archived = sorted(e for e in install_dir.history.glob("*/state.json")) if install_dir.history.is_dir() else []
    return archived[-1].parent.name if archived else None  # `deprovision`: all of it went to history/<stamp>/
