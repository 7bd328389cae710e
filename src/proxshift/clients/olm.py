"""Operators through OLM: Namespace, OperatorGroup and Subscription; then the CSV, failing fast, and the CRDs.

OLM reports a Subscription it cannot resolve with condition ResolutionFailed (or CatalogSourcesUnhealthy)
and never installs anything: waiting for the CSV would only end at the timeout, so those fail at once,
with OLM's message. So does a CSV in phase Failed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from proxshift.clients.kube import Kube, condition_is, conditions, until
from proxshift.errors import OperationError

OLM = "operators.coreos.com"
SUBSCRIPTION = (f"{OLM}/v1alpha1", "Subscription")
CSV = (f"{OLM}/v1alpha1", "ClusterServiceVersion")
CRD = ("apiextensions.k8s.io/v1", "CustomResourceDefinition")
MARKETPLACE = "openshift-marketplace"
GLOBAL_NAMESPACE = "openshift-operators"  # OpenShift's own OperatorGroup (global-operators) is there
FAILING_CONDITIONS = ("ResolutionFailed", "CatalogSourcesUnhealthy")
HINT = "see the Subscription and ClusterServiceVersion in the cluster ('oc describe subscription -n {namespace}')"

Report = Callable[[str], None]


@dataclass(frozen=True)
class Operator:
    """An operator package to subscribe to, and where."""

    package: str
    namespace: str
    channel: str
    source: str
    namespace_labels: dict[str, str] = field(default_factory=dict)

    @property
    def hint(self) -> str:
        return HINT.format(namespace=self.namespace)

    def documents(self) -> list[dict[str, Any]]:
        """Namespace and OperatorGroup (spec {}: every namespace) unless it is openshift-operators, then the
        Subscription with automatic approval."""
        documents: list[dict[str, Any]] = []
        if self.namespace != GLOBAL_NAMESPACE:
            metadata: dict[str, Any] = {"name": self.namespace}
            if self.namespace_labels:
                metadata["labels"] = dict(self.namespace_labels)
            documents.append({"apiVersion": "v1", "kind": "Namespace", "metadata": metadata})
            documents.append(
                {
                    "apiVersion": f"{OLM}/v1",
                    "kind": "OperatorGroup",
                    "metadata": {"name": self.namespace, "namespace": self.namespace},
                    "spec": {},
                }
            )
        documents.append(
            {
                "apiVersion": SUBSCRIPTION[0],
                "kind": "Subscription",
                "metadata": {"name": self.package, "namespace": self.namespace},
                "spec": {
                    "channel": self.channel,
                    "installPlanApproval": "Automatic",
                    "name": self.package,
                    "source": self.source,
                    "sourceNamespace": MARKETPLACE,
                },
            }
        )
        return documents


def describe(document: dict[str, Any]) -> str:
    """`Kind namespace/name` (or `Kind name`), as progress lines name objects."""
    metadata = document["metadata"]
    where = f"{metadata['namespace']}/" if metadata.get("namespace") else ""
    return f"{document['kind']} {where}{metadata['name']}"


def apply_all(kube: Kube, documents: list[dict[str, Any]], report: Report) -> None:
    """Each document applied (nothing sent when the object already holds it), one line each."""
    for document in documents:
        report(f"{describe(document)}: {kube.ensure(document)}")


def _subscription_failure(subscription: dict[str, Any] | None) -> str | None:
    found = conditions(subscription)
    for kind in FAILING_CONDITIONS:
        if condition_is(subscription, kind):
            return f"{kind}: {found[kind].get('message') or found[kind].get('reason') or 'no message'}"
    return None


def wait_installed(kube: Kube, operator: Operator, timeout: float, poll: float, report: Report) -> str:
    """The installed CSV's name, once it Succeeded; fails fast on a failing Subscription or CSV."""
    name, namespace = operator.package, operator.namespace

    def installed_csv() -> str | None:
        subscription = kube.get(*SUBSCRIPTION, name, namespace)
        failure = _subscription_failure(subscription)
        if failure:
            raise OperationError(f"Subscription {namespace}/{name} failed: {failure}", operator.hint)
        return ((subscription or {}).get("status") or {}).get("installedCSV") or None

    csv_name = until(f"Subscription {namespace}/{name} to install a CSV", installed_csv, timeout, poll, operator.hint)

    def succeeded() -> bool:
        status = (kube.get(*CSV, csv_name, namespace) or {}).get("status") or {}
        if status.get("phase") == "Failed":
            because = ": ".join(str(p) for p in (status.get("reason"), status.get("message")) if p) or "no message"
            raise OperationError(f"ClusterServiceVersion {namespace}/{csv_name} failed: {because}", operator.hint)
        return status.get("phase") == "Succeeded"

    until(f"ClusterServiceVersion {namespace}/{csv_name} to succeed", succeeded, timeout, poll, operator.hint)
    report(f"ClusterServiceVersion {namespace}/{csv_name}: Succeeded")
    return csv_name


def wait_crds(kube: Kube, names: tuple[str, ...], timeout: float, poll: float, report: Report) -> None:
    for name in names:
        until(
            f"CRD {name} to be Established",
            _established(kube, name),
            timeout,
            poll,
            "the operator installs it; see its ClusterServiceVersion",
        )
        report(f"CRD {name}: Established")


def _established(kube: Kube, name: str) -> Callable[[], bool]:
    return lambda: condition_is(kube.get(*CRD, name), "Established")


def served_versions(kube: Kube, crd: str) -> list[str]:
    """The versions a CRD serves, newest first (v1 before v1beta1 before v1alpha1), as Kubernetes orders them."""
    found = kube.get(*CRD, crd) or {}
    versions = [v["name"] for v in (found.get("spec") or {}).get("versions") or [] if v.get("served", True)]
    return sorted(versions, key=version_priority)


def version_priority(version: str) -> tuple[int, int, int]:
    """Sort key, Kubernetes' version priority: GA before beta before alpha, higher numbers first."""
    import re

    match = re.fullmatch(r"v(\d+)(?:(alpha|beta)(\d+))?", version)
    if not match:
        return (3, 0, 0)
    stability = {"": 0, "beta": 1, "alpha": 2}[match.group(2) or ""]
    return (stability, -int(match.group(1)), -int(match.group(3) or 0))
