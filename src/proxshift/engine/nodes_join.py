"""`nodes add`, the join: each new host followed from boot to Ready, its two CSRs approved, no other.

Watched by proxshift itself, never by reading `oc adm node-image monitor`: while a host's own
assisted-service answers (`add_nodes_agent_url`, with the agent-auth-token), its install stage;
then, from the cluster's API, the pending CSRs (judged by engine/csr_rules.py, approved through the
approval subresource), the host's Node, and its Ready condition. CSRs are handled whether or not the
assisted-service was ever reached. The serving CSR may come after Ready: once every host is Ready,
the watch goes on up to `serving_grace` seconds for it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from proxshift.clients.kube import KubeError, KubeUnreachable, condition_is
from proxshift.clients.transport import Poller
from proxshift.engine.csr_rules import Joining, Verdict, decide, is_pending, read_request
from proxshift.errors import OperationError

if TYPE_CHECKING:
    from proxshift.clients.kube import Kube

Report = Callable[[str], None]
APPROVED_REASON = "ProxshiftNodesAdd"
SERVING_GRACE = 300.0


@dataclass
class HostWatch:
    """One host of the run: where it is, and what was said about it."""

    joining: Joining
    agent_url: str
    state: str = ""  # the first poll says where it is
    agent_seen: bool = False
    agent_done: bool = False  # gone, refused, or no longer of interest (its CSR came)
    ready: bool = False
    approved: dict[str, str] = field(default_factory=dict)  # kind -> CSR name


@dataclass
class JoinResult:
    hosts: list[HostWatch]
    left_pending: list[Verdict]  # pending at the end, never approved, and why
    timed_out: bool
    seconds: float

    @property
    def ready(self) -> list[str]:
        return [h.joining.name for h in self.hosts if h.ready]

    @property
    def approved(self) -> list[tuple[str, str, str]]:
        """(CSR, host, kind) in the order of the hosts."""
        return [(csr, h.joining.name, kind) for h in self.hosts for kind, csr in h.approved.items()]

    @property
    def without_serving(self) -> list[str]:
        return [h.joining.name for h in self.hosts if h.ready and "serving" not in h.approved]


class JoinWatcher:
    def __init__(
        self,
        kube: Kube,
        hosts: list[HostWatch],
        token: str | None,
        report: Report,
        *,
        timeout: float,
        poll: float = 5.0,
        serving_grace: float = SERVING_GRACE,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.kube, self.hosts, self.token, self.report = kube, hosts, token, report
        self.timeout, self.poll, self.serving_grace = timeout, poll, serving_grace
        self.clock, self.sleep = clock, sleep
        self.pending: dict[str, Verdict] = {}
        self._all_ready_at: float | None = None
        self._api_quiet = False

    @property
    def by_name(self) -> dict[str, Joining]:
        return {h.joining.name: h.joining for h in self.hosts}

    def run(self) -> JoinResult:
        start = self.clock()
        poller = Poller(self.timeout, cap=self.poll, first=None, clock=self.clock, sleep=self.sleep)
        done = poller.until(self.step)
        left = [v for v in self.pending.values() if not v.approve]
        # Every host Ready is the goal; a serving CSR still missing then is a warning, not a failure.
        timed_out = not done and not all(h.ready for h in self.hosts)
        return JoinResult(self.hosts, left, timed_out, seconds=self.clock() - start)

    # -- one poll ----------------------------------------------------------------------------------------

    def step(self) -> bool:
        try:
            nodes = self._nodes()
            self._csrs({name: ips for name, (ips, _) in nodes.items()})
        except (KubeUnreachable, KubeError) as exc:
            if isinstance(exc, KubeError) and exc.status in (401, 403):
                raise
            if not self._api_quiet:
                self.report(f"the cluster's API did not answer ({exc.message}); asking again")
                self._api_quiet = True
            return False
        self._api_quiet = False
        for host in self.hosts:
            self._host(host, nodes.get(host.joining.name))
        return self._finished()

    def _nodes(self) -> dict[str, tuple[set[str], bool]]:
        found = {}
        for node in self.kube.list("v1", "Node"):
            addresses = (node.get("status") or {}).get("addresses") or []
            ips = {str(a.get("address")) for a in addresses if a.get("type") == "InternalIP"}
            found[str(node["metadata"]["name"])] = (ips, condition_is(node, "Ready"))
        return found

    def _csrs(self, nodes: dict[str, set[str]]) -> None:
        objects = {
            str(o["metadata"]["name"]): o
            for o in self.kube.list("certificates.k8s.io/v1", "CertificateSigningRequest")
            if is_pending(o)
        }
        by_name = {h.joining.name: h for h in self.hosts}
        approved = {(h.joining.name, kind) for h in self.hosts for kind in h.approved}
        self.pending = {}
        for verdict in decide([read_request(o) for o in objects.values()], self.by_name, nodes, approved):
            if verdict.approve and verdict.host is not None and self._approve(objects[verdict.csr], verdict):
                by_name[verdict.host].approved[verdict.kind] = verdict.csr
                continue
            self.pending[verdict.csr] = verdict
            host = verdict.host or _host_of(objects[verdict.csr])
            if host in by_name and verdict.kind == "client":
                by_name[host].agent_done = True  # past the install: its kubelet is asking

    def _approve(self, csr: dict[str, Any], verdict: Verdict) -> bool:
        try:
            self.kube.approve_csr(csr, APPROVED_REASON, f"proxshift nodes add: {verdict.reason}")
        except KubeError as exc:
            if exc.status in (401, 403):
                raise
            return False  # changed meanwhile (409) or gone: judged again at the next poll
        self.report(f"  {verdict.host}: approved {verdict.kind} CSR {verdict.csr}")
        return True

    def _host(self, host: HostWatch, node: tuple[set[str], bool] | None) -> None:
        name = host.joining.name
        if node is not None:
            host.agent_done = True
            host.ready = node[1]
            state = "Ready" if host.ready else "joined (Node registered, not Ready yet)"
        elif "client" in host.approved:
            state = "client certificate approved; waiting for its Node"
        else:
            state = self._agent_state(host)
        if state != host.state:
            host.state = state
            self.report(f"  {name}: {state}")

    def _agent_state(self, host: HostWatch) -> str:
        from proxshift.clients.install_watch.agent import AgentApi, AgentUnreachable

        if not host.agent_done:
            try:
                cluster = AgentApi(host.agent_url, self.token).cluster()
            except AgentUnreachable:  # still booting, or already rebooted into the installed system
                cluster = None
            except OperationError as exc:  # the token was refused: the API says nothing more to us
                self.report(f"  {host.joining.name}: {exc.message}; following it through the cluster's API")
                cluster, host.agent_done = None, True
            if cluster is not None:
                host.agent_seen = True
                return "installing: " + _stage(cluster, host.joining.name)
            host.agent_done = host.agent_seen
        if host.agent_seen or host.agent_done:
            return "waiting for its certificate request (CSR)"
        return "booting"

    def _finished(self) -> bool:
        if not all(h.ready for h in self.hosts):
            self._all_ready_at = None
            return False
        if all("serving" in h.approved for h in self.hosts):
            return True
        now = self.clock()
        if self._all_ready_at is None:
            self._all_ready_at = now
            self.report(f"every host is Ready; waiting up to {self.serving_grace:.0f} s for their serving CSRs")
        return now - self._all_ready_at >= self.serving_grace


def _stage(cluster: dict[str, Any], name: str) -> str:
    """The host's status, stage and percentage from the assisted-service's cluster (one host in add-nodes)."""
    hosts = cluster.get("hosts") or []
    host = next((h for h in hosts if h.get("requested_hostname") == name), hosts[0] if len(hosts) == 1 else None)
    if host is None:
        return str(cluster.get("status", "starting"))
    progress = host.get("progress") or {}
    parts = [str(host.get("status", "")), progress.get("current_stage") or ""]
    percentage = progress.get("installation_percentage")
    return " · ".join(p for p in parts if p) + (f" · {percentage}%" if percentage else "")


def _host_of(csr: dict[str, Any]) -> str:
    """The host a client CSR names (for progress only: the rules decide)."""
    return (read_request(csr).common_name or "").removeprefix("system:node:")
