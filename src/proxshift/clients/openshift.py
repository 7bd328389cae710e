"""An installed cluster's own objects through the one Kubernetes wrapper: Nodes and the labels proxshift
keeps on them, StorageClasses and which one is the default, and what `health` reads (ClusterVersion,
ClusterOperators, /readyz, the API's serving certificate)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from proxshift.clients.kube import Kube, condition_is, conditions
from proxshift.clients.transport import Poller
from proxshift.errors import OperationError

# The label keys proxshift set on a Node (a JSON list): the ones it may remove later, and only those.
LABELS_ANNOTATION = "proxshift/labels"
DEFAULT_CLASS = "storageclass.kubernetes.io/is-default-class"
BETA_DEFAULT_CLASS = "storageclass.beta.kubernetes.io/is-default-class"  # still honoured by the admission plugin
STORAGE = "storage.k8s.io/v1"


def _metadata(obj: Mapping[str, Any]) -> dict[str, Any]:
    return dict(obj.get("metadata") or {})


def name_of(obj: Mapping[str, Any]) -> str:
    return str(_metadata(obj).get("name", ""))


# -- Nodes -------------------------------------------------------------------------------------------------


def node_problem(node: Mapping[str, Any] | None) -> str | None:
    """Why a Node is not Ready ("no such Node", the Ready condition's message), or None."""
    if node is None:
        return "no such Node"
    if condition_is(node, "Ready"):
        return None
    ready = conditions(node).get("Ready") or {}
    detail = ready.get("message") or ready.get("reason") or "no Ready condition"
    return f"NotReady ({ready.get('status', 'Unknown')}): {detail}"


def wait_for_nodes(
    kube: Kube, names: list[str], timeout: float, poll: float, report: Callable[[str], None]
) -> dict[str, dict[str, Any]]:
    """The Nodes of these names once every one exists and is Ready; an OperationError naming the others."""
    problems: dict[str, str] = {}
    said = ""

    def check() -> dict[str, dict[str, Any]] | None:
        nodes = {name_of(n): n for n in kube.list("v1", "Node")}
        problems.clear()
        problems.update({n: p for n in names if (p := node_problem(nodes.get(n))) is not None})
        return None if problems else {n: nodes[n] for n in names}

    def progress() -> None:
        nonlocal said
        line = f"waiting for {len(problems)} of {len(names)} nodes: {', '.join(sorted(problems))}"
        if line != said:
            said = line
            report(line)

    ready = Poller(timeout, cap=poll).until(check, progress)
    if ready is None:
        raise OperationError(
            f"not every host became a Ready Node within {timeout:g} s: "
            + "; ".join(f"{n}: {p}" for n, p in sorted(problems.items())),
            "check those machines in Proxmox and 'proxshift health'; post_install.node_timeout sets the wait",
        )
    return ready


@dataclass(frozen=True)
class LabelChange:
    """What one Node needs so that it carries `wanted` and no label proxshift set before and no longer wants."""

    node: str
    set: dict[str, str] = field(default_factory=dict)
    removed: tuple[str, ...] = ()
    remember: str | None = None  # the annotation's new value (None: remove it)
    changes_annotation: bool = False

    @property
    def needed(self) -> bool:
        return bool(self.set or self.removed or self.changes_annotation)

    def patch(self) -> dict[str, Any]:
        """A JSON merge patch: null removes a key; labels proxshift never set are not named at all."""
        return {
            "metadata": {
                "labels": {**self.set, **dict.fromkeys(self.removed)},
                "annotations": {LABELS_ANNOTATION: self.remember},
            }
        }


def label_change(node: Mapping[str, Any], wanted: Mapping[str, str]) -> LabelChange:
    metadata = _metadata(node)
    labels: dict[str, str] = dict(metadata.get("labels") or {})
    annotation = (metadata.get("annotations") or {}).get(LABELS_ANNOTATION)
    try:
        previous = {str(k) for k in json.loads(annotation)} if annotation else set()
    except (ValueError, TypeError):
        previous = set()
    remember = json.dumps(sorted(wanted)) if wanted else None
    return LabelChange(
        name_of(node),
        {k: v for k, v in wanted.items() if labels.get(k) != v},
        tuple(sorted(k for k in previous - set(wanted) if k in labels)),
        remember,
        annotation != remember,
    )


def apply_labels(kube: Kube, node: Mapping[str, Any], wanted: Mapping[str, str]) -> LabelChange:
    """Patch the Node when (and only when) something differs; the change made."""
    change = label_change(node, wanted)
    if change.needed:
        kube.patch("v1", "Node", change.node, change.patch())
    return change


# -- StorageClasses ----------------------------------------------------------------------------------------


def is_default(storage_class: Mapping[str, Any]) -> bool:
    annotations = _metadata(storage_class).get("annotations") or {}
    return any(str(annotations.get(key, "")).lower() == "true" for key in (DEFAULT_CLASS, BETA_DEFAULT_CLASS))


def wait_for_storage_class(kube: Kube, name: str, timeout: float, poll: float) -> dict[str, Any]:
    found = Poller(timeout, cap=poll).until(lambda: kube.get(STORAGE, "StorageClass", name))
    if found is None:
        there = ", ".join(sorted(name_of(s) for s in kube.list(STORAGE, "StorageClass"))) or "none"
        raise OperationError(
            f"StorageClass {name} did not appear within {timeout:g} s (storage classes there: {there})",
            "whatever provides it (GitOps, an operator) has not created it yet: correct "
            "post_install.default_storage_class, or raise post_install.storage_class_timeout",
        )
    return found


def make_default(kube: Kube, name: str) -> tuple[list[str], bool]:
    """`name` the only default StorageClass: (the others that were default, whether `name` was patched).
    Verified afterwards: an OperationError when the defaults are not exactly `name`."""
    demoted = []
    for storage_class in kube.list(STORAGE, "StorageClass"):
        other = name_of(storage_class)
        if other != name and is_default(storage_class):
            annotations = _metadata(storage_class).get("annotations") or {}
            off = {key: "false" for key in (DEFAULT_CLASS, BETA_DEFAULT_CLASS) if key in annotations}
            kube.patch(STORAGE, "StorageClass", other, {"metadata": {"annotations": off}})
            demoted.append(other)
    target = kube.get(STORAGE, "StorageClass", name) or {}
    annotations = _metadata(target).get("annotations") or {}
    promote = annotations.get(DEFAULT_CLASS) != "true"
    if promote:
        kube.patch(STORAGE, "StorageClass", name, {"metadata": {"annotations": {DEFAULT_CLASS: "true"}}})
    defaults = sorted(name_of(s) for s in kube.list(STORAGE, "StorageClass") if is_default(s))
    if defaults != [name]:
        raise OperationError(
            f"after making {name} the default StorageClass, the defaults are: {', '.join(defaults) or 'none'}",
            "something else sets storageclass.kubernetes.io/is-default-class (an operator?); see its settings",
        )
    return demoted, promote


# -- what health reads -------------------------------------------------------------------------------------


def readyz(kube: Kube) -> list[str]:
    """What the API server says is not ready (the `[-]` lines of /readyz?verbose); [] when it is ready."""
    api: Any = kube.api

    def ask() -> list[str]:
        method, url, headers, _, _ = api.param_serialize(
            "GET", "/readyz", query_params=[("verbose", "true")], auth_settings=["BearerToken"]
        )
        response = api.call_api(method, url, header_params=headers)
        if 200 <= response.status < 300:
            return []
        text = (response.read() or b"").decode(errors="replace")
        failing = [line[3:].strip() for line in text.splitlines() if line.startswith("[-]")]
        return failing or [f"HTTP {response.status} {response.reason or ''}".strip()]

    return list(kube.call("asking /readyz", ask) or [])


@dataclass(frozen=True)
class ServingCertificate:
    expires: float  # Unix seconds
    issuer: str  # its issuer's common name

    @property
    def rotated_by_the_cluster(self) -> bool:
        """Signed by the kube-apiserver operator's own signer: renewed by the cluster every 15 of its 30 days
        (cluster-kube-apiserver-operator, certrotationcontroller: Validity 30 days, Refresh 15 days)."""
        return "openshift-kube-apiserver-operator" in self.issuer


def serving_certificate(kube: Kube, timeout: float = 10.0) -> ServingCertificate:
    """The API's serving certificate, read over TLS verified as the kubeconfig verifies it (its CA, the
    server's name)."""
    import socket
    import ssl
    from urllib.parse import urlsplit

    url = urlsplit(kube.server)
    host, port = url.hostname or "", url.port or 443
    configuration = kube.api.configuration
    context = ssl.create_default_context(cafile=configuration.ssl_ca_cert or None)
    try:
        with (
            socket.create_connection((host, port), timeout=timeout) as raw,
            context.wrap_socket(raw, server_hostname=host) as tls,
        ):
            certificate = tls.getpeercert()
    except ssl.SSLCertVerificationError as exc:
        raise OperationError(
            f"the API's certificate at {host}:{port} does not verify: {exc.verify_message}",
            "has it expired, or been replaced by one the stored kubeconfig's CA did not sign?",
        ) from None
    except OSError as exc:
        raise OperationError(f"cannot reach {host}:{port} over TLS: {exc}", "check that the cluster is up") from None
    if not certificate or "notAfter" not in certificate:
        raise OperationError(f"{host}:{port} presented no certificate", "check the API's address")
    names: Any = certificate.get("issuer", ())  # ((("commonName", "..."),), ...)
    issuer = next((value for rdn in names for key, value in rdn if key == "commonName"), "")
    return ServingCertificate(float(ssl.cert_time_to_seconds(str(certificate["notAfter"]))), str(issuer))


def cluster_version(kube: Kube) -> dict[str, Any] | None:
    return kube.get("config.openshift.io/v1", "ClusterVersion", "version")


def cluster_operators(kube: Kube) -> list[dict[str, Any]]:
    return kube.list("config.openshift.io/v1", "ClusterOperator")


def nodes(kube: Kube) -> list[dict[str, Any]]:
    return kube.list("v1", "Node")
