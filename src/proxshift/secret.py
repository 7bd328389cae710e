"""Secret values that cannot leak by accident, and the checks of the install inputs."""

from __future__ import annotations

import base64
import binascii
import json
import re
import struct
from dataclasses import dataclass, field
from typing import Any

REDACTED = "**********"


class Secret:
    """A secret string: repr/str/format show a redaction; only `reveal()` gives the value.

    Call `reveal()` only where the value is written into a manifest or sent to Vault.
    """

    __slots__ = ("_source", "_value")

    def __init__(self, value: str, source: str = "") -> None:
        # `source` (`name from path`) is safe to print: redactions name it so users know which item it is.
        self._value = value
        self._source = source

    def reveal(self) -> str:
        return self._value

    def redacted(self) -> str:
        return f"<redacted: {self._source}>" if self._source else f"<redacted: {REDACTED}>"

    def __repr__(self) -> str:
        return f"Secret({self._source or REDACTED!s})"

    __str__ = redacted

    def __format__(self, spec: str) -> str:
        return self.redacted()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __reduce__(self) -> Any:
        raise TypeError("secrets are not picklable")


class SecretFormatError(ValueError):
    """The value read is not what the item must hold; the message never quotes the value."""


def normalize_pull_secret(raw: Any) -> str:
    """Compact JSON of a pull secret stored as a JSON string or as an object."""
    if isinstance(raw, str):
        try:
            data = json.loads(raw)
        except ValueError:
            raise SecretFormatError('is not JSON (expected {"auths": {...}})') from None
        if isinstance(data, str):
            # Stored double-encoded, as the predecessor rendered it: decode once more.
            try:
                data = json.loads(data)
            except ValueError:
                raise SecretFormatError("is a JSON string, not a JSON object with 'auths'") from None
    else:
        data = raw
    if not isinstance(data, dict) or not isinstance(data.get("auths"), dict):
        raise SecretFormatError('has no \'auths\' object (expected {"auths": {"registry": {"auth": ...}}})')
    if not data["auths"]:
        raise SecretFormatError("has an empty 'auths' object")
    for registry, entry in data["auths"].items():
        if not isinstance(entry, dict) or not (entry.get("auth") or entry.get("credsStore")):
            raise SecretFormatError(f"entry for registry '{registry}' has neither 'auth' nor 'credsStore'")
    return json.dumps(data, separators=(",", ":"))


_SSH_KEY_TYPES = frozenset(
    {
        "ssh-rsa",
        "ssh-ed25519",
        "ssh-dss",
        "ecdsa-sha2-nistp256",
        "ecdsa-sha2-nistp384",
        "ecdsa-sha2-nistp521",
        "sk-ssh-ed25519@openssh.com",
        "sk-ecdsa-sha2-nistp256@openssh.com",
    }
)


def check_ssh_public_keys(text: str, fips: bool = False) -> str:
    """Every non-empty line must be an OpenSSH public key whose blob names its own type."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    if not lines:
        raise SecretFormatError("is empty")
    for number, line in enumerate(lines, 1):
        parts = line.split()
        prefix = f"line {number} " if len(lines) > 1 else ""
        if len(parts) < 2 or parts[0] not in _SSH_KEY_TYPES:
            raise SecretFormatError(f"{prefix}is not an OpenSSH public key (expected 'ssh-ed25519 AAAA... comment')")
        try:
            blob = base64.b64decode(parts[1], validate=True)
            (length,) = struct.unpack(">I", blob[:4])
            embedded = blob[4 : 4 + length].decode("ascii") if 0 < length <= len(blob) - 4 else ""
        except (binascii.Error, struct.error, UnicodeDecodeError):
            embedded = ""
        if embedded != parts[0]:
            raise SecretFormatError(f"{prefix}has key data that is not a valid {parts[0]} key")
        if fips and parts[0] != "ssh-rsa" and not parts[0].startswith("ecdsa-"):
            raise SecretFormatError(f"{prefix}is a {parts[0]} key; with fips: true only RSA or ECDSA keys are allowed")
    return "\n".join(lines)


_PEM_BLOCK = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----\s*(.*?)\s*-----END \1-----", re.S)


def check_ca_bundle(text: str) -> str:
    """Only PEM X.509 certificates, each decodable; returns the bundle with a final newline."""
    stripped = text.strip()
    if not stripped:
        raise SecretFormatError("is empty")
    blocks = list(_PEM_BLOCK.finditer(stripped))
    if not blocks:
        raise SecretFormatError("holds no PEM certificate (expected -----BEGIN CERTIFICATE-----)")
    leftover = _PEM_BLOCK.sub("", stripped).strip()
    if leftover:
        raise SecretFormatError("holds text outside PEM blocks")
    for index, block in enumerate(blocks, 1):
        if block.group(1) != "CERTIFICATE":
            raise SecretFormatError(f"block {index} is a {block.group(1)}, not a CERTIFICATE")
        try:
            der = base64.b64decode("".join(block.group(2).split()), validate=True)
        except binascii.Error:
            raise SecretFormatError(f"certificate {index} is not valid base64") from None
        if not der.startswith(b"\x30"):
            raise SecretFormatError(f"certificate {index} is not DER-encoded X.509")
    return stripped + "\n"


@dataclass(frozen=True)
class InstallSecrets:
    """The inputs a cluster's manifests need from Vault."""

    pull_secret: Secret
    ssh_key: Secret
    ca_bundle: Secret | None = None
    versions: dict[str, int] = field(default_factory=dict)

    @classmethod
    def placeholders(cls, sources: dict[str, str], with_ca: bool) -> InstallSecrets:
        """Stand-ins for offline review (`--no-vault`): values that say where they would come from."""
        return cls(
            Secret(f"<redacted: {sources['pull-secret']}>", sources["pull-secret"]),
            Secret(f"<redacted: {sources['ssh-key']}>", sources["ssh-key"]),
            Secret(f"<redacted: {sources['ca-bundle']}>", sources["ca-bundle"]) if with_ca else None,
        )
