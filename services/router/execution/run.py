"""One request's execution state, shared by the attempt step and every executor."""

from __future__ import annotations

from dataclasses import dataclass, field

from services.router.execution.budget import UNLIMITED, AttemptBudget
from services.router.execution.records import (
    Answer,
    AttemptOutcome,
    AttemptRecord,
    RouteResult,
    StopReason,
)
from services.router.plan import RouteInput, RoutePlan
from services.router.providers.base import Outcome
from switchyard.policy import Policy

BREAKER_REFUSED = "breaker open"


@dataclass
class Run:
    plan: RoutePlan
    request: RouteInput
    policy: Policy
    deadline: float
    budget: AttemptBudget = UNLIMITED
    attempts: list[AttemptRecord] = field(default_factory=list)
    spent: int = 0
    # Worst-case cost of the attempts in flight: promised out of the request's budget,
    # so concurrent members (parallel, vote, hedge) cannot overspend it together.
    reserved: int = 0
    # The best rejected answer so far (a degraded answer beats none when cut short).
    held: Answer | None = None
    stop: StopReason = StopReason.EXHAUSTED
    last_outcome: Outcome | None = None
    stages_called: set[int] = field(default_factory=set)
    # Admit past refusing breakers: every model of the rule is refused (panic mode).
    panic: bool = False
    # The one call past a refusal a panic route may make has been made.
    panic_spent: bool = False
    # vote: the winner's share of the weight cast; hedge: a hedge was sent.
    agreement: float = 0.0
    hedged: bool = False
    # hedge: this request has been counted by its rule's hedge cap.
    hedge_counted: bool = False

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

    def can_afford(self, worst_case_micros: int) -> bool:
        return self.spent + self.reserved + worst_case_micros <= self.plan.budget_micros

    def hold(self, answer: Answer) -> None:
        if answer.text and (self.held is None or answer.score > self.held.score):
            self.held = answer

    def result(self, answer: str, model_id: str, finish: str, *, degraded: bool) -> RouteResult:
        escalates = self.plan.rule.strategy.kind not in ("parallel", "vote")
        return RouteResult(
            answer=answer,
            model_id=model_id,
            finish_reason=finish,
            attempts=self.attempts,
            total_cost_micros=self.spent,
            # Ensemble members are not escalations; a hedge or a fallback is.
            escalations=max(0, len(self.stages_called) - 1) if escalates else 0,
            degraded=degraded,
            input_tokens=sum(a.input_tokens for a in self.attempts),
            output_tokens=sum(a.output_tokens for a in self.attempts),
            panic=self.panic,
            agreement=self.agreement,
            hedged=self.hedged,
        )

    def cost_of_stage(self, stage_index: int) -> int:
        return sum(
            a.cost_micros
            for a in self.attempts
            if a.stage == stage_index and a.outcome is not AttemptOutcome.SKIPPED
        )
