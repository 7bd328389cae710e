"""The new cluster's own API during an install: bootstrap done, ClusterVersion, operators, nodes, console.

Every read answers None (or nothing) while the API does not answer yet: normal early in an install.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypeVar

from proxshift.clients.kube import Kube, KubeError, KubeUnreachable, condition_is, conditions
from proxshift.errors import OperationError

PROGRESS = re.compile(r"(\d+) of (\d+) done \((\d+)% complete\)")
KUBE_TIMEOUT = 5
T = TypeVar("T")


def _read(kube: Kube, read: Callable[[Kube], T]) -> T | None:
    """A read of the new cluster's API; None whenever it is not answering yet (normal early on)."""
    try:
        return read(kube)
    except KubeError as exc:
        if exc.status in (401, 403):
            raise OperationError(
                f"the cluster's API at {kube.server} refused the kubeconfig (HTTP {exc.status})",
                "the install directory's auth/kubeconfig belongs to another install",
            ) from None
        return None
    except KubeUnreachable:
        return None


def bootstrap_complete(kube: Kube) -> bool | None:
    config_map = _read(kube, lambda k: k.get("v1", "ConfigMap", "bootstrap", "kube-system"))
    if config_map is None:
        return None
    return bool((config_map.get("data") or {}).get("status") == "complete")


def cluster_version(kube: Kube) -> dict[str, Any] | None:
    return _read(kube, lambda k: k.get("config.openshift.io/v1", "ClusterVersion", "version"))


def cluster_operators(kube: Kube) -> list[dict[str, Any]]:
    return _read(kube, lambda k: k.list("config.openshift.io/v1", "ClusterOperator")) or []


def ready_nodes(kube: Kube) -> tuple[int, int] | None:
    nodes = _read(kube, lambda k: k.list("v1", "Node"))
    if nodes is None:
        return None
    return sum(1 for node in nodes if condition_is(node, "Ready")), len(nodes)


def console_url(kube: Kube) -> str | None:
    route = _read(kube, lambda k: k.get("route.openshift.io/v1", "Route", "console", "openshift-console"))
    host = (route or {}).get("spec", {}).get("host")
    return f"https://{host}" if host else None


def unhealthy_operators(operators: list[dict[str, Any]]) -> list[str]:
    lines = []
    for operator in operators:
        name = operator.get("metadata", {}).get("name", "?")
        by_type = conditions(operator)
        for kind, bad in (("Available", "False"), ("Degraded", "True"), ("Progressing", "True")):
            if condition_is(operator, kind, bad) or (kind == "Available" and kind not in by_type):
                message = by_type.get(kind, {}).get("message", "no status reported")
                lines.append(f"{name}: {kind}={by_type.get(kind, {}).get('status', 'Unknown')}: {message}")
    return lines


def progress_bar(match: re.Match[str] | None, width: int = 20) -> str:
    filled = int(width * int(match.group(3)) / 100) if match else 0
    return "[" + "#" * filled + "." * (width - filled) + "]"
