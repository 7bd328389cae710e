"""A stand-in for `openshift-install`: `version` and `agent create image --dir D`, like the real one.

`agent create image` consumes install-config.yaml, agent-config.yaml and the extra manifests in
openshift/, writes agent.x86_64.iso, auth/kubeconfig, auth/kubeadmin-password and
.openshift_install_state.json (holding the watcher token under `*gencrypto.AuthConfig`). The
kubeconfig, password and token come from `<state-dir>/<cluster>.json`, written by the lab or the
test that plays the new cluster.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import stat
import sys
from pathlib import Path

SCRIPT = """#!{python}
import sys
from proxshift.lab.fake_installer import main
sys.exit(main(["--version", {version!r}, "--state-dir", {state!r}, *sys.argv[1:]]))
"""


def install_fake(bin_dir: Path, version: str, state_dir: Path, name: str = "openshift-install") -> Path:
    """Write an executable `openshift-install` that reports `version` and creates images."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    path = bin_dir / name
    path.write_text(SCRIPT.format(python=sys.executable, version=version, state=str(state_dir)))
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def cluster_state(state_dir: Path, cluster: str, kubeconfig: str, password: str, token: str | None) -> None:
    """What `agent create image` will hand out for this cluster."""
    state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    target = state_dir / f"{cluster}.json"
    target.write_text(json.dumps({"kubeconfig": kubeconfig, "password": password, "token": token}))
    target.chmod(0o600)


def _log(message: str, level: str = "info") -> None:
    print(f'level={level} msg="{message}"', file=sys.stderr, flush=True)


def _create_image(directory: Path, state_dir: Path) -> int:
    import yaml

    install_config, agent_config = directory / "install-config.yaml", directory / "agent-config.yaml"
    for required in (install_config, agent_config):
        if not required.is_file():
            _log(f"failed to fetch Agent Installer ISO: {required.name} not found", "fatal")
            return 1
    name = yaml.safe_load(install_config.read_text())["metadata"]["name"]
    _log("Configuration has 1 master replicas and 0 worker replicas")
    _log("The rendezvous host IP (node0 IP) is " + str(yaml.safe_load(agent_config.read_text()).get("rendezvousIP")))
    _log("Extracting base ISO from release payload")
    state_file = state_dir / f"{name}.json"
    state = json.loads(state_file.read_text()) if state_file.is_file() else {}
    (directory / "auth").mkdir(exist_ok=True)
    (directory / "auth" / "kubeconfig").write_text(state.get("kubeconfig", "apiVersion: v1\nkind: Config\n"))
    (directory / "auth" / "kubeadmin-password").write_text(state.get("password") or secrets.token_urlsafe(18))
    token = state.get("token")
    install_state = {"*gencrypto.AuthConfig": {"WatcherAuthToken": token} if token else {}}
    (directory / ".openshift_install_state.json").write_text(json.dumps(install_state))
    with (directory / "agent.x86_64.iso").open("wb") as iso:
        iso.write(b"CD001 proxshift lab agent ISO for " + name.encode() + b"\n")
        iso.write(os.urandom(64 * 1024))
    install_config.unlink()
    agent_config.unlink()
    extra = directory / "openshift"  # extra manifests: the real installer consumes them with the image
    for manifest in sorted(extra.glob("*")) if extra.is_dir() else []:
        if manifest.suffix in (".yaml", ".yml", ".json"):
            _log(f"Adding extra manifest openshift/{manifest.name}")
            manifest.unlink()
    _log("Generated ISO at " + str(directory / "agent.x86_64.iso"))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="openshift-install")
    parser.add_argument("--version", dest="release", required=True)
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("command", nargs="*")
    parser.add_argument("--dir", type=Path, default=Path.cwd())
    args = parser.parse_args(argv)
    if args.command == ["version"]:
        print(f"openshift-install {args.release}")
        print("built from commit 0000000000000000000000000000000000000000")
        print(f"release image quay.io/openshift-release-dev/ocp-release:{args.release}-x86_64")
        print("release architecture amd64")
        return 0
    if args.command == ["agent", "create", "image"]:
        return _create_image(args.dir, args.state_dir)
    print(f"openshift-install (lab stand-in): unsupported command {' '.join(args.command)}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
