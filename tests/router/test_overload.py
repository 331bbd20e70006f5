"""Admission at the front of Route()/Plan() (services/router/overload.py): the errors a
shed caller gets (codes, QuotaFailure, RetryInfo, ErrorInfo), token refunds, what
feeds the limit (successes, drops, not cancellations or Plan), the metrics; then
through a real router gRPC server and the simulator over HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status
from prometheus_client import REGISTRY

from services.router.app import build_router
from services.router.concurrency import ConcurrencyLimiter, GradientLimit, LimitSettings
from services.router.overload import Overloaded, OverloadGuard, RateLimited
from services.router.state import RouterState
from services.router.tenants import TenantGrant, TenantTokens
from services.router.testing import POLICY, ask, feed
from services.simulator.testing import running_simulator
from switchyard.policy.rate_limits import RateLimit, RateLimits
from switchyard.router.v1 import router_pb2, router_pb2_grpc
from switchyard.runtime.config import ServerConfig
from switchyard.runtime.errors import DeadlineExceeded
from switchyard.runtime.server import start_server

NONE = RateLimits()
ACME = RateLimits(named={"acme": RateLimit(requests_per_s=2.0, burst=1.0)})


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def guard(limit: int = 4, *, window_samples: int = 1) -> tuple[OverloadGuard, Clock]:
    clock = Clock()
    settings = LimitSettings(
        initial_limit=limit,
        min_limit=1,
        max_limit=limit,
        window_s=0.001,
        window_samples=window_samples,
    )
    limiter = ConcurrencyLimiter(GradientLimit(settings))
    return OverloadGuard(limiter=limiter, clock=clock, wall_clock=lambda: 1_000_000.0), clock


def shed(tier: str, reason: str) -> float:
    return (
        REGISTRY.get_sample_value("switchyard_router_shed_total", {"tier": tier, "reason": reason})
        or 0.0
    )


def details(status_details: bytes) -> dict[str, object]:
    """google.rpc details by type name, from a grpc-status-details-bin value."""
    proto = status_pb2.Status.FromString(status_details)
    found: dict[str, object] = {"code": proto.code, "message": proto.message}
    for packed in proto.details:
        for kind in (
            error_details_pb2.QuotaFailure,
            error_details_pb2.RetryInfo,
            error_details_pb2.ErrorInfo,
        ):
            if packed.Is(kind.DESCRIPTOR):
                message = kind()
                packed.Unpack(message)
                found[kind.__name__] = message
    return found


def error_details(error: Exception) -> dict[str, object]:
    status = error.to_status()  # type: ignore[attr-defined]
    return details(dict(status.trailing_metadata)["grpc-status-details-bin"])


def rpc_details(error: grpc.aio.AioRpcError) -> dict[str, object]:
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    assert status is not None
    return details(status.SerializeToString())


def test_a_tenant_over_its_rate_is_rate_limited_with_when_to_retry() -> None:
    """The second request within 0.5 s (2/s, burst 1) is RATE_LIMITED: QuotaFailure
    names the tenant and its limit, RetryInfo the wait for the next token."""
    g, clock = guard()
    before = shed("free", "rate_limit")
    with g.admit(tenant="acme", tier="free", limits=ACME):
        pass
    clock.now += 0.1
    with pytest.raises(RateLimited) as info:
        with g.admit(tenant="acme", tier="free", limits=ACME):
            pytest.fail("admitted over the rate")
    found = error_details(info.value)
    assert found["code"] == grpc.StatusCode.RESOURCE_EXHAUSTED.value[0]
    quota = found["QuotaFailure"]
    assert quota.violations[0].subject == "tenant:acme"  # type: ignore[attr-defined]
    assert "2 requests/s (burst 1)" in quota.violations[0].description  # type: ignore[attr-defined]
    delay = found["RetryInfo"].retry_delay  # type: ignore[attr-defined]
    assert delay.seconds + delay.nanos / 1e9 == pytest.approx(0.4, abs=1e-6)
    info_ = found["ErrorInfo"]
    assert info_.reason == "RATE_LIMITED"  # type: ignore[attr-defined]
    assert info_.metadata["tenant"] == "acme"  # type: ignore[attr-defined]
    assert shed("free", "rate_limit") == before + 1
    # Another tenant is not limited at all.
    with g.admit(tenant="other", tier="free", limits=ACME):
        pass


def test_free_is_shed_at_half_the_limit_with_retry_info() -> None:
    """Limit 4: free gets 2 slots, enterprise the 4; the shed call is OVERLOADED with
    RetryInfo and ErrorInfo naming the tier, its share and the limit."""
    g, _ = guard(limit=4)
    before = shed("free", "concurrency")
    with g.admit(tenant="t", tier="free", limits=NONE):
        with g.admit(tenant="t", tier="free", limits=NONE):
            with pytest.raises(Overloaded) as info:
                with g.admit(tenant="t", tier="free", limits=NONE):
                    pytest.fail("free admitted past its share")
            with g.admit(tenant="t", tier="enterprise", limits=NONE):
                with g.admit(tenant="t", tier="enterprise", limits=NONE):
                    with pytest.raises(Overloaded):
                        with g.admit(tenant="t", tier="enterprise", limits=NONE):
                            pass
    assert g.limiter is not None and g.limiter.in_flight == 0
    found = error_details(info.value)
    assert found["code"] == grpc.StatusCode.RESOURCE_EXHAUSTED.value[0]
    assert "QuotaFailure" not in found
    delay = found["RetryInfo"].retry_delay  # type: ignore[attr-defined]
    assert delay.seconds == 1 and delay.nanos == 0  # nothing learnt yet: 1 s
    meta = found["ErrorInfo"].metadata  # type: ignore[attr-defined]
    assert found["ErrorInfo"].reason == "OVERLOADED"  # type: ignore[attr-defined]
    assert dict(meta) == {
        "tier": "free",
        "tier_share": "0.5",
        "concurrency_limit": "4",
        "in_flight": "2",
    }
    assert shed("free", "concurrency") == before + 1


def test_retry_delay_follows_the_learnt_latency() -> None:
    """Once latencies are known, a shed caller is told to come back after about one
    (bounded to 0.1..10 s)."""
    g, clock = guard(limit=2)
    for _ in range(3):
        with g.admit(tenant="t", tier="enterprise", limits=NONE):
            clock.now += 2.5
    with g.admit(tenant="t", tier="free", limits=NONE):
        with pytest.raises(Overloaded) as info:
            with g.admit(tenant="t", tier="free", limits=NONE):
                pass
    assert info.value.retry_after_s == pytest.approx(2.5)


@pytest.mark.parametrize(("latency_s", "retry_s"), [(0.01, 0.1), (50.0, 10.0)])
def test_retry_delay_is_bounded(latency_s: float, retry_s: float) -> None:
    """Very fast calls still mean 0.1 s; very slow ones at most 10 s."""
    g, clock = guard(limit=2)
    with g.admit(tenant="t", tier="enterprise", limits=NONE):
        clock.now += latency_s
    with g.admit(tenant="t", tier="free", limits=NONE):
        with pytest.raises(Overloaded) as info:
            with g.admit(tenant="t", tier="free", limits=NONE):
                pass
    assert info.value.retry_after_s == pytest.approx(retry_s)


def test_a_shed_request_keeps_its_rate_token() -> None:
    """Shed for concurrency after its token was taken, the tenant is refunded: its next
    request (burst 1) is not rate limited."""
    g, _ = guard(limit=2)
    with g.admit(tenant="x", tier="free", limits=NONE):
        with pytest.raises(Overloaded):
            with g.admit(tenant="acme", tier="free", limits=ACME):
                pass
    with g.admit(tenant="acme", tier="free", limits=ACME):
        pass


def test_latency_of_admitted_calls_feeds_the_limit() -> None:
    """A finished call is one sample of its latency, measured on the guard's clock."""
    g, clock = guard()
    with g.admit(tenant="t", tier="enterprise", limits=NONE):
        clock.now += 0.75
    assert g.limiter is not None
    assert g.limiter.limit.long_rtt_s == pytest.approx(0.75)


def test_deadline_exceeded_is_a_drop() -> None:
    """A call that ran out of its deadline backs the limit off (x 0.9)."""
    g, _ = guard(limit=4)
    assert g.limiter is not None
    with pytest.raises(DeadlineExceeded):
        with g.admit(tenant="t", tier="enterprise", limits=NONE):
            raise DeadlineExceeded("out of time")
    assert g.limiter.limit.estimate == pytest.approx(3.6)
    assert g.limiter.in_flight == 0


def test_cancelled_calls_and_plans_are_not_samples() -> None:
    """A cancelled call and a Plan (sample=False) free their slot and teach nothing."""
    g, clock = guard()
    assert g.limiter is not None
    with pytest.raises(asyncio.CancelledError):
        with g.admit(tenant="t", tier="enterprise", limits=NONE):
            clock.now += 5
            raise asyncio.CancelledError
    with pytest.raises(DeadlineExceeded):
        with g.admit(tenant="t", tier="enterprise", limits=NONE, sample=False):
            raise DeadlineExceeded("plan out of time")
    with g.admit(tenant="t", tier="enterprise", limits=NONE, sample=False):
        clock.now += 5
    assert g.limiter.limit.long_rtt_s is None and g.limiter.limit.estimate == 4.0
    assert g.limiter.in_flight == 0


def test_gauges_show_the_limit_and_in_flight() -> None:
    """switchyard_router_concurrency_limit and _in_flight read the limiter live."""
    g, _ = guard(limit=4)
    assert REGISTRY.get_sample_value("switchyard_router_concurrency_limit") == 4.0
    with g.admit(tenant="t", tier="enterprise", limits=NONE):
        assert REGISTRY.get_sample_value("switchyard_router_in_flight") == 1.0
    assert REGISTRY.get_sample_value("switchyard_router_in_flight") == 0.0


def test_unknown_tiers_are_labelled_other() -> None:
    """A tier outside the configured shares is counted as `other`, so callers cannot
    grow the metric's label set; it is shed at the lowest share."""
    g, _ = guard(limit=2)
    before = shed("other", "concurrency")
    with g.admit(tenant="t", tier="x" * 500, limits=NONE):
        with pytest.raises(Overloaded) as info:
            with g.admit(tenant="t", tier="x" * 500, limits=NONE):
                pass
    assert shed("other", "concurrency") == before + 1
    assert len(info.value.message) < 400  # the tier is echoed cut short


def test_without_a_limiter_only_rate_limits_apply() -> None:
    """The default guard (concurrency limit off) admits any number of calls."""
    g = OverloadGuard()
    with g.admit(tenant="t", tier="free", limits=NONE):
        with g.admit(tenant="t", tier="free", limits=NONE):
            pass
    with g.admit(tenant="acme", tier="free", limits=ACME):
        pass
    with pytest.raises(RateLimited):
        with g.admit(tenant="acme", tier="free", limits=ACME):
            pass


# Through a real router server and the simulator over HTTP.

SLOW = {"ttft_ms": 400, "tokens_per_second": 0, "quality": 1.0, "answer_tokens": 40}
RATE_POLICY = POLICY + "rate_limits: {acme: {requests_per_s: 0.2, burst: 1}}\n"


@dataclass
class SlowRouter:
    stub: router_pb2_grpc.RouterServiceStub
    limiter: ConcurrencyLimiter


@asynccontextmanager
async def slow_router(tmp_path: Path, tenants: TenantTokens | None = None):
    """Limit 2 (free: 1 slot), the models 400 ms slow, acme at 0.2 request/s."""
    limiter = ConcurrencyLimiter(
        GradientLimit(LimitSettings(2, 1, 2, window_s=0.001, window_samples=1))
    )
    async with running_simulator({"small": SLOW, "large": SLOW}) as sim:
        state = RouterState(str(tmp_path))
        feed(state, sim.base_url, RATE_POLICY)
        app = build_router(
            state=state,
            environ={},
            review_dir=str(tmp_path),
            tenants=tenants,
            overload=OverloadGuard(limiter=limiter),
        )
        server = await start_server(
            name="router", config=ServerConfig(port=0), register=app.register
        )
        try:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
                yield SlowRouter(router_pb2_grpc.RouterServiceStub(channel), limiter)
        finally:
            await server.stop(0.5)
            await app.close()


@pytest.fixture
async def slow(tmp_path: Path) -> AsyncIterator[SlowRouter]:
    async with slow_router(tmp_path) as running:
        yield running


async def wait_in_flight(limiter: ConcurrencyLimiter, count: int) -> None:
    for _ in range(500):
        if limiter.in_flight == count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{limiter.in_flight} in flight, expected {count}")


async def test_the_tokens_tier_decides_who_is_shed(tmp_path: Path) -> None:
    """With tenant tokens, a call naming no tier is shed as its token's default tier:
    a free token's second call is OVERLOADED (tier free), an enterprise token's is not."""
    tokens = TenantTokens.from_tokens(
        {
            "free-token": TenantGrant("f", frozenset({"free"}), "free"),
            "big-token": TenantGrant("e", frozenset({"free", "enterprise"}), "enterprise"),
        }
    )
    async with slow_router(tmp_path, tokens) as running:
        free_auth = (("authorization", "Bearer free-token"),)
        big_auth = (("authorization", "Bearer big-token"),)
        first = asyncio.ensure_future(running.stub.Route(ask(), metadata=free_auth, timeout=10))
        await wait_in_flight(running.limiter, 1)
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await running.stub.Route(ask(), metadata=free_auth, timeout=10)
        found = rpc_details(info.value)
        assert found["ErrorInfo"].metadata["tier"] == "free"  # type: ignore[attr-defined]
        assert (await running.stub.Route(ask(), metadata=big_auth, timeout=10)).answer
        assert (await first).answer


async def test_route_sheds_free_with_retry_info_and_admits_enterprise(slow: SlowRouter) -> None:
    """One free call in flight fills the free tier's share (1 of limit 2): a second free
    call is RESOURCE_EXHAUSTED (OVERLOADED, with RetryInfo) before any model call, an
    enterprise call beside it is answered."""
    first = asyncio.ensure_future(slow.stub.Route(ask(tier="free", tenant="a"), timeout=10))
    await wait_in_flight(slow.limiter, 1)
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await slow.stub.Route(ask(tier="free", tenant="b"), timeout=10)
    enterprise = await slow.stub.Route(ask(tier="enterprise", tenant="c"), timeout=10)
    assert enterprise.answer and (await first).answer
    assert info.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
    found = rpc_details(info.value)
    assert found["ErrorInfo"].reason == "OVERLOADED"  # type: ignore[attr-defined]
    assert "RetryInfo" in found


async def test_route_and_plan_are_rate_limited_per_tenant(slow: SlowRouter) -> None:
    """acme's second call (Plan after Route) is RATE_LIMITED with QuotaFailure; another
    tenant's Plan still runs."""
    await slow.stub.Route(ask(tenant="acme", tier="enterprise"), timeout=10)
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await slow.stub.Plan(
            router_pb2.PlanRequest(request=ask(tenant="acme", tier="enterprise")), timeout=10
        )
    assert info.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
    found = rpc_details(info.value)
    assert found["ErrorInfo"].reason == "RATE_LIMITED"  # type: ignore[attr-defined]
    assert found["QuotaFailure"].violations[0].subject == "tenant:acme"  # type: ignore[attr-defined]
    plan = await slow.stub.Plan(
        router_pb2.PlanRequest(request=ask(tenant="other", tier="enterprise")), timeout=10
    )
    assert plan.rule == "cascade"


async def test_route_latency_feeds_the_limit_and_plan_does_not(slow: SlowRouter) -> None:
    """A Route() is a latency sample of at least the model's 400 ms; a Plan() holds a
    slot while it runs but is no sample (its few ms would drag the average down)."""
    await slow.stub.Plan(router_pb2.PlanRequest(request=ask(tier="enterprise")), timeout=10)
    assert slow.limiter.limit.long_rtt_s is None and slow.limiter.in_flight == 0
    await slow.stub.Route(ask(tier="enterprise"), timeout=10)
    assert slow.limiter.limit.long_rtt_s is not None and slow.limiter.limit.long_rtt_s >= 0.4
    assert slow.limiter.in_flight == 0
