"""manifests/nodes_config.py: nodes-config.yaml holds the new hosts' entries exactly as agent-config renders them."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from proxshift.config.paths import discover_paths
from proxshift.config.project import Project, load_project
from proxshift.errors import UserInputError
from proxshift.manifests.context import build_context
from proxshift.manifests.nodes_config import agent_config_hosts, render_nodes_config
from proxshift.manifests.render import render
from proxshift.secret import InstallSecrets
from tests.conftest import PREDECESSOR


@pytest.fixture(scope="module")
def project() -> Project:
    paths = discover_paths(Path("/nonexistent"), PREDECESSOR / "site-config.yaml", PREDECESSOR / "clusters.yml")
    return load_project(paths)


def _agent_config(project: Project, cluster: str, templates: Path | None = None) -> str:
    secrets = InstallSecrets.placeholders({"pull-secret": "x", "ssh-key": "y"}, False)
    context = build_context(project.cluster(cluster), project.settings, secrets, project.inventory.file)
    return render(context, templates).agent_config


def test_the_hosts_are_agent_configs_entries_of_those_hosts(project: Project) -> None:
    cluster = project.cluster("ocp")
    text = render_nodes_config(cluster, project.settings, ["ocp-node6", "ocp-node4"], None)
    entries = {h["hostname"]: h for h in agent_config_hosts(_agent_config(project, "ocp"))}
    document = yaml.safe_load(text)
    assert document == {"hosts": [entries["ocp-node6"], entries["ocp-node4"]]}
    node4 = document["hosts"][1]
    assert node4["role"] == "worker"
    assert node4["interfaces"] == [{"name": "eno1", "macAddress": "BC:24:11:52:94:F4"}]
    assert node4["rootDeviceHints"] == {"wwn": "0x5000c50000000004"}
    assert node4["networkConfig"]["interfaces"][0]["ipv4"]["address"] == [{"ip": "192.168.1.13", "prefix-length": 24}]
    assert "rendezvousIP" not in text and "additionalNTPSources" not in text


def test_an_overriding_agent_config_template_is_followed(project: Project, tmp_path: Path) -> None:
    packaged = (Path(__file__).parents[2] / "src/proxshift/manifests/templates/agent-config.yaml.j2").read_text()
    (tmp_path / "agent-config.yaml.j2").write_text(packaged.replace("state: up", "state: up\n          mtu: 9000"))
    text = render_nodes_config(project.cluster("ocp"), project.settings, ["ocp-node5"], tmp_path)
    assert yaml.safe_load(text)["hosts"] == [
        h for h in agent_config_hosts(_agent_config(project, "ocp", tmp_path)) if h["hostname"] == "ocp-node5"
    ]
    assert "mtu: 9000" in text


def test_a_template_without_the_host_or_with_another_role_is_refused(project: Project, tmp_path: Path) -> None:
    cluster = project.cluster("ocp")
    with pytest.raises(UserInputError, match="with a role other than worker"):
        render_nodes_config(cluster, project.settings, ["ocp-node1"], None)
    (tmp_path / "agent-config.yaml.j2").write_text("hosts: []\n")
    with pytest.raises(UserInputError, match="renders no host entry for ocp-node4 of ocp"):
        render_nodes_config(cluster, project.settings, ["ocp-node4"], tmp_path)
