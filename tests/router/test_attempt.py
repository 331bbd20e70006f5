"""The shared attempt step (services/router/execution/attempt.py): the budget hook's
reserve/settle/release, breaker probes, and cancellation at every await."""

from __future__ import annotations

import asyncio
import time

import pytest

from services.router.breakers import BreakerBoard, BreakerSettings, BreakerState
from services.router.execution import AttemptOutcome, Verdict
from services.router.fleet import FleetView
from services.router.planning import RouteInput, plan_route
from services.router.providers.base import ChatTurn, Outcome
from services.router.verification import AnswerUnderReview, AnswerVerdict
from switchyard.policy import parse_policy
from switchyard.runtime.errors import ResourceExhausted, Unavailable
from tests.router.fakes import (
    Clock,
    RankingVerifier,
    RecordingBudget,
    TimedModel,
    profile,
    real_time_executor,
    route,
)

FLEET = FleetView([profile(m, 100_000) for m in ("a", "b", "c")])
REQUEST = RouteInput(messages=(ChatTurn("user", "hello"),), max_output_tokens=100, prompt_tokens=10)
WORST = FLEET.get("a").cost_micros(10, 100)  # type: ignore[union-attr]
SINGLE = parse_policy(
    "name: s\nretry: {max_retries: 0}\ndefault: {name: one, strategy: {kind: single, model: a}}"
)
PARALLEL = parse_policy(
    "name: p\nretry: {max_retries: 0}\n"
    "default: {name: fan, strategy: {kind: parallel, models: [a, b]}}"
)
SETTINGS = BreakerSettings(window_size=2, minimum_calls=2, open_wait_s=10, half_open_calls=1)


def half_open(board: BreakerBoard, clock: Clock, model: str) -> None:
    breaker = board.get(model)
    breaker.record(success=False, duration_s=0.01)
    breaker.record(success=False, duration_s=0.01)
    clock.now += SETTINGS.open_wait_s
    assert breaker.state is BreakerState.HALF_OPEN


async def test_a_finished_call_is_settled_with_its_actual_cost_and_never_released() -> None:
    """reserve(worst case) before the call, settle(actual) after it, nothing leaked."""
    budget = RecordingBudget()
    executor = real_time_executor({"a": TimedModel("fine")}, RankingVerifier())
    result = await route(executor, SINGLE, FLEET, REQUEST, budget=budget)
    assert budget.reserved == [WORST]
    assert budget.settled == [("r1", result.total_cost_micros)] and budget.released == []
    assert 0 < result.total_cost_micros <= WORST


async def test_a_refused_reservation_skips_the_call_and_is_resource_exhausted() -> None:
    """The shared budget says no: the model is never called and the request ends
    RESOURCE_EXHAUSTED, the attempt recorded as skipped."""
    model = TimedModel("fine")
    executor = real_time_executor({"a": model}, RankingVerifier())
    with pytest.raises(ResourceExhausted):
        await route(executor, SINGLE, FLEET, REQUEST, budget=RecordingBudget(refuse=True))
    assert model.calls == 0


async def test_a_breaker_refusal_gives_the_reservation_back() -> None:
    """Half-open with its one probe slot taken: the reservation made for the refused
    attempt is released, not leaked (then panic mode's one call past the refusal
    reserves and settles its own)."""
    clock = Clock()
    board = BreakerBoard(SETTINGS, clock=clock)
    half_open(board, clock, "a")
    assert board.get("a").admit() is not None  # someone else holds the probe
    budget = RecordingBudget()
    executor = real_time_executor({"a": TimedModel("fine")}, RankingVerifier(), breakers=board)
    result = await route(executor, SINGLE, FLEET, REQUEST, budget=budget)
    assert result.panic
    assert budget.released == ["r1"] and [k for k, _ in budget.settled] == ["r2"]
    assert not budget.outstanding


async def test_a_cancelled_member_releases_its_probe_and_its_reservation() -> None:
    """Parallel: b is half-open (one probe) and slow; a's top-scored answer wins and b's
    call is cancelled. b's probe slot is free again, its reservation released, a's
    settled, and b is in the trace as CANCELLED."""
    clock = Clock()
    board = BreakerBoard(SETTINGS, clock=clock)
    half_open(board, clock, "b")
    models = {"a": TimedModel("A", 0.01), "b": TimedModel("B", 5.0)}
    budget = RecordingBudget()
    executor = real_time_executor(models, RankingVerifier(default=1.0), breakers=board)
    result = await route(executor, PARALLEL, FLEET, REQUEST, budget=budget)
    assert result.model_id == "a" and models["b"].cancelled == 1
    cancelled = [a for a in result.attempts if a.model_id == "b"]
    assert [a.outcome for a in cancelled] == [AttemptOutcome.CANCELLED]
    assert cancelled[0].breaker_state is BreakerState.HALF_OPEN
    assert board.get("b").state is BreakerState.HALF_OPEN
    assert board.get("b").admit() is not None  # the probe slot came back
    assert len(budget.released) == 1 and len(budget.settled) == 1 and not budget.outstanding


async def test_cancelling_the_request_mid_call_releases_everything() -> None:
    """The client goes away during the call: the half-open probe and the reservation are
    given back and the execute() task ends cancelled."""
    clock = Clock()
    board = BreakerBoard(SETTINGS, clock=clock)
    half_open(board, clock, "a")
    model = TimedModel("never", 5.0)
    budget = RecordingBudget()
    executor = real_time_executor({"a": model}, RankingVerifier(), breakers=board)
    task = asyncio.create_task(route(executor, SINGLE, FLEET, REQUEST, budget=budget))
    while model.calls == 0:
        await asyncio.sleep(0.001)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert model.cancelled == 1
    assert budget.released == ["r1"] and not budget.outstanding
    assert board.get("a").admit() is not None


class HangingVerifier(RankingVerifier):
    async def verify(self, answer: AnswerUnderReview, *, timeout_s: float) -> AnswerVerdict:
        self.verified.append(answer.output)
        await asyncio.Event().wait()  # only cancellation ends it
        raise AssertionError("unreachable")


async def test_cancelled_during_verification_keeps_the_call_in_the_trace_and_settled() -> None:
    """The call ended and was paid for: a cancellation while verifying leaves it settled
    (never released) and its breaker outcome recorded."""
    board = BreakerBoard(SETTINGS)
    verifier = HangingVerifier()
    budget = RecordingBudget()
    executor = real_time_executor({"a": TimedModel("fine")}, verifier, breakers=board)
    plan = plan_route(
        policy=SINGLE,
        request=REQUEST,
        fleet=FLEET,
        breaker_state=lambda m: board.get(m).state,
        remaining_ms=10_000,
    )
    task = asyncio.create_task(
        executor.execute(plan, REQUEST, SINGLE, deadline=time.monotonic() + 10, budget=budget)
    )
    while not verifier.verified:
        await asyncio.sleep(0.001)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert len(budget.settled) == 1 and budget.released == []
    assert board.get("a").state is BreakerState.CLOSED


async def test_panic_mode_makes_one_call_past_the_breakers_per_route() -> None:
    """Every breaker open: the plan panics and the route makes a single call past a
    refusal (the first stage); the later stages are refused, not called too."""
    clock = Clock()
    board = BreakerBoard(SETTINGS, clock=clock)
    for model in ("a", "b", "c"):
        board.get(model).record(success=False, duration_s=0.01)
        board.get(model).record(success=False, duration_s=0.01)
    policy = parse_policy(
        "name: p\nretry: {max_retries: 1, base_backoff_ms: 1, max_backoff_ms: 1}\n"
        "default: {name: c, strategy: {kind: cascade, models: [a, b, c]}}"
    )
    models = {m: TimedModel("", 0.0, outcome=Outcome.SERVER_ERROR) for m in ("a", "b", "c")}
    executor = real_time_executor(models, RankingVerifier(), breakers=board)
    with pytest.raises(Unavailable):
        await route(executor, policy, FLEET, REQUEST)
    assert [m.calls for m in models.values()] == [1, 0, 0]


async def test_retries_of_a_stage_are_verified_once_per_answer() -> None:
    """A 5xx then an answer: two attempts in the trace, only the answer verified."""
    flaky = TimedModel("", 0.0, outcome=Outcome.SERVER_ERROR)
    policy = parse_policy(
        "name: p\nretry: {max_retries: 1, base_backoff_ms: 1, max_backoff_ms: 1}\n"
        "default: {name: one, strategy: {kind: single, model: a}}"
    )

    class ThenFine(TimedModel):
        async def complete(self, request):  # type: ignore[no-untyped-def]
            if not self.requests:
                self.requests.append(request)
                return await flaky.complete(request)
            return await super().complete(request)

    verifier = RankingVerifier()
    result = await route(
        real_time_executor({"a": ThenFine("fine")}, verifier), policy, FLEET, REQUEST
    )
    assert [a.outcome for a in result.attempts] == [AttemptOutcome.SERVER_ERROR, AttemptOutcome.OK]
    assert [a.verdict for a in result.attempts] == [Verdict.NOT_VERIFIED, Verdict.ACCEPT]
    assert verifier.verified == ["fine"]
