"""The GitOps phases in the lab: `provision --from gitops` on the hub, once provisioned."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import hvac

from proxshift.lab.lab import Lab
from tests.conftest import CliRunner
from tests.e2e.conftest import until_gone

FAST = ("--poll-interval", "0.1")
REPO = "https://git.example.com/fleet.git"
POST_INSTALL = f"""
post_install:
  gitops:
    repo_url: {REPO}
    repo_credentials: secrets/data/openshift/gitops-repo
    wait_healthy: 1m
  eso: {{}}
"""


def _vault(lab: Lab) -> hvac.Client:
    assert lab.bao is not None
    return hvac.Client(url=lab.bao.addr, token=lab.bao.root_token)


def _gitops_lab(lab: Lab) -> str:
    """post_install in the lab's site config; the repo's credentials and ESO's own read-only token in Vault."""
    with (lab.directory / "site-config.yaml").open("a") as config:
        config.write(POST_INSTALL)
    vault = _vault(lab)
    policy = f"eso-read-{uuid.uuid4().hex[:6]}"
    vault.sys.create_or_update_policy(name=policy, policy='path "secrets/data/apps/*" { capabilities = ["read"] }')
    token = str(vault.auth.token.create(policies=[policy], ttl="1h")["auth"]["client_token"])
    put = vault.secrets.kv.v2.create_or_update_secret
    put(path="openshift/eso/ocp-sno1", mount_point="secrets", secret={"token": token})
    put(path="openshift/gitops-repo", mount_point="secrets", secret={"username": "fleet", "password": "pa55-e2e"})
    lab.clusters["ocp-sno1"].argocd.private_repo(REPO, username="fleet", password="pa55-e2e")
    return token


def test_provision_from_gitops_on_the_hub(predecessor_root: Path, lab: Lab, cli: CliRunner) -> None:
    # The phases after acm run on a cluster whose install is recorded complete (wait), as labels and storage.
    installed = cli("--root", predecessor_root, "provision", "ocp-sno1", *FAST)
    assert installed.code == 0, installed.err
    token = _gitops_lab(lab)
    plan = cli("--root", predecessor_root, "provision", "ocp-sno1", "--from", "gitops", "--dry-run")
    assert plan.code == 0, plan.err
    assert "== gitops" in plan.out and "== eso" in plan.out and "== apps" in plan.out
    assert "pa55-e2e" not in plan.out + plan.err and token not in plan.out + plan.err

    result = cli("--root", predecessor_root, "provision", "ocp-sno1", "--from", "gitops", *FAST)
    assert result.code == 0, result.err
    for phase in ("gitops", "eso", "apps"):
        assert re.search(rf"✓ {phase}\s+done", result.err), phase
    store = lab.clusters["ocp-sno1"].kube.store
    app = store.find("argoproj.io/v1alpha1", "Application", "root-ocp-sno1", "openshift-gitops")
    assert app is not None and app["status"]["health"]["status"] == "Healthy"
    assert app["spec"]["source"]["path"] == "clusters/ocp-sno1"
    ready = store.find("external-secrets.io/v1", "ClusterSecretStore", "vault-backend")
    assert ready is not None and {c["type"]: c["status"] for c in ready["status"]["conditions"]}["Ready"] == "True"
    everything = result.out + result.err
    assert "pa55-e2e" not in everything and token not in everything and lab.bao is not None
    assert lab.bao.root_token not in everything

    again = cli("--root", predecessor_root, "provision", "ocp-sno1", "--only", "eso", *FAST)
    assert again.code == 0, again.err
    assert "ClusterSecretStore vault-backend: unchanged" in again.err


BACKUP = """
post_install:
  backup:
    secrets: [{name: wildcard-tls, namespace: openshift-ingress}]
    cluster_certs: true
"""


def test_certificates_survive_a_rebuild(predecessor_root: Path, lab: Lab, cli: CliRunner) -> None:
    with (lab.directory / "site-config.yaml").open("a") as config:
        config.write(BACKUP)
    first = cli("--root", predecessor_root, "provision", "ocp-sno2", *FAST)
    assert first.code == 0, first.err
    assert "nothing to restore: no backups of ocp-sno2 in secrets/data/openshift/backups/ocp-sno2" in first.err
    store = lab.clusters["ocp-sno2"].kube.store
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "wildcard-tls", "namespace": "openshift-ingress"},
        "type": "kubernetes.io/tls",
        "data": {"tls.crt": "Y2VydA==", "tls.key": "a2V5LW5vdC1zaG93bg=="},
    }
    store.apply(secret)
    store.apply(
        {
            "apiVersion": "operator.openshift.io/v1",
            "kind": "IngressController",
            "metadata": {"name": "default", "namespace": "openshift-ingress-operator"},
            "spec": {"defaultCertificate": {"name": "wildcard-tls"}},
        }
    )
    old_uid = store.find("v1", "Secret", "wildcard-tls", "openshift-ingress")["metadata"]["uid"]

    gone = cli("--root", predecessor_root, "deprovision", "ocp-sno2", "--yes")
    assert gone.code == 0, gone.err
    assert "Secret openshift-ingress/wildcard-tls (ingress) -> secrets/data/openshift/backups/ocp-sno2/" in gone.err
    assert "written (version 1)" in gone.err and "a2V5LW5vdC1zaG93bg" not in gone.out + gone.err

    until_gone(lab, "ocp-sno2")
    again = cli("--root", predecessor_root, "provision", "ocp-sno2", *FAST)
    assert again.code == 0, again.err
    store = lab.clusters["ocp-sno2"].kube.store  # a new cluster: a fresh API
    restored = store.find("v1", "Secret", "wildcard-tls", "openshift-ingress")
    assert restored is not None and restored["data"] == secret["data"] and restored["metadata"]["uid"] != old_uid
    ingress = store.find("operator.openshift.io/v1", "IngressController", "default", "openshift-ingress-operator")
    assert ingress["spec"]["defaultCertificate"] == {"name": "wildcard-tls"}
    assert "IngressController default: serves openshift-ingress/wildcard-tls" in again.err

    plan = cli("--root", predecessor_root, "deprovision", "ocp-sno2", "--dry-run")
    assert plan.code == 0, plan.err
    assert plan.out.startswith("backup     the configured Secrets, first, to Vault at secrets/data/openshift/backups/")
    kept = cli("--root", predecessor_root, "deprovision", "ocp-sno2", "--no-backup", "--dry-run")
    assert kept.code == 0, kept.err
    assert "backup" not in kept.out and "wildcard-tls" not in kept.err + kept.out
