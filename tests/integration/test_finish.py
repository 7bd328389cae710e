"""The phases that finish a cluster (labels, storage, health) against the Kubernetes API emulator over HTTPS."""

from __future__ import annotations

import json
import re
import threading
from typing import Any

import pytest

from proxshift.clients.openshift import LABELS_ANNOTATION
from proxshift.engine.events import Event, Log
from proxshift.errors import OperationError
from proxshift.lab.cluster_sim import StorageClassSpec
from tests.integration.finished import BETA_DEFAULT, Installed
from tests.integration.kube import merge_patch


def _logs(events: list[Event], phase: str) -> list[str]:
    return [e.message for e in events if isinstance(e, Log) and e.phase == phase]


# -- labels ------------------------------------------------------------------------------------------------


def test_labels_applied_changed_removed_and_foreign_ones_kept(installed: Installed) -> None:
    files = installed.files
    files.site["post_install"] = {"node_labels": {"topology.kubernetes.io/region": "homelab"}}
    files.host("multi", "m-node4")["node_labels"] = {"cluster.ocs.openshift.io/openshift-storage": ""}
    events = installed.post(only="labels")
    assert _logs(events, "labels")[-1] == (
        "m-node4: set topology.kubernetes.io/region=homelab; set cluster.ocs.openshift.io/openshift-storage="
    )
    worker = installed.labels("m-node4")
    assert worker["topology.kubernetes.io/region"] == "homelab"
    assert worker["cluster.ocs.openshift.io/openshift-storage"] == ""
    assert worker["node-role.kubernetes.io/worker"] == ""  # OpenShift's own labels stay
    assert "cluster.ocs.openshift.io/openshift-storage" not in installed.labels("m-node1")
    annotation = installed.node("m-node4")["metadata"]["annotations"][LABELS_ANNOTATION]
    assert json.loads(annotation) == ["cluster.ocs.openshift.io/openshift-storage", "topology.kubernetes.io/region"]
    assert installed.patches() == 4

    # A label someone else sets is never touched; a re-run with nothing changed sends no patch.
    merge_patch(installed.kube, "/api/v1/nodes/m-node1", {"metadata": {"labels": {"team": "platform"}}})
    before = installed.patches()
    events = installed.post(only="labels")
    assert installed.patches() == before
    assert _logs(events, "labels")[-4:] == [f"m-node{i}: unchanged" for i in range(1, 5)]

    # Changed in the inventory: the new value set, the label no longer wanted removed, the foreign one kept.
    files.site["post_install"] = {"node_labels": {"topology.kubernetes.io/region": "lab2"}}
    files.host("multi", "m-node4")["node_labels"] = {"topology.kubernetes.io/zone": "a"}
    installed.post()
    worker = installed.labels("m-node4")
    assert worker["topology.kubernetes.io/region"] == "lab2" and worker["topology.kubernetes.io/zone"] == "a"
    assert "cluster.ocs.openshift.io/openshift-storage" not in worker
    assert installed.labels("m-node1")["team"] == "platform"

    # Every label gone from the configuration: still configured (they were set before), and removed.
    del files.site["post_install"]
    del files.host("multi", "m-node4")["node_labels"]
    installed.post()
    for i in range(1, 5):
        labels = installed.labels(f"m-node{i}")
        assert not any(k.startswith("topology.kubernetes.io/") for k in labels), labels
        assert LABELS_ANNOTATION not in (installed.node(f"m-node{i}")["metadata"].get("annotations") or {})
    assert installed.labels("m-node1")["team"] == "platform"


def test_labels_wait_for_a_node_to_be_ready(installed: Installed) -> None:
    installed.files.site["post_install"] = {"node_labels": {"region": "homelab"}}
    installed.sim.set_node_ready("m-node2", ready=False)
    timer = threading.Timer(0.5, lambda: installed.sim.set_node_ready("m-node2"))
    timer.start()
    try:
        events = installed.post(only="labels")
    finally:
        timer.cancel()
    assert "waiting for 1 of 4 nodes: m-node2" in _logs(events, "labels")
    assert installed.labels("m-node2")["region"] == "homelab"


def test_labels_give_up_naming_the_node_and_why(installed: Installed) -> None:
    installed.files.site["post_install"] = {"node_labels": {"region": "homelab"}, "node_timeout": "1s"}
    installed.sim.set_node_ready("m-node3", ready=False)
    installed.kube.store.delete(installed.kube.store.types[("", "v1", "nodes")], None, "m-node2")
    with pytest.raises(OperationError) as raised:
        installed.post(only="labels")
    assert raised.value.message == (
        "not every host became a Ready Node within 1 s: m-node2: no such Node; "
        "m-node3: NotReady (Unknown): Kubelet stopped posting node status."
    )
    assert installed.patches() == 0


# -- storage -----------------------------------------------------------------------------------------------


def test_the_default_storage_class_is_switched_leaving_exactly_one(installed: Installed) -> None:
    assert installed.defaults() == ["lvms-vg1"]
    installed.sim.add_storage_class(StorageClassSpec("old-beta", "x"))
    merge_patch(
        installed.kube,
        "/apis/storage.k8s.io/v1/storageclasses/old-beta",
        {"metadata": {"annotations": {BETA_DEFAULT: "true"}}},
    )
    installed.files.site["post_install"] = {"default_storage_class": "nfs-sc"}
    events = installed.post(only="storage")
    assert installed.defaults() == ["nfs-sc"]
    assert _logs(events, "storage") == [
        "no longer default: lvms-vg1, old-beta",
        "nfs-sc is now the only default StorageClass",
    ]
    before = installed.patches("storageclasses")
    assert _logs(installed.post(only="storage"), "storage") == ["nfs-sc is already the only default StorageClass"]
    assert installed.patches("storageclasses") == before


def test_a_storage_class_created_later_is_waited_for(installed: Installed) -> None:
    installed.files.site["post_install"] = {"default_storage_class": "ceph-rbd", "storage_class_timeout": "20s"}
    timer = threading.Timer(0.5, lambda: installed.sim.add_storage_class(StorageClassSpec("ceph-rbd", "rbd")))
    timer.start()
    try:
        installed.post(only="storage")
    finally:
        timer.cancel()
    assert installed.defaults() == ["ceph-rbd"]


def test_a_storage_class_that_never_appears_times_out_clearly(installed: Installed) -> None:
    installed.files.site["post_install"] = {"default_storage_class": "ceph-rbd", "storage_class_timeout": "1s"}
    with pytest.raises(OperationError) as raised:
        installed.post(only="storage")
    assert raised.value.message == (
        "StorageClass ceph-rbd did not appear within 1 s (storage classes there: lvms-vg1, nfs-sc)"
    )
    assert "post_install.storage_class_timeout" in (raised.value.hint or "")
    assert installed.defaults() == ["lvms-vg1"]  # nothing changed


def test_not_configured_phases_are_skipped_in_one_line(installed: Installed, cli: Any) -> None:
    result = cli("--root", installed.files.write(), "post", "multi", "--skip", "health")
    assert result.code == 0, result.err
    assert "↷ labels       skipped: not configured: no node labels" in result.err
    assert "↷ storage      skipped: not configured: no post_install.default_storage_class" in result.err
    assert "multi finished in" in result.err


def test_post_reaches_the_cluster_with_the_kubeconfig_stored_in_vault(installed: Installed, vault: Any) -> None:
    stored = {"api": installed.kube.url, "kubeconfig": installed.kube.kubeconfig("multi"), "kubeadmin": "x"}
    vault.put("openshift/multi", stored)
    (installed.files.root / "ocp_install" / "multi" / "auth" / "kubeconfig").write_text("stale: not used\n")
    installed.files.site["post_install"] = {"default_storage_class": "nfs-sc"}
    installed.post(only="storage")
    assert installed.defaults() == ["nfs-sc"]
    audit = (installed.files.root / "ocp_install" / "multi" / "audit.jsonl").read_text().splitlines()
    reads = [json.loads(line) for line in audit if '"vault.read"' in line]
    assert [(r["path"], r["keys"]) for r in reads] == [
        (f"{vault.mount}/data/openshift/multi", ["api", "kubeadmin", "kubeconfig"])
    ]


def test_a_post_rerun_checks_its_records_against_the_cluster(installed: Installed) -> None:
    """Recorded done with the same inputs, labels and storage run again when the cluster no longer shows them."""
    files = installed.files
    files.site["post_install"] = {"node_labels": {"region": "homelab"}, "default_storage_class": "nfs-sc"}
    installed.post()
    events = installed.post()
    assert not _logs(events, "labels") and not _logs(events, "storage")  # done, inputs unchanged, still true
    merge_patch(installed.kube, "/api/v1/nodes/m-node3", {"metadata": {"labels": {"region": None}}})
    merge_patch(
        installed.kube,
        "/apis/storage.k8s.io/v1/storageclasses/lvms-vg1",
        {"metadata": {"annotations": {"storageclass.kubernetes.io/is-default-class": "true"}}},
    )
    events = installed.post()
    assert _logs(events, "labels")[0] == "recorded done, but the labels of m-node3 differ: running it again"
    assert _logs(events, "storage")[0] == "recorded done, but the defaults are lvms-vg1, nfs-sc: running it again"
    assert installed.labels("m-node3")["region"] == "homelab"
    assert installed.defaults() == ["nfs-sc"]


def test_nothing_to_finish_before_the_install_is_recorded_complete(installed: Installed, cli: Any) -> None:
    (installed.files.root / "ocp_install" / "multi" / "state.json").unlink()
    installed.files.site["post_install"] = {"node_labels": {"region": "homelab"}}
    result = cli("--root", installed.files.write(), "post", "multi")
    assert result.code == 0, result.err
    why = "not configured: the install is not recorded as complete (the wait phase has not run"
    for phase in ("labels", "health"):
        assert re.search(rf"↷ {phase}\s+skipped: {re.escape(why)}", result.err), phase
    assert installed.patches() == 0
