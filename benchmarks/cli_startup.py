"""Median wall time of light proxshift commands next to `python -c pass`, measured in one run.

Usage: python benchmarks/cli_startup.py [--runs 15] [--root DIR]
Target (issue 2): `proxshift clusters` within 0.2 s of `python -c pass` (stretch: 0.15 s).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _time(cmd: list[str], runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        samples.append(time.perf_counter() - start)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--root", type=Path, default=REPO)
    args = parser.parse_args()
    exe = shutil.which("proxshift", path=str(Path(sys.executable).parent)) or "proxshift"
    root = args.root
    with tempfile.TemporaryDirectory() as home:
        commands = {
            "python -c pass": [sys.executable, "-c", "pass"],
            "proxshift --help": [exe, "--help"],
            "proxshift clusters": [exe, "--root", str(root), "clusters"],
            "proxshift validate": [exe, "--root", str(root), "validate"],
        }
        # Interleave the commands so that machine noise hits all of them alike.
        samples: dict[str, list[float]] = {name: [] for name in commands}
        for name, cmd in commands.items():
            _time(cmd, 2)  # warm the page cache
            del name
        for _ in range(args.runs):
            for name, cmd in commands.items():
                samples[name] += _time(cmd, 1)
        del home
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
