"""Cascade execution against scripted providers, a fake clock and the real check library."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.router.breakers import BreakerBoard, BreakerSettings, BreakerState
from services.router.execution import (
    MIN_ATTEMPT_S,
    AttemptRecord,
    RouteExecutor,
    RouteResult,
    Verdict,
)
from services.router.fleet import FleetView
from services.router.planning import RouteInput, plan_route
from services.router.providers.base import ChatTurn, Completion, CompletionRequest, Outcome
from services.router.review import ReviewQueue
from services.router.verification import AnswerUnderReview, AnswerVerifier
from switchyard.policy import parse_policy
from switchyard.runtime.errors import DeadlineExceeded, ResourceExhausted, Unavailable
from switchyard.tasks import DEFAULT_TASK_TYPE
from tests.router.fakes import (
    Clock,
    RecordingReviewQueue,
    RecordingVerifier,
    ScoringVerifier,
    ScriptedProvider,
    profile,
)

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
        fleet: FleetView = FLEET,
        verifier: AnswerVerifier | None = None,
        review: ReviewQueue | None = None,
    ) -> None:
        self.clock = Clock()
        self.fleet = fleet
        self.calls: list[str] = []
        self.policy = policy
        self.providers = {
            m: ScriptedProvider(iter(s), self.clock, self.calls, m) for m, s in scripts.items()
        }
        self.verifier = RecordingVerifier()
        self.breakers = BreakerBoard(breaker_settings or BreakerSettings(), clock=self.clock)
        self.executor = RouteExecutor(
            provider_for=lambda p: self.providers[p.model_id],
            verifier=verifier or self.verifier,
            breakers=self.breakers,
            clock=self.clock,
            sleep=self.clock.sleep,
            rng=lambda: 0.5,
            review=review,
        )

    async def route(
        self,
        request: RouteInput = REQUEST,
        *,
        deadline: float = 10.0,
        planned_states: dict[str, BreakerState] | None = None,
        planned_remaining_ms: float | None = None,
    ):
        """Plan and execute one request whose deadline is `deadline` seconds from now.

        The plan sees the breakers' states and the deadline unless `planned_states` /
        `planned_remaining_ms` say otherwise (a breaker that changes after planning)."""
        plan = plan_route(
            policy=self.policy,
            request=request,
            fleet=self.fleet,
            breaker_state=lambda m: (planned_states or {}).get(m, self.breakers.get(m).state),
            remaining_ms=deadline * 1000 if planned_remaining_ms is None else planned_remaining_ms,
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
    # The last stage is held to its checks only (Rule.min_score_for): nowhere to escalate.
    assert [a.verdict for a in result.attempts] == [Verdict.REJECT, Verdict.ACCEPT]
    assert "below min_score 0.990" in result.attempts[0].detail
    assert not result.degraded and result.model_id == "large"


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


# -- exact traces: every field of the result, the calls and the verdicts -------------------

LENGTH_REJECTION = "length: output has 3 characters, fewer than min_chars 20"


async def test_trace_of_a_retried_rejected_escalated_request() -> None:
    """A 5xx, a retry after 5 ms of jittered backoff at half the temperature, a rejected
    answer, then the large model: every attempt record, the provider calls and the
    verifier's inputs are exactly what happened."""
    harness = Harness({"small": [fail(), ok(BAD)], "large": [ok()]})
    result = await harness.route()
    assert result == RouteResult(
        answer=GOOD,
        model_id="large",
        finish_reason="stop",
        attempts=[
            AttemptRecord("small", 0, 0, "server_error", latency_ms=50.0, detail="boom"),
            AttemptRecord(
                "small",
                0,
                1,
                "ok",
                latency_ms=100.0,
                input_tokens=200,
                output_tokens=50,
                cost_micros=25,
                verdict=Verdict.REJECT,
                detail=LENGTH_REJECTION,
                score=0.0,
            ),
            AttemptRecord(
                "large",
                1,
                0,
                "ok",
                latency_ms=100.0,
                input_tokens=200,
                output_tokens=50,
                cost_micros=250,
                verdict=Verdict.ACCEPT,
                score=1.0,
            ),
        ],
        total_cost_micros=275,
        escalations=1,
        degraded=False,
        input_tokens=400,
        output_tokens=100,
    )
    first, second = harness.requests("small")
    assert first == CompletionRequest(
        upstream_model="small",
        messages=REQUEST.messages,
        max_tokens=100,
        timeout_s=10.0,
        temperature=0.7,
        json_mode=False,
    )
    assert second.timeout_s == pytest.approx(10.0 - 0.05 - 0.005)  # backoff 0.5 · 10 ms
    assert harness.requests("large")[0].timeout_s == pytest.approx(10.0 - 0.155)
    checks = POLICY.default.checks
    assert harness.verifier.answers == [
        AnswerUnderReview("x" * 800, DEFAULT_TASK_TYPE, BAD, "stop", checks, 0.0),
        AnswerUnderReview("x" * 800, DEFAULT_TASK_TYPE, GOOD, "stop", checks, 0.0),
    ]
    assert harness.verifier.timeouts == pytest.approx([10.0 - 0.155, 10.0 - 0.255])


async def test_json_mode_and_the_model_output_cap_reach_the_provider() -> None:
    """The provider is asked for JSON mode when the request is, and for at most the model's
    max_output_tokens; a model without a cap gets the request's own maximum."""
    uncapped = profile(
        "large", 1_000_000, max_output_tokens=0, capabilities=frozenset({"json_mode"})
    )
    fleet = FleetView([profile("small", 100_000, capabilities=frozenset({"json_mode"})), uncapped])
    request = RouteInput(
        messages=REQUEST.messages, max_output_tokens=5000, prompt_tokens=200, json_mode=True
    )
    harness = Harness({"small": [ok(BAD)], "large": [ok()]}, fleet=fleet)
    await harness.route(request)
    (small,) = harness.requests("small")
    (large,) = harness.requests("large")
    assert (small.max_tokens, small.json_mode) == (1000, True)
    assert (large.max_tokens, large.json_mode) == (5000, True)


class UntimedProvider:
    """Takes `seconds` of the fake clock but reports no latency of its own."""

    def __init__(self, clock: Clock, seconds: float) -> None:
        self._clock = clock
        self._seconds = seconds

    async def complete(self, request: CompletionRequest) -> Completion:
        self._clock.now += self._seconds
        return Completion(Outcome.OK, GOOD, "stop", 200, 50, 0.0)

    async def close(self) -> None:
        pass


async def test_latency_is_measured_when_the_provider_reports_none() -> None:
    """A completion without a latency gets the time the call took on the executor's clock."""
    harness = Harness({"small": [], "large": []})
    harness.clock.now = 100.0
    harness.providers["small"] = UntimedProvider(harness.clock, 0.25)  # type: ignore[assignment]
    result = await harness.route()
    assert result.attempts[0].latency_ms == 250.0


async def test_retry_after_sets_the_retry_delay() -> None:
    """An upstream Retry-After of 0.2 s is slept before the retry (not the backoff)."""
    throttled = Completion(Outcome.RATE_LIMITED, latency_s=0.05, retry_after_s=0.2)
    harness = Harness({"small": [throttled, ok()], "large": []})
    await harness.route()
    assert [r.timeout_s for r in harness.requests("small")] == pytest.approx([10.0, 9.75])


async def test_retry_whose_delay_reaches_the_deadline_escalates_instead() -> None:
    """A retry that could start only at the deadline's last attempt window (now + delay =
    deadline - MIN_ATTEMPT_S) is not made: the next stage gets the time."""
    slow_fail = Completion(Outcome.SERVER_ERROR, latency_s=0.25, retry_after_s=0.25)
    harness = Harness({"small": [slow_fail, ok()], "large": [ok()]})
    result = await harness.route(deadline=0.5 + MIN_ATTEMPT_S)
    assert harness.calls == ["small", "large"]
    assert result.model_id == "large" and harness.clock.now == pytest.approx(0.35)


async def test_no_attempt_starts_with_only_the_minimum_attempt_time_left() -> None:
    """With MIN_ATTEMPT_S or less left, no call is made and the request is DEADLINE_EXCEEDED."""
    harness = Harness({"small": [ok()], "large": [ok()]})
    with pytest.raises(DeadlineExceeded, match=r"^deadline reached after 0 attempts$"):
        await harness.route(deadline=MIN_ATTEMPT_S, planned_remaining_ms=10_000)
    assert harness.calls == []


async def test_budget_exactly_the_worst_case_pays_for_the_attempt() -> None:
    """A budget equal to the stage's worst case (300 tokens · 0.1 µUSD = 30) is enough."""
    request = RouteInput(
        messages=REQUEST.messages, max_output_tokens=100, prompt_tokens=200, budget_micros=30
    )
    harness = Harness({"small": [ok()], "large": []})
    result = await harness.route(request)
    assert harness.calls == ["small"] and result.total_cost_micros == 25


async def test_stage_the_rest_of_the_budget_cannot_pay_for_is_skipped() -> None:
    """After spending 25 of 324 µUSD, the large stage's worst case (300) does not fit: it is
    recorded as skipped over budget and the rejected answer comes back degraded."""
    request = RouteInput(
        messages=REQUEST.messages, max_output_tokens=100, prompt_tokens=200, budget_micros=324
    )
    harness = Harness({"small": [ok(BAD)], "large": [ok()]})
    result = await harness.route(request)
    assert harness.calls == ["small"]
    assert result.attempts[-1] == AttemptRecord(
        "large", 1, 0, "skipped", detail="over budget", breaker_state=BreakerState.CLOSED
    )
    assert (result.answer, result.model_id, result.finish_reason) == (BAD, "small", "stop")
    assert result.degraded and result.escalations == 0


async def test_attempt_records_the_breaker_state_after_the_outcome() -> None:
    """A failure that opens the breaker is recorded with the OPEN state it caused."""
    harness = Harness(
        {"small": [fail()], "large": [ok()]},
        policy=parse_policy(cascade_policy("retry: {max_retries: 0}")),
        breaker_settings=BreakerSettings(window_size=1, minimum_calls=1),
    )
    result = await harness.route()
    assert [a.breaker_state for a in result.attempts] == [
        BreakerState.OPEN,
        BreakerState.CLOSED,
    ]


async def test_budget_cut_without_an_answer_in_hand_is_resource_exhausted() -> None:
    """When the rest of the budget cannot pay for the next stage and no answer is held,
    the request ends RESOURCE_EXHAUSTED with what was spent."""
    request = RouteInput(
        messages=REQUEST.messages, max_output_tokens=100, prompt_tokens=200, budget_micros=324
    )
    harness = Harness({"small": [ok("")], "large": [ok()]}, policy=parse_policy(cascade_policy()))
    outcome = await harness.outcome(request)
    assert isinstance(outcome, ResourceExhausted)
    assert str(outcome) == (
        "budget of 324 µUSD cannot pay for the next stage (spent 25 after 2 attempts)"
    )


async def test_breaker_that_refuses_at_call_time_skips_the_stage() -> None:
    """A breaker that opened after planning refuses the call: recorded as skipped with its
    state, and the next stage answers."""
    harness = Harness({"small": [ok()], "large": [ok()]})
    harness.breakers.get("small").force(BreakerState.FORCED_OPEN)
    result = await harness.route(planned_states={"small": BreakerState.CLOSED})
    assert harness.calls == ["large"]
    assert result.attempts[0] == AttemptRecord(
        "small", 0, 0, "skipped", detail="breaker open", breaker_state=BreakerState.FORCED_OPEN
    )
    assert result.model_id == "large" and result.escalations == 0


@pytest.mark.parametrize(("stage_retries", "small_calls"), [(0, 1), (2, 3)])
async def test_stage_max_retries_overrides_the_policy(stage_retries: int, small_calls: int) -> None:
    """A stage's max_retries replaces the policy's (1), lower or higher."""
    policy = parse_policy(
        cascade_policy(
            "retry: {max_retries: 1, base_backoff_ms: 1}",
            stages=f"[{{model: small, max_retries: {stage_retries}}}, {{model: large}}]",
        )
    )
    harness = Harness({"small": [fail()] * 3, "large": [ok()]}, policy=policy)
    await harness.route()
    assert harness.calls == ["small"] * small_calls + ["large"]


REVIEW_POLICY = cascade_policy(
    "degrade: {human_review: true, static_answer: A person will answer.}"
)
FAILING = {"small": [fail(Outcome.CLIENT_ERROR)], "large": [fail(Outcome.CLIENT_ERROR)]}


async def test_human_review_ticket_holds_the_request() -> None:
    """An exhausted chain with human review files a ticket with the rule, task type, tenant,
    tier, conversation, attempt count and why; the reply is the static answer, degraded,
    finished "human_review", carrying the ticket id."""
    review = RecordingReviewQueue()
    harness = Harness(FAILING, policy=parse_policy(REVIEW_POLICY), review=review)  # type: ignore[arg-type]
    request = RouteInput(
        messages=(ChatTurn("system", "be kind"), ChatTurn("user", "x" * 800)),
        prompt_tokens=200,
        max_output_tokens=100,
        tenant="acme",
        tier="pro",
        task_type="math",
    )
    result = await harness.route(request)
    assert review.tickets == [
        {
            "rule": "c",
            "task_type": "math",
            "tenant": "acme",
            "tier": "pro",
            "messages": [
                {"role": "system", "content": "be kind"},
                {"role": "user", "content": "x" * 800},
            ],
            "attempts": 2,
            "reason": "exhausted",
        }
    ]
    assert (result.answer, result.model_id, result.finish_reason) == (
        "A person will answer.",
        "",
        "human_review",
    )
    assert result.degraded and result.review_ticket_id == "rev-1"


async def test_human_review_without_static_answer_answers_empty() -> None:
    """Human review with no static answer: an empty answer with the ticket; the reason is
    the budget when the budget cut the chain."""
    review = RecordingReviewQueue()
    policy = parse_policy(cascade_policy("degrade: {human_review: true}"))
    request = RouteInput(
        messages=REQUEST.messages, max_output_tokens=100, prompt_tokens=200, budget_micros=1
    )
    harness = Harness(FAILING, policy=policy, review=review)  # type: ignore[arg-type]
    result = await harness.route(request)
    assert (result.answer, result.finish_reason, result.review_ticket_id) == (
        "",
        "human_review",
        "rev-1",
    )
    assert review.tickets[0]["reason"] == "budget" and review.tickets[0]["attempts"] == 0


async def test_human_review_without_a_queue_falls_back_to_the_static_answer() -> None:
    """A router without a review queue cannot file tickets: the static answer is returned,
    finished "static"."""
    harness = Harness(FAILING, policy=parse_policy(REVIEW_POLICY))
    result = await harness.route()
    assert (result.answer, result.model_id, result.finish_reason, result.review_ticket_id) == (
        "A person will answer.",
        "",
        "static",
        "",
    )
    assert result.degraded


async def test_no_review_and_no_static_answer_is_a_typed_error_naming_the_cause() -> None:
    """Without review or static answer: RESOURCE_EXHAUSTED naming budget and spend,
    DEADLINE_EXCEEDED naming the attempts, or UNAVAILABLE naming attempts and rule with a
    one-second retry hint."""
    policy = parse_policy(cascade_policy())
    poor = RouteInput(
        messages=REQUEST.messages, max_output_tokens=100, prompt_tokens=200, budget_micros=1
    )
    exhausted = await Harness(FAILING, policy=policy).outcome(poor)
    assert isinstance(exhausted, ResourceExhausted)
    assert (
        str(exhausted)
        == "budget of 1 µUSD cannot pay for the next stage (spent 0 after 0 attempts)"
    )
    timed_out = await Harness({"small": [ok(latency=5.0)], "large": []}, policy=policy).outcome(
        deadline=1.0
    )
    assert isinstance(timed_out, DeadlineExceeded)
    assert str(timed_out) == "deadline reached after 1 attempts"
    unavailable = await Harness(FAILING, policy=policy).outcome()
    assert isinstance(unavailable, Unavailable)
    assert str(unavailable) == "no model produced an acceptable answer (2 attempts, rule 'c')"
    assert unavailable.retry_after_s == 1.0


async def test_last_model_timing_out_returns_the_held_answer() -> None:
    """When the last stage times out, the rejected answer in hand is returned degraded;
    when it fails otherwise, the chain is exhausted and no rejected answer is returned."""
    policy = parse_policy(cascade_policy())
    timed_out = Harness({"small": [ok(BAD)], "large": [ok(latency=20.0)]}, policy=policy)
    result = await timed_out.route(deadline=5.0)
    assert (result.answer, result.model_id, result.degraded) == (BAD, "small", True)
    refused = Harness({"small": [ok(BAD)], "large": [fail(Outcome.CLIENT_ERROR)]}, policy=policy)
    assert isinstance(await refused.outcome(), Unavailable)


THREE = FleetView(
    [profile("small", 100_000), profile("medium", 200_000), profile("large", 1_000_000)]
)
THREE_STAGES = cascade_policy(
    "retry: {max_retries: 0}", stages="[{model: small}, {model: medium}, {model: large}]"
)


@pytest.mark.parametrize(
    ("small", "medium", "scores", "held"),
    [
        (
            "first answer",
            "second answer",
            {"first answer": 0.6, "second answer": 0.4},
            "first answer",
        ),
        (
            "first answer",
            "second answer",
            {"first answer": 0.4, "second answer": 0.6},
            "second answer",
        ),
        (
            "first answer",
            "second answer",
            {"first answer": 0.5, "second answer": 0.5},
            "first answer",
        ),
        ("", "second answer", {"": 0.9, "second answer": 0.1}, "second answer"),
    ],
)
async def test_the_best_rejected_answer_is_held(small, medium, scores, held) -> None:
    """Of the rejected answers the one with the highest verifier score is held (the first
    on a tie; an empty answer never), and returned when the last stage times out."""
    harness = Harness(
        {"small": [ok(small)], "medium": [ok(medium)], "large": [ok(latency=20.0)]},
        policy=parse_policy(THREE_STAGES),
        fleet=THREE,
        verifier=ScoringVerifier(scores),
    )
    result = await harness.route(deadline=5.0)
    assert result.answer == held and result.degraded
    assert result.model_id == ("small" if held == small else "medium")
    assert result.attempts[0].score == scores[small]
    assert result.attempts[0].detail == "scripted: rejected"


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
