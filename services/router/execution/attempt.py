"""The shared attempt step: one call to one model, from admission to the attempt record.

Every executor (cascade, parallel, vote, hedge) calls models only through
`AttemptRunner.attempt`, which in order: stops at the deadline; checks the request's
budget against the attempt's worst case (and holds it while the call is in flight);
reserves from the shared budget hook; asks the model's breaker (one call past a refusal
per route in panic mode); calls the provider with a timeout cut from the remaining
deadline and the stage's timeout_ms; records the outcome with the breaker, the retry
throttle and the online estimates; settles the reservation with the actual cost;
verifies the answer; and appends the attempt record.

Cancellation (another member won, the client hung up) can land on any await. Before the
call ends it gives back the breaker's probe slot and the budget reservation and records
the attempt as CANCELLED; after it, the record is already in the trace and the
settlement runs to its end (shielded).
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from services.router.breakers import Admission, Breaker, BreakerBoard
from services.router.estimates import OutcomeEstimates
from services.router.execution.budget import UNLIMITED, Reservation
from services.router.execution.judging import MIN_ATTEMPT_S, judge
from services.router.execution.records import Answer, AttemptOutcome, AttemptRecord, Verdict
from services.router.execution.run import BREAKER_REFUSED, Run, StopReason
from services.router.fleet import ModelProfile
from services.router.plan import Candidate, RouteInput
from services.router.providers.base import Completion, CompletionRequest, Outcome, Provider
from services.router.retry import CallParams, RetryThrottle, RetryThrottles
from services.router.tracing import annotate_attempt, attempt_span
from services.router.verification import AnswerVerifier
from switchyard.runtime import tracing

# Breaker health signals: a 4xx is a request problem, not a sick model.
MODEL_FAILURES = frozenset(
    {
        Outcome.TIMEOUT,
        Outcome.RATE_LIMITED,
        Outcome.SERVER_ERROR,
        Outcome.CONNECTION_ERROR,
        Outcome.MALFORMED,
    }
)
ANSWERED = frozenset({Outcome.OK, Outcome.TRUNCATED})

ProviderFor = Callable[[ModelProfile], Provider]


@dataclass(frozen=True)
class Attempt:
    """How an attempt ended, for the stage loop: not made (deadline, budget, breaker),
    failed with a provider outcome, or answered (accepted or rejected)."""

    made: bool
    outcome: Outcome | None = None
    answer: Answer | None = None
    retry_after_s: float | None = None


NOT_MADE = Attempt(made=False)


def worst_case_micros(candidate: Candidate, request: RouteInput, params: CallParams) -> int:
    """The plan's worst case for the stage, lowered when a retry asks for fewer tokens."""
    assert candidate.profile is not None
    shorter = candidate.profile.cost_micros(request.prompt_tokens, params.max_tokens)
    return min(candidate.max_cost_micros, shorter)


class AttemptRunner:
    def __init__(
        self,
        *,
        provider_for: ProviderFor,
        verifier: AnswerVerifier,
        breakers: BreakerBoard,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: Callable[[], float],
        estimates: OutcomeEstimates | None = None,
    ) -> None:
        self.clock = clock
        self.sleep = sleep
        self.rng = rng
        self.estimates = estimates
        self._provider_for = provider_for
        self._verifier = verifier
        self._breakers = breakers
        self._throttles = RetryThrottles()

    def throttle(self, run: Run, model_id: str) -> RetryThrottle:
        return self._throttles.get(model_id, run.policy.retry)

    def record_stage(self, run: Run, candidate: Candidate, *, accepted: bool) -> None:
        """A stage that called its model ended (not cancelled): feed the estimates."""
        if self.estimates is not None and candidate.stage_index in run.stages_called:
            self.estimates.record_stage(
                candidate.model_id, run.request.task_type, accepted=accepted
            )

    async def attempt(
        self,
        run: Run,
        candidate: Candidate,
        *,
        retry: int,
        params: CallParams,
        min_score: float,
        scored: bool = False,
    ) -> Attempt:
        """One attempt; `scored` asks the verifier for a ranking score (ensembles)."""
        remaining = run.deadline - self.clock()
        if remaining <= MIN_ATTEMPT_S:
            run.stop = StopReason.DEADLINE
            return NOT_MADE
        slot = _Slot(run, candidate, retry, self._breakers.get(candidate.model_id))
        if not tracing.active():  # off: not even the no-op context
            return await self._attempt(slot, params, min_score, scored, remaining)
        with attempt_span(candidate, retry):
            return await self._attempt(slot, params, min_score, scored, remaining)

    async def _attempt(
        self, slot: _Slot, params: CallParams, min_score: float, scored: bool, remaining: float
    ) -> Attempt:
        run, candidate = slot.run, slot.candidate
        worst = worst_case_micros(candidate, run.request, params)
        if not run.can_afford(worst):
            run.stop = StopReason.BUDGET
            return slot.skip("over budget")
        run.reserved += worst
        try:
            reservation = await run.budget.reserve(worst)
            if reservation is None:
                run.stop = StopReason.BUDGET
                return slot.skip("shared budget refused")
            admission = _admit(run, slot.breaker)
            if admission is None:
                run.budget.release(reservation)
                return slot.skip(BREAKER_REFUSED)
            run.stages_called.add(candidate.stage_index)
            completion = await self._call(slot, admission, reservation, params, remaining)
        finally:
            run.reserved -= worst
        return await self._conclude(slot, reservation, completion, min_score, scored)

    async def _call(
        self,
        slot: _Slot,
        admission: Admission,
        reservation: Reservation,
        params: CallParams,
        remaining: float,
    ) -> Completion:
        run, profile = slot.run, slot.profile
        timeout = remaining
        if slot.candidate.stage.timeout_ms is not None:
            timeout = min(timeout, slot.candidate.stage.timeout_ms / 1000.0)
        started = self.clock()
        try:
            completion = await self._provider_for(profile).complete(
                CompletionRequest(
                    upstream_model=profile.upstream_model,
                    messages=run.request.messages,
                    max_tokens=params.max_tokens,
                    timeout_s=timeout,
                    temperature=params.temperature,
                    json_mode=run.request.json_mode,
                    stop=params.stop,
                )
            )
        except BaseException as exc:
            # Cancelled (another member won, client deadline, disconnect) before an
            # outcome: a probe slot kept here would wedge the breaker half-open for good,
            # and a reservation kept would hold money nobody spent.
            slot.breaker.release(admission)
            run.budget.release(reservation)
            if isinstance(exc, asyncio.CancelledError):
                cancelled = slot.record(
                    AttemptOutcome.CANCELLED,
                    latency_ms=(self.clock() - started) * 1000.0,
                    detail="cancelled before the model answered",
                )
                run.attempts.append(cancelled)
                annotate_attempt(cancelled)
            raise
        if not completion.latency_s:
            completion = dataclasses.replace(completion, latency_s=self.clock() - started)
        return completion

    async def _conclude(
        self,
        slot: _Slot,
        reservation: Reservation,
        completion: Completion,
        min_score: float,
        scored: bool,
    ) -> Attempt:
        """Record the outcome, settle, verify: from here on the attempt is in the trace."""
        run, model_id = slot.run, slot.candidate.model_id
        failed = completion.outcome in MODEL_FAILURES
        slot.breaker.record(success=not failed, duration_s=completion.latency_s)
        self.throttle(run, model_id).record(success=not failed)
        run.last_outcome = completion.outcome
        cost = slot.profile.cost_micros(completion.input_tokens, completion.output_tokens)
        run.spent += cost
        record = slot.record(
            AttemptOutcome.of(completion.outcome),
            latency_ms=completion.latency_s * 1000.0,
            input_tokens=completion.input_tokens,
            output_tokens=completion.output_tokens,
            cost_micros=cost,
            detail=completion.detail,
        )
        index = len(run.attempts)
        run.attempts.append(record)
        annotate_attempt(record)
        if run.budget is not UNLIMITED:
            # Shielded: a cancellation now must not leave the ledger half-settled. (The
            # shield's task costs a loop turn, so the no-op budget skips it.)
            await asyncio.shield(run.budget.settle(reservation, cost))
        if completion.outcome not in ANSWERED:
            return Attempt(True, completion.outcome, retry_after_s=completion.retry_after_s)
        if self.estimates is not None:
            self.estimates.record_latency(
                model_id, run.request.task_type, completion.latency_s * 1000.0
            )
        verdict = await judge(
            self._verifier, run, completion, min_score, scored=scored, clock=self.clock
        )
        record = run.attempts[index] = dataclasses.replace(
            record,
            verdict=Verdict.ACCEPT if verdict.accepted else Verdict.REJECT,
            score=verdict.score,
            detail=verdict.reason or record.detail,
        )
        annotate_attempt(record)
        answer = Answer(
            text=completion.text,
            model_id=model_id,
            finish_reason=completion.finish_reason,
            score=verdict.score,
            stage=slot.candidate.stage_index,
            accepted=verdict.accepted,
        )
        if not answer.accepted:
            run.hold(answer)
        return Attempt(True, completion.outcome, answer)


@dataclass(frozen=True)
class _Slot:
    """Where an attempt sits: its request, stage, retry number and the model's breaker."""

    run: Run
    candidate: Candidate
    retry: int
    breaker: Breaker

    @property
    def profile(self) -> ModelProfile:
        assert self.candidate.profile is not None  # kept candidates carry a profile
        return self.candidate.profile

    def record(self, outcome: AttemptOutcome, **values: Any) -> AttemptRecord:
        return AttemptRecord(
            model_id=self.candidate.model_id,
            stage=self.candidate.stage_index,
            retry=self.retry,
            outcome=outcome,
            breaker_state=self.breaker.state,
            **values,
        )

    def skip(self, detail: str) -> Attempt:
        skipped = self.record(AttemptOutcome.SKIPPED, detail=detail)
        self.run.attempts.append(skipped)
        annotate_attempt(skipped)
        return NOT_MADE


def _admit(run: Run, breaker: Breaker) -> Admission | None:
    admission = breaker.admit()
    if admission is None and run.panic and not run.panic_spent:
        # One call past a refusal per route is the panic; one per stage (or retry)
        # would multiply the load on a fleet that is refusing it.
        admission = breaker.admit(panic=True)
        run.panic_spent = admission is not None
    return admission
