"""Create and start the predecessor's 6-node `ocp` cluster on fakepve, as the predecessor was measured.

Usage: python benchmarks/vm_phase.py [--runs 5] [--before DIR] [--bytecode off|on|both] [--timeline]
fakepve at time scale 1, 30 ms added to every response (slow_network) and each VM's start
taking 3 s (start_secs, set by wrapping fakepve's VM model). Each round, for each tree and bytecode
mode (interleaved; see benchmarks/_compare.py), a fresh fakepve: `vms create ocp`, `start ocp`, then
both again (the idempotent re-run). Prints the medians of wall time, the HTTP requests in total and per
VM from fakepve's request log, writes and logins; --timeline prints each request of the first round,
in seconds since the command was launched (fakepve logs a request after its 30 ms latency).
Predecessor in exactly this setting: 34 s create + 32 s start = 65.9 s, 192 + 54 = 246 requests.
Targets (issue 18): create + start at most 4.3 s (limit about 3.3 s: one VM's start plus a few round
trips); requests per VM no more than 16.5; one login per run; a re-run makes zero writes.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import fakepve.qemu
import fakepve.server
import yaml
from _compare import REPO, Tree, env_for, load_note, median, modes, rotate, spread, timed, trees, warn_stale
from fakepve import FakePve, FakeVm
from fakepve.certs import make_cert
from fakepve.pytest_plugin import _Serving

FIXTURES = REPO / "tests" / "fixtures" / "predecessor"
START_SECS = 3
VMS = 6
TARGET = 4.3
REQUESTS_PER_VM = 16.5
STEPS = (
    ("create", ["vms", "create", "ocp"]),
    ("start", ["start", "ocp"]),
    ("re-run create", ["vms", "create", "ocp"]),
    ("re-run start", ["start", "ocp"]),
)
STAMPS: list[tuple[float, str, str]] = []  # (perf_counter, method, path) of each request fakepve logged


class SlowStartVm(FakeVm):  # type: ignore[misc]
    """A VM whose start task takes START_SECS PVE seconds, like a real QEMU boot."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.start_secs = START_SECS


def _stamping(record: Any) -> Any:
    def stamped(self: Any, request: Any, body: bytes) -> None:
        record(self, request, body)
        STAMPS.append((time.perf_counter(), request.method, request.path))

    return stamped


def _counts(requests: list[tuple[str, str, bytes]]) -> tuple[int, int, int]:
    writes = sum(1 for method, _, _ in requests if method not in ("GET", "HEAD"))
    logins = sum(1 for method, path, _ in requests if method == "POST" and path.endswith("/access/ticket"))
    return len(requests), writes - logins, logins


def _one_round(
    exe: str, env: dict[str, str], pki: tuple[str, str], work: Path, timeline: bool
) -> dict[str, dict[str, float]]:
    """The four steps on a fresh fakepve: each step's wall and CPU time and its request counts."""
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
    figures: dict[str, dict[str, float]] = {}
    try:
        pve.slow_network(0.03)
        root = Path(tempfile.mkdtemp(dir=work))
        (root / "inventory").mkdir(parents=True)
        (root / "config").mkdir()
        shutil.copy(FIXTURES / "clusters.yml", root / "inventory" / "clusters.yml")
        site = (FIXTURES / "site-config.yaml").read_text()
        proxmox = {"host": "127.0.0.1", "port": pve.port, "ca_cert": pki[0]}
        (root / "config" / "site-config.yaml").write_text(
            site + "\nproxmox: " + yaml.safe_dump(proxmox, default_flow_style=True)
        )
        env = {
            **env,
            "HOME": str(root),
            "PROXSHIFT_PROXMOX_USER": "root@pam",
            "PROXSHIFT_PROXMOX_PASSWORD": "secret",
        }
        for label, args in STEPS:
            before = len(pve.requests)
            STAMPS.clear()
            began = time.perf_counter()
            wall, cpu, code, err = timed([exe, "--root", str(root), *args], env, capture=True)
            if code != 0:
                raise SystemExit(f"{label} failed:\n{err}")
            total, writes, logins = _counts(pve.requests[before:])
            stamps = [(t - began, m, p) for t, m, p in STAMPS]
            figures[label] = {
                "wall": wall,
                "cpu": cpu,
                "requests": total,
                "writes": writes,
                "logins": logins,
                "first": stamps[0][0] if stamps else 0.0,
                "last": stamps[-1][0] if stamps else 0.0,
            }
            if timeline:
                print(f"--- {label}: {wall:.3f} s wall, {cpu:.3f} s CPU, {total} requests")
                for at, method, path in stamps:
                    print(f"  {at:7.3f}  {method:<5} {path.removeprefix('/api2/json')}")
        per_vm = Counter(p.split("/qemu/")[1].split("/")[0] for m, p, _ in pve.requests if m != "GET" and "/qemu/" in p)
        figures["per-vm writes"] = {str(k): float(v) for k, v in sorted(per_vm.items())}
    finally:
        serving.stop()
    return figures


def _at(rounds: list[dict[str, dict[str, float]]], step: str, which: str) -> str:
    return f"{median([r[step][which] for r in rounds]):.2f}"


def _report(
    chosen: list[Tree], chosen_modes: tuple[str, ...], results: dict[str, list[dict[str, dict[str, float]]]]
) -> None:
    labels = [t.label for t in chosen]
    head = "".join(f"{label + ' median':>14}{'min-max':>13}{'cpu':>7}" for label in labels)
    print(f"{'bytecode':<9}{'step':<22}{head}" + (f"{'now/before':>12}" if len(labels) > 1 else ""))
    verdicts = []
    for mode in chosen_modes:
        for step in [*(s for s, _ in STEPS[:2]), "create + start", *(s for s, _ in STEPS[2:])]:
            cells, walls = "", {}
            for label in labels:
                rounds = results[f"{mode}|{label}"]
                if step == "create + start":
                    wall = [r["create"]["wall"] + r["start"]["wall"] for r in rounds]
                    cpu = [r["create"]["cpu"] + r["start"]["cpu"] for r in rounds]
                else:
                    wall, cpu = [r[step]["wall"] for r in rounds], [r[step]["cpu"] for r in rounds]
                walls[label] = median(wall)
                cells += f"{walls[label]:>14.3f}{spread(wall):>13}{median(cpu):>7.3f}"
            ratio = f"{walls['this'] / walls['before']:>12.2f}" if "before" in walls else ""
            print(f"{mode:<9}{step:<22}{cells}{ratio}")
        rounds = results[f"{mode}|this"]
        both = median([r["create"]["wall"] + r["start"]["wall"] for r in rounds])
        verdicts.append(
            f"bytecode {mode}: create + start {both:.2f} s: {'meets' if both <= TARGET else 'misses'} the "
            f"{TARGET} s target (limit about 3.3 s; predecessor 65.9 s)"
        )
    print("\nrequests, writes and logins (the same in every round unless marked):")
    for key, rounds in results.items():
        row = []
        for step, _ in STEPS:
            counts = {(r[step]["requests"], r[step]["writes"], r[step]["logins"]) for r in rounds}
            row.append(f"{step} " + " / ".join(f"{t:.0f} req, {w:.0f} writes, {lg:.0f} login" for t, w, lg in counts))
        total = median([r["create"]["requests"] + r["start"]["requests"] for r in rounds])
        print(f"  {key.replace('|', ', ')}: " + "; ".join(row))
        print(
            f"    create + start: {total:.0f} requests, {total / VMS:.1f} per VM (at most {REQUESTS_PER_VM}; "
            f"predecessor 246, 41 per VM); first request / last request at (median s since launch): "
            + ", ".join(f"{step} {_at(rounds, step, 'first')} / {_at(rounds, step, 'last')}" for step, _ in STEPS)
        )
        spans = {step: [r[step]["last"] - r[step]["first"] for r in rounds] for step, _ in STEPS[:2]}
        print(
            "    from the login to the last request (median, min-max; the requests' own time, which the "
            "processes' start-up does not blur): "
            + ", ".join(f"{step} {median(span):.3f} ({spread(span)})" for step, span in spans.items())
        )
        print(f"    post-create writes per VM id: {rounds[-1]['per-vm writes']}")
    print("cpu: median user + system seconds of the proxshift process(es)")
    print("\n".join(verdicts))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--before", type=Path, default=None, help="a second checkout to measure beside this one")
    parser.add_argument("--bytecode", choices=("off", "on", "both"), default="both")
    parser.add_argument("--timeline", action="store_true", help="print every request of the first round")
    args = parser.parse_args()
    fakepve.qemu.FakeVm = SlowStartVm
    fakepve.server.FakePve._record = _stamping(fakepve.server.FakePve._record)
    exe = str(Path(sys.executable).parent / "proxshift")
    chosen, chosen_modes = trees(args.before), modes(args.bytecode)
    warn_stale(chosen, chosen_modes)
    combos: dict[str, tuple[Tree, str]] = {f"{m}|{t.label}": (t, m) for m in chosen_modes for t in chosen}
    results: dict[str, list[dict[str, dict[str, float]]]] = {key: [] for key in combos}
    with tempfile.TemporaryDirectory() as work_dir:
        work = Path(work_dir)
        pki = make_cert(work_dir, hosts=("127.0.0.1",))[:2]
        for tree, mode in combos.values():  # one round unmeasured: the page cache, the bytecode caches
            _one_round(exe, env_for(tree, mode, work), pki, work, timeline=False)
        for round_no in range(args.runs):
            for key in rotate(list(combos), round_no):
                tree, mode = combos[key]
                if args.timeline and round_no == 0:
                    print(f"=== {tree.label}, bytecode {mode}")
                show = args.timeline and round_no == 0
                results[key].append(_one_round(exe, env_for(tree, mode, work), pki, work, show))
    print(f"\nruns={args.runs} per figure, interleaved; {load_note()} at the end")
    _report(chosen, chosen_modes, results)


if __name__ == "__main__":
    main()
