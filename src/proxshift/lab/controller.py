"""What the lab's simulated controllers share: a polling thread over one API emulator's store.

A controller reconciles whatever its store holds every `poll` seconds while the API is available
(a cluster that is not installed yet, or plays "down", has no running controllers). `reconcile`
is public so that tests can drive one step at a time. Delays are measured from the moment a
controller first saw an object (`age`), so a knob of 0 means "at the next reconcile".
"""

from __future__ import annotations

import copy
import datetime
import logging
import threading
import time
from typing import Any, Self

from proxshift.lab.kubeapi import ApiError, KubeApiServer, Store

VOLATILE = ("lastTransitionTime", "lastUpdateTime", "lastUpdated", "lastHeartbeatTime", "reconciledAt", "refreshTime")


def now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def condition(kind: str, status: bool | str, reason: str = "", message: str = "") -> dict[str, Any]:
    value = status if isinstance(status, str) else ("True" if status else "False")
    return {"type": kind, "status": value, "reason": reason, "message": message, "lastTransitionTime": now()}


def conditions_of(obj: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    return {c.get("type", ""): c for c in ((obj or {}).get("status") or {}).get("conditions") or []}


def _stable(value: Any) -> Any:
    """The value without timestamps, to tell a real status change from a re-stamp."""
    if isinstance(value, dict):
        return {k: _stable(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [_stable(v) for v in value]
    return value


def deployment(name: str, namespace: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    labels = {"app.kubernetes.io/name": name, **(labels or {})}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app.kubernetes.io/name": name}},
            "template": {
                "metadata": {"labels": {"app.kubernetes.io/name": name}},
                "spec": {"containers": [{"name": name, "image": f"registry.lab.invalid/{name}:lab"}]},
            },
        },
    }


def deployment_status(available: bool) -> dict[str, Any]:
    ready = 1 if available else 0
    return {
        "observedGeneration": 1,
        "replicas": 1,
        "updatedReplicas": 1,
        "readyReplicas": ready,
        "availableReplicas": ready,
        **({} if available else {"unavailableReplicas": 1}),
        "conditions": [
            condition(
                "Available",
                available,
                "MinimumReplicasAvailable" if available else "MinimumReplicasUnavailable",
                "Deployment has minimum availability."
                if available
                else "Deployment does not have minimum availability.",
            ),
            condition("Progressing", True, "NewReplicaSetAvailable" if available else "ReplicaSetUpdated"),
        ],
    }


class Controller:
    """A simulated controller: polls `kube`'s current store (the lab swaps stores) and reconciles."""

    name = "controller"

    def __init__(self, kube: KubeApiServer, poll: float = 0.05) -> None:
        self.kube = kube
        self.poll = poll
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._seen: dict[tuple[str, str], float] = {}
        self.failures: list[str] = []  # the last unexpected errors of reconcile, for tests to look at

    @property
    def store(self) -> Store:
        return self.kube.store

    def start(self) -> Self:
        self._thread = threading.Thread(target=self._loop, name=f"lab-{self.name}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(10)

    def _loop(self) -> None:
        while not self._stop.wait(self.poll):
            if not self.kube.available:
                continue
            try:
                self.reconcile()
            except Exception as exc:  # a controller keeps going, as the real ones do
                self.failures = [*self.failures[-9:], f"{type(exc).__name__}: {exc}"]
                logging.getLogger(__name__).exception("%s simulation", self.name)

    def reconcile(self) -> None:
        raise NotImplementedError

    # -- helpers --------------------------------------------------------------------------------------

    def age(self, obj: dict[str, Any], stage: str = "") -> float:
        """Seconds since this controller first saw this object (by uid) at `stage`."""
        key = (str(obj["metadata"].get("uid")), stage)
        first = self._seen.setdefault(key, time.monotonic())
        return time.monotonic() - first

    def forget(self, obj: dict[str, Any], stage: str = "") -> None:
        self._seen.pop((str(obj["metadata"].get("uid")), stage), None)

    def items(self, api_version: str, kind: str, namespace: str | None = None) -> list[dict[str, Any]]:
        """The objects of a kind; none when the kind is not served (its CRD is not there yet)."""
        try:
            resource = self.store.type_of(api_version, kind)
        except ApiError:
            return []
        return self.store.list(resource, namespace)

    def write_status(self, obj: dict[str, Any], status: dict[str, Any]) -> dict[str, Any]:
        """Replace the object's status when it really changed (keeping the transition times of conditions
        whose status did not change); return the object as stored."""
        current = obj.get("status") or {}
        if _stable(current) == _stable(status):
            return obj
        status = copy.deepcopy(status)
        before = conditions_of(obj)
        for item in status.get("conditions") or []:
            old = before.get(item.get("type", ""))
            if old and old.get("status") == item.get("status") and old.get("lastTransitionTime"):
                item["lastTransitionTime"] = old["lastTransitionTime"]
        metadata = obj["metadata"]
        resource = self.store.type_of(obj["apiVersion"], obj["kind"])
        try:
            return self.store.replace(
                resource, metadata.get("namespace"), metadata["name"], {"status": status}, subresource="status"
            )
        except ApiError as exc:
            if exc.code == 404:  # deleted meanwhile
                return obj
            raise

    def ensure_deployment(self, name: str, namespace: str, available: bool) -> None:
        """A Deployment the simulated operator runs, Available or not yet."""
        self.ensure_namespace(namespace)
        found = self.store.ensure(deployment(name, namespace))
        self.write_status(found, deployment_status(available))

    def ensure_namespace(self, name: str, labels: dict[str, str] | None = None) -> None:
        metadata: dict[str, Any] = {"name": name}
        if labels:
            metadata["labels"] = labels
        self.store.ensure({"apiVersion": "v1", "kind": "Namespace", "metadata": metadata})

    def deployment_available(self, name: str, namespace: str) -> bool:
        found = self.store.find("apps/v1", "Deployment", name, namespace)
        return conditions_of(found).get("Available", {}).get("status") == "True"


def csv_installed(store: Store, prefix: str) -> bool:
    """Whether a ClusterServiceVersion whose name starts with `prefix` (an operator) is Succeeded anywhere."""
    try:
        resource = store.type_of("operators.coreos.com/v1alpha1", "ClusterServiceVersion")
    except ApiError:  # no OLM
        return False
    return any(
        csv["metadata"]["name"].startswith(prefix) and (csv.get("status") or {}).get("phase") == "Succeeded"
        for csv in store.list(resource, None)
    )
