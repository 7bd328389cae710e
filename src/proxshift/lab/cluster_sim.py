"""Plays the OpenShift installer against the stand-ins: assisted-service first, then the cluster's API.

The steps are public so that tests can drive an install one state at a time; `run` plays the
whole sequence over a few seconds for the lab (and `stop` ends it, as destroying the VMs does).

What an installed cluster serves: ClusterVersion `version`; ClusterOperators (Available,
Progressing, Degraded); one Node per host, named as agent-config names the host, labelled as
OpenShift labels its nodes, with a Ready condition; StorageClasses (by default `lvms-vg1`, the
default one, and `nfs-sc`); the console Route; IngressController `default` and APIServer
`cluster`. `set_node_ready` and `set_operator` break (or mend) one of them afterwards.
"""

from __future__ import annotations

import hashlib
import json
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from proxshift.lab.assisted import AssistedService
from proxshift.lab.kubeapi import KubeApiServer, Store

OPERATORS = ("authentication", "console", "dns", "etcd", "ingress", "kube-apiserver", "machine-config", "network")
TOTAL_MANIFESTS = 890
DEFAULT_CLASS = "storageclass.kubernetes.io/is-default-class"
NOT_READY = "Kubelet stopped posting node status."


@dataclass(frozen=True)
class StorageClassSpec:
    """A StorageClass the simulated cluster serves once installed."""

    name: str
    provisioner: str
    default: bool = False
    parameters: dict[str, str] = field(default_factory=dict)
    binding_mode: str = "Immediate"

    def manifest(self) -> dict[str, Any]:
        return {
            "apiVersion": "storage.k8s.io/v1",
            "kind": "StorageClass",
            "metadata": {
                "name": self.name,
                "annotations": {DEFAULT_CLASS: "true"} if self.default else {},
            },
            "provisioner": self.provisioner,
            "parameters": dict(self.parameters),
            "reclaimPolicy": "Delete",
            "volumeBindingMode": self.binding_mode,
            "allowVolumeExpansion": True,
        }


STORAGE_CLASSES = (
    StorageClassSpec(
        "lvms-vg1",
        "topolvm.io",
        default=True,
        parameters={"csi.storage.k8s.io/fstype": "xfs", "topolvm.io/device-class": "vg1"},
        binding_mode="WaitForFirstConsumer",
    ),
    StorageClassSpec("nfs-sc", "k8s-sigs.io/nfs-subdir-external-provisioner", parameters={"archiveOnDelete": "false"}),
)


def kubernetes_version(ocp_version: str) -> str:
    """The Kubernetes release an OpenShift release ships (4.19 -> 1.32)."""
    parts = ocp_version.split(".")
    try:
        return f"v1.{int(parts[1]) + 13}.0"
    except (IndexError, ValueError):
        return "v1.32.0"


class ClusterSimulation:
    def __init__(
        self,
        name: str,
        base_domain: str,
        version: str,
        hosts: list[dict[str, str]],
        kube: KubeApiServer,
        agent: AssistedService,
        storage_classes: Sequence[StorageClassSpec] = STORAGE_CLASSES,
    ) -> None:
        """`hosts`: {"hostname", "role"} and optionally "ip", in agent-config's order."""
        self.name, self.base_domain, self.version, self.hosts = name, base_domain, version, hosts
        self.kube, self.agent = kube, agent
        self.storage_classes = tuple(storage_classes)
        self._thread: threading.Thread | None = None
        self._halt = threading.Event()

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
        self._namespaces()

    def _namespaces(self) -> None:
        for namespace in ("openshift-config", "openshift-console", "openshift-ingress", "openshift-ingress-operator"):
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
            self.set_operator(
                name,
                available=ok,
                progressing=not ok,
                degraded=name in degraded,
                message="" if ok else f"{name} is not available yet",
            )

    def set_operator(
        self, name: str, available: bool = True, degraded: bool = False, progressing: bool = False, message: str = ""
    ) -> None:
        """One ClusterOperator's conditions (a name not in OPERATORS adds one); `message` goes on the
        condition that is not as it should be."""
        degraded_message = (message or f"{name} is degraded") if degraded else ""
        self._apply_status(
            "ClusterOperator",
            name,
            [
                {
                    "type": "Available",
                    "status": "True" if available else "False",
                    "reason": "AsExpected" if available else "NotAvailable",
                    "message": "All is well" if available else (message or f"{name} is not available"),
                    "lastTransitionTime": _now(),
                },
                {
                    "type": "Progressing",
                    "status": "True" if progressing else "False",
                    "reason": "Progressing" if progressing else "AsExpected",
                    "message": "",
                    "lastTransitionTime": _now(),
                },
                {
                    "type": "Degraded",
                    "status": "True" if degraded else "False",
                    "reason": "Degraded" if degraded else "AsExpected",
                    "message": degraded_message,
                    "lastTransitionTime": _now(),
                },
                {"type": "Upgradeable", "status": "True", "reason": "AsExpected", "lastTransitionTime": _now()},
            ],
            extra={"versions": [{"name": "operator", "version": self.version}]},
        )

    def nodes_ready(self, count: int) -> None:
        for index, host in enumerate(self.hosts):
            self._node(host, ready=index < count, message="container runtime network not ready: NetworkReady=false")

    def set_node_ready(self, hostname: str, ready: bool = True, message: str = NOT_READY) -> None:
        """Make one Node Ready, or NotReady (status Unknown, as when its kubelet stops reporting)."""
        for host in self.hosts:
            if host["hostname"] == hostname:
                self._node(host, ready=ready, message=message, status="Unknown")
                return
        raise KeyError(f"{hostname} is not a host of {self.name}")

    def join_node(self, hostname: str, ip: str | None, ready: bool) -> None:
        """A worker added after the install registers its Node, or turns Ready (the join simulation)."""
        host = next((h for h in self.hosts if h["hostname"] == hostname), None)
        if host is None:
            host = {"hostname": hostname, "role": "worker", **({"ip": ip} if ip else {})}
            self.hosts.append(host)
        self._node(host, ready=ready, message="container runtime network not ready: NetworkReady=false")

    def add_storage_class(self, spec: StorageClassSpec) -> None:
        """A StorageClass appears (as when GitOps installs a provisioner)."""
        if self.store.find("storage.k8s.io/v1", "StorageClass", spec.name) is None:
            self.store.apply(spec.manifest())

    def _node(self, host: dict[str, str], ready: bool, message: str, status: str = "False") -> None:
        name = host["hostname"]
        roles = ["master", "control-plane"] if host["role"] == "master" else ["worker"]
        if host["role"] == "master" and not any(h["role"] == "worker" for h in self.hosts):
            roles.append("worker")  # compact and single-node clusters schedule work on their masters
        labels = {
            "beta.kubernetes.io/arch": "amd64",
            "beta.kubernetes.io/os": "linux",
            "kubernetes.io/arch": "amd64",
            "kubernetes.io/hostname": name,
            "kubernetes.io/os": "linux",
            "node.openshift.io/os_id": "rhcos",
            **{f"node-role.kubernetes.io/{role}": "" for role in roles},
        }
        machine = hashlib.sha256(f"{self.name}/{name}".encode()).hexdigest()[:32]
        self.store.apply({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": labels}})
        addresses = [{"type": "Hostname", "address": name}]
        if host.get("ip"):
            addresses.insert(0, {"type": "InternalIP", "address": host["ip"]})
        pressure = [
            {"type": kind, "status": "False", "reason": f"KubeletHas{reason}", "lastTransitionTime": _now()}
            for kind, reason in (
                ("MemoryPressure", "SufficientMemory"),
                ("DiskPressure", "NoDiskPressure"),
                ("PIDPressure", "SufficientPID"),
            )
        ]
        ready_condition = {
            "type": "Ready",
            "status": "True" if ready else status,
            "reason": "KubeletReady" if ready else ("NodeStatusUnknown" if status == "Unknown" else "KubeletNotReady"),
            "message": "kubelet is posting ready status" if ready else message,
            "lastHeartbeatTime": _now(),
            "lastTransitionTime": _now(),
        }
        self.store.set_status(
            "v1",
            "Node",
            name,
            {
                "conditions": [*pressure, ready_condition],
                "addresses": addresses,
                "capacity": {"cpu": "8", "memory": "32865308Ki", "pods": "250"},
                "allocatable": {"cpu": "7500m", "memory": "31714332Ki", "pods": "250"},
                "nodeInfo": {
                    "architecture": "amd64",
                    "bootID": str(uuid.UUID(machine)),
                    "containerRuntimeVersion": "cri-o://1.32.0",
                    "kernelVersion": "5.14.0-427.lab.el9_4.x86_64",
                    "kubeProxyVersion": "",
                    "kubeletVersion": kubernetes_version(self.version),
                    "machineID": machine,
                    "operatingSystem": "linux",
                    "osImage": f"Red Hat Enterprise Linux CoreOS {self.version} (lab)",
                    "systemUUID": str(uuid.UUID(machine[::-1])),
                },
            },
        )

    def complete(self) -> None:
        self._namespaces()
        self.store.apply(
            {
                "apiVersion": "route.openshift.io/v1",
                "kind": "Route",
                "metadata": {"name": "console", "namespace": "openshift-console"},
                "spec": {"host": f"console-openshift-console.apps.{self.name}.{self.base_domain}"},
            }
        )
        self.store.apply(
            {
                "apiVersion": "operator.openshift.io/v1",
                "kind": "IngressController",
                "metadata": {"name": "default", "namespace": "openshift-ingress-operator"},
                "spec": {"replicas": min(2, len(self.hosts))},
            }
        )
        self.store.set_status(
            "operator.openshift.io/v1",
            "IngressController",
            "default",
            {
                "domain": f"apps.{self.name}.{self.base_domain}",
                "conditions": [{"type": "Available", "status": "True", "reason": "IngressControllerAvailable"}],
            },
            "openshift-ingress-operator",
        )
        self.store.apply(
            {"apiVersion": "config.openshift.io/v1", "kind": "APIServer", "metadata": {"name": "cluster"}, "spec": {}}
        )
        for storage_class in self.storage_classes:
            self.add_storage_class(storage_class)
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
        api_version: str = "config.openshift.io/v1",
        extra: dict[str, Any] | None = None,
    ) -> None:
        self.store.apply({"apiVersion": api_version, "kind": kind, "metadata": {"name": name}})
        self.store.set_status(api_version, kind, name, {"conditions": conditions, **(extra or {})})

    def _cluster_step(self, done: int, operators: int, nodes: int) -> None:
        self.cluster_progress(done)
        self.operators(operators)
        self.nodes_ready(nodes)

    # -- the whole install, for the lab --------------------------------------------------------------------

    def run(self, seconds: float = 20.0) -> None:
        """Play every step in the background, spread over about `seconds` (a running install is stopped first)."""
        self.stop()
        halt = self._halt = threading.Event()

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
                if halt.wait(pause):
                    return
                step()

        self._thread = threading.Thread(target=play, name=f"install-{self.name}", daemon=True)
        self._thread.start()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def stop(self) -> None:
        """End a playing install between two steps (its VMs are gone); wait for the step under way."""
        self._halt.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(10)


def _now() -> str:
    import datetime

    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
