"""The install inputs' formats as the installer checks them; run only when the values are real (not --no-vault)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from proxshift.manifests.rules import INSTALL_CONFIG, Finding, error
from proxshift.secret import SecretFormatError, check_ca_bundle, check_ssh_public_keys, normalize_pull_secret


def secret_findings(install: Any) -> Iterator[Finding]:
    """RULES.md §3.5-7: pull secret, SSH key and CA bundle formats; messages never quote a value."""
    if not isinstance(install, dict):
        return
    try:
        normalize_pull_secret(install.get("pullSecret", ""))
    except SecretFormatError as exc:
        yield error(
            INSTALL_CONFIG,
            "pullSecret",
            f"the pull secret {exc}",
            "pull secret format",
            "store the pull secret unchanged in Vault",
        )
    if install.get("sshKey"):
        try:
            check_ssh_public_keys(str(install["sshKey"]), bool(install.get("fips")))
        except SecretFormatError as exc:
            yield error(
                INSTALL_CONFIG, "sshKey", f"the SSH key {exc}", "SSH key format", "store an OpenSSH public key in Vault"
            )
    if install.get("additionalTrustBundle"):
        try:
            check_ca_bundle(str(install["additionalTrustBundle"]))
        except SecretFormatError as exc:
            yield error(
                INSTALL_CONFIG,
                "additionalTrustBundle",
                f"the CA bundle {exc}",
                "CA bundle format",
                "store PEM certificates only",
            )
