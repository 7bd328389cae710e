"""engine/gitops_flow.py against the API emulator's OLM and Argo CD simulations, with repo credentials in OpenBao."""

from __future__ import annotations

import base64
import time

import pytest

from proxshift.config.post_install import GitopsConfig
from proxshift.engine.gitops_flow import apps_plan, bootstrap_apps, gitops_plan, install_gitops
from proxshift.engine.post_install import settings_for
from proxshift.errors import OperationError
from tests.conftest import ProjectFiles
from tests.integration.conftest import VaultFixture
from tests.integration.gitops import POLL, Lines, cluster_kube, gitops_project
from tests.integration.post_install import PostInstallLab

OLM = "operators.coreos.com"
REPO = "https://git.example.com/fleet.git"
APP = ("argoproj.io/v1alpha1", "Application")


def test_gitops_applies_the_operator_and_waits_for_argo_cd(post_install: PostInstallLab) -> None:
    lines = Lines()
    install_gitops(cluster_kube(post_install), GitopsConfig(), 30, POLL, lines)
    store = post_install.kube.store
    namespace = store.find("v1", "Namespace", "openshift-gitops-operator")
    assert namespace is not None and namespace["metadata"]["labels"] == {"openshift.io/cluster-monitoring": "true"}
    group = store.find(f"{OLM}/v1", "OperatorGroup", "openshift-gitops-operator", "openshift-gitops-operator")
    assert group is not None and group["spec"] == {}
    subscription = store.find(
        f"{OLM}/v1alpha1", "Subscription", "openshift-gitops-operator", "openshift-gitops-operator"
    )
    assert subscription is not None and subscription["spec"] == {
        "channel": "latest",
        "installPlanApproval": "Automatic",
        "name": "openshift-gitops-operator",
        "source": "redhat-operators",
        "sourceNamespace": "openshift-marketplace",
    }
    argocd = store.find("argoproj.io/v1beta1", "ArgoCD", "openshift-gitops", "openshift-gitops")
    assert argocd is not None and argocd["status"]["phase"] == "Available"
    assert lines[:3] == [
        "Namespace openshift-gitops-operator: created",
        "OperatorGroup openshift-gitops-operator/openshift-gitops-operator: created",
        "Subscription openshift-gitops-operator/openshift-gitops-operator: created",
    ]
    assert "ClusterServiceVersion openshift-gitops-operator/openshift-gitops-operator.v1.16.1: Succeeded" in lines
    assert lines.ending(": Established") == [
        "CRD applications.argoproj.io: Established",
        "CRD appprojects.argoproj.io: Established",
        "CRD argocds.argoproj.io: Established",
    ]
    assert lines[-1] == "ArgoCD openshift-gitops/openshift-gitops: Available"
    binding = "openshift-gitops-argocd-application-controller-cluster-admin"
    assert store.find("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", binding) is None

    writes = len([r for r in post_install.kube.requests if r[0] != "GET"])
    again = Lines()
    install_gitops(cluster_kube(post_install), GitopsConfig(), 30, POLL, again)
    assert again[:3] == [line.replace("created", "unchanged") for line in lines[:3]]
    assert len([r for r in post_install.kube.requests if r[0] != "GET"]) == writes  # nothing was sent

    install_gitops(cluster_kube(post_install), GitopsConfig(cluster_admin=True), 30, POLL, again)
    crb = store.find("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", binding)
    assert crb is not None and crb["roleRef"]["name"] == "cluster-admin"
    assert crb["subjects"] == [
        {
            "kind": "ServiceAccount",
            "name": "openshift-gitops-argocd-application-controller",
            "namespace": "openshift-gitops",
        }
    ]
    assert f"ClusterRoleBinding {binding}: created" in again
    install_gitops(cluster_kube(post_install), GitopsConfig(cluster_admin=False), 30, POLL, again)
    assert store.find("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", binding) is None
    assert again[-1] == f"ClusterRoleBinding {binding}: deleted (cluster_admin is false)"


def test_resolution_failed_fails_fast_with_olms_message(post_install: PostInstallLab) -> None:
    began = time.monotonic()
    with pytest.raises(OperationError) as failed:
        install_gitops(cluster_kube(post_install), GitopsConfig(channel="gitops-9.9"), 60, POLL, Lines())
    assert time.monotonic() - began < 15
    assert failed.value.message.startswith(
        "Subscription openshift-gitops-operator/openshift-gitops-operator failed: ResolutionFailed: "
        "constraints not satisfiable: no operators found in channel gitops-9.9"
    )
    assert failed.value.exit_code == 1


def test_unhealthy_catalog_and_failed_csv_fail_fast(post_install: PostInstallLab) -> None:
    post_install.olm.catalog_unhealthy("redhat-operators")
    with pytest.raises(OperationError, match="CatalogSourcesUnhealthy: targeted catalogsource"):
        install_gitops(cluster_kube(post_install), GitopsConfig(), 60, POLL, Lines())
    post_install.olm.catalog_unhealthy("redhat-operators", False)
    post_install.kube.store.delete(
        post_install.kube.store.type_of(f"{OLM}/v1alpha1", "Subscription"),
        "openshift-gitops-operator",
        "openshift-gitops-operator",
    )
    post_install.olm.fail_csv("openshift-gitops-operator", "install strategy failed: deployment not ready")
    with pytest.raises(OperationError) as failed:
        install_gitops(cluster_kube(post_install), GitopsConfig(), 60, POLL, Lines())
    assert failed.value.message == (
        "ClusterServiceVersion openshift-gitops-operator/openshift-gitops-operator.v1.16.1 failed: "
        "InstallCheckFailed: install strategy failed: deployment not ready"
    )


def _gitops_ready(post_install: PostInstallLab) -> None:
    install_gitops(cluster_kube(post_install), GitopsConfig(), 30, POLL, Lines())


def test_root_application_with_private_repo_credentials_from_vault(
    post_install: PostInstallLab, vault: VaultFixture, project: ProjectFiles
) -> None:
    vault.put("openshift/gitops-repo", {"username": "fleet", "password": "pa55-not-to-be-shown"})
    post_install.argocd.private_repo(REPO, username="fleet", password="pa55-not-to-be-shown")
    config = {"repo_url": REPO, "repo_credentials": f"{vault.mount}/data/openshift/gitops-repo", "wait_healthy": "30s"}
    loaded = gitops_project(project, vault, {"gitops": config})
    settings = settings_for(loaded, "sno").gitops
    assert settings is not None
    _gitops_ready(post_install)
    lines = Lines()
    bootstrap_apps(loaded, "sno", cluster_kube(post_install), settings, POLL, lines, lines)
    store = post_install.kube.store
    secret = store.find("v1", "Secret", "proxshift-gitops-repo", "openshift-gitops")
    assert secret is not None
    assert secret["metadata"]["labels"] == {"argocd.argoproj.io/secret-type": "repository"}
    assert {k: base64.b64decode(v).decode() for k, v in secret["data"].items()} == {
        "type": "git",
        "url": REPO,
        "username": "fleet",
        "password": "pa55-not-to-be-shown",
    }
    app = store.find(*APP, "root-sno", "openshift-gitops")
    assert app is not None and app["spec"] == {
        "project": "default",
        "source": {"repoURL": REPO, "targetRevision": "main", "path": "clusters/sno"},
        "destination": {"server": "https://kubernetes.default.svc", "namespace": "openshift-gitops"},
        "syncPolicy": {"automated": {"prune": True, "selfHeal": True}, "syncOptions": ["CreateNamespace=true"]},
    }
    assert app["status"]["sync"]["status"] == "Synced" and app["status"]["health"]["status"] == "Healthy"
    assert lines == [
        "Secret openshift-gitops/proxshift-gitops-repo: created",
        "Application openshift-gitops/root-sno: created",
        "Application openshift-gitops/root-sno: Synced, Healthy",
    ]
    plan = apps_plan(loaded, "sno", settings)
    assert "pa55" not in repr(plan) and set(plan["documents"][0]["stringData"]) == {"type", "url", "<credentials>"}
    again = Lines()
    bootstrap_apps(loaded, "sno", cluster_kube(post_install), settings, POLL, again, again)
    assert again[:2] == [
        "Secret openshift-gitops/proxshift-gitops-repo: unchanged",
        "Application openshift-gitops/root-sno: unchanged",
    ]


def test_ssh_key_credentials_and_a_degraded_application(
    post_install: PostInstallLab, vault: VaultFixture, project: ProjectFiles
) -> None:
    vault.put("openshift/gitops-ssh", {"ssh_private_key": "-----BEGIN OPENSSH PRIVATE KEY-----\nnot-shown\n"})
    url = "git@git.example.com:fleet.git"
    post_install.argocd.degrade("root-sno", "Deployment web has not become available")
    config = {"repo_url": url, "repo_credentials": f"{vault.mount}/openshift/gitops-ssh", "wait_healthy": "2s"}
    loaded = gitops_project(project, vault, {"gitops": config})
    settings = settings_for(loaded, "sno").gitops
    assert settings is not None
    _gitops_ready(post_install)
    with pytest.raises(OperationError) as failed:
        bootstrap_apps(loaded, "sno", cluster_kube(post_install), settings, POLL, Lines(), Lines())
    assert "timed out after 2 s waiting for Application openshift-gitops/root-sno to be Synced and Healthy" in (
        failed.value.message
    )
    assert "Degraded" in failed.value.message and "Deployment web has not become available" in failed.value.message
    secret = post_install.kube.store.find("v1", "Secret", "proxshift-gitops-repo", "openshift-gitops")
    assert secret is not None and set(secret["data"]) == {"type", "url", "sshPrivateKey"}
    assert "not-shown" not in failed.value.message + str(failed.value.hint)


def test_repo_credentials_without_the_keys_name_the_keys_only(
    post_install: PostInstallLab, vault: VaultFixture, project: ProjectFiles
) -> None:
    vault.put("openshift/gitops-repo", {"user": "fleet", "token": "t0ken-not-shown"})
    config = {"repo_url": REPO, "repo_credentials": f"{vault.mount}/openshift/gitops-repo"}
    loaded = gitops_project(project, vault, {"gitops": config})
    settings = settings_for(loaded, "sno").gitops
    assert settings is not None
    with pytest.raises(OperationError) as failed:
        bootstrap_apps(loaded, "sno", cluster_kube(post_install), settings, POLL, Lines(), Lines())
    assert failed.value.message == (
        f"{vault.mount}/data/openshift/gitops-repo holds neither username + password nor ssh_private_key "
        "(keys there: token, user)"
    )
    assert post_install.kube.store.find(*APP, "root-sno", "openshift-gitops") is None  # nothing was applied


def test_the_gitops_plan_lists_the_objects_and_waits() -> None:
    plan = gitops_plan(GitopsConfig(channel="gitops-1.15", cluster_admin=True))
    assert [d["kind"] for d in plan["documents"]] == [
        "Namespace",
        "OperatorGroup",
        "Subscription",
        "ClusterRoleBinding",
    ]
    assert plan["documents"][2]["spec"]["channel"] == "gitops-1.15"
    assert plan["waits"][-1] == "ArgoCD openshift-gitops/openshift-gitops Available"
