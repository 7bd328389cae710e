"""A stand-in for `oc`: `version --client` and `adm node-image create`, against the lab's API emulator.

A real oc cannot run against the emulator (it execs into a node-joiner pod and rsyncs the ISO out of
it), so this one plays what the user and the cluster see: it checks nodes-config.yaml as the
node-joiner does, needs the pull secret (--registry-config) and KUBECONFIG, refuses a cluster older
than 4.17, creates and deletes its openshift-node-joiner-* namespace with the nodes-config ConfigMap,
creates (or reuses, with more than 24 h left) Secret openshift-config/agent-auth-token, prints
`<time> [node-image create] ...` lines and writes node.x86_64.iso, plus report.json with --report.

The ISO is a small file that carries what the lab's join simulation needs: the cluster's API URL,
the auth token and each host's name, MACs and IP (a real one carries them in its ignition).
"""

from __future__ import annotations

import base64
import datetime
import json
import os
import secrets
import ssl
import stat
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

ISO_MAGIC = b"CD001 proxshift lab add-nodes ISO\n"
TOKEN_SECRET = ("openshift-config", "agent-auth-token")
TOKEN_HOURS = 48
SCRIPT = """#!{python}
import sys
from proxshift.lab.fake_oc import main
sys.exit(main(["--release", {version!r}, *sys.argv[1:]]))
"""


class Failed(Exception):
    """What oc reports as `error: ...` (and in report.json)."""

    def __init__(self, message: str, code: str = "OAS-1000") -> None:
        super().__init__(message)
        self.message, self.code = message, code


def install_fake_oc(bin_dir: Path, version: str, name: str = "oc") -> Path:
    """Write an executable `oc` that reports `version`."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    path = bin_dir / name
    path.write_text(SCRIPT.format(python=sys.executable, version=version))
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def read_iso(data: bytes) -> dict[str, Any] | None:
    """What a stand-in node ISO carries, or None for any other file."""
    if not data.startswith(ISO_MAGIC):
        return None
    line = data[len(ISO_MAGIC) :].split(b"\n", 1)[0]
    try:
        found = json.loads(line)
    except ValueError:
        return None
    return found if isinstance(found, dict) else None


def _say(message: str) -> None:
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    print(f"{stamp} [node-image create] {message}", flush=True)


# -- the cluster's API ---------------------------------------------------------------------------------


class Api:
    def __init__(self, kubeconfig: Path) -> None:
        import yaml

        try:
            config = yaml.safe_load(kubeconfig.read_text())
            cluster = config["clusters"][0]["cluster"]
            self.server = str(cluster["server"]).rstrip("/")
            self.token = str(config["users"][0]["user"]["token"])
            ca = base64.b64decode(cluster["certificate-authority-data"]).decode()
        except (OSError, ValueError, KeyError, IndexError, TypeError) as exc:
            raise Failed(f"invalid configuration: {kubeconfig}: {exc}") from None
        self.context = ssl.create_default_context(cadata=ca)

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any] | None:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(  # noqa: S310 - the kubeconfig's https server
            f"{self.server}{path}",
            data=data,
            method=method,
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, context=self.context, timeout=30) as answer:  # noqa: S310
                found: dict[str, Any] = json.loads(answer.read() or b"{}")
                return found
        except urllib.error.HTTPError as exc:
            if exc.code == 404 and method == "GET":
                return None
            raise Failed(f"cannot {method} {path}: HTTP {exc.code}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise Failed(f"the server at {self.server} is unreachable: {exc}") from None


# -- nodes-config.yaml ---------------------------------------------------------------------------------


def _hosts(directory: Path) -> list[dict[str, Any]]:
    """The hosts of nodes-config.yaml, checked as the node-joiner checks them."""
    import yaml

    path = directory / "nodes-config.yaml"
    try:
        config = yaml.safe_load(path.read_text())
    except OSError:
        raise Failed(f"open {path}: no such file or directory") from None
    except yaml.YAMLError as exc:
        raise Failed(f"config file nodes-config.yaml is not valid: {exc}") from None
    hosts = (config or {}).get("hosts") if isinstance(config, dict) else None
    if not isinstance(hosts, list) or not hosts:
        raise Failed("hosts: Required value: at least one host must be defined")
    seen: set[str] = set()
    found = []
    for index, host in enumerate(hosts):
        found.append(_host(index, host, seen))
    return found


def _host(index: int, host: Any, seen: set[str]) -> dict[str, Any]:
    where = f"hosts[{index}]"
    if not isinstance(host, dict):
        raise Failed(f"{where}: Invalid value: a host must be a mapping")
    if host.get("role") not in (None, "worker"):
        raise Failed(f"{where}.role: Forbidden: only worker nodes can be added, not {host.get('role')}")
    interfaces = host.get("interfaces") or []
    if not interfaces:
        raise Failed(f"{where}.interfaces: Required value: at least one interface must be defined for each node")
    macs = []
    for number, interface in enumerate(interfaces):
        mac = str((interface or {}).get("macAddress") or "").lower()
        if not mac or not (interface or {}).get("name"):
            raise Failed(f"{where}.interfaces[{number}]: Required value: each interface needs a name and a macAddress")
        if mac in seen:
            raise Failed(f"{where}.interfaces[{number}].macAddress: Duplicate value: {mac}")
        seen.add(mac)
        macs.append(mac)
    network = host.get("networkConfig") or {}
    ip = None
    for interface in network.get("interfaces") or []:
        mac = str(interface.get("mac-address") or "").lower()
        if mac and mac not in macs:
            raise Failed(f"{where}.networkConfig: Invalid value: mac-address {mac} is not one of the host's interfaces")
        addresses = ((interface.get("ipv4") or {}).get("address")) or []
        ip = ip or (addresses[0].get("ip") if addresses else None)
    return {"hostname": host.get("hostname"), "macs": macs, "ip": ip}


# -- the command ---------------------------------------------------------------------------------------


def _token(api: Api) -> str:
    """The agent-auth-token, reused while more than 24 h of its 48 are left."""
    namespace, name = TOKEN_SECRET
    path = f"/api/v1/namespaces/{namespace}/secrets/{name}"
    current = api.call("GET", path)
    now = datetime.datetime.now(datetime.UTC)
    if current is not None:
        expires = ((current.get("metadata") or {}).get("annotations") or {}).get("expiresAt", "")
        try:
            left = datetime.datetime.fromisoformat(expires) - now
        except ValueError:
            left = datetime.timedelta(0)
        token = base64.b64decode((current.get("data") or {}).get("agentAuthToken", "")).decode()
        if token and left > datetime.timedelta(hours=24):
            return token
    token = secrets.token_urlsafe(32)
    expiry = (now + datetime.timedelta(hours=TOKEN_HOURS)).strftime("%Y-%m-%dT%H:%M:%SZ")
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace, "annotations": {"expiresAt": expiry}},
        "data": {"agentAuthToken": base64.b64encode(token.encode()).decode()},
    }
    if current is None:
        api.call("POST", f"/api/v1/namespaces/{namespace}/secrets", secret)
    else:
        api.call("PUT", path, secret)
    return token


def _create(directory: Path, registry_config: str | None, output: str) -> None:
    _say("Launching command")
    hosts = _hosts(directory)
    try:
        auths = json.loads(Path(registry_config or "").read_text()).get("auths")
    except (OSError, ValueError, AttributeError):
        auths = None
    if not auths:
        raise Failed(f"unable to read the registry config {registry_config or '(none given)'}: no auths")
    kubeconfig = os.environ.get("KUBECONFIG")
    if not kubeconfig:
        raise Failed("no KUBECONFIG: oc needs the cluster's admin kubeconfig")
    api = Api(Path(kubeconfig))
    _say("Gathering additional information from the target cluster")
    version = api.call("GET", "/apis/config.openshift.io/v1/clusterversions/version") or {}
    desired = str(((version.get("status") or {}).get("desired") or {}).get("version", ""))
    parts = desired.split(".")
    if len(parts) < 2 or (int(parts[0]), int(parts[1])) < (4, 17):
        raise Failed(f"the target cluster version {desired or 'unknown'} is not supported (4.17 or later is)")
    namespace = f"openshift-node-joiner-{secrets.token_hex(3)}"
    api.call("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    try:
        config = {"nodes-config.yaml": (directory / "nodes-config.yaml").read_text()}
        api.call(
            "POST",
            f"/api/v1/namespaces/{namespace}/configmaps",
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "nodes-config"}, "data": config},
        )
        _say("Creating internal configuration manifests")
        token = _token(api)
        _say("Extracting base ISO from release payload")
        record = {"cluster": api.server, "token": token, "hosts": hosts, "version": desired}
        with (directory / output).open("wb") as iso:
            iso.write(ISO_MAGIC + json.dumps(record).encode() + b"\n" + os.urandom(16 * 1024))
        _say(f"Generated ISO at {directory / output}")
    finally:
        api.call("DELETE", f"/api/v1/namespaces/{namespace}")
    _say("Command successful")


def _report(directory: Path, failure: Failed | None) -> None:
    result: dict[str, Any] = {"exitCode": 1 if failure else 0}
    if failure:
        result.update(errorCode=failure.code, errorMessage=failure.message)
    report = {"stages": [{"id": "create", "desc": "Creating the ISO image", "result": result}], "result": result}
    (directory / "report.json").write_text(json.dumps(report, indent=2))


def _option(args: list[str], *names: str) -> str | None:
    for index, arg in enumerate(args):
        for name in names:
            if arg == name and index + 1 < len(args):
                return args[index + 1]
            if arg.startswith(f"{name}="):
                return arg.split("=", 1)[1]
    return None


def main(argv: list[str]) -> int:
    release, args = argv[1], argv[2:]
    if args[:1] == ["version"]:
        print(f"Client Version: {release}")
        print("Kustomize Version: v5.4.2")
        return 0
    if args[:3] != ["adm", "node-image", "create"]:
        print(f"error: oc (lab stand-in) does not do: {' '.join(args)}", file=sys.stderr)
        return 2
    directory = Path(_option(args, "--dir") or Path.cwd())
    failure = None
    try:
        output = _option(args, "-o", "--output-name") or "node.x86_64.iso"
        _create(directory, _option(args, "--registry-config", "-a"), output)
    except Failed as exc:
        failure = exc
        print(f"error: {exc.message}", file=sys.stderr, flush=True)
    if "--report" in args and directory.is_dir():
        _report(directory, failure)
    return 1 if failure else 0
