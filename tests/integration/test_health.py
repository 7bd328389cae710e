"""`health` against the API emulator, fakepve and an ACM hub emulator: healthy, and each way of not being so."""

from __future__ import annotations

import json
import secrets
import time
from pathlib import Path
from typing import Any

import pytest

from proxshift.engine.connections import proxmox_for
from proxshift.engine.health import check_health
from proxshift.engine.vm_lifecycle import create_vms, start_vms
from proxshift.lab.kubeapi import KubeApiServer
from proxshift.lab.serving import make_certificates
from tests.conftest import CliRunner
from tests.integration.finished import Installed
from tests.integration.pve import PveLab

ROWS_WHEN_WELL = [
    ("VM m-node1", "ok"),
    ("VM m-node2", "ok"),
    ("VM m-node3", "ok"),
    ("VM m-node4", "ok"),
    ("API /readyz", "ok"),
    ("API certificate", "ok"),
    ("ClusterVersion", "ok"),
    ("ClusterOperators", "ok"),
    ("Nodes", "ok"),
]


@pytest.fixture
def running(installed: Installed, pve_lab: PveLab, monkeypatch: pytest.MonkeyPatch) -> Installed:
    """`multi` installed, its four VMs running in fakepve."""
    installed.files.site["proxmox"] = {
        "host": "127.0.0.1",
        "port": pve_lab.pve.port,
        "ca_cert": pve_lab.cafile,
        "poll_interval": 0.05,
    }
    for host in installed.files.cluster("multi")["hosts"].values():
        host["boot"] = "order=scsi0"  # no install ISO here
    monkeypatch.setenv("PROXSHIFT_PROXMOX_USER", "root@pam")
    monkeypatch.setenv("PROXSHIFT_PROXMOX_PASSWORD", "secret")
    project = installed.project()
    prox, cluster = proxmox_for(project, "multi")
    assert not create_vms(prox, cluster).failed
    assert not start_vms(prox, cluster).failed
    return installed


def _rows(installed: Installed, **options: Any) -> list[tuple[str, str, str]]:
    report = check_health(installed.project(), "multi", lambda message: None, **options)
    return [(c.name, c.status, c.detail) for c in report.checks]


def test_a_healthy_cluster(running: Installed, cli: CliRunner) -> None:
    rows = _rows(running)
    assert [(name, status) for name, status, _ in rows] == ROWS_WHEN_WELL
    details = {name: detail for name, _, detail in rows}
    assert details["VM m-node1"].startswith("VM 401 on pve1 running, up 0h 0m, CPU ")
    assert details["VM m-node1"].endswith(" of 32.0 GiB")
    assert details["API /readyz"] == f"{running.kube.url} is ready"
    assert details["ClusterVersion"] == "4.19.1: Available"
    assert details["ClusterOperators"] == "8 Available, none Degraded"
    assert details["Nodes"] == "4 of 4 Ready"

    result = cli("--root", running.files.root, "health", "multi", "--json")
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert (data["cluster"], data["healthy"]) == ("multi", True)
    assert data["checks"][4] == {
        "name": "API /readyz",
        "status": "ok",
        "detail": f"{running.kube.url} is ready",
        "hint": "",
        "part": "api",
    }
    table = cli("--root", running.files.root, "health", "multi")
    assert table.code == 0 and "ClusterOperators" in table.out and "multi: healthy" in table.err


def test_a_degraded_operator_and_a_not_ready_node_are_named(running: Installed, cli: CliRunner) -> None:
    running.sim.set_operator("ingress", degraded=True, message="One or more ingress controllers are degraded")
    running.sim.set_operator("console", available=False, message="route not admitted")
    running.sim.set_node_ready("m-node2", ready=False)
    failed = [(name, detail) for name, status, detail in _rows(running) if status == "failed"]
    assert failed == [
        ("ClusterOperator console", "not Available: route not admitted"),
        ("ClusterOperator ingress", "Degraded: One or more ingress controllers are degraded"),
        ("Node m-node2", "NotReady (Unknown): Kubelet stopped posting node status. (3 of 4 Ready)"),
    ]
    result = cli("--root", running.files.root, "health", "multi")
    assert result.code == 1
    assert "ClusterOperator ingress" in result.out and "multi: 3 failed" in result.err


def test_a_stopped_vm_is_a_failed_row_naming_it(running: Installed) -> None:
    prox, _ = proxmox_for(running.project(), "multi")
    prox.vms.hard_stop("pve3", 403)
    rows = {name: (status, detail) for name, status, detail in _rows(running)}
    assert rows["VM m-node3"] == ("failed", "VM 403 on pve3 is stopped")


def test_proxmox_unreachable_is_a_failed_row_not_a_crash(installed: Installed, cli: CliRunner) -> None:
    installed.files.site["proxmox"] = {"host": "127.0.0.1", "port": 9, "verify_ssl": True}
    installed.files.write()
    result = cli("--root", installed.files.root, "health", "multi", "--json", "--debug")
    assert result.code == 1 and "Traceback" not in result.err
    checks = json.loads(result.out)["checks"]
    assert checks[0]["name"] == "Proxmox" and checks[0]["status"] == "failed"
    assert [c["name"] for c in checks[1:]] == [name for name, _ in ROWS_WHEN_WELL[4:]]  # the rest still checked


def test_an_api_not_ready_or_unreachable(running: Installed) -> None:
    running.kube.not_ready = ["etcd"]
    rows = {name: (status, detail) for name, status, detail in _rows(running)}
    assert rows["API /readyz"] == ("failed", "not ready: etcd failed: reason withheld")
    running.kube.available = False
    rows_down = _rows(running)
    assert [(name, status) for name, status, _ in rows_down[4:]] == [("API", "failed")]  # one row, not one per read
    assert "unreachable" in rows_down[4][2]


def test_a_certificate_close_to_its_end_is_a_warning(running: Installed) -> None:
    rows = {name: detail for name, _, detail in _rows(running)}
    assert rows["API certificate"].endswith("in 90 days")  # the lab's, like a Let's Encrypt certificate
    soon = time.time() + 70 * 86400
    rows = {name: (status, detail) for name, status, detail in _rows(running, now=lambda: soon)}
    assert rows["API certificate"][0] == "warning" and rows["API certificate"][1].endswith("in 20 days")


def test_the_acm_import_is_checked_on_the_hub(
    running: Installed, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hub = KubeApiServer(make_certificates(tmp_path / "hub-pki"), secrets.token_hex(16)).start()
    try:
        config = tmp_path / "hub.kubeconfig"
        config.write_text(hub.kubeconfig("hub"))
        monkeypatch.setenv("PROXSHIFT_HUB_KUBECONFIG", str(config))
        rows = {name: (status, detail) for name, status, detail in _rows(running)}
        never = "no ManagedCluster multi on hub hub (the acm phase has not run)"
        assert rows["ACM ManagedCluster"] == ("warning", never)  # provision --skip acm: not a failure
        state = running.files.root / "ocp_install" / "multi" / "state.json"
        state.write_text(json.dumps({"phases": {"acm": {"status": "done", "inputs": "x"}}}))
        rows = {name: (status, detail) for name, status, detail in _rows(running)}
        assert rows["ACM ManagedCluster"] == ("failed", "no ManagedCluster multi on hub hub")  # imported, then gone
        managed = ("cluster.open-cluster-management.io/v1", "ManagedCluster")
        hub.store.apply({"apiVersion": managed[0], "kind": managed[1], "metadata": {"name": "multi"}})
        lease = "Registration agent stopped updating its lease."
        joined = {"type": "ManagedClusterJoined", "status": "True"}
        available = {"type": "ManagedClusterConditionAvailable", "status": "Unknown", "message": lease}
        hub.store.set_status(*managed, "multi", {"conditions": [joined, available]})
        hub.store.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "multi"}})
        addon = ("addon.open-cluster-management.io/v1alpha1", "ManagedClusterAddOn")
        for name, state in (("work-manager", "True"), ("search-collector", "False")):
            hub.store.apply(
                {"apiVersion": addon[0], "kind": addon[1], "metadata": {"name": name, "namespace": "multi"}}
            )
            hub.store.set_status(*addon, name, {"conditions": [{"type": "Available", "status": state}]}, "multi")
        acm = [(name, status, detail) for name, status, detail in _rows(running) if name.startswith("ACM")]
        assert acm == [
            ("ACM ManagedCluster", "failed", f"ManagedClusterConditionAvailable: {lease}"),
            ("ACM add-on search-collector", "failed", "not Available"),
        ]
    finally:
        hub.stop()
