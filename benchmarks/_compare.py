"""What the benchmarks share: two trees side by side, bytecode caching on and off, one timed run.

A tree is a checkout's `src/`; the same console script runs either, because PYTHONPATH comes before
the editable install on sys.path. `--before DIR` adds the tree at DIR (say a `git worktree` of the
commit before a change) to every run, interleaved with this one, so that machine noise hits both
alike. Bytecode caching:

- `off`: as this machine runs (PYTHONDONTWRITEBYTECODE=1): the standard library and the installed
  packages were compiled by their installers, proxshift's own modules are compiled on every run;
- `on`: as users' machines run: everything read from a warm cache (a private PYTHONPYCACHEPREFIX, so
  neither tree is written to).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MODES = ("off", "on")


@dataclass(frozen=True)
class Tree:
    label: str  # "this" or "before"
    src: Path


def trees(before: Path | None) -> list[Tree]:
    """This checkout, and the one at `before` when given (its root or its src/)."""
    found = [Tree("this", REPO / "src")]
    if before is not None:
        src = before / "src" if (before / "src" / "proxshift").is_dir() else before
        if not (src / "proxshift" / "__init__.py").is_file():
            raise SystemExit(f"--before {before}: no src/proxshift there")
        found.append(Tree("before", src.resolve()))
    return found


def modes(choice: str) -> tuple[str, ...]:
    return MODES if choice == "both" else (choice,)


def stale_bytecode(tree: Tree) -> list[Path]:
    """__pycache__ directories in a tree: with them, mode `off` would not compile that tree's modules."""
    return sorted(tree.src.rglob("__pycache__"))


def env_for(tree: Tree, mode: str, cache: Path, base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of one run of `tree` in bytecode mode `mode`; `cache` holds the `on` caches."""
    env = dict(os.environ if base is None else base)
    env["PYTHONPATH"] = str(tree.src)
    env.pop("PYTHONPYCACHEPREFIX", None)
    if mode == "off":
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    else:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(cache / f"pyc-{tree.label}")
    return env


def warn_stale(chosen: Iterable[Tree], chosen_modes: Iterable[str]) -> None:
    if "off" not in chosen_modes:
        return
    for tree in chosen:
        stale = stale_bytecode(tree)
        if stale:
            print(
                f"note: {tree.src} holds {len(stale)} __pycache__ directories: mode 'off' reads them "
                f"(remove them for a true 'off' figure)",
                file=sys.stderr,
            )


def timed(cmd: list[str], env: dict[str, str], capture: bool = False) -> tuple[float, float, int, str]:
    """(wall seconds, CPU seconds of the child, exit code, stderr) of one run."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        cmd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE if capture else subprocess.DEVNULL,
        text=True,
    )
    err = proc.stderr.read() if proc.stderr else ""
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.stderr:
        proc.stderr.close()
    return wall, usage.ru_utime + usage.ru_stime, proc.returncode, err


Runs = dict[str, tuple[list[str], dict[str, str]]]  # a figure's key -> (command, environment)


def measure(
    runs: Runs, rounds: int, warm: int = 1, before_each: Callable[[], None] | None = None
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Wall and CPU seconds of each run: `warm` unmeasured runs each (page cache, bytecode caches), then
    `rounds` interleaved rounds, each starting one run further. `before_each` runs before every run."""
    for cmd, env in runs.values():
        for _ in range(warm):
            if before_each:
                before_each()
            timed(cmd, env)
    walls: dict[str, list[float]] = {key: [] for key in runs}
    cpus: dict[str, list[float]] = {key: [] for key in runs}
    for round_no in range(rounds):
        for key in rotate(list(runs), round_no):
            if before_each:
                before_each()
            wall, cpu, code, err = timed(*runs[key], capture=True)
            if code != 0:
                raise SystemExit(f"{key} exited {code}:\n{err[-3000:]}")
            walls[key].append(wall)
            cpus[key].append(cpu)
    return walls, cpus


def rotate(items: list[str], offset: int) -> list[str]:
    """The items starting at `offset`: each round begins with another one, so no order is favoured."""
    offset %= max(1, len(items))
    return items[offset:] + items[:offset]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def spread(values: list[float]) -> str:
    """min-max, the figure to quote beside a median."""
    return f"{min(values):.3f}-{max(values):.3f}" if values else "-"


def load_note() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.1f} (1 min), {five:.1f} (5 min) on {os.cpu_count()} CPUs"
