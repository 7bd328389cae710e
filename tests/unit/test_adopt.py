"""The pure parts of `adopt`: the verdict on a VM and the marker added to its config."""

from __future__ import annotations

from typing import Any

import pytest

from proxshift.clients.proxmox.cluster import Guest
from proxshift.config.inventory import Cluster
from proxshift.config.paths import discover_paths
from proxshift.config.project import load_project
from proxshift.engine.adopt import check_vm, marker_params
from proxshift.engine.vmspec import VmSpec, owner_of, vm_spec
from tests.conftest import ProjectFiles

MAC = "BC:24:11:00:00:01"


@pytest.fixture
def sno(project: ProjectFiles) -> tuple[VmSpec, Cluster]:
    cluster = load_project(discover_paths(project.write())).cluster("sno")
    return vm_spec(cluster.nodes[0], cluster), cluster


def _vm(spec: VmSpec, **changes: Any) -> dict[str, Any]:
    config = {k: v for k, v in spec.params.items() if k not in ("tags", "description", "vmid")}
    config["net0"] = "virtio=bc:24:11:00:00:01,bridge=vmbr0,tag=42"
    config["scsi0"] = "local-lvm:vm-301-disk-0,size=120G"
    return {**config, "digest": "0" * 40, **changes}


def _here(spec: VmSpec, kind: str = "qemu", node: str | None = None) -> Guest:
    return Guest(spec.vmid, kind, node or spec.node, "x", "running")


def test_verdicts(sno: tuple[VmSpec, Cluster]) -> None:
    spec, _ = sno
    assert check_vm(spec, MAC, None, None).verdict == "missing"
    adoptable = check_vm(spec, MAC, _here(spec), _vm(spec))
    assert (adoptable.verdict, adoptable.drift) == ("adoptable", [])  # MAC compared case-insensitively
    assert check_vm(spec, MAC, _here(spec), _vm(spec, name="sno-node1")).verdict == "adoptable"  # the bare name
    assert check_vm(spec, MAC, _here(spec, "lxc"), None).reason == "vmid 301 is container 'x'"
    wrong_name = check_vm(spec, MAC, _here(spec), _vm(spec, name="web"))
    assert (wrong_name.verdict, wrong_name.reason) == (
        "mismatch",
        "its name is 'web', not sno-node1.sno.lab.example or sno-node1",
    )
    wrong_mac = check_vm(spec, MAC, _here(spec), _vm(spec, net0="e1000=BC:24:11:00:00:02,bridge=vmbr0"))
    assert wrong_mac.reason == f"no NIC carries {MAC} (it has BC:24:11:00:00:02)"
    assert check_vm(spec, None, _here(spec), _vm(spec)).verdict == "mismatch"  # nothing to check a MAC against
    second_nic = _vm(spec, net0="virtio=BC:24:11:00:00:02,bridge=vmbr0", net1=f"virtio={MAC},bridge=vmbr1")
    assert check_vm(spec, MAC, _here(spec), second_nic).verdict == "adoptable"


def test_markers_decide_before_name_and_mac(sno: tuple[VmSpec, Cluster]) -> None:
    spec, _ = sno
    ours = _vm(spec, description="notes\nmanaged-by=proxshift cluster=sno host=sno-node1")
    assert check_vm(spec, MAC, _here(spec), ours).verdict == "ours"
    other = check_vm(spec, MAC, _here(spec), _vm(spec, description="managed-by=proxshift cluster=multi host=m-node1"))
    assert (other.verdict, other.reason) == ("other-cluster", "marked as host m-node1 of cluster multi")
    host = check_vm(spec, MAC, _here(spec), _vm(spec, description="managed-by=proxshift cluster=sno host=sno-node9"))
    assert (host.verdict, host.reason) == ("mismatch", "marked as proxshift's VM for host sno-node9")


def test_drift_and_a_moved_vm(sno: tuple[VmSpec, Cluster]) -> None:
    spec, _ = sno
    moved = check_vm(spec, MAC, _here(spec, node="pve9"), _vm(spec, memory="16384"))
    assert moved.verdict == "adoptable"
    assert [str(d) for d in moved.drift] == ["node: pve9 -> pve1", "memory: 16384 -> 32768"]


def test_marker_is_what_vms_create_writes_added_to_what_is_there(sno: tuple[VmSpec, Cluster]) -> None:
    spec, _ = sno
    line = "managed-by=proxshift cluster=sno host=sno-node1"
    assert marker_params(spec, {}) == {"tags": spec.params["tags"], "description": spec.params["description"]}
    assert marker_params(spec, {})["tags"] == "proxshift;sno"
    assert marker_params(spec, {"description": "rack 4"})["description"] == f"rack 4\n{line}"
    assert marker_params(spec, {"description": "a\nb\n"})["description"] == f"a\nb\n{line}"
    assert marker_params(spec, {"tags": "prod;sno"})["tags"] == "prod;sno;proxshift"
    assert owner_of({"description": marker_params(spec, {"description": "x"})["description"]}) == ("sno", "sno-node1")
