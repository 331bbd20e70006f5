"""ListRouters and GetRouterConfig: which version each router runs."""

from __future__ import annotations

from switchyard.controlplane.v1 import controlplane_pb2 as pb
from tests.controlplane.cp_harness import (
    ControlPlaneUnderTest,
    RouterClient,
    eventually,
    policy_named,
)


async def test_list_routers_reports_acks_nacks_and_connection(cp: ControlPlaneUnderTest) -> None:
    """One router acks v2, one nacks it (still on v1), one disconnected after v1."""
    await cp.publish(policy_named("one"))
    good, bad, gone = (RouterClient(cp.stub, name) for name in ("r-good", "r-bad", "r-gone"))
    for router in (good, bad, gone):
        await router.hello()
        await router.ack(await router.next_snapshot())
    await eventually(lambda: _all_acked(cp, 3))
    gone.close()
    await eventually(lambda: _connected_is(cp, {"r-good", "r-bad"}))
    await cp.publish(policy_named("two"), activate=True)
    await good.ack(await good.next_snapshot())
    newest = await bad.next_snapshot()
    await bad.nack(newest, "cannot load")
    await eventually(lambda: _nacked(cp, "r-bad"))

    response = await cp.stub.ListRouters(pb.ListRoutersRequest())
    assert response.current_snapshot_version == newest.version
    by_id = {r.router_id: r for r in response.routers}
    assert [r.router_id for r in response.routers] == ["r-bad", "r-gone", "r-good"]
    assert (by_id["r-good"].active_version, by_id["r-good"].up_to_date) == (2, True)
    assert (by_id["r-bad"].active_version, by_id["r-bad"].up_to_date) == (1, False)
    assert by_id["r-bad"].nacked_snapshot_version == newest.version
    assert by_id["r-bad"].nack_error == "cannot load"
    assert (by_id["r-gone"].connected, by_id["r-gone"].active_version) == (False, 1)
    assert by_id["r-good"].connected and by_id["r-good"].ack_time.seconds > 0
    good.close()
    bad.close()


async def test_list_routers_pages_by_router_id(cp: ControlPlaneUnderTest) -> None:
    """page_size 2 over five routers: three pages, each router once, in id order."""
    for i in range(5):
        await cp.plane.ledger.seen(f"router-{i}")
    seen: list[str] = []
    token = ""
    for _ in range(5):
        page = await cp.stub.ListRouters(pb.ListRoutersRequest(page_size=2, page_token=token))
        seen.extend(r.router_id for r in page.routers)
        token = page.next_page_token
        if not token:
            break
    assert seen == [f"router-{i}" for i in range(5)]


async def test_get_router_config_before_and_after_publish(cp: ControlPlaneUnderTest) -> None:
    """Version "0" and no policies until something is active; then the active policy."""
    empty = await cp.stub.GetRouterConfig(pb.GetRouterConfigRequest())
    assert empty.snapshot.version == "0"
    assert list(empty.snapshot.policies) == []
    await cp.publish(policy_named("one"))
    config = await cp.stub.GetRouterConfig(pb.GetRouterConfigRequest())
    assert config.snapshot.version == "1"
    assert [p.version for p in config.snapshot.policies] == [1]


async def _all_acked(cp: ControlPlaneUnderTest, count: int) -> bool:
    routers = await cp.plane.ledger.routers()
    return sum(bool(r.acked_snapshot_version) for r in routers) == count


async def _connected_is(cp: ControlPlaneUnderTest, ids: set[str]) -> bool:
    return cp.plane.distributor.connected() == ids


async def _nacked(cp: ControlPlaneUnderTest, router_id: str) -> bool:
    return any(r.router_id == router_id and r.nack_error for r in await cp.plane.ledger.routers())
