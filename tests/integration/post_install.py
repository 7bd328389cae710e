"""An installed cluster's API with the post-install controllers running: OLM, Argo CD, External Secrets."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from proxshift.lab.argocd_sim import ArgoCdSimulation
from proxshift.lab.eso_sim import EsoSimulation
from proxshift.lab.kubeapi import KubeApiServer
from proxshift.lab.olm_sim import OlmSimulation
from proxshift.lab.serving import make_certificates
from tests.integration.kube import api_client, eventually

DELAY = 0.3  # every simulated delay: long enough to be seen, short enough to wait for


@dataclass
class PostInstallLab:
    kube: KubeApiServer
    olm: OlmSimulation
    argocd: ArgoCdSimulation
    eso: EsoSimulation
    client: Any  # the official client's ApiClient
    _dynamic: Any = None

    def resource(self, api_version: str, kind: str) -> Any:
        """The dynamic client's resource, discovering again when a CRD is new."""
        from kubernetes import dynamic
        from kubernetes.dynamic.exceptions import ResourceNotFoundError

        if self._dynamic is None:
            self._dynamic = dynamic.DynamicClient(self.client)
        try:
            return self._dynamic.resources.get(api_version=api_version, kind=kind)
        except ResourceNotFoundError:
            self._dynamic = dynamic.DynamicClient(self.client)
            return self._dynamic.resources.get(api_version=api_version, kind=kind)

    def apply(self, document: dict[str, Any]) -> dict[str, Any]:
        """Server-side apply through the dynamic client, as proxshift's clients apply objects."""
        resource = self.resource(document["apiVersion"], document["kind"])
        result = self._dynamic.server_side_apply(
            resource,
            body=document,
            namespace=document["metadata"].get("namespace"),
            field_manager="proxshift",
            force_conflicts=True,
        )
        return dict(result.to_dict())

    def get(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        from kubernetes.dynamic.exceptions import NotFoundError

        try:
            return dict(self.resource(api_version, kind).get(name=name, namespace=namespace).to_dict())
        except NotFoundError:
            return None

    def delete(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> None:
        self.resource(api_version, kind).delete(name=name, namespace=namespace)

    def subscribe(
        self, package: str, namespace: str, channel: str, source: str, approval: str = "Automatic", group: bool = True
    ) -> None:
        """Namespace, OperatorGroup (spec {}) and Subscription, as the gitops and eso phases apply them."""
        if namespace != "openshift-operators":
            self.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
            if group:
                self.apply(
                    {
                        "apiVersion": "operators.coreos.com/v1",
                        "kind": "OperatorGroup",
                        "metadata": {"name": namespace, "namespace": namespace},
                        "spec": {},
                    }
                )
        self.apply(
            {
                "apiVersion": "operators.coreos.com/v1alpha1",
                "kind": "Subscription",
                "metadata": {"name": package, "namespace": namespace},
                "spec": {
                    "channel": channel,
                    "installPlanApproval": approval,
                    "name": package,
                    "source": source,
                    "sourceNamespace": "openshift-marketplace",
                },
            }
        )

    def installed_csv(self, package: str, namespace: str, timeout: float = 10.0) -> dict[str, Any]:
        """Wait for status.installedCSV, then for that CSV's phase Succeeded; return the CSV."""

        def csv_name() -> str | None:
            sub = self.get("operators.coreos.com/v1alpha1", "Subscription", package, namespace) or {}
            return (sub.get("status") or {}).get("installedCSV")

        name = eventually(csv_name, timeout, f"{package}'s installedCSV")

        def succeeded() -> dict[str, Any] | None:
            csv = self.get("operators.coreos.com/v1alpha1", "ClusterServiceVersion", name, namespace) or {}
            return csv if (csv.get("status") or {}).get("phase") == "Succeeded" else None

        return eventually(succeeded, timeout, f"{name} Succeeded")


@pytest.fixture
def post_install(tmp_path: Path) -> Iterator[PostInstallLab]:
    kube = KubeApiServer(make_certificates(tmp_path / "pki"), secrets.token_hex(16)).start()
    olm = OlmSimulation(kube, poll=0.02, csv_seconds=DELAY).start()
    argocd = ArgoCdSimulation(kube, poll=0.02, ready_seconds=DELAY, sync_seconds=DELAY).start()
    eso = EsoSimulation(kube, poll=0.02, deploy_seconds=DELAY, retry_seconds=0.1).start()
    try:
        eventually(lambda: kube.store.find("v1", "Namespace", "openshift-operators"), what="OLM's platform")
        yield PostInstallLab(kube, olm, argocd, eso, api_client(kube))  # type: ignore[arg-type]
    finally:
        for controller in (eso, argocd, olm):
            controller.stop()
        kube.stop()
        for controller in (olm, argocd, eso):
            assert controller.failures == [], controller.failures
