"""The phase that imports the new cluster into the ACM hub."""

from __future__ import annotations

from typing import Any

from proxshift.engine.phases.base import Phase, PhaseContext
from proxshift.errors import ProxshiftError, UserInputError


class Acm(Phase):
    name = "acm"
    description = "imports the cluster into the hub (docs/acm.md)"

    def not_configured(self, ctx: PhaseContext) -> str | None:
        from proxshift.engine.acm_flow import hub_absent

        return hub_absent(ctx.project, ctx.name)

    def plan(self, ctx: PhaseContext) -> dict[str, Any]:
        from proxshift.engine.acm_flow import acm_context

        try:
            acm = acm_context(ctx.project, ctx.name, ctx.options.acm_mode, notify=ctx.notify, connect=False)
        except ProxshiftError as exc:
            return {"skipped": exc.message}
        if acm.skipped:
            return {"skipped": acm.skipped}
        return {"hub": acm.hub_name, "documents": acm.plan.redacted if acm.plan else []}

    def run(self, ctx: PhaseContext) -> None:
        from proxshift.engine.acm_flow import acm_context, acm_import

        options = ctx.options
        try:
            context = acm_context(ctx.project, ctx.name, options.acm_mode, notify=ctx.notify)
        except UserInputError as exc:
            self.log(ctx, f"skipped: {exc.message}")
            return
        if context.skipped:
            self.log(ctx, f"skipped: {context.skipped}")
            return
        addons = acm_import(
            ctx.project, context, options.acm_mode, options.acm_timeout, lambda m: self.log(ctx, m.strip())
        )
        self.log(ctx, f"joined hub {context.hub_name}; add-ons: {', '.join(sorted(addons)) or 'none reported'}")
