"""Retry-throttle settings follow the policy version in force (issue 10, section 1)."""

from __future__ import annotations

import pytest

from services.router.breakers import BreakerBoard, BreakerSettings
from services.router.execution import RouteExecutor
from services.router.fleet import FleetView
from services.router.planning import RouteInput, plan_route
from services.router.providers.base import ChatTurn, Completion, CompletionRequest, Outcome
from services.router.verification import EmbeddedVerifier
from switchyard.policy import Policy, parse_policy
from switchyard.runtime.errors import Unavailable
from tests.router.fakes import Clock, profile

FLEET = FleetView([profile("small", 1000)])
REQUEST = RouteInput(messages=(ChatTurn("user", "hello there"),), prompt_tokens=3)


def _policy(max_tokens: int) -> Policy:
    return parse_policy(
        f"""
name: throttle-{max_tokens}
max_deadline_ms: 10000
budget_micros: 100000
retry: {{max_retries: 1, base_backoff_ms: 1, max_backoff_ms: 1,
        throttle_max_tokens: {max_tokens}, throttle_token_ratio: 0.1}}
default:
  name: only
  strategy: {{kind: single, model: small}}
"""
    )


class AlwaysFailing:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.calls = 0

    async def complete(self, request: CompletionRequest) -> Completion:
        self.calls += 1
        self.clock.now += 0.01
        return Completion(Outcome.SERVER_ERROR, latency_s=0.01, detail="boom")


async def _calls_for(executor: RouteExecutor, model: AlwaysFailing, policy: Policy) -> int:
    before = model.calls
    plan = plan_route(
        policy=policy,
        request=REQUEST,
        fleet=FLEET,
        breaker_state=lambda m: executor._breakers.get(m).state,
        remaining_ms=10_000,
    )
    with pytest.raises(Unavailable):  # every attempt fails; only the count matters
        await executor.execute(plan, REQUEST, policy, deadline=model.clock.now + 10)
    return model.calls - before


async def test_new_policy_version_changes_the_retry_throttle() -> None:
    """Under a 1000-token bucket every failure is retried; once a policy with a 2-token
    bucket is in force, the next failure leaves the bucket at half and retries stop.
    The fill level carries over as a share of the bucket, as gRPC does on a new
    service config."""
    clock = Clock()
    model = AlwaysFailing(clock)
    executor = RouteExecutor(
        provider_for=lambda p: model,
        verifier=EmbeddedVerifier(),
        # The breaker must not be what stops the calls.
        breakers=BreakerBoard(BreakerSettings(window_size=100, minimum_calls=100), clock=clock),
        clock=clock,
        sleep=clock.sleep,
        rng=lambda: 0.5,
    )
    roomy, tight = _policy(1000), _policy(2)
    assert await _calls_for(executor, model, roomy) == 2  # failed, retried, failed
    assert await _calls_for(executor, model, roomy) == 2
    # 996 of 1000 tokens -> 1.992 of 2; one failure leaves 0.992 <= 1: no retry.
    assert await _calls_for(executor, model, tight) == 1
    assert await _calls_for(executor, model, tight) == 1
