"""The values the manifest templates lay out, and where each part of a manifest came from."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from proxshift.config.install_dir import MANIFEST_NAMES
from proxshift.config.inventory import Cluster
from proxshift.config.settings import NetworkDefaults, Settings
from proxshift.errors import UserInputError
from proxshift.secret import InstallSecrets

INSTALL_CONFIG, AGENT_CONFIG = MANIFEST_NAMES


@dataclass(frozen=True)
class Origin:
    """Where a part of a manifest came from: the file and the place in it a user would edit."""

    file: str
    location: str


def origin_key(manifest: str, pointer: str) -> str:
    """The key of `origins` for a JSON pointer (without the leading /) inside a manifest."""
    return f"{manifest}/{pointer}".rstrip("/")


@dataclass
class ManifestContext:
    """Every value the templates use, computed here so the templates stay declarative."""

    install: dict[str, Any]
    agent: dict[str, Any]
    origins: dict[str, Origin] = field(default_factory=dict)


def build_context(
    cluster: Cluster, settings: Settings, secrets: InstallSecrets, inventory_file: str
) -> ManifestContext:
    net = _network(settings)
    if cluster.base_domain is None:
        raise UserInputError(f"cluster '{cluster.name}' has no base domain", "set network_defaults.base_domain")
    return ManifestContext(
        _install_values(cluster, settings, net, secrets),
        agent_values(cluster, settings),
        _origins(cluster, settings.source_label, inventory_file),
    )


def _network(settings: Settings) -> NetworkDefaults:
    net = settings.network_defaults
    if net is None:
        raise UserInputError(f"{settings.source_label}: network_defaults is missing", "see docs/configuration.md")
    return net


def _install_values(
    cluster: Cluster, settings: Settings, net: NetworkDefaults, secrets: InstallSecrets
) -> dict[str, Any]:
    multi = cluster.type == "multi_node"
    return {
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


def agent_values(cluster: Cluster, settings: Settings) -> dict[str, Any]:
    """What agent-config.yaml.j2 lays out: no secrets, so `nodes add` renders it without Vault."""
    net = _network(settings)
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
    return {
        "name": cluster.name,
        "rendezvous_ip": str(cluster.rendezvous_ip),
        "ntp_sources": list(settings.ntp_sources),
        "hosts": hosts,
        "dns_servers": [str(s) for s in net.dns_servers],
        "gateway": str(net.gateway),
    }


def _origins(cluster: Cluster, site: str, inventory: str) -> dict[str, Origin]:
    """Pointer -> the inventory or site-config place to edit; a finding names the closest one."""
    first_master = cluster.masters[0] if cluster.masters else cluster.nodes[0]
    base_domain = (
        Origin(inventory, cluster.where("base_domain"))
        if cluster.vars.base_domain
        else Origin(site, "network_defaults.base_domain")
    )
    install = {
        "": Origin(inventory, cluster.location),
        "metadata": Origin(inventory, cluster.location),
        "baseDomain": base_domain,
        "controlPlane": Origin(inventory, f"{cluster.location}.hosts"),
        "compute": Origin(inventory, f"{cluster.location}.hosts"),
        "networking/machineNetwork": Origin(site, "network_defaults.subnet"),
        "networking/clusterNetwork": Origin(site, "network_defaults.cluster_cidr"),
        "networking/clusterNetwork/0/hostPrefix": Origin(site, "network_defaults.host_prefix"),
        "networking/serviceNetwork": Origin(site, "network_defaults.service_cidr"),
        "platform": Origin(inventory, cluster.where("cluster_type")),
        "platform/baremetal/apiVIPs": Origin(inventory, cluster.where("api_vip")),
        "platform/baremetal/ingressVIPs": Origin(inventory, cluster.where("ingress_vip")),
        "pullSecret": Origin(site, "vault_items (pull secret)"),
        "sshKey": Origin(site, "vault_items (SSH key)"),
        "additionalTrustBundle": Origin(site, "vault_items (CA bundle)"),
        "additionalTrustBundlePolicy": Origin(site, "additional_trust_bundle_policy"),
        "proxy": Origin(site, "proxy"),
        "imageDigestSources": Origin(site, "image_digest_sources"),
        "fips": Origin(site, "fips"),
    }
    agent = {
        "": Origin(inventory, cluster.location),
        "rendezvousIP": Origin(inventory, first_master.location),
        "additionalNTPSources": Origin(site, "ntp_sources"),
    }
    for index, node in enumerate(cluster.nodes):
        agent[f"hosts/{index}"] = Origin(inventory, node.location)
        agent[f"hosts/{index}/interfaces"] = Origin(inventory, node.where("nics", "net0", "mac"))
        agent[f"hosts/{index}/rootDeviceHints"] = Origin(inventory, node.where("wwn"))
    return {origin_key(INSTALL_CONFIG, p): o for p, o in install.items()} | {
        origin_key(AGENT_CONFIG, p): o for p, o in agent.items()
    }
