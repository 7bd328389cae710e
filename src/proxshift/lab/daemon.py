"""`python -m proxshift.lab.daemon --root DIR`: run the lab until SIGTERM (started by `proxshift lab up`)."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="proxshift-lab")
    parser.add_argument("--root", type=Path, required=True)
    parser.add_argument("--config", type=Path)
    parser.add_argument("--inventory", type=Path)
    args = parser.parse_args(argv)

    from proxshift.config.paths import discover_paths
    from proxshift.config.project import load_project
    from proxshift.lab.lab import Lab

    paths = discover_paths(args.root, args.config, args.inventory)
    lab = Lab(load_project(paths), args.root / ".lab")
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    lab.start()
    print("lab ready", flush=True)
    done.wait()
    lab.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
