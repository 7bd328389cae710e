"""What the phases after `acm` share: the cluster's API, its post-install settings, Vault items they read."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from proxshift.config.post_install import PostInstall, post_install_for
from proxshift.config.project import Project
from proxshift.engine.connections import Notify, ignore, vault_for
from proxshift.errors import OperationError

if TYPE_CHECKING:
    from proxshift.clients.kube import Kube
    from proxshift.clients.vault import Vault
    from proxshift.secret import Secret


class NoKubeconfig(OperationError):
    """Neither Vault nor the install directory holds the cluster's kubeconfig: it was never installed here."""


REFUSED_HINT = "the kubeconfig proxshift stored is cluster-admin's; was the cluster rebuilt since?"


def settings_for(project: Project, cluster_name: str) -> PostInstall:
    """The cluster's post_install: the site config's, with the cluster's own overrides."""
    return post_install_for(project.settings.post_install, project.cluster(cluster_name))


def kubeconfig_for(project: Project, cluster_name: str, notify: Notify = ignore) -> Secret:
    """The kubeconfig stored in Vault (the one `restore` keeps up to date); the install directory's only
    when Vault holds nothing for the cluster. A failing Vault is an error."""
    from proxshift.clients.vault import KvPath
    from proxshift.secret import Secret

    base = KvPath.parse(project.settings.credentials_path)
    stored = vault_for(project, notify).find_credentials(base, cluster_name)
    if stored is not None:
        return stored["kubeconfig"]
    local = project.paths.install_dir(cluster_name).kubeconfig
    if local.is_file():
        return Secret(local.read_text(), str(local))
    raise NoKubeconfig(
        f"no kubeconfig for {cluster_name}: nothing at {base.child(cluster_name)}, and "
        f"{project.paths.shown(local)} does not exist",
        f"provision {cluster_name} first, or run 'proxshift credentials {cluster_name}'",
    )


def cluster_api(project: Project, cluster_name: str, notify: Notify = ignore) -> Kube:
    """The cluster's API for `backup`, `restore` and deprovision's backup; its changes go to the audit trail."""
    from proxshift.engine.audited import AuditedKube

    return AuditedKube(kubeconfig_for(project, cluster_name, notify).reveal(), cluster_name, hint=REFUSED_HINT)


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
