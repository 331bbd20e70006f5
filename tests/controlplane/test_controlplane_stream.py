"""SubscribeRouterConfig: snapshots on subscribe and on change, ACK/NACK bookkeeping."""

from __future__ import annotations

import grpc
import pytest

from switchyard.controlplane.v1 import controlplane_pb2 as pb
from switchyard.runtime.errors import field_violations
from tests.controlplane.cp_harness import (
    EXAMPLE_POLICY,
    ControlPlaneUnderTest,
    RouterClient,
    eventually,
    policy_named,
)


async def test_subscribe_sends_the_active_policy_at_once(cp: ControlPlaneUnderTest) -> None:
    """A new stream receives the current snapshot with the active version and a nonce."""
    published = await cp.publish(EXAMPLE_POLICY)
    router = RouterClient(cp.stub, "router-a")
    await router.hello()
    snapshot = await router.next_snapshot()
    assert snapshot.version == "1"
    assert snapshot.nonce
    assert [p.version for p in snapshot.policies] == [1]
    assert snapshot.policies[0].source == EXAMPLE_POLICY
    assert snapshot.policies[0] == published.policy
    assert snapshot.rollout.active_version == 1
    router.close()


async def test_subscriber_waits_until_a_policy_exists(cp: ControlPlaneUnderTest) -> None:
    """With nothing active there is nothing to run; the first publish is pushed."""
    router = RouterClient(cp.stub, "router-a")
    await router.hello()
    with pytest.raises(TimeoutError):
        await router.next_snapshot(wait_s=0.3)
    await cp.publish(EXAMPLE_POLICY)
    snapshot = await router.next_snapshot()
    assert snapshot.rollout.active_version == 1
    router.close()


async def test_publish_and_activate_pushes_to_every_subscriber(
    cp: ControlPlaneUnderTest,
) -> None:
    """Two routers both get a newer snapshot, with fresh nonces, after activation."""
    await cp.publish(policy_named("one"))
    routers = [RouterClient(cp.stub, f"router-{i}") for i in range(2)]
    firsts = []
    for router in routers:
        await router.hello()
        firsts.append(await router.next_snapshot())
    await cp.publish(policy_named("two"), activate=True)
    for router, first in zip(routers, firsts, strict=True):
        snapshot = await router.next_snapshot()
        assert int(snapshot.version) > int(first.version)
        assert snapshot.nonce != first.nonce
        assert snapshot.rollout.active_version == 2
        assert [p.version for p in snapshot.policies] == [2]
        router.close()


async def test_publish_without_activate_pushes_nothing(cp: ControlPlaneUnderTest) -> None:
    """A stored but inactive version changes nothing routers run."""
    await cp.publish(policy_named("one"))
    router = RouterClient(cp.stub, "router-a")
    await router.hello()
    await router.next_snapshot()
    await cp.publish(policy_named("two"))
    with pytest.raises(TimeoutError):
        await router.next_snapshot(wait_s=0.3)
    router.close()


async def test_ack_is_recorded_with_the_version_the_router_runs(
    cp: ControlPlaneUnderTest,
) -> None:
    """An ACK updates the router's record: snapshot version and policy version."""
    await cp.publish(EXAMPLE_POLICY)
    router = RouterClient(cp.stub, "router-a")
    await router.hello()
    snapshot = await router.next_snapshot()
    await router.ack(snapshot)

    async def acked() -> bool:
        records = await cp.plane.ledger.routers()
        return bool(records) and records[0].acked_snapshot_version == snapshot.version

    await eventually(acked)
    (record,) = await cp.plane.ledger.routers()
    assert record.router_id == "router-a"
    assert record.acked_active_version == 1
    assert await cp.plane.ledger.replies("router-a") == [
        (snapshot.version, snapshot.nonce, "ACK", "")
    ]
    router.close()


async def test_nack_is_recorded_and_the_snapshot_is_not_resent(
    cp: ControlPlaneUnderTest,
) -> None:
    """After a NACK nothing is resent; the next snapshot goes out only after a change."""
    await cp.publish(policy_named("one"))
    router = RouterClient(cp.stub, "router-a")
    await router.hello()
    first = await router.next_snapshot()
    await router.ack(first)
    await cp.publish(policy_named("two"), activate=True)
    bad = await router.next_snapshot()
    await router.nack(bad, "rule code: model 'code' unknown here")

    async def nacked() -> bool:
        return any(r[2] == "NACK" for r in await cp.plane.ledger.replies("router-a"))

    await eventually(nacked)
    with pytest.raises(TimeoutError):
        await router.next_snapshot(wait_s=0.5)
    (record,) = await cp.plane.ledger.routers()
    # Still known to run the last snapshot it accepted.
    assert record.acked_snapshot_version == first.version
    assert record.acked_active_version == 1
    assert record.nacked_snapshot_version == bad.version
    assert "unknown here" in record.nack_error
    await cp.stub.RollbackPolicy(pb.RollbackPolicyRequest(version=1))
    newer = await router.next_snapshot()
    assert int(newer.version) > int(bad.version)
    assert newer.rollout.active_version == 1
    router.close()


async def test_reply_with_an_unknown_nonce_is_ignored(cp: ControlPlaneUnderTest) -> None:
    """A stale or forged nonce is not recorded as the router's state."""
    await cp.publish(EXAMPLE_POLICY)
    router = RouterClient(cp.stub, "router-a")
    await router.hello()
    snapshot = await router.next_snapshot()
    forged = pb.RouterConfigSnapshot(version=snapshot.version, nonce="not-a-nonce")
    await router.ack(forged)
    await router.ack(snapshot)  # replies are handled in order: once this is in, forged was seen

    async def recorded() -> bool:
        return bool(await cp.plane.ledger.replies("router-a"))

    await eventually(recorded)
    assert await cp.plane.ledger.replies("router-a") == [
        (snapshot.version, snapshot.nonce, "ACK", "")
    ]
    router.close()


async def test_reconnecting_router_gets_the_current_snapshot(cp: ControlPlaneUnderTest) -> None:
    """A router that comes back receives what is current now, not what it last had."""
    await cp.publish(policy_named("one"))
    router = RouterClient(cp.stub, "router-a")
    await router.hello()
    await router.next_snapshot()
    router.close()
    await cp.publish(policy_named("two"), activate=True)
    again = RouterClient(cp.stub, "router-a")
    await again.hello()
    snapshot = await again.next_snapshot()
    assert snapshot.rollout.active_version == 2
    again.close()


async def test_stream_without_router_id_is_invalid_argument(cp: ControlPlaneUnderTest) -> None:
    """The first message must name the router."""
    await cp.publish(EXAMPLE_POLICY)
    router = RouterClient(cp.stub, "")
    await router.hello()
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await router.next_snapshot()
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert [v.field for v in field_violations(caught.value)] == ["router_id"]


async def test_closed_streams_are_forgotten(cp: ControlPlaneUnderTest) -> None:
    """The distributor counts open streams; a cancelled stream is removed."""
    await cp.publish(EXAMPLE_POLICY)
    router = RouterClient(cp.stub, "router-a")
    await router.hello()
    await router.next_snapshot()
    assert cp.plane.distributor.connected() == {"router-a"}
    router.close()

    async def gone() -> bool:
        return not cp.plane.distributor.connected()

    await eventually(gone)
