"""The VM phase: plan, check and run create / start / stop / deprovision / status for a cluster.

Composes inventory, vmspec and proxmox; Proxmox credentials may come from Vault, which is
passed in as a reader so that proxmox.py never imports vault.py.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from proxshift.clients.proxmox import (
    Progress,
    Proxmox,
    ProxmoxCredentials,
    VmResult,
    _quiet,
    credentials_from_env,
    endpoint_for,
    file_sha256,
    token_credentials,
)
from proxshift.config.install_dir import InstallDir
from proxshift.config.inventory import Cluster
from proxshift.config.settings import Settings
from proxshift.engine.vmspec import VmPlan, VmSpec, vm_spec
from proxshift.errors import OperationError, ProxshiftError, UserInputError
from proxshift.files import write_private
from proxshift.secret import Secret

CredentialsReader = Callable[[str], dict[str, Any]]  # KV path -> the secret's keys


def proxmox_credentials(settings: Settings, read_vault: CredentialsReader | None) -> ProxmoxCredentials:
    """Environment first; else the KV path named by proxmox.credentials_path."""
    found = credentials_from_env()
    if found:
        return found
    path = settings.proxmox.credentials_path
    if path and read_vault is not None:
        data = read_vault(path)
        if data.get("token_id") and data.get("token_secret"):
            return token_credentials(str(data["token_id"]), str(data["token_secret"]), f"token_id from {path}")
        if data.get("user") and data.get("password"):
            return ProxmoxCredentials(
                user=str(data["user"]), password=Secret(str(data["password"]), f"password from {path}"), source=path
            )
        raise UserInputError(
            f"{path} holds neither token_id + token_secret nor user + password",
            "write the Proxmox API token there (see docs/proxmox.md)",
        )
    raise UserInputError(
        "no Proxmox credentials",
        "set PROXSHIFT_PROXMOX_TOKEN_ID and PROXSHIFT_PROXMOX_TOKEN_SECRET (or _USER and _PASSWORD), "
        "or proxmox.credentials_path in the site config",
    )


def connect(
    settings: Settings,
    cluster: Cluster,
    read_vault: CredentialsReader | None = None,
    notify: Callable[[str], None] | None = None,
) -> Proxmox:
    endpoint, warnings = endpoint_for(settings.proxmox, cluster.nodes[0].spec.pve_node)
    for warning in warnings:
        if notify:
            notify(warning)
    return Proxmox(
        endpoint,
        proxmox_credentials(settings, read_vault),
        poll_interval=settings.proxmox.poll_interval,
        task_timeout=settings.proxmox.task_timeout,
    )


def specs_for(cluster: Cluster) -> list[VmSpec]:
    return [vm_spec(node, cluster) for node in cluster.nodes]


@dataclass
class VmRun:
    """A VM command's plan and, unless it was a dry run, each VM's outcome."""

    plans: list[VmPlan]
    results: list[VmResult] = field(default_factory=list)
    intent: str | None = None  # what a dry run would do to each VM (create runs show each plan's own action)
    notes: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return any(not r.ok for r in self.results)


def _refusals(plans: list[VmPlan]) -> list[VmPlan]:
    return [p for p in plans if p.action in ("refuse", "drift")]


def _refuse(plans: list[VmPlan]) -> None:
    bad = _refusals(plans)
    if bad:
        lines = [
            f"{p.spec.host} (vmid {p.spec.vmid}): {p.reason}" + "".join(f"\n    {d}" for d in p.drift) for p in bad
        ]
        hint = (
            "VMs proxshift did not create are never touched; free those vmids or change the inventory"
            if any(p.action == "refuse" for p in bad)
            else "run again with --force to recreate the drifted VMs"
        )
        raise UserInputError("refusing to change anything:\n  " + "\n  ".join(lines), hint)


def _timed(host: str, vmid: int, node: str, action: str, work: Callable[[], str | None]) -> VmResult:
    start = time.monotonic()
    try:
        detail = work() or "done"
        return VmResult(host, vmid, node, action, True, detail, time.monotonic() - start)
    except ProxshiftError as exc:
        return VmResult(host, vmid, node, action, False, exc.message, time.monotonic() - start)


def check_before_create(
    prox: Proxmox, cluster: Cluster, *, force: bool, iso_upload: bool = False, iso_present: bool = True
) -> list[VmPlan]:
    """Everything that can be known before a write: privileges, the per-VM plan, the Proxmox side."""
    specs = specs_for(cluster)
    missing = prox.missing_privileges(specs, iso_upload=iso_upload)
    if missing:
        raise OperationError(
            f"the Proxmox credentials of {prox.credentials.user} lack: {', '.join(missing[:6])}"
            + (f" (and {len(missing) - 6} more)" if len(missing) > 6 else ""),
            "grant the role in docs/proxmox.md to the token (privilege separation starts with none)",
        )
    plans = prox.plan(specs, force)
    _refuse(plans)
    to_build = [p.spec for p in plans if p.action in ("create", "recreate")]
    problems = prox.check_environment(to_build, iso_present=iso_present)
    if problems:
        raise UserInputError(
            "the Proxmox cluster cannot hold these VMs:\n  " + "\n  ".join(problems),
            "fix the inventory or the Proxmox side, then run again",
        )
    return plans


def create_vms(
    prox: Proxmox, cluster: Cluster, *, force: bool = False, dry_run: bool = False, progress: Progress = _quiet
) -> VmRun:
    plans = check_before_create(prox, cluster, force=force)
    run = VmRun(plans)
    if dry_run:
        return run

    def build(plan: VmPlan, node: str) -> str:
        spec = plan.spec
        if plan.action == "unchanged":
            return "unchanged"
        if plan.action == "recreate":
            prox.ensure_ours(node, spec.vmid, spec.cluster, spec.host)
            if plan.status == "running":
                progress(spec.host, "stopping (recreate)")
                prox.hard_stop(node, spec.vmid, spec.host)
            progress(spec.host, "destroying (recreate)")
            prox.destroy(node, spec.vmid, spec.host)
        progress(spec.host, "creating")
        prox.create(spec)
        progress(spec.host, "created")
        return "recreated" if plan.action == "recreate" else "created"

    run.results = _each(prox, plans, "create", build)
    return run


def _each(prox: Proxmox, plans: list[VmPlan], action: str, step: Callable[[VmPlan, str], str]) -> list[VmResult]:
    """Run `step(plan, node)` for every VM in parallel; each outcome recorded, none lost."""

    def one(plan: VmPlan) -> VmResult:
        node = plan.current_node or plan.spec.node
        return _timed(plan.spec.host, plan.spec.vmid, node, action, lambda: step(plan, node))

    return prox.for_each(plans, one)


def _existing_ours(prox: Proxmox, cluster: Cluster) -> tuple[list[VmPlan], list[VmPlan]]:
    """(our VMs that exist, plans for inventory VMs that do not exist); refuses foreign ones."""
    plans = prox.plan(specs_for(cluster), force=False)
    foreign = [p for p in plans if p.action == "refuse"]
    if foreign:
        _refuse(foreign)
    return [p for p in plans if p.action != "create"], [p for p in plans if p.action == "create"]


def start_vms(prox: Proxmox, cluster: Cluster, *, dry_run: bool = False, progress: Progress = _quiet) -> VmRun:
    ours, absent = _existing_ours(prox, cluster)
    if absent:
        raise UserInputError(
            f"{len(absent)} VM(s) do not exist yet: {', '.join(p.spec.host for p in absent)}",
            f"run 'proxshift vms create {cluster.name}' first",
        )
    run = VmRun(ours, intent="start")
    if dry_run:
        return run

    def start(plan: VmPlan, node: str) -> str:
        if plan.status == "running":
            return "already running"
        progress(plan.spec.host, "starting")
        prox.start(node, plan.spec.vmid, plan.spec.host)
        progress(plan.spec.host, "running")
        return "running"

    run.results = _each(prox, ours, "start", start)
    return run


def stop_vms(
    prox: Proxmox,
    cluster: Cluster,
    *,
    force: bool = False,
    timeout: int = 120,
    dry_run: bool = False,
    progress: Progress = _quiet,
) -> VmRun:
    ours, _ = _existing_ours(prox, cluster)
    run = VmRun(ours, intent="stop")
    if dry_run:
        return run

    def stop(plan: VmPlan, node: str) -> str:
        if plan.status != "running":
            return "already stopped"
        progress(plan.spec.host, "shutting down")
        return prox.shutdown(node, plan.spec.vmid, plan.spec.host, timeout, force)

    run.results = _each(prox, ours, "stop", stop)
    return run


def deprovision_vms(
    prox: Proxmox,
    cluster: Cluster,
    install_dir: InstallDir,
    *,
    keep_iso: bool = False,
    dry_run: bool = False,
    progress: Progress = _quiet,
) -> VmRun:
    ours, _ = _existing_ours(prox, cluster)
    run = VmRun(ours, intent="destroy")
    if dry_run:
        if not keep_iso:
            run.notes = [
                f"remove ISO {u.get('volid')} on {u.get('node')} (uploaded by proxshift)"
                for u in _read_uploads(install_dir)
            ]
        return run

    def remove(plan: VmPlan, node: str) -> str:
        spec = plan.spec
        prox.ensure_ours(node, spec.vmid, spec.cluster, spec.host)
        if plan.status == "running":
            progress(spec.host, "stopping")
            prox.hard_stop(node, spec.vmid, spec.host)
        progress(spec.host, "destroying")
        prox.destroy(node, spec.vmid, spec.host)
        return "destroyed"

    run.results = _each(prox, ours, "destroy", remove)
    if not keep_iso and not run.failed:
        run.results += remove_uploaded_isos(prox, install_dir)
    return run


# -- ISO upload ---------------------------------------------------------------------------------


def _read_uploads(install_dir: InstallDir) -> list[dict[str, Any]]:
    try:
        data = json.loads(install_dir.uploads_ledger.read_text())
    except (OSError, ValueError):
        return []
    return [e for e in data if isinstance(e, dict)] if isinstance(data, list) else []


def _write_uploads(install_dir: InstallDir, entries: list[dict[str, Any]]) -> None:
    write_private(install_dir.uploads_ledger, json.dumps(entries, indent=2))


@dataclass
class IsoTarget:
    node: str
    storage: str
    volid: str
    name: str
    action: str  # upload, skip, replace, conflict
    detail: str = ""
    present_size: int | None = None


def plan_iso_upload(prox: Proxmox, cluster: Cluster, iso: Path, replace: bool) -> list[IsoTarget]:
    """Once per shared storage, once per node for a local one; skip files already there."""
    size = iso.stat().st_size
    targets: list[IsoTarget] = []
    seen: set[tuple[str, str]] = set()
    for spec in specs_for(cluster):
        if not spec.iso_volume:
            continue
        storage, _, volume = spec.iso_volume.partition(":")
        info = prox.storage_info(spec.node, storage)
        key = (storage, "*") if info.get("shared") else (storage, spec.node)
        if key in seen:
            continue
        seen.add(key)
        name = volume.split("/", 1)[-1]
        present = prox.iso_content(spec.node, storage)
        if spec.iso_volume in present and not replace:
            same = present[spec.iso_volume] == size
            targets.append(
                IsoTarget(
                    spec.node,
                    storage,
                    spec.iso_volume,
                    name,
                    "skip" if same else "conflict",
                    "already there" if same else f"a different file ({present[spec.iso_volume]} bytes) is there",
                    present[spec.iso_volume],
                )
            )
        else:
            action = "replace" if spec.iso_volume in present else "upload"
            targets.append(IsoTarget(spec.node, storage, spec.iso_volume, name, action))
    return targets


def upload_iso(
    prox: Proxmox,
    cluster: Cluster,
    iso: Path,
    install_dir: InstallDir,
    *,
    replace: bool = False,
    replace_ours: bool = False,
    dry_run: bool = False,
    progress: Callable[[IsoTarget, int, int], None] | None = None,
) -> list[IsoTarget]:
    """`replace`: the user said so. `replace_ours`: refresh only an ISO this install dir records uploading."""
    if not iso.is_file():
        raise UserInputError(f"ISO not found: {iso}", f"run 'proxshift iso create {cluster.name}' or pass --iso PATH")
    targets = plan_iso_upload(prox, cluster, iso, replace)
    uploads = _read_uploads(install_dir)
    checksum = file_sha256(iso)
    if replace_ours:
        recorded = {(u.get("node"), u.get("volid")): u for u in uploads}
        for target in targets:
            mine = recorded.get((target.node, target.volid))
            if target.action in ("skip", "conflict") and mine and mine.get("size") == target.present_size:
                target.action = "skip" if mine.get("sha256") == checksum else "replace"
            elif target.action == "skip" and not mine:
                target.action = "conflict"
                target.detail = "an ISO of that name that proxshift did not upload is there"
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
            prox.delete_volume(target.node, target.storage, target.volid)
        prox.upload_iso(
            target.node,
            target.storage,
            iso,
            target.name,
            _bind(progress, target),
            checksum,
        )
        uploads = [u for u in uploads if (u.get("node"), u.get("volid")) != (target.node, target.volid)]
        uploads.append(
            {
                "node": target.node,
                "storage": target.storage,
                "volid": target.volid,
                "size": iso.stat().st_size,
                "sha256": checksum,
            }
        )
        _write_uploads(install_dir, uploads)
        target.detail = "uploaded"
    return targets


def _bind(
    progress: Callable[[IsoTarget, int, int], None] | None, target: IsoTarget
) -> Callable[[int, int], None] | None:
    if progress is None:
        return None
    return lambda done, total: progress(target, done, total)


def remove_uploaded_isos(prox: Proxmox, install_dir: InstallDir) -> list[VmResult]:
    """Only ISOs this install dir records as uploaded by proxshift, and only if their size still matches."""
    results = []
    remaining = []
    for entry in _read_uploads(install_dir):
        node, storage, volid = str(entry.get("node")), str(entry.get("storage")), str(entry.get("volid"))
        present = prox.iso_content(node, storage)
        if volid not in present:
            continue
        if present[volid] != entry.get("size"):
            remaining.append(entry)
            results.append(
                VmResult(volid, 0, node, "remove ISO", True, "left alone: size differs from what proxshift uploaded")
            )
            continue
        results.append(_timed(volid, 0, node, "remove ISO", _deleter(prox, node, storage, volid)))
    if install_dir.uploads_ledger.exists():
        _write_uploads(install_dir, remaining)
    return results


def _deleter(prox: Proxmox, node: str, storage: str, volid: str) -> Callable[[], str]:
    def delete() -> str:
        prox.delete_volume(node, storage, volid)
        return "removed"

    return delete


# -- status --------------------------------------------------------------------------------------


def vm_status(prox: Proxmox, cluster: Cluster) -> list[dict[str, Any]]:
    plans = prox.plan(specs_for(cluster), force=False)
    rows = []
    for plan in plans:
        spec = plan.spec
        row: dict[str, Any] = {
            "host": spec.host,
            "vmid": spec.vmid,
            "node": plan.current_node or spec.node,
            "exists": plan.action != "create",
            "ours": plan.action in ("unchanged", "drift"),
            "status": plan.status or "absent",
            "drift": [str(d) for d in plan.drift],
            "note": plan.reason if plan.action == "refuse" else "",
        }
        if row["ours"]:
            current = prox.vm_status(row["node"], spec.vmid)
            row.update(
                uptime=int(current.get("uptime") or 0),
                cpu=float(current.get("cpu") or 0),
                mem=int(current.get("mem") or 0),
                maxmem=int(current.get("maxmem") or 0),
            )
        rows.append(row)
    return rows
