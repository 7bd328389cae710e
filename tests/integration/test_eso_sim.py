"""Simulated External Secrets over HTTPS against the real OpenBao: stores, ExternalSecrets, the webhook race."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import pytest

from tests.integration.conftest import VaultFixture
from tests.integration.kube import conditions, eventually
from tests.integration.post_install import PostInstallLab

STORE = ("external-secrets.io/v1", "ClusterSecretStore")
ES = ("external-secrets.io/v1", "ExternalSecret")
READ_ONLY = 'path "{mount}/data/*" {{ capabilities = ["read"] }}'


@pytest.fixture
def eso(post_install: PostInstallLab, vault: VaultFixture) -> PostInstallLab:
    """The community operator installed, its OperatorConfig applied, its Deployments Available."""
    lab = post_install
    lab.subscribe("external-secrets-operator", "openshift-operators", "stable", "community-operators")
    lab.installed_csv("external-secrets-operator", "openshift-operators")
    lab.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "external-secrets"}})
    lab.apply(
        {
            "apiVersion": "operator.external-secrets.io/v1alpha1",
            "kind": "OperatorConfig",
            "metadata": {"name": "cluster", "namespace": "external-secrets"},
            "spec": {},
        }
    )
    for name in ("external-secrets", "external-secrets-webhook", "external-secrets-cert-controller"):
        eventually(
            lambda n=name: (
                conditions(lab.get("apps/v1", "Deployment", n, "external-secrets") or {})
                .get("Available", {})
                .get("status")
                == "True"
            ),
            what=f"{name} Available",
        )
    vault.put("openshift/gitops-repo", {"username": "fleet", "password": "s3cret", "nested": {"a": 1}})
    return lab


def _read_only_token(vault: VaultFixture) -> str:
    """A dedicated read-only token (its policy not named p-*: test_vault.py picks the first p-* policy)."""
    name = f"eso-read-{uuid.uuid4().hex[:8]}"
    vault.admin.sys.create_or_update_policy(name=name, policy=READ_ONLY.format(mount=vault.mount))
    return str(vault.admin.auth.token.create(policies=[name], ttl="1h")["auth"]["client_token"])


def _token_secret(lab: PostInstallLab, token: str) -> None:
    lab.apply(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "vault-token", "namespace": "external-secrets"},
            "stringData": {"token": token},
        }
    )


def _store(vault: VaultFixture, auth: dict[str, Any], name: str = "vault-backend") -> dict[str, Any]:
    return {
        "apiVersion": "external-secrets.io/v1",
        "kind": "ClusterSecretStore",
        "metadata": {"name": name},
        "spec": {"provider": {"vault": {"server": vault.addr, "path": vault.mount, "version": "v2", "auth": auth}}},
    }


TOKEN_AUTH = {"tokenSecretRef": {"name": "vault-token", "namespace": "external-secrets", "key": "token"}}


def _ready(lab: PostInstallLab, kind: tuple[str, str], name: str, namespace: str | None = None) -> dict[str, Any]:
    def found() -> dict[str, Any] | None:
        ready = conditions(lab.get(*kind, name, namespace) or {}).get("Ready")
        return ready if ready else None

    return eventually(found, what=f"{name}'s Ready condition")


def _external_secret(name: str = "repo", refresh: str = "1h", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "external-secrets.io/v1",
        "kind": "ExternalSecret",
        "metadata": {"name": name, "namespace": "fleet"},
        "spec": {
            "refreshInterval": refresh,
            "secretStoreRef": {"kind": "ClusterSecretStore", "name": "vault-backend"},
            "target": {"name": f"{name}-creds", "creationPolicy": "Owner"},
            "data": [
                {"secretKey": "username", "remoteRef": {"key": "openshift/gitops-repo", "property": "username"}},
                {"secretKey": "password", "remoteRef": {"key": "openshift/gitops-repo", "property": "password"}},
            ],
            **spec,
        },
    }


def _data(lab: PostInstallLab, name: str) -> dict[str, str]:
    secret = lab.kube.store.find("v1", "Secret", name, "fleet") or {}
    return {k: base64.b64decode(v).decode() for k, v in (secret.get("data") or {}).items()}


def test_token_store_ready_and_external_secret_synced(eso: PostInstallLab, vault: VaultFixture) -> None:
    _token_secret(eso, _read_only_token(vault))
    eso.apply(_store(vault, TOKEN_AUTH))
    ready = _ready(eso, STORE, "vault-backend")
    assert (ready["status"], ready["reason"], ready["message"]) == ("True", "Valid", "store validated")
    eso.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "fleet"}})
    eso.apply(_external_secret(dataFrom=[{"extract": {"key": f"{vault.mount}/data/openshift/gitops-repo"}}]))
    synced = _ready(eso, ES, "repo", "fleet")
    assert (synced["status"], synced["reason"], synced["message"]) == ("True", "SecretSynced", "secret synced")
    assert _data(eso, "repo-creds") == {"username": "fleet", "password": "s3cret", "nested": '{"a": 1}'}
    secret = eso.kube.store.find("v1", "Secret", "repo-creds", "fleet")
    assert secret is not None and secret["metadata"]["ownerReferences"][0]["kind"] == "ExternalSecret"
    external = eso.get(*ES, "repo", "fleet")
    assert external is not None and external["status"]["binding"] == {"name": "repo-creds"}
    # the ExternalSecret goes, and its Secret with it
    eso.delete(*ES, "repo", "fleet")
    eventually(lambda: eso.kube.store.find("v1", "Secret", "repo-creds", "fleet") is None, what="the Secret gone")


def test_refresh_and_errors(eso: PostInstallLab, vault: VaultFixture) -> None:
    _token_secret(eso, _read_only_token(vault))
    eso.apply(_store(vault, TOKEN_AUTH))
    _ready(eso, STORE, "vault-backend")
    eso.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "fleet"}})
    eso.apply(_external_secret(refresh="200ms"))
    eventually(lambda: _data(eso, "repo-creds").get("password") == "s3cret", what="the first sync")
    vault.put("openshift/gitops-repo", {"username": "fleet", "password": "rotated"})
    eventually(lambda: _data(eso, "repo-creds").get("password") == "rotated", what="the refresh")
    missing = _external_secret("missing")
    missing["spec"]["data"][0]["remoteRef"]["key"] = "openshift/nothing-here"
    eso.apply(missing)
    failed = _ready(eso, ES, "missing", "fleet")
    assert (failed["status"], failed["reason"]) == ("False", "SecretSyncedError")
    assert failed["message"].startswith("could not get secret data from provider")
    assert eso.kube.store.find("v1", "Secret", "missing-creds", "fleet") is None
    vault.put("openshift/nothing-here", {"username": "late", "password": "x"})
    eventually(lambda: _data(eso, "missing-creds").get("username") == "late", what="the retry")


def test_a_bad_token_or_a_missing_token_secret_is_not_ready(eso: PostInstallLab, vault: VaultFixture) -> None:
    eso.apply(_store(vault, TOKEN_AUTH))
    missing = _ready(eso, STORE, "vault-backend")
    assert (missing["status"], missing["reason"]) == ("False", "InvalidProviderConfig")
    assert 'secrets "vault-token" not found' in missing["message"]
    _token_secret(eso, "not-a-token-" + uuid.uuid4().hex)

    def refused() -> dict[str, Any] | None:
        ready = _ready(eso, STORE, "vault-backend")
        return ready if ready["reason"] == "ValidationFailed" else None

    assert "permission denied" in eventually(refused, what="ValidationFailed")["message"]
    _token_secret(eso, _read_only_token(vault))
    eventually(lambda: _ready(eso, STORE, "vault-backend")["status"] == "True", what="Ready with a good token")


def test_the_webhook_refuses_until_it_has_endpoints(eso: PostInstallLab, vault: VaultFixture) -> None:
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    custom = client.CustomObjectsApi(eso.client)
    eso.eso.refuse_webhook(2)
    for _ in range(2):
        with pytest.raises(ApiException) as refused:
            custom.create_cluster_custom_object(
                "external-secrets.io", "v1", "clustersecretstores", _store(vault, TOKEN_AUTH)
            )
        assert refused.value.status == 500
        message = json.loads(refused.value.body)["message"]
        assert 'no endpoints available for service "external-secrets-webhook"' in message
    created = custom.create_cluster_custom_object(
        "external-secrets.io", "v1", "clustersecretstores", _store(vault, TOKEN_AUTH)
    )
    assert created["metadata"]["name"] == "vault-backend"


def test_kubernetes_auth_through_token_review(eso: PostInstallLab, vault: VaultFixture) -> None:
    mount = f"k8s{uuid.uuid4().hex[:6]}"
    admin = vault.admin
    admin.sys.enable_auth_method("kubernetes", path=mount)
    admin.auth.kubernetes.configure(
        kubernetes_host=eso.kube.url,
        kubernetes_ca_cert=eso.kube.tls.ca.read_text(),
        disable_local_ca_jwt=True,
        mount_point=mount,
    )
    policy = f"eso-{mount}"
    admin.sys.create_or_update_policy(name=policy, policy=READ_ONLY.format(mount=vault.mount))
    admin.auth.kubernetes.create_role(
        name="eso",
        bound_service_account_names=["external-secrets"],
        bound_service_account_namespaces=["external-secrets"],
        policies=[policy],
        mount_point=mount,
    )
    auth = {
        "kubernetes": {
            "mountPath": mount,
            "role": "eso",
            "serviceAccountRef": {"name": "external-secrets", "namespace": "external-secrets"},
        }
    }
    eso.apply(_store(vault, auth, "vault-k8s"))
    missing = _ready(eso, STORE, "vault-k8s")
    assert missing["status"] == "False" and "service account" in missing["message"]
    eso.apply(
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": "external-secrets", "namespace": "external-secrets"},
        }
    )
    eventually(lambda: _ready(eso, STORE, "vault-k8s")["status"] == "True", what="Ready through kubernetes auth")
    assert ("POST", f"auth/{mount}/login") in eso.eso.vault_requests
    assert any(path == "/apis/authentication.k8s.io/v1/tokenreviews" for _, path in eso.kube.requests)


def test_red_hat_flavour_runs_its_operands_in_external_secrets(post_install: PostInstallLab) -> None:
    lab = post_install
    lab.subscribe("openshift-external-secrets-operator", "external-secrets-operator", "stable-v1", "redhat-operators")
    lab.installed_csv("openshift-external-secrets-operator", "external-secrets-operator")
    lab.apply(
        {
            "apiVersion": "operator.openshift.io/v1alpha1",
            "kind": "ExternalSecretsConfig",
            "metadata": {"name": "cluster"},
            "spec": {"controllerConfig": {"networkPolicies": []}},
        }
    )
    for name in ("external-secrets", "external-secrets-webhook", "external-secrets-cert-controller"):
        eventually(
            lambda n=name: (
                conditions(lab.get("apps/v1", "Deployment", n, "external-secrets") or {})
                .get("Available", {})
                .get("status")
                == "True"
            ),
            what=f"{name} Available",
        )
    eventually(
        lambda: (
            conditions(lab.get("operator.openshift.io/v1alpha1", "ExternalSecretsConfig", "cluster") or {})
            .get("Ready", {})
            .get("status")
            == "True"
        ),
        what="ExternalSecretsConfig Ready",
    )
