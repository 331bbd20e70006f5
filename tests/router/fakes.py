"""Shared test doubles for the router's domain tests: a manual clock, model profiles,
and for ensembles timed models, a scoring verifier and a recording budget; scripted
providers and a verifier that records what it was asked."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from services.router.breakers import BreakerBoard
from services.router.estimates import OutcomeEstimates
from services.router.execution import AttemptBudget, Reservation, RouteExecutor, RouteResult
from services.router.fleet import FleetView, ModelProfile
from services.router.planning import RouteInput, plan_route
from services.router.providers.base import Completion, CompletionRequest, Outcome, Provider
from services.router.selection import BoundPredictor
from services.router.verification import (
    AnswerUnderReview,
    AnswerVerdict,
    AnswerVerifier,
    EmbeddedVerifier,
)
from switchyard.policy import Policy


class Clock:
    """A clock tests move by hand; `sleep` advances it instead of waiting."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


def profile(
    model_id: str,
    price: int,
    *,
    context_window: int = 8000,
    latency_p50_ms: int = 100,
    max_output_tokens: int = 1000,
    health: str = "unknown",
    capabilities: frozenset[str] = frozenset(),
    quality: Mapping[str, float] | None = None,
) -> ModelProfile:
    """A simulated model charging `price` µUSD per Mtok in and out."""
    return ModelProfile(
        model_id=model_id,
        provider_kind="simulator",
        endpoint="http://sim",
        upstream_model=model_id,
        credential_env="",
        input_micros_per_mtok=price,
        output_micros_per_mtok=price,
        context_window=context_window,
        max_output_tokens=max_output_tokens,
        capabilities=capabilities,
        quality=dict(quality or {}),
        latency_p50_ms=latency_p50_ms,
        health=health,
    )


class TimedModel:
    """Answers `text` after `delay_s` of real time (ensembles race on real time); counts
    its calls and the ones cancelled before they answered, and keeps every request."""

    def __init__(
        self,
        text: str,
        delay_s: float = 0.0,
        *,
        outcome: Outcome = Outcome.OK,
        tokens: tuple[int, int] = (10, 20),
    ) -> None:
        self.text = text
        self.delay_s = delay_s
        self.outcome = outcome
        self.tokens = tokens
        self.requests: list[CompletionRequest] = []
        self.cancelled = 0
        self.answered = 0

    @property
    def calls(self) -> int:
        return len(self.requests)

    async def complete(self, request: CompletionRequest) -> Completion:
        self.requests.append(request)
        try:
            await asyncio.sleep(min(self.delay_s, request.timeout_s))
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        if self.delay_s > request.timeout_s:
            return Completion(Outcome.TIMEOUT, latency_s=request.timeout_s)
        self.answered += 1
        if self.outcome not in (Outcome.OK, Outcome.TRUNCATED):
            return Completion(self.outcome, latency_s=self.delay_s, detail="scripted failure")
        return Completion(self.outcome, self.text, "stop", *self.tokens, self.delay_s)

    async def close(self) -> None:
        pass


class ScriptedProvider:
    """Returns scripted completions in order and advances the fake clock by their latency.

    A completion slower than the call's timeout becomes a TIMEOUT at the timeout, as a
    real provider's would. Every request is kept in `requests`, in call order.
    """

    def __init__(
        self, script: Iterator[Completion], clock: Clock, calls: list[str], name: str
    ) -> None:
        self._script = script
        self._clock = clock
        self._calls = calls
        self._name = name
        self.requests: list[CompletionRequest] = []

    async def complete(self, request: CompletionRequest) -> Completion:
        self._calls.append(self._name)
        self.requests.append(request)
        completion = next(self._script)
        if completion.latency_s > request.timeout_s:
            self._clock.now += request.timeout_s
            return Completion(Outcome.TIMEOUT, latency_s=request.timeout_s)
        self._clock.now += completion.latency_s
        return completion

    async def close(self) -> None:
        pass


class RankingVerifier:
    """Accepts every non-empty answer not listed in `reject`, scoring it from `scores`
    (default `default`), so ensemble tests choose the ranking."""

    def __init__(
        self,
        scores: Mapping[str, float] | None = None,
        *,
        reject: frozenset[str] = frozenset(),
        default: float = 0.5,
    ) -> None:
        self.scores = dict(scores or {})
        self.reject = reject
        self.default = default
        self.ranked: list[str] = []
        self.verified: list[str] = []

    def _verdict(self, answer: AnswerUnderReview) -> AnswerVerdict:
        score = self.scores.get(answer.output, self.default)
        if not answer.output or answer.output in self.reject:
            return AnswerVerdict(False, score, "scripted rejection")
        return AnswerVerdict(True, score, "")

    async def verify(self, answer: AnswerUnderReview, *, timeout_s: float) -> AnswerVerdict:
        self.verified.append(answer.output)
        return self._verdict(answer)

    async def rank(
        self, answers: Sequence[AnswerUnderReview], *, timeout_s: float
    ) -> list[AnswerVerdict]:
        self.ranked.extend(a.output for a in answers)
        return [self._verdict(a) for a in answers]


@dataclass
class RecordingBudget:
    """An AttemptBudget that grants (unless `refuse`) and records every call."""

    refuse: bool = False
    reserved: list[int] = field(default_factory=list)
    settled: list[tuple[str, int]] = field(default_factory=list)
    released: list[str] = field(default_factory=list)

    async def reserve(self, worst_case_micros: int) -> Reservation | None:
        if self.refuse:
            return None
        self.reserved.append(worst_case_micros)
        return Reservation(f"r{len(self.reserved)}", worst_case_micros)

    async def settle(self, reservation: Reservation, actual_micros: int) -> None:
        self.settled.append((reservation.key, actual_micros))

    def release(self, reservation: Reservation) -> None:
        self.released.append(reservation.key)

    @property
    def outstanding(self) -> set[str]:
        """Reservations neither settled nor released: leaked."""
        done = {key for key, _ in self.settled} | set(self.released)
        return {f"r{i + 1}" for i in range(len(self.reserved))} - done


def real_time_executor(
    models: Mapping[str, Provider],
    verifier: AnswerVerifier,
    *,
    breakers: BreakerBoard | None = None,
    estimates: OutcomeEstimates | None = None,
) -> RouteExecutor:
    """An executor on the real clock and sleep, over `models` by id."""
    return RouteExecutor(
        provider_for=lambda p: models[p.model_id],
        verifier=verifier,
        breakers=breakers or BreakerBoard(),
        rng=lambda: 0.0,
        estimates=estimates,
    )


async def route(
    executor: RouteExecutor,
    policy: Policy,
    fleet: FleetView,
    request: RouteInput,
    *,
    deadline_s: float = 10.0,
    budget: AttemptBudget | None = None,
    breakers: BreakerBoard | None = None,
    predictor: BoundPredictor | None = None,
) -> RouteResult:
    """Plan (the executor's breakers) and execute on the real clock."""
    board = breakers or executor._breakers
    plan = plan_route(
        policy=policy,
        request=request,
        fleet=fleet,
        breaker_state=lambda m: board.get(m).state,
        remaining_ms=deadline_s * 1000,
        predictor=predictor,
    )
    deadline = time.monotonic() + deadline_s
    if budget is None:
        return await executor.execute(plan, request, policy, deadline=deadline)
    return await executor.execute(plan, request, policy, deadline=deadline, budget=budget)


class RecordingVerifier:
    """The embedded verifier (the real check library), keeping every answer it judged."""

    def __init__(self) -> None:
        self._inner = EmbeddedVerifier()
        self.answers: list[AnswerUnderReview] = []
        self.timeouts: list[float] = []

    async def verify(self, answer: AnswerUnderReview, *, timeout_s: float) -> AnswerVerdict:
        self.answers.append(answer)
        self.timeouts.append(timeout_s)
        return await self._inner.verify(answer, timeout_s=timeout_s)


class ScoringVerifier:
    """Rejects every answer with the score scripted for its text (0.0 when not listed)."""

    def __init__(self, scores: Mapping[str, float]) -> None:
        self._scores = scores

    async def verify(self, answer: AnswerUnderReview, *, timeout_s: float) -> AnswerVerdict:
        return AnswerVerdict(False, self._scores.get(answer.output, 0.0), "scripted: rejected")


class RecordingReviewQueue:
    """Files human-review tickets in memory: each ticket's fields, numbered rev-1, rev-2..."""

    def __init__(self) -> None:
        self.tickets: list[dict[str, object]] = []

    async def file(self, **ticket: object) -> str:
        self.tickets.append(ticket)
        return f"rev-{len(self.tickets)}"
