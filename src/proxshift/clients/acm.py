"""Import a cluster into Red Hat ACM (auto: hub only; manual: klusterlet applied to the cluster) and detach it."""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from proxshift.clients.kube import Kube, KubeNotServed, condition_is
from proxshift.clients.transport import Poller
from proxshift.errors import OperationError
from proxshift.secret import Secret

MANAGED_CLUSTER = ("cluster.open-cluster-management.io/v1", "ManagedCluster")
JOINED = "ManagedClusterJoined"
AVAILABLE = "ManagedClusterConditionAvailable"
REFUSED_HINT = "check the kubeconfig's permissions (see docs/acm.md)"
TEMPLATES = ("managedcluster.yaml.j2", "klusterletaddonconfig.yaml.j2", "auto-import-secret.yaml.j2")

Report = Callable[[str], None]


@dataclass(frozen=True)
class AddOns:
    """The add-ons the hub deploys; the predecessor enabled these four."""

    application_manager: bool = True
    policy_controller: bool = True
    search_collector: bool = True
    cert_policy_controller: bool = True


@dataclass
class ImportPlan:
    """The hub documents for one cluster; `redacted` is what --dry-run prints."""

    cluster: str
    documents: list[dict[str, Any]]
    redacted: list[dict[str, Any]]


def labels_for(cluster: str, clusterset: str, extra: Mapping[str, str | None]) -> dict[str, str]:
    """ACM's own labels, then the ones the predecessor always set (its users' hub Placements select on
    them), then the inventory's `acm_labels`: they add or override, and null removes one."""
    labels: dict[str, str | None] = {
        "name": cluster,
        "cloud": "auto-detect",
        "vendor": "auto-detect",
        "cluster.open-cluster-management.io/clusterset": clusterset,
        "cluster-name": cluster,
        "apply-gitops": "true",
        "apply-certs": "true",
        **extra,
    }
    return {key: value for key, value in labels.items() if value is not None}


def render_plan(
    cluster: str,
    labels: dict[str, str],
    addons: AddOns,
    kubeconfig: Secret | None,
    templates_dir: Path | None,
    mode: str,
) -> ImportPlan:
    """Render templates/acm/*.j2 (overridable in <root>/templates/acm/)."""
    import yaml

    from proxshift.manifests.jinja import template_environment

    env = template_environment(templates_dir)
    names = TEMPLATES if mode == "auto" else TEMPLATES[:2]

    def render(secret_text: str) -> list[dict[str, Any]]:
        values = {"name": cluster, "labels": labels, "addons": addons, "kubeconfig": secret_text}
        return [yaml.safe_load(env.get_template(f"acm/{name}").render(**values)) for name in names]

    # Revealed only into the Secret that goes to the hub.
    real = render(kubeconfig.reveal() if kubeconfig else "")
    redacted = render(kubeconfig.redacted() if kubeconfig else "")
    return ImportPlan(cluster, real, redacted)


def _until(
    what: str,
    check: Callable[[], Any],
    timeout: float,
    poll: float,
    report: Report | None = None,
    progress: Callable[[], str] | None = None,
) -> Any:
    last = ""

    def say_progress() -> None:
        nonlocal last
        if progress and report:
            line = progress()
            if line != last:
                report(line)
                last = line

    # Things usually happen fast: the first pauses are short, backing off to `poll` when they do not.
    result = Poller(timeout, cap=poll).until(check, say_progress)
    if not result:
        raise OperationError(
            f"timed out after {timeout:.0f} s waiting for {what}",
            "see the hub's ACM operator and the cluster's klusterlet logs",
        )
    return result


def state(hub: Kube, cluster: str) -> str:
    """missing / pending / joined / available: what `proxshift status` shows."""
    managed = hub.get(*MANAGED_CLUSTER, cluster)
    if managed is None:
        return "missing"
    if condition_is(managed, AVAILABLE):
        return "available"
    return "joined" if condition_is(managed, JOINED) else "pending"


def _wait_joined(hub: Kube, cluster: str, timeout: float, poll: float, report: Report) -> None:
    def joined() -> bool:
        managed = hub.get(*MANAGED_CLUSTER, cluster)
        return condition_is(managed, JOINED) and condition_is(managed, AVAILABLE)

    def progress() -> str:
        return f"  ManagedCluster {cluster}: {state(hub, cluster)}"

    _until(f"ManagedCluster {cluster} to be joined and available", joined, timeout, poll, report, progress)


def addons(hub: Kube, cluster: str) -> dict[str, str]:
    try:
        items = hub.list("addon.open-cluster-management.io/v1alpha1", "ManagedClusterAddOn", cluster)
    except KubeNotServed:
        return {}
    return {item["metadata"]["name"]: "available" if condition_is(item, "Available") else "pending" for item in items}


def import_auto(hub: Kube, plan: ImportPlan, timeout: float, poll: float, report: Report) -> dict[str, str]:
    """Hub only: ManagedCluster, then (once the hub made the namespace) the add-on config and auto-import secret."""
    cluster = plan.cluster
    managed, addon_config, secret = plan.documents
    hub.apply(managed)
    report(f"  applied ManagedCluster {cluster}")
    _until(f"namespace {cluster} on the hub", lambda: hub.get("v1", "Namespace", cluster), timeout, poll)
    hub.apply(addon_config)
    report(f"  applied KlusterletAddonConfig {cluster}/{cluster}")
    hub.apply(secret)
    report(f"  applied Secret {cluster}/auto-import-secret (the hub deploys the klusterlet)")
    _wait_joined(hub, cluster, timeout, poll, report)
    return addons(hub, cluster)


def import_manual(
    hub: Kube, spoke: Kube, plan: ImportPlan, timeout: float, poll: float, report: Report
) -> dict[str, str]:
    """As the predecessor: the hub's <cluster>-import secret, CRDs first (Established), then import.yaml."""
    import yaml

    cluster = plan.cluster
    managed, addon_config = plan.documents[:2]
    hub.apply(managed)
    report(f"  applied ManagedCluster {cluster}")
    _until(f"namespace {cluster} on the hub", lambda: hub.get("v1", "Namespace", cluster), timeout, poll)
    hub.apply(addon_config)
    secret = _until(
        f"secret {cluster}/{cluster}-import on the hub",
        lambda: hub.get("v1", "Secret", f"{cluster}-import", cluster),
        timeout,
        poll,
    )
    data = secret.get("data") or {}
    crds = [d for d in yaml.safe_load_all(base64.b64decode(data.get("crds.yaml", "")).decode()) if d]
    documents = [d for d in yaml.safe_load_all(base64.b64decode(data.get("import.yaml", "")).decode()) if d]
    for crd in crds:
        spoke.apply(crd)
        name = crd["metadata"]["name"]
        _until(
            f"CRD {name} to be Established on {cluster}",
            _established(spoke, name),
            timeout,
            poll,
        )
        report(f"  applied CRD {name} (Established)")
    for document in documents:
        spoke.apply(document)
        where = document["metadata"].get("namespace")
        report(f"  applied {document['kind']} {where + '/' if where else ''}{document['metadata']['name']}")
    _wait_joined(hub, cluster, timeout, poll, report)
    return addons(hub, cluster)


def _established(spoke: Kube, name: str) -> Callable[[], bool]:
    def check() -> bool:
        return condition_is(spoke.get("apiextensions.k8s.io/v1", "CustomResourceDefinition", name), "Established")

    return check


def detach(hub: Kube, cluster: str, timeout: float, poll: float, report: Report) -> bool:
    """Delete the ManagedCluster; its finalizers remove the namespace. Already gone is fine."""
    existed = hub.delete(*MANAGED_CLUSTER, cluster)
    report(f"  deleted ManagedCluster {cluster}" if existed else f"  ManagedCluster {cluster} was not there")
    _until(f"ManagedCluster {cluster} to go", lambda: hub.get(*MANAGED_CLUSTER, cluster) is None, timeout, poll)
    _until(
        f"namespace {cluster} to go from the hub", lambda: hub.get("v1", "Namespace", cluster) is None, timeout, poll
    )
    return existed
