"""engine/eso_flow.py against the API emulator's OLM and ESO simulations, the store checked by the real OpenBao."""

from __future__ import annotations

import base64
import uuid
from pathlib import Path
from typing import Any

import pytest

from proxshift.clients.olm import version_priority
from proxshift.config.project import Project
from proxshift.engine.eso_flow import eso_plan, install_eso
from proxshift.engine.post_install import settings_for
from proxshift.errors import OperationError
from tests.conftest import ProjectFiles
from tests.integration.conftest import VaultFixture
from tests.integration.gitops import POLL, Lines, cluster_kube, gitops_project
from tests.integration.post_install import PostInstallLab

STORE = ("external-secrets.io/v1", "ClusterSecretStore")
SUBSCRIPTION = ("operators.coreos.com/v1alpha1", "Subscription")
READ_ONLY = 'path "{mount}/data/*" {{ capabilities = ["read"] }}'


def _dedicated_token(vault: VaultFixture) -> str:
    """A read-only token (its policy not named p-*: test_vault.py picks the first p-* policy)."""
    name = f"eso-read-{uuid.uuid4().hex[:8]}"
    vault.admin.sys.create_or_update_policy(name=name, policy=READ_ONLY.format(mount=vault.mount))
    return str(vault.admin.auth.token.create(policies=[name], ttl="1h")["auth"]["client_token"])


def _install(lab: PostInstallLab, loaded: Project, lines: Lines | None = None) -> Lines:
    lines = Lines() if lines is None else lines
    config = settings_for(loaded, "sno").eso
    assert config is not None
    install_eso(loaded, "sno", cluster_kube(lab), config, 30, POLL, lines, lines)
    return lines


def _secret_data(lab: PostInstallLab, name: str, namespace: str) -> dict[str, str]:
    secret = lab.kube.store.find("v1", "Secret", name, namespace) or {}
    return {k: base64.b64decode(v).decode() for k, v in (secret.get("data") or {}).items()}


def test_community_flavour_with_the_dedicated_token(
    post_install: PostInstallLab, vault: VaultFixture, project: ProjectFiles
) -> None:
    token = _dedicated_token(vault)
    vault.put("openshift/eso/sno", {"token": token})
    loaded = gitops_project(project, vault, {"eso": {}})
    post_install.eso.refuse_webhook(2)  # and it is starting anyway: the store's first writes are refused
    lines = _install(post_install, loaded)
    store = post_install.kube.store
    subscription = store.find(*SUBSCRIPTION, "external-secrets-operator", "openshift-operators")
    assert subscription is not None
    assert (subscription["spec"]["channel"], subscription["spec"]["source"]) == ("stable", "community-operators")
    assert store.find("operators.coreos.com/v1", "OperatorGroup", "openshift-operators", "openshift-operators") is None
    config = store.find("operator.external-secrets.io/v1alpha1", "OperatorConfig", "cluster", "external-secrets")
    assert config is not None
    # The token in the cluster is the dedicated one, never proxshift's own.
    assert _secret_data(post_install, "vault-token", "external-secrets") == {"token": token}
    assert token != vault.server.root_token
    found = store.find(*STORE, "vault-backend")
    assert found is not None and found["apiVersion"] == "external-secrets.io/v1"  # v1beta1 is not served
    assert found["spec"] == {
        "provider": {
            "vault": {
                "server": vault.addr,
                "path": vault.mount,
                "version": "v2",
                "auth": {"tokenSecretRef": {"name": "vault-token", "namespace": "external-secrets", "key": "token"}},
            }
        }
    }
    ready = {c["type"]: c for c in found["status"]["conditions"]}["Ready"]
    assert (ready["status"], ready["message"]) == ("True", "store validated")
    assert "ESO's webhook is not serving yet; retrying" in lines
    assert "ClusterSecretStore API: external-secrets.io/v1 (served: v1)" in lines
    assert lines[-2:] == ["ClusterSecretStore vault-backend: created", "ClusterSecretStore vault-backend: Ready"]
    assert not [line for line in lines if token in line or vault.server.root_token in line]

    again = _install(post_install, loaded)
    assert [line for line in again if line.endswith((": created", ": configured"))] == []
    assert "Secret external-secrets/vault-token: unchanged" in again
    assert "ClusterSecretStore vault-backend: unchanged" in again


def test_a_missing_token_item_stops_before_anything_changes(
    post_install: PostInstallLab, vault: VaultFixture, project: ProjectFiles
) -> None:
    loaded = gitops_project(project, vault, {"eso": {}})
    with pytest.raises(OperationError) as failed:
        _install(post_install, loaded)
    assert failed.value.message == f"ESO's Vault token: no secret at {vault.mount}/data/openshift/eso/sno"
    hint = str(failed.value.hint)
    assert "vault policy write eso-sno" in hint and f'path "{vault.mount}/data/sno/*"' in hint
    assert f"vault kv put {vault.mount}/openshift/eso/sno token=" in hint and "vault token create" in hint
    assert post_install.kube.store.find(*SUBSCRIPTION, "external-secrets-operator", "openshift-operators") is None


def test_proxshifts_own_token_is_refused(
    post_install: PostInstallLab, vault: VaultFixture, project: ProjectFiles
) -> None:
    vault.put("openshift/eso/sno", {"token": vault.server.root_token})
    loaded = gitops_project(project, vault, {"eso": {}})
    with pytest.raises(OperationError, match="holds proxshift's own Vault token") as failed:
        _install(post_install, loaded)
    assert vault.server.root_token not in failed.value.message + str(failed.value.hint)


def test_a_token_vault_refuses_shows_the_stores_message(
    post_install: PostInstallLab, vault: VaultFixture, project: ProjectFiles
) -> None:
    vault.put("openshift/eso/sno", {"token": "s.not-a-valid-token"})
    loaded = gitops_project(project, vault, {"eso": {"store_name": "vault-kv"}})
    config = settings_for(loaded, "sno").eso
    assert config is not None
    with pytest.raises(OperationError) as failed:
        install_eso(loaded, "sno", cluster_kube(post_install), config, 3, POLL, Lines(), Lines())
    assert failed.value.message.startswith("ClusterSecretStore vault-kv is not Ready: ValidationFailed: ")
    assert "permission denied" in failed.value.message


def test_red_hat_flavour_kubernetes_auth_and_a_ca(
    post_install: PostInstallLab, vault: VaultFixture, project: ProjectFiles, tmp_path: Path
) -> None:
    mount = f"k8s{uuid.uuid4().hex[:6]}"
    admin = vault.admin
    admin.sys.enable_auth_method("kubernetes", path=mount)
    admin.auth.kubernetes.configure(
        kubernetes_host=post_install.kube.url,
        kubernetes_ca_cert=post_install.kube.tls.ca.read_text(),
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
    ca = tmp_path / "vault-ca.pem"
    ca.write_text(post_install.kube.tls.ca.read_text())
    section: dict[str, Any] = {
        "flavor": "redhat",
        "auth": "kubernetes",
        "kubernetes": {"mount_path": mount},
        "ca_cert": str(ca),
    }
    loaded = gitops_project(project, vault, {"eso": section})
    # ESO's operand creates its service account; the simulation leaves that to whoever plays it.
    post_install.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "external-secrets"}})
    post_install.apply(
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": "external-secrets", "namespace": "external-secrets"},
        }
    )
    _install(post_install, loaded)
    store = post_install.kube.store
    subscription = store.find(*SUBSCRIPTION, "openshift-external-secrets-operator", "external-secrets-operator")
    assert subscription is not None and subscription["spec"]["channel"] == "stable-v1"
    group = store.find(
        "operators.coreos.com/v1", "OperatorGroup", "external-secrets-operator", "external-secrets-operator"
    )
    assert group is not None and group["spec"] == {}
    config = store.find("operator.openshift.io/v1alpha1", "ExternalSecretsConfig", "cluster")
    assert config is not None
    port = int(vault.addr.rsplit(":", 1)[1])
    assert config["spec"]["controllerConfig"]["networkPolicies"] == [
        {
            "name": "allow-egress-to-vault",
            "componentName": "ExternalSecretsCoreController",
            "egress": [{"ports": [{"protocol": "TCP", "port": port}]}],
        }
    ]
    ca_map = store.find("v1", "ConfigMap", "vault-ca", "external-secrets")
    assert ca_map is not None and ca_map["data"] == {"ca.crt": ca.read_text()}
    assert store.find("v1", "Secret", "vault-token", "external-secrets") is None
    found = store.find(*STORE, "vault-backend")
    assert found is not None
    vault_spec = found["spec"]["provider"]["vault"]
    assert vault_spec["auth"] == {
        "kubernetes": {
            "mountPath": mount,
            "role": "eso",
            "serviceAccountRef": {"name": "external-secrets", "namespace": "external-secrets"},
        }
    }
    assert vault_spec["caProvider"] == {
        "type": "ConfigMap",
        "name": "vault-ca",
        "namespace": "external-secrets",
        "key": "ca.crt",
    }
    assert ("POST", f"auth/{mount}/login") in post_install.eso.vault_requests


def test_the_plan_reads_nothing_and_shows_no_token(vault: VaultFixture, project: ProjectFiles) -> None:
    vault.put("openshift/eso/sno", {"token": "s.never-in-a-plan"})
    loaded = gitops_project(project, vault, {"eso": {}})
    config = settings_for(loaded, "sno").eso
    assert config is not None
    plan = eso_plan(loaded, "sno", config)
    assert "s.never-in-a-plan" not in repr(plan)
    assert plan["vault_reads"] == [f"{vault.mount}/data/openshift/eso/sno (key token)"]
    kinds = [d["kind"] for d in plan["documents"]]
    assert kinds == ["Subscription", "Namespace", "OperatorConfig", "Secret", "ClusterSecretStore"]


def test_the_newest_served_version_comes_first() -> None:
    assert sorted(["v1alpha1", "v1beta1", "v1", "v2beta1", "v2"], key=version_priority) == [
        "v2",
        "v1",
        "v2beta1",
        "v1beta1",
        "v1alpha1",
    ]


def test_a_token_item_without_the_key_names_the_keys_there(
    post_install: PostInstallLab, vault: VaultFixture, project: ProjectFiles
) -> None:
    vault.put("openshift/eso/sno", {"value": "s.not-shown"})
    loaded = gitops_project(project, vault, {"eso": {}})
    with pytest.raises(OperationError) as failed:
        _install(post_install, loaded)
    assert failed.value.message == f"{vault.mount}/data/openshift/eso/sno holds no token (keys there: value)"
