"""Connections opened ahead (Connection.open_ahead): best effort, so nothing may leave their threads."""

from __future__ import annotations

import threading

import pytest

from proxshift.clients.proxmox.connection import Connection, Endpoint, ProxmoxCredentials
from proxshift.secret import Secret


@pytest.mark.parametrize("host", ["pve1.lab.example:8006", "[fd00::1"])
def test_a_host_the_url_parser_refuses_raises_nothing_on_the_threads(
    host: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """proxmoxer accepts "host:port"; urllib.parse refuses it bracketed as an IPv6 address. An exception
    escaping a thread is printed with its traceback on stderr: the request that follows says what is wrong."""
    escaped: list[BaseException | None] = []
    monkeypatch.setattr(threading, "excepthook", lambda args: escaped.append(args.exc_value))
    connection = Connection(Endpoint(host, 8006, True), ProxmoxCredentials("root@pam", password=Secret("x", "t")))
    connection.open_ahead(2).join()
    assert escaped == []
