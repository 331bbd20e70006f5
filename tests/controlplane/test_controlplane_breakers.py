"""Fleet-wide breaker overrides: set, pushed to every router, persisted, removed."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest

from switchyard.controlplane.v1 import controlplane_pb2 as pb
from switchyard.runtime.errors import field_violations
from tests.controlplane.cp_harness import (
    EXAMPLE_POLICY,
    ControlPlaneUnderTest,
    RouterClient,
    start_control_plane,
    stop_control_plane,
)


def _override(model: str, state: int, reason: str = "") -> pb.SetBreakerOverrideRequest:
    return pb.SetBreakerOverrideRequest(model_id=model, override=state, author="ops", reason=reason)


async def test_override_is_pushed_to_every_router(cp: ControlPlaneUnderTest) -> None:
    """Forcing a breaker open reaches both routers in a newer snapshot; NONE removes it."""
    await cp.publish(EXAMPLE_POLICY)
    routers = [RouterClient(cp.stub, f"router-{i}") for i in range(2)]
    for router in routers:
        await router.hello()
        await router.next_snapshot()
    response = await cp.stub.SetBreakerOverride(
        _override("large", pb.BREAKER_OVERRIDE_FORCED_OPEN, "provider outage")
    )
    (listed,) = response.breaker_overrides
    assert (listed.model_id, listed.override, listed.reason) == (
        "large",
        pb.BREAKER_OVERRIDE_FORCED_OPEN,
        "provider outage",
    )
    for router in routers:
        snapshot = await router.next_snapshot()
        assert [(o.model_id, o.override) for o in snapshot.breaker_overrides] == [
            ("large", pb.BREAKER_OVERRIDE_FORCED_OPEN)
        ]
        assert snapshot.rollout.active_version == 1
    response = await cp.stub.SetBreakerOverride(_override("large", pb.BREAKER_OVERRIDE_NONE))
    assert list(response.breaker_overrides) == []
    for router in routers:
        assert list((await router.next_snapshot()).breaker_overrides) == []
        router.close()


async def test_repeating_an_override_sends_nothing_new(cp: ControlPlaneUnderTest) -> None:
    """The same override twice changes nothing, so routers get no new snapshot."""
    await cp.publish(EXAMPLE_POLICY)
    await cp.stub.SetBreakerOverride(_override("small", pb.BREAKER_OVERRIDE_FORCED_CLOSED))
    router = RouterClient(cp.stub, "router-a")
    await router.hello()
    snapshot = await router.next_snapshot()
    assert len(snapshot.breaker_overrides) == 1
    await cp.stub.SetBreakerOverride(_override("small", pb.BREAKER_OVERRIDE_FORCED_CLOSED))
    with pytest.raises(TimeoutError):
        await router.next_snapshot(wait_s=0.3)
    router.close()


async def test_overrides_survive_a_restart(tmp_path: Path) -> None:
    """Overrides are stored: a restarted control plane still sends them."""
    cp = await start_control_plane(tmp_path / "cp.db")
    await cp.publish(EXAMPLE_POLICY)
    await cp.stub.SetBreakerOverride(_override("code", pb.BREAKER_OVERRIDE_FORCED_OPEN))
    await stop_control_plane(cp)
    cp = await start_control_plane(tmp_path / "cp.db")
    try:
        config = await cp.stub.GetRouterConfig(pb.GetRouterConfigRequest())
        assert [o.model_id for o in config.snapshot.breaker_overrides] == ["code"]
    finally:
        await stop_control_plane(cp)


async def test_override_validation(cp: ControlPlaneUnderTest) -> None:
    """An unspecified override or a missing model id is INVALID_ARGUMENT on that field."""
    for request, field in (
        (_override("small", pb.BREAKER_OVERRIDE_UNSPECIFIED), "override"),
        (_override("", pb.BREAKER_OVERRIDE_FORCED_OPEN), "model_id"),
        (_override("m" * 200, pb.BREAKER_OVERRIDE_FORCED_OPEN), "model_id"),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await cp.stub.SetBreakerOverride(request)
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert [v.field for v in field_violations(caught.value)] == [field]
