"""Storages: what a node's storages hold, ISO images in and out."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from proxshift.clients.proxmox.connection import Connection
from proxshift.clients.proxmox.tasks import Tasks
from proxshift.errors import OperationError

UPLOAD_TIMEOUT = 3600


class StorageApi:
    def __init__(self, connection: Connection, tasks: Tasks) -> None:
        self.connection = connection
        self.tasks = tasks

    def storages(self, node: str) -> dict[str, dict[str, Any]]:
        """Storage name -> its row (type, content, shared, avail, ...) as this node sees it."""
        with self.connection.errors(f"listing the storages of {node}"):
            return {str(s["storage"]): dict(s) for s in self.connection.api.nodes(node).storage.get()}

    def info(self, node: str, storage: str) -> dict[str, Any]:
        with self.connection.errors(f"reading storage {storage} on {node}"):
            return dict(self.connection.api.nodes(node).storage(storage).status.get())

    def iso_content(self, node: str, storage: str) -> dict[str, int]:
        """ISO volume ID -> size in bytes."""
        with self.connection.errors(f"listing ISOs on {storage}"):
            rows = self.connection.api.nodes(node).storage(storage).content.get(content="iso")
        return {str(r["volid"]): int(r.get("size", 0)) for r in rows}

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
        doing = f"uploading {name} to {storage} on {node}"
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
            backend = self.connection.api._backend
            session = backend.get_session()
            url = f"{backend.get_base_url()}/nodes/{node}/storage/{storage}/upload"
            with self.connection.errors(doing):
                # requests.Session's own request(): proxmoxer's override re-encodes the body.
                response = requests.Session.request(
                    session,
                    "POST",
                    url,
                    data=monitor,
                    headers={"Content-Type": monitor.content_type},
                    cookies=session.auth.get_cookies() if session.auth else None,
                    verify=self.connection.endpoint.verify,
                    timeout=UPLOAD_TIMEOUT,
                )
                if response.status_code >= 400:
                    raise OperationError(
                        f"{doing} failed: HTTP {response.status_code} {response.reason}",
                        "check the storage accepts ISO images and has room",
                    )
                upid = response.json().get("data")
        if upid:
            self.tasks.wait(str(upid), f"storing {name} on {storage}")

    def download_iso(self, node: str, storage: str, url: str, name: str) -> None:
        """Let the node fetch the ISO itself."""
        with self.connection.errors(f"asking {node} to download {url}"):
            upid = (
                self.connection.api.nodes(node)
                .storage(storage)("download-url")
                .post(content="iso", filename=name, url=url)
            )
        self.tasks.wait(str(upid), f"downloading {name} to {storage}")

    def delete_volume(self, node: str, storage: str, volid: str) -> None:
        with self.connection.errors(f"removing {volid}"):
            upid = self.connection.api.nodes(node).storage(storage).content(volid).delete()
        if upid:
            self.tasks.wait(str(upid), f"removing {volid}")
