"""Guarded canaries, promotion in steps and rollout status, through the real service."""

from __future__ import annotations

import grpc
import pytest

from controlplane.guard import (
    LATENCY_BUCKETS_MS,
    CanaryGuard,
    VersionCounts,
    latency_bucket,
    p95_ms,
)
from switchyard.controlplane.v1 import controlplane_pb2 as pb
from tests.controlplane.cp_harness import (
    ControlPlaneUnderTest,
    RouterClient,
    eventually,
    policy_named,
)


async def _two_versions(cp: ControlPlaneUnderTest) -> None:
    await cp.publish(policy_named("v1"), activate=True)
    await cp.publish(policy_named("v2"))


async def _router(cp: ControlPlaneUnderTest, router_id: str) -> RouterClient:
    """A router that has opened its stream (reports from others are ignored)."""
    router = RouterClient(cp.stub, router_id)
    await router.hello()
    await router.next_snapshot()
    await eventually(lambda: cp.plane.ledger.known(router_id))
    return router


def _stats(version: int, requests: int, errors: int, latency_ms: float = 40) -> pb.VersionStats:
    buckets = [0] * (len(LATENCY_BUCKETS_MS) + 1)
    buckets[latency_bucket(latency_ms)] = requests
    return pb.VersionStats(
        policy_version=version,
        requests=requests,
        errors=errors,
        escalations=requests // 10,
        verified=requests,
        accepted=requests - errors,
        cost_micros=requests * 50,
        latency_buckets=buckets,
    )


def _report(router_id: str, *stats: pb.VersionStats, boot: str = "boot-1"):
    return pb.ReportRolloutStatsRequest(router_id=router_id, boot_id=boot, versions=list(stats))


GUARD = pb.CanaryGuard(min_requests=50, max_error_rate=0.05)


async def test_canary_breaking_its_error_rate_is_rolled_back_with_the_reason(
    cp: ControlPlaneUnderTest,
) -> None:
    """Over the minimum sample, an error rate above the threshold clears the canary,
    and the rollout history and status say which threshold and which figures."""
    await _two_versions(cp)
    await cp.stub.SetRollout(pb.SetRolloutRequest(canary_version=2, canary_percent=20, guard=GUARD))
    router = await _router(cp, "r1")
    try:
        # Below the minimum sample nothing is judged, however bad.
        small = await cp.stub.ReportRolloutStats(
            _report("r1", _stats(1, 100, 0), _stats(2, 20, 10))
        )
        assert not small.canary_rolled_back
        status = await cp.stub.GetRolloutStatus(pb.GetRolloutStatusRequest())
        assert status.guard_verdict == "waiting for 30 more requests"
        assert status.rollout.guard.max_error_rate == pytest.approx(0.05)
        big = await cp.stub.ReportRolloutStats(_report("r1", _stats(1, 400, 0), _stats(2, 60, 12)))
        assert big.canary_rolled_back
        status = await cp.stub.GetRolloutStatus(pb.GetRolloutStatusRequest())
        assert status.rollout.canary_version == 0 and status.rollout.active_version == 1
        event = status.events[0]
        assert event.action == "canary_rolled_back" and event.author == "guard"
        assert "max_error_rate" in event.detail and "12/60" in event.detail
        # Routers are told: the next snapshot carries no canary.
        snapshot = await router.next_snapshot()
        assert snapshot.rollout.canary_version == 0
    finally:
        router.close()


async def test_healthy_canary_stays_and_status_shows_per_version_figures(
    cp: ControlPlaneUnderTest,
) -> None:
    """Figures merge over routers: share, error rate, p95, cost per 1k, escalation, acceptance."""
    await _two_versions(cp)
    await cp.stub.SetRollout(pb.SetRolloutRequest(canary_version=2, canary_percent=20, guard=GUARD))
    routers = [await _router(cp, "r1"), await _router(cp, "r2")]
    try:
        for rid in ("r1", "r2"):
            reply = await cp.stub.ReportRolloutStats(
                _report(rid, _stats(1, 300, 3, latency_ms=120), _stats(2, 100, 1, latency_ms=40))
            )
            assert not reply.canary_rolled_back
        # A repeated cumulative report replaces, never adds.
        await cp.stub.ReportRolloutStats(
            _report("r2", _stats(1, 300, 3, latency_ms=120), _stats(2, 100, 1, latency_ms=40))
        )
        status = await cp.stub.GetRolloutStatus(pb.GetRolloutStatusRequest())
        figures = {v.role: v for v in status.versions}
        active, canary = figures["active"], figures["canary"]
        assert (active.requests, canary.requests) == (600, 200)
        assert canary.traffic_share == pytest.approx(0.25)
        assert canary.error_rate == pytest.approx(0.01)
        assert active.p95_latency_ms == 150 and canary.p95_latency_ms == 50
        assert canary.cost_micros_per_1k == 50_000
        assert canary.escalation_rate == pytest.approx(0.1)
        assert canary.verifier_acceptance == pytest.approx(0.99)
        assert canary.routers_reporting == 2
        assert status.guard_verdict == "healthy"
        assert status.rollout.canary_version == 2
    finally:
        for router in routers:
            router.close()


async def test_report_from_unknown_router_is_ignored(cp: ControlPlaneUnderTest) -> None:
    """A router that never opened a config stream cannot move the guard."""
    await _two_versions(cp)
    await cp.stub.SetRollout(pb.SetRolloutRequest(canary_version=2, canary_percent=20, guard=GUARD))
    reply = await cp.stub.ReportRolloutStats(_report("stranger", _stats(2, 500, 500)))
    assert not reply.canary_rolled_back
    status = await cp.stub.GetRolloutStatus(pb.GetRolloutStatusRequest())
    assert status.rollout.canary_version == 2
    assert {v.role: v.requests for v in status.versions}["canary"] == 0


@pytest.mark.parametrize(
    ("guard", "field"),
    [
        (pb.CanaryGuard(min_requests=0, max_error_rate=0.1), "guard.min_requests"),
        (pb.CanaryGuard(min_requests=10, max_error_rate=1.5), "guard.max_error_rate"),
        (pb.CanaryGuard(min_requests=10, max_p95_latency_ms=-1), "guard.max_p95_latency_ms"),
        (
            pb.CanaryGuard(min_requests=10, min_verifier_acceptance=float("nan")),
            "guard.min_verifier_acceptance",
        ),
        (
            pb.CanaryGuard(min_requests=10, max_cost_micros_per_1k=-5),
            "guard.max_cost_micros_per_1k",
        ),
        (pb.CanaryGuard(min_requests=10), "guard.max_error_rate"),
    ],
)
async def test_guard_thresholds_out_of_range_are_refused(
    cp: ControlPlaneUnderTest, guard: pb.CanaryGuard, field: str
) -> None:
    """Each bad threshold is INVALID_ARGUMENT naming its field; the canary is not set."""
    await _two_versions(cp)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await cp.stub.SetRollout(
            pb.SetRolloutRequest(canary_version=2, canary_percent=5, guard=guard)
        )
    assert err.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert field in (err.value.details() or "")
    status = await cp.stub.GetRolloutStatus(pb.GetRolloutStatusRequest())
    assert status.rollout.canary_version == 0


async def test_promote_moves_a_healthy_canary_to_100_in_steps(cp: ControlPlaneUnderTest) -> None:
    """Each step waits for the interval and a healthy verdict; the last one activates."""
    await _two_versions(cp)
    await cp.stub.SetRollout(pb.SetRolloutRequest(canary_version=2, canary_percent=10, guard=GUARD))
    router = await _router(cp, "r1")
    try:
        started = await cp.stub.PromoteCanary(
            pb.PromoteCanaryRequest(steps=[50, 100], step_interval_s=0.2)
        )
        assert list(started.promotion.steps) == [50, 100]
        await cp.plane.rollout.advance()
        status = await cp.stub.GetRolloutStatus(pb.GetRolloutStatusRequest())
        assert status.rollout.canary_percent == 10  # not healthy yet: no sample
        assert "guard" in status.promotion.waiting_for
        await cp.stub.ReportRolloutStats(_report("r1", _stats(1, 500, 0), _stats(2, 100, 0)))

        async def reached(percent: float) -> bool:
            s = await cp.stub.GetRolloutStatus(pb.GetRolloutStatusRequest())
            return s.rollout.canary_percent == percent or (
                percent == 100 and s.rollout.active_version == 2
            )

        await eventually(lambda: reached(50))
        await eventually(lambda: reached(100))
        status = await cp.stub.GetRolloutStatus(pb.GetRolloutStatusRequest())
        assert status.rollout.active_version == 2 and status.rollout.canary_version == 0
        assert not status.HasField("promotion")
        assert [e.action for e in status.events[:2]] == ["promote", "promote_step"]
    finally:
        router.close()


async def test_promote_refuses_bad_steps_and_no_canary(cp: ControlPlaneUnderTest) -> None:
    """Steps must rise to 100; without a canary there is nothing to promote."""
    await _two_versions(cp)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await cp.stub.PromoteCanary(pb.PromoteCanaryRequest())
    assert err.value.code() is grpc.StatusCode.FAILED_PRECONDITION
    await cp.stub.SetRollout(pb.SetRolloutRequest(canary_version=2, canary_percent=30))
    for steps in ([20, 100], [50, 40, 100], [50, 90]):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await cp.stub.PromoteCanary(pb.PromoteCanaryRequest(steps=steps))
        assert err.value.code() is grpc.StatusCode.INVALID_ARGUMENT


def test_p95_and_guard_arithmetic() -> None:
    """p95 is the upper bound of the bucket holding the 95th percentile."""
    buckets = [0] * (len(LATENCY_BUCKETS_MS) + 1)
    buckets[latency_bucket(40)] = 94
    buckets[latency_bucket(900)] = 6
    assert p95_ms(tuple(buckets)) == 1000
    assert p95_ms(()) == 0
    guard = CanaryGuard(min_requests=10, max_p95_latency_ms=500)
    assert guard.broken(VersionCounts(requests=100, latency_buckets=tuple(buckets))).startswith(
        "max_p95_latency_ms"
    )
    assert not guard.verdict(VersionCounts(requests=5)).judged
