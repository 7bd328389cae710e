"""The lab's knobs and hygiene: fakepve faults from the start, the install's life, the token, temp dirs."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from proxshift.config.paths import discover_paths
from proxshift.config.project import load_project
from proxshift.lab.faults import LabFaults, PveFailure
from proxshift.lab.lab import Lab, LabBusy
from proxshift.lab.openbao import OpenBaoServer


class Pve:
    """fakepve over HTTPS with the lab's API token, as proxshift reaches it."""

    def __init__(self, lab: Lab) -> None:
        self.url = f"https://127.0.0.1:{lab.pve.port}/api2/json"
        self.headers = {"Authorization": f"PVEAPIToken=root@pam!lab={lab.token_secret}"}
        self.ca = str(lab.directory / "pki" / "ca.pem")

    def call(self, method: str, path: str, **data: Any) -> requests.Response:
        return requests.request(
            method, f"{self.url}{path}", headers=self.headers, data=data or None, verify=self.ca, timeout=10
        )


def _start(root: Path, **knobs: Any) -> Lab:
    return Lab(load_project(discover_paths(root)), root / ".lab", **knobs).start()


@pytest.fixture
def start_lab(predecessor_root: Path) -> Iterator[Callable[..., Lab]]:
    started: list[Lab] = []

    def start(**knobs: Any) -> Lab:
        lab = _start(predecessor_root, **knobs)
        started.append(lab)
        return lab

    yield start
    for lab in started:
        lab.stop()


def _wait(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "never happened"
        time.sleep(0.05)


def test_fakepve_faults_from_the_start(start_lab: Callable[..., Lab]) -> None:
    lab = start_lab(
        time_scale=0.0,
        faults=LabFaults(
            pve_failures=(
                PveFailure("POST", "/nodes/pve4/qemu", status=500, message="unable to create VM - got timeout"),
                PveFailure("GET", "/nodes/pve1/qemu", error="invalid_ticket", times=1),
            ),
            storage_avail={"your_nfs": 1000},
            offline_nodes=("pve3",),
        ),
    )
    pve = Pve(lab)
    created = pve.call("POST", "/nodes/pve4/qemu", vmid=901, name="x")
    assert created.status_code == 500 and "got timeout" in created.text
    first, second = pve.call("GET", "/nodes/pve1/qemu"), pve.call("GET", "/nodes/pve1/qemu")
    assert (first.status_code, second.status_code) == (401, 200)  # times=1
    assert pve.call("GET", "/nodes/pve3/qemu").status_code == 595
    status = pve.call("GET", "/nodes/pve1/storage/your_nfs/status").json()["data"]
    assert status["avail"] == 1000
    lab.inject(LabFaults(drop_rate=1.0))
    with pytest.raises(requests.ConnectionError):
        pve.call("GET", "/version")
    lab.pve.flaky_network()
    assert pve.call("GET", "/version").status_code == 200
    state = json.loads((lab.directory / "state.json").read_text())
    assert state["knobs"]["faults"] == [
        "request fails: POST /nodes/pve4/qemu 500 unable to create VM - got timeout",
        "request fails: GET /nodes/pve1/qemu times=1 invalid_ticket",
        "storage your_nfs: 1000 bytes available",
        "node pve3 offline",
    ]


def test_an_install_stops_when_its_vms_are_destroyed(start_lab: Callable[..., Lab]) -> None:
    lab = start_lab(time_scale=0.0, install_seconds=4.0)
    cluster = lab.clusters["ocp-sno2"]
    pve = Pve(lab)
    assert pve.call("POST", "/nodes/pve3/qemu", vmid=302, name="master-sno2", memory=2048).ok
    assert pve.call("POST", "/nodes/pve3/qemu/302/status/start").ok
    _wait(lambda: cluster.sim.running)
    assert pve.call("POST", "/nodes/pve3/qemu/302/status/stop").ok
    assert pve.call("DELETE", "/nodes/pve3/qemu/302").ok
    _wait(lambda: not cluster.sim.running and not cluster.started)
    time.sleep(4.5)  # longer than the whole install would have taken
    assert not cluster.kube.available
    assert cluster.kube.store.find("config.openshift.io/v1", "ClusterVersion", "version") is None
    assert cluster.kube.store.find("v1", "Node", "master-sno2") is None
    # recreated VMs play a fresh install to the end
    assert pve.call("POST", "/nodes/pve3/qemu", vmid=302, name="master-sno2", memory=2048).ok
    assert pve.call("POST", "/nodes/pve3/qemu/302/status/start").ok
    _wait(lambda: cluster.kube.store.find("storage.k8s.io/v1", "StorageClass", "nfs-sc") is not None)
    node = cluster.kube.store.find("v1", "Node", "master-sno2")
    assert node is not None and node["status"]["addresses"][0] == {"type": "InternalIP", "address": "192.168.1.51"}
    _wait(lambda: cluster.kube.store.find("v1", "Namespace", "openshift-marketplace") is not None)  # OLM runs there


def test_the_root_token_stays_off_the_command_line_and_temp_dirs_stay_in_the_lab(
    start_lab: Callable[..., Lab], predecessor_root: Path
) -> None:
    lab_dir = predecessor_root / ".lab"
    (lab_dir / "tmp").mkdir(parents=True)
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = lab_dir / "tmp" / f"proxshift-bao-{dead.pid}-leftover"
    stale.mkdir()
    (stale / "vault-ca.pem").write_text("x")
    lab = start_lab(time_scale=0.0)
    assert lab.bao is not None and lab.bao.process is not None and lab.bao.home is not None
    argv = Path(f"/proc/{lab.bao.process.pid}/cmdline").read_bytes()
    assert lab.bao.root_token.encode() not in argv
    assert b"server" in argv
    assert not stale.exists()
    home = lab.bao.home
    assert home.parent == lab_dir / "tmp"
    assert (lab_dir.stat().st_mode & 0o777, (lab_dir / "tmp").stat().st_mode & 0o777) == (0o700, 0o700)
    assert home.stat().st_mode & 0o777 == 0o700
    lab.stop()
    assert not home.exists()


def test_a_dead_labs_openbao_is_stopped_and_a_live_lab_is_not_disturbed(
    predecessor_root: Path, start_lab: Callable[..., Lab]
) -> None:
    lab_dir = predecessor_root / ".lab"
    lab_dir.mkdir()
    orphan = OpenBaoServer(base_dir=lab_dir / "tmp").start()
    assert orphan.process is not None
    dead = subprocess.Popen(["true"])
    dead.wait()
    (lab_dir / "state.json").write_text(json.dumps({"pid": dead.pid, "bao_pid": orphan.process.pid}))
    try:
        start_lab(time_scale=0.0)
        assert orphan.process.poll() is not None  # the dead lab's OpenBao was stopped
    finally:
        orphan.stop()
    other = subprocess.Popen(["sleep", "30"])
    try:
        (lab_dir / "state.json").write_text(json.dumps({"pid": other.pid, "bao_pid": None}))
        with pytest.raises(LabBusy, match=f"PID {other.pid}"):
            _start(predecessor_root, time_scale=0.0)
    finally:
        other.kill()
        other.wait()
    assert os.path.exists(lab_dir / "state.json")


def test_every_cluster_runs_olm_argocd_and_eso_against_the_labs_openbao(lab: Lab) -> None:
    import hvac

    from tests.integration.kube import api_client, conditions, eventually
    from tests.integration.post_install import PostInstallLab

    hub = lab.clusters["ocp-sno1"]
    cluster = PostInstallLab(hub.kube, hub.olm, hub.argocd, hub.eso, api_client(hub.kube))
    cluster.subscribe("openshift-gitops-operator", "openshift-gitops-operator", "latest", "redhat-operators")
    cluster.subscribe("external-secrets-operator", "openshift-operators", "stable", "community-operators")
    cluster.installed_csv("openshift-gitops-operator", "openshift-gitops-operator")
    cluster.installed_csv("external-secrets-operator", "openshift-operators")
    eventually(
        lambda: (
            (
                (cluster.get("argoproj.io/v1beta1", "ArgoCD", "openshift-gitops", "openshift-gitops") or {}).get(
                    "status"
                )
                or {}
            ).get("phase")
            == "Available"
        )
    )
    assert lab.bao is not None
    vault = hvac.Client(url=lab.bao.addr, token=lab.bao.root_token)
    vault.sys.create_or_update_policy(name="eso", policy='path "secrets/data/*" { capabilities = ["read"] }')
    token = vault.auth.token.create(policies=["eso"], ttl="1h")["auth"]["client_token"]
    for document in (
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "external-secrets"}},
        {
            "apiVersion": "operator.external-secrets.io/v1alpha1",
            "kind": "OperatorConfig",
            "metadata": {"name": "cluster", "namespace": "external-secrets"},
            "spec": {},
        },
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "vault-token", "namespace": "external-secrets"},
            "stringData": {"token": token},
        },
    ):
        cluster.apply(document)
    eventually(lambda: cluster.kube.store.find("apps/v1", "Deployment", "external-secrets-webhook", "external-secrets"))
    eventually(lambda: hub.eso.deployment_available("external-secrets-webhook", "external-secrets"))
    cluster.apply(
        {
            "apiVersion": "external-secrets.io/v1",
            "kind": "ClusterSecretStore",
            "metadata": {"name": "vault-backend"},
            "spec": {
                "provider": {
                    "vault": {
                        "server": lab.bao.addr,
                        "path": "secrets",
                        "version": "v2",
                        "auth": {
                            "tokenSecretRef": {"name": "vault-token", "namespace": "external-secrets", "key": "token"}
                        },
                    }
                }
            },
        }
    )
    ready = eventually(
        lambda: conditions(cluster.get("external-secrets.io/v1", "ClusterSecretStore", "vault-backend") or {}).get(
            "Ready"
        )
    )
    assert ready["status"] == "True", ready
