"""VM parameters from the inventory, drift against a VM's config, and the per-VM plan."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from proxshift.clients.proxmox.cluster import Guest
from proxshift.config.inventory import Cluster
from proxshift.config.paths import discover_paths
from proxshift.config.project import load_project
from proxshift.engine.vmspec import boot_devices, drift, missing_boot_devices, owner_of, plan_vm, vm_spec
from tests.conftest import PREDECESSOR


@pytest.fixture(scope="module")
def ocp() -> Cluster:
    paths = discover_paths(Path("/nonexistent"), PREDECESSOR / "site-config.yaml", PREDECESSOR / "clusters.yml")
    return load_project(paths).inventory.clusters["ocp"]


def _as_pve_returns(params: dict[str, object], vmid: int) -> dict[str, object]:
    """What PVE's config GET shows after a create with these params."""
    config: dict[str, object] = {}
    for key, value in params.items():
        if key == "vmid":
            continue
        text = str(value)
        if re.fullmatch(r"scsi\d+", key):
            storage, _, rest = text.partition(":")
            size, *options = rest.split(",")
            text = ",".join([f"{storage}:vm-{vmid}-disk-0", *sorted([*options, f"size={size}G"])])
        config[key] = text
    config["memory"] = str(params["memory"])  # PVE returns memory as a string
    return config


def test_params_for_a_worker_with_two_disks_and_a_wwn(ocp: Cluster) -> None:
    spec = vm_spec(ocp.node("ocp-node4"), ocp)
    assert (spec.node, spec.vmid) == ("pve4", 404)
    assert spec.params == {
        "vmid": 404,
        "name": "ocp-node4.ocp.homelab.local",
        "memory": 32768,
        "cores": 10,
        "sockets": 1,
        "cpu": "host",
        "numa": 0,
        "scsihw": "virtio-scsi-single",
        "ostype": "l26",
        "onboot": 1,
        "boot": "order=scsi0;ide2",
        "tags": "proxshift;ocp",
        "description": "managed-by=proxshift cluster=ocp host=ocp-node4",
        "scsi0": "local-lvm:100,backup=0,iothread=1,ssd=1,wwn=0x5000c50000000004",
        "scsi1": "local-lvm:150,backup=0,iothread=1,ssd=1",
        "net0": "virtio=BC:24:11:52:94:F4,bridge=vmbr0,tag=42,firewall=0",
        "ide2": "your_nfs:iso/ocp-agent.x86_64.iso,media=cdrom",
    }
    assert spec.iso_volume == "your_nfs:iso/ocp-agent.x86_64.iso"


def test_no_drift_against_what_pve_returns(ocp: Cluster) -> None:
    spec = vm_spec(ocp.node("ocp-node4"), ocp)
    assert drift(spec, _as_pve_returns(spec.params, 404)) == []


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("memory", "16384", "memory: 16384 -> 32768"),
        ("cores", 4, "cores: 4 -> 10"),
        ("scsi1", "local-lvm:vm-404-disk-1,backup=0,iothread=1,size=200G,ssd=1", "scsi1: size=200G -> size=150G"),
        (
            "net0",
            "virtio=BC:24:11:52:94:F5,bridge=vmbr0,firewall=0,tag=42",
            "net0: mac=BC:24:11:52:94:F5 -> mac=BC:24:11:52:94:F4",
        ),
        ("net0", "virtio=BC:24:11:52:94:F4,bridge=vmbr1,firewall=0,tag=42", "net0: bridge=vmbr1 -> bridge=vmbr0"),
        (
            "ide2",
            "other:iso/x.iso,media=cdrom",
            "ide2: volume=other:iso/x.iso -> volume=your_nfs:iso/ocp-agent.x86_64.iso",
        ),
        ("scsi2", "local-lvm:vm-404-disk-2,size=10G", "scsi2: local-lvm:vm-404-disk-2,size=10G -> (none)"),
        ("bios", "ovmf", "bios: ovmf -> seabios"),
    ],
)
def test_drift_is_found_and_described(ocp: Cluster, key: str, value: object, expected: str) -> None:
    spec = vm_spec(ocp.node("ocp-node4"), ocp)
    config = _as_pve_returns(spec.params, 404)
    config[key] = value
    assert [str(d) for d in drift(spec, config)] == [expected]


def test_an_ejected_cd_does_not_count_as_drift(ocp: Cluster) -> None:
    spec = vm_spec(ocp.node("ocp-node4"), ocp)
    config = _as_pve_returns(spec.params, 404)
    config["ide2"] = "none,media=cdrom"
    assert drift(spec, config) == []


def test_mac_case_does_not_count_as_drift(ocp: Cluster) -> None:
    spec = vm_spec(ocp.node("ocp-node4"), ocp)
    config = _as_pve_returns(spec.params, 404)
    config["net0"] = str(config["net0"]).replace("BC:24:11:52:94:F4", "bc:24:11:52:94:f4")
    assert drift(spec, config) == []


def test_owner_marker() -> None:
    assert owner_of({"description": "notes\nmanaged-by=proxshift cluster=ocp host=ocp-node1\n"}) == ("ocp", "ocp-node1")
    assert owner_of({"description": "managed-by=someone-else"}) is None
    assert owner_of({}) is None


def test_plan_decisions(ocp: Cluster) -> None:
    spec = vm_spec(ocp.node("ocp-node1"), ocp)
    ours = _as_pve_returns(spec.params, 401)
    vm = Guest(401, "qemu", "pve1", "ocp-node1.ocp.homelab.local", "running")
    assert plan_vm(spec, None, None, False).action == "create"
    assert plan_vm(spec, vm, ours, False).action == "unchanged"
    changed = {**ours, "cores": 2}
    assert plan_vm(spec, vm, changed, False).action == "drift"
    assert plan_vm(spec, vm, changed, True).action == "recreate"
    foreign = {**ours, "description": "my database"}
    assert plan_vm(spec, vm, foreign, True).action == "refuse"
    other_cluster = {**ours, "description": "managed-by=proxshift cluster=ocp3 host=ocp-node1"}
    refused = plan_vm(spec, vm, other_cluster, True)
    assert (refused.action, refused.reason) == (
        "refuse",
        "vmid 401 is proxshift's VM for host ocp-node1 of cluster ocp3",
    )
    container = Guest(401, "lxc", "pve1", "web", "running")
    assert plan_vm(spec, container, None, True).action == "refuse"
    moved = Guest(401, "qemu", "pve2", "ocp-node1.ocp.homelab.local", "running")
    assert [str(d) for d in plan_vm(spec, moved, ours, False).drift] == ["node: pve2 -> pve1"]


def test_boot_order(ocp: Cluster) -> None:
    assert boot_devices("order=scsi0;ide2;net0") == ["scsi0", "ide2", "net0"]
    assert boot_devices("cdn") == []
    spec = vm_spec(ocp.node("ocp-node1"), ocp)
    assert missing_boot_devices(spec) == []
    spec.params["boot"] = "order=virtio0;ide2"
    assert missing_boot_devices(spec) == ["virtio0"]


def test_ovmf_and_secure_boot_params(ocp: Cluster) -> None:
    node = ocp.node("ocp-node1")
    uefi = node.spec.model_copy(update={"bios": "ovmf", "secure_boot": True})
    spec = vm_spec(type(node)(**{**node.__dict__, "spec": uefi}), ocp)
    assert (spec.params["bios"], spec.params["machine"]) == ("ovmf", "q35")
    assert spec.params["efidisk0"] == "local-lvm:1,efitype=4m,pre-enrolled-keys=1"
