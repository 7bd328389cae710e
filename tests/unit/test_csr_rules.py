"""engine/csr_rules.py: exactly the two CSRs of each new host are approved; one test per rule that says no.

The requests are real PEM requests (EC P-256), made as a kubelet makes them (proxshift.lab.csrs).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from proxshift.engine.csr_rules import Joining, Verdict, decide, is_pending, read_request
from proxshift.lab.csrs import (
    BOOTSTRAPPER,
    BOOTSTRAPPER_GROUPS,
    CLIENT_SIGNER,
    NODE_GROUPS,
    SERVING_SIGNER,
    client_csr,
    csr_object,
    pem_request,
    serving_csr,
)

STARTED = datetime(2026, 5, 1, 12, 0, 0, 400000, tzinfo=UTC)
LATER = STARTED + timedelta(minutes=9)
HOST = Joining("ocp-node7", "ocp-node7.ocp.lab.example", "192.168.1.16", STARTED)
HOSTS = {HOST.name: HOST}
NODE = {"ocp-node7": {"192.168.1.16"}}


def _one(obj: dict[str, Any], nodes: Mapping[str, set[str]] | None = None) -> Verdict:
    verdicts = decide([read_request(obj)], HOSTS, nodes or {}, set())
    assert len(verdicts) == 1
    return verdicts[0]


def _client(**spec: Any) -> dict[str, Any]:
    obj = client_csr("csr-client", "ocp-node7", LATER)
    obj["spec"].update(spec)
    return obj


def _serving(
    dns: tuple[str, ...] = ("ocp-node7",), ips: tuple[str, ...] = ("192.168.1.16",), **spec: Any
) -> dict[str, Any]:
    obj = serving_csr("csr-serving", "ocp-node7", dns, ips, LATER + timedelta(seconds=10))
    obj["spec"].update(spec)
    return obj


# -- what is approved ---------------------------------------------------------------------------------


def test_the_client_csr_of_a_new_host_is_approved() -> None:
    verdict = _one(_client())
    assert (verdict.approve, verdict.host, verdict.kind) == (True, "ocp-node7", "client")


def test_the_serving_csr_of_a_new_host_is_approved_once_its_node_is_there() -> None:
    verdict = _one(_serving(dns=("ocp-node7", "ocp-node7.ocp.lab.example")), NODE)
    assert (verdict.approve, verdict.host, verdict.kind) == (True, "ocp-node7", "serving")


def test_key_encipherment_is_allowed_as_older_kubelets_ask_for_it() -> None:
    assert _one(_client(usages=["digital signature", "key encipherment", "client auth"])).approve


def test_a_csr_created_in_the_second_the_vm_started_counts_as_after() -> None:
    obj = _client()
    obj["metadata"]["creationTimestamp"] = "2026-05-01T12:00:00Z"  # STARTED is 12:00:00.4
    assert _one(obj).approve


# -- client: each rule that says no -------------------------------------------------------------------


def test_client_for_another_name_is_not_approved() -> None:
    obj = client_csr("csr-other", "ocp-node8", LATER)
    verdict = _one(obj)
    assert not verdict.approve and verdict.reason == "for system:node:ocp-node8, not a host this run adds"


def test_client_for_a_name_that_merely_contains_the_host_is_not_approved() -> None:
    obj = client_csr("csr-other", "ocp-node7-evil", LATER)
    assert not _one(obj).approve


def test_client_for_an_existing_node_is_not_approved() -> None:
    verdict = _one(_client(), NODE)
    assert not verdict.approve and verdict.reason == "a Node ocp-node7 already exists"


@pytest.mark.parametrize(
    "groups",
    [
        [*BOOTSTRAPPER_GROUPS, "system:masters"],
        list(BOOTSTRAPPER_GROUPS[1:]),
        ["system:nodes", "system:authenticated"],
    ],
)
def test_client_with_other_groups_is_not_approved(groups: list[str]) -> None:
    verdict = _one(_client(groups=groups))
    assert not verdict.approve and "are not exactly the node-bootstrapper's" in verdict.reason


def test_client_from_another_requester_is_not_approved() -> None:
    verdict = _one(_client(username="system:serviceaccount:default:builder"))
    assert not verdict.approve and "not the node-bootstrapper service account" in verdict.reason


def test_client_with_subject_alternative_names_is_not_approved() -> None:
    verdict = _one(_client(request=pem_request("system:node:ocp-node7", dns_names=["ocp-node7"])))
    assert not verdict.approve and verdict.reason == "a client request carries subject alternative names"


@pytest.mark.parametrize(
    "usages", [["digital signature", "client auth", "server auth"], ["client auth"], ["digital signature"]]
)
def test_client_with_other_usages_is_not_approved(usages: list[str]) -> None:
    verdict = _one(_client(usages=usages))
    assert not verdict.approve and "are not digital signature + client auth" in verdict.reason


@pytest.mark.parametrize(
    "organizations", [(), ("system:masters",), ("system:nodes", "system:masters"), ("system:nodes", "system:nodes")]
)
def test_client_with_another_organization_is_not_approved(organizations: tuple[str, ...]) -> None:
    verdict = _one(_client(request=pem_request("system:node:ocp-node7", organizations)))
    assert not verdict.approve and "subject O is" in verdict.reason


def test_client_created_before_the_vm_started_is_not_approved() -> None:
    obj = _client()
    obj["metadata"]["creationTimestamp"] = "2026-05-01T11:59:59Z"
    verdict = _one(obj)
    assert not verdict.approve and "created before ocp-node7's VM started" in verdict.reason


def test_client_without_a_creation_time_is_not_approved() -> None:
    obj = _client()
    del obj["metadata"]["creationTimestamp"]
    assert not _one(obj).approve


def test_client_with_a_kubelet_serving_signer_shape_is_judged_as_serving() -> None:
    verdict = _one(_client(signerName=SERVING_SIGNER))
    assert not verdict.approve and verdict.kind == "serving"


def test_a_csr_of_another_signer_is_not_approved() -> None:
    verdict = _one(_client(signerName="kubernetes.io/kube-apiserver-client"))
    assert not verdict.approve and verdict.reason == "signer kubernetes.io/kube-apiserver-client is not a kubelet's"


@pytest.mark.parametrize(
    ("request_text", "reason"),
    [
        ("not base64!", "spec.request is not base64"),
        (base64.b64encode(b"-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n").decode(), "not a PEM certificate request"),
    ],
)
def test_an_unreadable_request_is_not_approved(request_text: str, reason: str) -> None:
    verdict = _one(_client(request=request_text))
    assert not verdict.approve and reason in verdict.reason


def test_a_request_whose_signature_does_not_match_its_key_is_not_approved() -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    pem = base64.b64decode(pem_request("system:node:ocp-node7"))
    der = bytearray(x509.load_pem_x509_csr(pem).public_bytes(serialization.Encoding.DER))
    der[-1] ^= 0x01  # the last byte belongs to the signature
    tampered = x509.load_der_x509_csr(bytes(der)).public_bytes(serialization.Encoding.PEM)
    verdict = _one(_client(request=base64.b64encode(tampered).decode()))
    assert not verdict.approve and "signature" in verdict.reason


def test_only_one_client_csr_per_host_the_newest() -> None:
    older = client_csr("csr-a", "ocp-node7", LATER)
    newer = client_csr("csr-b", "ocp-node7", LATER + timedelta(minutes=5))
    verdicts = {v.csr: v for v in decide([read_request(older), read_request(newer)], HOSTS, {}, set())}
    assert verdicts["csr-b"].approve
    assert not verdicts["csr-a"].approve
    assert verdicts["csr-a"].reason == "a client CSR of ocp-node7 is already approved in this run"


def test_no_second_client_csr_after_one_was_approved_in_this_run() -> None:
    verdicts = decide([read_request(_client())], HOSTS, {}, {("ocp-node7", "client")})
    assert not verdicts[0].approve


# -- serving: each rule that says no ------------------------------------------------------------------


def test_serving_with_an_extra_dns_name_is_not_approved() -> None:
    verdict = _one(_serving(dns=("ocp-node7", "api.ocp.lab.example")), NODE)
    assert not verdict.approve and "DNS names ['api.ocp.lab.example']" in verdict.reason


def test_serving_with_an_extra_ip_is_not_approved() -> None:
    verdict = _one(_serving(ips=("192.168.1.16", "192.168.1.20")), NODE)
    assert not verdict.approve and "IP addresses ['192.168.1.20'] are not ocp-node7's inventory IP" in verdict.reason


def test_serving_with_an_ip_that_is_not_the_nodes_is_not_approved() -> None:
    verdict = _one(_serving(), {"ocp-node7": {"192.168.1.99"}})
    assert not verdict.approve and "are not InternalIPs of the Node ocp-node7" in verdict.reason


def test_serving_with_an_email_name_is_not_approved() -> None:
    request = pem_request("system:node:ocp-node7", dns_names=["ocp-node7"], emails=["a@b.example"])
    verdict = _one(_serving(request=request), NODE)
    assert not verdict.approve and "beyond DNS and IP" in verdict.reason


def test_serving_without_names_is_not_approved() -> None:
    verdict = _one(_serving(request=pem_request("system:node:ocp-node7")), NODE)
    assert not verdict.approve and verdict.reason == "no subject alternative names"


def test_serving_for_another_node_is_not_approved() -> None:
    obj = serving_csr("csr-x", "ocp-node1", ["ocp-node1"], ["192.168.1.10"], LATER)
    verdict = _one(obj, {"ocp-node1": {"192.168.1.10"}})
    assert not verdict.approve and verdict.reason == "requested by system:node:ocp-node1, not a host this run adds"


def test_serving_whose_cn_is_not_the_requester_is_not_approved() -> None:
    request = pem_request("system:node:ocp-node1", dns_names=["ocp-node7"], ip_addresses=["192.168.1.16"])
    verdict = _one(_serving(request=request), NODE)
    assert not verdict.approve


def test_serving_without_the_node_groups_is_not_approved() -> None:
    verdict = _one(_serving(groups=["system:authenticated"]), NODE)
    assert not verdict.approve and "lack system:nodes" in verdict.reason


def test_serving_with_client_usages_is_not_approved() -> None:
    verdict = _one(_serving(usages=["digital signature", "client auth"]), NODE)
    assert not verdict.approve and "are not digital signature + server auth" in verdict.reason


def test_serving_created_before_the_vm_started_is_not_approved() -> None:
    obj = _serving()
    obj["metadata"]["creationTimestamp"] = "2026-05-01T11:00:00Z"
    assert not _one(obj, NODE).approve


def test_serving_waits_for_the_node() -> None:
    verdict = _one(_serving())
    assert not verdict.approve and verdict.waiting and verdict.reason == "the Node ocp-node7 is not registered yet"


def test_serving_by_a_bootstrapper_is_not_approved() -> None:
    obj = csr_object(
        "csr-y",
        SERVING_SIGNER,
        BOOTSTRAPPER,
        BOOTSTRAPPER_GROUPS,
        ("digital signature", "server auth"),
        pem_request("system:node:ocp-node7", dns_names=["ocp-node7"]),
        LATER,
    )
    assert not _one(obj, NODE).approve


def test_only_one_serving_csr_per_host() -> None:
    first = _serving()
    second = serving_csr("csr-serving-2", "ocp-node7", ["ocp-node7"], ["192.168.1.16"], LATER)
    verdicts = decide([read_request(first), read_request(second)], HOSTS, NODE, set())
    assert [v.approve for v in verdicts].count(True) == 1


def test_both_csrs_of_two_hosts_in_one_pass() -> None:
    other = Joining("ocp-node8", "ocp-node8.ocp.lab.example", "192.168.1.17", STARTED)
    hosts = {HOST.name: HOST, other.name: other}
    requests = [
        read_request(client_csr("c8", "ocp-node8", LATER)),
        read_request(serving_csr("s7", "ocp-node7", ["ocp-node7"], ["192.168.1.16"], LATER)),
        read_request(csr_object("u", CLIENT_SIGNER, BOOTSTRAPPER, NODE_GROUPS, ("client auth",), "", LATER)),
    ]
    verdicts = {v.csr: v for v in decide(requests, hosts, NODE, set())}
    assert verdicts["c8"].approve and verdicts["s7"].approve and not verdicts["u"].approve


def test_pending_means_no_condition() -> None:
    obj = _client()
    assert is_pending(obj)
    obj["status"] = {"conditions": [{"type": "Denied", "status": "True"}]}
    assert not is_pending(obj)
