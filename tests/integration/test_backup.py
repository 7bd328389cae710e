"""engine/backup.py and engine/restore.py: Secrets and certificates into OpenBao and back into the API emulator."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from proxshift.clients.kube import Kube
from proxshift.config.project import Project
from proxshift.engine.backup import backup
from proxshift.engine.restore import restore
from proxshift.lab.serving import make_certificates
from tests.conftest import CliRunner, ProjectFiles
from tests.integration.conftest import VaultFixture
from tests.integration.gitops import POLL, Lines, gitops_project
from tests.integration.post_install import PostInstallLab

API_HOST = "api.sno.lab.example"
INGRESS = ("operator.openshift.io/v1", "IngressController")
APISERVER = ("config.openshift.io/v1", "APIServer")
BACKUP = {
    "secrets": [
        {"name": "wildcard-tls", "namespace": "openshift-ingress"},
        {"name": "app-token", "namespace": "apps"},
        {"name": "never-made", "namespace": "apps"},
    ],
    "cluster_certs": True,
}


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@dataclass
class CertLab:
    lab: PostInstallLab
    vault: VaultFixture
    project: Project
    root: Path
    api_ca: str  # the CA of the API's restored certificate

    @property
    def store(self) -> Any:
        return self.lab.kube.store

    def kube(self) -> Kube:
        return Kube(self.lab.kube.kubeconfig("sno"), "sno", timeout=5)

    def data(self, name: str, namespace: str) -> dict[str, str]:
        secret = self.store.find("v1", "Secret", name, namespace) or {}
        return dict(secret.get("data") or {})

    def rebuild(self) -> None:
        """What a rebuilt cluster has: no such Secrets, the default certificates."""
        secret = self.store.type_of("v1", "Secret")
        for namespace, name in (("openshift-ingress", "wildcard-tls"), ("openshift-config", "api-cert")):
            self.store.delete(secret, namespace, name)
        self.store.delete(self.store.type_of("v1", "Namespace"), None, "apps")
        self.store.replace(
            self.store.type_of(*INGRESS), "openshift-ingress-operator", "default", _ingress_controller(None)
        )
        self.store.replace(self.store.type_of(*APISERVER), None, "cluster", _api_server(None))


def _ingress_controller(certificate: str | None) -> dict[str, Any]:
    spec: dict[str, Any] = {"replicas": 1}
    if certificate:
        spec["defaultCertificate"] = {"name": certificate}
    return {
        "apiVersion": INGRESS[0],
        "kind": INGRESS[1],
        "metadata": {"name": "default", "namespace": "openshift-ingress-operator"},
        "spec": spec,
    }


def _api_server(certificate: str | None) -> dict[str, Any]:
    spec: dict[str, Any] = {}
    if certificate:
        spec["servingCerts"] = {
            "namedCertificates": [
                {"names": ["api-int.sno.lab.example"], "servingCertificate": {"name": "internal-only"}},
                {"names": [API_HOST], "servingCertificate": {"name": certificate}},
            ]
        }
    return {"apiVersion": APISERVER[0], "kind": APISERVER[1], "metadata": {"name": "cluster"}, "spec": spec}


def _cluster_objects(lab: PostInstallLab, certs_dir: Path) -> str:
    store = lab.kube.store
    for namespace in ("openshift-ingress", "openshift-ingress-operator", "openshift-config", "apps"):
        store.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    for name in ("ingress", "kube-apiserver"):
        store.apply({"apiVersion": "config.openshift.io/v1", "kind": "ClusterOperator", "metadata": {"name": name}})
        store.set_status(
            "config.openshift.io/v1",
            "ClusterOperator",
            name,
            {"conditions": [{"type": "Available", "status": "True"}, {"type": "Progressing", "status": "False"}]},
        )
    store.apply(_ingress_controller("wildcard-tls"))
    store.apply(_api_server("api-cert"))
    public = make_certificates(certs_dir, "api.sno.lab.example")
    chain = public.cert.read_text() + public.ca.read_text()
    owner = {"apiVersion": "cert-manager.io/v1", "kind": "Certificate", "name": "x", "uid": "1234", "controller": True}
    for namespace, name, data in (
        ("openshift-ingress", "wildcard-tls", {"tls.crt": _b64("wildcard-cert"), "tls.key": _b64("wildcard-key")}),
        ("openshift-config", "api-cert", {"tls.crt": _b64(chain), "tls.key": _b64("api-key")}),
    ):
        store.apply(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": name, "namespace": namespace, "ownerReferences": [owner], "labels": {"a": "b"}},
                "type": "kubernetes.io/tls",
                "data": data,
            }
        )
    store.apply(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {
                "name": "app-token",
                "namespace": "apps",
                "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{...}", "team": "apps"},
            },
            "type": "Opaque",
            "data": {"token": _b64("t0ken-in-the-cluster")},
        }
    )
    return public.ca.read_text()


@pytest.fixture
def cert_lab(post_install: PostInstallLab, vault: VaultFixture, project: ProjectFiles, tmp_path: Path) -> CertLab:
    api_ca = _cluster_objects(post_install, tmp_path / "public")
    kubeconfig = post_install.kube.kubeconfig("sno")
    vault.put("openshift/sno", {"api": post_install.kube.url, "kubeconfig": kubeconfig, "kubeadmin": "pw"})
    loaded = gitops_project(project, vault, {"backup": BACKUP})
    return CertLab(post_install, vault, loaded, project.root, api_ca)


def test_backup_then_rebuild_then_restore_round_trips(cert_lab: CertLab) -> None:
    lab, vault = cert_lab, cert_lab.vault
    originals = {
        ("openshift-ingress", "wildcard-tls"): lab.store.find("v1", "Secret", "wildcard-tls", "openshift-ingress"),
        ("openshift-config", "api-cert"): lab.store.find("v1", "Secret", "api-cert", "openshift-config"),
        ("apps", "app-token"): lab.store.find("v1", "Secret", "app-token", "apps"),
    }
    notices = Lines()
    saved = backup(lab.project, "sno", kube=lab.kube(), notify=notices)
    assert [(s.namespace, s.name, s.role, s.result) for s in saved] == [
        ("apps", "app-token", "secret", "written (version 1)"),
        ("openshift-ingress", "wildcard-tls", "ingress", "written (version 1)"),
        ("openshift-config", "api-cert", "api", "written (version 1)"),
    ]
    assert notices == ["Secret apps/never-made does not exist in sno: not backed up"]
    kept = vault.get("openshift/backups/sno/apps/app-token")
    assert kept == {
        "type": "Opaque",
        "data": {"token": _b64("t0ken-in-the-cluster")},
        "labels": {},
        "annotations": {"team": "apps"},  # kubectl's copy of the whole Secret is never kept
    }
    again = backup(lab.project, "sno", kube=lab.kube())
    assert [s.result for s in again] == ["unchanged (version 1)"] * 3

    lab.rebuild()
    local = lab.root / "ocp_install" / "sno" / "auth" / "kubeconfig"
    local.parent.mkdir(parents=True)
    local.write_text(lab.lab.kube.kubeconfig("sno"))
    lines = Lines()
    restore(lab.project, "sno", timeout=10, poll=POLL, kube=lab.kube(), report=lines)
    for (namespace, name), original in originals.items():
        restored = lab.store.find("v1", "Secret", name, namespace)
        assert restored is not None and original is not None
        assert restored["data"] == original["data"] and restored["type"] == original["type"]
        assert restored["metadata"]["uid"] != original["metadata"]["uid"]
        assert "ownerReferences" not in restored["metadata"]
    assert lab.store.find("v1", "Namespace", "apps") is not None
    ingress = lab.store.find(*INGRESS, "default", "openshift-ingress-operator")
    assert ingress["spec"]["defaultCertificate"] == {"name": "wildcard-tls"}
    named = lab.store.find(*APISERVER, "cluster")["spec"]["servingCerts"]["namedCertificates"]
    assert named == [{"names": [API_HOST], "servingCertificate": {"name": "api-cert"}}]
    assert lines == [
        "Secret apps/app-token: created",
        "Secret openshift-ingress/wildcard-tls: created",
        "Secret openshift-config/api-cert: created",
        "IngressController default: serves openshift-ingress/wildcard-tls",
        "ClusterOperator ingress: Available",
        "the stored kubeconfig now trusts the CA of the API's certificate",
        f"APIServer cluster: serves openshift-config/api-cert for {API_HOST}",
        "ClusterOperator kube-apiserver: Available",
    ]
    stored = yaml.safe_load(vault.get("openshift/sno")["kubeconfig"])
    bundle = base64.b64decode(stored["clusters"][0]["cluster"]["certificate-authority-data"]).decode()
    assert bundle.startswith(lab.lab.kube.tls.ca.read_text().strip()) and bundle.endswith(lab.api_ca)
    assert yaml.safe_load(local.read_text()) == stored  # the install directory's copy too, 0600
    assert local.stat().st_mode & 0o777 == 0o600
    assert all("t0ken" not in line and "wildcard-key" not in line for line in lines + notices)

    rerun = Lines()
    restore(lab.project, "sno", timeout=10, poll=POLL, report=rerun)  # connects with the updated kubeconfig
    assert rerun == [
        "Secret apps/app-token: unchanged",
        "Secret openshift-ingress/wildcard-tls: unchanged",
        "Secret openshift-config/api-cert: unchanged",
        "IngressController default: unchanged (serves openshift-ingress/wildcard-tls)",
        f"APIServer cluster: unchanged (serves openshift-config/api-cert for {API_HOST})",
    ]


def test_restore_from_the_predecessors_files(cert_lab: CertLab, tmp_path: Path) -> None:
    backups = tmp_path / "backups"
    backups.mkdir()
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "secret-your-domain-tls", "namespace": "ingress", "labels": {"from": "predecessor"}},
        "type": "kubernetes.io/tls",
        "data": {"tls.crt": _b64("crt"), "tls.key": _b64("key")},
    }
    (backups / "ingress-secret-your-domain-tls.yaml").write_text(yaml.safe_dump(secret))
    (backups / "ingress-other.yaml").write_text(yaml.safe_dump({**secret, "metadata": {"name": "x", "namespace": "y"}}))
    config_map = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "ingress"}}
    (backups / "ingress-c.yaml").write_text(yaml.safe_dump(config_map))
    notices, lines = Lines(), Lines()
    restore(cert_lab.project, "sno", source=backups, kube=cert_lab.kube(), notify=notices, report=lines)
    assert lines == ["Secret ingress/secret-your-domain-tls: created"]
    assert notices == [
        "ingress-c.yaml is not a Secret with a name and namespace: skipped",
        "ingress-other.yaml holds Secret y/x, not a file named y-x.yaml: skipped",
    ]
    restored = cert_lab.store.find("v1", "Secret", "secret-your-domain-tls", "ingress")
    assert restored is not None and restored["data"] == secret["data"]
    assert restored["metadata"]["labels"] == {"from": "predecessor"}
    assert cert_lab.store.find("v1", "ConfigMap", "c", "ingress") is None


def test_nothing_backed_up_is_one_line(cert_lab: CertLab) -> None:
    lines = Lines()
    restore(cert_lab.project, "sno", kube=cert_lab.kube(), report=lines)
    assert lines == [f"nothing to restore: no backups of sno in {cert_lab.vault.mount}/data/openshift/backups/sno"]


def test_backup_and_restore_commands(cert_lab: CertLab, cli: CliRunner) -> None:
    plan = cli("--root", cert_lab.root, "backup", "sno", "--dry-run", "--json")
    assert plan.code == 0, plan.err
    assert '"result": "would be written"' in plan.out and "t0ken" not in plan.out + plan.err
    done = cli("--root", cert_lab.root, "backup", "sno")
    assert done.code == 0, done.err
    assert "openshift-ingress/wildcard-tls" in done.out and "written (version 1)" in done.out
    assert "Secret apps/never-made does not exist in sno: not backed up" in done.err
    assert not (cert_lab.root / "ocp_install" / "sno" / ".lock").exists()
    cert_lab.rebuild()
    dry = cli("--root", cert_lab.root, "restore", "sno", "--dry-run")
    assert dry.code == 0, dry.err
    assert "would apply Secret openshift-config/api-cert (api)" in dry.out
    assert cert_lab.store.find("v1", "Secret", "api-cert", "openshift-config") is None
    restored = cli("--root", cert_lab.root, "restore", "sno", "--poll-interval", "0.05")
    assert restored.code == 0, restored.err
    assert "ClusterOperator kube-apiserver: Available" in restored.err
    everything = plan.out + plan.err + done.out + done.err + restored.out + restored.err
    assert "t0ken-in-the-cluster" not in everything and _b64("t0ken-in-the-cluster") not in everything
