"""Cascade execution against scripted providers, a fake clock and the real check library."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.router.breakers import BreakerBoard, BreakerSettings
from services.router.execution import RouteExecutor, Verdict
from services.router.fleet import FleetView
from services.router.planning import RouteInput, plan_route
from services.router.providers.base import ChatTurn, Completion, Outcome
from switchyard.policy import parse_policy
from switchyard.runtime.errors import DeadlineExceeded, ResourceExhausted, Unavailable
from tests.router.fakes import Clock, RecordingVerifier, ScriptedProvider, profile

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


def ok(text: str = GOOD, latency: float = 0.1) -> Completion:
    return Completion(Outcome.OK, text, "stop", 200, 50, latency)


def fail(outcome: Outcome = Outcome.SERVER_ERROR) -> Completion:
    return Completion(outcome, latency_s=0.05, detail="boom")


class Harness:
    """One executor over scripted providers, a fake clock and the recording verifier, for
    one or several requests in a row (throttles and breakers carry over between them)."""

    def __init__(
        self,
        scripts: dict[str, list[Completion]],
        *,
        policy=POLICY,
        breaker_settings: BreakerSettings | None = None,
    ) -> None:
        self.clock = Clock()
        self.calls: list[str] = []
        self.policy = policy
        self.providers = {
            m: ScriptedProvider(iter(s), self.clock, self.calls, m) for m, s in scripts.items()
        }
        self.verifier = RecordingVerifier()
        self.breakers = BreakerBoard(breaker_settings or BreakerSettings(), clock=self.clock)
        self.executor = RouteExecutor(
            provider_for=lambda p: self.providers[p.model_id],
            verifier=self.verifier,
            breakers=self.breakers,
            clock=self.clock,
            sleep=self.clock.sleep,
            rng=lambda: 0.5,
        )

    async def route(self, request: RouteInput = REQUEST, *, deadline: float = 10.0):
        """Plan and execute one request whose deadline is `deadline` seconds from now."""
        plan = plan_route(
            policy=self.policy,
            request=request,
            fleet=FLEET,
            breaker_state=lambda m: self.breakers.get(m).state,
            remaining_ms=deadline * 1000,
        )
        return await self.executor.execute(
            plan, request, self.policy, deadline=self.clock.now + deadline
        )

    async def outcome(self, request: RouteInput = REQUEST, *, deadline: float = 10.0):
        """route(), with a typed error as the result instead of raised."""
        try:
            return await self.route(request, deadline=deadline)
        except (Unavailable, ResourceExhausted, DeadlineExceeded) as exc:
            return exc

    def requests(self, model: str):
        return self.providers[model].requests


async def run(
    scripts: dict[str, list[Completion]], *, policy=POLICY, request=REQUEST, deadline: float = 10.0
):
    harness = Harness(scripts, policy=policy)
    result = await harness.route(request, deadline=deadline)
    return result, harness.calls


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
    policy = parse_policy(
        "name: p\nretry: {max_retries: 0}\n"
        "default: {name: c, strategy: {kind: cascade, stages: [{model: small}, {model: large}]}}"
    )
    harness = Harness(
        {"small": [fail()] * 8, "large": [ok()] * 10},
        policy=policy,
        breaker_settings=BreakerSettings(window_size=4, minimum_calls=4, open_wait_s=60),
    )
    for _ in range(6):
        await harness.route()
    assert harness.calls.count("small") == 4  # the window's minimum, then open
    assert harness.calls.count("large") == 6


LENGTH_CHECKS = "[{name: non_empty}, {name: length, params: {min_chars: 20}}]"


def cascade_policy(
    extra: str = "",
    *,
    stages: str = "[{model: small}, {model: large}]",
    checks: str = LENGTH_CHECKS,
    default_extra: str = "",
) -> str:
    """A small → large cascade policy document with the given top-level settings."""
    return (
        f"name: p\nchecks: {checks}\n{extra}\n"
        f"default: {{name: c, {default_extra}strategy: {{kind: cascade, stages: {stages}}}}}"
    )


THROTTLED = parse_policy(
    cascade_policy("retry: {max_retries: 1, throttle_max_tokens: 4, throttle_token_ratio: 1.0}")
)


async def test_retry_throttle_stops_retries_once_half_the_tokens_are_gone() -> None:
    """With a 4-token bucket, the first request's two failures leave 2 tokens (half): the
    next failing request gets one attempt on the model, no retry."""
    harness = Harness({"small": [fail()] * 3, "large": [ok()] * 2}, policy=THROTTLED)
    await harness.route()
    assert harness.calls == ["small", "small", "large"]
    harness.calls.clear()
    result = await harness.route()
    assert harness.calls == ["small", "large"]
    assert [(a.model_id, a.retry) for a in result.attempts] == [("small", 0), ("large", 0)]


async def test_retry_throttle_is_refilled_by_successes() -> None:
    """Successful calls refund tokens: after three answers (1 + 3·1.0, capped at 4), a
    failure is retried again."""
    script = [fail(), fail(), fail(), ok(), ok(), ok(), fail(), ok()]
    harness = Harness({"small": script, "large": [ok()] * 2}, policy=THROTTLED)
    for _ in range(5):
        await harness.route()
    harness.calls.clear()
    result = await harness.route()
    assert harness.calls == ["small", "small"]
    assert [a.retry for a in result.attempts] == [0, 1]


async def test_retry_throttle_is_per_model() -> None:
    """The small model's drained bucket does not stop retries on the large model."""
    script = {"small": [fail()] * 3, "large": [ok(), fail(), ok()]}
    harness = Harness(script, policy=THROTTLED)
    await harness.route()
    harness.calls.clear()
    await harness.route()
    assert harness.calls == ["small", "large", "large"]


async def test_a_retry_halves_the_temperature() -> None:
    """Each retry asks for a more deterministic answer: 0.7, then 0.35, then 0.175; the
    next stage starts again at 0.7."""
    policy = parse_policy(cascade_policy("retry: {max_retries: 2, base_backoff_ms: 1}"))
    harness = Harness({"small": [fail()] * 3, "large": [ok()]}, policy=policy)
    await harness.route()
    assert [r.temperature for r in harness.requests("small")] == [0.7, 0.35, 0.175]
    assert [r.temperature for r in harness.requests("large")] == [0.7]


async def test_stage_timeout_ms_bounds_the_attempt() -> None:
    """A stage's timeout_ms, when below the time left, is the attempt's timeout: a slow
    small model times out at 300 ms and the large model gets the rest of the deadline."""
    policy = parse_policy(
        cascade_policy(
            "retry: {max_retries: 0}",
            stages="[{model: small, timeout_ms: 300}, {model: large}]",
        )
    )
    harness = Harness({"small": [ok(latency=1.0)], "large": [ok()]}, policy=policy)
    result = await harness.route(deadline=10.0)
    assert [r.timeout_s for r in harness.requests("small")] == [0.3]
    assert harness.requests("large")[0].timeout_s == pytest.approx(9.7)
    assert [a.outcome for a in result.attempts] == ["timeout", "ok"]
    assert result.model_id == "large"


async def test_remaining_deadline_wins_over_a_longer_stage_timeout() -> None:
    """A stage timeout_ms above the time left does not stretch the attempt past the
    deadline."""
    policy = parse_policy(
        cascade_policy(stages="[{model: small, timeout_ms: 8000}, {model: large}]")
    )
    harness = Harness({"small": [ok()], "large": []}, policy=policy)
    await harness.route(deadline=2.0)
    assert [r.timeout_s for r in harness.requests("small")] == [2.0]


async def test_rule_checks_and_min_score_reach_the_verifier() -> None:
    """The matched rule's checks and min_score are what the answer is verified against."""
    policy = parse_policy(
        "name: p\nrules:\n"
        "  - name: strict\n    when: {tiers: [pro]}\n    min_score: 0.25\n"
        "    checks: [{name: refusal}]\n"
        "    strategy: {kind: single, model: small}\n"
        "default: {name: d, strategy: {kind: single, model: large}}"
    )
    harness = Harness({"small": [ok()], "large": []}, policy=policy)
    request = RouteInput(messages=REQUEST.messages, prompt_tokens=200, tier="pro")
    await harness.route(request)
    (answer,) = harness.verifier.answers
    assert answer.min_score == 0.25
    assert [c.name for c in answer.checks] == ["refusal"]
    assert answer.output == GOOD and answer.prompt == "x" * 800


async def test_min_score_rejection_escalates() -> None:
    """An answer every check passes is still rejected when the quality scorer rates it below
    the rule's min_score, and the cascade escalates on that verdict."""
    policy = parse_policy(
        cascade_policy(
            "retry: {max_retries: 0}\ndegrade: {static_answer: sorry}",
            default_extra="min_score: 0.99, ",
        )
    )
    harness = Harness({"small": [ok()], "large": [ok()]}, policy=policy)
    result = await harness.route()
    assert harness.calls == ["small", "large"]
    assert [a.verdict for a in result.attempts] == [Verdict.REJECT, Verdict.REJECT]
    assert "below min_score 0.990" in result.attempts[0].detail
    assert result.degraded and result.answer == "sorry"


async def test_refusal_check_rejection_escalates() -> None:
    """A refusal long enough to pass the length check is rejected by the refusal check the
    policy names, and that rejection escalates to the large model."""
    refusal = "I'm sorry, but I can't help with that request."
    policy = parse_policy(cascade_policy(checks=LENGTH_CHECKS[:-1] + ", {name: refusal}]"))
    harness = Harness({"small": [ok(refusal)], "large": [ok()]}, policy=policy)
    result = await harness.route()
    assert harness.calls == ["small", "large"]
    assert result.attempts[0].verdict is Verdict.REJECT
    assert result.attempts[0].detail.startswith("refusal:")
    assert result.model_id == "large"


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
    harness = Harness({"small": small, "large": large})
    try:
        result = await harness.route(request, deadline=deadline)
    except (Unavailable, ResourceExhausted, DeadlineExceeded):
        assert len(harness.calls) <= 4
        return
    calls = harness.calls
    assert len(calls) <= 4  # two stages × (1 + max_retries 1)
    assert result.total_cost_micros <= budget
    assert harness.clock.now <= deadline + 1e-9
    made = [a for a in result.attempts if a.outcome != "skipped"]
    assert len(made) == len(calls)
    if not result.degraded:
        assert result.attempts[-1].verdict is Verdict.ACCEPT
