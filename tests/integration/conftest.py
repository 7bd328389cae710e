"""Real stand-ins for integration tests: an OpenBao dev server, one per test session."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hvac
import pytest

from proxshift.lab.openbao import OpenBaoServer, enable_kv_v2
from tests.conftest import PREDECESSOR


@pytest.fixture(scope="session")
def openbao() -> Iterator[OpenBaoServer]:
    server = OpenBaoServer().start()
    try:
        yield server
    finally:
        server.stop()


@dataclass
class VaultFixture:
    server: OpenBaoServer
    mount: str
    admin: hvac.Client

    @property
    def addr(self) -> str:
        return self.server.addr

    def put(self, path: str, data: dict[str, Any]) -> None:
        self.admin.secrets.kv.v2.create_or_update_secret(path=path, mount_point=self.mount, secret=data)

    def get(self, path: str) -> dict[str, Any]:
        response = self.admin.secrets.kv.v2.read_secret_version(
            path=path, mount_point=self.mount, raise_on_deleted_version=True
        )
        return response["data"]["data"]  # type: ignore[no-any-return]

    def token(self, policy_hcl: str) -> str:
        name = f"p-{uuid.uuid4().hex[:8]}"
        self.admin.sys.create_or_update_policy(name=name, policy=policy_hcl)
        return str(self.admin.auth.token.create(policies=[name], ttl="1h")["auth"]["client_token"])

    def seed_predecessor(self) -> None:
        """The predecessor's fake inputs (rendered/vault-seed.json) at their paths."""
        seed = json.loads((PREDECESSOR / "rendered" / "vault-seed.json").read_text())
        for path, data in seed["secrets"].items():
            self.put(path, data)


@pytest.fixture
def vault(openbao: OpenBaoServer, monkeypatch: pytest.MonkeyPatch) -> VaultFixture:
    """A fresh KV v2 mount for this test, and VAULT_ADDR / VAULT_TOKEN pointing at it."""
    admin = hvac.Client(url=openbao.addr, token=openbao.root_token)
    mount = f"kv{uuid.uuid4().hex[:8]}"
    enable_kv_v2(admin, mount)
    monkeypatch.setenv("VAULT_ADDR", openbao.addr)
    monkeypatch.setenv("VAULT_TOKEN", openbao.root_token)
    return VaultFixture(openbao, mount, admin)


def predecessor_site_config(mount: str) -> str:
    """The predecessor's site config with its vault_items pointed at this test's mount."""
    text = (PREDECESSOR / "site-config.yaml").read_text()
    return text.replace("'secrets/data/", f"'{mount}/data/")


@pytest.fixture
def seeded_root(predecessor_root: Path, vault: VaultFixture) -> Path:
    """The predecessor's files, with Vault seeded like the predecessor's (at this test's mount)."""
    vault.seed_predecessor()
    (predecessor_root / "config" / "site-config.yaml").write_text(predecessor_site_config(vault.mount))
    return predecessor_root


# Fixtures shared by every integration test.
from tests.integration.finished import installed  # noqa: E402, F401
from tests.integration.install_lab import install_lab  # noqa: E402, F401
from tests.integration.post_install import post_install  # noqa: E402, F401
from tests.integration.pve import pve_lab  # noqa: E402, F401
