"""VMs as the predecessor's Ansible `proxmox_vm` role leaves them, built through the PVE API: for `adopt`.

Written from the role's own tasks, not from proxshift's VM spec, so that a test built on it does not
agree with proxshift merely by sharing its code. The role sets name, memory, cores, sockets, cpu,
boot, onboot, scsihw, numa and ostype on create, then adds the ISO as `ide2` (media=cdrom), each disk
as `<storage>:<size>` with backup/ssd/iothread/wwn, and each NIC as `<model>=<MAC>,bridge=..[,tag=..]`
with firewall; it writes no tags and no description. PVE ends in the same state whether the
devices come with the create call or in later config updates, so one create call carries them all
(fakepve allocates `<storage>:<size>` disks only on create).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from proxshift.config.inventory import Node


def _flag(value: Any) -> int:
    return 1 if value in (True, 1, "1", "true", "yes") else 0


def predecessor_params(node: Node) -> dict[str, Any]:
    """The create parameters the predecessor's role ends up with for one inventory host."""
    spec = node.spec
    params: dict[str, Any] = {
        "vmid": spec.vmid,
        "name": node.fqdn,
        "memory": spec.memory,
        "cores": spec.cores,
        "sockets": spec.sockets,
        "cpu": spec.cpu,
        "boot": spec.boot,
        "onboot": _flag(spec.onboot),
        "scsihw": spec.scsihw,
        "numa": _flag(spec.numa),
        "ostype": "l26",
    }
    if spec.iso_image:
        params["ide2"] = f"{spec.iso_image},media=cdrom"
    for key, disk in spec.disks.items():
        value = f"{disk.storage}:{disk.size}"
        for option in ("backup", "ssd", "iothread"):
            if getattr(disk, option) is not None:
                value += f",{option}={_flag(getattr(disk, option))}"
        if disk.wwn:
            value += f",wwn={disk.wwn}"
        params[key] = value
    for key, nic in spec.nics.items():
        value = f"{nic.model}={nic.mac},bridge={nic.bridge}" if nic.mac else f"{nic.model},bridge={nic.bridge}"
        if nic.tag is not None:
            value += f",tag={nic.tag}"
        params[key] = value + f",firewall={_flag(nic.firewall)}"
    return params


def build_vm(api: Any, node: Node, wait: float = 0.05, **changes: Any) -> None:
    """Create the host's VM as the predecessor does; `changes` override parameters (a user's later edits)."""
    from proxmoxer.tools import Tasks

    params = {**predecessor_params(node), **changes}
    description = params.pop("description", None)
    upid = api.nodes(node.spec.pve_node).qemu.post(**params)
    status = Tasks.blocking_status(api, upid, polling_interval=wait)
    if not status or status.get("exitstatus") != "OK":
        raise RuntimeError(f"creating VM {params['vmid']} failed: {status}")
    if description is not None:  # written later, by hand, in the PVE web UI
        api.nodes(node.spec.pve_node).qemu(params["vmid"]).config.put(description=description)
