"""Stand-ins for an install: the new cluster's API emulator, the rendezvous host's REST API, openshift-install."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from proxshift.lab.assisted import AssistedService
from proxshift.lab.cluster_sim import ClusterSimulation
from proxshift.lab.fake_installer import cluster_state, install_fake
from proxshift.lab.kubeapi import KubeApiServer
from proxshift.lab.serving import make_certificates

SNO_HOSTS = [{"hostname": "master-sno1", "role": "master"}]


@dataclass
class InstallLab:
    kube: KubeApiServer
    agent: AssistedService
    sim: ClusterSimulation
    password: str
    token: str
    bin_dir: Path

    def wait_for(self, condition: Callable[[], bool], timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError("the watcher never got there")
            time.sleep(0.01)

    def agent_polls(self) -> int:
        return sum(1 for _, path, _ in self.agent.requests if "/clusters/" in path)

    def kube_polls(self, fragment: str) -> int:
        return sum(1 for _, path in self.kube.requests if fragment in path)


@pytest.fixture
def install_lab(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> Iterator[InstallLab]:
    """A single-node `ocp-sno1` install: API down, assisted-service up, fake openshift-install on PATH."""
    token = "watcher-" + secrets.token_hex(8)
    password = "kubeadmin-" + secrets.token_hex(8)
    kube = KubeApiServer(make_certificates(tmp_path / "pki"), secrets.token_hex(16)).start()
    kube.available = False
    agent = AssistedService("ocp-sno1", SNO_HOSTS, token).start()
    sim = ClusterSimulation("ocp-sno1", "homelab.local", "4.19.1", SNO_HOSTS, kube, agent)
    state = tmp_path / "installer-state"
    cluster_state(state, "ocp-sno1", kube.kubeconfig("ocp-sno1"), password, token)
    bin_dir = tmp_path / "bin"
    install_fake(bin_dir, "4.19.1", state)
    monkeypatch.setenv("PATH", f"{bin_dir}:{__import__('os').environ['PATH']}")
    try:
        yield InstallLab(kube, agent, sim, password, token, bin_dir)
    finally:
        agent.stop()
        kube.stop()


def play_sno_install(lab: InstallLab) -> threading.Thread:
    """Drive the install one state at a time, each step only after the watcher has seen the last one."""

    def drive() -> None:
        polls = lab.agent_polls
        lab.wait_for(lambda: polls() >= 1)
        lab.sim.hosts_discovered()
        lab.sim.failing_validation(0, "Host couldn't synchronize with any NTP server")
        seen = polls()
        lab.wait_for(lambda: polls() > seen + 1)
        lab.sim.installing(45, "Writing image to disk")
        seen = polls()
        lab.wait_for(lambda: polls() > seen + 1)
        lab.sim.installing(70, "Rebooting")
        seen = polls()
        lab.wait_for(lambda: polls() > seen + 1)
        lab.sim.rendezvous_rebooted()
        lab.sim.api_up()
        seen = lab.kube_polls("configmaps/bootstrap")
        lab.wait_for(lambda: lab.kube_polls("configmaps/bootstrap") > seen + 1)
        lab.sim.bootstrap_complete()
        for done, failing in ((0, None), (512, "Cluster operator console is not available"), (801, None)):
            lab.sim.cluster_progress(done, failing)
            lab.sim.operators(3 if done < 800 else 7)
            lab.sim.nodes_ready(0 if done == 0 else 1)
            seen = lab.kube_polls("clusterversions/version")
            lab.wait_for(lambda s=seen: lab.kube_polls("clusterversions/version") > s + 1)
        lab.sim.complete()

    thread = threading.Thread(target=drive, daemon=True)
    thread.start()
    return thread
