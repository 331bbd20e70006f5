"""Tenant budgets, idempotency keys and the response cache through a real router gRPC
server and the real simulator over HTTP (calls counted at the simulator)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from services.router.testing import ask
from services.simulator.faults import FaultSettings
from services.simulator.testing import RunningSimulator
from switchyard.router.v1 import router_pb2
from switchyard.runtime.errors import field_violations

from .conftest import RouterHarness, running_router

POLICY = """
name: spend
max_deadline_ms: 5000
budget_micros: 100000
retry: {max_retries: 0}
checks: [{name: non_empty}, {name: length, params: {min_chars: 20}}]
tenants:
  poor: {limit_micros: 150, window_s: 3600}
  thrifty: {limit_micros: 400, window_s: 3600, steer_above: 0.5}
  default: {limit_micros: 100000000, window_s: 3600}
degrade: {stale_cache: true}
rules:
  - name: cached
    when: {metadata: {cache: "yes"}}
    strategy: {kind: single, model: small}
    cache: {ttl_s: 0.5, max_entries: 2}
default:
  name: cascade
  strategy: {kind: cascade, stages: [{model: small}, {model: large}]}
"""
CACHED = {"cache": "yes"}
# 440 characters: ~110 tokens at four characters per token, ~447 as the router counts.
JAPANESE = "日本語で短く答えてください。" * 31 + "お願いします"


@pytest.fixture
async def router(simulator: RunningSimulator, tmp_path: Path) -> AsyncIterator[RouterHarness]:
    async with running_router(simulator, tmp_path, policy=POLICY) as harness:
        yield harness


def calls(router: RouterHarness) -> int:
    return sum(router.sim.model(m).counters["requests"] for m in ("small", "large"))


def details(error: grpc.aio.AioRpcError) -> list:
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    assert status is not None
    return list(status.details)


async def test_concurrent_duplicate_keys_call_the_model_once(router: RouterHarness) -> None:
    """Ten requests with one key at once: the simulator sees one call, every caller gets
    the same answer and cost, and all but the first are flagged as replays."""
    router.sim.model("small").faults = FaultSettings(added_latency_ms=300)
    request = ask(tenant="acme", idempotency_key="order-42")
    replies = await asyncio.gather(*(router.stub.Route(request, timeout=5) for _ in range(10)))
    assert calls(router) == 1
    assert len({(r.answer, r.model_id, r.total_cost_micros) for r in replies}) == 1
    assert sorted(r.idempotent_replay for r in replies) == [False] + [True] * 9
    later = await router.stub.Route(request, timeout=5)
    assert later.idempotent_replay and later.answer == replies[0].answer
    assert calls(router) == 1


async def test_keys_are_per_tenant_and_bodies_must_match(router: RouterHarness) -> None:
    """Another tenant's identical key is its own request; another body under a used key
    is FAILED_PRECONDITION and calls nothing."""
    await router.stub.Route(ask(tenant="acme", idempotency_key="k1"), timeout=5)
    await router.stub.Route(ask(tenant="globex", idempotency_key="k1"), timeout=5)
    assert calls(router) == 2
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await router.stub.Route(
            ask("A different question entirely.", tenant="acme", idempotency_key="k1"),
            timeout=5,
        )
    assert info.value.code() is grpc.StatusCode.FAILED_PRECONDITION
    assert "different request body" in (info.value.details() or "")
    assert calls(router) == 2


async def test_an_idempotency_key_over_256_bytes_is_invalid(router: RouterHarness) -> None:
    """257 bytes: INVALID_ARGUMENT with a field violation on idempotency_key."""
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await router.stub.Route(ask(idempotency_key="k" * 257), timeout=5)
    assert info.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert [v.field for v in field_violations(info.value)] == ["idempotency_key"]


async def test_a_cached_rule_answers_repeats_from_the_cache_until_the_ttl(
    router: RouterHarness,
) -> None:
    """The second identical request is a cache hit (no call, no cost, no attempts);
    after the rule's TTL the next one calls the model again."""
    first = await router.stub.Route(ask(metadata=CACHED), timeout=5)
    hit = await router.stub.Route(ask(metadata=CACHED), timeout=5)
    assert not first.cache_hit and hit.cache_hit
    assert (hit.answer, hit.model_id, hit.rule) == (first.answer, first.model_id, "cached")
    assert hit.total_cost_micros == 0 and not hit.attempts
    assert calls(router) == 1
    await asyncio.sleep(0.55)
    again = await router.stub.Route(ask(metadata=CACHED), timeout=5)
    assert not again.cache_hit and calls(router) == 2


async def test_rules_without_cache_never_hit(router: RouterHarness) -> None:
    """The default rule does not opt in: repeats call the model."""
    await router.stub.Route(ask(), timeout=5)
    reply = await router.stub.Route(ask(), timeout=5)
    assert not reply.cache_hit and calls(router) == 2


async def test_a_stale_entry_is_the_degrade_answer_when_the_model_fails(
    router: RouterHarness,
) -> None:
    """Past its TTL, with the model failing, the expired answer comes back flagged
    degraded and cache_hit (degrade.stale_cache) instead of UNAVAILABLE."""
    first = await router.stub.Route(ask(metadata=CACHED), timeout=5)
    await asyncio.sleep(0.55)
    router.sim.model("small").faults = FaultSettings(error_rate=1.0, error_status=503)
    reply = await router.stub.Route(ask(metadata=CACHED), timeout=5)
    assert reply.cache_hit and reply.degraded
    assert reply.answer == first.answer


async def test_an_exhausted_tenant_gets_quota_failure_and_the_reset_time(
    router: RouterHarness,
) -> None:
    """Tenant poor (150 µUSD an hour) pays for two requests; the third would need 124
    µUSD of worst case: RESOURCE_EXHAUSTED with QuotaFailure, RetryInfo and the reset
    time, and the simulator is not called for it."""
    spent = 0
    for _ in range(2):
        spent += (await router.stub.Route(ask(tenant="poor"), timeout=5)).total_cost_micros
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await router.stub.Route(ask(tenant="poor"), timeout=5)
    assert info.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert calls(router) == 2 and spent <= 150
    found = details(info.value)
    quota = error_details_pb2.QuotaFailure()
    retry = error_details_pb2.RetryInfo()
    error_info = error_details_pb2.ErrorInfo()
    assert found[0].Unpack(quota) and found[1].Unpack(retry) and found[2].Unpack(error_info)
    assert quota.violations[0].subject == "tenant:poor"
    assert 0 < retry.retry_delay.seconds <= 3600
    assert error_info.reason == "QUOTA_EXHAUSTED"
    assert error_info.metadata["reset_time"].endswith(":00:00+00:00")  # a whole hour
    # Another tenant is not affected.
    assert (await router.stub.Route(ask(tenant="rich"), timeout=5)).answer


async def test_a_japanese_prompt_stays_within_its_budget(router: RouterHarness) -> None:
    """The budget is what the old four-characters-per-token estimate called the small
    model's worst case (23 µUSD); the simulator bills a token per character (~73 µUSD):
    the router now sees that coming and refuses rather than overspend."""
    request = router_pb2.RouteRequest(
        messages=[router_pb2.ChatMessage(role="user", content=JAPANESE)],
        max_output_tokens=10,
        budget_micros=23,
    )
    try:
        reply = await router.stub.Route(request, timeout=5)
    except grpc.aio.AioRpcError as error:
        assert error.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
        assert calls(router) == 0
    else:
        assert reply.total_cost_micros <= 23


async def test_a_tenant_past_its_threshold_is_steered_to_the_cheap_model(
    router: RouterHarness,
) -> None:
    """Tenant thrifty (400 µUSD, steer_above 0.5) past 200 µUSD: its requests are planned
    against what remains (< 200), so large (worst case ~3000) is dropped for budget and
    small (~124) kept; Plan() shows it, and another tenant still gets both."""
    spent = 0
    while spent < 200:
        spent += (await router.stub.Route(ask(tenant="thrifty"), timeout=5)).total_cost_micros
    plan = await router.stub.Plan(router_pb2.PlanRequest(request=ask(tenant="thrifty")))
    kept = {c.model_id: c.kept for c in plan.candidates}
    assert kept == {"small": True, "large": False}
    dropped = next(c for c in plan.candidates if c.model_id == "large")
    assert f"exceeds budget {400 - spent}" in dropped.reason
    fresh = await router.stub.Plan(router_pb2.PlanRequest(request=ask(tenant="rich")))
    assert all(c.kept for c in fresh.candidates)
    # Once what remains cannot pay even for small, the request is refused as a quota
    # (with its QuotaFailure), not degraded, and nothing is called for it.
    with pytest.raises(grpc.aio.AioRpcError) as info:
        for _ in range(20):
            spent += (await router.stub.Route(ask(tenant="thrifty"))).total_cost_micros
    assert info.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert error_details_pb2.QuotaFailure.DESCRIPTOR.full_name in str(details(info.value))
    assert spent <= 400


async def test_the_estimate_error_metric_sees_each_attempt(router: RouterHarness) -> None:
    """Each attempt's reported input tokens over the estimate is observed under its
    script's label (a Japanese prompt: cjk)."""
    from prometheus_client import REGISTRY

    def count(script: str) -> float:
        value = REGISTRY.get_sample_value(
            "switchyard_router_token_estimate_ratio_count", {"script": script}
        )
        return value or 0.0

    before = count("cjk"), count("latin")
    await router.stub.Route(ask(), timeout=5)
    await router.stub.Route(ask(JAPANESE[:60]), timeout=5)
    assert (count("cjk"), count("latin")) == (before[0] + 1, before[1] + 1)


async def test_a_stale_entry_beats_the_static_answer(
    simulator: RunningSimulator, tmp_path: Path
) -> None:
    """With a static degrade answer configured too, a failing model's request gets the
    expired cached answer (flagged degraded and cache_hit), not the static text."""
    policy = POLICY.replace(
        "degrade: {stale_cache: true}", 'degrade: {stale_cache: true, static_answer: "Sorry."}'
    )
    async with running_router(simulator, tmp_path, policy=policy) as router:
        first = await router.stub.Route(ask(metadata=CACHED), timeout=5)
        await asyncio.sleep(0.55)
        simulator.model("small").faults = FaultSettings(error_rate=1.0, error_status=503)
        reply = await router.stub.Route(ask(metadata=CACHED), timeout=5)
        assert reply.degraded and reply.cache_hit and reply.answer == first.answer
        static = await router.stub.Route(ask("Something never asked before.", metadata=CACHED))
        assert static.degraded and static.answer == "Sorry." and not static.cache_hit
