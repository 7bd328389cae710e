"""engine/nodes_join.py: a host followed from boot to Ready on a scripted timeline (fake API, fake clock);
its two CSRs approved through the approval subresource, every other pending CSR left and listed."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from proxshift.clients.kube import KubeError, KubeUnreachable
from proxshift.engine.csr_rules import Joining
from proxshift.engine.nodes_join import HostWatch, JoinResult, JoinWatcher
from proxshift.lab.csrs import client_csr, serving_csr

STARTED = datetime.now(UTC) - timedelta(minutes=1)
SOON = STARTED + timedelta(seconds=30)
HOST = Joining("ocp-node7", "ocp-node7.ocp.lab.example", "192.168.1.16", STARTED)


def _node(name: str, ip: str, ready: bool) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "status": {
            "addresses": [{"type": "InternalIP", "address": ip}, {"type": "Hostname", "address": name}],
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
        },
    }


class FakeCluster:
    """Nodes and CSRs as the API lists them; approval adds the Approved condition."""

    def __init__(self) -> None:
        self.nodes: list[dict[str, Any]] = [_node("ocp-node1", "192.168.1.10", True)]
        self.csrs: list[dict[str, Any]] = []
        self.approved: list[str] = []
        self.refuse_next: int | None = None  # an HTTP status for the next approval
        self.down = False

    def list(self, api_version: str, kind: str, namespace: str | None = None) -> list[dict[str, Any]]:
        if self.down:
            raise KubeUnreachable("cluster ocp is unreachable while listing", "")
        return copy.deepcopy(self.nodes if kind == "Node" else self.csrs)

    def approve_csr(self, csr: dict[str, Any], reason: str, message: str) -> dict[str, Any]:
        if self.refuse_next is not None:
            status, self.refuse_next = self.refuse_next, None
            raise KubeError("cluster ocp refused approving: HTTP 409", "", status)
        assert reason == "ProxshiftNodesAdd" and message.startswith("proxshift nodes add: ")
        for stored in self.csrs:
            if stored["metadata"]["name"] == csr["metadata"]["name"]:
                stored["status"] = {"conditions": [{"type": "Approved", "status": "True"}]}
        self.approved.append(csr["metadata"]["name"])
        return csr


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _watch(
    cluster: FakeCluster,
    script: dict[int, Callable[[], None]],
    monkeypatch: pytest.MonkeyPatch,
    agent: Callable[[int], dict[str, Any] | None] = lambda poll: None,
    timeout: float = 60,
    grace: float = 20,
) -> tuple[JoinResult, list[str]]:
    """Run the watcher; before poll N (from 1), script[N] changes the cluster; `agent(N)` is the host's
    assisted-service answer at poll N."""
    clock = Clock()
    polls = [0]
    lines: list[str] = []

    def sleep(seconds: float) -> None:
        clock.now += seconds
        polls[0] += 1
        script.get(polls[0] + 1, lambda: None)()

    monkeypatch.setattr(
        "proxshift.clients.install_watch.agent.AgentApi.cluster", lambda self: agent(polls[0] + 1), raising=True
    )
    script.get(1, lambda: None)()
    watcher = JoinWatcher(
        cluster,  # type: ignore[arg-type]
        [HostWatch(HOST, "http://agent.invalid/api/assisted-install/v2")],
        "token",
        lines.append,
        timeout=timeout,
        poll=5,
        serving_grace=grace,
        clock=clock,
        sleep=sleep,
    )
    return watcher.run(), lines


def _installing(poll: int) -> dict[str, Any] | None:
    if poll > 2:
        return None
    host = {"requested_hostname": "ocp-node7", "status": "installing-in-progress"}
    host["progress"] = {"current_stage": "Writing image to disk", "installation_percentage": 45}
    return {"status": "adding-hosts", "hosts": [host]}


def test_boot_to_ready_two_csrs_approved_others_listed(monkeypatch: pytest.MonkeyPatch) -> None:
    cluster = FakeCluster()

    def csrs_arrive() -> None:
        cluster.csrs += [
            client_csr("csr-node7", "ocp-node7", SOON),
            client_csr("csr-node1", "ocp-node1", SOON),  # a Node already, and not of this run
            client_csr("csr-node8", "ocp-node8", SOON),  # not a host of this run
        ]

    def node_registers() -> None:
        cluster.nodes.append(_node("ocp-node7", "192.168.1.16", False))
        cluster.csrs.append(serving_csr("csr-serving", "ocp-node7", ["ocp-node7"], ["192.168.1.16"], SOON))

    def node_ready() -> None:
        cluster.nodes[-1] = _node("ocp-node7", "192.168.1.16", True)

    result, lines = _watch(cluster, {4: csrs_arrive, 5: node_registers, 6: node_ready}, monkeypatch, _installing)
    assert not result.timed_out
    assert cluster.approved == ["csr-node7", "csr-serving"]
    assert result.approved == [("csr-node7", "ocp-node7", "client"), ("csr-serving", "ocp-node7", "serving")]
    assert result.ready == ["ocp-node7"] and result.without_serving == []
    assert {v.csr: v.reason for v in result.left_pending} == {
        "csr-node1": "for system:node:ocp-node1, not a host this run adds",
        "csr-node8": "for system:node:ocp-node8, not a host this run adds",
    }
    assert lines == [
        "  ocp-node7: installing: installing-in-progress · Writing image to disk · 45%",
        "  ocp-node7: waiting for its certificate request (CSR)",
        "  ocp-node7: approved client CSR csr-node7",
        "  ocp-node7: client certificate approved; waiting for its Node",
        "  ocp-node7: approved serving CSR csr-serving",
        "  ocp-node7: joined (Node registered, not Ready yet)",
        "  ocp-node7: Ready",
    ]


def test_csrs_are_handled_when_the_assisted_service_never_answered(monkeypatch: pytest.MonkeyPatch) -> None:
    cluster = FakeCluster()

    def everything() -> None:
        cluster.csrs.append(client_csr("c", "ocp-node7", SOON))

    def node() -> None:
        cluster.nodes.append(_node("ocp-node7", "192.168.1.16", True))
        cluster.csrs.append(serving_csr("s", "ocp-node7", ["ocp-node7"], ["192.168.1.16"], SOON))

    result, lines = _watch(cluster, {3: everything, 4: node}, monkeypatch)
    assert cluster.approved == ["c", "s"] and not result.timed_out
    assert lines[0] == "  ocp-node7: booting"


def test_the_serving_csr_may_come_after_ready(monkeypatch: pytest.MonkeyPatch) -> None:
    cluster = FakeCluster()
    cluster.csrs.append(client_csr("c", "ocp-node7", SOON))

    def ready_without_serving() -> None:
        cluster.nodes.append(_node("ocp-node7", "192.168.1.16", True))

    def serving() -> None:
        cluster.csrs.append(serving_csr("s", "ocp-node7", ["ocp-node7"], ["192.168.1.16"], SOON))

    result, lines = _watch(cluster, {2: ready_without_serving, 4: serving}, monkeypatch)
    assert cluster.approved == ["c", "s"] and not result.timed_out
    assert "every host is Ready; waiting up to 20 s for their serving CSRs" in lines


def test_a_serving_csr_that_never_comes_ends_the_wait_after_the_grace(monkeypatch: pytest.MonkeyPatch) -> None:
    cluster = FakeCluster()
    cluster.csrs.append(client_csr("c", "ocp-node7", SOON))
    cluster.nodes.append(_node("ocp-node7", "192.168.1.16", True))
    result, _ = _watch(cluster, {}, monkeypatch, grace=12)
    assert not result.timed_out
    assert result.without_serving == ["ocp-node7"]
    assert result.seconds == pytest.approx(15)


def test_a_host_that_never_asks_times_out(monkeypatch: pytest.MonkeyPatch) -> None:
    cluster = FakeCluster()
    result, _ = _watch(cluster, {}, monkeypatch, _installing, timeout=30)
    assert result.timed_out
    assert result.hosts[0].state == "waiting for its certificate request (CSR)"
    assert cluster.approved == []


def test_a_csr_that_changed_before_its_approval_is_judged_again(monkeypatch: pytest.MonkeyPatch) -> None:
    cluster = FakeCluster()
    cluster.csrs.append(client_csr("c", "ocp-node7", SOON))
    cluster.refuse_next = 409

    def node() -> None:
        cluster.nodes.append(_node("ocp-node7", "192.168.1.16", True))
        cluster.csrs.append(serving_csr("s", "ocp-node7", ["ocp-node7"], ["192.168.1.16"], SOON))

    result, _ = _watch(cluster, {3: node}, monkeypatch)
    assert cluster.approved == ["c", "s"] and not result.timed_out


def test_an_api_that_does_not_answer_for_a_while_is_waited_for(monkeypatch: pytest.MonkeyPatch) -> None:
    cluster = FakeCluster()
    cluster.down = True

    def up() -> None:
        cluster.down = False
        cluster.csrs.append(client_csr("c", "ocp-node7", SOON))
        cluster.nodes.append(_node("ocp-node7", "192.168.1.16", True))
        cluster.csrs.append(serving_csr("s", "ocp-node7", ["ocp-node7"], ["192.168.1.16"], SOON))

    result, lines = _watch(cluster, {4: up}, monkeypatch)
    assert not result.timed_out
    assert [line for line in lines if "did not answer" in line] == [
        "the cluster's API did not answer (cluster ocp is unreachable while listing); asking again"
    ]


def test_a_refused_kubeconfig_ends_the_watch(monkeypatch: pytest.MonkeyPatch) -> None:
    cluster = FakeCluster()
    cluster.csrs.append(client_csr("c", "ocp-node7", SOON))
    cluster.refuse_next = 403
    with pytest.raises(KubeError):
        _watch(cluster, {}, monkeypatch)
