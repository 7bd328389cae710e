"""A fake assisted-service REST API (what the rendezvous host serves on :8090 during bootstrap).

Cluster, host and event JSON are shaped as upstream's swagger (the fields `agent wait-for` reads);
the Watcher-Authorization header is checked when a token is set.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from proxshift.lab.serving import BackgroundServer

PREFIX = "/api/assisted-install/v2"


class AssistedService:
    """`clock` (Unix seconds) stamps stages and events: a test's fake clock makes a 30-minute bootstrap
    take a second."""

    def __init__(
        self,
        cluster_name: str,
        hosts: list[dict[str, str]],
        token: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.token = token
        self.clock = clock
        self.lock = threading.RLock()
        self.requests: list[tuple[str, str, str | None]] = []
        self._name, self._hosts = cluster_name, hosts
        self.reset()
        self.server = BackgroundServer(self._app())

    def reset(self) -> None:
        """Back to a freshly booted rendezvous host (the lab's VMs were recreated)."""
        cluster_name, hosts = self._name, self._hosts
        self.available = True
        self.drop_next = 0  # drop this many of the next requests (a flaky network), then answer again
        self.cluster_id = str(uuid.uuid4())
        self.infra_env_id = str(uuid.uuid4())
        self.cluster: dict[str, Any] = {
            "id": self.cluster_id,
            "name": cluster_name,
            "kind": "Cluster",
            "status": "insufficient",
            "status_info": "Cluster is not ready for install",
            "progress": {"total_percentage": 0},
            "hosts": [
                {
                    "id": str(uuid.uuid4()),
                    "requested_hostname": h["hostname"],
                    "role": h["role"],
                    "bootstrap": index == 0,
                    "status": "discovering",
                    "status_info": "Waiting for host to send hardware details",
                    "progress": {
                        "current_stage": "",
                        "installation_percentage": 0,
                        "stage_updated_at": _stamp(self.clock()),
                    },
                    "stage_timed_out": False,
                    "validations_info": "{}",
                }
                for index, h in enumerate(hosts)
            ],
        }
        self.events: list[dict[str, Any]] = []

    @property
    def url(self) -> str:
        return f"{self.server.url}{PREFIX}"

    def start(self) -> AssistedService:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    # -- what the simulated installer does ------------------------------------------------------

    def event(self, message: str, severity: str = "info") -> None:
        with self.lock:
            self.events.append(
                {
                    "cluster_id": self.cluster_id,
                    "name": "lab",
                    "severity": severity,
                    "message": message,
                    "event_time": _stamp(self.clock()),
                    "category": "user",
                }
            )

    def set_cluster(self, status: str, info: str, percentage: int | None = None) -> None:
        with self.lock:
            self.cluster.update(status=status, status_info=info)
            if percentage is not None:
                self.cluster["progress"]["total_percentage"] = percentage

    def set_host(
        self,
        index: int,
        status: str,
        stage: str = "",
        percentage: int = 0,
        info: str = "",
        validations: str | None = None,
    ) -> None:
        with self.lock:
            host = self.cluster["hosts"][index]
            if host["progress"]["current_stage"] != stage:
                host["progress"]["stage_updated_at"] = _stamp(self.clock())
            host.update(status=status, status_info=info or status)
            host["progress"].update(current_stage=stage, installation_percentage=percentage)
            if validations is not None:
                host["validations_info"] = validations

    # -- HTTP -------------------------------------------------------------------------------------

    def _app(self) -> Any:
        from aiohttp import web

        @web.middleware
        async def guard(request: Any, handler: Any) -> Any:
            dropped = self.drop_next > 0
            self.drop_next -= dropped
            if not self.available or dropped:
                request.transport.close()
                raise ConnectionResetError("assisted-service: gone")
            self.requests.append((request.method, request.path_qs, request.headers.get("Watcher-Authorization")))
            if self.token and request.headers.get("Watcher-Authorization") != self.token:
                return web.json_response({"code": "401", "reason": "Unauthorized"}, status=401)
            response: Any = await handler(request)
            return response

        app = web.Application(middlewares=[guard])
        app.router.add_get(f"{PREFIX}/infra-envs", self._infra_envs)
        app.router.add_get(f"{PREFIX}/clusters", self._clusters)
        app.router.add_get(f"{PREFIX}/clusters/{{id}}", self._cluster)
        app.router.add_get(f"{PREFIX}/events", self._events)
        return app

    async def _infra_envs(self, request: Any) -> Any:
        from aiohttp import web

        return web.json_response([{"id": self.infra_env_id, "cluster_id": self.cluster_id, "kind": "InfraEnv"}])

    async def _clusters(self, request: Any) -> Any:
        from aiohttp import web

        with self.lock:
            summary = {k: v for k, v in self.cluster.items() if k != "hosts"}
        return web.json_response([summary])

    async def _cluster(self, request: Any) -> Any:
        from aiohttp import web

        if request.match_info["id"] != self.cluster_id:
            return web.json_response({"code": "404", "reason": "cluster not found"}, status=404)
        with self.lock:
            return web.json_response(self.cluster)

    async def _events(self, request: Any) -> Any:
        from aiohttp import web

        with self.lock:
            return web.json_response(list(self.events))


def _stamp(now: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(now))
