"""The Proxmox password login in the shapes fakepve cannot be made to produce: through `responses`.

proxmoxer posts /access/ticket outside its session (and so outside the retry policy mounted on it):
a pveproxy restarting during the login must be tried again, and told apart from a wrong password.
"""

from __future__ import annotations

import re

import pytest
import requests
import responses

from proxshift.clients.proxmox import connection as connection_module
from proxshift.clients.proxmox.connection import Connection, Endpoint, ProxmoxCredentials
from proxshift.clients.transport import RETRY
from proxshift.errors import OperationError
from proxshift.secret import Secret

TICKET = "https://pve.example:8006/api2/json/access/ticket"
GRANTED = {"data": {"ticket": "PVE:root@pam:0::x", "CSRFPreventionToken": "csrf", "username": "root@pam"}}


@pytest.fixture(autouse=True)
def no_pauses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(connection_module.time, "sleep", lambda seconds: None)


def _connection() -> Connection:
    credentials = ProxmoxCredentials(user="root@pam", password=Secret("hunter2", "test"))
    return Connection(Endpoint("pve.example", 8006, True), credentials)


@responses.activate
def test_a_login_during_a_pveproxy_restart_is_tried_again() -> None:
    responses.post(TICKET, status=503, body="")
    responses.post(TICKET, body=requests.exceptions.ConnectionError("connection dropped"))
    responses.post(TICKET, json=GRANTED)
    assert _connection().api is not None
    assert len(responses.calls) == 3


@responses.activate
def test_a_login_that_keeps_failing_names_the_status_not_the_password() -> None:
    responses.post(TICKET, status=503, body="")
    with pytest.raises(OperationError) as caught:
        _ = _connection().api
    assert caught.value.message == "Proxmox at pve.example:8006 answered HTTP 503 while logging in"
    assert "try again in a minute" in (caught.value.hint or "")
    assert "hunter2" not in caught.value.message + (caught.value.hint or "")
    assert len(responses.calls) == RETRY.attempts


@responses.activate
def test_a_refused_password_is_said_at_once() -> None:
    responses.post(TICKET, status=401, body="")
    with pytest.raises(OperationError, match="rejected the password of root@pam"):
        _ = _connection().api
    assert len(responses.calls) == 1


@responses.activate
def test_a_tls_failure_is_not_tried_again() -> None:
    responses.post(TICKET, body=requests.exceptions.SSLError("certificate verify failed"))
    with pytest.raises(OperationError, match=re.escape("TLS verification of Proxmox at pve.example:8006 failed")):
        _ = _connection().api
    assert len(responses.calls) == 1
