"""The router over real gRPC, reaching the simulator over real HTTP, under injected faults."""

from __future__ import annotations

import time

import grpc
import pytest

from services.router.testing import POLICY, ask
from services.simulator.faults import FaultSettings
from switchyard.router.v1 import router_pb2

from .conftest import RouterHarness, running_router

OK = router_pb2.ATTEMPT_OUTCOME_OK
ACCEPT = router_pb2.ATTEMPT_VERDICT_ACCEPT
REJECT = router_pb2.ATTEMPT_VERDICT_REJECT


def outcomes(reply: router_pb2.RouteResponse) -> list[tuple[str, int, int]]:
    return [(a.model_id, a.retry, a.outcome) for a in reply.attempts]


async def test_healthy_small_model_answers_alone(router: RouterHarness) -> None:
    """With both models healthy the cascade stops at the small model, verified and priced."""
    reply = await router.stub.Route(ask(), timeout=5)
    assert reply.model_id == "small" and reply.escalations == 0
    assert reply.attempts[0].verdict == ACCEPT
    assert reply.total_cost_micros > 0 and reply.policy_version == 1
    assert router.sim.model("large").counters["requests"] == 0


async def test_server_errors_are_retried_then_escalated(router: RouterHarness) -> None:
    """A small model answering 503 is retried once, then the large model answers."""
    router.sim.model("small").faults = FaultSettings(error_rate=1.0, error_status=503)
    reply = await router.stub.Route(ask(), timeout=5)
    assert outcomes(reply) == [
        ("small", 0, router_pb2.ATTEMPT_OUTCOME_SERVER_ERROR),
        ("small", 1, router_pb2.ATTEMPT_OUTCOME_SERVER_ERROR),
        ("large", 0, OK),
    ]
    assert reply.model_id == "large" and reply.escalations == 1


async def test_rate_limit_retry_honours_retry_after(router: RouterHarness) -> None:
    """A 429 with Retry-After 0.3 s is retried no sooner than 0.3 s later."""
    router.sim.model("small").faults = FaultSettings(
        error_rate=1.0, error_status=429, retry_after_s=0.3
    )
    started = time.perf_counter()
    reply = await router.stub.Route(ask(), timeout=5)
    assert time.perf_counter() - started >= 0.3
    assert [a.outcome for a in reply.attempts[:2]] == [router_pb2.ATTEMPT_OUTCOME_RATE_LIMITED] * 2


async def test_refusals_are_rejected_and_escalated(router: RouterHarness) -> None:
    """A refusal is long enough for the length check; the refusal check rejects it, and that
    rejection escalates to the large model."""
    router.sim.model("small").faults = FaultSettings(refusal_rate=1.0)
    reply = await router.stub.Route(ask(), timeout=5)
    assert reply.attempts[0].verdict == REJECT
    assert reply.attempts[0].detail.startswith("refusal: ")
    assert reply.model_id == "large" and reply.attempts[-1].verdict == ACCEPT


async def test_empty_answers_are_rejected_and_escalated(router: RouterHarness) -> None:
    """An empty answer is rejected by the non_empty check (the first to run) and escalates."""
    router.sim.model("small").faults = FaultSettings(empty_rate=1.0)
    reply = await router.stub.Route(ask(), timeout=5)
    assert reply.attempts[0].verdict == REJECT
    assert reply.attempts[0].detail.startswith("non_empty: ")
    assert reply.model_id == "large"


async def test_malformed_bodies_are_typed_and_escalated(router: RouterHarness) -> None:
    """A 200 whose body is not a completion is MALFORMED, not a crash."""
    router.sim.model("small").faults = FaultSettings(malformed_rate=1.0)
    reply = await router.stub.Route(ask(), timeout=5)
    assert reply.attempts[0].outcome == router_pb2.ATTEMPT_OUTCOME_MALFORMED
    assert reply.model_id == "large"


async def test_breaker_opens_and_the_failing_model_is_skipped(router: RouterHarness) -> None:
    """After the window's minimum of failures the small model's breaker opens: later requests
    go straight to the large model and the small model receives no more calls."""
    router.sim.model("small").faults = FaultSettings(error_rate=1.0)
    for _ in range(8):
        reply = await router.stub.Route(ask(), timeout=5)
        assert reply.model_id == "large"
    assert router.sim.model("small").counters["requests"] == 4
    plan = await router.stub.Plan(router_pb2.PlanRequest(request=ask()), timeout=5)
    small = plan.candidates[0]
    assert not small.kept and "breaker" in small.reason


async def test_everything_failing_is_unavailable_with_retry_info(router: RouterHarness) -> None:
    """No static answer in the policy: an exhausted chain is UNAVAILABLE, never a hang."""
    for name in ("small", "large"):
        router.sim.model(name).faults = FaultSettings(error_rate=1.0, error_status=500)
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await router.stub.Route(ask(), timeout=5)
    assert info.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_client_deadline_bounds_the_route(router: RouterHarness) -> None:
    """A model slower than the client's deadline cannot hold the call past it."""
    router.sim.model("small").faults = FaultSettings(added_latency_ms=3000)
    started = time.perf_counter()
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await router.stub.Route(ask(), timeout=0.5)
    assert info.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert time.perf_counter() - started < 1.5


async def test_verifier_outage_falls_back_to_embedded_checks(simulator, tmp_path) -> None:
    """With the verifier service unreachable the router still verifies, in process."""
    async with running_router(simulator, tmp_path, verifier_address="127.0.0.1:1") as router:
        simulator.model("small").faults = FaultSettings(refusal_rate=1.0)
        reply = await router.stub.Route(ask(), timeout=5)
        assert reply.attempts[0].verdict == REJECT
        assert reply.attempts[0].detail.startswith("refusal: ")
        assert reply.model_id == "large"


async def test_human_review_ticket_is_filed_when_all_fail(simulator, tmp_path) -> None:
    """With degrade.human_review the exhausted request becomes a durable ticket."""
    policy = POLICY + "degrade: {human_review: true, static_answer: 'A person will answer.'}\n"
    async with running_router(simulator, tmp_path, policy=policy) as router:
        for name in ("small", "large"):
            simulator.model(name).faults = FaultSettings(error_rate=1.0, error_status=500)
        reply = await router.stub.Route(ask("Please review my contract clause."), timeout=5)
        assert reply.degraded and reply.review_ticket_id.startswith("rev-")
        assert reply.answer == "A person will answer."
        tickets = (tmp_path / "review-tickets.jsonl").read_text()
        assert reply.review_ticket_id in tickets and "contract clause" in tickets


async def test_plan_reports_the_slo_in_force(router: RouterHarness) -> None:
    """Plan() shows the policy's latency target, or the request's own, and whether the
    chain's expected latency meets it."""
    plan = await router.stub.Plan(router_pb2.PlanRequest(request=ask()), timeout=5)
    assert plan.latency_slo_ms == 5000 and plan.meets_slo
    tight = await router.stub.Plan(router_pb2.PlanRequest(request=ask(latency_slo_ms=1)), timeout=5)
    assert tight.latency_slo_ms == 1 and not tight.meets_slo


async def test_oversized_request_is_resource_exhausted_naming_the_limit(router) -> None:
    """A request over the 4 MiB message limit is refused with RESOURCE_EXHAUSTED, and the
    message gives the limit in bytes."""
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await router.stub.Route(ask("x" * (5 * 1024 * 1024)), timeout=10)
    assert caught.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert str(4 * 1024 * 1024) in (caught.value.details() or "")


async def test_plan_shows_the_score_each_stage_needs(simulator, tmp_path) -> None:
    """Plan() gives every kept stage the score its answer needs: the rule's min_score,
    raised by escalate_gain to the next stage's P(acceptable) (0.8, the default without
    registry quality) minus 0.1; the last stage's checks alone decide."""
    policy = POLICY.replace(
        "  name: cascade\n", "  name: cascade\n  min_score: 0.3\n  escalate_gain: 0.1\n"
    )
    async with running_router(simulator, tmp_path, policy=policy) as router:
        plan = await router.stub.Plan(router_pb2.PlanRequest(request=ask()), timeout=5)
    bars = [(c.model_id, c.min_score) for c in plan.candidates]
    assert bars == [("small", pytest.approx(0.7)), ("large", 0.0)]
