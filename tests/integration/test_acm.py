"""ACM import (auto and manual) and detach, against two API emulators: the hub and the new cluster."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from proxshift.lab.acm_sim import HubSimulation
from proxshift.lab.kubeapi import KubeApiServer
from proxshift.lab.serving import make_certificates
from tests.conftest import CliRunner
from tests.integration.conftest import VaultFixture

MC = ("cluster.open-cluster-management.io/v1", "ManagedCluster")


@dataclass
class AcmLab:
    hub: KubeApiServer
    spoke: KubeApiServer
    sim: HubSimulation
    root: Path

    def hub_writes(self) -> list[tuple[str, str]]:
        return [r for r in self.hub.requests if r[0] not in ("GET",)]


@pytest.fixture
def acm_lab(predecessor_root: Path, vault: VaultFixture, tmp_path: Path) -> Iterator[AcmLab]:
    hub = KubeApiServer(make_certificates(tmp_path / "hub-pki"), "hub-" + secrets.token_hex(8)).start()
    spoke = KubeApiServer(make_certificates(tmp_path / "spoke-pki"), "spoke-" + secrets.token_hex(8)).start()
    sim = HubSimulation(hub, lambda name: spoke.store if name == "ocp-sno2" else None).start()
    # The hub (ocp-sno1, as the predecessor's site config says) has its credentials in Vault.
    vault.put("openshift/ocp-sno1", {"api": hub.url, "kubeconfig": hub.kubeconfig("ocp-sno1"), "kubeadmin": "x"})
    config = predecessor_root / "config" / "site-config.yaml"
    config.write_text(
        config.read_text().replace(
            "vault_path: '~/.proxshift/vault-credentials.yml'", f"vault_path: '{vault.mount}/data/openshift'"
        )
    )
    inventory = predecessor_root / "inventory" / "clusters.yml"
    text = inventory.read_text()
    start = text.index("        ocp-sno2:\n          vars:\n")
    inventory.write_text(
        text[:start]
        + text[start:].replace(
            "            cluster_type: sno\n",
            "            cluster_type: sno\n            acm_labels: {apply-certs: null, owner: platform}\n",
            1,
        )
    )
    auth = predecessor_root / "ocp_install" / "ocp-sno2" / "auth"
    auth.mkdir(parents=True)
    (auth / "kubeconfig").write_text(spoke.kubeconfig("ocp-sno2"))
    try:
        yield AcmLab(hub, spoke, sim, predecessor_root)
    finally:
        sim.stop()
        spoke.stop()
        hub.stop()


def test_auto_import_touches_only_the_hub(acm_lab: AcmLab, cli: CliRunner) -> None:
    result = cli("--root", acm_lab.root, "acm", "import", "ocp-sno2")
    assert result.code == 0, result.err
    hub = acm_lab.hub.store
    managed = hub.find(*MC, "ocp-sno2")
    assert managed is not None and managed["spec"] == {"hubAcceptsClient": True}
    assert managed["metadata"]["labels"] == {
        "name": "ocp-sno2",
        "cloud": "auto-detect",
        "vendor": "auto-detect",
        "cluster.open-cluster-management.io/clusterset": "default",
        # The predecessor's labels are proxshift's defaults; the inventory adds one and removes one (null).
        "cluster-name": "ocp-sno2",
        "apply-gitops": "true",
        "owner": "platform",
    }
    addon_config = hub.find("agent.open-cluster-management.io/v1", "KlusterletAddonConfig", "ocp-sno2", "ocp-sno2")
    assert addon_config is not None
    assert {k: v["enabled"] for k, v in addon_config["spec"].items() if isinstance(v, dict) and "enabled" in v} == {
        "applicationManager": True,
        "policyController": True,
        "searchCollector": True,
        "certPolicyController": True,
    }
    secret = hub.find("v1", "Secret", "auto-import-secret", "ocp-sno2")
    assert secret is not None
    stored = secret.get("stringData", {}).get("kubeconfig") or base64.b64decode(secret["data"]["kubeconfig"]).decode()
    assert stored == acm_lab.spoke.kubeconfig("ocp-sno2")
    assert acm_lab.spoke.requests == []  # the hub deploys the klusterlet; nothing is applied to the cluster
    assert "ocp-sno2 is joined and available on hub ocp-sno1" in result.err
    assert "add-ons: application-manager available" in result.err
    assert acm_lab.spoke.token not in result.err + result.out


def test_manual_import_applies_the_import_secret_crds_first(acm_lab: AcmLab, cli: CliRunner) -> None:
    result = cli("--root", acm_lab.root, "acm", "import", "ocp-sno2", "--mode", "manual")
    assert result.code == 0, result.err
    writes = [path.split("?")[0] for method, path in acm_lab.spoke.requests if method != "GET"]
    assert writes == [
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/klusterlets.operator.open-cluster-management.io",
        "/api/v1/namespaces/open-cluster-management-agent",
        "/api/v1/namespaces/open-cluster-management-agent/serviceaccounts/klusterlet",
        "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/klusterlet",
        "/apis/apps/v1/namespaces/open-cluster-management-agent/deployments/klusterlet",
        "/api/v1/namespaces/open-cluster-management-agent/secrets/bootstrap-hub-kubeconfig",
        "/apis/operator.open-cluster-management.io/v1/klusterlets/klusterlet",
    ]
    assert acm_lab.spoke.store.find("operator.open-cluster-management.io/v1", "Klusterlet", "klusterlet") is not None
    assert acm_lab.hub.store.find("v1", "Secret", "auto-import-secret", "ocp-sno2") is None
    assert "applied CRD klusterlets.operator.open-cluster-management.io (Established)" in result.err


@pytest.mark.parametrize("mode", ["auto", "manual"])
def test_import_is_idempotent(acm_lab: AcmLab, cli: CliRunner, mode: str) -> None:
    assert cli("--root", acm_lab.root, "acm", "import", "ocp-sno2", "--mode", mode).code == 0
    before = sorted(acm_lab.hub.store.objects)
    spoke_before = sorted(acm_lab.spoke.store.objects)
    again = cli("--root", acm_lab.root, "acm", "import", "ocp-sno2", "--mode", mode)
    assert again.code == 0, again.err
    assert sorted(acm_lab.hub.store.objects) == before
    assert sorted(acm_lab.spoke.store.objects) == spoke_before


def test_detach_removes_the_managed_cluster_and_namespace(acm_lab: AcmLab, cli: CliRunner) -> None:
    assert cli("--root", acm_lab.root, "acm", "import", "ocp-sno2").code == 0
    result = cli("--root", acm_lab.root, "acm", "detach", "ocp-sno2")
    assert result.code == 0, result.err
    assert acm_lab.hub.store.find(*MC, "ocp-sno2") is None
    assert acm_lab.hub.store.find("v1", "Namespace", "ocp-sno2") is None
    assert acm_lab.hub.store.find("v1", "Secret", "auto-import-secret", "ocp-sno2") is None
    again = cli("--root", acm_lab.root, "acm", "detach", "ocp-sno2")
    assert again.code == 0 and "was not there" in again.err


def test_hub_that_never_joins_times_out_clearly(acm_lab: AcmLab, cli: CliRunner) -> None:
    acm_lab.sim.set_conditions = False
    result = cli("--root", acm_lab.root, "acm", "import", "ocp-sno2", "--timeout", "3s")
    assert result.code == 1
    assert "timed out after 3 s waiting for ManagedCluster ocp-sno2 to be joined and available" in result.err
    assert "ManagedCluster ocp-sno2: pending" in result.err


def test_dry_run_prints_documents_with_the_kubeconfig_redacted(acm_lab: AcmLab, cli: CliRunner) -> None:
    result = cli("--root", acm_lab.root, "acm", "import", "ocp-sno2", "--dry-run")
    assert result.code == 0, result.err
    assert "kind: ManagedCluster" in result.out and "kind: KlusterletAddonConfig" in result.out
    assert "kubeconfig: '<redacted: " in result.out
    assert acm_lab.spoke.token not in result.out
    assert acm_lab.hub_writes() == []
    detach = cli("--root", acm_lab.root, "acm", "detach", "ocp-sno2", "--dry-run")
    assert detach.code == 0 and "ManagedCluster ocp-sno2" in detach.out
    assert acm_lab.hub_writes() == []


def test_the_hub_itself_is_skipped(acm_lab: AcmLab, cli: CliRunner) -> None:
    result = cli("--root", acm_lab.root, "acm", "import", "ocp-sno1")
    assert result.code == 0
    assert "ACM import skipped: ocp-sno1 is the ACM hub itself" in result.err
    assert acm_lab.hub.requests == []


def test_no_hub_configured(acm_lab: AcmLab, cli: CliRunner) -> None:
    config = acm_lab.root / "config" / "site-config.yaml"
    config.write_text(config.read_text().replace("hub_cluster: ocp-sno1", "hub_cluster: ''"))
    result = cli("--root", acm_lab.root, "acm", "import", "ocp-sno2")
    assert result.code == 2
    assert "no ACM hub is configured" in result.err


def test_hub_kubeconfig_file_option(acm_lab: AcmLab, cli: CliRunner, tmp_path: Path) -> None:
    hub_file = tmp_path / "hub.kubeconfig"
    hub_file.write_text(acm_lab.hub.kubeconfig("hub"))
    result = cli("--root", acm_lab.root, "acm", "import", "ocp-sno2", "--hub-kubeconfig", hub_file)
    assert result.code == 0, result.err


def test_the_hub_from_kubeconfig_when_vault_has_none(
    acm_lab: AcmLab, cli: CliRunner, vault: VaultFixture, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Users who `oc login` to a hub proxshift did not build: its credentials are not in Vault.
    vault.admin.secrets.kv.v2.delete_metadata_and_all_versions(path="openshift/ocp-sno1", mount_point=vault.mount)
    logged_in = tmp_path / "oc-login.kubeconfig"
    logged_in.write_text(acm_lab.hub.kubeconfig("admin"))
    monkeypatch.setenv("KUBECONFIG", f"{tmp_path / 'absent'}:{logged_in}")
    result = cli("--root", acm_lab.root, "acm", "import", "ocp-sno2")
    assert result.code == 0, result.err
    assert (
        f"the hub ocp-sno1's credentials are not in Vault: using {logged_in} as the hub's kubeconfig; "
        f"it points at {acm_lab.hub.url}" in " ".join(result.err.split())
    )
    assert acm_lab.hub.store.find(*MC, "ocp-sno2") is not None


def test_no_hub_configured_but_logged_in_with_oc(acm_lab: AcmLab, cli: CliRunner, isolated_env: Path) -> None:
    config = acm_lab.root / "config" / "site-config.yaml"
    config.write_text(config.read_text().replace("hub_cluster: ocp-sno1", "hub_cluster: ''"))
    (isolated_env / ".kube").mkdir()
    (isolated_env / ".kube" / "config").write_text(acm_lab.hub.kubeconfig("admin"))
    result = cli("--root", acm_lab.root, "acm", "import", "ocp-sno2")
    assert result.code == 0, result.err
    assert f"no hub is configured: using {isolated_env / '.kube' / 'config'}" in " ".join(result.err.split())
    assert acm_lab.hub.store.find(*MC, "ocp-sno2") is not None
