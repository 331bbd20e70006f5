"""Retries with adjusted parameters (policy `retry.adjust`): a lower temperature, fewer
max tokens, extra stop sequences; and the worst case the budget sees follows them."""

from __future__ import annotations

import pytest

from services.router.breakers import BreakerBoard
from services.router.execution import RouteExecutor
from services.router.fleet import FleetView
from services.router.planning import RouteInput, plan_route
from services.router.providers.base import ChatTurn, Completion, CompletionRequest, Outcome
from services.router.retry import CallParams, adjusted
from services.router.verification import EmbeddedVerifier
from switchyard.policy import Policy, RetryAdjustments, parse_policy
from switchyard.runtime.errors import InvalidArgument, ResourceExhausted
from tests.router.fakes import Clock, profile

FLEET = FleetView([profile("m", 1_000_000)])
REQUEST = RouteInput(messages=(ChatTurn("user", "hi"),), max_output_tokens=400, prompt_tokens=5)
GOOD = "A complete and useful answer that passes every check."


def test_first_attempt_is_the_request_as_sent() -> None:
    first = CallParams(temperature=0.7, max_tokens=400, stop=("END",))
    assert adjusted(first, 0, RetryAdjustments(0.1, 0.1, ("\n\n",))) == first


def test_each_retry_multiplies_the_factors_and_adds_the_stops_once() -> None:
    first = CallParams(temperature=0.8, max_tokens=400, stop=("END",))
    adjust = RetryAdjustments(temperature_factor=0.5, max_tokens_factor=0.5, stop=("END", "##"))
    one, two = adjusted(first, 1, adjust), adjusted(first, 2, adjust)
    assert (one.temperature, one.max_tokens, one.stop) == (0.4, 200, ("END", "##"))
    assert (two.temperature, two.max_tokens, two.stop) == (0.2, 100, ("END", "##"))
    assert adjusted(CallParams(0.7, 1), 3, adjust).max_tokens == 1  # never below one token


def test_defaults_halve_the_temperature_only() -> None:
    """Without `adjust` a retry behaves as before: temperature halved, nothing else."""
    one = adjusted(CallParams(0.7, 400), 1, RetryAdjustments())
    assert (one.temperature, one.max_tokens, one.stop) == (0.35, 400, ())


class Recording:
    """Fails with a 5xx `failures` times (billed for 300 output tokens: some upstreams
    charge for a failed generation), then answers; keeps every request."""

    def __init__(self, clock: Clock, failures: int) -> None:
        self.clock = clock
        self.failures = failures
        self.requests: list[CompletionRequest] = []

    async def complete(self, request: CompletionRequest) -> Completion:
        self.requests.append(request)
        self.clock.now += 0.01
        if len(self.requests) <= self.failures:
            return Completion(Outcome.SERVER_ERROR, "", "", 5, 300, 0.01, detail="boom")
        return Completion(Outcome.OK, GOOD, "stop", 5, 20, 0.01)

    async def close(self) -> None:
        pass


def policy(adjust: str) -> Policy:
    return parse_policy(
        f"""
name: adjust
budget_micros: 100000
retry: {{max_retries: 2, base_backoff_ms: 1, max_backoff_ms: 1, adjust: {adjust}}}
default: {{name: one, strategy: {{kind: single, model: m}}}}
"""
    )


async def _run(p: Policy, request: RouteInput = REQUEST, failures: int = 2):
    clock = Clock()
    model = Recording(clock, failures)
    executor = RouteExecutor(
        provider_for=lambda _: model,
        verifier=EmbeddedVerifier(),
        breakers=BreakerBoard(clock=clock),
        clock=clock,
        sleep=clock.sleep,
        rng=lambda: 0.5,
    )
    plan = plan_route(
        policy=p,
        request=request,
        fleet=FLEET,
        breaker_state=lambda _: executor._breakers.get("m").state,
        remaining_ms=10_000,
    )
    result = await executor.execute(plan, request, p, deadline=10.0)
    return result, model.requests


async def test_retries_send_the_adjusted_calls() -> None:
    """Two 5xx then an answer: the three calls carry temperature 0.7, 0.21, 0.063, max
    tokens 400, 200, 100, and the stop sequence from the first retry on."""
    p = policy('{temperature_factor: 0.3, max_tokens_factor: 0.5, stop: ["\\n\\n"]}')
    result, requests = await _run(p)
    assert result.answer == GOOD
    assert [r.temperature for r in requests] == pytest.approx([0.7, 0.21, 0.063])
    assert [r.max_tokens for r in requests] == [400, 200, 100]
    assert [r.stop for r in requests] == [(), ("\n\n",), ("\n\n",)]


async def test_a_shorter_retry_fits_a_budget_the_first_attempt_nearly_exhausted() -> None:
    """The budget check uses each attempt's own worst case: after a costly failure, a
    retry asking for half the tokens still fits where a full-size one does not."""
    model = FLEET.get("m")
    assert model is not None
    failed = model.cost_micros(5, 300)
    request = RouteInput(
        messages=REQUEST.messages,
        max_output_tokens=400,
        prompt_tokens=5,
        budget_micros=failed + model.cost_micros(5, 200),
    )
    result, requests = await _run(policy("{max_tokens_factor: 0.5}"), request, failures=1)
    assert [r.max_tokens for r in requests] == [400, 200] and result.answer == GOOD
    assert result.total_cost_micros <= request.budget_micros
    with pytest.raises(ResourceExhausted):
        await _run(policy("{max_tokens_factor: 1.0}"), request, failures=1)


def test_adjustments_are_validated() -> None:
    with pytest.raises(InvalidArgument) as caught:
        policy('{temperature_factor: 2, max_tokens_factor: 0, stop: ["", 3]}')
    fields = {v.field for v in caught.value.violations}
    assert fields == {
        "retry.adjust.temperature_factor",
        "retry.adjust.max_tokens_factor",
        "retry.adjust.stop",
    }
