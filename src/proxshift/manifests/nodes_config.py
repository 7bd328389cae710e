"""nodes-config.yaml for `oc adm node-image create`: the new hosts' entries as agent-config renders them.

The installer reads `hosts[]` of nodes-config.yaml into the same type as agent-config.yaml's, so the
entries are not written twice: agent-config.yaml.j2 (a user's override included) is rendered for the
whole cluster, and the new hosts' entries are taken from it as they are. What only a new cluster
needs (rendezvousIP, additionalNTPSources) is not carried.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from proxshift.config.inventory import Cluster
from proxshift.config.settings import Settings
from proxshift.errors import UserInputError
from proxshift.manifests.context import AGENT_CONFIG, agent_values

HEADER = "# nodes-config.yaml for 'oc adm node-image create': the hosts' entries as agent-config.yaml has them.\n"


def agent_config_hosts(text: str) -> list[dict[str, Any]]:
    """The `hosts` entries of a rendered agent-config.yaml."""
    import yaml

    document = yaml.safe_load(text) or {}
    hosts = document.get("hosts") if isinstance(document, dict) else None
    return [h for h in hosts if isinstance(h, dict)] if isinstance(hosts, list) else []


def render_nodes_config(cluster: Cluster, settings: Settings, hosts: Sequence[str], override_dir: Path | None) -> str:
    """nodes-config.yaml with `hosts:` for these inventory hosts (in this order), and nothing else."""
    import yaml

    from proxshift.manifests.jinja import template_environment
    from proxshift.manifests.render import render_one

    text = render_one(template_environment(override_dir), AGENT_CONFIG, agent_values(cluster, settings), override_dir)
    rendered = {str(entry.get("hostname")): entry for entry in agent_config_hosts(text)}
    missing = [host for host in hosts if host not in rendered]
    if missing:
        raise UserInputError(
            f"agent-config.yaml.j2 renders no host entry for {', '.join(missing)} of {cluster.name}",
            "an overriding template in <root>/templates must keep one `hosts:` entry per inventory host",
        )
    chosen = [rendered[host] for host in hosts]
    not_workers = [str(entry.get("hostname")) for entry in chosen if entry.get("role") != "worker"]
    if not_workers:
        raise UserInputError(
            f"agent-config.yaml.j2 renders {', '.join(not_workers)} with a role other than worker",
            "hosts added to a running cluster can only be workers",
        )
    return HEADER + yaml.safe_dump({"hosts": chosen}, sort_keys=False, default_flow_style=False)
