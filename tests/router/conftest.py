"""A real router gRPC server on port 0, talking HTTP to an in-process simulator."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest

from services.router.app import RouterApp, build_router
from services.router.state import RouterState
from services.router.testing import POLICY, SIM_MODELS, feed
from services.simulator.testing import RunningSimulator, running_simulator
from switchyard.router.v1 import router_pb2_grpc
from switchyard.runtime.config import ServerConfig
from switchyard.runtime.server import RunningServer, start_server


@dataclass
class RouterHarness:
    sim: RunningSimulator
    app: RouterApp
    server: RunningServer
    stub: router_pb2_grpc.RouterServiceStub
    state_dir: Path


@pytest.fixture
async def simulator() -> AsyncIterator[RunningSimulator]:
    async with running_simulator(SIM_MODELS, seed=3) as sim:
        yield sim


async def start_router(
    sim: RunningSimulator, state_dir: Path, *, policy: str = POLICY, verifier_address: str = ""
) -> tuple[RouterApp, RunningServer]:
    state = RouterState(str(state_dir))
    feed(state, sim.base_url, policy)
    app = build_router(
        state=state, environ={}, verifier_address=verifier_address, review_dir=str(state_dir)
    )
    server = await start_server(name="router", config=ServerConfig(port=0), register=app.register)
    return app, server


@asynccontextmanager
async def running_router(
    sim: RunningSimulator, state_dir: Path, *, policy: str = POLICY, verifier_address: str = ""
) -> AsyncIterator[RouterHarness]:
    """`start_router` with a client channel open; stopped and closed on the way out."""
    app, server = await start_router(
        sim, state_dir, policy=policy, verifier_address=verifier_address
    )
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            yield RouterHarness(
                sim, app, server, router_pb2_grpc.RouterServiceStub(channel), state_dir
            )
    finally:
        await server.stop(0.5)
        await app.close()


@pytest.fixture
async def router(simulator: RunningSimulator, tmp_path: Path) -> AsyncIterator[RouterHarness]:
    async with running_router(simulator, tmp_path) as harness:
        yield harness
