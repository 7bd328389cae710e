"""config/pve_keys.py: the disk slots exactly as Proxmox VE defines them."""

from __future__ import annotations

import pytest

from proxshift.config.pve_keys import DATA_DISK_BUSES, is_data_disk_slot, is_disk_slot

EVERY_DATA_SLOT = [f"{bus}{index}" for bus, highest in DATA_DISK_BUSES.items() for index in range(highest + 1)]


def test_every_pve_data_slot_is_a_disk_slot() -> None:
    assert len(EVERY_DATA_SLOT) == 4 + 6 + 31 + 16
    assert all(is_data_disk_slot(key) and is_disk_slot(key) for key in EVERY_DATA_SLOT)


@pytest.mark.parametrize("key", ["scsi10", "scsi30", "virtio10", "virtio15", "sata5", "ide3", "ide2"])
def test_two_digit_and_last_slots(key: str) -> None:
    assert is_disk_slot(key)


@pytest.mark.parametrize("key", ["efidisk0", "tpmstate0"])
def test_special_slots_are_disks_but_not_for_the_inventory(key: str) -> None:
    assert is_disk_slot(key)
    assert not is_data_disk_slot(key)


@pytest.mark.parametrize(
    "key",
    ["ide4", "sata6", "scsi31", "virtio16", "efidisk1", "tpmstate1", "scsi01", "scsi", "net0", "unused0", "SCSI0", ""],
)
def test_not_disk_slots(key: str) -> None:
    assert not is_disk_slot(key)
