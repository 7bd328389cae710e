"""manifests/rules.py: each cross-field rule fires on the change it guards against."""

from __future__ import annotations

import yaml

from proxshift.manifests.rules import check_data
from tests.conftest import FIXTURES

EXAMPLES = FIXTURES / "schema-examples"


def _pair() -> tuple[dict, dict]:  # type: ignore[type-arg]
    install = yaml.safe_load((EXAMPLES / "valid" / "baremetal-3m2w.install-config.yaml").read_text())
    agent = yaml.safe_load((EXAMPLES / "valid" / "baremetal-3m2w.agent-config.yaml").read_text())
    return install, agent


def _rules(install: dict, agent: dict) -> set[str]:  # type: ignore[type-arg]
    return {rule for _, _, _, rule, _ in check_data(install, agent)}


def test_cross_field_rules_each_fire() -> None:
    install, agent = _pair()
    assert _rules(install, agent) == set()

    install, agent = _pair()
    agent["hosts"][1]["interfaces"][0]["macAddress"] = agent["hosts"][0]["interfaces"][0]["macAddress"].upper()
    assert "unique MACs" in _rules(install, agent)

    install, agent = _pair()
    agent["hosts"][1]["hostname"] = agent["hosts"][0]["hostname"]
    assert "unique hostnames" in _rules(install, agent)

    install, agent = _pair()
    agent["rendezvousIP"] = agent["hosts"][-1]["networkConfig"]["interfaces"][0]["ipv4"]["address"][0]["ip"]
    assert "rendezvousIP not on a worker" in _rules(install, agent)

    install, agent = _pair()
    agent["rendezvousIP"] = "192.168.111.250"
    assert "rendezvousIP" in _rules(install, agent)

    install, agent = _pair()
    install["compute"][0]["replicas"] = 3
    assert "host count" in _rules(install, agent)

    install, agent = _pair()
    install["platform"]["baremetal"]["apiVIPs"] = ["10.9.9.9"]
    assert "VIP in machineNetwork" in _rules(install, agent)

    install, agent = _pair()
    install["platform"]["baremetal"]["ingressVIPs"] = install["platform"]["baremetal"]["apiVIPs"]
    assert "distinct VIPs" in _rules(install, agent)

    install, agent = _pair()
    install["networking"]["serviceNetwork"] = ["100.64.0.0/16"]
    assert "OVN reserved ranges" in _rules(install, agent)

    install, agent = _pair()
    install["networking"]["serviceNetwork"] = ["192.168.111.0/24"]
    assert "non-overlapping networks" in _rules(install, agent)

    install, agent = _pair()
    install["networking"]["machineNetwork"] = [{"cidr": "192.168.111.5/24"}]
    assert "canonical networks" in _rules(install, agent)

    install, agent = _pair()
    install["networking"]["clusterNetwork"][0]["hostPrefix"] = 12
    assert "hostPrefix" in _rules(install, agent)

    install, agent = _pair()
    install["networking"]["serviceNetwork"] = ["172.0.0.0/10"]
    assert "service network size" in _rules(install, agent)

    install, agent = _pair()
    agent["hosts"][1]["networkConfig"]["interfaces"][0]["ipv4"]["address"][0]["ip"] = "10.1.1.1"
    assert "host IP in machineNetwork" in _rules(install, agent)
