"""What the phases after `acm` share: the cluster's API, its post-install settings, Vault items they read."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from proxshift.config.post_install import PostInstall, post_install_for
from proxshift.config.project import Project
from proxshift.engine.connections import Notify, cluster_kubeconfig, ignore
from proxshift.errors import OperationError

if TYPE_CHECKING:
    from proxshift.clients.kube import Kube
    from proxshift.clients.vault import Vault
    from proxshift.secret import Secret


REFUSED_HINT = "the kubeconfig proxshift stored is cluster-admin's; was the cluster rebuilt since?"


def settings_for(project: Project, cluster_name: str) -> PostInstall:
    """The cluster's post_install: the site config's, with the cluster's own overrides."""
    return post_install_for(project.settings.post_install, project.cluster(cluster_name))


def cluster_api(project: Project, cluster_name: str, notify: Notify = ignore) -> Kube:
    """The cluster's API for `backup`, `restore` and deprovision's backup; its changes go to the audit trail."""
    from proxshift.engine.audited_kube import AuditedKube

    return AuditedKube(cluster_kubeconfig(project, cluster_name, notify)[0].reveal(), cluster_name, hint=REFUSED_HINT)


def read_item(vault: Vault, path: str, what: str, hint: str) -> tuple[str, dict[str, Secret]]:
    """Every key of a Vault item as a Secret (values never shown), and where it was; a missing item is
    an OperationError with `hint`."""
    from proxshift.clients.vault import KvPath
    from proxshift.secret import Secret

    location = KvPath.parse(path)
    try:
        found = vault.read(location)
    except OperationError as exc:
        if exc.message.startswith("no secret at"):
            raise OperationError(f"{what}: {exc.message}", hint) from None
        raise
    values: Mapping[str, object] = found.value
    return str(location), {k: Secret(str(v), f"{k} from {location}") for k, v in values.items()}


def needs(values: Mapping[str, Secret], where: str, *choices: tuple[str, ...]) -> dict[str, Secret]:
    """The first set of keys the item holds entirely; else an error naming the keys there (never a value)."""
    for keys in choices:
        if all(k in values for k in keys):
            return {k: values[k] for k in keys}
    wanted = " nor ".join(" + ".join(keys) for keys in choices)
    raise OperationError(
        f"{where} holds {'neither ' if len(choices) > 1 else 'no '}{wanted} "
        f"(keys there: {', '.join(sorted(values)) or 'none'})",
        "write the keys there (see docs/gitops.md)",
    )
