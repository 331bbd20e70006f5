"""A real router with its decision log on, over real gRPC and the simulator."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import grpc

from services.router.app import RouterApp, build_router
from services.router.decision_log import DecisionLogSettings
from services.router.decision_log.query import DecisionFilter, DecisionReader, LoggedDecision
from services.router.state import RouterState
from services.router.tenants import TenantTokens
from services.router.testing import POLICY, feed
from services.simulator.testing import RunningSimulator
from switchyard.router.v1 import router_pb2_grpc
from switchyard.runtime.config import ServerConfig
from switchyard.runtime.server import RunningServer, start_server


@dataclass
class LoggedRouter:
    sim: RunningSimulator
    app: RouterApp
    server: RunningServer
    stub: router_pb2_grpc.RouterServiceStub
    path: Path

    async def decisions(self, where: DecisionFilter | None = None) -> list[LoggedDecision]:
        assert self.app.decision_log is not None
        await self.app.decision_log.flush()
        return DecisionReader(self.path).decisions(where or DecisionFilter())


async def logged_router(
    sim: RunningSimulator,
    tmp_path: Path,
    *,
    policy: str = POLICY,
    tenants: TenantTokens | None = None,
    **settings: object,
) -> AsyncIterator[LoggedRouter]:
    state = RouterState(str(tmp_path))
    feed(state, sim.base_url, policy)
    path = tmp_path / "log" / "decisions.db"
    app = build_router(
        state=state,
        environ={},
        review_dir=str(tmp_path),
        tenants=tenants,
        decision_log=DecisionLogSettings(path=path, **settings),  # type: ignore[arg-type]
    )
    server = await start_server(name="router", config=ServerConfig(port=0), register=app.register)
    async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        yield LoggedRouter(sim, app, server, router_pb2_grpc.RouterServiceStub(channel), path)
    await server.stop(0.5)
    await app.close()
