"""The phases that build the install image and put it where the VMs boot from: manifests, iso, upload."""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING, Any

from proxshift.engine.events import Output, Progress
from proxshift.engine.phases.base import Phase, PhaseContext
from proxshift.engine.state import cluster_fingerprint

if TYPE_CHECKING:
    from proxshift.engine.iso_upload import IsoTarget


class Manifests(Phase):
    name = "manifests"
    description = "renders and checks install-config.yaml and agent-config.yaml"
    unchanged = (
        "the cluster's inventory entry, the site config, the secrets' versions and the extra manifests are unchanged"
    )
    rebuilds = True

    def input_parts(self, ctx: PhaseContext) -> dict[str, Any]:
        from proxshift.engine.manifests_flow import extra_manifest_texts

        extra = extra_manifest_texts(ctx.project, ctx.cluster)  # a part only when there are some: digests stay
        return {
            **ctx.base_inputs(),
            "the secrets' versions in Vault": ctx.results.versions,
            **({"the extra manifests": extra} if extra else {}),
        }

    def plan(self, ctx: PhaseContext) -> dict[str, Any]:
        from proxshift.engine.manifests_flow import generate_manifests

        rendered = generate_manifests(ctx.project, ctx.name, dry_run=True, notify=ctx.notify)
        shown = ctx.project.paths.shown
        return {
            "writes": [shown(p) for p in ctx.install_dir.manifests],
            "extra manifests": [
                f"{shown(p)} -> {shown(ctx.install_dir.extra_manifests / p.name)}" for p in rendered.extra
            ],
            "manifests": dict(rendered.redacted.items()),
        }

    def run(self, ctx: PhaseContext) -> None:
        from proxshift.engine.manifests_flow import generate_manifests

        result = generate_manifests(ctx.project, ctx.name, notify=ctx.notify)
        if result.report:
            self.log(ctx, f"{len(result.report.written)} written, {len(result.report.unchanged)} unchanged")
        if result.extra:
            self.log(ctx, f"extra manifests in openshift/: {', '.join(p.name for p in result.extra)}")


class Iso(Phase):
    name = "iso"
    description = "openshift-install agent create image"
    unchanged = "the rendered manifests and the extra manifests are unchanged"
    rebuilds = True

    def input_parts(self, ctx: PhaseContext) -> dict[str, Any]:
        from proxshift.engine.manifests_flow import extra_manifest_texts

        rendered = ctx.install_dir.rendered
        kept = [(p.name, p.read_text()) for p in sorted(rendered.glob("*.yaml"))] if rendered.is_dir() else []
        extra = extra_manifest_texts(ctx.project, ctx.cluster)
        return {"the rendered manifests": kept, **({"the extra manifests": extra} if extra else {})}

    def result_gone(self, ctx: PhaseContext) -> str | None:
        iso = ctx.install_dir.iso
        return None if iso.is_file() else f"{ctx.project.paths.shown(iso)} is gone"

    def plan(self, ctx: PhaseContext) -> dict[str, Any]:
        from proxshift.clients.installer import find_installer
        from proxshift.errors import UserInputError

        try:
            settings = ctx.project.settings
            installer = str(find_installer(ctx.cluster.vars.ocp_version, settings.ocp_installer_path).path)
        except UserInputError as exc:
            installer = f"MISSING: {exc.message}"
        shown = ctx.project.paths.shown
        return {"installer": installer, "writes": [shown(ctx.install_dir.iso), shown(ctx.install_dir.auth)]}

    def run(self, ctx: PhaseContext) -> None:
        from proxshift.engine.install import create_iso

        install_dir = ctx.install_dir
        if not install_dir.install_config.exists():
            # The installer consumed them last time: put the kept copies back for a fresh image.
            for kept, target in zip(install_dir.rendered_manifests, install_dir.manifests, strict=True):
                shutil.copy2(kept, target)
        kept_at = install_dir.keep_in_history([install_dir.auth, install_dir.installer_state])
        if kept_at:
            self.log(ctx, f"the previous image's credentials and state moved to {ctx.project.paths.shown(kept_at)}")
        iso = create_iso(ctx.project, ctx.name, lambda line: ctx.report(Output(self.name, line)))
        self.log(ctx, f"created {ctx.project.paths.shown(iso)}")


class Upload(Phase):
    name = "upload"
    description = "the ISO to the storage of iso_image"
    unchanged = "the ISO and the cluster are unchanged, and the ISO is still on its storage"
    rebuilds = True

    def input_parts(self, ctx: PhaseContext) -> dict[str, Any]:
        iso = ctx.install_dir.iso
        present = iso.exists()
        return {
            "the cluster's inventory entry": cluster_fingerprint(ctx.cluster),
            "the ISO's size": iso.stat().st_size if present else None,
            "the ISO's time": iso.stat().st_mtime_ns if present else None,
        }

    def result_gone(self, ctx: PhaseContext) -> str | None:
        from proxshift.engine.iso_upload import missing_iso_volumes

        gone = missing_iso_volumes(ctx.proxmox(), ctx.cluster)
        return f"{', '.join(gone)} is gone from its storage" if gone else None

    def plan(self, ctx: PhaseContext) -> dict[str, Any]:
        from proxshift.engine.vm_plan import specs_for

        return {"targets": sorted({s.iso_volume for s in specs_for(ctx.cluster) if s.iso_volume})}

    def run(self, ctx: PhaseContext) -> None:
        from proxshift.engine.iso_upload import upload_iso

        last: dict[str, int] = {}

        def progress(target: IsoTarget, done: int, total: int) -> None:
            percent = done * 100 // max(total, 1)  # at most one event per percent and target
            if percent != last.get(target.volid, -1):
                last[target.volid] = percent
                ctx.report(Progress(self.name, f"{target.node}:{target.volid}", done, total))

        targets = upload_iso(
            ctx.proxmox(), ctx.cluster, ctx.install_dir.iso, ctx.install_dir, replace_ours=True, progress=progress
        )
        for target in targets:
            verb = {"skip": "already there, skipped", "upload": "uploaded", "replace": "replaced"}[target.action]
            self.log(ctx, f"{target.volid} on {target.node}: {verb}")
