"""vault.py against a real OpenBao: authentication, errors, inputs, credentials."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from proxshift.clients.vault import KvPath, Vault, vault_access
from proxshift.config.settings import Settings, VaultItem
from proxshift.errors import OperationError
from proxshift.lab.openbao import OpenBaoServer
from proxshift.secret import Secret
from tests.conftest import CliRunner
from tests.integration.conftest import VaultFixture
from tests.integration.test_manifests_vault import SECRET_VALUES, SEED


def _settings(mount: str, **extra: object) -> Settings:
    return Settings(
        vault_items=[
            VaultItem(name="pull-secret", path=f"{mount}/data/openshift/pullsecret", key="secret"),
            VaultItem(name="ssh-key", path=f"{mount}/data/your-ssh-pubkey", key="key"),
            VaultItem(name="cert-bundle", path=f"{mount}/data/your-ca-bundle", key="ca-bundle.crt"),
        ],
        **extra,  # type: ignore[arg-type]
    )


def _vault(env: dict[str, str], mount: str) -> Vault:
    return Vault(vault_access(_settings(mount), env))


def test_kv_path_forms() -> None:
    assert KvPath.parse("secrets/data/openshift/pullsecret") == KvPath("secrets", "openshift/pullsecret")
    assert KvPath.parse("secrets/openshift/pullsecret") == KvPath("secrets", "openshift/pullsecret")
    assert str(KvPath.parse("/secrets/openshift/")) == "secrets/data/openshift"


def test_token_login_reads_the_inputs(vault: VaultFixture) -> None:
    vault.seed_predecessor()
    secrets = _vault({"VAULT_ADDR": vault.addr, "VAULT_TOKEN": vault.server.root_token}, vault.mount)
    inputs = secrets.read_install_secrets(_settings(vault.mount))
    assert json.loads(inputs.pull_secret.reveal()) == json.loads(SEED["openshift/pullsecret"]["secret"])
    assert inputs.ssh_key.reveal() == SEED["your-ssh-pubkey"]["key"]
    assert inputs.ca_bundle is not None and "BEGIN CERTIFICATE" in inputs.ca_bundle.reveal()
    assert inputs.versions == {"pull-secret": 1, "ssh-key": 1, "ca-bundle": 1}
    assert SECRET_VALUES[0] not in repr(inputs) and SECRET_VALUES[0] not in f"{inputs.pull_secret}"


def test_token_from_vault_token_file(vault: VaultFixture, tmp_path: Path) -> None:
    vault.seed_predecessor()
    (tmp_path / ".vault-token").write_text(vault.server.root_token + "\n")
    secrets = _vault({"VAULT_ADDR": vault.addr, "HOME": str(tmp_path)}, vault.mount)
    assert secrets.read_install_secrets(_settings(vault.mount)).ssh_key.reveal().startswith("ssh-ed25519")


def test_approle_login(vault: VaultFixture) -> None:
    vault.seed_predecessor()
    admin = vault.admin
    if "approle/" not in admin.sys.list_auth_methods():
        admin.sys.enable_auth_method("approle")
    policy = vault.token(f'path "{vault.mount}/data/*" {{ capabilities = ["read"] }}')
    del policy
    name = next(p for p in admin.sys.list_policies()["data"]["policies"] if p.startswith("p-"))
    admin.auth.approle.create_or_update_approle(role_name="proxshift", token_policies=[name])
    role_id = admin.auth.approle.read_role_id("proxshift")["data"]["role_id"]
    secret_id = admin.auth.approle.generate_secret_id("proxshift")["data"]["secret_id"]
    env = {"VAULT_ADDR": vault.addr, "VAULT_ROLE_ID": role_id, "VAULT_SECRET_ID": secret_id, "HOME": "/nonexistent"}
    inputs = _vault(env, vault.mount).read_install_secrets(_settings(vault.mount))
    assert inputs.ssh_key.reveal() == SEED["your-ssh-pubkey"]["key"]
    bad = {**env, "VAULT_SECRET_ID": "00000000-0000-0000-0000-000000000000"}
    with pytest.raises(OperationError, match="rejected the AppRole login") as caught:
        _vault(bad, vault.mount).client()
    assert secret_id not in str(caught.value.message) + str(caught.value.hint)


def test_policy_denying_a_path_names_path_and_capability(vault: VaultFixture) -> None:
    vault.seed_predecessor()
    token = vault.token(
        f'path "{vault.mount}/data/*" {{ capabilities = ["read"] }}\n'
        f'path "{vault.mount}/data/openshift/pullsecret" {{ capabilities = ["deny"] }}'
    )
    with pytest.raises(OperationError) as caught:
        _vault({"VAULT_ADDR": vault.addr, "VAULT_TOKEN": token}, vault.mount).read_install_secrets(
            _settings(vault.mount)
        )
    assert caught.value.message == f"permission denied: read on {vault.mount}/data/openshift/pullsecret"
    assert "'read' capability" in (caught.value.hint or "")
    assert token not in caught.value.message + (caught.value.hint or "")


def test_missing_path_and_missing_key(vault: VaultFixture) -> None:
    access = {"VAULT_ADDR": vault.addr, "VAULT_TOKEN": vault.server.root_token}
    with pytest.raises(OperationError, match=f"no secret at {vault.mount}/data/openshift/pullsecret"):
        _vault(access, vault.mount).read_install_secrets(_settings(vault.mount))
    vault.seed_predecessor()
    vault.put("openshift/pullsecret", {"pullsecret": "x", "other": "y"})
    with pytest.raises(OperationError) as caught:
        _vault(access, vault.mount).read_install_secrets(_settings(vault.mount))
    assert caught.value.message == (
        f"vault item 'pull-secret': key 'secret' not found at {vault.mount}/data/openshift/pullsecret "
        "(keys there: other, pullsecret)"
    )


def test_invalid_token(vault: VaultFixture) -> None:
    with pytest.raises(OperationError) as caught:
        _vault({"VAULT_ADDR": vault.addr, "VAULT_TOKEN": "s.not-a-real-token"}, vault.mount).client()
    assert caught.value.message == f"Vault at {vault.addr} rejected the token"
    assert "s.not-a-real-token" not in caught.value.message + (caught.value.hint or "")


def test_unreachable_address() -> None:
    from proxshift.lab.openbao import free_port

    addr = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(OperationError) as caught:
        _vault({"VAULT_ADDR": addr, "VAULT_TOKEN": "t"}, "secrets").client()
    assert caught.value.message == f"Vault at {addr} is unreachable while checking the token (connection refused)"


@pytest.fixture(scope="module")
def tls_openbao() -> Iterator[OpenBaoServer]:
    server = OpenBaoServer(tls=True).start()
    yield server
    server.stop()


def test_tls_verified_with_vault_cacert_even_with_ca_bundle_env(
    tls_openbao: OpenBaoServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # The machine's REQUESTS_CA_BUNDLE must not override the CA we were told to use (requests #3829).
    other = tmp_path / "other-ca.pem"
    other.write_text(SEED["your-ca-bundle"]["ca-bundle.crt"])
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(other))
    monkeypatch.setenv("CURL_CA_BUNDLE", str(other))
    env = {
        "VAULT_ADDR": tls_openbao.addr,
        "VAULT_TOKEN": tls_openbao.root_token,
        "VAULT_CACERT": str(tls_openbao.ca_file),
    }
    _vault(env, "secret").client()  # no exception: verified against VAULT_CACERT
    without_ca = {"VAULT_ADDR": tls_openbao.addr, "VAULT_TOKEN": tls_openbao.root_token}
    with pytest.raises(OperationError) as caught:
        _vault(without_ca, "secret").client()
    assert caught.value.message.startswith(f"TLS verification of Vault at {tls_openbao.addr} failed")
    assert "VAULT_CACERT" in (caught.value.hint or "")


def test_skip_verify_is_explicit_and_warned(tls_openbao: OpenBaoServer) -> None:
    env = {"VAULT_ADDR": tls_openbao.addr, "VAULT_TOKEN": tls_openbao.root_token, "VAULT_SKIP_VERIFY": "true"}
    access = vault_access(_settings("secret"), env)
    assert access.verify is False
    assert access.warnings == ("VAULT_SKIP_VERIFY is set: Vault's TLS certificate is not verified",)
    Vault(access).client()


@pytest.mark.parametrize(
    ("path", "data", "message"),
    [
        ("openshift/pullsecret", {"secret": "not json"}, "is not JSON"),
        ("openshift/pullsecret", {"secret": '{"auths": {}}'}, "has an empty 'auths' object"),
        ("openshift/pullsecret", {"secret": '{"registry": 1}'}, "has no 'auths' object"),
        (
            "your-ssh-pubkey",
            {"key": "ssh-ed25519 bm90LWEta2V5 me@x"},
            "has key data that is not a valid ssh-ed25519 key",
        ),
        ("your-ssh-pubkey", {"key": "-----BEGIN OPENSSH PRIVATE KEY-----"}, "is not an OpenSSH public key"),
        (
            "your-ca-bundle",
            {"ca-bundle.crt": "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----"},
            "is a RSA PRIVATE KEY, not a CERTIFICATE",
        ),
    ],
)
def test_malformed_inputs_are_named_without_their_value(
    vault: VaultFixture, path: str, data: dict[str, str], message: str
) -> None:
    vault.seed_predecessor()
    vault.put(path, data)
    with pytest.raises(OperationError) as caught:
        _vault({"VAULT_ADDR": vault.addr, "VAULT_TOKEN": vault.server.root_token}, vault.mount).read_install_secrets(
            _settings(vault.mount)
        )
    assert message in caught.value.message
    assert f"at {vault.mount}/data/{path}" in caught.value.message
    assert next(iter(data.values())) not in caught.value.message


def test_credentials_written_marked_and_read_back(vault: VaultFixture) -> None:
    secrets = _vault({"VAULT_ADDR": vault.addr, "VAULT_TOKEN": vault.server.root_token}, vault.mount)
    base = KvPath.parse(f"{vault.mount}/data/openshift")
    values = {
        "api": Secret("https://api.c1.lab:6443"),
        "kubeconfig": Secret("apiVersion: v1\n"),
        "kubeadmin": Secret("pw"),
    }
    assert secrets.write_credentials(base, "c1", values) == 1
    assert secrets.write_credentials(base, "c1", values) == 1  # idempotent: no new version
    assert vault.get("openshift/c1") == {
        "api": "https://api.c1.lab:6443",
        "kubeconfig": "apiVersion: v1\n",
        "kubeadmin": "pw",
    }
    metadata = vault.admin.secrets.kv.v2.read_secret_metadata(path="openshift/c1", mount_point=vault.mount)
    assert metadata["data"]["custom_metadata"] == {"managed-by": "proxshift", "cluster": "c1"}
    back = secrets.read_credentials(base, "c1")
    assert {k: v.reveal() for k, v in back.items()} == {k: v.reveal() for k, v in values.items()}


def test_credentials_never_replace_a_foreign_secret(vault: VaultFixture) -> None:
    vault.put("openshift/c2", {"password": "someone else's"})
    secrets = _vault({"VAULT_ADDR": vault.addr, "VAULT_TOKEN": vault.server.root_token}, vault.mount)
    with pytest.raises(OperationError, match="holds a secret proxshift did not write"):
        secrets.write_credentials(KvPath(vault.mount, "openshift"), "c2", {"api": Secret("x")})
    assert vault.get("openshift/c2") == {"password": "someone else's"}


def test_predecessor_credentials_layout_is_updated(vault: VaultFixture) -> None:
    vault.put("openshift/c3", {"api": "old", "kubeconfig": "old", "kubeadmin": "old"})
    secrets = _vault({"VAULT_ADDR": vault.addr, "VAULT_TOKEN": vault.server.root_token}, vault.mount)
    version = secrets.write_credentials(
        KvPath(vault.mount, "openshift"),
        "c3",
        {"api": Secret("new"), "kubeconfig": Secret("k"), "kubeadmin": Secret("p")},
    )
    assert version == 2  # the predecessor's version stays in the history


def test_vault_check_command(
    seeded_root: Path, vault: VaultFixture, cli: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = seeded_root / "config" / "site-config.yaml"
    config.write_text(
        config.read_text().replace(
            "vault_path: '~/.proxshift/vault-credentials.yml'", f"vault_path: '{vault.mount}/data/openshift'"
        )
    )
    result = cli("--root", seeded_root, "vault", "check", "ocp-sno1")
    assert result.code == 0, result.err
    assert "pull-secret" in result.out and "version 1" in result.out
    assert f"{vault.mount}/data/openshift/ocp-sno1" in result.out
    readonly = vault.token(f'path "{vault.mount}/data/*" {{ capabilities = ["read"] }}')
    monkeypatch.setenv("VAULT_TOKEN", readonly)
    denied = cli("--root", seeded_root, "vault", "check", "ocp-sno1")
    assert denied.code == 1
    assert "cannot write (read)" in denied.out
    assert not vault.admin.secrets.kv.v2.list_secrets(path="openshift", mount_point=vault.mount)["data"]["keys"].count(
        "ocp-sno1"
    )


def test_cli_errors_are_one_line_without_secrets(
    seeded_root: Path, vault: VaultFixture, cli: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VAULT_TOKEN", "hvs.secret-token-value")
    result = cli("--root", seeded_root, "manifests", "ocp-sno1")
    assert result.code == 1
    assert f"error: Vault at {vault.addr} rejected the token" in result.err
    assert "hvs.secret-token-value" not in result.err + result.out
    assert "Traceback" not in result.err
