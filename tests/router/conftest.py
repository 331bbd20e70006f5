"""A real router gRPC server on port 0, talking HTTP to an in-process simulator."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest

from services.router.app import RouterApp, build_router
from services.router.state import RouterState
from services.simulator.testing import RunningSimulator, running_simulator
from switchyard.controlplane.v1 import controlplane_pb2
from switchyard.fleet import parse_fleet
from switchyard.registry.v1 import registry_pb2
from switchyard.router.v1 import router_pb2, router_pb2_grpc
from switchyard.runtime.config import ServerConfig
from switchyard.runtime.server import RunningServer, start_server

FLEET = """
- id: small
  provider: {kind: simulator, endpoint: "${SIM}", upstream_model: small}
  pricing: {input_per_mtok_micros: 150000, output_per_mtok_micros: 600000}
  context_window: 16384
  max_output_tokens: 1024
  latency: {total_p50_ms: 10}
- id: large
  provider: {kind: simulator, endpoint: "${SIM}", upstream_model: large}
  pricing: {input_per_mtok_micros: 3000000, output_per_mtok_micros: 15000000}
  context_window: 16384
  max_output_tokens: 1024
  latency: {total_p50_ms: 20}
"""

POLICY = """
name: integration
max_deadline_ms: 5000
budget_micros: 100000
retry: {max_retries: 1, base_backoff_ms: 5, max_backoff_ms: 20}
breaker: {window_size: 4, minimum_calls: 4, open_wait_ms: 60000, max_open_wait_ms: 60000}
checks: [{name: non_empty}, {name: length, params: {min_chars: 20}}, {name: refusal}]
default:
  name: cascade
  strategy: {kind: cascade, stages: [{model: small}, {model: large}]}
"""

SIM_MODELS: Mapping[str, Mapping[str, Any]] = {
    "small": {"ttft_ms": 0, "tokens_per_second": 0, "quality": 1.0, "answer_tokens": 40},
    "large": {"ttft_ms": 0, "tokens_per_second": 0, "quality": 1.0, "answer_tokens": 40},
}


def snapshot(source: str, version: int = 1) -> controlplane_pb2.RouterConfigSnapshot:
    return controlplane_pb2.RouterConfigSnapshot(
        version=str(version),
        nonce="test",
        policies=[controlplane_pb2.PolicyVersion(version=version, source=source)],
        rollout=controlplane_pb2.Rollout(active_version=version),
    )


def feed(state: RouterState, sim_base_url: str, policy: str = POLICY) -> None:
    models = parse_fleet(FLEET, environ={"SIM": sim_base_url})
    state.apply_fleet_snapshot(registry_pb2.FleetSnapshot(models=models, revision=1))
    state.apply_snapshot(snapshot(policy))


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


@pytest.fixture
async def router(simulator: RunningSimulator, tmp_path: Path) -> AsyncIterator[RouterHarness]:
    app, server = await start_router(simulator, tmp_path)
    async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        yield RouterHarness(
            simulator, app, server, router_pb2_grpc.RouterServiceStub(channel), tmp_path
        )
    await server.stop(0.5)
    await app.close()


def ask(text: str = "Explain how database indexes speed up queries.", **kw: Any):
    return router_pb2.RouteRequest(
        messages=[router_pb2.ChatMessage(role="user", content=text)], max_output_tokens=200, **kw
    )
