"""The router's policy stream against a real control plane: a snapshot the router
cannot apply, for whatever reason, is NACKed and the stream goes on."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest

from services.router.state import RouterState
from services.router.sync import subscribe_config
from switchyard.controlplane.v1 import controlplane_pb2 as pb
from tests.controlplane.cp_harness import (
    EXAMPLE_POLICY,
    ControlPlaneUnderTest,
    eventually,
    policy_named,
    start_control_plane,
    stop_control_plane,
)


@pytest.fixture
async def cp(tmp_path: Path) -> AsyncIterator[ControlPlaneUnderTest]:
    plane = await start_control_plane(tmp_path / "cp.db")
    yield plane
    await stop_control_plane(plane)


async def _router_status(cp: ControlPlaneUnderTest) -> pb.RouterStatus | None:
    reply = await cp.stub.ListRouters(pb.ListRoutersRequest())
    return reply.routers[0] if reply.routers else None


async def test_snapshot_that_raises_unexpectedly_is_nacked_and_the_stream_survives(
    cp: ControlPlaneUnderTest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unexpected error while applying a snapshot (seen in `make chaos`: a policy
    naming a predictor when the predictor module fails to import) is a NACK carrying
    no stack trace; the router keeps its last good policy and still follows the
    control plane, so the operator's rollback reaches it."""
    await cp.publish(EXAMPLE_POLICY)
    state = RouterState(str(tmp_path / "router"))
    apply = state.apply_snapshot
    poisoned = policy_named("poisoned")

    def apply_or_explode(snapshot: pb.RouterConfigSnapshot, **kw: object) -> None:
        if any(p.source == poisoned for p in snapshot.policies):
            raise ModuleNotFoundError("No module named 'switchyard.learning.predictor'")
        apply(snapshot, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(state, "apply_snapshot", apply_or_explode)
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{cp.server.port}")
    stream = asyncio.create_task(subscribe_config(channel, state, router_id="router-a"))
    try:
        await asyncio.wait_for(state._policy_ready.wait(), 5)
        assert state.policies.active.version == 1

        bad = await cp.publish(poisoned, activate=True)

        async def nacked() -> bool:
            status = await _router_status(cp)
            return status is not None and status.nacked_snapshot_version != ""

        await eventually(nacked)
        status = await _router_status(cp)
        assert status is not None
        assert "Traceback" not in status.nack_error
        assert "ModuleNotFoundError" in status.nack_error
        assert state.policies.active.version == 1
        assert not stream.done()

        await cp.stub.RollbackPolicy(pb.RollbackPolicyRequest(version=1, author="test"))
        fixed = await cp.publish(policy_named("fixed"), activate=True)
        assert fixed.policy.version > bad.policy.version

        async def adopted() -> bool:
            return state.policies.active.version == fixed.policy.version

        await eventually(adopted)
    finally:
        stream.cancel()
        await channel.close()
