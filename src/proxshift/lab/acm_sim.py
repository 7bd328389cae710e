"""Plays the ACM hub's controllers on the hub's API emulator, for the lab and the tests.

For every new ManagedCluster: creates its namespace and the `<name>-import` secret (crds.yaml
with the Klusterlet CRD, import.yaml shaped as ACM's), then sets ManagedClusterJoined and
ManagedClusterConditionAvailable once the klusterlet runs on the spoke (manual import) or an
auto-import-secret exists (auto import). A deleted ManagedCluster loses its namespace and then
its finalizer.
"""

from __future__ import annotations

import base64
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import yaml

from proxshift.lab.kubeapi import KubeApiServer, Store

FINALIZER = "cluster.open-cluster-management.io/api-resource-cleanup"
ADDONS = (
    "application-manager",
    "cert-policy-controller",
    "config-policy-controller",
    "governance-policy-framework",
    "search-collector",
)

KLUSTERLET_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "klusterlets.operator.open-cluster-management.io"},
    "spec": {
        "group": "operator.open-cluster-management.io",
        "scope": "Cluster",
        "names": {
            "kind": "Klusterlet",
            "listKind": "KlusterletList",
            "plural": "klusterlets",
            "singular": "klusterlet",
        },
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
            }
        ],
    },
}


def import_documents(cluster: str) -> list[dict[str, Any]]:
    """What ACM's import.yaml holds, in its order."""
    agent_ns = "open-cluster-management-agent"
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": agent_ns}},
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "klusterlet", "namespace": agent_ns}},
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": "klusterlet"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
            "subjects": [{"kind": "ServiceAccount", "name": "klusterlet", "namespace": agent_ns}],
        },
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "klusterlet", "namespace": agent_ns},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app": "klusterlet"}},
                "template": {
                    "metadata": {"labels": {"app": "klusterlet"}},
                    "spec": {
                        "serviceAccountName": "klusterlet",
                        "containers": [
                            {"name": "klusterlet", "image": "registry.redhat.io/rhacm2/registration-operator:lab"}
                        ],
                    },
                },
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "bootstrap-hub-kubeconfig", "namespace": agent_ns},
            "type": "Opaque",
            "data": {"kubeconfig": base64.b64encode(b"apiVersion: v1\nkind: Config\n").decode()},
        },
        {
            "apiVersion": "operator.open-cluster-management.io/v1",
            "kind": "Klusterlet",
            "metadata": {"name": "klusterlet"},
            "spec": {"clusterName": cluster, "namespace": "open-cluster-management-agent"},
        },
    ]


class HubSimulation:
    """Polls the hub's store and reacts like ACM's import controller would."""

    def __init__(
        self, hub: KubeApiServer, spokes: Callable[[str], Store | None], poll: float = 0.02, set_conditions: bool = True
    ) -> None:
        self.hub = hub
        self.spokes = spokes
        self.poll = poll
        self.set_conditions = set_conditions
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="acm-hub", daemon=True)

    @property
    def store(self) -> Store:
        return self.hub.store

    def start(self) -> HubSimulation:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.reconcile()
            except Exception:  # a controller keeps going, as the real one does
                logging.getLogger(__name__).exception("hub simulation")
            time.sleep(self.poll)

    def reconcile(self) -> None:
        resource = self.store.type_of("cluster.open-cluster-management.io/v1", "ManagedCluster")
        for managed in self.store.list(resource, None):
            name = managed["metadata"]["name"]
            if managed["metadata"].get("deletionTimestamp"):
                self._remove(name)
                continue
            if FINALIZER not in (managed["metadata"].get("finalizers") or []):
                self.store.patch(
                    resource, None, name, {"metadata": {"finalizers": [FINALIZER]}}, "application/merge-patch+json"
                )
            if self.store.find("v1", "Namespace", name) is None:
                self.store.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
            if self.store.find("v1", "Secret", f"{name}-import", name) is None:
                crds = yaml.safe_dump(KLUSTERLET_CRD)
                documents = yaml.safe_dump_all(import_documents(name))
                self.store.apply(
                    {
                        "apiVersion": "v1",
                        "kind": "Secret",
                        "metadata": {"name": f"{name}-import", "namespace": name},
                        "data": {
                            "crds.yaml": base64.b64encode(crds.encode()).decode(),
                            "import.yaml": base64.b64encode(documents.encode()).decode(),
                        },
                    }
                )
            if self.set_conditions and self._klusterlet_running(name):
                self._join(name)

    def _klusterlet_running(self, name: str) -> bool:
        if self.store.find("v1", "Secret", "auto-import-secret", name) is not None:
            return True  # the hub deploys the klusterlet itself in auto mode
        spoke = self.spokes(name)
        return (
            spoke is not None
            and spoke.find("operator.open-cluster-management.io/v1", "Klusterlet", "klusterlet") is not None
        )

    def _join(self, name: str) -> None:
        managed = self.store.find("cluster.open-cluster-management.io/v1", "ManagedCluster", name) or {}
        conditions = {c["type"]: c["status"] for c in (managed.get("status") or {}).get("conditions") or []}
        if conditions.get("ManagedClusterConditionAvailable") == "True":
            return
        self.store.set_status(
            "cluster.open-cluster-management.io/v1",
            "ManagedCluster",
            name,
            {
                "conditions": [
                    {"type": "HubAcceptedManagedCluster", "status": "True", "reason": "HubClusterAdminAccepted"},
                    {"type": "ManagedClusterJoined", "status": "True", "reason": "ManagedClusterJoined"},
                    {"type": "ManagedClusterConditionAvailable", "status": "True", "reason": "ManagedClusterAvailable"},
                ]
            },
        )
        for addon in ADDONS:
            self.store.apply(
                {
                    "apiVersion": "addon.open-cluster-management.io/v1alpha1",
                    "kind": "ManagedClusterAddOn",
                    "metadata": {"name": addon, "namespace": name},
                }
            )
            self.store.set_status(
                "addon.open-cluster-management.io/v1alpha1",
                "ManagedClusterAddOn",
                addon,
                {"conditions": [{"type": "Available", "status": "True"}]},
                name,
            )

    def _remove(self, name: str) -> None:
        namespace = self.store.type_of("v1", "Namespace")
        if self.store.find("v1", "Namespace", name) is not None:
            self.store.delete(namespace, None, name)
        resource = self.store.type_of("cluster.open-cluster-management.io/v1", "ManagedCluster")
        self.store.patch(resource, None, name, {"metadata": {"finalizers": []}}, "application/merge-patch+json")
