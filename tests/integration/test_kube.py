"""clients/kube.py against the lab's Kubernetes API emulator over HTTPS, and the conditions helpers."""

from __future__ import annotations

import base64
import json
import os
import secrets
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from proxshift.clients.kube import Kube, KubeError, KubeNotServed, KubeUnreachable, condition_is, conditions
from proxshift.errors import UserInputError
from proxshift.lab.kubeapi import KubeApiServer
from proxshift.lab.serving import make_certificates

CM = ("v1", "ConfigMap")
WIDGET_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.example.com"},
    "spec": {
        "group": "example.com",
        "names": {"plural": "widgets", "kind": "Widget"},
        "scope": "Cluster",
        "versions": [{"name": "v1", "served": True, "storage": True}],
    },
}


@pytest.fixture
def api(tmp_path: Path) -> Iterator[KubeApiServer]:
    server = KubeApiServer(make_certificates(tmp_path / "pki"), secrets.token_hex(16)).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def kube(api: KubeApiServer) -> Kube:
    return Kube(api.kubeconfig("lab"), "lab", timeout=5)


def _config_map(name: str, namespace: str = "default", **labels: str) -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "data": {"a": "1"},
    }


def test_get_of_a_missing_object_is_none(kube: Kube) -> None:
    assert kube.get(*CM, "nothing", "default") is None
    assert kube.get("v1", "Namespace", "default") is not None


def test_server_side_apply_creates_and_reapplies_as_proxshift(api: KubeApiServer, kube: Kube) -> None:
    created = kube.apply(_config_map("settings"))
    assert created["metadata"]["name"] == "settings"
    again = kube.apply(_config_map("settings"))
    assert again["data"] == {"a": "1"}
    stored = api.store.find(*CM, "settings", "default")
    assert stored is not None and stored["data"] == {"a": "1"}
    patches = [path for method, path in api.requests if method == "PATCH"]
    assert len(patches) == 2
    assert all(path.endswith("?fieldManager=proxshift&force=true") for path in patches)


def test_create_or_patch(api: KubeApiServer, kube: Kube) -> None:
    kube.apply(_config_map("plain"), server_side=False)
    changed = _config_map("plain")
    changed["data"] = {"b": "2"}
    result = kube.apply(changed, server_side=False)
    assert result["data"] == {"a": "1", "b": "2"}  # a merge patch: keys not named stay
    methods = [method for method, path in api.requests if "/configmaps" in path]
    assert methods == ["POST", "POST", "PATCH"]


def test_list_by_kind_with_a_label_selector_and_across_namespaces(kube: Kube) -> None:
    kube.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "other"}})
    kube.apply(_config_map("one", tier="db"))
    kube.apply(_config_map("two", tier="web"))
    kube.apply(_config_map("three", "other", tier="db"))
    assert {o["metadata"]["name"] for o in kube.list(*CM, "default")} == {"one", "two"}
    selected = kube.list(*CM, label_selector="tier=db")
    assert {(o["metadata"]["namespace"], o["metadata"]["name"]) for o in selected} == {
        ("default", "one"),
        ("other", "three"),
    }
    assert kube.list(*CM, "nowhere") == []


def test_merge_patch_and_json_patch(kube: Kube) -> None:
    kube.apply(_config_map("node-labels", role="worker", old="yes"))
    merged = kube.patch(*CM, "node-labels", {"metadata": {"labels": {"zone": "a", "old": None}}}, "default")
    assert merged is not None and merged["metadata"]["labels"] == {"role": "worker", "zone": "a"}
    patched = kube.patch(
        *CM, "node-labels", [{"op": "replace", "path": "/data/a", "value": "2"}], "default", patch_type="json"
    )
    assert patched is not None and patched["data"] == {"a": "2"}
    assert kube.patch(*CM, "absent", {"data": {}}, "default") is None


def test_delete_says_whether_it_was_there(kube: Kube) -> None:
    kube.apply(_config_map("gone"))
    assert kube.delete(*CM, "gone", "default") is True
    assert kube.delete(*CM, "gone", "default") is False
    assert kube.get(*CM, "gone", "default") is None


def test_a_kind_not_served_and_one_a_new_crd_brings(kube: Kube) -> None:
    with pytest.raises(KubeNotServed) as caught:
        kube.list("example.com/v1", "Widget")
    assert "lab does not serve Widget (example.com/v1)" in caught.value.message
    kube.apply(WIDGET_CRD)
    assert condition_is(
        kube.get("apiextensions.k8s.io/v1", "CustomResourceDefinition", "widgets.example.com"), "Established"
    )
    kube.apply({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w1"}})  # discovery refreshed
    assert [w["metadata"]["name"] for w in kube.list("example.com/v1", "Widget")] == ["w1"]


def test_refusals_carry_the_status_and_the_hint(api: KubeApiServer) -> None:
    config = json.loads(api.kubeconfig("lab"))
    config["users"][0]["user"]["token"] = "wrong"
    kube = Kube(json.dumps(config), "hub lab", hint="check the hub's kubeconfig")
    with pytest.raises(KubeError) as caught:
        kube.get(*CM, "x", "default")
    assert caught.value.status == 401
    assert caught.value.message.startswith(f"hub lab ({api.url}) refused API discovery: HTTP 401")
    assert caught.value.hint == "check the hub's kubeconfig"


def test_an_api_that_does_not_answer(api: KubeApiServer, kube: Kube) -> None:
    api.available = False
    with pytest.raises(KubeUnreachable) as caught:
        kube.get(*CM, "x", "default")
    assert f"lab ({api.url}) is unreachable while API discovery (connection dropped)" in caught.value.message
    assert caught.value.__cause__ is not None  # --debug shows urllib3's own account


def test_an_api_gone_before_a_group_is_first_asked_for_is_unreachable(api: KubeApiServer, kube: Kube) -> None:
    assert kube.dynamic is not None  # the group list is read; each group's own document when first asked for
    api.available = False
    with pytest.raises(KubeUnreachable, match="is unreachable while API discovery"):
        kube.get("config.openshift.io/v1", "ClusterVersion", "version")


class DownFor:
    """The emulator's `available`, False for the next `n` requests it is asked about: dropped connections."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __bool__(self) -> bool:
        self.n -= 1
        return self.n < 0


def test_a_dropped_connection_on_a_read_is_retried(api: KubeApiServer, kube: Kube) -> None:
    kube.apply(_config_map("settings"))
    setattr(api, "available", DownFor(2))  # noqa: B010 - a stand-in for a bool, on purpose
    assert kube.get(*CM, "settings", "default") is not None
    setattr(api, "available", DownFor(1))  # noqa: B010
    with pytest.raises(KubeUnreachable, match="connection dropped"):
        kube.apply(_config_map("settings"))  # a write (server-side apply is a PATCH) is not tried twice


def test_tls_is_verified_against_the_kubeconfig_ca_only(
    api: KubeApiServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = make_certificates(tmp_path / "other-pki")
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE"):
        monkeypatch.setenv(name, str(other.ca))  # the environment's bundle neither helps nor hurts
    assert Kube(api.kubeconfig("lab"), "lab", timeout=5).get("v1", "Namespace", "default") is not None
    config = json.loads(api.kubeconfig("lab"))
    config["clusters"][0]["cluster"]["certificate-authority-data"] = base64.b64encode(other.ca.read_bytes()).decode()
    with pytest.raises(KubeUnreachable) as caught:
        Kube(json.dumps(config), "lab", timeout=5).get("v1", "Namespace", "default")
    assert "(TLS: " in caught.value.message


def test_kubeconfig_from_a_file_and_unreadable_ones(api: KubeApiServer, tmp_path: Path) -> None:
    path = tmp_path / "kubeconfig"
    path.write_text(api.kubeconfig("lab"))
    assert Kube.from_file(path, "lab").server == api.url
    with pytest.raises(UserInputError, match="cannot read the kubeconfig"):
        Kube.from_file(tmp_path / "missing", "lab")
    with pytest.raises(UserInputError, match="the kubeconfig of lab cannot be read"):
        Kube("not: [a kubeconfig", "lab")


# -- conditions -----------------------------------------------------------------------------------------


def test_conditions_by_type() -> None:
    obj = {
        "status": {
            "conditions": [
                {"type": "Available", "status": "True"},
                {"type": "Degraded", "status": "False", "message": "fine"},
            ]
        }
    }
    assert conditions(obj)["Degraded"]["message"] == "fine"
    assert condition_is(obj, "Available")
    assert condition_is(obj, "Degraded", "False")
    assert not condition_is(obj, "Degraded")
    assert not condition_is(obj, "Progressing", "False")  # absent is neither True nor False


@pytest.mark.parametrize("obj", [None, {}, {"status": None}, {"status": {"conditions": None}}])
def test_no_conditions(obj: dict[str, object] | None) -> None:
    assert conditions(obj) == {}
    assert not condition_is(obj, "Ready")


def test_approve_a_csr_through_its_approval_subresource(api: KubeApiServer, kube: Kube) -> None:
    from proxshift.lab.csrs import client_csr

    kind = ("certificates.k8s.io/v1", "CertificateSigningRequest")
    api.store.create(api.store.type_of(*kind), client_csr("csr-a", "ocp-node7"))
    (listed,) = kube.list(*kind)
    approved = kube.approve_csr(listed, "Checked", "by a test")
    assert approved is not None
    (condition,) = approved["status"]["conditions"]
    assert (condition["type"], condition["status"], condition["reason"]) == ("Approved", "True", "Checked")
    assert approved["spec"] == listed["spec"]
    assert ("PUT", "/apis/certificates.k8s.io/v1/certificatesigningrequests/csr-a/approval") in api.requests
    # A request that changed since it was read (another resourceVersion) is not approved.
    api.store.create(api.store.type_of(*kind), client_csr("csr-b", "ocp-node7"))
    stale = kube.get(*kind, "csr-b")
    assert stale is not None
    api.store.patch(api.store.type_of(*kind), None, "csr-b", {"metadata": {"labels": {"x": "y"}}}, "merge-patch")
    with pytest.raises(KubeError) as raised:
        kube.approve_csr(stale, "Checked", "by a test")
    assert raised.value.status == 409
    assert not (kube.get(*kind, "csr-b") or {}).get("status", {}).get("conditions")


# -- the kubeconfig's key never lands in /tmp -------------------------------------------------------------


def _with_client_key(api: KubeApiServer) -> str:
    """The emulator's kubeconfig, plus a client certificate and key as data (as openshift-install writes)."""
    config = json.loads(api.kubeconfig("lab"))
    user = config["users"][0]["user"]
    user["client-certificate-data"] = base64.b64encode(b"-----BEGIN CERTIFICATE-----\nfake\n").decode()
    user["client-key-data"] = base64.b64encode(
        b"-----BEGIN EC PRIVATE KEY-----\nsecret-key-" + secrets.token_hex(8).encode() + b"\n"
    ).decode()
    return json.dumps(config)


def test_the_kubeconfig_files_go_to_a_private_directory_not_tmp(
    api: KubeApiServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tempfile

    tmp = tmp_path / "system-tmp"
    tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))  # what the kubernetes client would use
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    kubeconfig = _with_client_key(api)
    Kube(kubeconfig, "lab")
    assert list(tmp.iterdir()) == []
    (scratch,) = (tmp_path / "cache" / "proxshift" / "tmp").iterdir()
    assert scratch.name.startswith(f"{os.getpid()}-")
    assert stat.S_IMODE(scratch.stat().st_mode) == 0o700
    key = json.loads(kubeconfig)["users"][0]["user"]["client-key-data"]
    files = [p for p in scratch.rglob("*") if p.is_file()]
    assert any(p.read_bytes() == base64.b64decode(key) for p in files)  # the key is there, and only there
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in files)


KUBE_THEN = """
import json, os, signal, sys
from proxshift.clients.kube import Kube
Kube(sys.stdin.read(), "lab")
print("ready", flush=True)
if sys.argv[1] == "kill":
    os.kill(os.getpid(), signal.SIGKILL)
"""


def test_the_private_directory_goes_at_exit_and_after_a_kill_on_the_next_run(
    api: KubeApiServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    base = tmp_path / "cache" / "proxshift" / "tmp"
    kubeconfig = _with_client_key(api)

    def run(how: str) -> None:
        subprocess.run([sys.executable, "-c", KUBE_THEN, how], input=kubeconfig, text=True, check=False)

    run("exit")
    assert list(base.iterdir()) == []  # removed at exit
    run("kill")
    (left,) = base.iterdir()  # kill -9: nothing could run; the key file stays, in a 0700 directory
    assert any(p.is_file() for p in left.rglob("*"))
    run("exit")
    assert list(base.iterdir()) == []  # the next run removed the dead process's directory


def test_ensure_says_created_unchanged_or_configured_and_sends_nothing_when_unchanged(
    api: KubeApiServer, kube: Kube
) -> None:
    assert kube.ensure(_config_map("ensured", team="a")) == "created"
    writes = len([r for r in api.requests if r[0] != "GET"])
    assert kube.ensure(_config_map("ensured", team="a")) == "unchanged"
    assert len([r for r in api.requests if r[0] != "GET"]) == writes
    assert kube.ensure(_config_map("ensured", team="b")) == "configured"
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "token", "namespace": "default"},
        "type": "Opaque",
        "stringData": {"token": "abc"},
    }
    assert kube.ensure(secret) == "created"
    assert kube.ensure(secret) == "unchanged"  # stringData compared with the base64 data the API keeps
    assert kube.ensure({**secret, "stringData": {"token": "abd"}}) == "configured"
