"""Median wall time of `proxshift manifests <cluster>` against a local OpenBao dev server.

Usage: python benchmarks/manifests.py [--runs 10] [--before DIR] [--bytecode off|on|both]
                                     [--schema-cache cold|warm|both]
Seeds OpenBao like the predecessor's Vault (tests/fixtures/predecessor/rendered/vault-seed.json)
and renders an SNO (ocp-sno1) and the 6-node `ocp` of the predecessor's inventory, each run a
fresh process that reads Vault, renders, checks and writes. --before DIR runs a second tree (another
checkout) interleaved with this one; --bytecode: see benchmarks/_compare.py. --schema-cache: `cold`
runs start without proxshift's cache (every manifest validated against its schema, as on a first
render), `warm` runs keep it (a re-render of unchanged manifests: manifests/schema_cache.py); a tree
without that cache runs the same in both.
Target (issue 18): `manifests ocp` at most 0.4 s (limit about 0.2 s); the predecessor's
ps.generate_manifests: 5.6 s.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

import hvac
from _compare import REPO, Runs, Tree, env_for, load_note, measure, median, modes, spread, trees, warn_stale

from proxshift.lab.openbao import OpenBaoServer, enable_kv_v2

FIXTURES = REPO / "tests" / "fixtures" / "predecessor"
TARGET = 0.4


def _seed(server: OpenBaoServer) -> None:
    client = hvac.Client(url=server.addr, token=server.root_token)
    enable_kv_v2(client, "secrets")
    for path, data in json.loads((FIXTURES / "rendered" / "vault-seed.json").read_text())["secrets"].items():
        client.secrets.kv.v2.create_or_update_secret(path=path, mount_point="secrets", secret=data)


def _report(
    chosen: list[Tree],
    chosen_modes: tuple[str, ...],
    commands: list[str],
    walls: dict[str, list[float]],
    cpus: dict[str, list[float]],
) -> None:
    labels = [t.label for t in chosen]
    head = "".join(f"{label + ' median':>14}{'min-max':>13}{'cpu':>7}" for label in labels)
    print(f"{'bytecode':<9}{'manifests':<25}{head}" + (f"{'now/before':>12}" if len(labels) > 1 else ""))
    verdicts = []
    for mode in chosen_modes:
        key = f"{mode}|python -c pass|-"
        print(
            f"{mode:<9}{'python -c pass':<25}{median(walls[key]):>14.3f}{spread(walls[key]):>13}"
            f"{median(cpus[key]):>7.3f}"
        )
        for name in commands:
            cells, wall = "", {}
            for label in labels:
                key = f"{mode}|{name}|{label}"
                wall[label] = median(walls[key])
                cells += f"{wall[label]:>14.3f}{spread(walls[key]):>13}{median(cpus[key]):>7.3f}"
            ratio = f"{wall['this'] / wall['before']:>12.2f}" if "before" in wall else ""
            print(f"{mode:<9}{name:<25}{cells}{ratio}")
        for cache in ("cold", "warm"):
            medians = [median(walls[f"{mode}|{name}|this"]) for name in commands if name.endswith(cache)]
            if medians:
                worst = max(medians)
                verdicts.append(
                    f"bytecode {mode}, {cache}: slowest median {worst:.3f} s: "
                    f"{'meets' if worst <= TARGET else 'misses'} the {TARGET} s target "
                    "(the predecessor's ps.generate_manifests: 5.6 s)"
                )
    print("cpu: median user + system seconds of the proxshift process")
    print("\n".join(verdicts))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--before", type=Path, default=None, help="a second checkout to measure beside this one")
    parser.add_argument("--bytecode", choices=("off", "on", "both"), default="both")
    parser.add_argument("--schema-cache", choices=("cold", "warm", "both"), default="both")
    args = parser.parse_args()
    exe = str(Path(sys.executable).parent / "proxshift")
    chosen, chosen_modes = trees(args.before), modes(args.bytecode)
    warn_stale(chosen, chosen_modes)
    server = OpenBaoServer().start()
    try:
        _seed(server)
        with tempfile.TemporaryDirectory() as work_dir:
            work = Path(work_dir)
            root = work / "root"
            (root / "inventory").mkdir(parents=True)
            (root / "config").mkdir()
            shutil.copy(FIXTURES / "clusters.yml", root / "inventory" / "clusters.yml")
            shutil.copy(FIXTURES / "site-config.yaml", root / "config" / "site-config.yaml")
            base = {"VAULT_ADDR": server.addr, "VAULT_TOKEN": server.root_token, "HOME": work_dir}
            targets = {"ocp-sno1": "ocp-sno1", "ocp (6 nodes)": "ocp"}
            caches = ("cold", "warm") if args.schema_cache == "both" else (args.schema_cache,)
            commands = {
                f"{name}, {cache}": (
                    [exe, "--root", str(root), "manifests", cluster],
                    {"XDG_CACHE_HOME": f"{work}/{cache}"},
                )
                for name, cluster in targets.items()
                for cache in caches
            }
            runs: Runs = {}
            for mode in chosen_modes:
                env = env_for(chosen[0], mode, work)
                runs[f"{mode}|python -c pass|-"] = ([sys.executable, "-c", "pass"], {**env, **base})
                for tree in chosen:
                    for name, (cmd, extra) in commands.items():
                        runs[f"{mode}|{name}|{tree.label}"] = (cmd, {**env_for(tree, mode, work), **base, **extra})

            def before_each() -> None:  # a real render + write each time; the cold cache starts empty
                shutil.rmtree(root / "ocp_install", True)
                shutil.rmtree(work / "cold", True)

            walls, cpus = measure(runs, args.runs, before_each=before_each)
    finally:
        server.stop()
    print(f"runs={args.runs} per figure, interleaved; {load_note()} at the end")
    _report(chosen, chosen_modes, list(commands), walls, cpus)


if __name__ == "__main__":
    main()
