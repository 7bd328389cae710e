"""The install watcher's lines: one per change, a heartbeat at most once a minute, the rendezvous host's
failures named by kind with what to check; against the fake assisted-service and API emulator, on a fake
clock (a 5-minute stage takes a second)."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from proxshift.clients.install_watch.watcher import InstallFailed, InstallWatcher, WatchSettings, deadline_text
from proxshift.lab.assisted import AssistedService
from proxshift.lab.cluster_sim import ClusterSimulation
from proxshift.lab.kubeapi import KubeApiServer
from proxshift.lab.openbao import free_port
from proxshift.lab.serving import make_certificates

HOSTS = [{"hostname": f"master-{i}", "role": "master"} for i in range(3)]
WALL_START = 1_760_000_000.0  # the fake wall clock's start (Unix seconds)
HEARTBEAT = re.compile(r"^(bootstrap|cluster): \d+m elapsed, waiting up to ")


class Timeline:
    """A fake clock whose pauses count polls and run what the test planned for a poll."""

    def __init__(self) -> None:
        self.now = 0.0
        self.polls = 0
        self.at_poll: dict[int, Callable[[], None]] = {}

    def __call__(self) -> float:
        return self.now

    def wall(self) -> float:
        return WALL_START + self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        self.polls += 1
        if self.polls in self.at_poll:
            self.at_poll.pop(self.polls)()


@pytest.fixture
def stand_ins(tmp_path: Path) -> Iterator[tuple[KubeApiServer, AssistedService, ClusterSimulation, Timeline]]:
    timeline = Timeline()
    kube = KubeApiServer(make_certificates(tmp_path / "pki"), secrets.token_hex(8)).start()
    kube.available = False
    agent = AssistedService("ocp3", HOSTS, clock=timeline.wall).start()
    (tmp_path / "kubeconfig").write_text(kube.kubeconfig("ocp3"))
    try:
        yield kube, agent, ClusterSimulation("ocp3", "example.com", "4.19.1", HOSTS, kube, agent), timeline
    finally:
        agent.stop()
        kube.stop()


def _settings(tmp_path: Path, agent_url: str, **overrides: float) -> WatchSettings:
    return WatchSettings(agent_url, tmp_path / "kubeconfig", len(HOSTS), "ocp3", poll=5, **overrides)  # type: ignore[arg-type]


def _installed(sim: ClusterSimulation) -> Callable[[], None]:
    def finish() -> None:
        sim.api_up()
        sim.bootstrap_complete()
        sim.complete()

    return finish


def test_a_60_poll_stage_prints_a_line_per_host_and_a_heartbeat_a_minute(
    tmp_path: Path, stand_ins: tuple[KubeApiServer, AssistedService, ClusterSimulation, Timeline]
) -> None:
    _, agent, sim, timeline = stand_ins
    sim.installing(42, "Writing image to disk")
    timeline.at_poll[60] = _installed(sim)  # 60 polls, 5 s apart: five minutes in one stage
    lines: list[str] = []
    InstallWatcher(_settings(tmp_path, agent.url), lines.append, timeline, timeline.sleep, wall=timeline.wall).run()
    assert timeline.polls == 60
    host_lines = [line for line in lines if line.startswith("  master-")]
    assert host_lines == [
        f"  master-{i} (master{', bootstrap' if i == 0 else ''}): installing-in-progress · Writing image to disk · 42%"
        for i in range(3)
    ]
    heartbeats = [line for line in lines if HEARTBEAT.match(line)]
    assert 4 <= len(heartbeats) <= 5  # a quiet five minutes: once a minute, never more
    assert heartbeats[0] == f"bootstrap: 1m elapsed, {deadline_text(120 * 60, WALL_START)}"
    assert lines[0] == deadline_text(120 * 60, WALL_START)  # "waiting up to 120m, until HH:MM"
    assert len(lines) <= 16, "\n".join(lines)


def test_a_changing_stage_prints_only_the_changes(
    tmp_path: Path, stand_ins: tuple[KubeApiServer, AssistedService, ClusterSimulation, Timeline]
) -> None:
    _, agent, sim, timeline = stand_ins
    sim.installing(20, "Installing")
    timeline.at_poll[10] = lambda: sim.installing(42, "Writing image to disk")
    timeline.at_poll[12] = lambda: agent.set_host(1, "installing-in-progress", "Writing image to disk", 57)
    timeline.at_poll[20] = _installed(sim)
    lines: list[str] = []
    InstallWatcher(_settings(tmp_path, agent.url), lines.append, timeline, timeline.sleep, wall=timeline.wall).run()
    master1 = [line for line in lines if line.startswith("  master-1 ")]
    assert master1 == [
        "  master-1 (master): installing-in-progress · Installing · 20%",
        "  master-1 (master): installing-in-progress · Writing image to disk · 42%",
        "  master-1 (master): installing-in-progress · Writing image to disk · 57%",
    ]


def test_a_dropped_answer_mid_install_is_not_taken_for_the_host_going_away(
    tmp_path: Path, stand_ins: tuple[KubeApiServer, AssistedService, ClusterSimulation, Timeline]
) -> None:
    _, agent, sim, timeline = stand_ins
    sim.installing(42)
    timeline.at_poll[3] = lambda: setattr(agent, "drop_next", 1)
    timeline.at_poll[6] = _installed(sim)
    lines: list[str] = []
    InstallWatcher(_settings(tmp_path, agent.url), lines.append, timeline, timeline.sleep, wall=timeline.wall).run()
    assert agent.drop_next == 0  # it was dropped, and asked again at once
    assert not any("gone" in line or "waiting for the rendezvous host" in line for line in lines), lines


def test_a_rendezvous_host_that_never_answers_is_named_with_what_to_check(
    tmp_path: Path, stand_ins: tuple[KubeApiServer, AssistedService, ClusterSimulation, Timeline]
) -> None:
    _, _, _, timeline = stand_ins
    port = free_port()  # nothing listens there: connection refused, as from a VM that did not boot the ISO
    lines: list[str] = []
    settings = _settings(tmp_path, f"http://127.0.0.1:{port}/api/assisted-install/v2", timeout=15 * 60)
    with pytest.raises(InstallFailed) as caught:
        InstallWatcher(settings, lines.append, timeline, timeline.sleep, wall=timeline.wall).run()
    assert caught.value.exit_code == 5
    assert caught.value.message == (
        f"bootstrap did not complete within 15m: the rendezvous host 127.0.0.1:{port} never answered "
        "(last: connection refused)"
    )
    hint = caught.value.hint or ""
    for check in ("VM console", "boot order", "bridge and VLAN", "NO_PROXY covers 127.0.0.1", "proxshift wait ocp3"):
        assert check in hint
    assert caught.value.__cause__ is not None  # --debug shows requests' own exception
    assert f"bootstrap: waiting for the rendezvous host 127.0.0.1:{port} to come up" in lines
    assert f"bootstrap: the rendezvous host 127.0.0.1:{port} has not answered for 10m (connection refused)" in lines
    assert any(line.startswith("  check the rendezvous host's VM console") for line in lines)
    heartbeats = [line for line in lines if HEARTBEAT.match(line)]
    assert heartbeats[-1].endswith("; the rendezvous host has not answered for 15m (connection refused)")
    assert len(lines) <= 20, "\n".join(lines)


def test_a_wait_started_mid_install_shows_the_latest_events_only(
    tmp_path: Path, stand_ins: tuple[KubeApiServer, AssistedService, ClusterSimulation, Timeline]
) -> None:
    _, agent, sim, timeline = stand_ins
    sim.installing(42)  # its event is the first
    for number in range(1, 250):
        agent.event(f"event {number}")
    timeline.at_poll[2] = lambda: agent.event("event 250")
    timeline.at_poll[4] = _installed(sim)
    lines: list[str] = []
    InstallWatcher(_settings(tmp_path, agent.url), lines.append, timeline, timeline.sleep, wall=timeline.wall).run()
    events = [line for line in lines if line.startswith("  event:") or "earlier events" in line]
    assert events == ["  (240 earlier events not shown)"] + [f"  event: event {n}" for n in range(240, 251)]
