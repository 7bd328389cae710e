"""Full `proxshift provision` of ocp-sno1 and the 6-node `ocp` in the lab, phase by phase.

Usage: python benchmarks/provision.py [--install-seconds 20] [--poll 1]
The lab runs in this process (fakepve at time scale 0.02, each install simulated in
--install-seconds); provision runs as its own process with --json. Prints each phase's wall
time and proxshift's own overhead: its CPU time (user + system, the stand-in openshift-install
included), i.e. the wall time minus the time spent waiting on the stand-ins.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from proxshift.config.paths import discover_paths
from proxshift.config.project import load_project
from proxshift.lab.lab import Lab

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "fixtures" / "predecessor"


def provision(root: Path, env: dict[str, str], cluster: str, poll: float) -> tuple[dict[str, float], float, float]:
    exe = str(Path(sys.executable).parent / "proxshift")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    result = subprocess.run(
        [exe, "--root", str(root), "provision", cluster, "--json", "--poll-interval", str(poll)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        raise SystemExit(f"provision {cluster} failed:\n{result.stderr}")
    phases = {}
    for line in result.stdout.splitlines():
        event = json.loads(line)
        if event.get("event") == "phase" and event.get("status") == "done":
            phases[event["phase"]] = float(event["seconds"])
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return phases, wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--install-seconds", type=float, default=20.0)
    parser.add_argument("--poll", type=float, default=1.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        root = Path(work)
        (root / "inventory").mkdir()
        (root / "config").mkdir()
        shutil.copy(FIXTURES / "clusters.yml", root / "inventory" / "clusters.yml")
        shutil.copy(FIXTURES / "site-config.yaml", root / "config" / "site-config.yaml")
        lab = Lab(
            load_project(discover_paths(root)), root / ".lab", time_scale=0.02, install_seconds=args.install_seconds
        ).start()
        try:
            env = {**os.environ, **lab.env(), "HOME": work}
            results = {cluster: provision(root, env, cluster, args.poll) for cluster in ("ocp-sno1", "ocp")}
        finally:
            lab.stop()
    names = list(next(iter(results.values()))[0])
    print(f"{'phase':<13}" + "".join(f"{c:>12}" for c in results))
    for phase in names:
        print(f"{phase:<13}" + "".join(f"{results[c][0].get(phase, 0):>11.2f}s" for c in results))
    print(f"{'total wall':<13}" + "".join(f"{results[c][1]:>11.2f}s" for c in results))
    print(f"{'proxshift CPU':<13}" + "".join(f"{results[c][2]:>11.2f}s" for c in results))
    for cluster, (phases, wall, cpu) in results.items():
        waiting = phases.get("wait", 0.0)
        print(
            f"{cluster}: wall {wall:.1f} s, of which the simulated install (wait phase) {waiting:.1f} s; "
            f"proxshift's own overhead {cpu:.2f} s CPU, {wall - waiting:.1f} s wall outside the wait"
        )


if __name__ == "__main__":
    main()
