"""The phase that imports the new cluster into the ACM hub."""

from __future__ import annotations

from typing import Any

from proxshift.engine.phases.base import Phase, PhaseContext
from proxshift.errors import ProxshiftError


class Acm(Phase):
    name = "acm"
    description = "imports the cluster into the hub (docs/acm.md)"

    def not_configured(self, ctx: PhaseContext) -> str | None:
        from proxshift.engine.acm_flow import hub_absent

        return hub_absent(ctx.project, ctx.name, ctx.options.hub_kubeconfig)

    def timeout(self, ctx: PhaseContext) -> float | None:
        return ctx.options.acm_timeout

    def plan(self, ctx: PhaseContext) -> dict[str, Any]:
        from proxshift.engine.acm_flow import acm_context

        try:
            acm = acm_context(
                ctx.project, ctx.name, ctx.options.acm_mode, ctx.options.hub_kubeconfig, ctx.notify, connect=False
            )
        except ProxshiftError as exc:
            return {"skipped": exc.message}
        if acm.skipped:
            return {"skipped": acm.skipped}
        return {"hub": acm.hub_name, "documents": acm.plan.redacted if acm.plan else []}

    def run(self, ctx: PhaseContext) -> None:
        from proxshift.engine.acm_flow import acm_context, acm_import

        options = ctx.options
        try:
            context = acm_context(ctx.project, ctx.name, options.acm_mode, options.hub_kubeconfig, ctx.notify)
            if context.skipped:
                self.log(ctx, f"skipped: {context.skipped}")
                return
            addons = acm_import(
                ctx.project, context, options.acm_mode, options.acm_timeout, lambda m: self.log(ctx, m.strip())
            )
        except ProxshiftError as exc:
            # The cluster is installed: what failed is the import alone, and a plain re-run resumes it.
            # Never --force here: that would tear a healthy cluster down.
            resume = f"then 'proxshift provision {ctx.name}' resumes the import (the cluster itself is done)"
            exc.hint = f"{exc.hint}; {resume}" if exc.hint else resume
            raise
        self.log(ctx, f"joined hub {context.hub_name}; add-ons: {', '.join(sorted(addons)) or 'none reported'}")
