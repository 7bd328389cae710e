"""The VM config keys Proxmox VE defines for disks, named once (qemu-server's drive limits)."""

from __future__ import annotations

import re

# Highest index per bus: qemu-server's MAX_IDE_DISKS 4, MAX_SATA_DISKS 6, MAX_SCSI_DISKS 31,
# MAX_VIRTIO_DISKS 16 (PVE/QemuServer/Drive.pm).
DATA_DISK_BUSES = {"ide": 3, "sata": 5, "scsi": 30, "virtio": 15}
# One of each per VM: the UEFI variables disk and the TPM state.
SPECIAL_DISK_SLOTS = frozenset({"efidisk0", "tpmstate0"})
# Where proxshift attaches the agent ISO as a CD-ROM: a drive key, but never a disk of the inventory.
INSTALL_ISO_SLOT = "ide2"

# No leading zeros: PVE's keys are scsi1, not scsi01.
_DATA_DISK_KEY = re.compile(r"(ide|sata|scsi|virtio)(0|[1-9][0-9]?)")


def is_data_disk_slot(key: str) -> bool:
    """ide0-3, sata0-5, scsi0-30 or virtio0-15: where an inventory's disks may go."""
    match = _DATA_DISK_KEY.fullmatch(key)
    return match is not None and int(match.group(2)) <= DATA_DISK_BUSES[match.group(1)]


def is_disk_slot(key: str) -> bool:
    """Any drive key of a PVE VM config: a data disk slot, efidisk0 or tpmstate0 (ide2 included)."""
    return key in SPECIAL_DISK_SLOTS or is_data_disk_slot(key)
