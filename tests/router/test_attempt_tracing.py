"""The attempt step's spans (services/router/execution/attempt.py, judging.py and
services/router/tracing.py) with no servers: the executor runs inside a server span of
a Tracing that exports to the SDK's in-memory exporter."""

from __future__ import annotations

from collections.abc import Mapping

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from services.router.breakers import BreakerBoard, BreakerSettings
from services.router.execution import RouteResult
from services.router.fleet import FleetView
from services.router.planning import RouteInput
from services.router.providers.base import ChatTurn, Outcome, Provider
from switchyard.policy import Policy, parse_policy
from switchyard.runtime import tracing
from switchyard.runtime.tracing import Tracing
from tests.router.fakes import (
    Clock,
    RankingVerifier,
    TimedModel,
    profile,
    real_time_executor,
    route,
)

FLEET = FleetView([profile(m, 100_000) for m in ("a", "b")])
REQUEST = RouteInput(messages=(ChatTurn("user", "hello"),), max_output_tokens=100, prompt_tokens=10)
CASCADE = parse_policy(
    "name: c\nretry: {max_retries: 0}\n"
    "default: {name: up, strategy: {kind: cascade, stages: [{model: a}, {model: b}]}}"
)
PARALLEL = parse_policy(
    "name: p\nretry: {max_retries: 0}\n"
    "default: {name: fan, strategy: {kind: parallel, models: [a, b]}}"
)


async def traced_route(
    models: Mapping[str, Provider],
    policy: Policy,
    verifier: RankingVerifier,
    *,
    breakers: BreakerBoard | None = None,
) -> tuple[RouteResult, list[ReadableSpan]]:
    exporter = InMemorySpanExporter()
    executor = real_time_executor(models, verifier, breakers=breakers)
    with Tracing.to_exporter(exporter, service="router").server_span("rpc", None):
        result = await route(executor, policy, FLEET, REQUEST)
    return result, list(exporter.get_finished_spans())


def attempts_of(spans: list[ReadableSpan]) -> dict[str, ReadableSpan]:
    return {str(s.attributes["switchyard.model"]): s for s in spans if s.name == "attempt"}


def children(spans: list[ReadableSpan], parent: ReadableSpan, name: str) -> list[ReadableSpan]:
    return [
        s
        for s in spans
        if s.name == name and s.parent is not None and s.parent.span_id == parent.context.span_id
    ]


async def test_each_attempt_says_how_it_ended_and_holds_its_verification() -> None:
    """A rejected first stage and an accepted second: two attempt spans with model,
    stage, retry, outcome, verdict, score, tokens and cost matching the attempt records;
    each holds one verification span with the verdict."""
    verifier = RankingVerifier({"B": 0.9}, reject=frozenset({"A"}), default=0.2)
    models = {"a": TimedModel("A", tokens=(11, 22)), "b": TimedModel("B", tokens=(13, 26))}
    result, spans = await traced_route(models, CASCADE, verifier)
    assert result.model_id == "b"
    attempts = attempts_of(spans)
    for record in result.attempts:
        attributes = attempts[record.model_id].attributes
        assert attributes["switchyard.stage"] == record.stage
        assert attributes["switchyard.retry"] == record.retry == 0
        assert attributes["switchyard.outcome"] == "ok"
        assert attributes["switchyard.verdict"] == record.verdict.value
        assert attributes["switchyard.score"] == record.score
        assert attributes["switchyard.input_tokens"] == record.input_tokens
        assert attributes["switchyard.output_tokens"] == record.output_tokens
        assert attributes["switchyard.cost_micros"] == record.cost_micros > 0
        assert attributes["switchyard.breaker_state"] == "closed"
    assert attempts["a"].attributes["switchyard.verdict"] == "reject"
    assert attempts["a"].attributes["switchyard.detail"] == "scripted rejection"
    assert attempts["b"].attributes["switchyard.verdict"] == "accept"
    [rejected] = children(spans, attempts["a"], "verification")
    [accepted] = children(spans, attempts["b"], "verification")
    assert rejected.attributes["switchyard.accepted"] is False
    assert rejected.attributes["switchyard.reason"] == "scripted rejection"
    assert accepted.attributes["switchyard.accepted"] is True
    assert accepted.attributes["switchyard.score"] == 0.9
    assert accepted.attributes["switchyard.scored"] is False


async def test_a_failed_call_is_an_attempt_without_a_verification() -> None:
    """A 5xx-like outcome: the attempt says server_error, not verified, and no
    verification span was opened for it."""
    models = {"a": TimedModel("", outcome=Outcome.SERVER_ERROR), "b": TimedModel("B")}
    _, spans = await traced_route(models, CASCADE, RankingVerifier())
    attempts = attempts_of(spans)
    assert attempts["a"].attributes["switchyard.outcome"] == "server_error"
    assert attempts["a"].attributes["switchyard.verdict"] == "not_verified"
    assert "switchyard.score" not in attempts["a"].attributes
    assert children(spans, attempts["a"], "verification") == []


async def test_a_skipped_attempt_says_why() -> None:
    """a's breaker is half-open with its one probe taken: a's attempt span is outcome
    skipped with the reason and the breaker's state; b answers."""
    clock = Clock()
    board = BreakerBoard(
        BreakerSettings(window_size=2, minimum_calls=2, open_wait_s=10, half_open_calls=1),
        clock=clock,
    )
    for _ in range(2):
        board.get("a").record(success=False, duration_s=0.01)
    clock.now += 10
    assert board.get("a").admit() is not None  # someone else holds the probe
    models = {"a": TimedModel("A"), "b": TimedModel("B")}
    result, spans = await traced_route(models, CASCADE, RankingVerifier(), breakers=board)
    assert result.model_id == "b"
    skipped = attempts_of(spans)["a"].attributes
    assert skipped["switchyard.outcome"] == "skipped"
    assert skipped["switchyard.detail"] == "breaker open"
    assert skipped["switchyard.breaker_state"] == "half_open"


async def test_a_cancelled_ensemble_member_ends_its_span_as_cancelled() -> None:
    """Parallel: the slow member is cancelled once the fast one is ranked; its span
    still ends (outcome cancelled), and the winner's verification was scored."""
    models = {"a": TimedModel("A", 0.01), "b": TimedModel("B", 5.0)}
    result, spans = await traced_route(models, PARALLEL, RankingVerifier(default=1.0))
    assert result.model_id == "a"
    attempts = attempts_of(spans)
    assert attempts["b"].attributes["switchyard.outcome"] == "cancelled"
    [verification] = children(spans, attempts["a"], "verification")
    assert verification.attributes["switchyard.scored"] is True


async def test_outside_a_traced_request_the_attempt_step_makes_no_spans() -> None:
    """The same route with tracing off: nothing is exported, and the result is the same."""
    exporter = InMemorySpanExporter()
    Tracing.to_exporter(exporter, service="router")  # exists, but no request is in it
    models = {"a": TimedModel("A"), "b": TimedModel("B")}
    result = await route(real_time_executor(models, RankingVerifier()), CASCADE, FLEET, REQUEST)
    assert result.model_id == "a" and not tracing.active()
    assert exporter.get_finished_spans() == ()
