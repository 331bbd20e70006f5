"""Fleet harness: a real control plane, registry, simulator and N router processes,
each router on its own port with its own id, so a test can drive one router and watch
the others (reusable by any test about fleet-wide behaviour)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import grpc

from switchyard.client import ClientConfig, open_aio_channel
from switchyard.controlplane.v1 import controlplane_pb2 as cp_pb
from switchyard.controlplane.v1 import controlplane_pb2_grpc as cp_grpc
from switchyard.router.v1 import router_pb2, router_pb2_grpc
from switchyard.suite import Suite
from tests.suites import suite_settings

# Generous for a loaded 2-core machine; the 1 s figures are asserted separately.
WAIT_S = 15.0
PROMPT = "Explain how a B-tree keeps itself balanced."


@dataclass
class Fleet:
    suite: Suite
    routers: dict[str, router_pb2_grpc.RouterServiceStub] = field(default_factory=dict)
    controlplane: cp_grpc.ControlPlaneServiceStub | None = None
    _channels: list[grpc.aio.Channel] = field(default_factory=list)

    @property
    def router_ids(self) -> list[str]:
        return self.suite.router_names

    @property
    def cp(self) -> cp_grpc.ControlPlaneServiceStub:
        assert self.controlplane is not None
        return self.controlplane

    def connect(self) -> None:
        """(Re)open a channel to each router and to the control plane."""
        for name in self.router_ids:
            channel = self.suite.channel(name)
            self._channels.append(channel)
            self.routers[name] = router_pb2_grpc.RouterServiceStub(channel)
        # The suite's control plane checks tokens: call as its operator.
        channel = open_aio_channel(
            ClientConfig(
                address=self.suite.address("controlplane"),
                token=self.suite.settings.operator_token,
                retry=None,
            )
        )
        self._channels.append(channel)
        self.controlplane = cp_grpc.ControlPlaneServiceStub(channel)

    async def close(self) -> None:
        for channel in self._channels:
            await channel.close()

    # -- simulator ------------------------------------------------------------------

    async def _simulator(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        async with aiohttp.ClientSession() as session:
            async with session.request(
                method, f"{self.suite.simulator_url}{path}", json=body
            ) as response:
                response.raise_for_status()
                return await response.json()

    async def set_faults(self, model: str, **faults: float) -> None:
        await set_faults(self.suite, model, faults)

    async def clear_faults(self, model: str) -> None:
        await set_faults(self.suite, model, None)

    async def requests_at(self, model: str) -> int:
        """How many calls the simulator received for `model` (the ground truth), the
        routers' one-token health checks apart (health_checks_at)."""
        counters = (await self._simulator("GET", f"/admin/models/{model}"))["counters"]
        return int(counters["requests"]) - int(counters.get("health_checks", 0))

    async def health_checks_at(self, model: str) -> int:
        counters = (await self._simulator("GET", f"/admin/models/{model}"))["counters"]
        return int(counters.get("health_checks", 0))

    # -- routers --------------------------------------------------------------------

    async def route(self, router: str, **fields: Any) -> router_pb2.RouteResponse:
        request = router_pb2.RouteRequest(
            messages=[router_pb2.ChatMessage(role="user", content=PROMPT)],
            max_output_tokens=100,
            **fields,
        )
        return await self.routers[router].Route(request, timeout=10)

    async def plan(self, router: str, **fields: Any) -> router_pb2.PlanResponse:
        request = router_pb2.RouteRequest(
            messages=[router_pb2.ChatMessage(role="user", content=PROMPT)],
            max_output_tokens=100,
            **fields,
        )
        return await self.routers[router].Plan(router_pb2.PlanRequest(request=request), timeout=5)

    async def candidate_reason(self, router: str, model: str) -> str:
        """Why `model` is kept or dropped in `router`'s plan ("eligible", "breaker open")."""
        plan = await self.plan(router)
        return next(c.reason for c in plan.candidates if c.model_id == model)

    async def fleet_state(self, model: str) -> cp_pb.ModelBreakerStatus | None:
        listed = await self.cp.ListBreakers(cp_pb.ListBreakersRequest(), timeout=5)
        return next((b for b in listed.breakers if b.model_id == model), None)


async def start_fleet(
    state_dir: Path,
    *,
    policy: str,
    simulator: str,
    routers: int = 3,
    router_args: tuple[str, ...] = ("--verifier-mode", "embedded"),
) -> Fleet:
    suite = Suite(
        suite_settings(
            state_dir,
            simulator=simulator,
            policy=policy,
            routers=routers,
            separate_router_ports=True,
            router_args=router_args,
            startup_timeout_s=60.0,
        )
    )
    await suite.start()
    fleet = Fleet(suite)
    fleet.connect()
    await until(lambda: all_routers_connected(fleet), what="every router on the stream")
    return fleet


async def all_routers_connected(fleet: Fleet) -> bool:
    listed = await fleet.cp.ListRouters(cp_pb.ListRoutersRequest(), timeout=5)
    up = {r.router_id for r in listed.routers if r.connected and r.up_to_date}
    return up >= set(fleet.router_ids)


async def set_faults(suite: Suite, model: str, faults: dict[str, Any] | None) -> None:
    """Set (or, with None, clear) one simulated model's faults through its admin API."""
    url = f"{suite.simulator_url}/admin/models/{model}/faults"
    async with aiohttp.ClientSession() as http:
        method = "DELETE" if faults is None else "PUT"
        async with http.request(method, url, json=faults) as response:
            response.raise_for_status()


async def until(
    check: Callable[[], Awaitable[bool]], *, what: str, wait_s: float = WAIT_S
) -> float:
    """Poll until `check` holds; returns the seconds it took (for the 1 s assertions)."""
    started = time.monotonic()
    while not await check():
        assert time.monotonic() - started < wait_s, f"never: {what}"
        await asyncio.sleep(0.02)
    return time.monotonic() - started
