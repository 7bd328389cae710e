"""The local lab: every stand-in proxshift talks to, on loopback, sized from the project's inventory.

It SIMULATES Proxmox (fakepve), Vault (an OpenBao dev server: real, but in memory), the
OpenShift installer and the clusters' APIs: nothing here installs OpenShift. A cluster's install
plays out (`install_seconds`, about 20 s) once all of its VMs run in the fake Proxmox, and stops
when one of them is destroyed. `faults` plays fakepve's fault functions from the start.

Everything it writes lives in its directory (`<root>/.lab`, 0700): the env and state files, the
certificates, the installer's state, the logs and OpenBao's home (`tmp/`; a dead lab's is removed
on the next start, and a dead lab's orphaned OpenBao is stopped).
"""

from __future__ import annotations

import base64
import json
import logging
import os
import secrets
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from proxshift.config.inventory import Cluster
from proxshift.config.project import Project
from proxshift.files import write_private
from proxshift.lab.acm_sim import HubSimulation
from proxshift.lab.argocd_sim import ArgoCdSimulation
from proxshift.lab.assisted import AssistedService
from proxshift.lab.cluster_sim import ClusterSimulation
from proxshift.lab.controller import Controller
from proxshift.lab.eso_sim import EsoSimulation
from proxshift.lab.fake_installer import cluster_state, install_fake
from proxshift.lab.fake_oc import install_fake_oc
from proxshift.lab.faults import INSTALL_SECONDS, JOIN_SECONDS, OPERATOR_SECONDS, TIME_SCALE, LabFaults
from proxshift.lab.join_sim import AddNodesAgents, JoinSimulation, Target
from proxshift.lab.kubeapi import KubeApiServer, Store
from proxshift.lab.olm_sim import OlmSimulation
from proxshift.lab.openbao import OpenBaoServer, enable_kv_v2, remove_stale_homes
from proxshift.lab.serving import CertificateFiles, make_certificates, serve_fakepve, stop_fakepve


def _proxshift_bin() -> list[str]:
    """The directory of the `proxshift` that runs the lab (a venv's bin), so that the README's next commands
    work as written after `. .lab/env`; nothing when that is not where the command lives."""
    directory = Path(sys.executable).parent
    return [str(directory)] if (directory / "proxshift").is_file() else []


def _openssh_public_key() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    key = ed25519.Ed25519PrivateKey.generate().public_key()
    text = key.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()
    return f"{text} proxshift-lab"


def _pull_secret() -> str:
    auth = base64.b64encode(b"lab:not-a-real-token").decode()
    return json.dumps(
        {
            "auths": {
                r: {"auth": auth, "email": "lab@example.invalid"}
                for r in ("cloud.openshift.com", "quay.io", "registry.redhat.io")
            }
        }
    )


@dataclass
class LabCluster:
    cluster: Cluster
    kube: KubeApiServer
    agent: AssistedService
    sim: ClusterSimulation
    vmids: list[int]
    olm: OlmSimulation
    argocd: ArgoCdSimulation
    eso: EsoSimulation
    started: bool = False

    @property
    def controllers(self) -> tuple[Controller, ...]:
        return (self.olm, self.argocd, self.eso)


class LabBusy(RuntimeError):
    """Another live lab owns the directory."""


def _alive(pid: object) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _is_openbao_dev(pid: int) -> bool:
    """Whether `pid` is an OpenBao dev server (Linux /proc; elsewhere: unknown, so no)."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return len(argv) > 2 and Path(argv[0].decode(errors="replace")).name == "bao" and b"-dev" in argv


def lab_nodes(project: Project) -> set[str]:
    """The Proxmox nodes the lab's fakepve has."""
    return {"pve1"} | {node.spec.pve_node for c in project.inventory.clusters.values() for node in c.nodes}


def lab_storages(project: Project) -> set[str]:
    """The storages the lab's fakepve has."""
    names = {"local", "local-lvm"}
    for cluster in project.inventory.clusters.values():
        for node in cluster.nodes:
            names |= {disk.storage for disk in node.spec.disks.values()}
            if node.spec.iso_image:
                names.add(node.spec.iso_image.split(":")[0])
    return names


@dataclass
class Lab:
    """The stand-ins; knobs: `time_scale` (fakepve's real seconds per PVE second), `install_seconds`
    (how long a simulated install takes), `operator_seconds` (how long an operator install, an
    Argo CD instance, an Application sync or the ESO deployments take in the simulated clusters),
    `faults` (fakepve's faults, played from the start), `join_seconds` (how long a host booted from an
    add-nodes ISO takes to ask for its certificate; its Node is Ready within a third of that after)."""

    project: Project
    directory: Path
    time_scale: float = TIME_SCALE
    install_seconds: float = INSTALL_SECONDS
    faults: LabFaults = field(default_factory=LabFaults)
    operator_seconds: float = OPERATOR_SECONDS
    join_seconds: float = JOIN_SECONDS
    bao: OpenBaoServer | None = None
    pve: Any = None
    clusters: dict[str, LabCluster] = field(default_factory=dict)
    hub_sim: HubSimulation | None = None
    agents: AddNodesAgents | None = None
    joins: JoinSimulation | None = None
    _serving: Any = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _watcher: threading.Thread | None = None

    @property
    def bin_dir(self) -> Path:
        return self.directory / "bin"

    @property
    def tmp_dir(self) -> Path:
        return self.directory / "tmp"

    def start(self) -> Lab:
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.directory.chmod(0o700)
        self._clear_stale()
        pki = make_certificates(self.directory / "pki")
        try:
            self._start_vault(pki)
            self._start_proxmox(pki)
            self._start_clusters(pki)
            self._watcher = threading.Thread(target=self._watch_vms, name="lab-vm-watcher", daemon=True)
            self._watcher.start()
            self._write_files(pki)
        except BaseException:
            self.stop()  # never leave a half-started lab (an orphaned OpenBao) behind
            raise
        return self

    def _clear_stale(self) -> None:
        """Refuse a directory a live lab owns; stop a dead lab's orphaned OpenBao; remove its temp dirs."""
        try:
            old = json.loads((self.directory / "state.json").read_text())
        except (OSError, ValueError):
            old = {}
        if not isinstance(old, dict):
            old = {}
        if old.get("pid") != os.getpid() and _alive(old.get("pid")):
            raise LabBusy(f"a lab already runs in {self.directory} (PID {old['pid']})")
        bao_pid = old.get("bao_pid")
        if isinstance(bao_pid, int) and _alive(bao_pid) and _is_openbao_dev(bao_pid):
            os.kill(bao_pid, signal.SIGTERM)
            deadline = time.monotonic() + 10
            while _alive(bao_pid) and time.monotonic() < deadline:
                time.sleep(0.05)
        (self.directory / "state.json").unlink(missing_ok=True)
        self.tmp_dir.mkdir(exist_ok=True, mode=0o700)
        self.tmp_dir.chmod(0o700)
        remove_stale_homes(self.tmp_dir)

    def inject(self, faults: LabFaults) -> None:
        """Play more of fakepve's faults on the running lab (`pve.failures.clear()` etc. undo them)."""
        faults.apply(self.pve)

    # -- stand-ins ---------------------------------------------------------------------------------------

    def _start_vault(self, pki: CertificateFiles) -> None:
        import hvac

        from proxshift.clients.vault import KvPath, install_items

        self.bao = OpenBaoServer(base_dir=self.tmp_dir).start(log=self.directory / "openbao.log")
        client = hvac.Client(url=self.bao.addr, token=self.bao.root_token)
        settings = self.project.settings
        values = {"pull-secret": _pull_secret(), "ssh-key": _openssh_public_key(), "ca-bundle": pki.ca.read_text()}
        mounts = {KvPath.parse(settings.credentials_path).mount}
        items = install_items(settings)
        mounts |= {KvPath.parse(item.path).mount for item in items.values()}
        for mount in sorted(mounts):
            enable_kv_v2(client, mount)
        for role, item in items.items():
            location = KvPath.parse(item.path)
            client.secrets.kv.v2.create_or_update_secret(
                path=location.path, mount_point=location.mount, secret={item.key: values[role]}
            )

    def _start_proxmox(self, pki: CertificateFiles) -> None:
        from proxshift.lab.pve import LabPve

        pve = LabPve(user="root@pam", password=secrets.token_hex(12), host="127.0.0.1", port=0)
        pve.time_scale = self.time_scale
        self.token_secret = secrets.token_hex(16)
        pve.apitokens["root@pam!lab"] = self.token_secret
        for cluster in self.project.inventory.clusters.values():
            for node in cluster.nodes:
                pve.add_node(node.spec.pve_node)
                for disk in node.spec.disks.values():
                    pve.storages.setdefault(
                        disk.storage,
                        {
                            "type": "lvmthin",
                            "active": 1,
                            "content": "images,rootdir",
                            "files": set(),
                            "vgname": "pve",
                            "thinpool": disk.storage,
                        },
                    )
                if node.spec.iso_image:
                    storage = node.spec.iso_image.split(":")[0]
                    entry = pve.storages.setdefault(
                        storage,
                        {
                            "type": "nfs",
                            "active": 1,
                            "content": "iso",
                            "files": set(),
                            "path": f"/mnt/pve/{storage}",
                            "server": "192.0.2.5",
                            "export": "/iso",
                            "shared": 1,
                            "avail": 256 * 1024**3,
                        },
                    )
                    if "iso" not in entry["content"]:
                        entry["content"] += ",iso"
        self.faults.apply(pve)
        self.pve = pve
        self._serving = serve_fakepve(pve, pki.cert, pki.key)

    def _start_clusters(self, pki: CertificateFiles) -> None:
        state_dir = self.directory / "installer-state"
        versions = set()
        for name, cluster in self.project.inventory.clusters.items():
            token = secrets.token_hex(16)
            kube = KubeApiServer(pki, secrets.token_hex(16)).start()
            kube.available = name == self.project.settings.hub_cluster  # the hub is up; the others are not yet
            hosts = [{"hostname": n.name, "role": n.role, **({"ip": str(n.ip)} if n.ip else {})} for n in cluster.nodes]
            agent = AssistedService(name, hosts, token).start()
            sim = ClusterSimulation(
                name, cluster.base_domain or "lab.local", cluster.vars.ocp_version, hosts, kube, agent
            )
            cluster_state(state_dir, name, kube.kubeconfig(name), secrets.token_urlsafe(18), token)
            delay = self.operator_seconds
            self.clusters[name] = LabCluster(
                cluster,
                kube,
                agent,
                sim,
                [n.spec.vmid for n in cluster.nodes],
                OlmSimulation(kube, poll=0.1, csv_seconds=delay).start(),
                ArgoCdSimulation(kube, poll=0.1, ready_seconds=delay, sync_seconds=delay).start(),
                EsoSimulation(kube, poll=0.1, deploy_seconds=delay).start(),
            )
            if kube.available:
                self.clusters[name].olm.ensure_platform()  # an installed cluster (the hub) has OLM from the start
            versions.add(cluster.vars.ocp_version)
        for version in sorted(versions):
            install_fake(self.bin_dir, version, state_dir, name=f"openshift-install-{version}")
        install_fake(self.bin_dir, sorted(versions)[-1] if versions else "4.19.1", state_dir)
        install_fake_oc(self.bin_dir, sorted(versions)[-1] if versions else "4.19.1")
        self.agents = AddNodesAgents().start()
        self.joins = JoinSimulation(self._join_target, lambda: self.pve.iso_heads, self.agents, self.join_seconds)
        hub = self.project.settings.hub_cluster
        if hub in self.clusters:
            self.hub_sim = HubSimulation(self.clusters[hub].kube, self._spoke_store, poll=0.1).start()
            self._seed_hub_credentials(hub)

    def _seed_hub_credentials(self, hub: str) -> None:
        """The hub exists before anything is provisioned, as in a real site: its kubeconfig is in Vault."""
        import hvac

        from proxshift.clients.vault import KvPath

        assert self.bao is not None  # noqa: S101 - started before the clusters
        location = KvPath.parse(self.project.settings.credentials_path).child(hub)
        kube = self.clusters[hub].kube
        hvac.Client(url=self.bao.addr, token=self.bao.root_token).secrets.kv.v2.create_or_update_secret(
            path=location.path,
            mount_point=location.mount,
            secret={"api": kube.url, "kubeconfig": kube.kubeconfig(hub), "kubeadmin": secrets.token_urlsafe(18)},
        )

    def _join_target(self, api_url: str) -> Target | None:
        """The lab cluster whose API is at `api_url` (an add-nodes ISO names it)."""
        found = next((lab for lab in self.clusters.values() if lab.kube.url == api_url), None)
        if found is None:
            return None
        kube = found.kube
        return Target(lambda: kube.store, found.sim.join_node)

    def _spoke_store(self, name: str) -> Store | None:
        lab = self.clusters.get(name)
        return lab.kube.store if lab else None

    def _watch_vms(self) -> None:
        """Play a cluster's install once all of its VMs run; stop it when one is destroyed; forget it when
        they are all gone. An installed cluster's API answers while one of its VMs runs."""
        while not self._stop.wait(0.2):
            vms = list(self.pve.vms)
            running = {vm.vmid for vm in vms if vm.status == "running"}
            existing = {vm.vmid for vm in vms}
            if self.joins is not None:
                try:
                    self.joins.check(vms)
                except Exception:  # a join that trips keeps the installs going
                    logging.getLogger(__name__).exception("join simulation")
            for lab in self.clusters.values():
                if not lab.started and all(v in running for v in lab.vmids):
                    lab.started = True
                    lab.agent.reset()
                    lab.sim.run(self.install_seconds)
                elif lab.started and not all(v in existing for v in lab.vmids):
                    lab.sim.stop()  # an install does not go on without its machines
                    if not any(v in existing for v in lab.vmids):
                        lab.started = False
                        lab.kube.store = Store()  # a fresh, empty API for the next install
                        lab.kube.available = False
                        lab.agent.reset()
                elif lab.started and not lab.sim.running:
                    lab.kube.available = any(v in running for v in lab.vmids)  # installed: up while a VM runs

    # -- files users source -----------------------------------------------------------------------------

    def _write_files(self, pki: CertificateFiles) -> None:
        assert self.bao is not None  # noqa: S101 - started above
        source = self.project.settings.source
        site: dict[str, Any] = yaml.safe_load(source.read_text()) if source else {}
        site.update(
            vault_path=self.project.settings.credentials_path,
            ocp_installer_path=str(self.bin_dir),
            proxmox={"host": "127.0.0.1", "port": self.pve.port, "ca_cert": str(pki.ca), "poll_interval": 0.2},
            agent_api_urls={name: lab.agent.url for name, lab in self.clusters.items()},
            add_nodes_agent_url=self.agents.url_template if self.agents else "",
        )
        (self.directory / "site-config.yaml").write_text(
            "# Written by 'proxshift lab up': the site config, pointed at the lab's stand-ins.\n"
            + yaml.safe_dump(site, sort_keys=False)
        )
        env = {
            "VAULT_ADDR": self.bao.addr,
            "VAULT_TOKEN": self.bao.root_token,
            "PROXSHIFT_CONFIG": str(self.directory / "site-config.yaml"),
            "PROXSHIFT_PROXMOX_TOKEN_ID": "root@pam!lab",
            "PROXSHIFT_PROXMOX_TOKEN_SECRET": self.token_secret,
        }
        lines = [f"export {k}='{v}'" for k, v in env.items()]
        path = "".join(f"'{directory}':" for directory in [str(self.bin_dir), *_proxshift_bin()])
        lines.append(f'export PATH={path}"$PATH"')
        lines.append(
            "unset VAULT_CACERT VAULT_NAMESPACE VAULT_ROLE_ID VAULT_SECRET_ID PROXSHIFT_PROXMOX_USER "
            "PROXSHIFT_PROXMOX_PASSWORD"
        )
        write_private(self.directory / "env", "\n".join(lines) + "\n")
        state = {
            "pid": os.getpid(),
            "bao_pid": self.bao.process.pid if self.bao.process else None,
            "services": {
                "vault (OpenBao dev server)": self.bao.addr,
                "proxmox (fakepve)": f"https://127.0.0.1:{self.pve.port}",
                **{f"{name} API (emulator)": lab.kube.url for name, lab in self.clusters.items()},
                **{f"{name} assisted-service (fake)": lab.agent.url for name, lab in self.clusters.items()},
                **({"added hosts' assisted-services (fake)": self.agents.server.url} if self.agents else {}),
            },
            "knobs": {
                "install_seconds": self.install_seconds,
                "operator_seconds": self.operator_seconds,
                "join_seconds": self.join_seconds,
                "time_scale": self.time_scale,
                "faults": self.faults.describe(),
            },
            "ready": True,
            "started": time.time(),
        }
        write_private(self.directory / "state.json", json.dumps(state, indent=2))

    def env(self) -> dict[str, str]:
        found = {}
        for line in (self.directory / "env").read_text().splitlines():
            if line.startswith("export ") and "PATH=" not in line:
                key, _, value = line[len("export ") :].partition("=")
                found[key] = value.strip("'")
        found["PATH"] = ":".join([str(self.bin_dir), *_proxshift_bin(), os.environ.get("PATH", "")])
        return found

    def stop(self) -> None:
        """Stop everything this lab started (once; a second call does nothing)."""
        if self._stop.is_set():
            return
        self._stop.set()
        if self._watcher is not None:
            self._watcher.join(5)
        if self.hub_sim:
            self.hub_sim.stop()
        for lab in self.clusters.values():
            lab.sim.stop()
            for controller in lab.controllers:
                controller.stop()
            lab.agent.stop()
            lab.kube.stop()
        if self.agents is not None:
            self.agents.stop()
        if self._serving is not None:
            stop_fakepve(self.pve, self._serving)
        if self.bao is not None:
            self.bao.stop()
        (self.directory / "state.json").unlink(missing_ok=True)
