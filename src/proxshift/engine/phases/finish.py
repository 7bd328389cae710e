"""The phases that finish an installed cluster: labels (on its Nodes), storage (the default StorageClass)
and health (docs/health.md). They talk to the cluster's API with its stored kubeconfig (`ctx.kube()`); `proxshift post`
runs them (with the GitOps phases between them) against a cluster installed earlier."""

from __future__ import annotations

from typing import Any

from proxshift.engine.phases.base import Phase, PhaseContext, not_installed
from proxshift.engine.state import State
from proxshift.errors import ProxshiftError


def _wanted(ctx: PhaseContext) -> dict[str, dict[str, str]]:
    """Each host's Node name (as agent-config names it) and the labels proxshift keeps on it."""
    defaults = ctx.project.settings.post_install
    return {node.name: ctx.cluster.node_labels(defaults, node) for node in ctx.cluster.nodes}


class Labels(Phase):
    name = "labels"
    description = "waits for each host to be a Ready Node, then sets the cluster's and the host's node labels"
    unchanged = "the node labels in the inventory and the site config are unchanged, and the Nodes carry them"

    def not_configured(self, ctx: PhaseContext) -> str | None:
        if not any(_wanted(ctx).values()) and not State(ctx.install_dir.state_file).ever_done(self.name):
            return "no node labels (post_install.node_labels, or node_labels on a host)"
        return not_installed(ctx)  # (labels set earlier may have to go: configured while recorded)

    def input_parts(self, ctx: PhaseContext) -> dict[str, Any]:
        return {"the node labels": _wanted(ctx)}

    def result_gone(self, ctx: PhaseContext) -> str | None:
        from proxshift.clients.openshift import label_change, name_of

        try:
            nodes = {name_of(n): n for n in ctx.kube().list("v1", "Node")}
        except ProxshiftError:
            return None  # cannot tell from here; the run (and health) will say what is wrong
        differ = [n for n, labels in _wanted(ctx).items() if n in nodes and label_change(nodes[n], labels).needed]
        return f"the labels of {', '.join(differ)} differ" if differ else None

    def plan(self, ctx: PhaseContext) -> dict[str, Any]:
        return {
            "labels": [
                f"{node}: " + (", ".join(f"{k}={v}" for k, v in sorted(labels.items())) or "(none: earlier ones go)")
                for node, labels in _wanted(ctx).items()
            ]
        }

    def run(self, ctx: PhaseContext) -> None:
        from proxshift.clients.openshift import apply_labels, wait_for_nodes

        wanted = _wanted(ctx)
        kube = ctx.kube()
        timeout = ctx.cluster.post_install(ctx.project.settings.post_install).node_timeout
        nodes = wait_for_nodes(kube, list(wanted), timeout, ctx.options.wait_poll, lambda m: self.log(ctx, m))
        for name, labels in wanted.items():
            change = apply_labels(kube, nodes[name], labels)
            done = [f"set {k}={v}" for k, v in change.set.items()] + [f"removed {k}" for k in change.removed]
            self.log(ctx, f"{name}: {'; '.join(done) or 'unchanged'}")


class Storage(Phase):
    name = "storage"
    description = "waits for post_install.default_storage_class and makes it the only default StorageClass"
    unchanged = "post_install.default_storage_class is unchanged, and it is still the only default"

    @staticmethod
    def _storage_class(ctx: PhaseContext) -> str | None:
        return ctx.cluster.post_install(ctx.project.settings.post_install).default_storage_class

    def not_configured(self, ctx: PhaseContext) -> str | None:
        return not_installed(ctx) if self._storage_class(ctx) else "no post_install.default_storage_class"

    def input_parts(self, ctx: PhaseContext) -> dict[str, Any]:
        return {"post_install.default_storage_class": self._storage_class(ctx)}

    def result_gone(self, ctx: PhaseContext) -> str | None:
        from proxshift.clients.openshift import STORAGE, is_default, name_of

        try:
            classes = ctx.kube().list(STORAGE, "StorageClass")
        except ProxshiftError:
            return None  # cannot tell from here; the run (and health) will say what is wrong
        defaults = sorted(name_of(c) for c in classes if is_default(c))
        return None if defaults == [self._storage_class(ctx)] else f"the defaults are {', '.join(defaults) or 'none'}"

    def plan(self, ctx: PhaseContext) -> dict[str, Any]:
        return {"default storage class": self._storage_class(ctx)}

    def run(self, ctx: PhaseContext) -> None:
        from proxshift.clients.openshift import make_default, wait_for_storage_class

        name = self._storage_class(ctx)
        assert name is not None  # noqa: S101 - not_configured says so otherwise
        kube = ctx.kube()
        timeout = ctx.cluster.post_install(ctx.project.settings.post_install).storage_class_timeout
        wait_for_storage_class(kube, name, timeout, ctx.options.wait_poll)
        demoted, promoted = make_default(kube, name)
        if demoted:
            self.log(ctx, f"no longer default: {', '.join(demoted)}")
        self.log(ctx, f"{name} is {'now' if promoted else 'already'} the only default StorageClass")


class Health(Phase):
    name = "health"
    description = "checks the VMs, API, certificate, ClusterVersion, operators, Nodes and ACM import (docs/health.md)"
    always = True

    def not_configured(self, ctx: PhaseContext) -> str | None:
        return not_installed(ctx)  # `proxshift health` checks a cluster whatever its records say

    def plan(self, ctx: PhaseContext) -> dict[str, Any]:
        from proxshift.engine.acm_flow import hub_absent

        checks = ["VMs", "API /readyz", "API certificate", "ClusterVersion", "ClusterOperators", "Nodes"]
        hub = ctx.options.hub_kubeconfig
        return {"checks": checks + ([] if hub_absent(ctx.project, ctx.name, hub) else ["ACM import"])}

    def run(self, ctx: PhaseContext) -> None:
        from proxshift.engine.health import check_health
        from proxshift.errors import OperationError

        report = check_health(
            ctx.project, ctx.name, ctx.notify, proxmox=ctx.proxmox, kube=ctx.kube, hub_file=ctx.options.hub_kubeconfig
        )
        for check in report.checks:
            self.log(ctx, f"{check.status:<7} {check.name}: {check.detail}")
            if check.status == "warning":
                ctx.notify(f"{check.name}: {check.detail} ({check.hint})" if check.hint else check.detail)
        failed = [c for c in report.checks if c.status == "failed"]
        if failed:
            raise OperationError(
                f"{ctx.name} is not healthy: " + "; ".join(f"{c.name}: {c.detail}" for c in failed),
                failed[0].hint or f"see 'proxshift health {ctx.name}'",
            )
