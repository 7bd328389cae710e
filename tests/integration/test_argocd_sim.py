"""Simulated OpenShift GitOps over HTTPS: the default instance, the root Application, repo credentials."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.integration.kube import eventually
from tests.integration.post_install import PostInstallLab

APP = ("argoproj.io/v1alpha1", "Application")
REPO = "https://git.example.com/fleet.git"


@pytest.fixture
def gitops(post_install: PostInstallLab) -> PostInstallLab:
    post_install.subscribe("openshift-gitops-operator", "openshift-gitops-operator", "latest", "redhat-operators")
    post_install.installed_csv("openshift-gitops-operator", "openshift-gitops-operator")

    def available() -> bool:
        argocd = post_install.get("argoproj.io/v1beta1", "ArgoCD", "openshift-gitops", "openshift-gitops") or {}
        return (argocd.get("status") or {}).get("phase") == "Available"

    eventually(available, what="ArgoCD openshift-gitops Available")
    return post_install


def _root(name: str = "root-ocp", automated: bool = True, **source: Any) -> dict[str, Any]:
    sync: dict[str, Any] = {"syncOptions": ["CreateNamespace=true"]}
    if automated:
        sync["automated"] = {"prune": True, "selfHeal": True}
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": name, "namespace": "openshift-gitops"},
        "spec": {
            "project": "default",
            "source": {"repoURL": REPO, "targetRevision": "main", "path": "clusters/ocp", **source},
            "destination": {"server": "https://kubernetes.default.svc", "namespace": "fleet-apps"},
            "syncPolicy": sync,
        },
    }


def _status(lab: PostInstallLab, name: str = "root-ocp") -> dict[str, Any]:
    return dict((lab.get(*APP, name, "openshift-gitops") or {}).get("status") or {})


def _until(lab: PostInstallLab, sync: str, health: str, name: str = "root-ocp") -> dict[str, Any]:
    def reached() -> dict[str, Any] | None:
        status = _status(lab, name)
        got = ((status.get("sync") or {}).get("status"), (status.get("health") or {}).get("status"))
        return status if got == (sync, health) else None

    return eventually(reached, what=f"{name} {sync}/{health}")


def test_the_default_instance(gitops: PostInstallLab) -> None:
    assert gitops.get("argoproj.io/v1alpha1", "AppProject", "default", "openshift-gitops")
    assert gitops.get("v1", "ServiceAccount", "openshift-gitops-argocd-application-controller", "openshift-gitops")
    server = gitops.get("apps/v1", "Deployment", "openshift-gitops-server", "openshift-gitops")
    assert server is not None and server["status"]["availableReplicas"] == 1


def test_root_application_goes_synced_and_healthy_after_a_while(gitops: PostInstallLab) -> None:
    gitops.argocd.sync_seconds = 1.5  # long enough to see it OutOfSync first, even on a busy machine
    gitops.apply(_root())
    first = _until(gitops, "OutOfSync", "Progressing")
    assert "revision" not in first["sync"]
    status = _until(gitops, "Synced", "Healthy")
    assert status["operationState"]["phase"] == "Succeeded"
    assert len(status["sync"]["revision"]) == 40
    assert gitops.get("v1", "Namespace", "fleet-apps") is not None  # CreateNamespace=true
    gitops.argocd.degrade("root-ocp", "Deployment fleet/web has not become available")
    degraded = _until(gitops, "Synced", "Degraded")
    assert degraded["health"]["message"] == "Deployment fleet/web has not become available"
    gitops.argocd.recover("root-ocp")
    _until(gitops, "Synced", "Healthy")


def test_a_changed_source_syncs_again(gitops: PostInstallLab) -> None:
    gitops.argocd.sync_seconds = 0
    gitops.apply(_root())
    before = _until(gitops, "Synced", "Healthy")["sync"]["revision"]
    gitops.argocd.sync_seconds = 1.5
    gitops.apply(_root(targetRevision="release-2"))
    _until(gitops, "OutOfSync", "Progressing")
    after = _until(gitops, "Synced", "Healthy")["sync"]["revision"]
    assert after != before


def test_invalid_specs_and_manual_sync(gitops: PostInstallLab) -> None:
    broken = _root("broken")
    del broken["spec"]["source"]["repoURL"]
    gitops.apply(broken)
    gitops.apply({**_root("elsewhere"), "spec": {**_root()["spec"], "project": "nope"}})
    gitops.apply(_root("manual", automated=False))
    invalid = _until(gitops, "Unknown", "Unknown", "broken")
    assert invalid["conditions"][0]["type"] == "InvalidSpecError"
    assert "repoURL" in invalid["conditions"][0]["message"]
    other = _until(gitops, "Unknown", "Unknown", "elsewhere")
    assert other["conditions"][0]["message"] == "Application referencing project nope which does not exist"
    _until(gitops, "OutOfSync", "Missing", "manual")
    time.sleep(0.5)
    _until(gitops, "OutOfSync", "Missing", "manual")  # Argo CD does not sync it by itself


def test_a_private_repo_needs_its_repository_secret(gitops: PostInstallLab) -> None:
    gitops.argocd.private_repo(REPO, username="fleet", password="s3cret")
    gitops.apply(_root())
    refused = _until(gitops, "Unknown", "Missing")
    assert refused["conditions"][0]["type"] == "ComparisonError"
    assert "authentication required" in refused["conditions"][0]["message"]
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": "proxshift-gitops-repo",
            "namespace": "openshift-gitops",
            "labels": {"argocd.argoproj.io/secret-type": "repository"},
        },
        "stringData": {"type": "git", "url": REPO, "username": "fleet", "password": "wrong"},
    }
    gitops.apply(secret)
    eventually(lambda: "authentication failed" in str(_status(gitops).get("conditions")), what="authentication failed")
    stored = gitops.kube.store.find("v1", "Secret", "proxshift-gitops-repo", "openshift-gitops")
    assert stored is not None and "stringData" not in stored and set(stored["data"]) >= {"url", "password"}
    gitops.apply({**secret, "stringData": {**secret["stringData"], "password": "s3cret"}})
    status = _until(gitops, "Synced", "Healthy")
    assert "conditions" not in status
