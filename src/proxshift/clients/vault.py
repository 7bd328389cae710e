"""Vault through hvac: read the install inputs, write and read back cluster credentials."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from proxshift.clients.transport import RETRY, transport_errors
from proxshift.config.settings import Settings, VaultItem
from proxshift.errors import OperationError, ProxshiftError, UserInputError
from proxshift.secret import (
    InstallSecrets,
    Secret,
    SecretFormatError,
    check_ca_bundle,
    check_ssh_public_keys,
    normalize_pull_secret,
)

if TYPE_CHECKING:
    import hvac

# Names the site config's vault_items use for each input (the predecessor's first).
PULL_SECRET_NAMES = ("pull-secret", "pullsecret", "pull_secret")
SSH_KEY_NAMES = ("ssh-key", "ssh_key", "sshkey", "ssh-pubkey")
CA_BUNDLE_NAMES = ("cert-bundle", "ca-bundle", "ca_bundle", "additional-trust-bundle", "trust-bundle")
CREDENTIAL_KEYS = ("api", "kubeconfig", "kubeadmin")
MANAGED_BY = {"managed-by": "proxshift"}
REQUEST_TIMEOUT = 15


@dataclass(frozen=True)
class KvPath:
    """A KV v2 location: the mount and the path inside it."""

    mount: str
    path: str

    @classmethod
    def parse(cls, text: str) -> KvPath:
        """`secrets/data/openshift/pullsecret` (raw API form) or `secrets/openshift/pullsecret`."""
        parts = [p for p in text.strip("/").split("/") if p]
        if len(parts) >= 3 and parts[1] == "data":
            del parts[1]
        if len(parts) < 2:
            raise UserInputError(
                f"'{text}' is not a KV v2 path", "write it as <mount>/<path>, e.g. secrets/openshift/pullsecret"
            )
        return cls(parts[0], "/".join(parts[1:]))

    def child(self, name: str) -> KvPath:
        return KvPath(self.mount, f"{self.path}/{name}")

    @property
    def api_path(self) -> str:
        return f"{self.mount}/data/{self.path}"

    def __str__(self) -> str:
        return self.api_path


@dataclass(frozen=True)
class VaultAccess:
    """How to reach and authenticate to Vault, resolved from the environment and site config."""

    addr: str
    token: Secret | None = None
    role_id: str | None = None
    secret_id: Secret | None = None
    namespace: str | None = None
    verify: bool | str = True
    warnings: tuple[str, ...] = ()


def vault_access(settings: Settings, env: Mapping[str, str] | None = None) -> VaultAccess:
    """VAULT_* from the environment win over the site config; the token is found on purpose."""
    env = os.environ if env is None else env
    addr = env.get("VAULT_ADDR") or settings.vault_addr
    if not addr:
        raise UserInputError("no Vault address", "set VAULT_ADDR (or vault_addr in the site config)")
    warnings: list[str] = []
    verify: bool | str = True
    if env.get("VAULT_SKIP_VERIFY", "").lower() in ("1", "true", "yes"):
        verify = False
        warnings.append("VAULT_SKIP_VERIFY is set: Vault's TLS certificate is not verified")
    elif env.get("VAULT_CACERT"):
        verify = env["VAULT_CACERT"]
        if not Path(verify).is_file():
            raise UserInputError(f"VAULT_CACERT names a missing file: {verify}", "point it at the CA certificate (PEM)")
    role_id, secret_id = env.get("VAULT_ROLE_ID"), env.get("VAULT_SECRET_ID")
    token: Secret | None = None
    if env.get("VAULT_TOKEN"):
        token = Secret(env["VAULT_TOKEN"].strip(), "VAULT_TOKEN")
    else:
        token_file = Path(env.get("HOME") or Path.home()) / ".vault-token"
        if token_file.is_file():
            token = Secret(token_file.read_text().strip(), str(token_file))
    if not token and not (role_id and secret_id):
        raise UserInputError(
            "no Vault credentials",
            "set VAULT_TOKEN (or log in so that ~/.vault-token exists), "
            "or VAULT_ROLE_ID and VAULT_SECRET_ID for AppRole",
        )
    return VaultAccess(
        addr=addr.rstrip("/"),
        token=token,
        role_id=role_id,
        secret_id=Secret(secret_id, "VAULT_SECRET_ID") if secret_id else None,
        namespace=env.get("VAULT_NAMESPACE") or None,
        verify=verify,
        warnings=tuple(warnings),
    )


@dataclass
class ReadResult:
    value: Any
    version: int
    keys: list[str] = field(default_factory=list)


class Vault:
    """One authenticated connection; every failure becomes one line with a hint, never a secret."""

    def __init__(self, access: VaultAccess) -> None:
        self.access = access
        self._client: hvac.Client | None = None

    # -- connection -------------------------------------------------------------------------

    @contextmanager
    def _errors(self, doing: str, path: str = "", capability: str = "read") -> Iterator[None]:
        import hvac.exceptions as hx

        addr = self.access.addr
        tls_hint = "set VAULT_CACERT to the CA certificate that signed Vault's certificate"
        try:
            with transport_errors("Vault", addr, doing, tls_hint, "check VAULT_ADDR and that Vault is running"):
                yield
        except ProxshiftError:
            raise
        except hx.VaultDown as exc:
            if "sealed" in str(exc).lower():
                raise OperationError(f"Vault at {addr} is sealed", "unseal it (bao/vault operator unseal)") from exc
            raise OperationError(
                f"Vault at {addr} answered HTTP 503 while {doing}",
                "Vault is sealed or on standby, or a proxy in front of it is failing ('vault status'); "
                "reads were retried a few times",
            ) from exc
        except hx.Unauthorized:
            raise OperationError(
                f"Vault rejected the token while {doing}", "log in again; the token is invalid or expired"
            ) from None
        except hx.Forbidden:
            if path:
                raise OperationError(
                    f"permission denied: {capability} on {path}",
                    f"give the token's policy the '{capability}' capability on {path} (see docs/vault.md)",
                ) from None
            raise OperationError(
                f"permission denied while {doing}", "check the token's policies (see docs/vault.md)"
            ) from None
        except hx.InvalidRequest:
            raise OperationError(
                f"Vault refused the request while {doing}", "check the credentials and the path"
            ) from None
        except hx.VaultError as exc:
            status = _status(exc)
            if status is not None:
                raise OperationError(
                    f"Vault at {addr} answered HTTP {status} while {doing}",
                    "Vault (or a proxy in front of it) is overloaded or rate-limits this client; "
                    "reads were retried a few times: try again later",
                ) from exc
            raise OperationError(
                f"Vault failed while {doing} ({type(exc).__name__})", "see Vault's server log"
            ) from None

    def client(self) -> hvac.Client:
        if self._client is not None:
            return self._client
        import hvac
        import hvac.exceptions as hx

        access = self.access
        # url and token are always passed: hvac would otherwise pick VAULT_ADDR / ~/.vault-token by itself.
        # Reads are retried on transient failures (RETRY). hvac passes `verify` with every request (so
        # REQUESTS_CA_BUNDLE cannot override it, requests' issue 3829) but, given a session, takes it from
        # the session's `verify` (hvac's issue 991): both say the same.
        session = RETRY.session()
        session.verify = access.verify
        client = hvac.Client(
            url=access.addr,
            token=access.token.reveal() if access.token else "",
            namespace=access.namespace,
            verify=access.verify,
            timeout=REQUEST_TIMEOUT,
            session=session,
        )
        if access.role_id and access.secret_id:
            try:
                with self._errors("logging in with AppRole"):
                    client.auth.approle.login(role_id=access.role_id, secret_id=access.secret_id.reveal())
            except OperationError as exc:
                if "refused" in exc.message:
                    raise OperationError(
                        "Vault rejected the AppRole login",
                        "check VAULT_ROLE_ID and VAULT_SECRET_ID (a secret_id may have expired)",
                    ) from None
                raise
        with self._errors("checking the token"):
            try:
                client.auth.token.lookup_self()
            except hx.Forbidden:
                raise OperationError(
                    f"Vault at {access.addr} rejected the token", "log in again: the token is invalid or expired"
                ) from None
        self._client = client
        return client

    # -- reading ----------------------------------------------------------------------------

    def read(self, location: KvPath) -> ReadResult:
        import hvac.exceptions as hx

        client = self.client()
        with self._errors(f"reading {location}", str(location)):
            try:
                response = client.secrets.kv.v2.read_secret_version(
                    path=location.path, mount_point=location.mount, raise_on_deleted_version=True
                )
            except hx.InvalidPath:
                raise OperationError(
                    f"no secret at {location}",
                    f"write it first, e.g. 'bao kv put -mount={location.mount} {location.path} key=value'",
                ) from None
        data = response["data"]["data"] or {}
        version = int(response["data"].get("metadata", {}).get("version") or 0)
        return ReadResult(data, version, sorted(data))

    def read_key(self, item: VaultItem) -> ReadResult:
        location = KvPath.parse(item.path)
        result = self.read(location)
        if item.key not in result.value:
            keys = ", ".join(result.keys) or "none"
            raise OperationError(
                f"vault item '{item.name}': key '{item.key}' not found at {location} (keys there: {keys})",
                "correct the key in the site config's vault_items, or write the key",
            )
        value = result.value[item.key]
        return ReadResult(value.rstrip("\n") if isinstance(value, str) else value, result.version, result.keys)

    def read_install_secrets(self, settings: Settings) -> InstallSecrets:
        items = install_items(settings)
        versions: dict[str, int] = {}

        def fetch(role: str, check: Callable[[Any], str]) -> Secret:
            item = items[role]
            read = self.read_key(item)
            versions[role] = read.version
            try:
                value = check(read.value)
            except SecretFormatError as exc:
                raise OperationError(
                    f"vault item '{item.name}' at {KvPath.parse(item.path)} {exc}", _FORMAT_HINTS[role]
                ) from None
            return Secret(value, f"{item.name} from {KvPath.parse(item.path)}")

        pull = fetch("pull-secret", normalize_pull_secret)
        ssh = fetch("ssh-key", lambda v: check_ssh_public_keys(_text(v), settings.fips))
        ca = fetch("ca-bundle", lambda v: check_ca_bundle(_text(v))) if "ca-bundle" in items else None
        return InstallSecrets(pull, ssh, ca, versions)

    # -- credentials ------------------------------------------------------------------------

    def write_credentials(self, base: KvPath, cluster: str, values: Mapping[str, Secret]) -> int:
        """Write api/kubeconfig/kubeadmin; refuse to replace a secret proxshift cannot show is its own."""
        location = base.child(cluster)
        client = self.client()
        existing = self._metadata(location)
        if existing is not None:
            current = self.read(location)
            ours = (existing.get("custom_metadata") or {}).get("managed-by") == "proxshift"
            predecessor_layout = set(current.keys) <= set(CREDENTIAL_KEYS)
            if not ours and not predecessor_layout:
                raise OperationError(
                    f"{location} already holds a secret proxshift did not write (keys: {', '.join(current.keys)})",
                    "move that secret, or point vault_path at a free location",
                )
            if current.value == {k: v.reveal() for k, v in values.items()}:
                return current.version
        with self._errors(f"writing {location}", str(location), "create/update"):
            response = client.secrets.kv.v2.create_or_update_secret(
                path=location.path, mount_point=location.mount, secret={k: v.reveal() for k, v in values.items()}
            )
        metadata_path = f"{location.mount}/metadata/{location.path}"
        with self._errors(f"marking {location} as proxshift's", metadata_path, "update"):
            client.secrets.kv.v2.update_metadata(
                path=location.path, mount_point=location.mount, custom_metadata={**MANAGED_BY, "cluster": cluster}
            )
        return int(response["data"]["version"])

    def read_credentials(self, base: KvPath, cluster: str) -> dict[str, Secret]:
        location = base.child(cluster)
        result = self.read(location)
        missing = [k for k in CREDENTIAL_KEYS if k not in result.value]
        if missing:
            raise OperationError(
                f"{location} lacks {', '.join(missing)} (keys there: {', '.join(result.keys) or 'none'})",
                f"run 'proxshift credentials {cluster}' after the install completes",
            )
        return {k: Secret(str(result.value[k]), f"{k} from {location}") for k in CREDENTIAL_KEYS}

    def find_credentials(self, base: KvPath, cluster: str) -> dict[str, Secret] | None:
        """The cluster's credentials, or None when nothing at all is stored at <base>/<cluster>."""
        if self._metadata(base.child(cluster)) is None:
            return None
        return self.read_credentials(base, cluster)

    def _metadata(self, location: KvPath) -> dict[str, Any] | None:
        import hvac.exceptions as hx

        client = self.client()
        metadata_path = f"{location.mount}/metadata/{location.path}"
        with self._errors(f"reading {metadata_path}", metadata_path):
            try:
                response = client.secrets.kv.v2.read_secret_metadata(path=location.path, mount_point=location.mount)
            except hx.InvalidPath:
                return None
        data: dict[str, Any] = response["data"]
        return data

    def capabilities(self, paths: list[str]) -> dict[str, list[str]]:
        client = self.client()
        with self._errors("reading the token's capabilities"):
            response = client.adapter.post("/v1/sys/capabilities-self", json={"paths": paths})
        data = response.get("data", response) if isinstance(response, dict) else response.json()
        return {p: list(data.get(p, [])) for p in paths}


_FORMAT_HINTS = {
    "pull-secret": "store the pull secret from console.redhat.com unchanged "
    "(vault kv put ... secret=@pull-secret.json)",
    "ssh-key": "store the public key (the .pub file), e.g. vault kv put ... key=@id_ed25519.pub",
    "ca-bundle": "store PEM certificates only (-----BEGIN CERTIFICATE----- blocks)",
}


def _status(exc: Exception) -> int | None:
    """The transient HTTP status behind one of hvac's exceptions (hvac keeps the class, not the status)."""
    import hvac.exceptions as hx

    by_class: dict[type[Exception], int] = {hx.RateLimitExceeded: 429, hx.BadGateway: 502, hx.VaultDown: 503}
    return next((status for kind, status in by_class.items() if isinstance(exc, kind)), None)


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise SecretFormatError(f"is a {type(value).__name__}, not text")
    return value


def install_items(settings: Settings) -> dict[str, VaultItem]:
    """The site config's vault_items by role; pull secret and SSH key are required."""
    by_role: dict[str, VaultItem] = {}
    for item in settings.vault_items:
        for role, names in (
            ("pull-secret", PULL_SECRET_NAMES),
            ("ssh-key", SSH_KEY_NAMES),
            ("ca-bundle", CA_BUNDLE_NAMES),
        ):
            if item.name.lower() in names:
                by_role[role] = item
    for role, names in (("pull-secret", PULL_SECRET_NAMES), ("ssh-key", SSH_KEY_NAMES)):
        if role not in by_role:
            raise UserInputError(
                f"{settings.source_label}: vault_items has no '{names[0]}' item",
                f"add one: - {{name: {names[0]}, path: secrets/data/..., key: ...}}",
            )
    return by_role


def item_sources(settings: Settings) -> dict[str, str]:
    """`name from path` for each role, for redaction markers; nothing is read."""
    items = install_items(settings)
    sources = {role: f"{item.name} from {KvPath.parse(item.path)}" for role, item in items.items()}
    sources.setdefault("ca-bundle", "ca-bundle")
    return sources
