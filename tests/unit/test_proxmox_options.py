"""PVE property strings: split and join round trips, on the shapes PVE writes and proxshift sends."""

from __future__ import annotations

import pytest

from proxshift.clients.proxmox.options import join_options, option, split_options

AS_PVE_WRITES = [
    "virtio=BC:24:11:42:BE:F4,bridge=vmbr0,firewall=0,tag=42",
    "local-lvm:vm-401-disk-0,backup=0,iothread=1,size=100G,ssd=1",
    "your_nfs:iso/ocp-agent.x86_64.iso,media=cdrom,size=1G",
    "local-lvm:vm-301-disk-1,efitype=4m,pre-enrolled-keys=1,size=528K",
    "none,media=cdrom",
    "virtio",
]


@pytest.mark.parametrize("value", AS_PVE_WRITES)
def test_split_then_join_gives_the_string_back(value: str) -> None:
    assert join_options(*split_options(value)) == value


def test_split_a_nic() -> None:
    head, options = split_options("virtio=BC:24:11:42:BE:F4,bridge=vmbr0,tag=42")
    assert head == "virtio=BC:24:11:42:BE:F4"  # PVE's default key: the model, with the MAC as its value
    assert options == {"bridge": "vmbr0", "tag": "42"}


def test_join_skips_what_is_not_set_and_keeps_order() -> None:
    params = {"bridge": "vmbr0", "tag": None, "firewall": 0, "mtu": 9000}
    text = join_options("virtio=BC:24:11:42:BE:F4", params)
    assert text == "virtio=BC:24:11:42:BE:F4,bridge=vmbr0,firewall=0,mtu=9000"
    assert split_options(text)[1] == {"bridge": "vmbr0", "firewall": "0", "mtu": "9000"}


def test_one_option_never_the_head() -> None:
    assert option("virtio=AA:BB:CC:DD:EE:FF,bridge=vmbr1", "bridge") == "vmbr1"
    assert option("virtio=AA:BB:CC:DD:EE:FF,bridge=vmbr1", "virtio") is None
    assert option("local-lvm:10", "size") is None
