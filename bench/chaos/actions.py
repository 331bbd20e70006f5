"""What the chaos run does to the suite and what it asks it: model faults through the
simulator's admin API, kill -9 and restart of a service, policy pushes and the
routers' replies through the control plane, the router's Plan()."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
import grpc

from switchyard.client.config import DEV_OPERATOR_TOKEN
from switchyard.controlplane.v1 import controlplane_pb2 as cp
from switchyard.controlplane.v1 import controlplane_pb2_grpc as cp_grpc
from switchyard.router.v1 import router_pb2, router_pb2_grpc
from switchyard.runtime.errors import field_violations
from switchyard.runtime.tokens import bearer
from switchyard.suite import Suite

AUTHOR = "chaos"


class ModelServer:
    """The simulator's admin API, and its request counters added up across restarts
    (a killed simulator forgets its counters; `before_kill` banks them)."""

    def __init__(self, suite: Suite, http: aiohttp.ClientSession) -> None:
        self._suite = suite
        self._http = http
        self._banked = 0
        self._up = True

    @property
    def url(self) -> str:
        return self._suite.simulator_url

    async def set_faults(self, model: str, faults: Mapping[str, Any]) -> None:
        url = f"{self.url}/admin/models/{model}/faults"
        async with self._http.put(url, json=dict(faults)) as reply:
            if reply.status != 200:
                raise RuntimeError(f"PUT {url}: {reply.status} {await reply.text()}")

    async def clear_faults(self, model: str) -> None:
        url = f"{self.url}/admin/models/{model}/faults"
        async with self._http.delete(url) as reply:
            if reply.status not in (200, 204):
                raise RuntimeError(f"DELETE {url}: {reply.status} {await reply.text()}")

    async def _counted(self) -> int:
        async with self._http.get(
            f"{self.url}/admin/models", timeout=aiohttp.ClientTimeout(total=5)
        ) as reply:
            body = await reply.json()
        return sum(int(m.get("counters", {}).get("requests", 0)) for m in body["models"])

    async def calls(self) -> int:
        """Model calls every incarnation of the simulator has received so far."""
        return self._banked + (await self._counted() if self._up else 0)

    async def kill(self) -> None:
        self._banked += await self._counted()
        self._up = False
        await self._suite.kill_service("simulator")

    async def restart(self) -> None:
        await self._suite.restart("simulator")
        self._up = True


@dataclass(frozen=True)
class Published:
    version: int
    # The control plane's refusal (code and field violations), if it refused.
    refused: str = ""


class ControlPlane:
    """Policy pushes and the routers' ACK/NACK ledger, over a channel that survives
    the control plane's restarts (gRPC reconnects on the next call)."""

    def __init__(self, address: str, *, token: str = DEV_OPERATOR_TOKEN) -> None:
        self._channel = grpc.aio.insecure_channel(address)
        self._stub = cp_grpc.ControlPlaneServiceStub(self._channel)
        # The suite's control plane checks tokens: an operator's, as `make run` sets.
        self._auth = bearer(token)

    async def publish(self, source: str, *, activate: bool, message: str) -> Published:
        try:
            reply = await self._stub.PublishPolicy(
                cp.PublishPolicyRequest(
                    source=source, author=AUTHOR, message=message, activate=activate
                ),
                timeout=10,
                wait_for_ready=True,
                metadata=self._auth,
            )
        except grpc.aio.AioRpcError as exc:
            if exc.code() != grpc.StatusCode.INVALID_ARGUMENT:
                raise
            problems = "; ".join(f"{v.field}: {v.description}" for v in field_violations(exc))
            return Published(0, f"{exc.code().name}: {problems or exc.details()}")
        return Published(reply.policy.version)

    async def rollback(self, version: int) -> None:
        await self._stub.RollbackPolicy(
            cp.RollbackPolicyRequest(version=version, author=AUTHOR),
            timeout=10,
            wait_for_ready=True,
            metadata=self._auth,
        )

    async def routers(self) -> tuple[list[cp.RouterStatus], str]:
        """Every router's status, and the snapshot version being distributed now."""
        reply = await self._stub.ListRouters(
            cp.ListRoutersRequest(), timeout=5, metadata=self._auth
        )
        return list(reply.routers), reply.current_snapshot_version

    async def wait_for(
        self, condition: Callable[[cp.RouterStatus, str], bool], *, timeout_s: float
    ) -> float | None:
        """Seconds until every router's status meets `condition(status, current
        snapshot version)`; None when that did not happen in time."""
        started = time.monotonic()
        while time.monotonic() - started < timeout_s:
            try:
                statuses, current = await self.routers()
            except grpc.aio.AioRpcError:
                statuses, current = [], ""
            if statuses and all(condition(s, current) for s in statuses):
                return time.monotonic() - started
            await asyncio.sleep(0.05)
        return None

    async def close(self) -> None:
        await self._channel.close()


class RouterProbe:
    """Plan() on the router: which of the active policy's models it refuses now."""

    def __init__(self, address: str, request: router_pb2.RouteRequest) -> None:
        self._channel = grpc.aio.insecure_channel(address)
        self._stub = router_pb2_grpc.RouterServiceStub(self._channel)
        self._request = request

    async def open_breakers(self) -> tuple[str, ...]:
        plan = await self._stub.Plan(router_pb2.PlanRequest(request=self._request), timeout=5)
        return tuple(
            sorted(
                c.model_id
                for c in plan.candidates
                if c.reason.startswith("breaker") or c.reason.startswith("panic") or plan.panic
            )
        )

    async def close(self) -> None:
        await self._channel.close()
