"""Regenerate tests/fixtures/golden/ from the predecessor's inputs (run by hand, then review the diff).

Usage: python -m tests.tools.regenerate_golden
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import hvac

from proxshift.cli import run
from proxshift.config.install_dir import MANIFEST_NAMES
from proxshift.lab.openbao import OpenBaoServer, enable_kv_v2

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def main() -> None:
    server = OpenBaoServer().start()
    try:
        client = hvac.Client(url=server.addr, token=server.root_token)
        enable_kv_v2(client, "secrets")
        seed = json.loads((FIXTURES / "predecessor" / "rendered" / "vault-seed.json").read_text())
        for path, data in seed["secrets"].items():
            client.secrets.kv.v2.create_or_update_secret(path=path, mount_point="secrets", secret=data)
        root = Path(tempfile.mkdtemp())
        (root / "inventory").mkdir()
        (root / "config").mkdir()
        shutil.copy(FIXTURES / "predecessor" / "clusters.yml", root / "inventory" / "clusters.yml")
        shutil.copy(FIXTURES / "predecessor" / "site-config.yaml", root / "config" / "site-config.yaml")
        os.environ.update(VAULT_ADDR=server.addr, VAULT_TOKEN=server.root_token, HOME=str(root))
        for cluster in ("ocp", "ocp3", "ocp-sno1", "ocp-sno2", "ocp-sno3"):
            if run(["--root", str(root), "manifests", cluster]) != 0:
                raise SystemExit(f"manifests {cluster} failed")
            target = FIXTURES / "golden" / cluster
            target.mkdir(parents=True, exist_ok=True)
            for name in MANIFEST_NAMES:
                shutil.copy(root / "ocp_install" / cluster / name, target / name)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
