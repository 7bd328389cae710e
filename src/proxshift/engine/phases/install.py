"""The phases that follow the install to its end and keep what it leaves: wait and credentials."""

from __future__ import annotations

from typing import Any

from proxshift.engine.phases.base import Phase, PhaseContext


class Wait(Phase):
    name = "wait"
    description = "follows the install to the end (docs/install.md)"

    def plan(self, ctx: PhaseContext) -> dict[str, Any]:
        agent = ctx.project.settings.agent_api_urls.get(ctx.name) or (
            f"http://{ctx.cluster.rendezvous_ip}:8090/api/assisted-install/v2"
        )
        return {"watches": [agent, "the cluster's API"]}

    def timeout(self, ctx: PhaseContext) -> float | None:
        return ctx.options.wait_timeout

    def run(self, ctx: PhaseContext) -> None:
        from proxshift.engine.install import wait_for_install

        options = ctx.options
        shown: dict[str, tuple[str, ...]] = {}

        def hosts(rows: list[tuple[str, ...]]) -> None:
            """The bootstrap's rows (host, role, status, stage, %, time in stage), each host when it moves on:
            the time in stage alone changes at every poll, and the live view counts it by itself."""
            if not rows:  # bootstrap is complete: the hosts left the rendezvous host's API for the cluster's
                for name, (role, *_) in list(shown.items()):
                    shown[name] = (role, "bootstrapped", "", "")
                    self.host(ctx, name, "bootstrapped", role=role, stage="", progress="")
            for row in rows:
                name, role, status, stage, percent = (*row, "", "", "", "")[:5]
                if shown.get(name) != (role, status, stage, percent):
                    shown[name] = (role, status, stage, percent)
                    self.host(ctx, name, status, role=role, stage=stage, progress=percent)

        installed = wait_for_install(
            ctx.project,
            ctx.name,
            options.wait_timeout,
            lambda line: self.log(ctx, line.strip()),
            options.wait_poll,
            on_hosts=hosts,
        )
        ctx.results.console_url = installed.console_url
        ctx.results.api_url = installed.api_url


class Credentials(Phase):
    name = "credentials"
    description = "kubeconfig, kubeadmin password, API URL to Vault"

    def plan(self, ctx: PhaseContext) -> dict[str, Any]:
        return {"writes": [credentials_path(ctx)]}

    def run(self, ctx: PhaseContext) -> None:
        from proxshift.engine.install import store_credentials

        api = ctx.results.api_url or self._api_from_kubeconfig(ctx)
        ctx.results.api_url = api
        ctx.results.credentials = store_credentials(ctx.project, ctx.name, api, ctx.notify)
        self.log(ctx, f"stored in Vault at {ctx.results.credentials}")

    @staticmethod
    def _api_from_kubeconfig(ctx: PhaseContext) -> str:
        import yaml

        data = yaml.safe_load(ctx.install_dir.kubeconfig.read_text())
        return str(data["clusters"][0]["cluster"]["server"])


def credentials_path(ctx: PhaseContext) -> str:
    """Where in Vault the cluster's credentials are (or will be)."""
    from proxshift.clients.vault import KvPath

    return str(KvPath.parse(ctx.project.settings.credentials_path).child(ctx.name))


def stored_urls(ctx: PhaseContext) -> tuple[str | None, str | None]:
    """(console, API) of an installed cluster whose wait and credentials did not run in this run (recorded done):
    the API URL stored in Vault, the console where `proxshift credentials` says it is; (None, None) when Vault
    holds nothing or cannot be read (the summary then says where to look)."""
    from proxshift.engine.install import read_credentials
    from proxshift.errors import ProxshiftError

    try:
        api = read_credentials(ctx.project, ctx.name, ctx.notify)["api"].reveal()
    except ProxshiftError:
        return None, None
    return f"https://console-openshift-console.apps.{ctx.name}.{ctx.cluster.base_domain}", api
