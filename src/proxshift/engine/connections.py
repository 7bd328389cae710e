"""Connections to Vault and Proxmox for a project's cluster, credentials from the environment or Vault."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from proxshift.config.project import Project
from proxshift.errors import ProxshiftError, UserInputError

if TYPE_CHECKING:
    from proxshift.clients.proxmox.client import Proxmox
    from proxshift.clients.proxmox.connection import Connection, Endpoint, ProxmoxCredentials
    from proxshift.clients.vault import Vault
    from proxshift.config.inventory import Cluster
    from proxshift.config.settings import ProxmoxEndpoint, Settings
    from proxshift.secret import Secret


Notify = Callable[[str], None]
CredentialsReader = Callable[[str], dict[str, Any]]  # KV path -> the secret's keys


def ignore(message: str) -> None:
    del message


def vault_for(project: Project, notify: Notify) -> Vault:
    from proxshift.clients.vault import vault_access
    from proxshift.engine.audited import AuditedVault

    access = vault_access(project.settings)
    for warning in access.warnings:
        notify(warning)
    return AuditedVault(access)


class NoKubeconfig(UserInputError):
    """Neither Vault nor the install directory holds the cluster's kubeconfig: it was never installed here."""


def cluster_kubeconfig(project: Project, cluster_name: str, notify: Notify = ignore) -> tuple[Secret, str]:
    """The cluster's admin kubeconfig and where it came from: Vault's (where the install stored it, and
    `restore` keeps it up to date), the install directory's only when Vault holds nothing for the
    cluster. A Vault that fails is an error, not a reason to look elsewhere.

    (A provision run that has just installed the cluster uses its own new kubeconfig until the
    credentials phase has stored it: PhaseContext.kubeconfig.)"""
    from proxshift.clients.vault import KvPath
    from proxshift.secret import Secret

    base = KvPath.parse(project.settings.credentials_path)
    stored = vault_for(project, notify).find_credentials(base, cluster_name)
    if stored is not None:
        return stored["kubeconfig"], f"Vault {base.child(cluster_name)}"
    local = project.paths.install_dir(cluster_name).kubeconfig
    if not local.is_file():
        raise NoKubeconfig(
            f"no credentials of {cluster_name}: nothing at Vault {base.child(cluster_name)}, "
            f"no {project.paths.shown(local)}",
            f"is {cluster_name} installed? 'proxshift provision {cluster_name}' stores them when the install completes",
        )
    return Secret(local.read_text(), str(local)), str(local)


def log_in_early(settings: Settings) -> Connection | None:
    """For a command sure to use Proxmox: a login started on a thread as soon as the site config is read, so
    that its round trips overlap the inventory's loading and checks (`proxmox_for(..., early=)` takes it).
    None where the endpoint or the credentials are not known yet (the host from the inventory, the
    credentials from Vault) or the endpoint is wrong (said in full when the connection is made)."""
    from proxshift.clients.proxmox.connection import Connection

    try:  # a malformed token ID is said when the connection is made, after the inventory's own problems
        credentials = credentials_from_env()
        if not settings.proxmox.host or credentials is None:
            return None
        endpoint, _ = endpoint_for(settings.proxmox, "")
    except ProxshiftError:
        return None
    connection = Connection(endpoint, credentials)
    connection.log_in_ahead()
    return connection


def proxmox_for(
    project: Project, cluster_name: str, notify: Notify = ignore, early: Connection | None = None
) -> tuple[Proxmox, Cluster]:
    """A Proxmox connection for this cluster, with credentials from the environment or Vault; `early`: a
    connection from `log_in_early`, used when it is for the same endpoint and credentials."""
    cluster = project.cluster(cluster_name)

    def read_vault(path: str) -> dict[str, Any]:
        from proxshift.clients.vault import KvPath  # hvac's client module only where Vault holds the credentials

        return dict(vault_for(project, notify).read(KvPath.parse(path)).value)

    return connect_proxmox(project.settings, cluster, read_vault, notify, early), cluster


def connect_proxmox(
    settings: Settings,
    cluster: Cluster,
    read_vault: CredentialsReader | None = None,
    notify: Notify = ignore,
    early: Connection | None = None,
) -> Proxmox:
    from proxshift.clients.proxmox.client import Proxmox
    from proxshift.engine.audited_proxmox import audited_proxmox
    from proxshift.engine.vm_run import PARALLEL

    endpoint, warnings = endpoint_for(settings.proxmox, cluster.nodes[0].spec.pve_node)
    for warning in warnings:
        notify(warning)
    credentials = proxmox_credentials(settings, read_vault)
    same = early is not None and early.endpoint == endpoint and _same(early.credentials, credentials)
    prox = Proxmox(
        endpoint,
        credentials,
        connection=early if same else None,
        poll_interval=settings.proxmox.poll_interval,
        task_timeout=settings.proxmox.task_timeout,
    )
    if same:  # a VM command, about to work on the VMs at once: their connections open during the login
        prox.connection.open_ahead(min(len(cluster.nodes), PARALLEL))
    return audited_proxmox(prox)


def _same(one: ProxmoxCredentials, other: ProxmoxCredentials) -> bool:
    def secret(creds: ProxmoxCredentials) -> str | None:
        held = creds.token_secret or creds.password
        return held.reveal() if held else None

    return (one.user, one.token_name, secret(one)) == (other.user, other.token_name, secret(other))


def endpoint_for(settings: ProxmoxEndpoint, fallback_node: str) -> tuple[Endpoint, list[str]]:
    """The site config's `proxmox` endpoint, else the first node's name (the predecessor's way)."""
    from proxshift.clients.proxmox.connection import Endpoint

    warnings = []
    verify: bool | str = True
    if not settings.verify_ssl:
        verify = False
        warnings.append("proxmox.verify_ssl is false: Proxmox's TLS certificate is not verified")
    elif settings.ca_cert:
        ca = Path(settings.ca_cert).expanduser()
        if not ca.is_file():
            raise UserInputError(
                f"proxmox.ca_cert names a missing file: {ca}", "point it at the PVE cluster's CA (pve-root-ca.pem)"
            )
        verify = str(ca)
    return Endpoint(settings.host or fallback_node, settings.port, verify), warnings


def proxmox_credentials(settings: Settings, read_vault: CredentialsReader | None) -> ProxmoxCredentials:
    """Environment first; else the KV path named by proxmox.credentials_path."""
    from proxshift.clients.proxmox.connection import ProxmoxCredentials, token_credentials
    from proxshift.secret import Secret

    from_env = credentials_from_env()
    if from_env:
        return from_env
    path = settings.proxmox.credentials_path
    if path and read_vault is not None:
        data = read_vault(path)
        if data.get("token_id") and data.get("token_secret"):
            return token_credentials(str(data["token_id"]), str(data["token_secret"]), f"token_id from {path}")
        if data.get("user") and data.get("password"):
            return ProxmoxCredentials(
                user=str(data["user"]), password=Secret(str(data["password"]), f"password from {path}"), source=path
            )
        raise UserInputError(
            f"{path} holds neither token_id + token_secret nor user + password",
            "write the Proxmox API token there (see docs/proxmox.md)",
        )
    raise UserInputError(
        "no Proxmox credentials",
        "set PROXSHIFT_PROXMOX_TOKEN_ID and PROXSHIFT_PROXMOX_TOKEN_SECRET (or _USER and _PASSWORD), "
        "or proxmox.credentials_path in the site config",
    )


def credentials_from_env(env: Mapping[str, str] | None = None) -> ProxmoxCredentials | None:
    from proxshift.clients.proxmox.connection import ProxmoxCredentials, token_credentials
    from proxshift.secret import Secret

    env = os.environ if env is None else env
    token_id, token_secret = env.get("PROXSHIFT_PROXMOX_TOKEN_ID"), env.get("PROXSHIFT_PROXMOX_TOKEN_SECRET")
    if token_id and token_secret:
        return token_credentials(token_id, token_secret, "PROXSHIFT_PROXMOX_TOKEN_ID")
    user, password = env.get("PROXSHIFT_PROXMOX_USER"), env.get("PROXSHIFT_PROXMOX_PASSWORD")
    if user and password:
        return ProxmoxCredentials(user=user, password=Secret(password, "PROXSHIFT_PROXMOX_PASSWORD"))
    return None
