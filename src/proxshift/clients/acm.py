"""Import a cluster into Red Hat ACM (auto: hub only; manual: klusterlet applied to the cluster) and detach it."""

from __future__ import annotations

import base64
import shutil
import tempfile
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from proxshift.clients.transport import Poller
from proxshift.errors import OperationError, UserInputError
from proxshift.secret import Secret

MANAGED_CLUSTER = ("cluster.open-cluster-management.io/v1", "ManagedCluster")
JOINED = "ManagedClusterJoined"
AVAILABLE = "ManagedClusterConditionAvailable"
FIELD_MANAGER = "proxshift"
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


def labels_for(cluster: str, clusterset: str, extra: dict[str, str]) -> dict[str, str]:
    return {
        "name": cluster,
        "cloud": "auto-detect",
        "vendor": "auto-detect",
        "cluster.open-cluster-management.io/clusterset": clusterset,
        **extra,
    }


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


class Kube:
    """One cluster's API through the dynamic client, TLS verified with the kubeconfig's CA."""

    def __init__(self, kubeconfig: str, label: str) -> None:
        import yaml
        from kubernetes import client, config, dynamic

        self.label = label
        configuration = client.Configuration()
        try:
            data = yaml.safe_load(kubeconfig)
            config.load_kube_config_from_dict(data, client_configuration=configuration)  # type: ignore[no-untyped-call]
        except Exception:
            raise UserInputError(f"the kubeconfig of {label} cannot be read", "check where it comes from") from None
        configuration.retries = 1
        self.api = client.ApiClient(configuration)
        self.server = str(configuration.host)
        # A private discovery cache: the default one is shared in /tmp.
        self._cache = tempfile.mkdtemp(prefix="proxshift-discovery-")
        weakref.finalize(self, shutil.rmtree, self._cache, True)
        self._dynamic: Any = None
        self._dynamic_factory = lambda: dynamic.DynamicClient(  # type: ignore[no-untyped-call]
            self.api, cache_file=f"{self._cache}/discovery.json"
        )

    def _call(self, doing: str, function: Callable[[], Any]) -> Any:
        from kubernetes.client.exceptions import ApiException
        from kubernetes.dynamic.exceptions import DynamicApiError, NotFoundError, ResourceNotFoundError
        from urllib3.exceptions import HTTPError

        try:
            return function()
        except (NotFoundError, ResourceNotFoundError):
            return None
        except (ApiException, DynamicApiError) as exc:
            status = getattr(exc, "status", None)
            if status == 404:
                return None
            raise OperationError(
                f"{self.label} ({self.server}) refused {doing}: HTTP {status} {_reason(exc)}",
                "check the kubeconfig's permissions (see docs/acm.md)",
            ) from None
        except (HTTPError, OSError) as exc:
            raise OperationError(
                f"{self.label} ({self.server}) is unreachable while {doing} ({type(exc).__name__})",
                "check the API URL and that the cluster is up",
            ) from None

    @property
    def dynamic(self) -> Any:
        if self._dynamic is None:
            self._dynamic = self._call("API discovery", self._dynamic_factory)
        return self._dynamic

    def resource(self, api_version: str, kind: str) -> Any:
        from kubernetes.dynamic.exceptions import ResourceNotFoundError

        try:
            return self.dynamic.resources.get(api_version=api_version, kind=kind)
        except ResourceNotFoundError:
            # New CRDs: look again with fresh discovery before giving up.
            self.dynamic.resources.invalidate_cache()
            try:
                return self.dynamic.resources.get(api_version=api_version, kind=kind)
            except ResourceNotFoundError:
                raise OperationError(
                    f"{self.label} does not serve {kind} ({api_version})",
                    "is ACM (or the klusterlet CRD) installed there?",
                ) from None

    def get(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        resource = self.resource(api_version, kind)
        found = self._call(f"reading {kind} {name}", lambda: resource.get(name=name, namespace=namespace))
        return found.to_dict() if found is not None else None

    def apply(self, document: dict[str, Any]) -> dict[str, Any]:
        """Server-side apply: create or update, idempotent."""
        resource = self.resource(document["apiVersion"], document["kind"])
        namespace = document.get("metadata", {}).get("namespace")
        name = document["metadata"]["name"]
        result = self._call(
            f"applying {document['kind']} {name}",
            lambda: self.dynamic.server_side_apply(
                resource, body=document, namespace=namespace, field_manager=FIELD_MANAGER, force_conflicts=True
            ),
        )
        return dict(result.to_dict()) if result is not None else {}

    def delete(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> bool:
        resource = self.resource(api_version, kind)
        return (
            self._call(f"deleting {kind} {name}", lambda: resource.delete(name=name, namespace=namespace)) is not None
        )


def _reason(exc: Any) -> str:
    import json

    try:
        return str(json.loads(exc.body).get("message", ""))
    except (ValueError, TypeError, AttributeError):
        return str(getattr(exc, "reason", ""))


def _conditions(obj: dict[str, Any] | None) -> dict[str, str]:
    return {c.get("type", ""): c.get("status", "") for c in ((obj or {}).get("status") or {}).get("conditions") or []}


def _until(
    what: str,
    check: Callable[[], Any],
    timeout: float,
    poll: float,
    report: Report | None = None,
    progress: Callable[[], str] | None = None,
) -> Any:
    said: list[str] = []

    def say_progress() -> None:
        if progress and report:
            line = progress()
            if not said or line != said[-1]:
                report(line)
                said.append(line)

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
    found = hub.get(*MANAGED_CLUSTER, cluster)
    if found is None:
        return "missing"
    conditions = _conditions(found)
    if conditions.get(AVAILABLE) == "True":
        return "available"
    return "joined" if conditions.get(JOINED) == "True" else "pending"


def _wait_joined(hub: Kube, cluster: str, timeout: float, poll: float, report: Report) -> None:
    def joined() -> bool:
        conditions = _conditions(hub.get(*MANAGED_CLUSTER, cluster))
        return conditions.get(JOINED) == "True" and conditions.get(AVAILABLE) == "True"

    def progress() -> str:
        return f"  ManagedCluster {cluster}: {state(hub, cluster)}"

    _until(f"ManagedCluster {cluster} to be joined and available", joined, timeout, poll, report, progress)


def addons(hub: Kube, cluster: str) -> dict[str, str]:
    try:
        resource = hub.resource("addon.open-cluster-management.io/v1alpha1", "ManagedClusterAddOn")
    except OperationError:
        return {}
    found = hub._call("listing add-ons", lambda: resource.get(namespace=cluster))
    result = {}
    for item in found.to_dict().get("items", []) if found is not None else []:
        result[item["metadata"]["name"]] = "available" if _conditions(item).get("Available") == "True" else "pending"
    return result


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
        crd = spoke.get("apiextensions.k8s.io/v1", "CustomResourceDefinition", name)
        return _conditions(crd).get("Established") == "True"

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
