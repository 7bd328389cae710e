"""Render install-config.yaml and agent-config.yaml, check them, and write them safely."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from proxshift.config.install_dir import InstallDir
from proxshift.config.inventory import Cluster
from proxshift.config.settings import Settings
from proxshift.errors import InvalidInput, Problem, UserInputError
from proxshift.files import private_dir, write_private
from proxshift.manifests.jinja import template_environment
from proxshift.secret import InstallSecrets


@dataclass(frozen=True)
class Origin:
    """Where a part of a manifest came from: the file and the place in it a user would edit."""

    file: str
    location: str


@dataclass
class ManifestContext:
    """Every value the templates use, computed here so the templates stay declarative."""

    install: dict[str, Any]
    agent: dict[str, Any]
    origins: dict[str, Origin] = field(default_factory=dict)


def build_context(
    cluster: Cluster, settings: Settings, secrets: InstallSecrets, inventory_file: str
) -> ManifestContext:
    net = settings.network_defaults
    if net is None:
        raise UserInputError(f"{settings.source_label}: network_defaults is missing", "see docs/configuration.md")
    if cluster.base_domain is None:
        raise UserInputError(f"cluster '{cluster.name}' has no base domain", "set network_defaults.base_domain")
    multi = cluster.type == "multi_node"
    site = settings.source_label
    install = {
        "name": cluster.name,
        "base_domain": cluster.base_domain,
        "compute_replicas": len(cluster.workers),
        "control_plane_replicas": len(cluster.masters),
        "cluster_network": str(net.cluster_cidr),
        "host_prefix": net.host_prefix,
        "machine_network": str(net.subnet),
        "service_network": str(net.service_cidr),
        "platform": "baremetal" if multi else "none",
        "api_vips": [str(cluster.vars.api_vip)] if multi else [],
        "ingress_vips": [str(cluster.vars.ingress_vip)] if multi else [],
        "fips": settings.fips,
        "proxy": settings.proxy.model_dump(exclude_none=True) if settings.proxy else None,
        "image_digest_sources": [s.model_dump() for s in settings.image_digest_sources],
        # Revealed here and only here: the values go straight into the manifest text.
        "pull_secret": secrets.pull_secret.reveal(),
        "ssh_key": secrets.ssh_key.reveal(),
        # The template's block scalar adds the final newline itself.
        "additional_trust_bundle": secrets.ca_bundle.reveal().rstrip("\n") if secrets.ca_bundle else None,
        "additional_trust_bundle_policy": settings.additional_trust_bundle_policy,
    }
    hosts = [
        {
            "hostname": node.name,
            "role": node.role,
            "interface": node.spec.interface_name or net.interface_name,
            "mac": node.mac,
            "ip": str(node.ip),
            "prefix_length": net.subnet.prefixlen,
            "root_wwn": node.root_wwn,
        }
        for node in cluster.nodes
    ]
    agent = {
        "name": cluster.name,
        "rendezvous_ip": str(cluster.rendezvous_ip),
        "ntp_sources": list(settings.ntp_sources),
        "hosts": hosts,
        "dns_servers": [str(s) for s in net.dns_servers],
        "gateway": str(net.gateway),
    }
    first_master = cluster.masters[0] if cluster.masters else cluster.nodes[0]
    origins = {
        "install-config.yaml": Origin(inventory_file, cluster.location),
        "install-config.yaml/metadata": Origin(inventory_file, cluster.location),
        "install-config.yaml/baseDomain": Origin(
            *(
                (inventory_file, cluster.where("base_domain"))
                if cluster.vars.base_domain
                else (site, "network_defaults.base_domain")
            )
        ),
        "install-config.yaml/controlPlane": Origin(inventory_file, f"{cluster.location}.hosts"),
        "install-config.yaml/compute": Origin(inventory_file, f"{cluster.location}.hosts"),
        "install-config.yaml/networking/machineNetwork": Origin(site, "network_defaults.subnet"),
        "install-config.yaml/networking/clusterNetwork": Origin(site, "network_defaults.cluster_cidr"),
        "install-config.yaml/networking/clusterNetwork/0/hostPrefix": Origin(site, "network_defaults.host_prefix"),
        "install-config.yaml/networking/serviceNetwork": Origin(site, "network_defaults.service_cidr"),
        "install-config.yaml/platform": Origin(inventory_file, cluster.where("cluster_type")),
        "install-config.yaml/platform/baremetal/apiVIPs": Origin(inventory_file, cluster.where("api_vip")),
        "install-config.yaml/platform/baremetal/ingressVIPs": Origin(inventory_file, cluster.where("ingress_vip")),
        "install-config.yaml/pullSecret": Origin(site, "vault_items (pull secret)"),
        "install-config.yaml/sshKey": Origin(site, "vault_items (SSH key)"),
        "install-config.yaml/additionalTrustBundle": Origin(site, "vault_items (CA bundle)"),
        "install-config.yaml/additionalTrustBundlePolicy": Origin(site, "additional_trust_bundle_policy"),
        "install-config.yaml/proxy": Origin(site, "proxy"),
        "install-config.yaml/imageDigestSources": Origin(site, "image_digest_sources"),
        "install-config.yaml/fips": Origin(site, "fips"),
        "agent-config.yaml": Origin(inventory_file, cluster.location),
        "agent-config.yaml/rendezvousIP": Origin(inventory_file, first_master.location),
        "agent-config.yaml/additionalNTPSources": Origin(site, "ntp_sources"),
    }
    for index, node in enumerate(cluster.nodes):
        origins[f"agent-config.yaml/hosts/{index}"] = Origin(inventory_file, node.location)
        origins[f"agent-config.yaml/hosts/{index}/interfaces"] = Origin(
            inventory_file, node.where("nics", "net0", "mac")
        )
        origins[f"agent-config.yaml/hosts/{index}/rootDeviceHints"] = Origin(inventory_file, node.where("wwn"))
    return ManifestContext(install, agent, origins)


@dataclass(frozen=True)
class RenderedManifests:
    """The manifest texts; they contain secrets, so they are written 0600 and never printed."""

    install_config: str
    agent_config: str

    def items(self) -> tuple[tuple[str, str], ...]:
        return (("install-config.yaml", self.install_config), ("agent-config.yaml", self.agent_config))


def render(context: ManifestContext, override_dir: Path | None) -> RenderedManifests:
    import jinja2

    env = template_environment(override_dir)
    texts = []
    for name, values in (("install-config.yaml", context.install), ("agent-config.yaml", context.agent)):
        try:
            texts.append(env.get_template(f"{name}.j2").render(**values))
        except jinja2.UndefinedError as exc:
            source = _template_source(name, override_dir)
            raise UserInputError(
                f"{source}: {exc.message}", "use only the values listed in docs/manifests.md"
            ) from None
        except jinja2.TemplateSyntaxError as exc:
            raise UserInputError(
                f"{exc.filename or name}:{exc.lineno}: {exc.message}", "fix the template syntax"
            ) from None
    return RenderedManifests(*texts)


def _template_source(name: str, override_dir: Path | None) -> str:
    if override_dir is not None and (override_dir / f"{name}.j2").is_file():
        return str(override_dir / f"{name}.j2")
    return f"packaged template {name}.j2"


def check(rendered: RenderedManifests, context: ManifestContext, secrets_are_real: bool) -> list[Problem]:
    """Schema and installer rules; each problem points at the inventory place that caused it."""
    from proxshift.manifests.rules import check_manifests

    return check_manifests(rendered, context.origins, secrets_are_real)


def require_valid(problems: list[Problem]) -> None:
    if any(p.is_error for p in problems):
        raise InvalidInput(problems)


# -- writing ---------------------------------------------------------------------------------


@dataclass
class WriteReport:
    written: list[Path] = field(default_factory=list)
    unchanged: list[Path] = field(default_factory=list)
    moved_to_history: Path | None = None


def write(rendered: RenderedManifests, install_dir: InstallDir, now: datetime | None = None) -> WriteReport:
    """Write both manifests and kept copies; anything different already there goes to history first."""
    report = WriteReport()
    private_dir(install_dir.path)
    private_dir(install_dir.rendered)
    targets = [(install_dir.path / name, text) for name, text in rendered.items()]
    targets += [(install_dir.rendered / name, text) for name, text in rendered.items()]
    differing = [p for p, text in targets if p.exists() and p.read_text() != text]
    if differing:
        history = install_dir.history_entry(now)
        private_dir(history)
        for path in differing:
            relative = path.relative_to(install_dir.path)
            destination = history / relative
            private_dir(destination.parent)
            os.replace(path, destination)
        report.moved_to_history = history
    for path, text in targets:
        if path.exists() and path.read_text() == text:
            report.unchanged.append(path)
            continue
        write_private(path, text)
        report.written.append(path)
    return report
