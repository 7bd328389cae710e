"""Plays the OpenShift GitOps operator and Argo CD on a cluster's API emulator.

- Once a CSV `openshift-gitops-operator.*` is Succeeded (see olm_sim), the operator creates its
  default instance: Namespace openshift-gitops, ArgoCD `openshift-gitops` (argoproj.io/v1beta1),
  AppProject `default`, ServiceAccount `openshift-gitops-argocd-application-controller`.
- Every ArgoCD: Deployments `<name>-server`, `-repo-server`, `-redis`, `-applicationset-controller`,
  Available and `status.phase: Available` after `ready_seconds` (phase Pending before).
- Every Application in a namespace with an Available ArgoCD: an invalid spec (no source repoURL,
  no path/chart/ref, no destination, an unknown project) gets condition InvalidSpecError; a repo
  made private with `private_repo` needs a Secret labelled argocd.argoproj.io/secret-type:
  repository (or repo-creds, by URL prefix) with its url and credentials, else ComparisonError;
  with `spec.syncPolicy.automated`, `sync_seconds` after it was created or changed it is
  `status.sync.status: Synced`, `status.health.status: Healthy` (operationState Succeeded) and
  its destination namespace exists with CreateNamespace=true; without automated sync it stays
  OutOfSync / Missing, as Argo CD leaves it. `degrade` makes one Degraded (health message given).
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from proxshift.lab.controller import Controller, csv_installed, now
from proxshift.lab.kubeapi import KubeApiServer, crd_manifest

GROUP = "argoproj.io"
APPS = f"{GROUP}/v1alpha1"
ARGOCD = f"{GROUP}/v1beta1"
NAMESPACE = "openshift-gitops"
OPERATOR_CSV = "openshift-gitops-operator."
REPO_LABEL = "argocd.argoproj.io/secret-type"

CRDS = (
    crd_manifest(GROUP, "Application", ("v1alpha1",)),
    crd_manifest(GROUP, "AppProject", ("v1alpha1",)),
    crd_manifest(GROUP, "ApplicationSet", ("v1alpha1",)),
    crd_manifest(GROUP, "ArgoCD", ("v1beta1", "v1alpha1"), plural="argocds"),
)
COMPONENTS = ("server", "repo-server", "redis", "applicationset-controller")


def revision(*parts: str) -> str:
    """A stable commit-like hash for a repo and revision."""
    return hashlib.sha1("/".join(parts).encode(), usedforsecurity=False).hexdigest()


class ArgoCdSimulation(Controller):
    name = "argocd"

    def __init__(
        self, kube: KubeApiServer, poll: float = 0.05, ready_seconds: float = 1.0, sync_seconds: float = 1.0
    ) -> None:
        super().__init__(kube, poll)
        self.ready_seconds = ready_seconds
        self.sync_seconds = sync_seconds
        self.degraded: dict[tuple[str, str], str] = {}
        self.private: dict[str, dict[str, str]] = {}

    # -- knobs for tests --------------------------------------------------------------------------

    def degrade(
        self, app: str, message: str = "Deployment has not become available", namespace: str = NAMESPACE
    ) -> None:
        """The Application's resources go unhealthy: health Degraded with this message."""
        self.degraded[(namespace, app)] = message

    def recover(self, app: str, namespace: str = NAMESPACE) -> None:
        self.degraded.pop((namespace, app), None)

    def private_repo(self, url: str, **credentials: str) -> None:
        """Argo CD can read `url` only with a repository Secret for it (with these values, when given:
        username, password, sshPrivateKey)."""
        self.private[url] = dict(credentials)

    # -- the controller -----------------------------------------------------------------------------

    def reconcile(self) -> None:
        if not self.store.served(ARGOCD, "ArgoCD"):
            return
        if csv_installed(self.store, OPERATOR_CSV):
            self._default_instance()
        ready_namespaces = set()
        for instance in self.items(ARGOCD, "ArgoCD"):
            if self._instance(instance):
                ready_namespaces.add(instance["metadata"]["namespace"])
        for app in self.items(APPS, "Application"):
            if app["metadata"]["namespace"] in ready_namespaces:
                self._application(app)

    def _default_instance(self) -> None:
        self.ensure_namespace(NAMESPACE, {"openshift.io/cluster-monitoring": "true"})
        self.store.ensure(
            {
                "apiVersion": ARGOCD,
                "kind": "ArgoCD",
                "metadata": {"name": NAMESPACE, "namespace": NAMESPACE},
                "spec": {
                    "server": {"route": {"enabled": True, "tls": {"termination": "reencrypt"}}},
                    "applicationSet": {},
                    "rbac": {
                        "defaultPolicy": "",
                        "policy": "g, system:cluster-admins, role:admin",
                        "scopes": "[groups]",
                    },
                    "sso": {"provider": "dex", "dex": {"openShiftOAuth": True}},
                },
            }
        )
        self.store.ensure(
            {
                "apiVersion": APPS,
                "kind": "AppProject",
                "metadata": {"name": "default", "namespace": NAMESPACE},
                "spec": {
                    "sourceRepos": ["*"],
                    "destinations": [{"namespace": "*", "server": "*"}],
                    "clusterResourceWhitelist": [{"group": "*", "kind": "*"}],
                },
            }
        )
        for account in ("argocd-application-controller", "argocd-server"):
            self.store.ensure(
                {
                    "apiVersion": "v1",
                    "kind": "ServiceAccount",
                    "metadata": {"name": f"{NAMESPACE}-{account}", "namespace": NAMESPACE},
                }
            )

    def _instance(self, instance: dict[str, Any]) -> bool:
        name, namespace = instance["metadata"]["name"], instance["metadata"]["namespace"]
        ready = self.age(instance) >= self.ready_seconds
        for component in COMPONENTS:
            self.ensure_deployment(f"{name}-{component}", namespace, available=ready)
        state = "Running" if ready else "Pending"
        self.write_status(
            instance,
            {
                "phase": "Available" if ready else "Pending",
                "server": state,
                "repo": state,
                "redis": state,
                "applicationController": state,
                "applicationSetController": state,
                "sso": "Unknown",
                "host": f"{name}-server-{namespace}.apps.lab.invalid",
            },
        )
        return ready

    # -- Applications -------------------------------------------------------------------------------------

    def _application(self, app: dict[str, Any]) -> None:
        spec = app.get("spec") or {}
        namespace = app["metadata"]["namespace"]
        source: dict[str, Any] = spec.get("source") or next(iter(spec.get("sources") or []), {})
        destination = spec.get("destination") or {}
        invalid = self._invalid(spec, source, destination, namespace)
        if invalid:
            self.write_status(app, _status("Unknown", "Unknown", conditions=[_condition("InvalidSpecError", invalid)]))
            return
        denied = self._repo_denied(source.get("repoURL", ""), namespace)
        if denied:
            message = (
                "Failed to load target state: failed to generate manifest for source 1 of 1: rpc error: code = "
                f"Unknown desc = failed to list refs: {denied}"
            )
            self.write_status(app, _status("Unknown", "Missing", conditions=[_condition("ComparisonError", message)]))
            return
        automated = (spec.get("syncPolicy") or {}).get("automated") is not None
        generation = str(app["metadata"].get("generation", 1))
        if not automated or self.age(app, f"sync-{generation}") < self.sync_seconds:
            self.write_status(
                app, _status("OutOfSync", "Missing" if not automated else "Progressing", source, destination)
            )
            return
        if "CreateNamespace=true" in ((spec.get("syncPolicy") or {}).get("syncOptions") or []):
            target = destination.get("namespace")
            if target:
                self.ensure_namespace(target)
        commit = revision(source.get("repoURL", ""), source.get("targetRevision") or "HEAD", source.get("path") or "")
        degraded = self.degraded.get((namespace, app["metadata"]["name"]))
        health = {"status": "Degraded", "message": degraded} if degraded else {"status": "Healthy"}
        status = _status("Synced", health, source, destination, commit)
        status["operationState"] = {
            "phase": "Succeeded",
            "message": "successfully synced (all tasks run)",
            "operation": {"sync": {"revision": commit}, "initiatedBy": {"automated": True}},
            "syncResult": {"revision": commit, "source": source},
            "startedAt": now(),
            "finishedAt": now(),
        }
        status["history"] = [{"id": 0, "revision": commit, "source": source, "deployedAt": now()}]
        self.write_status(app, status)

    def _invalid(
        self, spec: dict[str, Any], source: dict[str, Any], destination: dict[str, Any], namespace: str
    ) -> str:
        if not source.get("repoURL") or not any(source.get(k) is not None for k in ("path", "chart", "ref")):
            return "spec.source.repoURL and either spec.source.path, spec.source.chart, or spec.source.ref are required"
        if not destination.get("server") and not destination.get("name"):
            return "Destination server missing from app spec"
        project = spec.get("project") or ""
        if self.store.find(APPS, "AppProject", project, namespace) is None:
            return f"Application referencing project {project} which does not exist"
        return ""

    def _repo_denied(self, url: str, namespace: str) -> str:
        """Why Argo CD cannot read a private repo ('' when it can)."""
        if url not in self.private:
            return ""
        wanted = self.private[url]
        secrets = self.store.list(self.store.type_of("v1", "Secret"), namespace, REPO_LABEL)
        for secret in secrets:
            kind = (secret["metadata"].get("labels") or {}).get(REPO_LABEL)
            data = {k: base64.b64decode(v).decode(errors="replace") for k, v in (secret.get("data") or {}).items()}
            matches = data.get("url") == url if kind == "repository" else url.startswith(data.get("url") or "\0")
            if kind not in ("repository", "repo-creds") or not matches:
                continue
            has_credentials = ("username" in data and "password" in data) or "sshPrivateKey" in data
            if has_credentials and all(data.get(k) == v for k, v in wanted.items()):
                return ""
            return "authentication failed"
        return "authentication required: Repository not found."


def _condition(kind: str, message: str) -> dict[str, Any]:
    return {"type": kind, "message": message, "lastTransitionTime": now()}


def _status(
    sync: str,
    health: str | dict[str, Any],
    source: dict[str, Any] | None = None,
    destination: dict[str, Any] | None = None,
    commit: str = "",
    conditions: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    status: dict[str, Any] = {
        "sync": {"status": sync, "comparedTo": {"source": source or {}, "destination": destination or {}}},
        "health": health if isinstance(health, dict) else {"status": health},
        "sourceType": "Directory",
        "summary": {},
        "reconciledAt": now(),
    }
    if commit:
        status["sync"]["revision"] = commit
    if conditions:
        status["conditions"] = conditions
    return status
