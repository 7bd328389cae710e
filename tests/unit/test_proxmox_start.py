"""A VM start whose answer was lost, in the shapes fakepve cannot be made to produce: through `responses`.

A POST is never sent again blindly (RetryPolicy: it may have started a task); a start whose connection
dropped after it went out is asked once more, and the VM's status says whether the first one went through.
"""

from __future__ import annotations

import http.client

import pytest
import requests
import responses
import urllib3

from proxshift.clients.proxmox.connection import Connection, Endpoint, ProxmoxCredentials
from proxshift.clients.proxmox.tasks import Tasks
from proxshift.clients.proxmox.vms import VmApi
from proxshift.clients.transport import answer_lost
from proxshift.errors import OperationError
from proxshift.secret import Secret

API = "https://pve.example:8006/api2/json"
START = f"{API}/nodes/pve1/qemu/301/status/start"
STATUS = f"{API}/nodes/pve1/qemu/301/status/current"
UPID = "UPID:pve1:00001234:00005678:65000000:qmstart:301:root@pam:"
TASK = f"{API}/nodes/pve1/tasks/{UPID}/status"


def _dropped() -> requests.exceptions.ConnectionError:
    """What requests raises when the server closed the connection without an answer."""
    closed = http.client.RemoteDisconnected("Remote end closed connection without response")
    return requests.exceptions.ConnectionError(urllib3.exceptions.ProtocolError("Connection aborted.", closed))


def _vms() -> VmApi:
    responses.post(f"{API}/access/ticket", json={"data": {"ticket": "PVE:root@pam:0::x", "CSRFPreventionToken": "c"}})
    connection = Connection(
        Endpoint("pve.example", 8006, True), ProxmoxCredentials("root@pam", password=Secret("hunter2", "test"))
    )
    return VmApi(connection, Tasks(connection, poll_interval=0.01))


def _starts() -> int:
    return sum(1 for call in responses.calls if call.request.url == START)


@responses.activate
def test_a_start_whose_answer_was_lost_but_which_went_through_is_a_start() -> None:
    vms = _vms()
    responses.post(START, body=_dropped())
    responses.post(START, status=500, json={"data": None})  # "VM 301 already running", in the status line
    responses.get(STATUS, json={"data": {"status": "running"}})
    vms.start("pve1", 301, "master-sno1")
    assert _starts() == 2


@responses.activate
def test_a_start_whose_answer_was_lost_before_it_reached_pve_is_sent_once_more() -> None:
    vms = _vms()
    responses.post(START, body=_dropped())
    responses.post(START, json={"data": UPID})
    responses.get(TASK, json={"data": {"status": "stopped", "exitstatus": "OK"}})
    responses.get(STATUS, json={"data": {"status": "running"}})
    vms.start("pve1", 301, "master-sno1")
    assert _starts() == 2


@responses.activate
def test_a_second_start_that_fails_with_the_vm_stopped_is_the_error() -> None:
    vms = _vms()
    responses.post(START, body=_dropped())
    responses.post(START, status=500, json={"data": None})  # PVE's reason goes in the status line
    responses.get(STATUS, json={"data": {"status": "stopped"}})
    with pytest.raises(OperationError, match=r"Proxmox refused starting VM 301 \(master-sno1\)"):
        vms.start("pve1", 301, "master-sno1")
    assert _starts() == 2


@responses.activate
def test_an_answered_failure_is_not_sent_again() -> None:
    vms = _vms()
    responses.post(START, status=500, json={"data": None})
    with pytest.raises(OperationError, match=r"Proxmox refused starting VM 301 \(master-sno1\)"):
        vms.start("pve1", 301, "master-sno1")
    assert _starts() == 1


def test_what_counts_as_an_answer_lost() -> None:
    assert not answer_lost(OperationError("refused"))
    assert answer_lost(_dropped())
    assert answer_lost(requests.exceptions.ReadTimeout("read timed out"))
    assert not answer_lost(requests.exceptions.ConnectTimeout("connect timed out"))
    assert not answer_lost(requests.exceptions.ConnectionError(ConnectionRefusedError(111, "Connection refused")))
    assert not answer_lost(requests.exceptions.SSLError("certificate verify failed"))
