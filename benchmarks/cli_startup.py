"""Median wall time of light proxshift commands next to `python -c pass`, measured in one run.

Usage: python benchmarks/cli_startup.py [--runs 15] [--root DIR]
"proxshift clusters" is the everyday case: its listing is cached by content (see
src/proxshift/listing_cache.py); "clusters (no cache)" is the first run after an edit.
Target (issue 2): `proxshift clusters` within 0.2 s of `python -c pass` (stretch: 0.15 s).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _time(cmd: list[str], runs: int, env: dict[str, str] | None = None) -> list[float]:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False, env=env)
        samples.append(time.perf_counter() - start)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--root", type=Path, default=REPO)
    args = parser.parse_args()
    exe = shutil.which("proxshift", path=str(Path(sys.executable).parent)) or "proxshift"
    root = args.root
    with tempfile.TemporaryDirectory() as cache:
        warm = {**os.environ, "XDG_CACHE_HOME": cache}
        # An unwritable cache directory: every run parses and validates from scratch.
        cold = {**os.environ, "XDG_CACHE_HOME": "/proc/proxshift-no-cache"}
        commands = {
            "python -c pass": ([sys.executable, "-c", "pass"], warm),
            "proxshift --help": ([exe, "--help"], warm),
            "proxshift clusters": ([exe, "--root", str(root), "clusters"], warm),
            "clusters (no cache)": ([exe, "--root", str(root), "clusters"], cold),
            "proxshift validate": ([exe, "--root", str(root), "validate"], warm),
        }
        # Interleave the commands so that machine noise hits all of them alike.
        samples: dict[str, list[float]] = {name: [] for name in commands}
        for cmd, env in commands.values():
            _time(cmd, 2, env)  # warm the page cache (and the listing cache)
        for _ in range(args.runs):
            for name, (cmd, env) in commands.items():
                samples[name] += _time(cmd, 1, env)
    baseline = statistics.median(samples["python -c pass"])
    print(f"{'command':<22}{'median s':>10}{'min s':>9}{'over python':>13}")
    for name, values in samples.items():
        median = statistics.median(values)
        print(f"{name:<22}{median:>10.3f}{min(values):>9.3f}{median - baseline:>+13.3f}")
    over = statistics.median(samples["proxshift clusters"]) - baseline
    verdict = "meets" if over <= 0.2 else "misses"
    print(
        f"\nproxshift clusters is {over:.3f} s over python -c pass: {verdict} the 0.2 s target "
        f"({'meets' if over <= 0.15 else 'misses'} the 0.15 s stretch goal); runs={args.runs}"
    )


if __name__ == "__main__":
    main()
