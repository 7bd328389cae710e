"""The agent ISO on Proxmox: plan and upload it (once per shared storage), and remove only what proxshift
uploaded, as recorded in the install dir's uploads ledger."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from proxshift.engine.vm_plan import specs_for
from proxshift.engine.vm_run import VmResult, timed
from proxshift.errors import ProxshiftError, UserInputError
from proxshift.files import MAKE_WRITABLE, write_or_fail

if TYPE_CHECKING:
    from proxshift.clients.proxmox.client import Proxmox
    from proxshift.config.install_dir import InstallDir
    from proxshift.config.inventory import Cluster


# -- the ledger ------------------------------------------------------------------------------------------


def read_uploads(install_dir: InstallDir) -> list[dict[str, Any]]:
    """The ISO volumes proxshift uploaded for this cluster: node, storage, volid, size, sha256."""
    try:
        data = json.loads(install_dir.uploads_ledger.read_text())
    except (OSError, ValueError):
        return []
    return [e for e in data if isinstance(e, dict)] if isinstance(data, list) else []


def _write_uploads(install_dir: InstallDir, entries: list[dict[str, Any]], hint: str) -> None:
    write_or_fail(install_dir.uploads_ledger, json.dumps(entries, indent=2), "the uploads ledger", hint)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# -- upload ----------------------------------------------------------------------------------------------


@dataclass
class IsoTarget:
    node: str
    storage: str
    volid: str
    name: str
    action: str  # upload, skip, replace, conflict
    detail: str = ""
    present_size: int | None = None
    shared: bool = False  # one volume for every node (the ledger names the node it was uploaded through)


IsoProgress = Callable[[IsoTarget, int, int], None]  # (target, bytes sent, bytes in all)


def plan_iso_upload(prox: Proxmox, cluster: Cluster, iso: Path, replace: bool) -> list[IsoTarget]:
    """Once per shared storage, once per node for a local one; skip files already there."""
    size = iso.stat().st_size
    targets: list[IsoTarget] = []
    seen: set[tuple[str, str]] = set()
    for spec in specs_for(cluster):
        if not spec.iso_volume:
            continue
        storage, _, volume = spec.iso_volume.partition(":")
        shared = bool(prox.storage.info(spec.node, storage).get("shared"))
        key = (storage, "*") if shared else (storage, spec.node)
        if key in seen:
            continue
        seen.add(key)
        name = volume.split("/", 1)[-1]
        present = prox.storage.iso_content(spec.node, storage)
        if spec.iso_volume in present and not replace:
            there = present[spec.iso_volume]
            same = there == size
            detail = "already there" if same else f"a different file ({there} bytes) is there"
            action = "skip" if same else "conflict"
            targets.append(IsoTarget(spec.node, storage, spec.iso_volume, name, action, detail, there, shared))
        else:
            action = "replace" if spec.iso_volume in present else "upload"
            targets.append(IsoTarget(spec.node, storage, spec.iso_volume, name, action, shared=shared))
    return targets


def _only_ours(targets: list[IsoTarget], uploads: list[dict[str, Any]], checksum: str) -> None:
    """Refresh an ISO only when the ledger says proxshift uploaded it; any other one of that name conflicts."""
    recorded = {(u.get("node"), u.get("volid")): u for u in uploads}
    for target in targets:
        mine = recorded.get((target.node, target.volid))
        if target.action in ("skip", "conflict") and mine and mine.get("size") == target.present_size:
            target.action = "skip" if mine.get("sha256") == checksum else "replace"
        elif target.action == "skip" and not mine:
            target.action = "conflict"
            target.detail = "an ISO of that name that proxshift did not upload is there"


def upload_iso(
    prox: Proxmox,
    cluster: Cluster,
    iso: Path,
    install_dir: InstallDir,
    *,
    replace: bool = False,
    replace_ours: bool = False,
    dry_run: bool = False,
    progress: IsoProgress | None = None,
) -> list[IsoTarget]:
    """`replace`: the user said so. `replace_ours`: refresh only an ISO this install dir records uploading."""
    if not iso.is_file():
        raise UserInputError(
            f"ISO not found: {iso}",
            f"create it with 'proxshift iso create {cluster.name}' ('proxshift iso upload' also takes --iso PATH)",
        )
    targets = plan_iso_upload(prox, cluster, iso, replace)
    uploads = read_uploads(install_dir)
    checksum = file_sha256(iso)
    if replace_ours:
        _only_ours(targets, uploads, checksum)
    conflicts = [t for t in targets if t.action == "conflict"]
    if conflicts:
        raise UserInputError(
            "; ".join(f"{t.volid} on {t.node}: {t.detail}" for t in conflicts),
            f"if it is yours to replace: 'proxshift iso upload {cluster.name} --replace'; or name another iso_image",
        )
    if dry_run:
        return targets
    for target in targets:
        if target.action == "skip":
            continue
        if target.action == "replace":
            prox.storage.delete_volume(target.node, target.storage, target.volid)
        prox.storage.upload_iso(target.node, target.storage, iso, target.name, _bind(progress, target), checksum)
        uploads = [u for u in uploads if not _same_volume(u, target)]
        uploads.append(
            {
                "node": target.node,
                "storage": target.storage,
                "volid": target.volid,
                "size": iso.stat().st_size,
                "sha256": checksum,
            }
        )
        _write_uploads(
            install_dir,
            uploads,
            f"{MAKE_WRITABLE}; {target.volid} on {target.node} was uploaded but is not recorded as proxshift's, so "
            f"the next upload refuses it: 'proxshift iso upload {cluster.name} --replace' takes it over",
        )
        target.detail = "uploaded"
    return targets


def _same_volume(entry: dict[str, Any], target: IsoTarget) -> bool:
    """A ledger entry for the volume just uploaded: same node, or any node for a shared storage."""
    if entry.get("volid") != target.volid:
        return False
    return entry.get("node") == target.node or (target.shared and entry.get("storage") == target.storage)


def missing_iso_volumes(prox: Proxmox, cluster: Cluster) -> list[str]:
    """The iso_image volumes the cluster's VMs boot from that are not on their storage (read-only)."""
    missing: list[str] = []
    listed: dict[tuple[str, str], set[str]] = {}
    for spec in specs_for(cluster):
        if not spec.iso_volume:
            continue
        storage = spec.iso_volume.partition(":")[0]
        if (spec.node, storage) not in listed:
            listed[(spec.node, storage)] = set(prox.storage.iso_content(spec.node, storage))
        if spec.iso_volume not in listed[(spec.node, storage)] and f"{spec.iso_volume} on {spec.node}" not in missing:
            missing.append(f"{spec.iso_volume} on {spec.node}")
    return missing


def _bind(progress: IsoProgress | None, target: IsoTarget) -> Callable[[int, int], None] | None:
    if progress is None:
        return None
    return lambda done, total: progress(target, done, total)


def download_iso(prox: Proxmox, cluster: Cluster, url: str, *, dry_run: bool = False) -> list[tuple[str, str]]:
    """Let Proxmox fetch the ISO from `url` onto each iso_image volume, once each: (node, volume) pairs."""
    done: list[tuple[str, str]] = []
    for spec in specs_for(cluster):
        if not spec.iso_volume or spec.iso_volume in {volume for _, volume in done}:
            continue
        if not dry_run:
            storage, _, volume = spec.iso_volume.partition(":")
            prox.storage.download_iso(spec.node, storage, url, volume.split("/", 1)[-1])
        done.append((spec.node, spec.iso_volume))
    return done


# -- removal ---------------------------------------------------------------------------------------------


def remove_uploaded_isos(prox: Proxmox, install_dir: InstallDir) -> list[VmResult]:
    """Only ISOs this install dir records as uploaded by proxshift, and only if their size still matches."""
    results = []
    remaining = []
    for entry in read_uploads(install_dir):
        node, storage, volid = str(entry.get("node")), str(entry.get("storage")), str(entry.get("volid"))
        present = prox.storage.iso_content(node, storage)
        if volid not in present:
            continue
        if present[volid] != entry.get("size"):
            remaining.append(entry)
            results.append(
                VmResult(volid, 0, node, "remove ISO", True, "left alone: size differs from what proxshift uploaded")
            )
            continue
        results.append(timed(volid, 0, node, "remove ISO", _deleter(prox, node, storage, volid)))
    if install_dir.uploads_ledger.exists():
        # The ISOs are gone either way; a ledger left as it was lists volumes that are no longer there (skipped).
        try:
            _write_uploads(install_dir, remaining, MAKE_WRITABLE)
        except ProxshiftError as exc:  # a failed row, like a VM's: the install dir then stays where it is
            results.append(VmResult("uploads.json", 0, "-", "record", False, exc.message))
    return results


def _deleter(prox: Proxmox, node: str, storage: str, volid: str) -> Callable[[], str]:
    def delete() -> str:
        prox.storage.delete_volume(node, storage, volid)
        return "removed"

    return delete
