"""The audit trail against the real stand-ins: OpenBao, fakepve, the Kubernetes API emulator."""

from __future__ import annotations

import json
import secrets
import stat
from pathlib import Path
from typing import Any

import pytest

from proxshift import __version__
from proxshift.config.install_dir import InstallDir
from proxshift.config.paths import discover_paths
from proxshift.config.project import load_project
from proxshift.engine.audit import trail
from proxshift.engine.audited_kube import AuditedKube
from proxshift.engine.connections import proxmox_for, vault_for
from proxshift.engine.install import store_credentials
from proxshift.engine.vm_lifecycle import create_vms, start_vms
from proxshift.lab.csrs import client_csr
from proxshift.lab.kubeapi import KubeApiServer
from proxshift.lab.serving import make_certificates
from tests.integration.conftest import VaultFixture
from tests.integration.pve import ISO_NAMES, PveLab


def _lines(install_dir: InstallDir) -> list[dict[str, Any]]:
    return [json.loads(line) for line in install_dir.audit_log.read_text().splitlines()]


def test_vault_reads_and_writes_name_paths_keys_and_versions_never_values(
    seeded_root: Path, vault: VaultFixture
) -> None:
    config = seeded_root / "config" / "site-config.yaml"
    config.write_text(
        config.read_text().replace(
            "vault_path: '~/.proxshift/vault-credentials.yml'", f"vault_path: '{vault.mount}/data/openshift'"
        )
    )
    project = load_project(discover_paths(seeded_root))
    install_dir = project.paths.install_dir("ocp-sno1")
    (install_dir.auth).mkdir(parents=True)
    kubeconfig = "apiVersion: v1\nkind: Config\n# " + secrets.token_hex(16) + "\n"
    password = "kubeadmin-" + secrets.token_hex(8)
    install_dir.kubeconfig.write_text(kubeconfig)
    install_dir.kubeadmin_password.write_text(password)
    pull_secret = json.dumps(vault.get("openshift/pullsecret"))

    store_credentials(project, "ocp-sno1", "https://api.example:6443")  # no trail open: nothing recorded
    assert not install_dir.audit_log.exists()
    with trail(install_dir):
        vault_for(project, print).read_install_secrets(project.settings)
        store_credentials(project, "ocp-sno1", "https://api.example:6443")  # identical: read back, not written
        install_dir.kubeadmin_password.write_text(password + "-new")
        store_credentials(project, "ocp-sno1", "https://api.example:6443")

    lines = _lines(install_dir)
    events = [(line["event"], line["path"]) for line in lines]
    assert events == [
        ("vault.read", f"{vault.mount}/data/openshift/pullsecret"),
        ("vault.read", f"{vault.mount}/data/your-ssh-pubkey"),
        ("vault.read", f"{vault.mount}/data/your-ca-bundle"),
        ("vault.read", f"{vault.mount}/data/openshift/ocp-sno1"),
        ("vault.read", f"{vault.mount}/data/openshift/ocp-sno1"),
        ("vault.write", f"{vault.mount}/data/openshift/ocp-sno1"),
    ]
    assert lines[0]["keys"] == ["secret"] and lines[0]["version"] == 1
    assert lines[-1] | {"time": "T"} == {
        "time": "T",
        "proxshift_version": __version__,
        "command": "proxshift",
        "event": "vault.write",
        "path": f"{vault.mount}/data/openshift/ocp-sno1",
        "keys": ["api", "kubeadmin", "kubeconfig"],
        "version": 2,
    }
    assert stat.S_IMODE(install_dir.audit_log.stat().st_mode) == 0o600
    text = install_dir.audit_log.read_text()
    for value in (password, kubeconfig.splitlines()[-1][2:], pull_secret[20:60]):
        assert value not in text


def test_kubernetes_objects_changed_are_named_with_their_api(tmp_path: Path) -> None:
    kube = KubeApiServer(make_certificates(tmp_path / "pki"), secrets.token_hex(16)).start()
    install_dir = InstallDir(tmp_path / "ocp_install" / "ocp")
    value = secrets.token_hex(16)
    try:
        api = AuditedKube(kube.kubeconfig("ocp"), "ocp")
        config_map = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "namespace": "default"}}
        with trail(install_dir):
            api.apply({**config_map, "data": {"token": value}})
            api.patch("v1", "ConfigMap", "a", {"data": {"more": value}}, "default")
            api.patch("v1", "ConfigMap", "missing", {"data": {}}, "default")  # not there: nothing changed
            api.get("v1", "ConfigMap", "a", "default")  # reads are not recorded
            assert api.delete("v1", "ConfigMap", "a", "default")
            assert not api.delete("v1", "ConfigMap", "a", "default")
            csr = ("certificates.k8s.io/v1", "CertificateSigningRequest")
            kube.store.create(kube.store.type_of(*csr), client_csr("csr-a", "ocp-node7"))
            assert api.approve_csr(api.list(*csr)[0], "Checked", "by a test") is not None
    finally:
        kube.stop()
    lines = _lines(install_dir)
    assert [(line["event"], line["api"], line["kind"], line["namespace"], line["name"]) for line in lines] == [
        ("kube.apply", "ocp", "ConfigMap", "default", "a"),
        ("kube.patch", "ocp", "ConfigMap", "default", "a"),
        ("kube.delete", "ocp", "ConfigMap", "default", "a"),
        ("kube.approve", "ocp", "CertificateSigningRequest", None, "csr-a"),
    ]
    assert lines[0]["apiVersion"] == "v1" and lines[0]["server"] == kube.url
    assert value not in install_dir.audit_log.read_text()


@pytest.fixture
def pve_root(predecessor_root: Path, pve_lab: PveLab, monkeypatch: pytest.MonkeyPatch) -> Path:
    pve_lab.configure(predecessor_root)
    for name in ISO_NAMES:
        pve_lab.pve.store_file("your_nfs", name, 1024)
    monkeypatch.setenv("PROXSHIFT_PROXMOX_USER", "root@pam")
    monkeypatch.setenv("PROXSHIFT_PROXMOX_PASSWORD", "secret")
    return predecessor_root


def test_proxmox_tasks_of_parallel_work_land_in_the_trail(pve_root: Path, pve_lab: PveLab) -> None:
    project = load_project(discover_paths(pve_root))
    install_dir = project.paths.install_dir("ocp")
    prox, cluster = proxmox_for(project, "ocp")
    with trail(install_dir):
        assert not create_vms(prox, cluster).failed  # six VMs, in worker threads
        assert not start_vms(prox, cluster).failed
        config = prox.vms.config("pve1", 401)
        prox.vms.update_config("pve1", 401, str(config["digest"]), {"description": "value never recorded"})
    tasks = [line for line in _lines(install_dir) if line["event"] == "proxmox.task"]
    assert sorted((t["action"], t["vmid"]) for t in tasks) == sorted(
        [("qmcreate", v) for v in range(401, 407)] + [("qmstart", v) for v in range(401, 407)]
    )
    assert all(t["status"] == "OK" and t["task"].startswith(f"UPID:{t['node']}:") for t in tasks)
    [update] = [line for line in _lines(install_dir) if line["event"] == "proxmox.config"]
    assert (update["node"], update["vmid"], update["options"]) == ("pve1", 401, ["description"])
    assert "value never recorded" not in install_dir.audit_log.read_text()
    assert "secret" not in install_dir.audit_log.read_text()
