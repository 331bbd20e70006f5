"""The values execution produces: attempt records, answers, the route result."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from services.router.breakers import BreakerState
from services.router.providers.base import Outcome


class AttemptOutcome(enum.StrEnum):
    """How one attempt ended: a provider Outcome, or what the router did instead."""

    OK = "ok"
    TIMEOUT = "timeout"
    RATE_LIMITED = "rate_limited"
    SERVER_ERROR = "server_error"
    CLIENT_ERROR = "client_error"
    CONNECTION_ERROR = "connection_error"
    MALFORMED = "malformed"
    TRUNCATED = "truncated"
    # Not called: breaker, budget (the detail says which).
    SKIPPED = "skipped"
    # Called, then cancelled by the router: another ensemble member won, or the request
    # itself was cancelled.
    CANCELLED = "cancelled"

    @classmethod
    def of(cls, outcome: Outcome) -> AttemptOutcome:
        return cls(outcome.value)


class Verdict(enum.StrEnum):  # StrEnum: the decision log writes it as a string, in C
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
    outcome: AttemptOutcome
    latency_ms: float = 0.0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_micros: int = 0
    verdict: Verdict = Verdict.NOT_VERIFIED
    detail: str = ""
    breaker_state: BreakerState = BreakerState.CLOSED
    score: float = 0.0


@dataclass(frozen=True)
class Answer:
    """A model's answer as verified: accepted, or rejected and kept in case nothing
    better comes (a degraded answer beats none when the chain is cut short)."""

    text: str
    model_id: str
    finish_reason: str
    score: float
    stage: int
    accepted: bool


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
    # vote: the winning answer's share of the weight cast (0 for other strategies).
    agreement: float = 0.0
    # hedge: a second model was sent the request before the first answered.
    hedged: bool = False


_ATTEMPTS_ATTR = "switchyard_attempts"


def attach_attempts(exc: BaseException, attempts: list[AttemptRecord]) -> None:
    """Let a route that ends in an error still report what it tried (decision log)."""
    if not hasattr(exc, _ATTEMPTS_ATTR):
        setattr(exc, _ATTEMPTS_ATTR, tuple(attempts))


def attempts_of(exc: BaseException | None) -> tuple[AttemptRecord, ...]:
    """The attempts a failed route made: on the error, or on the one it was raised from."""
    while exc is not None:
        attempts = getattr(exc, _ATTEMPTS_ATTR, None)
        if attempts is not None:
            return attempts
        exc = exc.__cause__
    return ()


@dataclass
class PanicRoutes:
    """Routes served in panic mode (exported as a metric)."""

    count: int = 0


PANICS = PanicRoutes()
