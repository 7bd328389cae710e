"""A cluster as the predecessor (`ps.provision`, its Ansible `proxmox_vm` role) leaves it: for `adopt`.

Written from the role's own tasks, not from proxshift's VM spec, so that a test built on it does not
agree with proxshift merely by sharing its code. The role sets name, memory, cores, sockets, cpu,
boot, onboot, scsihw, numa and ostype on create, then adds the ISO as `ide2` (media=cdrom), each disk
as `<storage>:<size>` with backup/ssd/iothread/wwn, and each NIC as `<model>=<MAC>,bridge=..[,tag=..]`
with firewall; it writes no tags and no description. PVE ends in the same state whether the
devices come with the create call or in later config updates, so one create call carries them all
(fakepve allocates `<storage>:<size>` disks only on create).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from proxshift.errors import UserInputError

if TYPE_CHECKING:
    from proxshift.clients.proxmox.client import Proxmox
    from proxshift.config.inventory import Node
    from proxshift.config.project import Project


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


def start_vm(api: Any, node: Node, wait: float = 0.05) -> None:
    from proxmoxer.tools import Tasks

    upid = api.nodes(node.spec.pve_node).qemu(node.spec.vmid).status.start.post()
    Tasks.blocking_status(api, upid, polling_interval=wait)


def leave_cluster(prox: Proxmox, project: Project, cluster_name: str, lab_dir: Path) -> list[str]:
    """What `ps.provision <cluster>` leaves behind, in the running lab: the agent ISO copied onto its
    storage, the VMs built and started, and ocp_install/<cluster>/auth/ from its installer run."""
    from proxshift.files import write_private

    cluster = project.cluster(cluster_name)
    taken = [n for n in cluster.nodes if n.spec.vmid in prox.cluster.guests()]
    if taken:
        raise UserInputError(
            f"vmid {', '.join(str(n.spec.vmid) for n in taken)} is taken in the lab",
            f"'proxshift deprovision {cluster_name} --yes' (or 'lab down' and 'lab up') frees it",
        )
    done = []
    for volume in sorted({n.spec.iso_image for n in cluster.nodes if n.spec.iso_image}):
        pve_node = next(n for n in cluster.nodes if n.spec.iso_image == volume).spec.pve_node
        storage, _, name = volume.partition(":")
        if volume not in prox.storage.iso_content(pve_node, storage):
            with tempfile.TemporaryDirectory() as scratch:
                iso = Path(scratch) / "agent.x86_64.iso"
                iso.write_bytes(b"CD001 the predecessor's agent ISO for " + cluster_name.encode() + b"\n")
                prox.storage.upload_iso(pve_node, storage, iso, name.split("/", 1)[-1])
            done.append(f"ISO {volume} copied onto {storage}, as the predecessor's NFS copy does")
    for node in cluster.nodes:
        build_vm(prox.connection.api, node)
        start_vm(prox.connection.api, node)
        done.append(f"VM {node.spec.vmid} ({node.fqdn}) built on {node.spec.pve_node} and started; no tags, no notes")
    install_dir = project.paths.install_dir(cluster_name)
    state_file = lab_dir / "installer-state" / f"{cluster_name}.json"
    if state_file.is_file():
        state = json.loads(state_file.read_text())
        install_dir.auth.mkdir(parents=True, exist_ok=True, mode=0o700)
        write_private(install_dir.kubeconfig, state["kubeconfig"])
        write_private(install_dir.kubeadmin_password, state["password"])
        done.append(f"{project.paths.shown(install_dir.auth)}/ written, as its installer run leaves it")
    return done
