"""OpenShift GitOps (Argo CD) on a cluster: the operator's subscription, its instance, the root Application.

Only what proxshift applies and waits for; the objects' shapes follow the GitOps operator's defaults and
the gitops-standards-repo-template's root Application (docs/gitops.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from proxshift.clients.kube import Kube, until
from proxshift.errors import OperationError
from proxshift.secret import Secret

APPS = "argoproj.io/v1alpha1"
ARGOCD = ("argoproj.io/v1beta1", "ArgoCD")
APPLICATION = (APPS, "Application")
NAMESPACE = "openshift-gitops"
OPERATOR_NAMESPACE = "openshift-gitops-operator"
PACKAGE = "openshift-gitops-operator"  # subscribed to through OLM (clients/olm.py), by the engine
CRDS = ("applications.argoproj.io", "appprojects.argoproj.io", "argocds.argoproj.io")
CONTROLLER = "openshift-gitops-argocd-application-controller"
REPO_SECRET_NAME = "proxshift-gitops-repo"  # noqa: S105 - an object name, not a password
IN_CLUSTER = "https://kubernetes.default.svc"
HINT = "see the ArgoCD and its pods in namespace openshift-gitops"


OPERATOR_NAMESPACE_LABELS = {"openshift.io/cluster-monitoring": "true"}  # as redhat-cop/gitops-catalog has it


def wait_argocd(kube: Kube, timeout: float, poll: float) -> None:
    """The operator's default instance, ArgoCD openshift-gitops, reports status.phase Available."""

    def available() -> bool:
        instance = kube.get(*ARGOCD, NAMESPACE, NAMESPACE) or {}
        return (instance.get("status") or {}).get("phase") == "Available"

    until(f"ArgoCD {NAMESPACE}/{NAMESPACE} to be Available", available, timeout, poll, HINT)


def cluster_admin_binding() -> dict[str, Any]:
    """Lets Argo CD's application controller manage anything (gitops-operator #169): only when asked."""
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": f"{CONTROLLER}-cluster-admin"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
        "subjects": [{"kind": "ServiceAccount", "name": CONTROLLER, "namespace": NAMESPACE}],
    }


def repo_secret(url: str, credentials: Mapping[str, Secret]) -> dict[str, Any]:
    """The repository Secret Argo CD reads a private repo with: username + password, or sshPrivateKey.
    The document holds the revealed values: it goes to the cluster and nowhere else."""
    values = {"type": "git", "url": url, **{key: value.reveal() for key, value in credentials.items()}}
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": REPO_SECRET_NAME,
            "namespace": NAMESPACE,
            "labels": {"argocd.argoproj.io/secret-type": "repository"},
        },
        "type": "Opaque",
        "stringData": values,
    }


def root_application(cluster: str, repo_url: str, revision: str, path: str) -> dict[str, Any]:
    """The Application that brings everything else from the repository (the app-of-apps)."""
    return {
        "apiVersion": APPS,
        "kind": "Application",
        "metadata": {"name": f"root-{cluster}", "namespace": NAMESPACE},
        "spec": {
            "project": "default",
            "source": {"repoURL": repo_url, "targetRevision": revision, "path": path},
            "destination": {"server": IN_CLUSTER, "namespace": NAMESPACE},
            "syncPolicy": {
                "automated": {"prune": True, "selfHeal": True},
                "syncOptions": ["CreateNamespace=true"],
            },
        },
    }


def application_state(app: Mapping[str, Any] | None) -> tuple[str, str]:
    """(sync status, health status), Unknown for what it does not report yet."""
    status = (app or {}).get("status") or {}
    sync = (status.get("sync") or {}).get("status") or "Unknown"
    return sync, (status.get("health") or {}).get("status") or "Unknown"


def wait_healthy(kube: Kube, name: str, timeout: float, poll: float) -> None:
    """Synced and Healthy; on timeout an error with the Application's state and conditions."""
    last: dict[str, Any] = {}

    def healthy() -> bool:
        last.clear()
        last.update(kube.get(*APPLICATION, name, NAMESPACE) or {})
        return application_state(last) == ("Synced", "Healthy")

    try:
        until(f"Application {NAMESPACE}/{name} to be Synced and Healthy", healthy, timeout, poll, HINT)
    except OperationError as exc:
        sync, health = application_state(last)
        status = last.get("status") or {}
        said = [f"{c.get('type')}: {c.get('message')}" for c in status.get("conditions") or []]
        if (status.get("health") or {}).get("message"):
            said.append(f"health: {status['health']['message']}")
        raise OperationError(
            f"{exc.message} (it is {sync}, {health}{'; ' + '; '.join(said) if said else ''})",
            f"see the Application in Argo CD (namespace {NAMESPACE}); set post_install.gitops.wait_healthy: 0 "
            "to not wait",
        ) from None
