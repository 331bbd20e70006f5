"""Fleet breakers and estimates through a real ControlPlaneService and hand-driven streams."""

from __future__ import annotations

import asyncio
from pathlib import Path

import grpc
import pytest

from switchyard.controlplane.v1 import controlplane_pb2 as pb
from tests.controlplane.cp_harness import (
    EXAMPLE_POLICY,
    RouterClient,
    eventually,
    start_control_plane,
    stop_control_plane,
)

OPENED = pb.ModelBreakerReport(
    model_id="small",
    state=pb.LOCAL_BREAKER_STATE_OPEN,
    transitions=[
        pb.BreakerTransition(
            from_state=pb.LOCAL_BREAKER_STATE_CLOSED, to_state=pb.LOCAL_BREAKER_STATE_OPEN
        )
    ],
    failures=6,
)


async def connected(cp, router_id: str) -> tuple[RouterClient, pb.RouterConfigSnapshot]:
    client = RouterClient(cp.stub, router_id)
    await client.hello()
    snapshot = await client.next_snapshot()
    await client.ack(snapshot)
    return client, snapshot


async def test_one_routers_opening_reaches_the_others_and_list_breakers_shows_it(
    tmp_path: Path,
) -> None:
    """r1 reports its breaker opened: r2 gets an OPEN fleet view; ListBreakers shows the
    fleet state, who opened it and each router's counts."""
    cp = await start_control_plane(tmp_path / "cp.db")
    clients: list[RouterClient] = []
    try:
        await cp.publish(EXAMPLE_POLICY, activate=True)
        r1, snap1 = await connected(cp, "r1")
        r2, _ = await connected(cp, "r2")
        clients += [r1, r2]
        await r1.report(pb.RouterReport(router_id="r1", nonce=snap1.nonce, breakers=[OPENED]))
        pushed = await r2.next_fleet("fleet_breakers")
        (breaker,) = pushed.fleet_breakers.breakers
        assert breaker.model_id == "small" and breaker.state == pb.FLEET_BREAKER_STATE_OPEN
        assert breaker.opened_by_router_id == "r1"
        listed = await cp.stub.ListBreakers(pb.ListBreakersRequest())
        (status,) = listed.breakers
        assert status.state == pb.FLEET_BREAKER_STATE_OPEN
        assert status.override == pb.BREAKER_OVERRIDE_NONE
        assert [(r.router_id, r.failures, r.connected) for r in status.routers] == [("r1", 6, True)]
        assert status.half_open_time.seconds > 0
    finally:
        for client in clients:
            client.close()
        await stop_control_plane(cp)


async def test_reports_from_another_router_or_with_a_stale_nonce_are_ignored_and_counted(
    tmp_path: Path,
) -> None:
    """A report naming another router, or a nonce never sent on this stream, changes
    nothing and is counted in ListBreakers."""
    cp = await start_control_plane(tmp_path / "cp.db")
    client = None
    try:
        await cp.publish(EXAMPLE_POLICY, activate=True)
        client, snapshot = await connected(cp, "r1")
        await client.report(
            pb.RouterReport(router_id="r9", nonce=snapshot.nonce, breakers=[OPENED])
        )
        await client.report(pb.RouterReport(router_id="r1", nonce="stale", breakers=[OPENED]))

        async def counted() -> bool:
            listed = await cp.stub.ListBreakers(pb.ListBreakersRequest())
            return (
                listed.ignored_unknown_router_reports == 1
                and listed.ignored_stale_nonce_reports == 1
            )

        await eventually(counted)
        listed = await cp.stub.ListBreakers(pb.ListBreakersRequest())
        assert list(listed.breakers) == []
    finally:
        if client is not None:
            client.close()
        await stop_control_plane(cp)


async def test_estimates_are_merged_and_sent_to_the_other_routers(tmp_path: Path) -> None:
    """r1's figures reach r2 as the fleet's; r1 is not sent its own."""
    cp = await start_control_plane(tmp_path / "cp.db")
    clients: list[RouterClient] = []
    try:
        await cp.publish(EXAMPLE_POLICY, activate=True)
        r1, snap1 = await connected(cp, "r1")
        r2, _ = await connected(cp, "r2")
        clients += [r1, r2]
        figure = pb.OutcomeEstimate(
            model_id="small",
            task_type="chat",
            accepted_weight=8,
            total_weight=10,
            outcomes=10,
            latency_p50_ms=40,
            latency_p95_ms=90,
            latency_samples=10,
        )
        await r1.report(pb.RouterReport(router_id="r1", nonce=snap1.nonce, estimates=[figure]))
        pushed = await r2.next_fleet("fleet_estimates")
        assert pushed.fleet_estimates.routers == 1
        assert list(pushed.fleet_estimates.estimates) == [figure]
        with pytest.raises(asyncio.TimeoutError):
            await r1.next_fleet("fleet_estimates", wait_s=1.5)
    finally:
        for client in clients:
            client.close()
        await stop_control_plane(cp)


async def test_drain_is_an_override_routers_receive(tmp_path: Path) -> None:
    """DRAIN is stored, listed and sent in the snapshot like the forced states."""
    cp = await start_control_plane(tmp_path / "cp.db")
    client = None
    try:
        await cp.publish(EXAMPLE_POLICY, activate=True)
        client, _ = await connected(cp, "r1")
        await cp.stub.SetBreakerOverride(
            pb.SetBreakerOverrideRequest(
                model_id="large", override=pb.BREAKER_OVERRIDE_DRAIN, reason="maintenance"
            )
        )
        snapshot = await client.next_snapshot()
        assert [(o.model_id, o.override) for o in snapshot.breaker_overrides] == [
            ("large", pb.BREAKER_OVERRIDE_DRAIN)
        ]
        listed = await cp.stub.ListBreakers(pb.ListBreakersRequest())
        assert [(b.model_id, b.override, b.override_reason) for b in listed.breakers] == [
            ("large", pb.BREAKER_OVERRIDE_DRAIN, "maintenance")
        ]
    finally:
        if client is not None:
            client.close()
        await stop_control_plane(cp)


async def test_list_breakers_pages_and_refuses_a_bad_page_size(tmp_path: Path) -> None:
    """Two overrides, page_size 1: two pages; a negative page size is INVALID_ARGUMENT."""
    cp = await start_control_plane(tmp_path / "cp.db")
    try:
        await cp.publish(EXAMPLE_POLICY, activate=True)
        for model in ("small", "large"):
            await cp.stub.SetBreakerOverride(
                pb.SetBreakerOverrideRequest(
                    model_id=model, override=pb.BREAKER_OVERRIDE_FORCED_OPEN
                )
            )
        first = await cp.stub.ListBreakers(pb.ListBreakersRequest(page_size=1))
        assert [b.model_id for b in first.breakers] == ["large"] and first.next_page_token
        second = await cp.stub.ListBreakers(
            pb.ListBreakersRequest(page_size=1, page_token=first.next_page_token)
        )
        assert [b.model_id for b in second.breakers] == ["small"]
        assert not second.next_page_token
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await cp.stub.ListBreakers(pb.ListBreakersRequest(page_size=-1))
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    finally:
        await stop_control_plane(cp)
