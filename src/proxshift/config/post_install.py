"""`post_install:` in the site config (every cluster), overridable key by key in a cluster's inventory vars.

The site config's section is validated with the rest of the site config; a cluster's `post_install`
var is merged over it (mappings key by key, anything else replaced; null turns a section off) and
`{{ cluster_name }}` is replaced by the cluster's name, then validated again for that cluster.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator

from proxshift.config.durations import parse_duration
from proxshift.config.model_errors import problems_from_validation_error
from proxshift.errors import Problem, UserInputError

if TYPE_CHECKING:
    from proxshift.config.inventory import Cluster

CLUSTER_NAME = re.compile(r"\{\{\s*cluster_name\s*\}\}")
PLACEHOLDER = "{{ cluster_name }}"  # kept as written in the site config, replaced per cluster
LEFTOVER = re.compile(r"\{\{.*?\}\}")
K8S_NAME = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _k8s_name(value: str) -> str:
    if PLACEHOLDER not in value and (len(value) > 253 or not K8S_NAME.fullmatch(value)):
        raise ValueError("is not a Kubernetes object name (lowercase letters, digits, '-' and '.')")
    return value


K8sName = Annotated[str, AfterValidator(_k8s_name)]


class SecretRef(_Model):
    """A Secret to back up: its name and namespace in the cluster."""

    name: K8sName
    namespace: K8sName


class GitopsConfig(_Model):
    """OpenShift GitOps and the root Application (docs/gitops.md)."""

    channel: str = "latest"
    source: str = "redhat-operators"
    cluster_admin: bool = False
    repo_url: str | None = None
    revision: str = "main"
    path: str = f"clusters/{PLACEHOLDER}"
    repo_credentials: str | None = None  # a Vault item: username + password, or ssh_private_key
    wait_healthy: str = "20m"  # 0: do not wait for Synced/Healthy

    @field_validator("wait_healthy", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> Any:
        text = str(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value
        if isinstance(text, str):
            try:
                parse_duration(text)
            except UserInputError:
                raise ValueError("is not a duration (write it like 20m, 1h or 0)") from None
        return text

    @property
    def wait_seconds(self) -> float:
        return parse_duration(self.wait_healthy)


class EsoKubernetesAuth(_Model):
    mount_path: str = PLACEHOLDER
    role: str = "eso"


class EsoConfig(_Model):
    """The External Secrets Operator and its ClusterSecretStore on Vault (docs/gitops.md)."""

    flavor: Literal["community", "redhat"] = "community"
    store_name: K8sName = "vault-backend"
    auth: Literal["token", "kubernetes"] = "token"
    token_path: str | None = None  # default: <credentials path>/eso/<cluster>, key `token`
    kubernetes: EsoKubernetesAuth = EsoKubernetesAuth()
    server: str | None = None  # Vault's address as the cluster reaches it; default: the one proxshift uses
    ca_cert: str | None = None  # PEM file of the CA that signed Vault's certificate, when VAULT_CACERT is not set


class BackupConfig(_Model):
    """Secrets kept in Vault across rebuilds (`proxshift backup`, the restore phase)."""

    secrets: list[SecretRef] = Field(default_factory=list)
    cluster_certs: bool = False  # also the ingress default certificate and the API named certificates

    @property
    def configured(self) -> bool:
        return bool(self.secrets) or self.cluster_certs


class PostInstall(_Model):
    """What the phases after `acm` do; an absent (or null) section turns its phases off."""

    gitops: GitopsConfig | None = None
    eso: EsoConfig | None = None
    backup: BackupConfig | None = None


def _merge(base: Any, override: Any) -> Any:
    """Mappings merged key by key (an override of null removes the key's section); anything else replaced."""
    if isinstance(override, Mapping):
        merged = dict(base) if isinstance(base, Mapping) else {}
        for key, value in override.items():
            merged[key] = _merge(merged.get(key), value)
        return merged
    return override


def _substitute(value: Any, cluster: str) -> Any:
    if isinstance(value, str):
        return CLUSTER_NAME.sub(cluster, value)
    if isinstance(value, Mapping):
        return {k: _substitute(v, cluster) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, cluster) for v in value]
    return value


def _raw_for(site: PostInstall, cluster: Cluster) -> dict[str, Any]:
    """The merged sections with every default filled in and {{ cluster_name }} replaced (pydantic may refuse)."""
    override = cluster.vars.post_install or {}
    merged = PostInstall.model_validate(_merge(site.model_dump(exclude_unset=True), override))
    return dict(_substitute(merged.model_dump(), cluster.name))


def post_install_for(site: PostInstall, cluster: Cluster) -> PostInstall:
    """The cluster's effective post-install settings (validated by `post_install_problems` at load time)."""
    try:
        return PostInstall.model_validate(_raw_for(site, cluster))
    except ValidationError:
        raise UserInputError(
            f"post_install of cluster {cluster.name} is not valid", f"run 'proxshift validate {cluster.name}'"
        ) from None


def post_install_problems(site: PostInstall, cluster: Cluster, file: str) -> list[Problem]:
    """The cluster's merged post_install, checked: pydantic's complaints and references left unresolved."""
    where = cluster.where("post_install")
    try:
        raw = _raw_for(site, cluster)
        PostInstall.model_validate(raw)
    except ValidationError as exc:
        return problems_from_validation_error(exc, file, prefix=where)
    return [
        Problem(file, f"{where}.{key}", f"'{text}' holds a reference other than {{{{ cluster_name }}}}", "write it out")
        for key, text in _strings(raw)
        if LEFTOVER.search(text)
    ]


def _strings(value: Any, key: str = "") -> list[tuple[str, str]]:
    if isinstance(value, str):
        return [(key, value)]
    if isinstance(value, Mapping):
        return [s for k, v in value.items() for s in _strings(v, f"{key}.{k}" if key else str(k))]
    if isinstance(value, list):
        return [s for i, v in enumerate(value) for s in _strings(v, f"{key}.{i}")]
    return []
