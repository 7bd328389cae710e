"""How many lines `proxshift wait` prints (piped) while a 6-host cluster bootstraps for 30 minutes.

Usage: python benchmarks/wait_lines.py [--hosts 6] [--minutes 30] [--poll 5] [--show]
The install watcher runs against the lab's fake assisted-service and the cluster API emulator (real
HTTP on loopback) on a fake clock: each of its pauses moves the clock on and plays the timeline's
changes up to then, so half an hour of polling every 5 s takes a few seconds. The timeline is a
plausible agent-based install: hosts discovered, then each through its real stages (masters,
workers, the bootstrap host last), the cluster's percentage moving every minute, an event per host
stage; the rendezvous host goes away at 25 min, the API comes up, bootstrap completes at the end.
Counted: every line the watcher reports until "bootstrap complete" (what a pipe or CI log gets).
Target (issue 11): a line per host per change, a heartbeat at most once a minute; before: ~2,000.
"""

from __future__ import annotations

import argparse
import secrets
import tempfile
import time
import types
from collections.abc import Callable
from pathlib import Path

from proxshift.clients.install_watch import watcher as install_watch
from proxshift.clients.install_watch.watcher import InstallWatcher, WatchSettings
from proxshift.lab.assisted import AssistedService
from proxshift.lab.cluster_sim import ClusterSimulation
from proxshift.lab.kubeapi import KubeApiServer
from proxshift.lab.serving import make_certificates

MASTER_STAGES = ("Starting installation", "Installing", "Writing image to disk", "Rebooting", "Configuring", "Joined")
WORKER_STAGES = (
    "Starting installation",
    "Installing",
    "Writing image to disk",
    "Rebooting",
    "Waiting for ignition",
    "Configuring",
    "Joined",
)
BOOTSTRAP_STAGES = ("Starting installation", "Installing", "Writing image to disk", "Waiting for control plane")


class Timeline:
    """A fake clock (monotonic seconds from 0, wall = start + that) that plays changes as it passes them."""

    def __init__(self) -> None:
        self.now = 0.0
        self.wall_start = time.time()
        self.changes: list[tuple[float, Callable[[], None]]] = []

    def at(self, minutes: float, change: Callable[[], None]) -> None:
        self.changes.append((minutes * 60, change))
        self.changes.sort(key=lambda item: item[0])

    def monotonic(self) -> float:
        return self.now

    def wall(self) -> float:
        return self.wall_start + self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        while self.changes and self.changes[0][0] <= self.now:
            self.changes.pop(0)[1]()


def plan(
    timeline: Timeline, sim: ClusterSimulation, agent: AssistedService, hosts: list[dict[str, str]], end: float
) -> None:
    """The install's changes on the timeline (minutes); everything scales with `end`."""
    scale = end / 30

    def at(minutes: float, change: Callable[[], None]) -> None:
        timeline.at(minutes * scale, change)

    at(1, sim.hosts_discovered)
    at(1.5, lambda: agent.set_cluster("preparing-for-installation", "Preparing cluster for installation", 0))
    at(2, lambda: agent.set_cluster("installing", "Installation in progress", 1))
    for minute in range(3, 25):
        at(minute, lambda m=minute: agent.set_cluster("installing", "Installation in progress", 4 * (m - 2)))
    for index, host in enumerate(hosts):
        if index == 0:
            stages, start, step = BOOTSTRAP_STAGES, 2.0, 2.5
        elif host["role"] == "master":
            stages, start, step = MASTER_STAGES, 2.0 + index * 0.2, 3.5
        else:
            stages, start, step = WORKER_STAGES, 2.5 + index * 0.2, 3.0
        for number, stage in enumerate(stages):
            percentage = 100 * (number + 1) // (len(stages) + 1)

            def change(i: int = index, s: str = stage, p: int = percentage, name: str = host["hostname"]) -> None:
                agent.set_host(i, "installing-in-progress", s, p)
                agent.event(f"Host {name}: reached installation stage {s}")

            at(start + number * step, change)
    at(24, lambda: agent.set_host(0, "installing-in-progress", "Rebooting", 80))
    at(25, sim.rendezvous_rebooted)
    at(25, sim.api_up)

    def finish() -> None:
        sim.bootstrap_complete()
        sim.complete()

    at(30, finish)


def count_lines(hosts_count: int, minutes: float, poll: float, show: bool) -> int:
    hosts = [
        {"hostname": f"{'master' if i < 3 else 'worker'}-{i}", "role": "master" if i < 3 else "worker"}
        for i in range(hosts_count)
    ]
    timeline = Timeline()
    with tempfile.TemporaryDirectory() as work_dir:
        work = Path(work_dir)
        kube = KubeApiServer(make_certificates(work / "pki"), secrets.token_hex(8)).start()
        kube.available = False
        agent = AssistedService("bench", hosts, clock=timeline.wall).start()
        try:
            sim = ClusterSimulation("bench", "example.com", "4.19.1", hosts, kube, agent)
            plan(timeline, sim, agent, hosts, minutes)
            kubeconfig = work / "kubeconfig"
            kubeconfig.write_text(kube.kubeconfig("bench"))
            settings = WatchSettings(agent.url, kubeconfig, hosts_count, "bench", poll=poll)
            lines: list[str] = []

            def report(line: str) -> None:
                lines.append(line)
                if show:
                    print(f"{timeline.now / 60:6.2f}m {line}")

            # The watcher of before this benchmark read the wall clock through its module's `time`.
            shim = types.SimpleNamespace(**{k: getattr(time, k) for k in dir(time) if not k.startswith("__")})
            shim.time = timeline.wall
            install_watch.time = shim  # type: ignore[assignment]
            watcher = InstallWatcher(settings, report, timeline.monotonic, timeline.sleep)
            if hasattr(watcher, "wall"):
                watcher.wall = timeline.wall
            watcher.run()
            return next(i for i, line in enumerate(lines) if line.startswith("bootstrap complete")) + 1
        finally:
            install_watch.time = time
            agent.stop()
            kube.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=6)
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--poll", type=float, default=5)
    parser.add_argument("--show", action="store_true", help="print each line with its minute")
    args = parser.parse_args()
    count = count_lines(args.hosts, args.minutes, args.poll, args.show)
    polls = int(args.minutes * 60 / args.poll)
    print(f"{args.hosts} hosts, {args.minutes:g} min of bootstrap, a poll every {args.poll:g} s ({polls} polls)")
    print(f"lines printed until 'bootstrap complete': {count}")


if __name__ == "__main__":
    main()
