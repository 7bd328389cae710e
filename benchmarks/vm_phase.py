"""Create and start the predecessor's 6-node `ocp` cluster on fakepve, as the predecessor was measured.

Usage: python benchmarks/vm_phase.py
fakepve at time scale 1, 30 ms added to every response (slow_network) and each VM's start
taking 3 s (start_secs, set by wrapping fakepve's VM model). Prints wall time and the HTTP
requests in total and per VM from fakepve's request log, then an idempotent re-run.
Predecessor in exactly this setting: 34 s create + 32 s start, 192 + 54 requests.
Targets (issue 4): create + start under 5 s; at most 6 writes per VM; one login per run;
a re-run makes zero writes.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import fakepve.qemu
import yaml
from fakepve import FakePve, FakeVm
from fakepve.certs import make_cert
from fakepve.pytest_plugin import _Serving

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "fixtures" / "predecessor"
START_SECS = 3
VMS = 6


class SlowStartVm(FakeVm):  # type: ignore[misc]
    """A VM whose start task takes START_SECS PVE seconds, like a real QEMU boot."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.start_secs = START_SECS


def _counts(requests: list[tuple[str, str, bytes]]) -> tuple[int, int, int]:
    writes = sum(1 for method, _, _ in requests if method not in ("GET", "HEAD"))
    logins = sum(1 for method, path, _ in requests if method == "POST" and path.endswith("/access/ticket"))
    return len(requests), writes - logins, logins


def main() -> None:
    fakepve.qemu.FakeVm = SlowStartVm
    with tempfile.TemporaryDirectory() as work:
        pki = make_cert(work, hosts=("127.0.0.1",))[:2]
        pve = FakePve(user="root@pam", password="secret", host="127.0.0.1", port=0)
        pve.time_scale = 1.0
        for node in ("pve2", "pve3", "pve4"):
            pve.add_node(node)
        pve.storages["your_nfs"] = {
            "type": "nfs",
            "active": 1,
            "content": "iso",
            "files": set(),
            "path": "/mnt/nfs",
            "server": "192.0.2.5",
            "export": "/iso",
            "shared": 1,
            "avail": 64 * 1024**3,
        }
        pve.store_file("your_nfs", "ocp-agent.x86_64.iso", 1024)
        serving = _Serving(pve, *pki)
        try:
            pve.slow_network(0.03)
            root = Path(work) / "root"
            (root / "inventory").mkdir(parents=True)
            (root / "config").mkdir()
            shutil.copy(FIXTURES / "clusters.yml", root / "inventory" / "clusters.yml")
            site = (FIXTURES / "site-config.yaml").read_text()
            proxmox = {"host": "127.0.0.1", "port": pve.port, "ca_cert": pki[0]}
            (root / "config" / "site-config.yaml").write_text(
                site + "\nproxmox: " + yaml.safe_dump(proxmox, default_flow_style=True)
            )
            env = {
                **os.environ,
                "HOME": work,
                "PROXSHIFT_PROXMOX_USER": "root@pam",
                "PROXSHIFT_PROXMOX_PASSWORD": "secret",
            }
            exe = str(Path(sys.executable).parent / "proxshift")
            rows = []
            for label, args in (
                ("create", ["vms", "create", "ocp"]),
                ("start", ["start", "ocp"]),
                ("re-run create", ["vms", "create", "ocp"]),
                ("re-run start", ["start", "ocp"]),
            ):
                before = len(pve.requests)
                began = time.perf_counter()
                result = subprocess.run(
                    [exe, "--root", str(root), *args], env=env, capture_output=True, text=True, check=False
                )
                wall = time.perf_counter() - began
                if result.returncode != 0:
                    raise SystemExit(f"{label} failed:\n{result.stdout}\n{result.stderr}")
                total, writes, logins = _counts(pve.requests[before:])
                rows.append((label, wall, total, writes, logins))
            per_vm = Counter(
                p.split("/qemu/")[1].split("/")[0] for m, p, _ in pve.requests if m != "GET" and "/qemu/" in p
            )
        finally:
            serving.stop()
    print(f"{'step':<16}{'wall s':>8}{'requests':>10}{'writes':>8}{'logins':>8}")
    for label, wall, total, writes, logins in rows:
        print(f"{label:<16}{wall:>8.2f}{total:>10}{writes:>8}{logins:>8}")
    create_start = rows[0][1] + rows[1][1]
    writes_per_vm = (rows[0][3] + rows[1][3]) / VMS
    print(f"\ncreate + start: {create_start:.2f} s wall for {VMS} VMs (target < 5 s; predecessor 66 s)")
    print(
        f"requests: {rows[0][2] + rows[1][2]} in total, {(rows[0][2] + rows[1][2]) / VMS:.1f} per VM "
        f"(predecessor 246, 41 per VM); writes per VM: {writes_per_vm:.1f} (target <= 6)"
    )
    logins = ", ".join(str(r[4]) for r in rows)
    print(f"logins per run: {logins} (target 1); re-run writes: {rows[2][3] + rows[3][3]} (target 0)")
    print(f"post-create writes per VM id: {dict(sorted(per_vm.items()))}")


if __name__ == "__main__":
    main()
