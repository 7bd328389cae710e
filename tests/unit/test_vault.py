"""Vault's transient failures, in the shapes OpenBao cannot be made to produce: through `responses`.

`responses` emulates urllib3's status retries (not its pauses, nor retries of a dropped connection; those
are checked against a real server in test_transport.py). OpenBao stays the stand-in for everything else.
"""

from __future__ import annotations

import pytest
import requests
import responses

from proxshift.clients.vault import KvPath, Vault, VaultAccess
from proxshift.errors import OperationError
from proxshift.secret import Secret

ADDR = "https://vault.example:8200"
LOOKUP = f"{ADDR}/v1/auth/token/lookup-self"
SECRET = f"{ADDR}/v1/kv/data/openshift/pullsecret"


def _vault() -> Vault:
    return Vault(VaultAccess(addr=ADDR, token=Secret("s.token", "test")))


def _json(data: dict[str, object]) -> dict[str, object]:
    return {"json": data, "content_type": "application/json"}


@responses.activate
def test_a_rate_limited_read_is_retried() -> None:
    responses.get(LOOKUP, **_json({"data": {"id": "s.token"}}))
    responses.get(SECRET, status=429, headers={"Retry-After": "1"}, **_json({"errors": ["rate limited"]}))
    responses.get(SECRET, **_json({"data": {"data": {"secret": "x"}, "metadata": {"version": 3}}}))
    read = _vault().read(KvPath("kv", "openshift/pullsecret"))
    assert (read.value, read.version) == ({"secret": "x"}, 3)
    assert [call.response.status_code for call in responses.calls][1:] == [429, 200]  # type: ignore[union-attr]


@responses.activate
def test_a_lasting_proxy_503_is_named_as_such_not_as_sealed() -> None:
    responses.get(LOOKUP, **_json({"data": {"id": "s.token"}}))
    responses.get(SECRET, status=503, body="<html>upstream unavailable</html>", content_type="text/html")
    with pytest.raises(OperationError) as caught:
        _vault().read(KvPath("kv", "openshift/pullsecret"))
    assert caught.value.message == f"Vault at {ADDR} answered HTTP 503 while reading kv/data/openshift/pullsecret"
    assert "reads were retried" in (caught.value.hint or "")
    assert len(responses.calls) == 1 + 4  # the lookup, then every attempt of the read


@responses.activate
def test_a_sealed_vault_is_still_called_sealed() -> None:
    responses.get(LOOKUP, status=503, **_json({"errors": ["Vault is sealed"]}))
    with pytest.raises(OperationError, match=f"^Vault at {ADDR} is sealed$"):
        _vault().client()


@responses.activate
def test_a_dropped_connection_names_its_kind_and_keeps_the_cause() -> None:
    dropped = requests.ConnectionError(ConnectionResetError(104, "Connection reset by peer"))
    responses.get(LOOKUP, body=dropped)
    with pytest.raises(OperationError) as caught:
        _vault().client()
    assert caught.value.message == f"Vault at {ADDR} is unreachable while checking the token (connection dropped)"
    assert caught.value.__cause__ is dropped
