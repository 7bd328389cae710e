"""What happens to a cluster after its install: `post_install`, hooks, node labels, per cluster.

The site config sets them for every cluster. A cluster's `post_install` var is merged over the site
config's (mappings key by key at every level, lists and anything else replaced; null turns a section
off, and removes one of the site config's node labels), `{{ cluster_name }}` is replaced by the
cluster's name, then it is validated again for that cluster. Hooks are overridden per phase
(`hooks.<before|after>.<phase>`), `hook_timeout` whole. A host's `node_labels` add to (and win over)
the cluster's `post_install.node_labels`. Hook arguments may refer to per-cluster names (HOOK_NAMES),
filled in when the hook runs.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Annotated, Any, Literal, Protocol

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    field_validator,
)

from proxshift.config.durations import parse_duration
from proxshift.config.model_errors import closest, join_location, problems_from_validation_error
from proxshift.errors import Problem, UserInputError


class _Vars(Protocol):
    @property
    def post_install(self) -> Mapping[str, Any] | None: ...


class Cluster(Protocol):
    """What the merge needs of config/inventory.Cluster (which imports this module): its name, its
    `post_install` var and where that was written."""

    @property
    def name(self) -> str: ...

    @property
    def vars(self) -> _Vars: ...

    def where(self, key: str) -> str: ...


CLUSTER_NAME = re.compile(r"\{\{\s*cluster_name\s*\}\}")
PLACEHOLDER = "{{ cluster_name }}"  # kept as written in the site config, replaced per cluster
LEFTOVER = re.compile(r"\{\{.*?\}\}")
K8S_NAME = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")


# The phases of the flow, in order. engine/phases/flow.py's PHASES is the list itself (config imports
# no engine); tests/unit/test_flow.py keeps the two equal. Hooks may only name these.
PHASE_NAMES = (
    "preflight",
    "secrets",
    "manifests",
    "iso",
    "upload",
    "vms",
    "start",
    "wait",
    "credentials",
    "acm",
    "restore",
    "labels",
    "gitops",
    "eso",
    "apps",
    "storage",
    "health",
)
# The names a hook's arguments (and post_install strings) may refer to, filled in per cluster and phase.
HOOK_NAMES = ("cluster_name", "phase", "root", "install_dir", "base_domain")
REFERENCE = re.compile(r"\{\{\s*(.*?)\s*\}\}")
# Kubernetes' label syntax (apimachinery validation: IsQualifiedName, IsValidLabelValue).
_LABEL_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
LABEL_FIX = (
    "a label key is [prefix/]name: name at most 63 letters, digits, '-', '_' or '.', starting and ending "
    'alphanumeric; prefix a DNS subdomain; the value is empty or like name (quote it: "true", "1")'
)


def _duration(value: Any) -> Any:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    if isinstance(value, str):
        try:
            return parse_duration(value)
        except UserInputError as exc:
            raise ValueError(f"{exc.message} ({exc.hint})") from None
    return value


# Dumped as seconds ("300.0s"), so a merged section validated again keeps its value (a plain number is minutes).
Duration = Annotated[
    float, BeforeValidator(_duration), Field(gt=0), PlainSerializer(lambda seconds: f"{seconds}s", return_type=str)
]
Argv = Annotated[list[str], Field(min_length=1)]


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
    """What the phases after `acm` do: node labels and the default StorageClass (the labels and storage
    phases), GitOps, ESO and backups (restore, gitops, eso, apps); an absent (or null) section turns its
    phases off."""

    node_labels: dict[str, str] = Field(default_factory=dict)
    default_storage_class: str | None = None
    storage_class_timeout: Duration = 600.0
    node_timeout: Duration = 900.0
    gitops: GitopsConfig | None = None
    eso: EsoConfig | None = None
    backup: BackupConfig | None = None


class Hooks(_Model):
    """`hooks`: argument lists run before or after a phase, by phase name."""

    before: dict[str, list[Argv]] = Field(default_factory=dict)
    after: dict[str, list[Argv]] = Field(default_factory=dict)


DEFAULT_HOOK_TIMEOUT = 600.0


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
    override = dict(cluster.vars.post_install or {})
    merged = _merge(site.model_dump(exclude_unset=True), override)
    if isinstance(merged.get("node_labels"), Mapping):  # null removes a label of the site config's
        merged["node_labels"] = {k: v for k, v in merged["node_labels"].items() if v is not None}
    return dict(_substitute(PostInstall.model_validate(merged).model_dump(), cluster.name))


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
    own = (cluster.vars.post_install or {}).get("node_labels")
    labels = {k: v for k, v in own.items() if v is not None} if isinstance(own, Mapping) else {}
    return list(label_problems(labels, file, f"{where}.node_labels")) + [
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


def merge_hooks(defaults: Hooks, own: Hooks | None) -> Hooks:
    """The site config's hooks with a cluster's `hooks.<when>.<phase>` over them."""
    if own is None:
        return defaults
    return Hooks(before={**defaults.before, **own.before}, after={**defaults.after, **own.after})


def fill(text: str, values: Mapping[str, str]) -> str:
    """`{{ name }}` replaced by its value (names checked by `hook_problems` beforehand)."""
    return REFERENCE.sub(lambda m: values.get(m.group(1), m.group(0)), text)


# -- checks ----------------------------------------------------------------------------------------------


def label_problems(labels: Mapping[str, Any], file: str, where: str) -> Iterator[Problem]:
    """Each label whose key or value Kubernetes would refuse."""
    for key, value in labels.items():
        prefix, _, name = str(key).rpartition("/")
        bad_key = (
            not _LABEL_NAME.fullmatch(name)
            or len(name) > 63
            or ("/" in str(key) and (not _DNS_SUBDOMAIN.fullmatch(prefix) or len(prefix) > 253))
        )
        if bad_key:
            yield Problem(file, join_location(where, str(key)), f"'{key}' is not a valid label key", LABEL_FIX)
        elif not isinstance(value, str) or (value and (not _LABEL_NAME.fullmatch(value) or len(value) > 63)):
            yield Problem(
                file, join_location(where, str(key)), f"{value!r} is not a valid label value for '{key}'", LABEL_FIX
            )


def hook_problems(hooks: Hooks, file: str, where: str) -> Iterator[Problem]:
    """A hook of a phase that does not exist, or an argument naming something that has no value."""
    for when, by_phase in (("before", hooks.before), ("after", hooks.after)):
        for phase, commands in by_phase.items():
            location = join_location(where, when, phase)
            if phase not in PHASE_NAMES:
                guess = closest(phase, PHASE_NAMES)
                yield Problem(
                    file,
                    location,
                    f"'{phase}' is not a phase",
                    (f"did you mean '{guess}'? " if guess else "") + "phases: " + ", ".join(PHASE_NAMES),
                )
            for index, argv in enumerate(commands):
                for name in {m.group(1) for arg in argv for m in REFERENCE.finditer(arg)} - set(HOOK_NAMES):
                    yield Problem(
                        file,
                        join_location(location, str(index)),
                        f"refers to '{{{{ {name} }}}}', which a hook has no value for",
                        "use one of: " + ", ".join(f"{{{{ {n} }}}}" for n in HOOK_NAMES),
                    )
