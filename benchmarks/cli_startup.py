"""Median wall time of light proxshift commands next to `python -c pass`, measured in one run.

Usage: python benchmarks/cli_startup.py [--runs 15] [--root DIR] [--before DIR] [--bytecode off|on|both]
The root defaults to tests/fixtures/predecessor (the predecessor's inventory and site config).
"proxshift clusters" is the everyday case: its listing is cached by content (see
src/proxshift/cli/listing_cache.py); "clusters (no cache)" is the first run after an edit.
--before DIR runs a second tree (another checkout) interleaved with this one; --bytecode says whether
proxshift's modules are compiled on each run (off, as on this machine) or read from a warm cache (on,
as on users' machines); see benchmarks/_compare.py.
Targets (issue 18): `proxshift clusters` at most 0.15 s over `python -c pass` (limit about 0.06 s).
The predecessor's `ps.clusters`: 0.451 s.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from _compare import REPO, Runs, Tree, env_for, load_note, measure, median, modes, spread, trees, warn_stale

FIXTURES = REPO / "tests" / "fixtures" / "predecessor"
TARGET = 0.15


def _root(work: Path) -> Path:
    root = work / "root"
    (root / "inventory").mkdir(parents=True)
    (root / "config").mkdir()
    shutil.copy(FIXTURES / "clusters.yml", root / "inventory" / "clusters.yml")
    shutil.copy(FIXTURES / "site-config.yaml", root / "config" / "site-config.yaml")
    return root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--root", type=Path, default=None)
    parser.add_argument("--before", type=Path, default=None, help="a second checkout to measure beside this one")
    parser.add_argument("--bytecode", choices=("off", "on", "both"), default="both")
    args = parser.parse_args()
    exe = shutil.which("proxshift", path=str(Path(sys.executable).parent)) or "proxshift"
    chosen, chosen_modes = trees(args.before), modes(args.bytecode)
    warn_stale(chosen, chosen_modes)
    with tempfile.TemporaryDirectory() as work_dir:
        work = Path(work_dir)
        root = args.root or _root(work)
        commands = {
            "proxshift --help": [exe, "--help"],
            "proxshift clusters": [exe, "--root", str(root), "clusters"],
            "clusters (no cache)": [exe, "--root", str(root), "clusters"],
            "proxshift validate": [exe, "--root", str(root), "validate"],
        }
        runs: Runs = {}
        python = Tree("python", REPO / "src")
        for mode in chosen_modes:
            runs[f"{mode}|python -c pass|-"] = ([sys.executable, "-c", "pass"], env_for(python, mode, work))
            for tree in chosen:
                for name, cmd in commands.items():
                    env = env_for(tree, mode, work)
                    # Each tree its own listing cache; an unwritable one: every run parses from scratch.
                    cache = "/proc/proxshift-no-cache" if "no cache" in name else str(work / f"cache-{tree.label}")
                    runs[f"{mode}|{name}|{tree.label}"] = (cmd, {**env, "XDG_CACHE_HOME": cache})
        # Warm twice: the page cache, the bytecode caches and the listing caches.
        walls, cpus = measure(runs, args.runs, warm=2)
    print(f"runs={args.runs} per figure, interleaved; {load_note()} at the end")
    labels = [t.label for t in chosen]
    head = "".join(f"{label + ' median':>14}{'min-max':>13}{'+python':>9}{'xpython':>8}{'cpu':>7}" for label in labels)
    print(f"{'bytecode':<9}{'command':<22}{head}" + (f"{'now/before':>12}" if len(labels) > 1 else ""))
    verdicts = []
    for mode in chosen_modes:
        base = median(walls[f"{mode}|python -c pass|-"])
        key = f"{mode}|python -c pass|-"
        print(f"{mode:<9}{'python -c pass':<22}{base:>14.3f}{spread(walls[key]):>13}{'':>17}{median(cpus[key]):>7.3f}")
        for name in commands:
            cells, over = "", {}
            for label in labels:
                key = f"{mode}|{name}|{label}"
                wall = median(walls[key])
                over[label] = wall - base
                cells += f"{wall:>14.3f}{spread(walls[key]):>13}{wall - base:>+9.3f}{wall / base:>8.1f}"
                cells += f"{median(cpus[key]):>7.3f}"
            ratio = f"{over['this'] / over['before']:>12.2f}" if "before" in over else ""
            print(f"{mode:<9}{name:<22}{cells}{ratio}")
        over_now = median(walls[f"{mode}|proxshift clusters|this"]) - base
        verdicts.append(
            f"bytecode {mode}: proxshift clusters is {over_now:.3f} s over python -c pass: "
            f"{'meets' if over_now <= TARGET else 'misses'} the {TARGET} s target (predecessor's ps.clusters: 0.451 s)"
        )
    print("now/before: the ratio of the times over python -c pass; cpu: median user + system seconds")
    print("\n".join(verdicts))


if __name__ == "__main__":
    main()
