"""ACM for one cluster: which hub, the documents, import and detach."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from proxshift.config.project import Project
from proxshift.engine.connections import Notify, ignore, vault_for
from proxshift.engine.install import cluster_kubeconfig
from proxshift.errors import OperationError, ProxshiftError, UserInputError

if TYPE_CHECKING:
    from proxshift.clients.acm import ImportPlan
    from proxshift.clients.kube import Kube
    from proxshift.secret import Secret


@dataclass
class AcmContext:
    """The hub to talk to and the documents for one cluster, or why nothing is to be done."""

    cluster: str
    hub_name: str | None
    skipped: str | None = None
    plan: ImportPlan | None = None
    hub: Kube | None = None


def _hub_kubeconfig(project: Project, hub_file: Path | None, notify: Notify) -> tuple[str, Secret, str]:
    import os

    from proxshift.clients.vault import KvPath
    from proxshift.secret import Secret

    settings = project.settings
    path = hub_file or (
        Path(os.environ["PROXSHIFT_HUB_KUBECONFIG"]) if os.environ.get("PROXSHIFT_HUB_KUBECONFIG") else None
    )
    if path is not None:
        try:
            return settings.hub_cluster or "hub", Secret(path.read_text(), str(path)), str(path)
        except OSError as exc:
            raise UserInputError(f"cannot read the hub kubeconfig {path}: {exc.strerror}", "check the path") from None
    if not settings.hub_cluster:
        raise UserInputError(
            "no ACM hub is configured",
            "set hub_cluster in the site config, or pass --hub-kubeconfig / PROXSHIFT_HUB_KUBECONFIG",
        )
    base = KvPath.parse(settings.credentials_path)
    try:
        credentials = vault_for(project, notify).read_credentials(base, settings.hub_cluster)
    except OperationError as exc:
        raise OperationError(
            f"cannot get the ACM hub's kubeconfig: {exc.message}",
            f"provision the hub {settings.hub_cluster} first, or point --hub-kubeconfig (provision, acm import) "
            "or PROXSHIFT_HUB_KUBECONFIG at its kubeconfig",
        ) from None
    return settings.hub_cluster, credentials["kubeconfig"], str(base.child(settings.hub_cluster))


def hub_kube(
    project: Project, notify: Notify = ignore, timeout: float = 30.0, hub_file: Path | None = None
) -> tuple[str, Kube]:
    """The hub's name and API (`hub_file`, else as configured); for reading only: not audited."""
    from proxshift.clients.acm import REFUSED_HINT
    from proxshift.clients.kube import Kube
    from proxshift.clients.transport import POLL_RETRY

    hub_name, kubeconfig, _ = _hub_kubeconfig(project, hub_file, notify)
    return hub_name, Kube(kubeconfig.reveal(), f"hub {hub_name}", hint=REFUSED_HINT, timeout=timeout, retry=POLL_RETRY)


def hub_absent(project: Project, cluster_name: str, hub_file: Path | None = None) -> str | None:
    """Why this cluster has no hub to be imported into (it is the hub, or none is configured), or None."""
    import os

    settings = project.settings
    if hub_file is None and settings.hub_cluster == cluster_name:
        return f"{cluster_name} is the ACM hub itself"
    if hub_file is None and not settings.hub_cluster and not os.environ.get("PROXSHIFT_HUB_KUBECONFIG"):
        return "no ACM hub is configured (hub_cluster in the site config, or PROXSHIFT_HUB_KUBECONFIG)"
    return None


def acm_context(
    project: Project,
    cluster_name: str,
    mode: str,
    hub_file: Path | None = None,
    notify: Notify = ignore,
    connect: bool = True,
) -> AcmContext:
    from proxshift.clients.acm import REFUSED_HINT, AddOns, labels_for, render_plan
    from proxshift.engine.audited import AuditedKube

    cluster = project.cluster(cluster_name)
    settings = project.settings
    if settings.hub_cluster == cluster_name and hub_file is None:
        return AcmContext(cluster_name, settings.hub_cluster, skipped=hub_absent(project, cluster_name))
    hub_name, hub_kubeconfig, _ = _hub_kubeconfig(project, hub_file, notify)
    if hub_name == cluster_name:
        return AcmContext(cluster_name, hub_name, skipped=f"{cluster_name} is the ACM hub itself")
    kubeconfig = None
    if mode == "auto":
        try:
            kubeconfig = cluster_kubeconfig(project, cluster_name, notify)
        except ProxshiftError:
            if connect:
                raise
            # A dry run before the ISO exists: the secret will hold the kubeconfig the install creates.
            from proxshift.secret import Secret

            local = project.paths.install_dir(cluster_name).kubeconfig
            kubeconfig = Secret("", f"the kubeconfig {project.paths.shown(local)} will hold")
    labels = labels_for(cluster_name, cluster.vars.clusterset, cluster.vars.acm_labels)
    addons = AddOns(**{k: bool(v) for k, v in settings.acm_addons.items() if k in AddOns.__dataclass_fields__})
    plan = render_plan(cluster_name, labels, addons, kubeconfig, project.paths.root / "templates", mode)
    hub = AuditedKube(hub_kubeconfig.reveal(), f"hub {hub_name}", hint=REFUSED_HINT) if connect else None
    return AcmContext(cluster_name, hub_name, plan=plan, hub=hub)


def acm_import(
    project: Project, context: AcmContext, mode: str, timeout: float, report: Callable[[str], None], poll: float = 2.0
) -> dict[str, str]:
    from proxshift.clients.acm import REFUSED_HINT, import_auto, import_manual
    from proxshift.engine.audited import AuditedKube

    assert context.hub is not None and context.plan is not None  # noqa: S101 - built by acm_context
    if mode == "auto":
        return import_auto(context.hub, context.plan, timeout, poll, report)
    spoke = AuditedKube(cluster_kubeconfig(project, context.cluster).reveal(), context.cluster, hint=REFUSED_HINT)
    return import_manual(context.hub, spoke, context.plan, timeout, poll, report)


def acm_detach(context: AcmContext, timeout: float, report: Callable[[str], None], poll: float = 2.0) -> bool:
    from proxshift.clients.acm import detach

    assert context.hub is not None  # noqa: S101 - built by acm_context
    return detach(context.hub, context.cluster, timeout, poll, report)
