"""Which kubelet certificate signing requests `nodes add` approves: two per new host, nothing else.

Nothing in an agent-installed cluster approves the CSRs of hosts added later: there are no Machine
objects, so the machine approver refuses them, and upstream leaves approval to the user. A CSR
approved here gives whoever holds its key a node's identity, so every rule below must hold, and
the first that does not is the reason the CSR is left pending (and listed at the end of the run).

- client (the kubelet's first request, with the bootstrap token): signer
  kubernetes.io/kube-apiserver-client-kubelet; requested by the node-bootstrapper service account
  with exactly its groups; subject O=system:nodes, CN=system:node:<host> for a host of this run;
  no subject alternative names; usages digital signature + client auth (key encipherment allowed);
  no Node of that name yet; created after the host's VM started.
- serving (after its Node registered): signer kubernetes.io/kubelet-serving; requested as
  system:node:<host> for a host of this run, in groups system:nodes and system:authenticated;
  subject O=system:nodes, CN = the requester; DNS names within the host's name and FQDN, IP
  addresses within its inventory IP and its Node's InternalIPs (and nothing else); usages
  digital signature + server auth (key encipherment allowed); created after the VM started.
- At most one of each per host and run: when several qualify, the newest (the one the kubelet
  waits on) is approved.

Pure: the API objects come in, verdicts go out; `read_request` parses the PEM with `cryptography`.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

CLIENT_SIGNER = "kubernetes.io/kube-apiserver-client-kubelet"
SERVING_SIGNER = "kubernetes.io/kubelet-serving"
BOOTSTRAPPER = "system:serviceaccount:openshift-machine-config-operator:node-bootstrapper"
BOOTSTRAPPER_GROUPS = frozenset(
    {"system:serviceaccounts:openshift-machine-config-operator", "system:serviceaccounts", "system:authenticated"}
)
NODE_GROUPS = frozenset({"system:nodes", "system:authenticated"})
NODE_PREFIX = "system:node:"
NODES_ORGANIZATION = ("system:nodes",)
CLIENT_USAGES = (
    frozenset({"digital signature", "client auth"}),
    frozenset({"digital signature", "key encipherment", "client auth"}),
)
SERVING_USAGES = (
    frozenset({"digital signature", "server auth"}),
    frozenset({"digital signature", "key encipherment", "server auth"}),
)
KINDS = {CLIENT_SIGNER: "client", SERVING_SIGNER: "serving"}


@dataclass(frozen=True)
class Request:
    """One pending CSR as the rules see it: its spec, and what its PEM request asks for."""

    name: str
    signer: str
    username: str
    groups: frozenset[str]
    usages: frozenset[str]
    created: datetime | None
    organizations: tuple[str, ...] = ()
    common_name: str | None = None
    dns_names: tuple[str, ...] = ()
    ip_addresses: tuple[str, ...] = ()
    other_names: tuple[str, ...] = ()  # e-mail, URI and other SAN kinds: never in a kubelet's request
    unreadable: str = ""  # why the PEM request could not be used; empty when it could

    @property
    def kind(self) -> str:
        return KINDS.get(self.signer, "")


@dataclass(frozen=True)
class Joining:
    """A host of this run: its inventory name, FQDN and IP, and when its VM started (UTC)."""

    name: str
    fqdn: str
    ip: str
    started: datetime


@dataclass(frozen=True)
class Verdict:
    csr: str
    approve: bool
    reason: str  # why it is left pending; for an approved one, what it is
    host: str | None = None
    kind: str = ""
    waiting: bool = False  # not yet: a later poll may approve it (its Node is not registered yet)


def is_pending(obj: Mapping[str, Any]) -> bool:
    """Neither approved, denied nor failed: no condition at all."""
    return not ((obj.get("status") or {}).get("conditions") or [])


def _created(obj: Mapping[str, Any]) -> datetime | None:
    stamp = (obj.get("metadata") or {}).get("creationTimestamp")
    if isinstance(stamp, datetime):
        return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)
    try:
        parsed = datetime.fromisoformat(str(stamp))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def read_request(obj: Mapping[str, Any]) -> Request:
    """The rules' view of a CertificateSigningRequest object; a PEM that cannot be used says why."""
    spec = obj.get("spec") or {}
    base = Request(
        name=str((obj.get("metadata") or {}).get("name", "?")),
        signer=str(spec.get("signerName", "")),
        username=str(spec.get("username", "")),
        groups=frozenset(str(g) for g in spec.get("groups") or []),
        usages=frozenset(str(u) for u in spec.get("usages") or []),
        created=_created(obj),
    )
    try:
        pem = base64.b64decode(str(spec.get("request", "")), validate=True)
    except (binascii.Error, ValueError):
        return replace(base, unreadable="spec.request is not base64")
    return _parse_pem(base, pem)


def _parse_pem(base: Request, pem: bytes) -> Request:
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    try:
        parsed = x509.load_pem_x509_csr(pem)
        signed = parsed.is_signature_valid
    except (ValueError, TypeError):
        return replace(base, unreadable="spec.request is not a PEM certificate request")
    if not signed:
        return replace(base, unreadable="the request's signature does not match its key")
    subject = parsed.subject
    names = subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    organizations = tuple(str(a.value) for a in subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME))
    dns: list[str] = []
    ips: list[str] = []
    other: list[str] = []
    try:
        extension = parsed.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        extension = None
    except ValueError:
        return replace(base, unreadable="the request's extensions cannot be read")
    for name in extension.value if extension is not None else []:
        if isinstance(name, x509.DNSName):
            dns.append(name.value)
        elif isinstance(name, x509.IPAddress):
            ips.append(str(name.value))
        else:
            other.append(f"{type(name).__name__} {name.value}")
    return replace(
        base,
        organizations=organizations,
        common_name=str(names[0].value) if len(names) == 1 else None,
        dns_names=tuple(dns),
        ip_addresses=tuple(ips),
        other_names=tuple(other),
    )


# -- the rules -------------------------------------------------------------------------------------------


def _common(request: Request, hosts: Mapping[str, Joining]) -> tuple[Joining | None, str]:
    """What both kinds need of the PEM: readable, O=system:nodes, CN=system:node:<a host of this run>."""
    if request.unreadable:
        return None, request.unreadable
    if request.organizations != NODES_ORGANIZATION:
        return None, f"subject O is {list(request.organizations)}, not ['system:nodes']"
    cn = request.common_name or ""
    if not cn.startswith(NODE_PREFIX):
        return None, f"subject CN {cn or '(none)'} is not system:node:<host>"
    host = hosts.get(cn[len(NODE_PREFIX) :])
    if host is None:
        return None, f"for {cn}, not a host this run adds"
    return host, ""


def _started_after(request: Request, host: Joining) -> str:
    # creationTimestamp has whole seconds: compare with the start's second.
    if request.created is None or request.created < host.started.replace(microsecond=0):
        return f"created before {host.name}'s VM started (a request this run did not cause)"
    return ""


def client_verdict(  # noqa: PLR0911 - one return per rule, in the order the module docstring lists them
    request: Request, hosts: Mapping[str, Joining], nodes: Mapping[str, set[str]]
) -> Verdict:
    """The rules of a kubelet's client CSR (see the module docstring), in order; the first miss is the reason."""

    def no(reason: str) -> Verdict:
        return Verdict(request.name, False, reason, kind="client")

    if request.username != BOOTSTRAPPER:
        return no(f"requested by {request.username or '(nobody)'}, not the node-bootstrapper service account")
    if request.groups != BOOTSTRAPPER_GROUPS:
        return no(f"groups {sorted(request.groups)} are not exactly the node-bootstrapper's")
    host, reason = _common(request, hosts)
    if host is None:
        return no(reason)
    if request.dns_names or request.ip_addresses or request.other_names:
        return no("a client request carries subject alternative names")
    if request.usages not in CLIENT_USAGES:
        return no(f"usages {sorted(request.usages)} are not digital signature + client auth")
    if host.name in nodes:
        return no(f"a Node {host.name} already exists")
    reason = _started_after(request, host)
    if reason:
        return no(reason)
    return Verdict(request.name, True, f"client certificate of {host.name}", host.name, "client")


def serving_verdict(  # noqa: PLR0911 - one return per rule, in the order the module docstring lists them
    request: Request, hosts: Mapping[str, Joining], nodes: Mapping[str, set[str]]
) -> Verdict:
    """The rules of a kubelet's serving CSR; `nodes` maps each Node's name to its InternalIPs."""

    def no(reason: str, waiting: bool = False) -> Verdict:
        return Verdict(request.name, False, reason, kind="serving", waiting=waiting)

    if not request.username.startswith(NODE_PREFIX) or request.username.removeprefix(NODE_PREFIX) not in hosts:
        return no(f"requested by {request.username or '(nobody)'}, not a host this run adds")
    if not request.groups >= NODE_GROUPS:
        return no(f"groups {sorted(request.groups)} lack system:nodes or system:authenticated")
    host, reason = _common(request, hosts)
    if host is None:
        return no(reason)
    if request.common_name != request.username:
        return no(f"subject CN {request.common_name} is not the requester {request.username}")
    if request.other_names:
        return no(f"subject alternative names beyond DNS and IP: {', '.join(request.other_names)}")
    if not request.dns_names and not request.ip_addresses:
        return no("no subject alternative names")
    allowed = {host.name.lower(), host.fqdn.lower()}
    extra = [n for n in request.dns_names if n.lower() not in allowed]
    if extra:
        return no(f"DNS names {extra} are not {host.name} or {host.fqdn}")
    extra = [a for a in request.ip_addresses if a != host.ip]
    if extra:
        return no(f"IP addresses {extra} are not {host.name}'s inventory IP {host.ip}")
    if request.usages not in SERVING_USAGES:
        return no(f"usages {sorted(request.usages)} are not digital signature + server auth")
    reason = _started_after(request, host)
    if reason:
        return no(reason)
    if host.name not in nodes:
        return no(f"the Node {host.name} is not registered yet", waiting=True)
    extra = [a for a in request.ip_addresses if a not in nodes[host.name]]
    if extra:
        return no(f"IP addresses {extra} are not InternalIPs of the Node {host.name}")
    return Verdict(request.name, True, f"serving certificate of {host.name}", host.name, "serving")


def decide(
    requests: Iterable[Request],
    hosts: Mapping[str, Joining],
    nodes: Mapping[str, set[str]],
    approved: set[tuple[str, str]],
) -> list[Verdict]:
    """A verdict for every pending request; at most one approval per (host, kind), counting `approved`
    (what this run approved before). The newest qualifying request of a host wins."""
    ordered = sorted(requests, key=lambda r: (r.created or datetime.min.replace(tzinfo=UTC), r.name), reverse=True)
    taken = set(approved)
    verdicts = []
    for request in ordered:
        if request.kind == "client":
            verdict = client_verdict(request, hosts, nodes)
        elif request.kind == "serving":
            verdict = serving_verdict(request, hosts, nodes)
        else:
            verdict = Verdict(request.name, False, f"signer {request.signer or '(none)'} is not a kubelet's")
        if verdict.approve and verdict.host is not None:
            key = (verdict.host, verdict.kind)
            if key in taken:
                verdict = Verdict(
                    request.name,
                    False,
                    f"a {verdict.kind} CSR of {verdict.host} is already approved in this run",
                    kind=verdict.kind,
                )
            else:
                taken.add(key)
        verdicts.append(verdict)
    return verdicts
