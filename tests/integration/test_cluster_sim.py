"""The installed cluster the lab serves: Nodes, StorageClasses, ClusterOperators, over HTTPS."""

from __future__ import annotations

import json
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from proxshift.lab.assisted import AssistedService
from proxshift.lab.cluster_sim import DEFAULT_CLASS, ClusterSimulation, StorageClassSpec
from proxshift.lab.kubeapi import KubeApiServer
from proxshift.lab.serving import make_certificates
from tests.integration.kube import api_client, conditions, custom, kubectl, merge_patch

HOSTS = [
    {"hostname": "ocp-node1", "role": "master", "ip": "192.168.1.10"},
    {"hostname": "ocp-node2", "role": "master", "ip": "192.168.1.11"},
    {"hostname": "ocp-node3", "role": "master", "ip": "192.168.1.12"},
    {"hostname": "ocp-worker1", "role": "worker", "ip": "192.168.1.13"},
]


@pytest.fixture
def installed(tmp_path: Path) -> Iterator[ClusterSimulation]:
    kube = KubeApiServer(make_certificates(tmp_path / "pki"), secrets.token_hex(16)).start()
    agent = AssistedService("ocp", HOSTS).start()
    sim = ClusterSimulation("ocp", "homelab.local", "4.19.1", HOSTS, kube, agent)
    sim.api_up()
    sim.complete()
    try:
        yield sim
    finally:
        agent.stop()
        kube.stop()


def test_a_node_per_host_labelled_and_ready(installed: ClusterSimulation) -> None:
    from kubernetes import client

    nodes = {n.metadata.name: n for n in client.CoreV1Api(api_client(installed.kube)).list_node().items}
    assert sorted(nodes) == ["ocp-node1", "ocp-node2", "ocp-node3", "ocp-worker1"]
    master, worker = nodes["ocp-node1"], nodes["ocp-worker1"]
    assert master.metadata.labels["kubernetes.io/hostname"] == "ocp-node1"
    assert {"node-role.kubernetes.io/master", "node-role.kubernetes.io/control-plane"} <= set(master.metadata.labels)
    assert "node-role.kubernetes.io/worker" not in master.metadata.labels  # this cluster has workers
    assert "node-role.kubernetes.io/worker" in worker.metadata.labels
    assert "node-role.kubernetes.io/master" not in worker.metadata.labels
    assert all({c.type: c.status for c in node.status.conditions}["Ready"] == "True" for node in nodes.values())
    assert {a.type: a.address for a in master.status.addresses}["InternalIP"] == "192.168.1.10"
    assert master.status.node_info.kubelet_version == "v1.32.0"


def test_single_node_master_is_also_a_worker(tmp_path: Path) -> None:
    kube = KubeApiServer(make_certificates(tmp_path / "pki"), "t").start()
    agent = AssistedService("sno", HOSTS[:1]).start()
    try:
        ClusterSimulation("sno", "lab.local", "4.18.3", HOSTS[:1], kube, agent).complete()
        node = kube.store.find("v1", "Node", "ocp-node1")
        assert node is not None
        assert "node-role.kubernetes.io/worker" in node["metadata"]["labels"]
        assert node["status"]["nodeInfo"]["kubeletVersion"] == "v1.31.0"
    finally:
        agent.stop()
        kube.stop()


def test_node_labels_merge_patched_and_kept(installed: ClusterSimulation) -> None:
    from kubernetes import client

    core = client.CoreV1Api(api_client(installed.kube))
    core.patch_node("ocp-worker1", {"metadata": {"labels": {"cluster.ocs.openshift.io/openshift-storage": ""}}})
    merge_patch(
        installed.kube,
        "/api/v1/nodes/ocp-worker1",
        {"metadata": {"labels": {"topology.kubernetes.io/region": "homelab"}, "annotations": {"proxshift/x": "1"}}},
    )
    labels = core.read_node("ocp-worker1").metadata.labels
    assert labels["cluster.ocs.openshift.io/openshift-storage"] == ""
    assert labels["topology.kubernetes.io/region"] == "homelab"
    assert labels["kubernetes.io/hostname"] == "ocp-worker1"
    # null removes a label; the simulation re-reporting the node keeps what clients set
    merge_patch(
        installed.kube, "/api/v1/nodes/ocp-worker1", {"metadata": {"labels": {"topology.kubernetes.io/region": None}}}
    )
    installed.nodes_ready(len(HOSTS))
    node = core.read_node("ocp-worker1")
    assert "topology.kubernetes.io/region" not in node.metadata.labels
    assert node.metadata.labels["cluster.ocs.openshift.io/openshift-storage"] == ""
    assert node.metadata.annotations == {"proxshift/x": "1"}


def test_storage_classes_one_default_switched_by_annotation(installed: ClusterSimulation) -> None:
    from kubernetes import client

    storage = client.StorageV1Api(api_client(installed.kube))

    def defaults() -> list[str]:
        return sorted(
            sc.metadata.name
            for sc in storage.list_storage_class().items
            if (sc.metadata.annotations or {}).get(DEFAULT_CLASS) == "true"
        )

    assert sorted(sc.metadata.name for sc in storage.list_storage_class().items) == ["lvms-vg1", "nfs-sc"]
    assert defaults() == ["lvms-vg1"]
    storage.patch_storage_class("nfs-sc", {"metadata": {"annotations": {DEFAULT_CLASS: "true"}}})
    merge_patch(
        installed.kube,
        "/apis/storage.k8s.io/v1/storageclasses/lvms-vg1",
        {"metadata": {"annotations": {DEFAULT_CLASS: "false"}}},
    )
    assert defaults() == ["nfs-sc"]
    assert storage.read_storage_class("nfs-sc").provisioner == "k8s-sigs.io/nfs-subdir-external-provisioner"
    installed.add_storage_class(StorageClassSpec("thin-csi", "csi.vsphere.vmware.com"))
    assert "thin-csi" in [sc.metadata.name for sc in storage.list_storage_class().items]


def test_a_node_made_not_ready_and_an_operator_degraded(installed: ClusterSimulation) -> None:
    from kubernetes import client

    installed.set_node_ready("ocp-node2", ready=False)
    installed.set_operator("ingress", available=True, degraded=True, message="2 of 2 router pods are crashlooping")
    node = client.CoreV1Api(api_client(installed.kube)).read_node("ocp-node2")
    ready = {c.type: c for c in node.status.conditions}["Ready"]
    assert (ready.status, ready.message) == ("Unknown", "Kubelet stopped posting node status.")
    operators = custom(installed.kube).list_cluster_custom_object("config.openshift.io", "v1", "clusteroperators")
    by_name = {o["metadata"]["name"]: conditions(o) for o in operators["items"]}
    assert by_name["ingress"]["Degraded"]["status"] == "True"
    assert by_name["ingress"]["Degraded"]["message"] == "2 of 2 router pods are crashlooping"
    assert all(c["Available"]["status"] == "True" for c in by_name.values())
    assert [n for n, c in by_name.items() if c["Degraded"]["status"] == "True"] == ["ingress"]
    installed.set_node_ready("ocp-node2")
    installed.set_operator("ingress")
    node = client.CoreV1Api(api_client(installed.kube)).read_node("ocp-node2")
    assert {c.type: c.status for c in node.status.conditions}["Ready"] == "True"
    with pytest.raises(KeyError):
        installed.set_node_ready("not-a-host", ready=False)


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
def test_kubectl_reads_nodes_and_annotates_a_storage_class(installed: ClusterSimulation, tmp_path: Path) -> None:
    listed = kubectl(installed.kube, tmp_path, "get", "nodes", "-o", "json")
    assert listed.returncode == 0, listed.stderr
    assert len(json.loads(listed.stdout)["items"]) == len(HOSTS)
    annotated = kubectl(
        installed.kube, tmp_path, "annotate", "--overwrite", "storageclass", "nfs-sc", f"{DEFAULT_CLASS}=true"
    )
    assert annotated.returncode == 0, annotated.stderr
    labelled = kubectl(installed.kube, tmp_path, "label", "node", "ocp-node1", "proxshift.io/test=yes")
    assert labelled.returncode == 0, labelled.stderr
    sc = installed.store.find("storage.k8s.io/v1", "StorageClass", "nfs-sc")
    assert sc is not None and sc["metadata"]["annotations"][DEFAULT_CLASS] == "true"
    node = installed.store.find("v1", "Node", "ocp-node1")
    assert node is not None and node["metadata"]["labels"]["proxshift.io/test"] == "yes"
