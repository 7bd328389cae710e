"""Plays the OpenShift installer against the stand-ins: assisted-service first, then the cluster's API.

The steps are public so that tests can drive an install one state at a time; `run` plays the
whole sequence over a few seconds for the lab.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from proxshift.lab.assisted import AssistedService
from proxshift.lab.kubeapi import KubeApiServer, Store

OPERATORS = ("authentication", "console", "dns", "etcd", "ingress", "kube-apiserver", "machine-config", "network")
TOTAL_MANIFESTS = 890


class ClusterSimulation:
    def __init__(
        self,
        name: str,
        base_domain: str,
        version: str,
        hosts: list[dict[str, str]],
        kube: KubeApiServer,
        agent: AssistedService,
    ) -> None:
        self.name, self.base_domain, self.version, self.hosts = name, base_domain, version, hosts
        self.kube, self.agent = kube, agent
        self._thread: threading.Thread | None = None

    @property
    def store(self) -> Store:
        """The API's current store (the lab replaces it when a cluster's VMs are recreated)."""
        return self.kube.store

    # -- bootstrap stage (assisted-service) ------------------------------------------------------------

    def hosts_discovered(self) -> None:
        for index, _ in enumerate(self.hosts):
            self.agent.set_host(index, "known", "", 0, "Host is ready to be installed")
        self.agent.set_cluster("ready", "Cluster ready to be installed", 0)
        self.agent.event(f"Cluster {self.name}: all {len(self.hosts)} hosts are ready")

    def failing_validation(self, index: int, message: str) -> None:
        self.agent.set_host(
            index,
            "insufficient",
            "",
            0,
            message,
            json.dumps({"network": [{"id": "ntp-synced", "status": "failure", "message": message}]}),
        )

    def installing(self, percentage: int, stage: str = "Writing image to disk") -> None:
        self.agent.set_cluster("installing", "Installation in progress", percentage)
        for index, _ in enumerate(self.hosts):
            self.agent.set_host(
                index,
                "installing-in-progress",
                stage,
                percentage,
                validations=json.dumps({"network": [{"id": "ntp-synced", "status": "success", "message": "ok"}]}),
            )
        self.agent.event(f"Installation progress: {stage}")

    def rendezvous_rebooted(self) -> None:
        self.agent.event("Host rebooted into the installed system; the REST API goes away")
        self.agent.available = False

    # -- cluster stage (Kubernetes API) -----------------------------------------------------------------

    def api_up(self) -> None:
        self.kube.available = True
        for namespace in ("openshift-console",):
            if self.store.find("v1", "Namespace", namespace) is None:
                self.store.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})

    def bootstrap_complete(self) -> None:
        self.store.apply(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "bootstrap", "namespace": "kube-system"},
                "data": {"status": "complete"},
            }
        )

    def cluster_progress(self, done: int, failing: str | None = None) -> None:
        percent = done * 100 // TOTAL_MANIFESTS
        conditions = [
            {"type": "Available", "status": "False", "message": "Cluster not yet available"},
            {
                "type": "Progressing",
                "status": "True",
                "message": f"Working towards {self.version}: {done} of {TOTAL_MANIFESTS} done ({percent}% complete)",
            },
            {"type": "Failing", "status": "True" if failing else "False", "message": failing or ""},
        ]
        self._cluster_version(conditions)

    def operators(self, available: int, degraded: tuple[str, ...] = ()) -> None:
        for index, name in enumerate(OPERATORS):
            ok = index < available
            self._apply_status(
                "ClusterOperator",
                name,
                [
                    {
                        "type": "Available",
                        "status": "True" if ok else "False",
                        "message": "All is well" if ok else f"{name} is not available yet",
                    },
                    {"type": "Progressing", "status": "False" if ok else "True", "message": ""},
                    {
                        "type": "Degraded",
                        "status": "True" if name in degraded else "False",
                        "message": f"{name} is degraded" if name in degraded else "",
                    },
                ],
            )

    def nodes_ready(self, count: int) -> None:
        for index, host in enumerate(self.hosts):
            ready = "True" if index < count else "False"
            self._apply_status(
                "Node",
                host["hostname"],
                [{"type": "Ready", "status": ready}],
                labels={f"node-role.kubernetes.io/{host['role']}": ""},
                api_version="v1",
            )

    def complete(self) -> None:
        self.store.apply(
            {
                "apiVersion": "route.openshift.io/v1",
                "kind": "Route",
                "metadata": {"name": "console", "namespace": "openshift-console"},
                "spec": {"host": f"console-openshift-console.apps.{self.name}.{self.base_domain}"},
            }
        )
        self.operators(len(OPERATORS))
        self.nodes_ready(len(self.hosts))
        self._cluster_version(
            [
                {"type": "Available", "status": "True", "message": f"Done applying {self.version}"},
                {"type": "Progressing", "status": "False", "message": f"Cluster version is {self.version}"},
                {"type": "Failing", "status": "False", "message": ""},
            ]
        )

    def _cluster_version(self, conditions: list[dict[str, Any]]) -> None:
        self.store.apply(
            {
                "apiVersion": "config.openshift.io/v1",
                "kind": "ClusterVersion",
                "metadata": {"name": "version"},
                "spec": {"clusterID": self.agent.cluster_id},
            }
        )
        self.store.set_status(
            "config.openshift.io/v1",
            "ClusterVersion",
            "version",
            {"desired": {"version": self.version}, "conditions": conditions},
        )

    def _apply_status(
        self,
        kind: str,
        name: str,
        conditions: list[dict[str, Any]],
        labels: dict[str, str] | None = None,
        api_version: str = "config.openshift.io/v1",
    ) -> None:
        self.store.apply({"apiVersion": api_version, "kind": kind, "metadata": {"name": name, "labels": labels or {}}})
        self.store.set_status(api_version, kind, name, {"conditions": conditions})

    def _cluster_step(self, done: int, operators: int, nodes: int) -> None:
        self.cluster_progress(done)
        self.operators(operators)
        self.nodes_ready(nodes)

    # -- the whole install, for the lab --------------------------------------------------------------------

    def run(self, seconds: float = 20.0) -> None:
        """Play every step in the background, spread over about `seconds`."""

        def play() -> None:
            steps: list[Any] = [
                self.hosts_discovered,
                lambda: self.installing(15, "Starting installation"),
                lambda: self.installing(45, "Writing image to disk"),
                lambda: self.installing(70, "Rebooting"),
                self.rendezvous_rebooted,
                self.api_up,
                self.bootstrap_complete,
                lambda: self._cluster_step(180, 2, 1),
                lambda: self._cluster_step(512, 5, len(self.hosts)),
                lambda: self._cluster_step(801, 7, len(self.hosts)),
                self.complete,
            ]
            pause = seconds / len(steps)
            for step in steps:
                time.sleep(pause)
                step()

        self._thread = threading.Thread(target=play, name=f"install-{self.name}", daemon=True)
        self._thread.start()
