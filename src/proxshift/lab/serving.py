"""Serve an aiohttp app from a background thread on a loopback port the OS picks, TLS optional."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import ssl
import threading
from collections.abc import Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

START_TIMEOUT = 30


@dataclass(frozen=True)
class CertificateFiles:
    ca: Path
    cert: Path
    key: Path


def make_certificates(directory: Path, name: str = "proxshift-lab") -> CertificateFiles:
    """A CA and a server certificate for 127.0.0.1/localhost, written 0600 into `directory`."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{name} CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=90))  # as a Let's Encrypt one: health sees no warning
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    files = CertificateFiles(directory / "ca.pem", directory / "cert.pem", directory / "key.pem")
    files.ca.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    files.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    files.key.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    for path in (files.ca, files.cert, files.key):
        path.chmod(0o600)
    return files


class BackgroundServer:
    """An aiohttp application on its own event loop in a daemon thread."""

    def __init__(self, app: Any, tls: CertificateFiles | None = None, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app
        self.tls = tls
        self.host = host
        self.port = port
        self.loop = asyncio.new_event_loop()
        self._runner: Any = None
        self._thread = threading.Thread(target=self._run, name=f"lab-{id(self)}", daemon=True)

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}:{self.port}"

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def call(self, coro: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(START_TIMEOUT)

    async def _start(self) -> None:
        import logging

        from aiohttp import web

        # A stand-in that plays "down" drops connections on purpose; aiohttp would log each as an error.
        logging.getLogger("aiohttp.server").setLevel(logging.CRITICAL)

        context = None
        if self.tls:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(str(self.tls.cert), str(self.tls.key))
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, ssl_context=context)
        await site.start()
        if not self.port:
            self.port = self._runner.addresses[0][1]

    def start(self) -> BackgroundServer:
        self._thread.start()
        self.call(self._start())
        return self

    def stop(self) -> None:
        if self._runner is not None:
            self.call(self._runner.cleanup())
            self._runner = None
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(START_TIMEOUT)


class LoopThread:
    """An event loop in a daemon thread, for servers that bring their own start/stop coroutines (fakepve)."""

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def call(self, coro: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(START_TIMEOUT)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(START_TIMEOUT)


def serve_fakepve(pve: Any, cert: Path, key: Path) -> LoopThread:
    """Start a FakePve over HTTPS on its own loop (fakepve's own helper lives in its pytest plugin)."""
    loop = LoopThread(f"fakepve-{id(pve)}")
    loop.call(pve.start(str(cert), str(key)))
    return loop


def stop_fakepve(pve: Any, loop: LoopThread) -> None:
    from fakepve import settle

    try:
        loop.call(settle())
        loop.call(pve.stop())
    finally:
        loop.stop()
