"""manifests/rules.py: each cross-field rule fires on the change it guards against, with its severity."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import yaml

from proxshift.manifests import rules
from proxshift.manifests.rules import CROSS_FIELD_RULES, Finding, check_data
from tests.conftest import FIXTURES

EXAMPLES = FIXTURES / "schema-examples"
Pair = tuple[dict[str, Any], dict[str, Any]]


def _pair() -> Pair:
    install = yaml.safe_load((EXAMPLES / "valid" / "baremetal-3m2w.install-config.yaml").read_text())
    agent = yaml.safe_load((EXAMPLES / "valid" / "baremetal-3m2w.agent-config.yaml").read_text())
    return install, agent


def _host_ip(agent: dict[str, Any], host: int) -> str:
    return str(agent["hosts"][host]["networkConfig"]["interfaces"][0]["ipv4"]["address"][0]["ip"])


def _set(path: str, value: Any) -> Callable[[dict[str, Any], dict[str, Any]], None]:
    """A change to the pair: `install.a.0.b` or `agent.a.b` set to value (callable: from the pair)."""

    def change(install: dict[str, Any], agent: dict[str, Any]) -> None:
        target: Any = install if path.startswith("install.") else agent
        *parents, last = path.split(".")[1:]
        for part in parents:
            target = target[int(part)] if isinstance(target, list) else target[part]
        new = value(install, agent) if callable(value) else value
        if isinstance(target, list):
            target[int(last)] = new
        else:
            target[last] = new

    return change


# rule function -> (change, rule label, severity); one case per function in CROSS_FIELD_RULES.
CASES: dict[str, tuple[Callable[[dict[str, Any], dict[str, Any]], None], str, str]] = {
    "sno_platform": (_set("install.controlPlane.replicas", 1), "SNO platform", "error"),
    "baremetal_replicas": (_set("install.controlPlane.replicas", 2), "replicas", "error"),
    "host_counts": (_set("install.compute.0.replicas", 3), "host count", "error"),
    "rendezvous_ip": (
        _set("agent.rendezvousIP", lambda i, a: _host_ip(a, -1)),
        "rendezvousIP not on a worker",
        "error",
    ),
    "unique_macs_and_hostnames": (
        _set(
            "agent.hosts.1.interfaces.0.macAddress", lambda i, a: a["hosts"][0]["interfaces"][0]["macAddress"].upper()
        ),
        "unique MACs",
        "error",
    ),
    "network_ranges": (
        _set("install.networking.serviceNetwork", ["172.17.0.0/16"]),
        "172.17 overlap (warning)",
        "warning",
    ),
    "networks_do_not_overlap": (
        _set("install.networking.serviceNetwork", ["192.168.111.0/24"]),
        "non-overlapping networks",
        "error",
    ),
    "service_network_size": (
        _set("install.networking.serviceNetwork", ["172.0.0.0/10"]),
        "service network size",
        "error",
    ),
    "host_prefix": (_set("install.networking.clusterNetwork.0.hostPrefix", 12), "hostPrefix", "error"),
    "vips_in_machine_network": (
        _set("install.platform.baremetal.apiVIPs", ["10.9.9.9"]),
        "VIP in machineNetwork",
        "error",
    ),
    "distinct_vips": (
        _set("install.platform.baremetal.ingressVIPs", lambda i, a: i["platform"]["baremetal"]["apiVIPs"]),
        "distinct VIPs",
        "error",
    ),
    "host_ips_in_machine_network": (
        _set("agent.hosts.1.networkConfig.interfaces.0.ipv4.address.0.ip", "10.1.1.1"),
        "host IP in machineNetwork",
        "error",
    ),
    "interface_names": (_set("agent.hosts.1.interfaces.0.name", "eth9"), "interface names (warning)", "warning"),
}


def _findings(install: dict[str, Any], agent: dict[str, Any]) -> list[Finding]:
    return list(check_data(install, agent))


def _rules(install: dict[str, Any], agent: dict[str, Any]) -> set[str]:
    return {f.rule for f in check_data(install, agent)}


def test_every_rule_has_a_case() -> None:
    assert [rule.__name__ for rule in CROSS_FIELD_RULES] == list(CASES)


def test_the_valid_pair_breaks_no_rule() -> None:
    assert _findings(*_pair()) == []


@pytest.mark.parametrize("name", list(CASES))
def test_rule_fires_with_its_own_severity(name: str) -> None:
    change, label, severity = CASES[name]
    install, agent = _pair()
    change(install, agent)
    fired = [f for f in getattr(rules, name)(rules.Manifests(install, agent)) if f.rule == label]
    assert fired, f"{name} did not report '{label}'"
    assert {f.severity for f in fired} == {severity}
    assert [f for f in _findings(install, agent) if f.rule == label] == fired


def test_cross_field_rules_each_fire() -> None:
    install, agent = _pair()
    agent["hosts"][1]["hostname"] = agent["hosts"][0]["hostname"]
    assert "unique hostnames" in _rules(install, agent)

    install, agent = _pair()
    agent["rendezvousIP"] = "192.168.111.250"
    assert "rendezvousIP" in _rules(install, agent)

    install, agent = _pair()
    install["networking"]["serviceNetwork"] = ["100.64.0.0/16"]
    assert "OVN reserved ranges" in _rules(install, agent)

    install, agent = _pair()
    install["networking"]["machineNetwork"] = [{"cidr": "192.168.111.5/24"}]
    assert "canonical networks" in _rules(install, agent)


def test_findings_keep_the_order_of_the_rules() -> None:
    install, agent = _pair()
    install["platform"]["baremetal"]["apiVIPs"] = ["10.9.9.9"]
    install["networking"]["serviceNetwork"] = ["100.64.0.0/16"]
    agent["hosts"][1]["hostname"] = agent["hosts"][0]["hostname"]
    assert [f.rule for f in _findings(install, agent)] == [
        "unique hostnames",
        "OVN reserved ranges",
        "VIP in machineNetwork",
    ]


def test_nothing_to_check_when_a_manifest_is_not_a_mapping() -> None:
    install, _ = _pair()
    assert _findings(install, ["not", "a", "mapping"]) == []  # type: ignore[arg-type]
