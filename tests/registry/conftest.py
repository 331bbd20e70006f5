"""Fixtures: a real registry server on port 0 with a fresh SQLite file per test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest

from services.registry.__main__ import start_registry
from services.registry.config import RegistryConfig
from services.registry.store import ModelStore
from switchyard.registry.v1 import registry_pb2_grpc
from switchyard.runtime.server import RunningServer


@dataclass
class Registry:
    """A running registry: its stub, store and address, for one test."""

    running: RunningServer
    store: ModelStore
    channel: grpc.aio.Channel
    stub: registry_pb2_grpc.RegistryServiceStub
    db_path: Path

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.running.port}"


async def _start(db_path: Path, **config: object) -> tuple[Registry, Callable[[], object]]:
    cfg = RegistryConfig(port=0, db_path=str(db_path), grace_s=0.5, **config)  # type: ignore[arg-type]
    running, store = await start_registry(cfg)
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{running.port}")
    registry = Registry(
        running, store, channel, registry_pb2_grpc.RegistryServiceStub(channel), db_path
    )

    async def stop() -> None:
        await channel.close()
        await running.stop(0.5)  # ends watch streams first, then drains
        await store.close()

    return registry, stop


@pytest.fixture
async def registry(tmp_path: Path) -> AsyncIterator[Registry]:
    started, stop = await _start(tmp_path / "registry.db")
    try:
        yield started
    finally:
        await stop()  # type: ignore[misc]


@pytest.fixture
def start_registry_at() -> Callable[..., object]:
    """Factory for tests that need a registry with special config or a restart."""
    return _start
