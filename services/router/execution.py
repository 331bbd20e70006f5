"""Execution: run a plan's chain until an answer is accepted, and always end.

Every loop here is bounded by the plan (finite stages) and the stage retry limits;
each attempt's timeout is cut from what remains of the deadline; the budget is checked
against an attempt's worst-case cost before it starts. When the chain is exhausted
the request degrades (a held answer, the policy's static answer) or ends with a typed
error.
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from services.router.attempt_budget import AttemptBudget
from services.router.breakers import BreakerBoard, BreakerState
from services.router.estimates import OutcomeEstimates
from services.router.fleet import ModelProfile
from services.router.plan import Candidate, DropReason, RouteInput, RoutePlan
from services.router.providers.base import Completion, CompletionRequest, Outcome, Provider
from services.router.retry import RetryThrottle, backoff_s
from services.router.review import ReviewQueue
from services.router.verification import AnswerUnderReview, AnswerVerifier
from switchyard.policy import Policy
from switchyard.runtime.errors import DeadlineExceeded, ResourceExhausted, Unavailable

# An attempt with less time than this left would only time out; don't start it.
MIN_ATTEMPT_S = 0.005
# Breaker health signals: a 4xx is a request problem, not a sick model.
_MODEL_FAILURES = frozenset(
    {
        Outcome.TIMEOUT,
        Outcome.RATE_LIMITED,
        Outcome.SERVER_ERROR,
        Outcome.CONNECTION_ERROR,
        Outcome.MALFORMED,
    }
)
_ANSWERED = frozenset({Outcome.OK, Outcome.TRUNCATED})
BREAKER_REFUSED = "breaker open"


@dataclass
class PanicRoutes:
    """Routes served in panic mode (exported as a metric)."""

    count: int = 0


PANICS = PanicRoutes()


class Verdict(enum.Enum):
    ACCEPT = "accept"
    REJECT = "reject"
    NOT_VERIFIED = "not_verified"


class StopReason(enum.Enum):
    EXHAUSTED = "exhausted"
    BUDGET = "budget"
    DEADLINE = "deadline"


@dataclass(frozen=True)
class AttemptRecord:
    model_id: str
    stage: int
    retry: int
    # An Outcome value, or "skipped" when the attempt was not made.
    outcome: str
    latency_ms: float = 0.0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_micros: int = 0
    verdict: Verdict = Verdict.NOT_VERIFIED
    detail: str = ""
    breaker_state: BreakerState = BreakerState.CLOSED
    score: float = 0.0


@dataclass
class RouteResult:
    answer: str
    model_id: str
    finish_reason: str
    attempts: list[AttemptRecord]
    total_cost_micros: int
    escalations: int
    degraded: bool = False
    input_tokens: int = 0
    output_tokens: int = 0
    review_ticket_id: str = ""
    # Served in panic mode: every allowed model's breaker refused, one was called anyway.
    panic: bool = False


@dataclass
class _HeldAnswer:
    """A rejected answer kept in case the chain cannot afford anything better."""

    text: str
    model_id: str
    finish_reason: str
    score: float


@dataclass
class _Run:
    plan: RoutePlan
    request: RouteInput
    deadline: float
    attempts: list[AttemptRecord] = field(default_factory=list)
    spent: int = 0
    held: _HeldAnswer | None = None
    stop: StopReason = StopReason.EXHAUSTED
    last_outcome: Outcome | None = None
    stages_called: set[int] = field(default_factory=set)
    # Admit past refusing breakers: every model of the rule is refused (panic mode).
    panic: bool = False
    # A spend limit beyond the request's own (the tenant's window): reserved per attempt.
    budget: AttemptBudget | None = None

    @property
    def refused_everywhere(self) -> bool:
        """No model was called: every stage was skipped by its breaker (open, out of
        probes or ramping up), and neither the budget nor the deadline stopped it."""
        return (
            not self.stages_called
            and self.stop is StopReason.EXHAUSTED
            and bool(self.attempts)
            and all(a.detail == BREAKER_REFUSED for a in self.attempts)
        )

    def result(self, answer: str, model_id: str, finish: str, *, degraded: bool) -> RouteResult:
        return RouteResult(
            answer=answer,
            model_id=model_id,
            finish_reason=finish,
            attempts=self.attempts,
            total_cost_micros=self.spent,
            escalations=max(0, len(self.stages_called) - 1),
            degraded=degraded,
            input_tokens=sum(a.input_tokens for a in self.attempts),
            output_tokens=sum(a.output_tokens for a in self.attempts),
            panic=self.panic,
        )


def _stop_for_dropped(plan: RoutePlan) -> StopReason:
    """A stage planning dropped for budget or deadline means the chain was cut short,
    not exhausted: that picks the fallback and the typed error."""
    dropped = [c.drop for c in plan.candidates if not c.kept]
    if DropReason.BUDGET in dropped:
        return StopReason.BUDGET
    if DropReason.DEADLINE in dropped:
        return StopReason.DEADLINE
    return StopReason.EXHAUSTED


ProviderFor = Callable[[ModelProfile], Provider]


class RouteExecutor:
    def __init__(
        self,
        *,
        provider_for: ProviderFor,
        verifier: AnswerVerifier,
        breakers: BreakerBoard,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: Callable[[], float] = random.random,
        review: ReviewQueue | None = None,
        estimates: OutcomeEstimates | None = None,
    ) -> None:
        self._estimates = estimates
        self._provider_for = provider_for
        self._verifier = verifier
        self._breakers = breakers
        self._clock = clock
        self._sleep = sleep
        self._rng = rng
        self._review = review
        self._throttles: dict[str, RetryThrottle] = {}

    def _throttle(self, model_id: str, policy: Policy) -> RetryThrottle:
        throttle = self._throttles.get(model_id)
        if throttle is None:
            throttle = self._throttles[model_id] = RetryThrottle(policy.retry)
        elif throttle.settings != policy.retry:
            throttle.reconfigure(policy.retry)  # a new policy version takes effect
        return throttle

    async def execute(
        self,
        plan: RoutePlan,
        request: RouteInput,
        policy: Policy,
        *,
        deadline: float,
        budget: AttemptBudget | None = None,
    ) -> RouteResult:
        run = _Run(plan, request, deadline, panic=plan.panic, budget=budget)
        accepted = await self._run_chain(run, policy)
        if accepted is None and not run.panic and run.refused_everywhere:
            # Every breaker refused (ramping up, out of probes): one more pass that
            # admits anyway beats degrading the whole rule's traffic.
            run.panic = True
            accepted = await self._run_chain(run, policy)
        if run.panic:
            PANICS.count += 1
        if accepted is not None:
            return accepted
        if run.stop is StopReason.EXHAUSTED:
            run.stop = _stop_for_dropped(plan)
        return await self._degrade(run, policy)

    async def _run_chain(self, run: _Run, policy: Policy) -> RouteResult | None:
        for candidate in run.plan.chain:
            accepted = await self._run_stage(run, candidate, policy)
            if self._estimates is not None and candidate.stage_index in run.stages_called:
                self._estimates.record_stage(
                    candidate.model_id, run.request.task_type, accepted=accepted is not None
                )
            if accepted is not None or run.stop is not StopReason.EXHAUSTED:
                return accepted
        return None

    async def _run_stage(
        self, run: _Run, candidate: Candidate, policy: Policy
    ) -> RouteResult | None:
        """Attempts on one stage; returns a result when an answer is accepted."""
        assert candidate.profile is not None  # kept candidates always carry a profile
        profile = candidate.profile
        max_retries = (
            candidate.stage.max_retries
            if candidate.stage.max_retries is not None
            else policy.retry.max_retries
        )
        breaker = self._breakers.get(profile.model_id)
        throttle = self._throttle(profile.model_id, policy)
        temperature = 0.7
        for retry in range(max_retries + 1):
            remaining = run.deadline - self._clock()
            if remaining <= MIN_ATTEMPT_S:
                run.stop = StopReason.DEADLINE
                return None
            if run.spent + candidate.max_cost_micros > run.plan.budget_micros:
                run.stop = StopReason.BUDGET
                run.attempts.append(self._skipped(candidate, retry, breaker.state, "over budget"))
                return None
            reservation = None
            if run.budget is not None:
                reservation = await run.budget.reserve(candidate.max_cost_micros)
                if reservation is None:
                    run.stop = StopReason.BUDGET
                    detail = "over tenant budget"
                    run.attempts.append(self._skipped(candidate, retry, breaker.state, detail))
                    return None
            admission = breaker.admit(panic=run.panic)
            if admission is None:
                if reservation is not None and run.budget is not None:
                    run.budget.release(reservation)
                run.attempts.append(self._skipped(candidate, retry, breaker.state, BREAKER_REFUSED))
                return None
            run.stages_called.add(candidate.stage_index)
            timeout = remaining
            if candidate.stage.timeout_ms is not None:
                timeout = min(timeout, candidate.stage.timeout_ms / 1000.0)
            try:
                completion = await self._call(run, profile, candidate, timeout, temperature)
            except BaseException:
                # Cancelled (client deadline, disconnect) before an outcome: a probe slot
                # kept here would wedge the breaker half-open for good, and a reservation
                # would hold the tenant's money until its lease ran out.
                breaker.release(admission)
                if reservation is not None and run.budget is not None:
                    run.budget.release(reservation)
                raise
            failed = completion.outcome in _MODEL_FAILURES
            breaker.record(success=not failed, duration_s=completion.latency_s)
            throttle.record(success=not failed)
            run.last_outcome = completion.outcome
            cost = profile.cost_micros(completion.input_tokens, completion.output_tokens)
            run.spent += cost
            if reservation is not None and run.budget is not None:
                await run.budget.settle(reservation, cost)
            base = AttemptRecord(
                model_id=profile.model_id,
                stage=candidate.stage_index,
                retry=retry,
                outcome=completion.outcome.value,
                latency_ms=completion.latency_s * 1000.0,
                input_tokens=completion.input_tokens,
                output_tokens=completion.output_tokens,
                cost_micros=cost,
                detail=completion.detail,
                breaker_state=breaker.state,
            )
            if completion.outcome in _ANSWERED:
                if self._estimates is not None:
                    self._estimates.record_latency(
                        profile.model_id, run.request.task_type, completion.latency_s * 1000.0
                    )
                return await self._judge(run, candidate, completion, base)
            run.attempts.append(base)
            if not (
                completion.outcome.retryable and retry < max_retries and throttle.allows_retry()
            ):
                return None
            delay = backoff_s(
                retry + 1, policy.retry, rng=self._rng, retry_after_s=completion.retry_after_s
            )
            if self._clock() + delay >= run.deadline - MIN_ATTEMPT_S:
                return None  # the retry could not finish in time; escalate instead
            await self._sleep(delay)
            # A retry asks for a more deterministic answer.
            temperature = max(0.0, temperature / 2)
        return None

    async def _call(
        self,
        run: _Run,
        profile: ModelProfile,
        candidate: Candidate,
        timeout: float,
        temperature: float,
    ) -> Completion:
        provider = self._provider_for(profile)
        started = self._clock()
        completion = await provider.complete(
            CompletionRequest(
                upstream_model=profile.upstream_model,
                messages=run.request.messages,
                max_tokens=min(run.request.max_output_tokens, profile.max_output_tokens)
                if profile.max_output_tokens
                else run.request.max_output_tokens,
                timeout_s=timeout,
                temperature=temperature,
                json_mode=run.request.json_mode,
            )
        )
        if not completion.latency_s:
            completion = dataclasses.replace(completion, latency_s=self._clock() - started)
        return completion

    async def _judge(
        self, run: _Run, candidate: Candidate, completion: Completion, base: AttemptRecord
    ) -> RouteResult | None:
        rule = run.plan.rule
        remaining = run.deadline - self._clock()
        answer = AnswerUnderReview(
            prompt=run.request.prompt,
            task_type=run.request.task_type,
            output=completion.text,
            finish_reason=completion.finish_reason,
            checks=rule.checks,
            min_score=rule.min_score_for(
                candidate.stage, last=candidate.stage_index == run.plan.chain[-1].stage_index
            ),
        )
        verdict = await self._verifier.verify(answer, timeout_s=max(remaining, MIN_ATTEMPT_S))
        record = dataclasses.replace(
            base,
            verdict=Verdict.ACCEPT if verdict.accepted else Verdict.REJECT,
            score=verdict.score,
            detail=verdict.reason or base.detail,
        )
        run.attempts.append(record)
        if verdict.accepted:
            return run.result(
                completion.text, candidate.model_id, completion.finish_reason, degraded=False
            )
        if completion.text and (run.held is None or verdict.score > run.held.score):
            run.held = _HeldAnswer(
                completion.text, candidate.model_id, completion.finish_reason, verdict.score
            )
        return None

    @staticmethod
    def _skipped(
        candidate: Candidate, retry: int, state: BreakerState, detail: str
    ) -> AttemptRecord:
        return AttemptRecord(
            model_id=candidate.model_id,
            stage=candidate.stage_index,
            retry=retry,
            outcome="skipped",
            detail=detail,
            breaker_state=state,
        )

    async def _degrade(self, run: _Run, policy: Policy) -> RouteResult:
        # The chain could not afford to go on (or the last model timed out): a rejected
        # answer in hand beats none.
        cut_short = run.stop is not StopReason.EXHAUSTED or run.last_outcome is Outcome.TIMEOUT
        if cut_short and run.held is not None:
            held = run.held
            return run.result(held.text, held.model_id, held.finish_reason, degraded=True)
        if policy.degrade.human_review and self._review is not None:
            ticket = await self._review.file(
                rule=run.plan.rule.name,
                task_type=run.request.task_type,
                tenant=run.request.tenant,
                tier=run.request.tier,
                messages=[{"role": t.role, "content": t.content} for t in run.request.messages],
                attempts=len(run.attempts),
                reason=run.stop.value,
            )
            result = run.result(
                policy.degrade.static_answer or "", "", "human_review", degraded=True
            )
            result.review_ticket_id = ticket
            return result
        if policy.degrade.static_answer is not None:
            return run.result(policy.degrade.static_answer, "", "static", degraded=True)
        tried = len(run.attempts)
        if run.stop is StopReason.BUDGET:
            raise ResourceExhausted(
                f"budget of {run.plan.budget_micros} µUSD cannot pay for the next stage"
                f" (spent {run.spent} after {tried} attempts)"
            )
        if run.stop is StopReason.DEADLINE:
            raise DeadlineExceeded(f"deadline reached after {tried} attempts")
        raise Unavailable(
            f"no model produced an acceptable answer"
            f" ({tried} attempts, rule {run.plan.rule.name!r})",
            retry_after_s=1.0,
        )
