"""`python -m proxshift.lab.daemon --root DIR [--options FILE]`: run the lab until SIGTERM (started by
`proxshift lab up`, which writes the knobs to FILE as JSON: install_seconds, operator_seconds,
join_seconds, time_scale, faults)."""

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
    parser.add_argument("--options", type=Path)
    args = parser.parse_args(argv)

    import json

    from proxshift.config.paths import discover_paths
    from proxshift.config.project import load_project
    from proxshift.lab.faults import INSTALL_SECONDS, JOIN_SECONDS, OPERATOR_SECONDS, TIME_SCALE, LabFaults
    from proxshift.lab.lab import Lab

    options = json.loads(args.options.read_text()) if args.options else {}
    paths = discover_paths(args.root, args.config, args.inventory)
    lab = Lab(
        load_project(paths),
        args.root / ".lab",
        time_scale=float(options.get("time_scale", TIME_SCALE)),
        install_seconds=float(options.get("install_seconds", INSTALL_SECONDS)),
        operator_seconds=float(options.get("operator_seconds", OPERATOR_SECONDS)),
        join_seconds=float(options.get("join_seconds", JOIN_SECONDS)),
        faults=LabFaults.from_dict(options.get("faults") or {}),
    )
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
