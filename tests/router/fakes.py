"""Shared test doubles for the router's domain tests: a manual clock, model profiles,
scripted providers and a verifier that records what it was asked."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from services.router.fleet import ModelProfile
from services.router.providers.base import Completion, CompletionRequest, Outcome
from services.router.verification import AnswerUnderReview, AnswerVerdict, EmbeddedVerifier


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
