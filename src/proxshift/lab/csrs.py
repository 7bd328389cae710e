"""Kubelet certificate signing requests as a joining host sends them: real PEM requests (EC P-256).

The join simulation and the tests of proxshift's approval rules make them here, shaped as the two
a kubelet sends: the client one (by the node-bootstrapper service account, no SANs) and, once its
Node is registered, the serving one (as the node, with the node's names and addresses as SANs).
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
from collections.abc import Sequence
from typing import Any

CLIENT_SIGNER = "kubernetes.io/kube-apiserver-client-kubelet"
SERVING_SIGNER = "kubernetes.io/kubelet-serving"
BOOTSTRAPPER = "system:serviceaccount:openshift-machine-config-operator:node-bootstrapper"
BOOTSTRAPPER_GROUPS = (
    "system:serviceaccounts:openshift-machine-config-operator",
    "system:serviceaccounts",
    "system:authenticated",
)
NODE_GROUPS = ("system:nodes", "system:authenticated")


def pem_request(
    common_name: str,
    organizations: Sequence[str] = ("system:nodes",),
    dns_names: Sequence[str] = (),
    ip_addresses: Sequence[str] = (),
    emails: Sequence[str] = (),
) -> str:
    """A PEM certificate request signed by a fresh EC P-256 key, base64-encoded as spec.request holds it."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    names = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in organizations]
    names.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    builder = x509.CertificateSigningRequestBuilder().subject_name(x509.Name(names))
    alternatives: list[x509.GeneralName] = [x509.DNSName(n) for n in dns_names]
    alternatives += [x509.IPAddress(ipaddress.ip_address(a)) for a in ip_addresses]
    alternatives += [x509.RFC822Name(e) for e in emails]
    if alternatives:
        builder = builder.add_extension(x509.SubjectAlternativeName(alternatives), critical=False)
    request = builder.sign(key, hashes.SHA256())
    return base64.b64encode(request.public_bytes(serialization.Encoding.PEM)).decode()


def csr_object(
    name: str,
    signer: str,
    username: str,
    groups: Sequence[str],
    usages: Sequence[str],
    request: str,
    created: datetime.datetime | None = None,
) -> dict[str, Any]:
    """A CertificateSigningRequest as the API serves it (pending: no conditions)."""
    stamp = (created or datetime.datetime.now(datetime.UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "apiVersion": "certificates.k8s.io/v1",
        "kind": "CertificateSigningRequest",
        "metadata": {"name": name, "creationTimestamp": stamp},
        "spec": {
            "signerName": signer,
            "username": username,
            "groups": list(groups),
            "usages": list(usages),
            "request": request,
        },
        "status": {},
    }


def client_csr(name: str, host: str, created: datetime.datetime | None = None) -> dict[str, Any]:
    """The first CSR of a joining kubelet: its client certificate, asked for with the bootstrap token."""
    return csr_object(
        name,
        CLIENT_SIGNER,
        BOOTSTRAPPER,
        BOOTSTRAPPER_GROUPS,
        ("digital signature", "client auth"),
        pem_request(f"system:node:{host}"),
        created,
    )


def serving_csr(
    name: str, host: str, dns_names: Sequence[str], ips: Sequence[str], created: datetime.datetime | None = None
) -> dict[str, Any]:
    """The second CSR: the kubelet's serving certificate, asked for as the node."""
    return csr_object(
        name,
        SERVING_SIGNER,
        f"system:node:{host}",
        NODE_GROUPS,
        ("digital signature", "server auth"),
        pem_request(f"system:node:{host}", dns_names=dns_names, ip_addresses=ips),
        created,
    )
