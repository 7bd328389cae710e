"""ACM for one cluster: which hub, the documents, import and detach."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from proxshift.config.project import Project
from proxshift.engine.connections import Notify, cluster_kubeconfig, ignore, vault_for
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
    spoke_kubeconfig: Callable[[], Secret] | None = None  # the cluster's own (manual import applies with it)


def _hub_kubeconfig(project: Project, hub_file: Path | None, notify: Notify) -> tuple[str, Secret, str]:
    """The hub's kubeconfig: --hub-kubeconfig, PROXSHIFT_HUB_KUBECONFIG, the hub's credentials in Vault, then
    the one `oc login` left (KUBECONFIG, else ~/.kube/config), with a notice naming the server it points at."""
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
    missing: ProxshiftError = UserInputError(
        "no ACM hub is configured",
        "set hub_cluster in the site config, pass --hub-kubeconfig / PROXSHIFT_HUB_KUBECONFIG, or log in to the "
        "hub with oc (KUBECONFIG or ~/.kube/config)",
    )
    if settings.hub_cluster:
        base = KvPath.parse(settings.credentials_path)
        try:
            credentials = vault_for(project, notify).read_credentials(base, settings.hub_cluster)
            return settings.hub_cluster, credentials["kubeconfig"], str(base.child(settings.hub_cluster))
        except OperationError as exc:
            missing = OperationError(
                f"cannot get the ACM hub's kubeconfig: {exc.message}",
                f"provision the hub {settings.hub_cluster} first, point --hub-kubeconfig (provision, acm import) or "
                "PROXSHIFT_HUB_KUBECONFIG at its kubeconfig, or log in to the hub with oc (KUBECONFIG)",
            )
    fallback = _logged_in_kubeconfig()
    if fallback is None:
        raise missing
    text = fallback.read_text()
    context, server = kubeconfig_target(text)
    why = (
        f"the hub {settings.hub_cluster}'s credentials are not in Vault"
        if settings.hub_cluster
        else "no hub is configured"
    )
    notify(f"{why}: using {fallback} as the hub's kubeconfig; it points at {server or 'no server'}")
    return settings.hub_cluster or context or "hub", Secret(text, str(fallback)), str(fallback)


def _logged_in_kubeconfig() -> Path | None:
    """The kubeconfig `oc` and `kubectl` use: the first file of KUBECONFIG, else ~/.kube/config."""
    import os

    listed = [Path(p).expanduser() for p in os.environ.get("KUBECONFIG", "").split(os.pathsep) if p]
    for candidate in listed or [Path.home() / ".kube" / "config"]:
        if candidate.is_file():
            return candidate
    return None


def kubeconfig_target(text: str) -> tuple[str | None, str | None]:
    """A kubeconfig's current context and the API server it points at (None where it does not say)."""
    import yaml

    try:
        data = yaml.safe_load(text) or {}
        current = data.get("current-context")
        contexts = {c.get("name"): c.get("context") or {} for c in data.get("contexts") or []}
        clusters = {c.get("name"): c.get("cluster") or {} for c in data.get("clusters") or []}
        cluster = contexts.get(current, {}).get("cluster") if current else None
        server = clusters.get(cluster, {}).get("server") if cluster else None
    except (yaml.YAMLError, AttributeError, TypeError):
        return None, None
    return (str(current) if current else None), (str(server) if server else None)


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
    kubeconfig_of_cluster: Callable[[], Secret] | None = None,
) -> AcmContext:
    """`kubeconfig_of_cluster`: the cluster's own kubeconfig (default: the stored one, cluster_kubeconfig)."""
    from proxshift.clients.acm import REFUSED_HINT, AddOns, labels_for, render_plan
    from proxshift.engine.audited_kube import AuditedKube

    cluster = project.cluster(cluster_name)
    settings = project.settings
    if settings.hub_cluster == cluster_name and hub_file is None:
        return AcmContext(cluster_name, settings.hub_cluster, skipped=hub_absent(project, cluster_name))
    hub_name, hub_kubeconfig, _ = _hub_kubeconfig(project, hub_file, notify)
    if hub_name == cluster_name:
        return AcmContext(cluster_name, hub_name, skipped=f"{cluster_name} is the ACM hub itself")
    spoke = kubeconfig_of_cluster or (lambda: cluster_kubeconfig(project, cluster_name, notify)[0])
    kubeconfig = None
    if mode == "auto":
        try:
            kubeconfig = spoke()
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
    return AcmContext(cluster_name, hub_name, plan=plan, hub=hub, spoke_kubeconfig=spoke)


def acm_import(
    project: Project, context: AcmContext, mode: str, timeout: float, report: Callable[[str], None], poll: float = 2.0
) -> dict[str, str]:
    from proxshift.clients.acm import REFUSED_HINT, import_auto, import_manual
    from proxshift.engine.audited_kube import AuditedKube

    assert context.hub is not None and context.plan is not None and context.spoke_kubeconfig  # noqa: S101 - acm_context's
    if mode == "auto":
        return import_auto(context.hub, context.plan, timeout, poll, report)
    spoke = AuditedKube(context.spoke_kubeconfig().reveal(), context.cluster, hint=REFUSED_HINT)
    return import_manual(context.hub, spoke, context.plan, timeout, poll, report)


def acm_detach(context: AcmContext, timeout: float, report: Callable[[str], None], poll: float = 2.0) -> bool:
    from proxshift.clients.acm import detach

    assert context.hub is not None  # noqa: S101 - built by acm_context
    return detach(context.hub, context.cluster, timeout, poll, report)
