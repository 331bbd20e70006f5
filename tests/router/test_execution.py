"""Cascade execution against scripted providers, a fake clock and the real check library."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.router.breakers import BreakerBoard, BreakerSettings
from services.router.execution import RouteExecutor, Verdict
from services.router.fleet import FleetView
from services.router.planning import RouteInput, plan_route
from services.router.providers.base import ChatTurn, Completion, CompletionRequest, Outcome
from services.router.verification import EmbeddedVerifier
from switchyard.policy import parse_policy
from switchyard.runtime.errors import DeadlineExceeded, ResourceExhausted, Unavailable
from tests.router.fakes import Clock, profile

GOOD = "A complete and useful answer that passes every check."
BAD = "meh"

POLICY = parse_policy(
    """
name: test
max_deadline_ms: 10000
budget_micros: 100000
retry: {max_retries: 1, base_backoff_ms: 10, max_backoff_ms: 50}
checks: [{name: non_empty}, {name: length, params: {min_chars: 20}}]
default:
  name: cascade
  strategy: {kind: cascade, stages: [{model: small}, {model: large}]}
"""
)


FLEET = FleetView([profile("small", 100_000), profile("large", 1_000_000)])
REQUEST = RouteInput(
    messages=(ChatTurn("user", "x" * 800),), max_output_tokens=100, prompt_tokens=200
)


class ScriptedProvider:
    """Returns scripted completions in order and advances the fake clock by their latency."""

    def __init__(self, script: Iterator[Completion], clock: Clock, calls: list[str], name: str):
        self._script = script
        self._clock = clock
        self._calls = calls
        self._name = name

    async def complete(self, request: CompletionRequest) -> Completion:
        self._calls.append(self._name)
        completion = next(self._script)
        if completion.latency_s > request.timeout_s:
            self._clock.now += request.timeout_s
            return Completion(Outcome.TIMEOUT, latency_s=request.timeout_s)
        self._clock.now += completion.latency_s
        return completion

    async def close(self) -> None:
        pass


def ok(text: str = GOOD, latency: float = 0.1) -> Completion:
    return Completion(Outcome.OK, text, "stop", 200, 50, latency)


def fail(outcome: Outcome = Outcome.SERVER_ERROR) -> Completion:
    return Completion(outcome, latency_s=0.05, detail="boom")


def executor(
    scripts: dict[str, list[Completion]],
    clock: Clock,
    calls: list[str],
    breakers: BreakerBoard | None = None,
) -> RouteExecutor:
    providers = {m: ScriptedProvider(iter(s), clock, calls, m) for m, s in scripts.items()}
    return RouteExecutor(
        provider_for=lambda p: providers[p.model_id],
        verifier=EmbeddedVerifier(),
        breakers=breakers or BreakerBoard(clock=clock),
        clock=clock,
        sleep=clock.sleep,
        rng=lambda: 0.5,
    )


async def run(
    scripts: dict[str, list[Completion]], *, policy=POLICY, request=REQUEST, deadline: float = 10.0
):
    clock = Clock()
    calls: list[str] = []
    ex = executor(scripts, clock, calls)
    plan = plan_route(
        policy=policy,
        request=request,
        fleet=FLEET,
        breaker_state=lambda m: ex._breakers.get(m).state,
        remaining_ms=deadline * 1000,
    )
    result = await ex.execute(plan, request, policy, deadline=deadline)
    return result, calls


async def test_accepted_small_answer_ends_the_cascade() -> None:
    """A small-model answer the verifier accepts is returned without calling the large model."""
    result, calls = await run({"small": [ok()], "large": []})
    assert calls == ["small"]
    assert result.model_id == "small" and result.escalations == 0
    assert result.attempts[0].verdict is Verdict.ACCEPT


async def test_verifier_rejection_escalates_to_large() -> None:
    """A too-short answer is rejected by the length check and the large model answers."""
    result, calls = await run({"small": [ok(BAD)], "large": [ok()]})
    assert calls == ["small", "large"]
    assert result.model_id == "large" and result.escalations == 1
    assert [a.verdict for a in result.attempts] == [Verdict.REJECT, Verdict.ACCEPT]
    assert "length" in result.attempts[0].detail
    assert result.total_cost_micros == sum(a.cost_micros for a in result.attempts) > 0


async def test_retryable_failure_is_retried_then_escalated() -> None:
    """A 5xx is retried once on the same stage (max_retries 1), then the cascade escalates."""
    result, calls = await run({"small": [fail(), fail()], "large": [ok()]})
    assert calls == ["small", "small", "large"]
    assert [a.retry for a in result.attempts] == [0, 1, 0]


async def test_client_error_is_not_retried() -> None:
    """A 4xx says the request is wrong for that model: escalate without retrying."""
    _, calls = await run({"small": [fail(Outcome.CLIENT_ERROR)], "large": [ok()]})
    assert calls == ["small", "large"]


async def test_exhausted_chain_without_static_answer_is_unavailable() -> None:
    """Every stage rejected and no static answer configured: UNAVAILABLE with retry info."""
    with pytest.raises(Unavailable) as info:
        await run({"small": [ok(BAD)], "large": [ok(BAD)]})
    assert info.value.retry_after_s > 0


async def test_static_answer_degrades() -> None:
    """With a static answer in the policy, an exhausted chain returns it flagged degraded."""
    policy = parse_policy(
        "name: p\ndegrade: {static_answer: sorry}\n"
        "default: {name: c, strategy: {kind: cascade, stages: [{model: small}, {model: large}]}}"
    )
    result, _ = await run(
        {"small": [fail(Outcome.CLIENT_ERROR)], "large": [fail(Outcome.CLIENT_ERROR)]},
        policy=policy,
    )
    assert result.degraded and result.answer == "sorry"


async def test_budget_stops_before_the_large_stage_and_falls_back() -> None:
    """When the large stage's worst case exceeds what is left, the rejected small answer is
    returned degraded instead of overspending."""
    request = RouteInput(
        messages=REQUEST.messages, max_output_tokens=100, prompt_tokens=200, budget_micros=200
    )
    result, calls = await run({"small": [ok(BAD)], "large": [ok()]}, request=request)
    assert calls == ["small"]
    assert result.degraded and result.answer == BAD
    assert result.total_cost_micros <= 200


async def test_budget_too_small_for_anything_is_resource_exhausted() -> None:
    """A budget below every model's worst-case cost is RESOURCE_EXHAUSTED before any call."""
    request = RouteInput(
        messages=REQUEST.messages, max_output_tokens=100, prompt_tokens=200, budget_micros=1
    )
    with pytest.raises(ResourceExhausted):
        await run({"small": [], "large": []}, request=request)


async def test_deadline_cuts_attempt_timeouts() -> None:
    """A slow small model times out at the remaining deadline; nothing starts after it."""
    with pytest.raises(DeadlineExceeded):
        await run({"small": [ok(latency=5.0)], "large": [ok()]}, deadline=1.0)


async def test_open_breaker_model_is_never_called() -> None:
    """Once the small model's breaker opens, requests go straight to the large model."""
    clock = Clock()
    calls: list[str] = []
    board = BreakerBoard(
        BreakerSettings(window_size=4, minimum_calls=4, open_wait_s=60), clock=clock
    )
    ex = executor(
        {"small": [fail(Outcome.CLIENT_ERROR)] * 0 + [fail()] * 8, "large": [ok()] * 10},
        clock,
        calls,
        board,
    )
    policy = parse_policy(
        "name: p\nretry: {max_retries: 0}\n"
        "default: {name: c, strategy: {kind: cascade, stages: [{model: small}, {model: large}]}}"
    )
    for _ in range(6):
        plan = plan_route(
            policy=policy,
            request=REQUEST,
            fleet=FLEET,
            breaker_state=lambda m: board.get(m).state,
            remaining_ms=10_000,
        )
        await ex.execute(plan, REQUEST, policy, deadline=clock.now + 10)
    assert calls.count("small") == 4  # the window's minimum, then open
    assert calls.count("large") == 6


outcomes = st.sampled_from(
    [
        ok(),
        ok(BAD),
        ok(latency=3.0),
        fail(),
        fail(Outcome.TIMEOUT),
        fail(Outcome.RATE_LIMITED),
        fail(Outcome.CLIENT_ERROR),
        fail(Outcome.MALFORMED),
    ]
)


@settings(max_examples=150, deadline=None)
@given(
    small=st.lists(outcomes, min_size=3, max_size=3),
    large=st.lists(outcomes, min_size=3, max_size=3),
    budget=st.integers(min_value=1, max_value=500),
    deadline=st.floats(min_value=0.01, max_value=8.0),
)
async def test_any_schedule_ends_within_limits(small, large, budget, deadline) -> None:
    """Whatever the models do: the call ends, attempts stay within the retry limits, cost stays
    within budget, nothing starts after the deadline, and the outcome is an accepted answer,
    a degraded answer, or a typed error."""
    request = RouteInput(
        messages=REQUEST.messages, max_output_tokens=100, prompt_tokens=200, budget_micros=budget
    )
    clock = Clock()
    calls: list[str] = []
    ex = executor({"small": small, "large": large}, clock, calls)
    plan = plan_route(
        policy=POLICY,
        request=request,
        fleet=FLEET,
        breaker_state=lambda m: ex._breakers.get(m).state,
        remaining_ms=deadline * 1000,
    )
    try:
        result = await ex.execute(plan, request, POLICY, deadline=deadline)
    except (Unavailable, ResourceExhausted, DeadlineExceeded):
        assert len(calls) <= 4
        return
    assert len(calls) <= 4  # two stages × (1 + max_retries 1)
    assert result.total_cost_micros <= budget
    assert clock.now <= deadline + 1e-9
    made = [a for a in result.attempts if a.outcome != "skipped"]
    assert len(made) == len(calls)
    if not result.degraded:
        assert result.attempts[-1].verdict is Verdict.ACCEPT
