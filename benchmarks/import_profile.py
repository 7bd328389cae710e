"""Where a proxshift command's start-up goes: `-X importtime` summed by package, beside the whole run.

Usage: python benchmarks/import_profile.py [--runs 7] [--before DIR] [--bytecode off|on] [--root DIR] -- ARGS
Runs `proxshift ARGS` (default: `clusters` on the predecessor's files) --runs times per tree in fresh
processes with -X importtime, and prints per top-level package (proxshift's own by subpackage) the
median of the import time it spent itself, the modules it loaded, and the run's wall time; what is
not import is the command's own work and the interpreter's start and exit.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

from _compare import REPO, env_for, load_note, median, rotate, timed, trees, warn_stale

FIXTURES = REPO / "tests" / "fixtures" / "predecessor"
LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)")


def _group(module: str) -> str:
    parts = module.split(".")
    if parts[0] == "proxshift" and len(parts) > 1:
        return ".".join(parts[:2]) if len(parts) > 2 or parts[1] in ("cli", "config") else "proxshift (top)"
    return parts[0]


def _summary(stderr: str) -> tuple[dict[str, float], dict[str, int], float]:
    """Self time (ms) and module count per group, and the total import time (ms)."""
    self_ms: dict[str, float] = defaultdict(float)
    count: dict[str, int] = defaultdict(int)
    total = 0.0
    for match in LINE.finditer(stderr):
        own, cumulative, indent, module = int(match[1]), int(match[2]), match[3], match[4]
        self_ms[_group(module)] += own / 1000
        count[_group(module)] += 1
        if len(indent) == 1:
            total += cumulative / 1000
    return self_ms, count, total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--before", type=Path, default=None)
    parser.add_argument("--bytecode", choices=("off", "on"), default="on")
    parser.add_argument("--root", type=Path, default=None)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("args", nargs="*")
    args = parser.parse_args()
    chosen = trees(args.before)
    warn_stale(chosen, [args.bytecode])
    exe = shutil.which("proxshift", path=str(Path(sys.executable).parent)) or "proxshift"
    with tempfile.TemporaryDirectory() as work_dir:
        work = Path(work_dir)
        root = args.root
        if root is None:
            root = work / "root"
            (root / "inventory").mkdir(parents=True)
            (root / "config").mkdir()
            shutil.copy(FIXTURES / "clusters.yml", root / "inventory" / "clusters.yml")
            shutil.copy(FIXTURES / "site-config.yaml", root / "config" / "site-config.yaml")
        command = [sys.executable, "-X", "importtime", exe, "--root", str(root), *(args.args or ["clusters"])]
        envs = {t.label: {**env_for(t, args.bytecode, work), "XDG_CACHE_HOME": str(work / t.label)} for t in chosen}
        for env in envs.values():
            timed(command, env)  # warm the caches (bytecode, listing)
        runs: dict[str, list[tuple[dict[str, float], dict[str, int], float, float]]] = {t.label: [] for t in chosen}
        for round_no in range(args.runs):
            for label in rotate(list(envs), round_no):
                wall, _, code, err = timed(command, envs[label], capture=True)
                if code != 0:
                    raise SystemExit(f"{label}: exit {code}\n{err[-2000:]}")
                runs[label].append((*_summary(err), wall * 1000))
    labels = list(runs)
    groups = {g for label in labels for r in runs[label] for g in r[0]}

    def self_median(label: str, group: str) -> float:
        return median([r[0].get(group, 0.0) for r in runs[label]])

    ordered = sorted(groups, key=lambda g: -max(self_median(label, g) for label in labels))
    print(f"proxshift {' '.join(args.args or ['clusters'])}; bytecode {args.bytecode}; runs={args.runs}; {load_note()}")
    print(f"{'package':<28}" + "".join(f"{label + ' ms':>12}{'modules':>9}" for label in labels))
    for group in ordered[: args.top]:
        cells = "".join(
            f"{self_median(label, group):>12.1f}{median([float(r[1].get(group, 0)) for r in runs[label]]):>9.0f}"
            for label in labels
        )
        print(f"{group:<28}{cells}")
    for name, index in (("all imports", 2), ("whole run (wall)", 3)):
        print(f"{name:<28}" + "".join(f"{median([r[index] for r in runs[label]]):>12.1f}{'':>9}" for label in labels))


if __name__ == "__main__":
    main()
