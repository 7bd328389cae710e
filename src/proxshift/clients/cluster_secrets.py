"""Secrets that outlive a cluster: which ones hold its certificates, reading them as backups, applying them back.

A backup record is what Vault keeps for one Secret: `type`, `data` (the Secret's base64 data),
`labels`, `annotations`. A Secret is applied back without uid, resourceVersion, creationTimestamp,
managedFields or ownerReferences: it is built from the record alone. The cluster's certificates are the
ingress default certificate (IngressController `default`, in openshift-ingress) and the API's named
certificates (APIServer `cluster`, in openshift-config); restoring them repoints those objects, ingress
first (openshift-docs #35469), and waits for the ClusterOperator that rolls them out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from proxshift.clients.kube import Kube, condition_is, until

INGRESS_CONTROLLER = ("operator.openshift.io/v1", "IngressController")
API_SERVER = ("config.openshift.io/v1", "APIServer")
CLUSTER_OPERATOR = ("config.openshift.io/v1", "ClusterOperator")
INGRESS_NAMESPACE = "openshift-ingress"
CONFIG_NAMESPACE = "openshift-config"
# Never kept: kubectl's copy of the whole object (a Secret's values, in plain text) and what is the cluster's.
DROPPED_ANNOTATIONS = frozenset({"kubectl.kubernetes.io/last-applied-configuration"})

Role = Literal["secret", "ingress", "api"]


@dataclass(frozen=True)
class SecretRef:
    namespace: str
    name: str
    role: Role = "secret"

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True)
class Record:
    """One Secret as backed up; its values are never part of its repr."""

    ref: SecretRef
    values: dict[str, Any] = field(repr=False)  # {type, data, labels, annotations}

    def document(self) -> dict[str, Any]:
        """The Secret to apply: name, namespace, labels, annotations, type and data, nothing else."""
        metadata: dict[str, Any] = {"name": self.ref.name, "namespace": self.ref.namespace}
        if self.values.get("labels"):
            metadata["labels"] = dict(self.values["labels"])
        if self.values.get("annotations"):
            metadata["annotations"] = dict(self.values["annotations"])
        return {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": metadata,
            "type": self.values.get("type") or "Opaque",
            "data": dict(self.values.get("data") or {}),
        }


def record_of(ref: SecretRef, secret: Mapping[str, Any]) -> Record:
    """A Secret as read from the API (or a file) -> what is kept of it."""
    metadata = secret.get("metadata") or {}
    annotations = {k: v for k, v in (metadata.get("annotations") or {}).items() if k not in DROPPED_ANNOTATIONS}
    data = dict(secret.get("data") or {})
    if secret.get("stringData"):  # a file written by hand may use it
        import base64

        data.update({k: base64.b64encode(str(v).encode()).decode() for k, v in secret["stringData"].items()})
    values = {
        "type": secret.get("type") or "Opaque",
        "data": data,
        "labels": dict(metadata.get("labels") or {}),
        "annotations": annotations,
    }
    return Record(ref, values)


def certificate_refs(kube: Kube, api_host: str) -> list[SecretRef]:
    """The Secrets the cluster serves its certificates from: the ingress default certificate, and the API's
    named certificates for `api_host` (never api-int)."""
    refs: list[SecretRef] = []
    ingress = kube.get(*INGRESS_CONTROLLER, "default", "openshift-ingress-operator") or {}
    name = ((ingress.get("spec") or {}).get("defaultCertificate") or {}).get("name")
    if name:
        refs.append(SecretRef(INGRESS_NAMESPACE, name, "ingress"))
    api = kube.get(*API_SERVER, "cluster") or {}
    for entry in ((api.get("spec") or {}).get("servingCerts") or {}).get("namedCertificates") or []:
        secret = (entry.get("servingCertificate") or {}).get("name")
        if secret and api_host in (entry.get("names") or []):
            refs.append(SecretRef(CONFIG_NAMESPACE, secret, "api"))
    return refs


def read_records(kube: Kube, refs: list[SecretRef]) -> tuple[list[Record], list[SecretRef]]:
    """(the records of the Secrets that exist, the refs of those that do not)."""
    found, missing = [], []
    for ref in refs:
        secret = kube.get("v1", "Secret", ref.name, ref.namespace)
        if secret is None:
            missing.append(ref)
        else:
            found.append(record_of(ref, secret))
    return found, missing


def apply_record(kube: Kube, record: Record) -> str:
    """The namespace if missing, then the Secret (server-side apply); created / configured / unchanged."""
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": record.ref.namespace}}
    if kube.get("v1", "Namespace", record.ref.namespace) is None:
        kube.apply(namespace)
    return kube.ensure(record.document())


def point_ingress(kube: Kube, secret_name: str) -> bool:
    """IngressController default serves `secret_name` (in openshift-ingress); False when it already did."""
    current = kube.get(*INGRESS_CONTROLLER, "default", "openshift-ingress-operator") or {}
    if ((current.get("spec") or {}).get("defaultCertificate") or {}).get("name") == secret_name:
        return False
    patch = {"spec": {"defaultCertificate": {"name": secret_name}}}
    kube.patch(*INGRESS_CONTROLLER, "default", patch, "openshift-ingress-operator")
    return True


def point_api(kube: Kube, secret_name: str, api_host: str) -> bool:
    """APIServer cluster serves `secret_name` (in openshift-config) for `api_host`; other names are kept.
    False when it already did."""
    current = kube.get(*API_SERVER, "cluster") or {}
    named = list((((current.get("spec") or {}).get("servingCerts") or {}).get("namedCertificates")) or [])
    wanted = {"names": [api_host], "servingCertificate": {"name": secret_name}}
    if wanted in named:
        return False
    named = [entry for entry in named if api_host not in (entry.get("names") or [])] + [wanted]
    kube.patch(*API_SERVER, "cluster", {"spec": {"servingCerts": {"namedCertificates": named}}})
    return True


def wait_operator(kube: Kube, name: str, timeout: float, poll: float) -> None:
    """ClusterOperator `name` Available and not Progressing: the new certificate is rolled out."""

    def settled() -> bool:
        operator = kube.get(*CLUSTER_OPERATOR, name)
        return condition_is(operator, "Available") and condition_is(operator, "Progressing", "False")

    until(
        f"ClusterOperator {name} to be Available and not Progressing",
        settled,
        timeout,
        poll,
        f"see 'oc get clusteroperator {name}' and its pods; a certificate that does not match the domain is the "
        "usual cause",
    )


def ca_certificates(record: Record) -> str:
    """The CA to trust for a restored serving certificate: its `ca.crt`, else the chain after the leaf in
    `tls.crt` (PEM text; empty when there is none)."""
    import base64

    data = record.values.get("data") or {}
    ca = base64.b64decode(data.get("ca.crt") or "").decode(errors="replace").strip()
    if ca:
        return ca + "\n"
    chain = base64.b64decode(data.get("tls.crt") or "").decode(errors="replace")
    blocks = pem_blocks(chain)
    return "".join(blocks[1:])


def pem_blocks(text: str) -> list[str]:
    """Each `-----BEGIN CERTIFICATE-----` block of a PEM bundle, normalized to end with a newline."""
    import re

    return [
        m.group(0) + "\n" for m in re.finditer(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", text, re.S)
    ]
