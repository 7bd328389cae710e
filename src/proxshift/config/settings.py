"""Site config + environment -> Settings; discovery of the root, inventory and site config."""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from proxshift.config.model_errors import closest, problems_from_validation_error
from proxshift.config.paths import Paths
from proxshift.config.post_install import HOOK_NAMES, Duration, Hooks, PostInstall, hook_problems, label_problems
from proxshift.config.references import resolve_references
from proxshift.config.yamlio import load_yaml, parse_yaml
from proxshift.errors import InvalidInput, Problem, UserInputError

DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
DEFAULT_CREDENTIALS_PATH = "secrets/data/openshift"

# Keys of the predecessor's site config that proxshift accepts but has no use for.
PREDECESSOR_ONLY_KEYS = frozenset(
    {
        "iso_boot_path",
        "ocp_iso_image",
        "cluster_marker",
        "hub_cluster_api_url",  # the hub's API is read from its kubeconfig
    }
)


# Keys of the predecessor that post_install replaces: read (backup_secrets) or warned about.
PREDECESSOR_REPLACED = frozenset({"gitops_root", "backup_secrets", "backup_dir"})


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NetworkDefaults(_Model):
    """The network every cluster lives on (the predecessor's network_defaults)."""

    base_domain: str
    subnet: ipaddress.IPv4Network
    gateway: ipaddress.IPv4Address
    dns_servers: list[ipaddress.IPv4Address] = Field(min_length=1)
    interface_name: str = "ens18"
    cluster_cidr: ipaddress.IPv4Network = ipaddress.IPv4Network("10.128.0.0/14")
    service_cidr: ipaddress.IPv4Network = ipaddress.IPv4Network("172.30.0.0/16")
    host_prefix: int = Field(default=23, ge=1, le=30)

    @field_validator("base_domain")
    @classmethod
    def _dns_domain(cls, value: str) -> str:
        if not DNS_SUBDOMAIN.fullmatch(value.rstrip(".")):
            raise ValueError("is not a DNS domain (lowercase letters, digits, '-' and '.')")
        return value

    @field_validator("subnet", "cluster_cidr", "service_cidr", mode="before")
    @classmethod
    def _canonical_network(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                network = ipaddress.IPv4Network(value, strict=False)
            except ValueError:
                return value  # pydantic reports it with its own message
            if str(network) != value.strip():
                raise ValueError(f"has host bits set; the network is {network}")
        return value


class VaultItem(_Model):
    """One input secret: where it lives in KV v2 and under which key."""

    name: str
    path: str
    key: str


class ProxmoxEndpoint(_Model):
    """Where the Proxmox API is reached; any node of a PVE cluster serves all of it."""

    host: str | None = None
    port: int = Field(default=8006, ge=1, le=65535)
    verify_ssl: bool = True
    ca_cert: str | None = None
    # KV path holding token_id + token_secret (or user + password), when not in the environment.
    credentials_path: str | None = None
    # Seconds between task status polls, and the limit for one task.
    poll_interval: float = Field(default=0.5, gt=0, le=30)
    task_timeout: float = Field(default=900, gt=0)


class Proxy(_Model):
    httpProxy: str | None = None
    httpsProxy: str | None = None
    noProxy: str | None = None


class ImageDigestSource(_Model):
    source: str
    mirrors: list[str] = Field(min_length=1)


class Settings(_Model):
    """Everything the site config says, resolved and validated."""

    source: Path | None = None
    source_label: str = "site config"
    vault_addr: str | None = None
    vault_path: str | None = None
    credentials_path: str = DEFAULT_CREDENTIALS_PATH
    ocp_installer_path: str | None = None
    hub_cluster: str | None = None
    vault_items: list[VaultItem] = Field(default_factory=list)
    network_defaults: NetworkDefaults | None = None
    proxmox: ProxmoxEndpoint = ProxmoxEndpoint()
    proxy: Proxy | None = None
    image_digest_sources: list[ImageDigestSource] = Field(default_factory=list)
    ntp_sources: list[str] = Field(default_factory=list)
    fips: bool = False
    additional_trust_bundle_policy: Literal["Proxyonly", "Always"] | None = None
    acm_addons: dict[str, bool] = Field(default_factory=dict)
    # Where a cluster's assisted-service API is reached when not on <rendezvousIP>:8090 (a tunnel, the lab).
    agent_api_urls: dict[str, str] = Field(default_factory=dict)
    # Where a host that `nodes add` boots serves its assisted-service API; {ip} and {host} are that host's.
    add_nodes_agent_url: str = "http://{ip}:8090/api/assisted-install/v2"
    # How long `openshift-install agent create image` may run: seconds, or a duration (45m).
    installer_timeout: float = Field(default=1800, gt=0)
    post_install: PostInstall = PostInstall()
    hooks: Hooks = Hooks()
    hook_timeout: Duration | None = None
    ignored_keys: tuple[str, ...] = ()
    warnings: tuple[Problem, ...] = ()

    @field_validator("add_nodes_agent_url")
    @classmethod
    def _url_template(cls, value: str) -> str:
        try:
            url = value.format(ip="192.0.2.1", host="host")
        except (KeyError, IndexError, ValueError):
            raise ValueError("may use only the placeholders {ip} and {host}") from None
        if not url.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value

    @field_validator("installer_timeout", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> Any:
        from proxshift.config.durations import parse_duration

        if not isinstance(value, str):
            return value
        try:
            return parse_duration(value)
        except UserInputError as exc:
            raise ValueError(f"{exc.message}: {exc.hint}") from None

    @field_validator("post_install", mode="before")
    @classmethod
    def _empty_post_install(cls, value: Any) -> Any:
        return {} if value is None else value


# Keys whose strings may name per-cluster things, kept as written and filled in per cluster later: post_install's
# `{{ cluster_name }}` (config/post_install.py), a hook's HOOK_NAMES (when it runs).
PER_CLUSTER_NAMES = {"post_install": ("cluster_name",), "hooks": HOOK_NAMES}
# What the inputs digest of the install phases leaves out (engine/phases/base.py): not settings of the install.
NOT_INSTALL_INPUTS = frozenset({"source", "source_label", "warnings", "post_install", "hooks", "hook_timeout"})

KNOWN_KEYS = frozenset(Settings.model_fields) - {
    "source",
    "source_label",
    "ignored_keys",
    "warnings",
    "credentials_path",
}


def _line_lookup(lines: dict[tuple[str, ...], int], location: str) -> int | None:
    parts = tuple(location.split("."))
    while parts:
        if parts in lines:
            return lines[parts]
        parts = parts[:-1]
    return None


def load_settings(paths: Paths) -> Settings:
    """Read and validate the site config; raise InvalidInput listing every problem."""
    if paths.config is None:
        return Settings()
    shown = paths.shown(paths.config)
    if not paths.config.is_file():
        raise UserInputError(
            f"{shown}: site config not found",
            "create it (see docs/configuration.md) or point --config / PROXSHIFT_CONFIG at it",
        )
    raw, lines = load_yaml(paths.config, shown)
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise UserInputError(f"{shown}: must be a mapping of keys to values", "see docs/configuration.md")
    runtime = {"ansible_user_dir": str(Path.home())}
    resolved, problems = _resolve_known(raw, runtime, shown)
    values, ignored, warnings = _sort_keys(raw, resolved, shown, lines)
    for key in sorted(PREDECESSOR_REPLACED & set(raw)):
        found, warning = _predecessor_key(key, raw, runtime, values, shown)
        problems += found
        warnings += [Problem(w.file, key, w.message, w.fix, w.severity, _line_lookup(lines, key)) for w in warning]
    try:
        settings = Settings(source=paths.config, source_label=shown, **values)
    except ValidationError as exc:
        problems += problems_from_validation_error(exc, shown)
    else:
        problems += _check_network(settings, shown)
        problems += list(label_problems(settings.post_install.node_labels, shown, "post_install.node_labels"))
        problems += list(hook_problems(settings.hooks, shown, "hooks"))
    if problems:
        problems = [
            Problem(p.file, p.location, p.message, p.fix, p.severity, p.line or _line_lookup(lines, p.location))
            for p in problems
        ]
        raise InvalidInput(problems + warnings)
    credentials = _credentials_location(settings, shown)
    warnings += credentials.pop("warnings")
    return settings.model_copy(update={**credentials, "ignored_keys": tuple(ignored), "warnings": tuple(warnings)})


def _resolve_known(raw: dict[str, Any], runtime: dict[str, str], shown: str) -> tuple[dict[str, Any], list[Problem]]:
    """The known keys with their references resolved; the per-cluster names (PER_CLUSTER_NAMES) stay as written."""
    known = [k for k in raw if k in KNOWN_KEYS]
    resolved, problems = resolve_references(raw, runtime, shown, [k for k in known if k not in PER_CLUSTER_NAMES])
    for key in (k for k in known if k in PER_CLUSTER_NAMES):
        kept = {name: f"{{{{ {name} }}}}" for name in PER_CLUSTER_NAMES[key]}
        later, later_problems = resolve_references(raw, {**runtime, **kept}, shown, [key])
        resolved.update(later)
        problems += later_problems
    return resolved, problems


def _sort_keys(
    raw: dict[str, Any], resolved: dict[str, Any], shown: str, lines: dict[tuple[str, ...], int]
) -> tuple[dict[str, Any], list[str], list[Problem]]:
    """(values of the known keys, the predecessor's keys ignored, warnings about unknown keys)."""
    values: dict[str, Any] = {}
    ignored: list[str] = []
    warnings: list[Problem] = []
    for key in raw:
        if key in KNOWN_KEYS:
            if key in resolved:
                values[key] = resolved[key]
        elif key in PREDECESSOR_ONLY_KEYS:
            ignored.append(key)
        elif key not in PREDECESSOR_REPLACED:  # those: _predecessor_key, once post_install is known
            guess = closest(key, KNOWN_KEYS)
            fix = f"did you mean '{guess}'?" if guess else "remove it; proxshift does not use it"
            warnings.append(
                Problem(shown, key, "is not a known key and is ignored", fix, "warning", _line_lookup(lines, key))
            )
    return values, ignored, warnings


def _predecessor_key(
    key: str, raw: dict[str, Any], runtime: dict[str, str], values: dict[str, Any], shown: str
) -> tuple[list[Problem], list[Problem]]:
    """(problems, warnings): the predecessor's backup_secrets is post_install.backup.secrets when that is
    absent; its local GitOps tree and backup directory have no use any more: a warning says what replaces them."""
    if key == "backup_secrets":
        resolved, problems = resolve_references(raw, runtime, shown, [key])
        current = values.get("post_install")
        post = dict(current) if isinstance(current, dict) else {}
        backup = post.get("backup")
        given = isinstance(backup, dict) and "secrets" in backup
        if key in resolved and (current is None or isinstance(current, dict)) and not given:
            post["backup"] = {**(backup if isinstance(backup, dict) else {}), "secrets": resolved[key]}
            values["post_install"] = post
        return problems, []
    if key == "gitops_root":
        message = "is the predecessor's local kustomize/helm tree; proxshift does not apply it"
        fix = "install GitOps with post_install.gitops (repo_url for the root Application), see docs/gitops.md"
    else:
        resolved, _ = resolve_references(raw, runtime, shown, [key])
        where = f" ({resolved[key]})" if isinstance(resolved.get(key), str) else ""
        message = "is not used: proxshift keeps backups in Vault, at <vault_path>/backups/<cluster>/"
        fix = f"restore the predecessor's files{where} once with 'proxshift restore <cluster> --from-dir DIR'"
    return [], [Problem(shown, key, message, fix, "warning")]


def _credentials_location(settings: Settings, shown: str) -> dict[str, Any]:
    """The predecessor's `vault_path` is either its credentials file or the KV path itself."""
    result: dict[str, Any] = {"warnings": []}
    value = settings.vault_path
    if not value:
        return result
    if not value.endswith((".yml", ".yaml")):
        result["credentials_path"] = value
        return result
    path = Path(value).expanduser()
    if not path.is_file():
        return result  # defaults apply
    text = path.read_text(errors="replace")
    if text.startswith("$ANSIBLE_VAULT"):
        result["warnings"].append(
            Problem(
                shown,
                "vault_path",
                f"{value} is ansible-vault encrypted; proxshift does not read it",
                "set VAULT_ADDR / VAULT_TOKEN in the environment and see docs/migration.md",
                "warning",
            )
        )
        return result
    data = parse_yaml(text, str(path))[0] or {}  # duplicate keys, alias bombs: exit 2, as in every file read
    if not isinstance(data, dict):
        result["warnings"].append(
            Problem(
                shown, "vault_path", f"{value} is not a YAML mapping and is ignored", "see docs/migration.md", "warning"
            )
        )
        return result
    if isinstance(data.get("vault_path"), str):
        result["credentials_path"] = data["vault_path"]
    if isinstance(data.get("vault_addr"), str) and not settings.vault_addr:
        result["vault_addr"] = data["vault_addr"]
    leaked = sorted(k for k in data if k in ("vault_token", "proxmox_api_password", "proxmox_api_user"))
    if leaked:
        result["warnings"].append(
            Problem(
                str(path),
                ", ".join(leaked),
                "are credentials in a plain file and are ignored",
                "put them in the environment (VAULT_TOKEN, PROXSHIFT_PROXMOX_*) or in Vault, then delete them "
                "from the file",
                "warning",
            )
        )
    return result


def _check_network(settings: Settings, file: str) -> list[Problem]:
    net = settings.network_defaults
    if net is None:
        return []
    problems = []
    if net.gateway not in net.subnet or net.gateway in (net.subnet.network_address, net.subnet.broadcast_address):
        problems.append(
            Problem(
                file,
                "network_defaults.gateway",
                f"{net.gateway} is not a usable address of {net.subnet}",
                "give the router's address inside network_defaults.subnet",
            )
        )
    for first, second in (("subnet", "cluster_cidr"), ("subnet", "service_cidr"), ("cluster_cidr", "service_cidr")):
        a, b = getattr(net, first), getattr(net, second)
        if a.overlaps(b):
            problems.append(
                Problem(
                    file,
                    f"network_defaults.{second}",
                    f"{b} overlaps network_defaults.{first} ({a})",
                    "pick ranges that do not overlap",
                )
            )
    if net.host_prefix < net.cluster_cidr.prefixlen:
        problems.append(
            Problem(
                file,
                "network_defaults.host_prefix",
                f"/{net.host_prefix} is larger than the cluster network {net.cluster_cidr}",
                "use a host_prefix longer than the cluster_cidr prefix, e.g. 23",
            )
        )
    return problems
