"""The phase that imports the new cluster into the ACM hub."""

from __future__ import annotations

import time
from typing import Any

from proxshift.engine.phases.base import Phase, PhaseContext
from proxshift.errors import OperationError, ProxshiftError


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
                ctx.project,
                ctx.name,
                ctx.options.acm_mode,
                ctx.options.hub_kubeconfig,
                ctx.notify,
                connect=False,
                kubeconfig_of_cluster=ctx.kubeconfig,
            )
        except ProxshiftError as exc:
            return {"skipped": exc.message}
        if acm.skipped:
            return {"skipped": acm.skipped}
        return {"hub": acm.hub_name, "documents": acm.plan.redacted if acm.plan else []}

    def run(self, ctx: PhaseContext) -> None:
        from proxshift.engine.acm_flow import acm_context, acm_import

        options = ctx.options
        self._wait_for_the_hub(ctx)
        try:
            context = acm_context(
                ctx.project,
                ctx.name,
                options.acm_mode,
                options.hub_kubeconfig,
                ctx.notify,
                kubeconfig_of_cluster=ctx.kubeconfig,  # this run's new one until the credentials phase stored it
            )
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

    def _wait_for_the_hub(self, ctx: PhaseContext, poll: float = 2.0) -> None:
        """When another run is provisioning the hub (`provision hub a b --parallel 3`), its credentials reach
        Vault at its end: import after it rather than fail for want of them."""
        hub = ctx.project.settings.hub_cluster
        if not hub or hub == ctx.name or hub not in ctx.project.inventory.clusters:
            return
        from proxshift.engine.lock import holder_of

        deadline = time.monotonic() + ctx.options.wait_timeout
        said = None
        while (holder := holder_of(ctx.project.paths.install_dir(hub))) is not None:
            if time.monotonic() > deadline:
                raise OperationError(
                    f"the hub {hub} is still being worked on ({holder.describe()})",
                    f"import later: proxshift acm import {ctx.name}",
                )
            if said != holder:
                said = holder
                self.log(ctx, f"waiting for the run working on the hub {hub} (PID {holder.pid}) to end")
            time.sleep(poll)
