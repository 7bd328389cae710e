"""Proxmox VE through proxmoxer: one connection, tasks, VM lifecycle, ISO upload."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from proxshift.clients.transport import Poller, transport_errors
from proxshift.config.settings import ProxmoxEndpoint
from proxshift.engine.vmspec import Resource, VmPlan, VmSpec, missing_boot_devices, owner_of, plan_vm
from proxshift.errors import OperationError, ProxshiftError, UserInputError
from proxshift.secret import Secret

if TYPE_CHECKING:
    from proxmoxer import ProxmoxAPI

REQUEST_TIMEOUT = 60  # proxmoxer's 5 s default is too short for a busy node
UPLOAD_TIMEOUT = 3600
# What proxshift does on Proxmox, by privilege (docs/proxmox.md lists them for a role).
VM_PRIVILEGES = (
    "VM.Allocate",
    "VM.Audit",
    "VM.Config.CDROM",
    "VM.Config.CPU",
    "VM.Config.Disk",
    "VM.Config.HWType",
    "VM.Config.Memory",
    "VM.Config.Network",
    "VM.Config.Options",
    "VM.PowerMgmt",
)
STORAGE_PRIVILEGES = ("Datastore.AllocateSpace", "Datastore.Audit")
ISO_PRIVILEGES = ("Datastore.AllocateTemplate",)
NODE_PRIVILEGES = ("Sys.Audit",)
BRIDGE_PRIVILEGES = ("SDN.Use",)


@dataclass(frozen=True)
class ProxmoxCredentials:
    """An API token (preferred) or a user and password; never from a plain file."""

    user: str
    token_name: str | None = None
    token_secret: Secret | None = None
    password: Secret | None = None
    source: str = "environment"

    @property
    def kind(self) -> str:
        return "token" if self.token_name else "password"


def credentials_from_env(env: dict[str, str] | None = None) -> ProxmoxCredentials | None:
    env = dict(os.environ) if env is None else env
    token_id, token_secret = env.get("PROXSHIFT_PROXMOX_TOKEN_ID"), env.get("PROXSHIFT_PROXMOX_TOKEN_SECRET")
    if token_id and token_secret:
        return token_credentials(token_id, token_secret, "PROXSHIFT_PROXMOX_TOKEN_ID")
    user, password = env.get("PROXSHIFT_PROXMOX_USER"), env.get("PROXSHIFT_PROXMOX_PASSWORD")
    if user and password:
        return ProxmoxCredentials(user=user, password=Secret(password, "PROXSHIFT_PROXMOX_PASSWORD"))
    return None


def token_credentials(token_id: str, secret: str, source: str) -> ProxmoxCredentials:
    user, sep, name = token_id.partition("!")
    if not sep or "@" not in user or not name:
        raise UserInputError(
            f"{source}: '{token_id}' is not a token ID", "write it as user@realm!tokenid, e.g. proxshift@pve!ci"
        )
    return ProxmoxCredentials(user=user, token_name=name, token_secret=Secret(secret, source), source=source)


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int
    verify: bool | str


def endpoint_for(settings: ProxmoxEndpoint, fallback_node: str) -> tuple[Endpoint, list[str]]:
    """The site config's `proxmox` endpoint, else the first node's name (the predecessor's way)."""
    warnings = []
    verify: bool | str = True
    if not settings.verify_ssl:
        verify = False
        warnings.append("proxmox.verify_ssl is false: Proxmox's TLS certificate is not verified")
    elif settings.ca_cert:
        ca = Path(settings.ca_cert).expanduser()
        if not ca.is_file():
            raise UserInputError(
                f"proxmox.ca_cert names a missing file: {ca}", "point it at the PVE cluster's CA (pve-root-ca.pem)"
            )
        verify = str(ca)
    return Endpoint(settings.host or fallback_node, settings.port, verify), warnings


def parse_upid(upid: str) -> str:
    """The node a task runs on: its status must be read there."""
    parts = upid.split(":")
    if len(parts) < 3 or parts[0] != "UPID":
        raise OperationError(f"Proxmox answered '{upid}' where a task ID (UPID) was expected", "check the PVE version")
    return parts[1]


@dataclass
class VmResult:
    host: str
    vmid: int
    node: str
    action: str
    ok: bool
    detail: str = ""
    seconds: float = 0.0


Progress = Callable[[str, str], None]  # (host, message)


def _quiet(host: str, message: str) -> None:
    del host, message


class Proxmox:
    """One connection to a PVE cluster (any node serves all of it); one login per run."""

    def __init__(
        self,
        endpoint: Endpoint,
        credentials: ProxmoxCredentials,
        *,
        poll_interval: float = 0.5,
        task_timeout: float = 900.0,
        workers: int = 8,
    ) -> None:
        self.endpoint = endpoint
        self.credentials = credentials
        self.poll_interval = poll_interval
        self.task_timeout = task_timeout
        self.workers = workers
        self._api: ProxmoxAPI | None = None

    # -- connection and errors --------------------------------------------------------------

    @contextmanager
    def errors(self, doing: str) -> Iterator[None]:
        from proxmoxer.core import AuthenticationError, ResourceException

        where = f"{self.endpoint.host}:{self.endpoint.port}"
        tls_hint = "set proxmox.ca_cert to the cluster's CA (/etc/pve/pve-root-ca.pem)"
        try:
            with transport_errors("Proxmox", where, doing, tls_hint, "check proxmox.host and port"):
                yield
        except ProxshiftError:
            raise
        except AuthenticationError:
            raise OperationError(
                f"Proxmox at {where} rejected the {self.credentials.kind} of {self.credentials.user}",
                "check PROXSHIFT_PROXMOX_TOKEN_ID / _TOKEN_SECRET (or _USER / _PASSWORD)",
            ) from None
        except ResourceException as exc:
            reason = _reason(exc)
            if exc.status_code == 401:
                raise OperationError(f"Proxmox rejected the credentials while {doing}", "log in again") from None
            if exc.status_code == 403:
                raise OperationError(
                    f"permission denied while {doing}: {reason}", "see docs/proxmox.md for the role"
                ) from None
            if exc.status_code == 595:
                raise OperationError(f"node unreachable while {doing}: {reason}", "check the node is online") from None
            raise OperationError(f"Proxmox refused {doing}: {reason}", "see the task log on the node") from None

    @property
    def api(self) -> ProxmoxAPI:
        if self._api is None:
            from proxmoxer import ProxmoxAPI

            creds = self.credentials
            auth: dict[str, Any] = (
                {
                    "token_name": creds.token_name,
                    "token_value": creds.token_secret.reveal() if creds.token_secret else "",
                }
                if creds.token_name
                else {"password": creds.password.reveal() if creds.password else ""}
            )
            with self.errors("logging in"):
                self._api = ProxmoxAPI(
                    self.endpoint.host,
                    port=self.endpoint.port,
                    user=creds.user,
                    verify_ssl=self.endpoint.verify,
                    timeout=REQUEST_TIMEOUT,
                    **auth,
                )
        return self._api

    # -- reads ------------------------------------------------------------------------------

    def resources(self) -> dict[int, Resource]:
        with self.errors("listing the cluster's guests"):
            rows = self.api.cluster.resources.get(type="vm")
        return {
            int(r["vmid"]): Resource(
                int(r["vmid"]), str(r.get("type")), str(r.get("node")), str(r.get("name", "")), str(r.get("status", ""))
            )
            for r in rows
        }

    def vm_config(self, node: str, vmid: int) -> dict[str, Any]:
        with self.errors(f"reading the config of VM {vmid}"):
            return dict(self.api.nodes(node).qemu(vmid).config.get())

    def vm_status(self, node: str, vmid: int) -> dict[str, Any]:
        with self.errors(f"reading the status of VM {vmid}"):
            return dict(self.api.nodes(node).qemu(vmid).status.current.get())

    def plan(self, specs: Iterable[VmSpec], force: bool = False) -> list[VmPlan]:
        """Read the cluster's guests once, then the config of each VM that already has our vmid."""
        resources = self.resources()

        def plan_one(spec: VmSpec) -> VmPlan:
            resource = resources.get(spec.vmid)
            config = self.vm_config(resource.node, spec.vmid) if resource and resource.kind == "qemu" else None
            return plan_vm(spec, resource, config, force)

        specs = list(specs)
        with ThreadPoolExecutor(max_workers=max(1, min(self.workers, len(specs)))) as pool:
            return list(pool.map(plan_one, specs))

    def privileges(self) -> dict[str, set[str]]:
        with self.errors("reading the permissions of the credentials"):
            held = self.api.access.permissions.get()
        return {path: set(privs) for path, privs in held.items()}

    def missing_privileges(self, specs: list[VmSpec], iso_upload: bool = False) -> list[str]:
        """Privileges the credentials lack for these VMs, named with the path that needs them."""
        held = self.privileges()

        def has(privilege: str, path: str) -> bool:
            parts = path.strip("/").split("/")
            prefixes = ["/"] + ["/" + "/".join(parts[: i + 1]) for i in range(len(parts))]
            return any(privilege in held.get(prefix, set()) for prefix in prefixes)

        missing = []
        for spec in specs:
            missing += [f"{p} on /vms/{spec.vmid}" for p in VM_PRIVILEGES if not has(p, f"/vms/{spec.vmid}")]
            for storage in {str(v).split(":")[0] for k, v in spec.params.items() if _is_disk(k)}:
                missing += [
                    f"{p} on /storage/{storage}" for p in STORAGE_PRIVILEGES if not has(p, f"/storage/{storage}")
                ]
            missing += [f"{p} on /nodes/{spec.node}" for p in NODE_PRIVILEGES if not has(p, f"/nodes/{spec.node}")]
            if iso_upload and spec.iso_volume:
                storage = spec.iso_volume.split(":")[0]
                missing += [f"{p} on /storage/{storage}" for p in ISO_PRIVILEGES if not has(p, f"/storage/{storage}")]
        return list(dict.fromkeys(missing))

    def check_environment(self, specs: list[VmSpec], iso_present: bool = True) -> list[str]:
        """What fakepve (and PVE at create time) would not catch: nodes, storages, bridges, boot order, ISO."""
        problems: list[str] = []
        with self.errors("listing the nodes"):
            nodes = {str(n["node"]): str(n.get("status", "")) for n in self.api.nodes.get()}
        storages: dict[str, dict[str, dict[str, Any]]] = {}
        bridges: dict[str, set[str]] = {}
        isos: dict[tuple[str, str], set[str]] = {}
        for spec in specs:
            where = f"{spec.host} (vmid {spec.vmid})"
            if spec.node not in nodes:
                problems.append(
                    f"{where}: Proxmox node '{spec.node}' does not exist (nodes: {', '.join(sorted(nodes))})"
                )
                continue
            if nodes[spec.node] != "online":
                problems.append(f"{where}: Proxmox node '{spec.node}' is {nodes[spec.node] or 'not online'}")
                continue
            if spec.node not in storages:
                with self.errors(f"listing the storages of {spec.node}"):
                    storages[spec.node] = {str(s["storage"]): s for s in self.api.nodes(spec.node).storage.get()}
                with self.errors(f"listing the bridges of {spec.node}"):
                    bridges[spec.node] = {
                        str(i["iface"])
                        for i in self.api.nodes(spec.node).network.get()
                        if "bridge" in str(i.get("type"))
                    }
            for key, value in spec.params.items():
                if _is_disk(key):
                    storage = str(value).split(":")[0]
                    info = storages[spec.node].get(storage)
                    if info is None:
                        problems.append(f"{where}: {key}: storage '{storage}' does not exist on {spec.node}")
                    elif "images" not in str(info.get("content", "")).split(","):
                        problems.append(
                            f"{where}: {key}: storage '{storage}' does not hold disk images "
                            f"(content: {info.get('content')})"
                        )
                elif key.startswith("net"):
                    bridge = _option(str(value), "bridge")
                    if bridge and bridge not in bridges[spec.node]:
                        problems.append(f"{where}: {key}: bridge '{bridge}' does not exist on {spec.node}")
            for device in missing_boot_devices(spec):
                problems.append(
                    f"{where}: boot order names {device}, which the VM does not have (boot: {spec.params['boot']})"
                )
            if spec.iso_volume and iso_present:
                storage = spec.iso_volume.partition(":")[0]
                info = storages[spec.node].get(storage)
                if info is None:
                    problems.append(f"{where}: ISO storage '{storage}' does not exist on {spec.node}")
                    continue
                if "iso" not in str(info.get("content", "")).split(","):
                    problems.append(
                        f"{where}: storage '{storage}' does not hold ISO images (content: {info.get('content')})"
                    )
                    continue
                place = (spec.node, storage)
                if place not in isos:
                    isos[place] = set(self.iso_content(spec.node, storage))
                if spec.iso_volume not in isos[place]:
                    problems.append(
                        f"{where}: ISO {spec.iso_volume} is not on storage '{storage}' of {spec.node}; "
                        f"run 'proxshift iso upload {spec.cluster}' first"
                    )
        return problems

    def iso_content(self, node: str, storage: str) -> dict[str, int]:
        with self.errors(f"listing ISOs on {storage}"):
            rows = self.api.nodes(node).storage(storage).content.get(content="iso")
        return {str(r["volid"]): int(r.get("size", 0)) for r in rows}

    # -- tasks ------------------------------------------------------------------------------

    def wait_task(self, upid: str, doing: str) -> None:
        node = parse_upid(upid)

        def stopped() -> dict[str, Any] | None:
            with self.errors(f"waiting for {doing}"):
                status = self.api.nodes(node).tasks(upid).status.get()
            return dict(status) if status.get("status") == "stopped" else None

        # Most tasks end within a few hundred ms: poll fast first, then back off to poll_interval.
        status = Poller(self.task_timeout, cap=self.poll_interval).until(stopped)
        if status is None:
            raise OperationError(f"{doing} did not finish within {self.task_timeout:.0f} s", "see the task in Proxmox")
        if status.get("exitstatus") != "OK":
            raise OperationError(
                f"{doing} failed: {self._task_tail(node, upid, status)}", "see the task log in Proxmox"
            )

    def _task_tail(self, node: str, upid: str, status: dict[str, Any]) -> str:
        try:
            log = self.api.nodes(node).tasks(upid).log.get(limit=50)
            lines = [str(row.get("t", "")) for row in log if row.get("t") and row.get("t") != "TASK OK"]
        except Exception:
            lines = []
        tail = [line for line in lines if line.startswith("TASK ERROR")] or lines[-2:]
        return " / ".join(tail) or str(status.get("exitstatus", "unknown error"))

    # -- VM lifecycle -----------------------------------------------------------------------

    def create(self, spec: VmSpec) -> None:
        with self.errors(f"creating VM {spec.vmid} ({spec.host})"):
            upid = self.api.nodes(spec.node).qemu.post(**spec.params)
        self.wait_task(str(upid), f"creating VM {spec.vmid} ({spec.host})")

    def start(self, node: str, vmid: int, host: str) -> None:
        with self.errors(f"starting VM {vmid} ({host})"):
            upid = self.api.nodes(node).qemu(vmid).status.start.post()
        self.wait_task(str(upid), f"starting VM {vmid} ({host})")
        status = self.vm_status(node, vmid)
        if status.get("status") != "running":
            raise OperationError(
                f"VM {vmid} ({host}) is {status.get('status')} after its start task", "see its log in Proxmox"
            )

    def shutdown(self, node: str, vmid: int, host: str, timeout: int, force: bool) -> str:
        with self.errors(f"shutting down VM {vmid} ({host})"):
            upid = self.api.nodes(node).qemu(vmid).status.shutdown.post(timeout=timeout)
        try:
            self.wait_task(str(upid), f"shutting down VM {vmid} ({host})")
            return "shut down"
        except OperationError as exc:
            if not force:
                raise OperationError(
                    f"VM {vmid} ({host}) did not shut down within {timeout} s ({exc.message})",
                    "run again with --force to hard-stop it",
                ) from None
        self.hard_stop(node, vmid, host)
        return "stopped (forced)"

    def hard_stop(self, node: str, vmid: int, host: str) -> None:
        with self.errors(f"stopping VM {vmid} ({host})"):
            upid = self.api.nodes(node).qemu(vmid).status.stop.post()
        self.wait_task(str(upid), f"stopping VM {vmid} ({host})")

    def destroy(self, node: str, vmid: int, host: str) -> None:
        with self.errors(f"destroying VM {vmid} ({host})"):
            upid = self.api.nodes(node).qemu(vmid).delete(purge=1, **{"destroy-unreferenced-disks": 1})
        self.wait_task(str(upid), f"destroying VM {vmid} ({host})")

    def ensure_ours(self, node: str, vmid: int, cluster: str, host: str) -> None:
        """Re-read the marker right before a destructive step: proof, not memory."""
        owner = owner_of(self.vm_config(node, vmid))
        if owner != (cluster, host):
            raise OperationError(
                f"VM {vmid} on {node} is not proxshift's VM for {host} of {cluster}; left alone",
                "nothing was changed on it",
            )

    # -- parallel execution -----------------------------------------------------------------

    def for_each(self, items: list[Any], work: Callable[[Any], VmResult]) -> list[VmResult]:
        """Run `work` on every item concurrently; one failure never hides the others."""
        if not items:
            return []
        with ThreadPoolExecutor(max_workers=max(1, min(self.workers, len(items)))) as pool:
            return list(pool.map(work, items))

    # -- ISO ---------------------------------------------------------------------------------

    def upload_iso(
        self,
        node: str,
        storage: str,
        path: Path,
        name: str,
        progress: Callable[[int, int], None] | None = None,
        checksum: str | None = None,
    ) -> None:
        """Stream the file (never read whole into memory) to the storage's upload endpoint."""
        import requests
        from requests_toolbelt import MultipartEncoder, MultipartEncoderMonitor  # type: ignore[import-untyped]

        size = path.stat().st_size
        with path.open("rb") as handle:
            fields: dict[str, Any] = {"content": "iso"}
            if checksum:
                # PVE verifies the stored file against it and fails the task on a mismatch.
                fields.update({"checksum": checksum, "checksum-algorithm": "sha256"})
            fields["filename"] = (name, handle, "application/octet-stream")
            encoder = MultipartEncoder(fields=fields)
            monitor = MultipartEncoderMonitor(
                encoder, lambda m: progress(min(m.bytes_read, size), size) if progress else None
            )
            backend = self.api._backend
            session = backend.get_session()
            url = f"{backend.get_base_url()}/nodes/{node}/storage/{storage}/upload"
            with self.errors(f"uploading {name} to {storage} on {node}"):
                # requests.Session's own request(): proxmoxer's override re-encodes the body.
                response = requests.Session.request(
                    session,
                    "POST",
                    url,
                    data=monitor,
                    headers={"Content-Type": monitor.content_type},
                    cookies=session.auth.get_cookies() if session.auth else None,
                    verify=self.endpoint.verify,
                    timeout=UPLOAD_TIMEOUT,
                )
                if response.status_code >= 400:
                    raise OperationError(
                        f"uploading {name} to {storage} on {node} failed: "
                        f"HTTP {response.status_code} {response.reason}",
                        "check the storage accepts ISO images and has room",
                    )
                upid = response.json().get("data")
        if upid:
            self.wait_task(str(upid), f"storing {name} on {storage}")

    def download_iso(self, node: str, storage: str, url: str, name: str) -> None:
        with self.errors(f"asking {node} to download {url}"):
            upid = self.api.nodes(node).storage(storage)("download-url").post(content="iso", filename=name, url=url)
        self.wait_task(str(upid), f"downloading {name} to {storage}")

    def delete_volume(self, node: str, storage: str, volid: str) -> None:
        with self.errors(f"removing {volid}"):
            upid = self.api.nodes(node).storage(storage).content(volid).delete()
        if upid:
            self.wait_task(str(upid), f"removing {volid}")

    def storage_info(self, node: str, storage: str) -> dict[str, Any]:
        with self.errors(f"reading storage {storage} on {node}"):
            return dict(self.api.nodes(node).storage(storage).status.get())


def _reason(exc: Any) -> str:
    content = str(getattr(exc, "content", "") or "").strip()
    errors = getattr(exc, "errors", None)
    detail = "; ".join(f"{k}: {v}" for k, v in errors.items()) if isinstance(errors, dict) else ""
    return ", ".join(p for p in (content, detail) if p) or f"HTTP {getattr(exc, 'status_code', '?')}"


def _is_disk(key: str) -> bool:
    import re

    return bool(re.fullmatch(r"(scsi|virtio|sata|ide)\d+|efidisk\d+", key)) and key != "ide2"


def _option(value: str, name: str) -> str | None:
    for part in value.split(",")[1:]:
        if part.startswith(f"{name}="):
            return part.split("=", 1)[1]
    return None


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
