"""External Secrets from Vault on an installed cluster: the operator, the store, the dedicated token."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from proxshift.config.post_install import EsoConfig
from proxshift.config.project import Project
from proxshift.engine.connections import Notify, ignore, vault_for
from proxshift.engine.post_install import needs, read_item
from proxshift.errors import OperationError, UserInputError

if TYPE_CHECKING:
    from proxshift.clients.kube import Kube
    from proxshift.clients.olm import Operator
    from proxshift.clients.vault import Vault
    from proxshift.secret import Secret

Report = Callable[[str], None]


@dataclass(frozen=True)
class StoreTarget:
    """Where ESO reaches Vault, and how it logs in."""

    server: str
    port: int
    mount: str
    namespace: str | None
    ca_file: str | None
    token_path: str | None  # token auth: the Vault item holding the dedicated token


def target(project: Project, cluster: str, config: EsoConfig, notify: Notify = ignore) -> StoreTarget:
    """The Vault address proxshift uses (or eso.server), the KV mount of the credentials path, the CA."""
    import os

    from proxshift.clients.vault import KvPath, vault_access

    access = vault_access(project.settings)
    for warning in access.warnings:
        notify(warning)
    server = (config.server or access.addr).rstrip("/")
    parts = urlsplit(server)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    ca = os.environ.get("VAULT_CACERT") or config.ca_cert
    if ca and not Path(ca).expanduser().is_file():
        raise UserInputError(
            f"the Vault CA {ca} does not exist", "point VAULT_CACERT or post_install.eso.ca_cert at it"
        )
    credentials = KvPath.parse(project.settings.credentials_path)
    token_path = None
    if config.auth == "token":
        token_path = config.token_path or str(credentials.child(f"eso/{cluster}"))
    return StoreTarget(
        server, port, credentials.mount, access.namespace, str(Path(ca).expanduser()) if ca else None, token_path
    )


def eso_operator(config: EsoConfig) -> Operator:
    from proxshift.clients.eso import FLAVORS
    from proxshift.clients.olm import Operator

    flavor = FLAVORS[config.flavor]
    return Operator(flavor.package, flavor.namespace, flavor.channel, flavor.source)


def _auth(config: EsoConfig) -> dict[str, Any]:
    from proxshift.clients import eso

    if config.auth == "kubernetes":
        return eso.kubernetes_auth(config.kubernetes.mount_path, config.kubernetes.role)
    return eso.token_auth()


def eso_plan(project: Project, cluster: str, config: EsoConfig) -> dict[str, Any]:
    from proxshift.clients import eso

    where = target(project, cluster, config)
    documents = eso_operator(config).documents() + eso.operator_config(config.flavor, where.port)
    if where.token_path:
        documents.append(eso.token_secret(_token_placeholder(where.token_path)))
    if where.ca_file:
        documents.append(eso.ca_config_map(f"<the CA certificate in {where.ca_file}>"))
    store = eso.store(
        config.store_name, "<newest served>", where.server, where.mount, _auth(config), bool(where.ca_file)
    )
    documents.append(store)
    reads = [f"{where.token_path} (key token)"] if where.token_path else []
    waits = [
        f"Subscription {eso_operator(config).namespace}/{eso_operator(config).package}: its CSV Succeeded",
        f"CRD {eso.STORE_CRD} Established (its newest served version is used)",
        f"ClusterSecretStore {config.store_name} Ready",
    ]
    return {"vault_reads": reads, "documents": documents, "waits": waits}


def _store(config: EsoConfig, where: StoreTarget, version: str) -> dict[str, Any]:
    from proxshift.clients import eso

    auth = _auth(config)
    return eso.store(config.store_name, version, where.server, where.mount, auth, bool(where.ca_file), where.namespace)


def install_eso(
    project: Project,
    cluster: str,
    kube: Kube,
    config: EsoConfig,
    timeout: float,
    poll: float,
    report: Report,
    notify: Notify = ignore,
) -> None:
    """The dedicated token is read first (nothing changes without it); then the operator, its config, the
    store's inputs and the store, each waited for."""
    from proxshift.clients import eso, olm

    where = target(project, cluster, config, notify)
    token = (
        dedicated_token(vault_for(project, notify), where.token_path, cluster, where.mount)
        if where.token_path
        else None
    )
    operator = eso_operator(config)
    olm.apply_all(kube, operator.documents(), report)
    olm.wait_installed(kube, operator, timeout, poll, report)
    olm.wait_crds(kube, (eso.FLAVORS[config.flavor].config_crd, eso.STORE_CRD), timeout, poll, report)
    olm.apply_all(kube, eso.operator_config(config.flavor, where.port), report)
    served = olm.served_versions(kube, eso.STORE_CRD)
    if not served:
        raise OperationError(f"CRD {eso.STORE_CRD} serves no version", eso.HINT)
    report(f"ClusterSecretStore API: {eso.GROUP}/{served[0]} (served: {', '.join(served)})")
    inputs = [eso.token_secret(token)] if token is not None else []
    if where.ca_file:
        inputs.append(eso.ca_config_map(Path(where.ca_file).read_text()))
    olm.apply_all(kube, inputs, report)
    store = _store(config, where, served[0])
    result = eso.apply_through_webhook(kube, store, timeout, poll, report)
    report(f"ClusterSecretStore {config.store_name}: {result}")
    eso.wait_ready(kube, served[0], config.store_name, timeout, poll)
    report(f"ClusterSecretStore {config.store_name}: Ready")


def _token_placeholder(path: str) -> Secret:
    from proxshift.secret import Secret

    return Secret(f"<redacted: token from {path}>")


def dedicated_token(vault: Vault, path: str, cluster: str, mount: str) -> Secret:
    """The token ESO uses, from its own Vault item; never proxshift's own (refused if it is the same)."""
    hint = (
        f"create a read-only token for ESO and store it there: vault policy write eso-{cluster} - <<< "
        f'\'path "{mount}/data/{cluster}/*" {{ capabilities = ["read"] }}\'; '
        f'vault kv put {path.replace("/data/", "/", 1)} token="$(vault token create -policy=eso-{cluster} '
        f'-period=768h -orphan -field=token)" (see docs/gitops.md)'
    )
    where, values = read_item(vault, path, "ESO's Vault token", hint)
    token = needs(values, where, ("token",))["token"]
    if vault.is_own_token(token.reveal()):
        raise OperationError(f"{where} holds proxshift's own Vault token; ESO must get a dedicated read-only one", hint)
    return token
