"""Where the site config puts things in Vault: KV v2 paths, and the install inputs' items by role.

Pure: nothing here talks to Vault (clients/vault.py does, and re-exports `KvPath` and `install_items`).
"""

from __future__ import annotations

from dataclasses import dataclass

from proxshift.config.settings import Settings, VaultItem
from proxshift.errors import UserInputError

# Names the site config's vault_items use for each input (the predecessor's first).
PULL_SECRET_NAMES = ("pull-secret", "pullsecret", "pull_secret")
SSH_KEY_NAMES = ("ssh-key", "ssh_key", "sshkey", "ssh-pubkey")
CA_BUNDLE_NAMES = ("cert-bundle", "ca-bundle", "ca_bundle", "additional-trust-bundle", "trust-bundle")


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
