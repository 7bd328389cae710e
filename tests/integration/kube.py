"""Talking to the lab's Kubernetes API emulator as clients do: the official client, kubectl, raw HTTP."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import requests

from proxshift.lab.kubeapi import KubeApiServer

T = TypeVar("T")


def api_client(kube: KubeApiServer) -> Any:
    """An ApiClient of the official client, from the emulator's kubeconfig (TLS verified with its CA)."""
    from kubernetes import config

    return config.new_client_from_config_dict(json.loads(kube.kubeconfig()))


def custom(kube: KubeApiServer) -> Any:
    from kubernetes import client

    return client.CustomObjectsApi(api_client(kube))


def merge_patch(kube: KubeApiServer, path: str, patch: dict[str, Any]) -> dict[str, Any]:
    """PATCH with application/merge-patch+json, as `kubectl patch --type merge` sends it."""
    response = requests.patch(
        f"{kube.url}{path}",
        data=json.dumps(patch),
        headers={"Authorization": f"Bearer {kube.token}", "Content-Type": "application/merge-patch+json"},
        verify=str(kube.tls.ca),
        timeout=10,
    )
    response.raise_for_status()
    return response.json()  # type: ignore[no-any-return]


def get_json(kube: KubeApiServer, path: str) -> dict[str, Any]:
    """GET a path of the API with the admin token, as `kubectl get --raw` does."""
    response = requests.get(
        f"{kube.url}{path}", headers={"Authorization": f"Bearer {kube.token}"}, verify=str(kube.tls.ca), timeout=10
    )
    response.raise_for_status()
    return response.json()  # type: ignore[no-any-return]


def kubectl(kube: KubeApiServer, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("kubectl")
    assert binary is not None
    config = tmp_path / "kubeconfig"
    config.write_text(kube.kubeconfig())
    config.chmod(0o600)
    return subprocess.run(
        [binary, "--kubeconfig", str(config), *args], capture_output=True, text=True, timeout=60, check=False
    )


def conditions(obj: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in (obj.get("status") or {}).get("conditions") or []}


def eventually(read: Callable[[], T | None], timeout: float = 10.0, what: str = "the condition") -> T:
    """Poll `read` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} never came")
        time.sleep(0.02)
