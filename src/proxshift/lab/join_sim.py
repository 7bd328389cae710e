"""Hosts joining a running cluster in the lab: what a VM booted from an add-nodes ISO does.

A running VM whose CD holds a stand-in add-nodes ISO (lab/fake_oc.py writes it; the lab's fakepve
keeps its first bytes) and whose NIC's MAC is one of that ISO's hosts plays, over `seconds`:

  its assisted-service answers (one lab server for all such hosts, /<host>/api/assisted-install/v2/,
  with the ISO's token as Watcher-Authorization): installing, writing the image, rebooting; then it
  goes away and the kubelet asks for its client certificate (a real PEM request, EC P-256, by the
  node-bootstrapper service account), again every `reissue_seconds` while none is approved; once one
  is approved (its certificate is signed), the Node registers NotReady, asks for its serving
  certificate, and turns Ready a little later, whether that one is approved or not.

`hosts[<name>]` holds each joining host's state, so tests can watch or drive them.
"""

from __future__ import annotations

import base64
import datetime
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from proxshift.lab.csrs import client_csr, serving_csr
from proxshift.lab.fake_oc import read_iso
from proxshift.lab.kubeapi import ApiError, Store
from proxshift.lab.serving import BackgroundServer

PREFIX = "/api/assisted-install/v2"
CSR = ("certificates.k8s.io/v1", "CertificateSigningRequest")
STAGES = (  # (share of the join's time, assisted-service host status, stage, percentage)
    (0.0, "known", "", 0),
    (0.15, "installing-in-progress", "Starting installation", 10),
    (0.3, "installing-in-progress", "Writing image to disk", 45),
    (0.45, "installing-in-progress", "Rebooting", 70),
)


class AddNodesAgents:
    """The assisted-service of every host booted from an add-nodes ISO, each under /<hostname>/."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.hosts: dict[str, dict[str, Any]] = {}  # hostname -> {"token", "cluster": {...}}
        self.requests: list[tuple[str, str | None]] = []
        self.server = BackgroundServer(self._app())

    @property
    def url_template(self) -> str:
        """The site config's add_nodes_agent_url for the lab."""
        return f"{self.server.url}/{{host}}{PREFIX}"

    def start(self) -> AddNodesAgents:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    def show(self, hostname: str, token: str, status: str, stage: str, percentage: int) -> None:
        with self.lock:
            entry = self.hosts.setdefault(hostname, {"token": token, "id": str(uuid.uuid4())})
            host = {
                "id": entry["id"],
                "requested_hostname": hostname,
                "role": "worker",
                "status": status,
                "status_info": stage or status,
                "progress": {"current_stage": stage, "installation_percentage": percentage},
            }
            entry["cluster"] = {"id": entry["id"], "kind": "AddHostsCluster", "status": "adding-hosts", "hosts": [host]}

    def gone(self, hostname: str) -> None:
        with self.lock:
            self.hosts.pop(hostname, None)

    def _app(self) -> Any:
        from aiohttp import web

        async def handle(request: Any) -> Any:
            host, rest = request.match_info["host"], "/" + request.match_info["rest"]
            token = request.headers.get("Watcher-Authorization")
            self.requests.append((request.path, token))
            with self.lock:
                entry = self.hosts.get(host)
            if entry is None:  # not booted yet, or rebooted into the installed system
                request.transport.close()
                raise ConnectionResetError("assisted-service: not there")
            if token != entry["token"]:
                return web.json_response({"code": "401", "reason": "Unauthorized"}, status=401)
            cluster = entry["cluster"]
            if rest == "/clusters":
                return web.json_response([{k: v for k, v in cluster.items() if k != "hosts"}])
            if rest == f"/clusters/{cluster['id']}":
                return web.json_response(cluster)
            if rest.startswith("/events"):
                return web.json_response([])
            return web.json_response({"code": "404", "reason": "not found"}, status=404)

        app = web.Application()
        app.router.add_get("/{host}" + PREFIX + "/{rest:.*}", handle)
        return app


@dataclass
class HostJoin:
    """One host's join, as it stands."""

    cluster: str
    hostname: str
    ip: str | None
    vmid: int
    token: str
    began: float
    client_csrs: list[str] = field(default_factory=list)
    client_asked: float | None = None
    node_at: float | None = None
    serving_csr: str | None = None
    ready: bool = False
    signed: set[str] = field(default_factory=set)

    @property
    def stage(self) -> str:
        if self.ready:
            return "Ready"
        if self.node_at is not None:
            return "joined"
        return "waiting for approval" if self.client_csrs else "installing"


@dataclass
class Target:
    """What the join needs of a cluster: its API's current store, and its simulation (for Nodes)."""

    store: Callable[[], Store]
    join_node: Callable[[str, str | None, bool], None]


class JoinSimulation:
    def __init__(
        self,
        targets: Callable[[str], Target | None],
        iso_heads: Callable[[], dict[tuple[str, str], bytes]],
        agents: AddNodesAgents,
        seconds: float = 6.0,
        reissue_seconds: float = 60.0,
    ) -> None:
        """`targets(api_url)`: the lab cluster whose API that is; `iso_heads()`: the lab fakepve's."""
        self.targets, self.iso_heads, self.agents = targets, iso_heads, agents
        self.seconds, self.reissue_seconds = seconds, reissue_seconds
        self.hosts: dict[str, HostJoin] = {}
        self._signer: Any = None

    # -- which VMs join --------------------------------------------------------------------------------

    def check(self, vms: list[Any]) -> None:
        """Called with fakepve's VMs every few tenths of a second by the lab's watcher."""
        existing = {vm.vmid for vm in vms}
        for name, join in list(self.hosts.items()):
            if join.vmid not in existing:  # destroyed: it is not coming
                self.agents.gone(name)
                del self.hosts[name]
        for vm in vms:
            if vm.status == "running" and vm.vmid not in {j.vmid for j in self.hosts.values()}:
                self._begin(vm)
        for join in list(self.hosts.values()):
            target = self._target(join)
            if target is not None:
                self.advance(join, target)

    def _begin(self, vm: Any) -> None:
        volume = str(vm.config.get("ide2", "")).split(",", 1)[0]
        storage, _, path = volume.partition(":")
        record = read_iso(self.iso_heads().get((storage, path.removeprefix("iso/")), b""))
        if record is None:
            return
        macs = {str(v).split(",", 1)[0].partition("=")[2].lower() for k, v in vm.config.items() if k.startswith("net")}
        host = next((h for h in record.get("hosts") or [] if macs & set(h.get("macs") or [])), None)
        if host is None or not host.get("hostname"):
            return  # a host the ISO does not describe boots, and stays in discovery
        self.hosts[host["hostname"]] = HostJoin(
            record["cluster"], host["hostname"], host.get("ip"), vm.vmid, record["token"], time.monotonic()
        )

    def _target(self, join: HostJoin) -> Target | None:
        return self.targets(join.cluster)

    # -- one host's timeline ---------------------------------------------------------------------------

    def advance(self, join: HostJoin, target: Target) -> None:
        """Move the join on as far as time and approvals allow."""
        elapsed = time.monotonic() - join.began
        store = target.store()
        if not join.client_csrs:
            if elapsed < self.seconds * 0.5:
                _, status, stage, percentage = [s for s in STAGES if s[0] * self.seconds <= elapsed][-1]
                self.agents.show(join.hostname, join.token, status, stage, percentage)
                return
            self.agents.gone(join.hostname)  # rebooted into the installed system; the kubelet starts
            if elapsed < self.seconds * 0.65:
                return
            self._ask_client(join, store)
        if join.node_at is None:
            approved = next((n for n in join.client_csrs if _approved(store, n)), None)
            if approved is None:
                if time.monotonic() - (join.client_asked or 0) > self.reissue_seconds:
                    self._ask_client(join, store)  # the kubelet gives up on it and asks again
                return
            self._sign(store, approved, join)
            join.node_at = time.monotonic()
            target.join_node(join.hostname, join.ip, False)
        since = time.monotonic() - join.node_at
        if join.serving_csr is None and since >= self.seconds * 0.1:
            join.serving_csr = self._create(
                store, serving_csr("", join.hostname, [join.hostname], [join.ip] if join.ip else [])
            )
        if join.serving_csr and _approved(store, join.serving_csr):
            self._sign(store, join.serving_csr, join)
        if not join.ready and since >= self.seconds * 0.3:
            join.ready = True
            target.join_node(join.hostname, join.ip, True)

    def _ask_client(self, join: HostJoin, store: Store) -> None:
        join.client_csrs.append(self._create(store, client_csr("", join.hostname)))
        join.client_asked = time.monotonic()

    def _create(self, store: Store, csr: dict[str, Any]) -> str:
        csr["metadata"] = {"generateName": "csr-"}
        created = store.create(store.type_of(*CSR), csr)
        return str(created["metadata"]["name"])

    def _sign(self, store: Store, name: str, join: HostJoin) -> None:
        """The signer's part once a CSR is approved: status.certificate, from the lab's kubelet CA."""
        if name in join.signed:
            return
        found = store.find(*CSR, name)
        if found is None:
            return
        certificate = self._certificate(str(found["spec"]["request"]))
        status = {**(found.get("status") or {}), "certificate": certificate}
        try:
            store.replace(store.type_of(*CSR), None, name, {"status": status}, subresource="status")
        except ApiError:
            return
        join.signed.add(name)

    def _certificate(self, request: str) -> str:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        if self._signer is None:
            self._signer = ec.generate_private_key(ec.SECP256R1())
        csr = x509.load_pem_x509_csr(base64.b64decode(request))
        now = datetime.datetime.now(datetime.UTC)
        issuer = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "lab kubelet signer")])
        builder = (
            x509.CertificateBuilder()
            .subject_name(csr.subject)
            .issuer_name(issuer)
            .public_key(csr.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=30))
        )
        for extension in csr.extensions:
            builder = builder.add_extension(extension.value, extension.critical)
        cert = builder.sign(self._signer, hashes.SHA256())
        return base64.b64encode(cert.public_bytes(serialization.Encoding.PEM)).decode()


def _approved(store: Store, name: str) -> bool:
    found = store.find(*CSR, name)
    conditions = ((found or {}).get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Approved" and c.get("status") == "True" for c in conditions)
