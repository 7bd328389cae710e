"""External Secrets on a cluster: the operator's config, Vault's token and CA, the ClusterSecretStore.

Two flavours, one at a time: the community operator (OperatorConfig, operator.external-secrets.io) or Red
Hat's (ExternalSecretsConfig, operator.openshift.io, whose deny-all NetworkPolicies need an egress rule to
Vault). Right after the install, the operator's admission webhook has no endpoints yet and refuses
writes of external-secrets.io objects (ESO #1739, #2037): `apply_through_webhook` retries those.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from proxshift.clients.kube import Kube, KubeError, conditions, until
from proxshift.errors import OperationError
from proxshift.secret import Secret

GROUP = "external-secrets.io"
STORE_CRD = "clustersecretstores.external-secrets.io"
NAMESPACE = "external-secrets"  # where the operands run, the token Secret and the CA ConfigMap live
TOKEN_SECRET_NAME = "vault-token"  # noqa: S105 - an object name, not a password
CA_CONFIG_MAP = "vault-ca"
SERVICE_ACCOUNT = "external-secrets"
WEBHOOK_REFUSAL = "failed calling webhook"
HINT = "see the operator's pods in namespace external-secrets"

Flavor = Literal["community", "redhat"]
Report = Callable[[str], None]


@dataclass(frozen=True)
class FlavorSpec:
    """Where a flavour's operator is subscribed, and the kind that starts its operands."""

    package: str
    namespace: str
    channel: str
    source: str
    config_crd: str


FLAVORS: dict[str, FlavorSpec] = {
    "community": FlavorSpec(
        "external-secrets-operator",
        "openshift-operators",
        "stable",
        "community-operators",
        "operatorconfigs.operator.external-secrets.io",
    ),
    "redhat": FlavorSpec(
        "openshift-external-secrets-operator",
        "external-secrets-operator",
        "stable-v1",
        "redhat-operators",
        "externalsecretsconfigs.operator.openshift.io",
    ),
}


def operator_config(flavor: Flavor, vault_port: int) -> list[dict[str, Any]]:
    """The namespace of the operands and the object that starts them."""
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}
    if flavor == "community":
        return [
            namespace,
            {
                "apiVersion": "operator.external-secrets.io/v1alpha1",
                "kind": "OperatorConfig",
                "metadata": {"name": "cluster", "namespace": NAMESPACE},
                "spec": {},
            },
        ]
    egress = {
        "name": "allow-egress-to-vault",
        "componentName": "ExternalSecretsCoreController",
        "egress": [{"ports": [{"protocol": "TCP", "port": vault_port}]}],
    }
    return [
        namespace,
        {
            "apiVersion": "operator.openshift.io/v1alpha1",
            "kind": "ExternalSecretsConfig",
            "metadata": {"name": "cluster"},
            "spec": {"controllerConfig": {"networkPolicies": [egress]}},
        },
    ]


def token_secret(token: Secret) -> dict[str, Any]:
    """The dedicated read-only token ESO logs in with (revealed into this document only)."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": TOKEN_SECRET_NAME, "namespace": NAMESPACE},
        "type": "Opaque",
        "stringData": {"token": token.reveal()},
    }


def ca_config_map(pem: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": CA_CONFIG_MAP, "namespace": NAMESPACE},
        "data": {"ca.crt": pem},
    }


def store(
    name: str, version: str, server: str, mount: str, auth: dict[str, Any], with_ca: bool, namespace: str | None = None
) -> dict[str, Any]:
    """ClusterSecretStore `name` on Vault's KV v2 mount `mount`."""
    vault: dict[str, Any] = {"server": server, "path": mount, "version": "v2", "auth": auth}
    if namespace:
        vault["namespace"] = namespace
    if with_ca:
        vault["caProvider"] = {"type": "ConfigMap", "name": CA_CONFIG_MAP, "namespace": NAMESPACE, "key": "ca.crt"}
    return {
        "apiVersion": f"{GROUP}/{version}",
        "kind": "ClusterSecretStore",
        "metadata": {"name": name},
        "spec": {"provider": {"vault": vault}},
    }


def token_auth() -> dict[str, Any]:
    return {"tokenSecretRef": {"name": TOKEN_SECRET_NAME, "namespace": NAMESPACE, "key": "token"}}


def kubernetes_auth(mount_path: str, role: str) -> dict[str, Any]:
    return {
        "kubernetes": {
            "mountPath": mount_path,
            "role": role,
            "serviceAccountRef": {"name": SERVICE_ACCOUNT, "namespace": NAMESPACE},
        }
    }


def apply_through_webhook(kube: Kube, document: dict[str, Any], timeout: float, poll: float, report: Report) -> str:
    """`kube.ensure`, retried while ESO's webhook refuses for want of endpoints (right after the install)."""
    said: list[str] = []

    def attempt() -> str | None:
        try:
            return kube.ensure(document)
        except KubeError as exc:
            if WEBHOOK_REFUSAL not in exc.message:
                raise
            if not said:
                said.append(exc.message)
                report("ESO's webhook is not serving yet; retrying")
            return None

    return until(
        f"ESO's webhook to accept {document['kind']} {document['metadata']['name']}",
        attempt,
        timeout,
        poll,
        HINT + (f" (last refusal: {said[0]})" if said else ""),
    )


def wait_ready(kube: Kube, version: str, name: str, timeout: float, poll: float) -> None:
    """The store's Ready condition True; False stays the answer until the timeout, then its message is shown."""
    last: dict[str, Any] = {}

    def ready() -> bool:
        found = conditions(kube.get(f"{GROUP}/{version}", "ClusterSecretStore", name)).get("Ready") or {}
        last.clear()
        last.update(found)
        return found.get("status") == "True"

    try:
        until(f"ClusterSecretStore {name} to be Ready", ready, timeout, poll, HINT)
    except OperationError:
        if not last:
            raise
        raise OperationError(
            f"ClusterSecretStore {name} is not Ready: {last.get('reason') or 'no reason'}: "
            f"{last.get('message') or 'no message'}",
            "check the token's policy (or the kubernetes auth role) in Vault, and that the cluster reaches Vault "
            "(see docs/gitops.md)",
        ) from None
