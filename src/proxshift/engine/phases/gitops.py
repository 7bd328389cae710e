"""The GitOps phases after `acm`: the OpenShift GitOps operator, External Secrets on Vault, the root Application."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from proxshift.engine.phases.base import Phase, PhaseContext, not_installed

if TYPE_CHECKING:
    from proxshift.config.post_install import PostInstall


def _settings(ctx: PhaseContext) -> PostInstall:
    from proxshift.engine.post_install import settings_for

    return settings_for(ctx.project, ctx.name)


def section_inputs(ctx: PhaseContext, section: str) -> dict[str, Any]:
    """The cluster's entry and the site config, and its effective `post_install.<section>` (which both leave out,
    as they are the install phases' inputs too)."""
    value = getattr(_settings(ctx), section)
    return {**ctx.base_inputs(), f"post_install.{section}": value.model_dump(mode="json") if value else None}


class Gitops(Phase):
    name = "gitops"
    description = (
        "OpenShift GitOps: the operator (OLM's failures fail fast), its CRDs, Argo CD Available (docs/gitops.md)"
    )

    def not_configured(self, ctx: PhaseContext) -> str | None:
        return not_installed(ctx) if _settings(ctx).gitops else "no post_install.gitops"

    def input_parts(self, ctx: PhaseContext) -> dict[str, Any]:
        return section_inputs(ctx, "gitops")

    def plan(self, ctx: PhaseContext) -> dict[str, Any]:
        from proxshift.engine.gitops_flow import gitops_plan

        config = _settings(ctx).gitops
        assert config is not None  # noqa: S101 - not_configured said so
        return gitops_plan(config)

    def run(self, ctx: PhaseContext) -> None:
        from proxshift.engine.gitops_flow import install_gitops

        config = _settings(ctx).gitops
        assert config is not None  # noqa: S101 - not_configured said so
        options = ctx.options
        install_gitops(ctx.kube(), config, options.post_timeout, options.wait_poll, lambda m: self.log(ctx, m))


class Eso(Phase):
    name = "eso"
    description = "External Secrets: the operator, a ClusterSecretStore on Vault with a dedicated token, Ready"

    def not_configured(self, ctx: PhaseContext) -> str | None:
        return not_installed(ctx) if _settings(ctx).eso else "no post_install.eso"

    def input_parts(self, ctx: PhaseContext) -> dict[str, Any]:
        return section_inputs(ctx, "eso")

    def plan(self, ctx: PhaseContext) -> dict[str, Any]:
        from proxshift.engine.eso_flow import eso_plan

        config = _settings(ctx).eso
        assert config is not None  # noqa: S101 - not_configured said so
        return eso_plan(ctx.project, ctx.name, config)

    def run(self, ctx: PhaseContext) -> None:
        from proxshift.engine.eso_flow import install_eso

        config = _settings(ctx).eso
        assert config is not None  # noqa: S101 - not_configured said so
        options = ctx.options
        install_eso(
            ctx.project,
            ctx.name,
            ctx.kube(),
            config,
            options.post_timeout,
            options.wait_poll,
            lambda m: self.log(ctx, m),
            ctx.notify,
        )


class Apps(Phase):
    name = "apps"
    description = (
        "the root Application from post_install.gitops.repo_url, with its repository Secret; Synced and Healthy"
    )

    def not_configured(self, ctx: PhaseContext) -> str | None:
        config = _settings(ctx).gitops
        return not_installed(ctx) if config and config.repo_url else "no post_install.gitops.repo_url"

    def input_parts(self, ctx: PhaseContext) -> dict[str, Any]:
        return section_inputs(ctx, "gitops")

    def plan(self, ctx: PhaseContext) -> dict[str, Any]:
        from proxshift.engine.gitops_flow import apps_plan

        config = _settings(ctx).gitops
        assert config is not None  # noqa: S101 - not_configured said so
        return apps_plan(ctx.project, ctx.name, config)

    def run(self, ctx: PhaseContext) -> None:
        from proxshift.engine.gitops_flow import bootstrap_apps

        config = _settings(ctx).gitops
        assert config is not None  # noqa: S101 - not_configured said so
        bootstrap_apps(
            ctx.project,
            ctx.name,
            ctx.kube(),
            config,
            ctx.options.wait_poll,
            lambda m: self.log(ctx, m),
            ctx.notify,
        )
