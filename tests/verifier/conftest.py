"""Fixtures for the verifier tests: a real VerifierService on port 0."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import pytest

from services.verifier.servicer import VerifierServicer, register_verifier
from switchyard.runtime.config import ServerConfig
from switchyard.runtime.server import start_server
from switchyard.verifier.v1 import verifier_pb2_grpc


@pytest.fixture
async def verifier_stub() -> AsyncIterator[verifier_pb2_grpc.VerifierServiceStub]:
    """A stub connected to a real verifier server (no scorer) on an ephemeral port."""
    running = await start_server(
        name="verifier",
        config=ServerConfig(port=0),
        register=register_verifier(VerifierServicer(scorer=None, max_rank_candidates=8)),
    )
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{running.port}")
    try:
        yield verifier_pb2_grpc.VerifierServiceStub(channel)
    finally:
        await channel.close()
        await running.stop(0)


@pytest.fixture
async def scored_verifier_stub() -> AsyncIterator[verifier_pb2_grpc.VerifierServiceStub]:
    """A stub connected to a real verifier server with the packaged quality scorer."""
    from switchyard.checks import default_scorer

    running = await start_server(
        name="verifier",
        config=ServerConfig(port=0),
        register=register_verifier(VerifierServicer(scorer=default_scorer())),
    )
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{running.port}")
    try:
        yield verifier_pb2_grpc.VerifierServiceStub(channel)
    finally:
        await channel.close()
        await running.stop(0)
