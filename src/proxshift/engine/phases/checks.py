"""The read-only phases that run every time: preflight and secrets."""

from __future__ import annotations

from typing import Any

from proxshift.engine.phases.base import Phase, PhaseContext


class Preflight(Phase):
    name = "preflight"
    description = (
        "Proxmox privileges; the VM plan (refuses a foreign VM on an inventory vmid, or drift without --force); "
        "nodes, storages, bridges, boot order; the openshift-install binary"
    )
    always = True

    def plan(self, ctx: PhaseContext) -> dict[str, Any]:
        return {
            "checks": ["Proxmox privileges", "VM plan (no foreign VM on an inventory vmid, drift)"],
            "refusals": [f"{p.spec.host}: {p.reason}" for p in ctx.vm_plans() if p.action in ("refuse", "drift")],
        }

    def run(self, ctx: PhaseContext) -> None:
        from proxshift.engine.vm_plan import check_before_create

        plans = check_before_create(
            ctx.proxmox(), ctx.cluster, force=ctx.options.force, iso_upload=True, iso_present=False
        )
        for plan in plans:
            self.log(ctx, f"{plan.spec.host} (vmid {plan.spec.vmid}): {plan.action}")
        if "iso" in ctx.selected and ctx.live_api() is None:  # on a live cluster iso never runs
            from proxshift.clients.installer import find_installer

            found = find_installer(ctx.cluster.vars.ocp_version, ctx.project.settings.ocp_installer_path)
            self.log(ctx, f"openshift-install {ctx.cluster.vars.ocp_version}: {found.path}")


class Secrets(Phase):
    name = "secrets"
    description = "reads the pull secret, SSH key and CA bundle from Vault, and their versions"
    always = True

    def plan(self, ctx: PhaseContext) -> dict[str, Any]:
        from proxshift.clients.vault import KvPath, install_items

        items = install_items(ctx.project.settings).values()
        return {"reads": [f"{item.name}: {KvPath.parse(item.path)} key {item.key}" for item in items]}

    def run(self, ctx: PhaseContext) -> None:
        from proxshift.engine.connections import vault_for

        secrets = vault_for(ctx.project, ctx.notify).read_install_secrets(ctx.project.settings)
        ctx.results.versions = dict(secrets.versions)
        self.log(ctx, "read " + ", ".join(f"{k} v{v}" for k, v in sorted(ctx.results.versions.items())))
