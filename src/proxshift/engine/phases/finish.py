"""The phases that finish an installed cluster: labels (on its Nodes), storage (the default StorageClass)
and health (docs/health.md). They talk to the cluster's API with its stored kubeconfig (`ctx.kube()`); `proxshift post`
runs them (with the GitOps phases between them) against a cluster installed earlier."""

from __future__ import annotations

from typing import Any

from proxshift.engine.phases.base import Phase, PhaseContext
from proxshift.engine.state import State, digest


def _wanted(ctx: PhaseContext) -> dict[str, dict[str, str]]:
    """Each host's Node name (as agent-config names it) and the labels proxshift keeps on it."""
    defaults = ctx.project.settings.post_install
    return {node.name: ctx.cluster.node_labels(defaults, node) for node in ctx.cluster.nodes}


class Labels(Phase):
    name = "labels"
    description = "waits for each host to be a Ready Node, then sets the cluster's and the host's node labels"
    unchanged = "the node labels in the inventory and the site config are unchanged"

    def not_configured(self, ctx: PhaseContext) -> str | None:
        if any(_wanted(ctx).values()):
            return None
        if State(ctx.install_dir.state_file).ever_done(self.name):
            return None  # labels set earlier may have to go
        return "no node labels (post_install.node_labels, or node_labels on a host)"

    def inputs(self, ctx: PhaseContext) -> str:
        return digest(_wanted(ctx))

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
    unchanged = "post_install.default_storage_class is unchanged"

    @staticmethod
    def _storage_class(ctx: PhaseContext) -> str | None:
        return ctx.cluster.post_install(ctx.project.settings.post_install).default_storage_class

    def not_configured(self, ctx: PhaseContext) -> str | None:
        return None if self._storage_class(ctx) else "no post_install.default_storage_class"

    def inputs(self, ctx: PhaseContext) -> str:
        return digest(self._storage_class(ctx))

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

    def plan(self, ctx: PhaseContext) -> dict[str, Any]:
        from proxshift.engine.acm_flow import hub_absent

        checks = ["VMs", "API /readyz", "API certificate", "ClusterVersion", "ClusterOperators", "Nodes"]
        return {"checks": checks + ([] if hub_absent(ctx.project, ctx.name) else ["ACM import"])}

    def run(self, ctx: PhaseContext) -> None:
        from proxshift.engine.health import check_health
        from proxshift.errors import OperationError

        report = check_health(ctx.project, ctx.name, ctx.notify, proxmox=ctx.proxmox, kube=ctx.kube)
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
