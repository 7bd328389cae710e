"""The SDN.Use paths PVE checks for a VM's NICs (PVE::GuestHelpers::check_vnet_access)."""

from __future__ import annotations

from proxshift.engine.vm_checks import bridge_paths
from proxshift.engine.vmspec import VmSpec


def _spec(**nics: str) -> VmSpec:
    return VmSpec("ocp", "ocp-node1", "pve1", 401, {"vmid": 401, "scsi0": "local-lvm:100", **nics})


def test_a_plain_bridge_is_in_the_zone_localnetwork() -> None:
    spec = _spec(net0="virtio=AA:BB:CC:DD:EE:01,bridge=vmbr0,tag=42", net1="virtio,bridge=vmbr1")
    paths = bridge_paths(spec, {"vmbr0": "bridge", "vmbr1": "OVSBridge"}, dict)
    assert paths == ["/sdn/zones/localnetwork/vmbr0/42", "/sdn/zones/localnetwork/vmbr1"]


def test_a_vnet_is_in_its_own_zone_read_only_when_needed() -> None:
    reads: list[str] = []

    def zones() -> dict[str, str]:
        reads.append("vnets")
        return {"vnet1": "zone1"}

    assert bridge_paths(_spec(net0="virtio,bridge=vmbr0"), {"vmbr0": "bridge"}, zones) == [
        "/sdn/zones/localnetwork/vmbr0"
    ]
    assert reads == []
    assert bridge_paths(_spec(net0="virtio,bridge=vnet1,tag=7"), {"vnet1": "vnet"}, zones) == [
        "/sdn/zones/zone1/vnet1/7"
    ]


def test_unknown_bridges_and_unseen_vnets_are_left_to_other_checks() -> None:
    spec = _spec(net0="virtio,bridge=vmbr9", net1="virtio,bridge=hidden")
    assert bridge_paths(spec, {"hidden": "vnet"}, dict) == []
