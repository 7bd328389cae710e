"""The phase that brings a rebuilt cluster's Secrets and certificates back from Vault, before GitOps."""

from __future__ import annotations

from typing import Any

from proxshift.engine.phases.base import Phase, PhaseContext, not_installed


class Restore(Phase):
    name = "restore"
    description = "the Secrets backed up in Vault (proxshift backup) applied again; ingress, then API certificates"

    def not_configured(self, ctx: PhaseContext) -> str | None:
        from proxshift.engine.backup import configured

        return not_installed(ctx) if configured(ctx.project, ctx.name) else "no post_install.backup"

    def input_parts(self, ctx: PhaseContext) -> dict[str, Any]:
        from proxshift.engine.phases.gitops import section_inputs

        return section_inputs(ctx, "backup")

    def plan(self, ctx: PhaseContext) -> dict[str, Any]:
        from proxshift.engine.backup import backups_root
        from proxshift.engine.restore import restore

        lines = restore(ctx.project, ctx.name, dry_run=True, notify=ctx.notify)
        return {"reads": [f"{backups_root(ctx.project, ctx.name)}/"], "applies": lines}

    def run(self, ctx: PhaseContext) -> None:
        from proxshift.engine.restore import restore

        options = ctx.options
        restore(
            ctx.project,
            ctx.name,
            timeout=options.post_timeout,
            poll=options.wait_poll,
            kube=ctx.kube(),
            notify=ctx.notify,
            report=lambda m: self.log(ctx, m),
        )
        ctx.reconnect()
