"""GitOps on an installed cluster: the OpenShift GitOps operator and its Argo CD, then the root Application."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from proxshift.config.post_install import GitopsConfig
from proxshift.config.project import Project
from proxshift.engine.connections import Notify, ignore, vault_for
from proxshift.engine.post_install import needs, read_item

if TYPE_CHECKING:
    from proxshift.clients.kube import Kube
    from proxshift.clients.olm import Operator
    from proxshift.secret import Secret

Report = Callable[[str], None]
REPO_KEYS = (("username", "password"), ("ssh_private_key",))
REPO_HINT = (
    "write the repository's credentials there: vault kv put -mount=<mount> <path> username=<user> "
    "password=<token>, or ssh_private_key=@<key file> (see docs/gitops.md)"
)


def gitops_operator(config: GitopsConfig) -> Operator:
    from proxshift.clients import gitops
    from proxshift.clients.olm import Operator

    return Operator(
        gitops.PACKAGE, gitops.OPERATOR_NAMESPACE, config.channel, config.source, gitops.OPERATOR_NAMESPACE_LABELS
    )


def gitops_plan(config: GitopsConfig) -> dict[str, Any]:
    """What the gitops phase applies and waits for (nothing is read)."""
    from proxshift.clients import gitops

    documents = gitops_operator(config).documents()
    if config.cluster_admin:
        documents.append(gitops.cluster_admin_binding())
    return {
        "documents": documents,
        "waits": [
            f"Subscription {gitops.OPERATOR_NAMESPACE}/{gitops.PACKAGE}: installedCSV, then its CSV Succeeded",
            *(f"CRD {name} Established" for name in gitops.CRDS),
            f"ArgoCD {gitops.NAMESPACE}/{gitops.NAMESPACE} Available",
        ],
    }


def install_gitops(kube: Kube, config: GitopsConfig, timeout: float, poll: float, report: Report) -> None:
    """Subscribe, wait for the CSV (failing fast), the CRDs and the default Argo CD; bind the controller to
    cluster-admin when asked (and remove proxshift's binding when no longer asked)."""
    from proxshift.clients import gitops, olm

    operator = gitops_operator(config)
    olm.apply_all(kube, operator.documents(), report)
    olm.wait_installed(kube, operator, timeout, poll, report)
    olm.wait_crds(kube, gitops.CRDS, timeout, poll, report)
    gitops.wait_argocd(kube, timeout, poll)
    report(f"ArgoCD {gitops.NAMESPACE}/{gitops.NAMESPACE}: Available")
    binding = gitops.cluster_admin_binding()
    if config.cluster_admin:
        olm.apply_all(kube, [binding], report)
    elif kube.get(binding["apiVersion"], binding["kind"], binding["metadata"]["name"]) is not None:
        kube.delete(binding["apiVersion"], binding["kind"], binding["metadata"]["name"])
        report(f"{olm.describe(binding)}: deleted (cluster_admin is false)")


def _repo_credentials(project: Project, config: GitopsConfig, notify: Notify) -> dict[str, Secret]:
    """username + password, or sshPrivateKey, from the Vault item repo_credentials."""
    assert config.repo_credentials is not None  # noqa: S101 - only called when configured
    vault = vault_for(project, notify)
    where, values = read_item(vault, config.repo_credentials, "the Git repository's credentials", REPO_HINT)
    chosen = needs(values, where, *REPO_KEYS)
    if "ssh_private_key" in chosen:
        return {"sshPrivateKey": chosen["ssh_private_key"]}
    return chosen


def apps_documents(
    project: Project, cluster: str, config: GitopsConfig, notify: Notify = ignore, *, redacted: bool = False
) -> list[dict[str, Any]]:
    """The repository Secret (with credentials) and the root Application. `redacted`: for --dry-run, the
    credentials' keys are named, their values never read."""
    from proxshift.clients import gitops

    assert config.repo_url is not None  # noqa: S101 - the phase is not configured without it
    documents = []
    if config.repo_credentials:
        if redacted:
            secret = gitops.repo_secret(config.repo_url, {})
            secret["stringData"]["<credentials>"] = (
                f"<redacted: username + password, or sshPrivateKey, from {config.repo_credentials}>"
            )
        else:
            secret = gitops.repo_secret(config.repo_url, _repo_credentials(project, config, notify))
        documents.append(secret)
    documents.append(gitops.root_application(cluster, config.repo_url, config.revision, config.path))
    return documents


def apps_plan(project: Project, cluster: str, config: GitopsConfig) -> dict[str, Any]:
    from proxshift.clients import gitops

    wait = (
        f"Application {gitops.NAMESPACE}/root-{cluster} Synced and Healthy (up to {config.wait_healthy})"
        if config.wait_seconds
        else "none (wait_healthy: 0)"
    )
    return {"documents": apps_documents(project, cluster, config, redacted=True), "waits": [wait]}


def bootstrap_apps(
    project: Project, cluster: str, kube: Kube, config: GitopsConfig, poll: float, report: Report, notify: Notify
) -> None:
    """The repository Secret and the root Application; then, with wait_healthy, Synced and Healthy."""
    from proxshift.clients import gitops, olm

    olm.apply_all(kube, apps_documents(project, cluster, config, notify), report)
    if config.wait_seconds:
        gitops.wait_healthy(kube, f"root-{cluster}", config.wait_seconds, poll)
        report(f"Application {gitops.NAMESPACE}/root-{cluster}: Synced, Healthy")
