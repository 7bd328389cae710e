"""Median wall time of `proxshift manifests <cluster>` against a local OpenBao dev server.

Usage: python benchmarks/manifests.py [--runs 10]
Seeds OpenBao like the predecessor's Vault (tests/fixtures/predecessor/rendered/vault-seed.json)
and renders an SNO (ocp-sno1) and the 6-node `ocp` of the predecessor's inventory, each run a
fresh process that reads Vault, renders, checks and writes. Target (issue 3): under 0.5 s each.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import hvac

from proxshift.lab.openbao import OpenBaoServer

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "fixtures" / "predecessor"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    exe = str(Path(sys.executable).parent / "proxshift")
    server = OpenBaoServer().start()
    try:
        client = hvac.Client(url=server.addr, token=server.root_token)
        client.sys.enable_secrets_engine("kv", path="secrets", options={"version": "2"})
        for path, data in json.loads((FIXTURES / "rendered" / "vault-seed.json").read_text())["secrets"].items():
            client.secrets.kv.v2.create_or_update_secret(path=path, mount_point="secrets", secret=data)
        with tempfile.TemporaryDirectory() as root_dir:
            root = Path(root_dir)
            (root / "inventory").mkdir()
            (root / "config").mkdir()
            shutil.copy(FIXTURES / "clusters.yml", root / "inventory" / "clusters.yml")
            shutil.copy(FIXTURES / "site-config.yaml", root / "config" / "site-config.yaml")
            env = {**os.environ, "VAULT_ADDR": server.addr, "VAULT_TOKEN": server.root_token, "HOME": root_dir}
            baseline = [sys.executable, "-c", "pass"]
            commands = {
                "python -c pass": baseline,
                "manifests ocp-sno1": [exe, "--root", root_dir, "manifests", "ocp-sno1"],
                "manifests ocp (6 nodes)": [exe, "--root", root_dir, "manifests", "ocp"],
            }
            samples: dict[str, list[float]] = {name: [] for name in commands}
            for _ in range(args.runs):
                for name, cmd in commands.items():
                    shutil.rmtree(root / "ocp_install", ignore_errors=True)  # a real render + write each time
                    start = time.perf_counter()
                    result = subprocess.run(cmd, env=env, capture_output=True, check=False)
                    samples[name].append(time.perf_counter() - start)
                    if result.returncode != 0:
                        raise SystemExit(f"{name} failed: {result.stderr.decode()}")
    finally:
        server.stop()
    print(f"{'command':<26}{'median s':>10}{'min s':>9}{'max s':>9}")
    for name, values in samples.items():
        print(f"{name:<26}{statistics.median(values):>10.3f}{min(values):>9.3f}{max(values):>9.3f}")
    worst = max(statistics.median(samples[n]) for n in commands if n != "python -c pass")
    print(
        f"\nslowest median {worst:.3f} s: {'meets' if worst < 0.5 else 'misses'} the 0.5 s target; "
        f"runs={args.runs} (the predecessor's ps.generate_manifests: 5.6-6.2 s)"
    )


if __name__ == "__main__":
    main()
