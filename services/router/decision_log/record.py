"""One Route() as a decision-log row: pure conversion from a finished RouteTrace.

The queryable facts (who, which rule and policy, outcome, money, time) are columns; the
candidates, the attempts and the captured text go in one JSON `detail` column, which the
query side reads back with `Decision.from_row`.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import grpc
import orjson

from services.router.execution import AttemptOutcome, AttemptRecord
from services.router.observers import RouteTrace
from services.router.plan import Candidate
from switchyard.router.v1 import router_pb2

# Text is kept only this long per message or answer, and only the last messages of a
# conversation (the last user turn is the prompt): the log's bound is for decisions,
# not for whole documents a client pasted in.
TEXT_MAX_CHARS = 4096
TEXT_MAX_MESSAGES = 4
REDACT_MARGIN_CHARS = 256


class DecisionOutcome(enum.StrEnum):
    ANSWERED = "answered"
    DEGRADED = "degraded"
    FAILED = "failed"


Redactor = Callable[[str], str]


# Plain slotted dataclasses on the write path: a frozen one's __init__ calls
# object.__setattr__ per field, which showed as a third of the cost of a record.
@dataclass(slots=True)
class ResponseFacts:
    """A RouteResponse's facts under its field names, copied on the request path for a
    row built later: by then a cached response object may be answering another request.
    A row built at once reads the proto itself."""

    model_id: str
    degraded: bool
    cache_hit: bool
    idempotent_replay: bool
    escalations: int
    total_cost_micros: int
    input_tokens: int
    output_tokens: int
    finish_reason: str
    answer: str


@dataclass(slots=True)
class PendingDecision:
    """A finished route waiting for its row."""

    trace: RouteTrace
    attempts: tuple[AttemptRecord, ...] | list[AttemptRecord]
    response: router_pb2.RouteResponse | ResponseFacts | None
    shadow_of: str = ""


def pending_from_trace(trace: RouteTrace, *, shadow_of: str = "", later: bool) -> PendingDecision:
    """What the row is built from. Built at once (`later` False), it reads the trace and
    the response as they are; for a row built `later` (with captured text, answer
    included), freeze what may still change or be shared first (the copy cost ~1.4 µs a
    decision on the request path)."""
    response = trace.response
    attempts = trace.result.attempts if trace.result is not None else trace.attempts
    if not later:
        return PendingDecision(trace, attempts, response, shadow_of)
    facts = None
    if response is not None:
        facts = ResponseFacts(
            model_id=response.model_id,
            degraded=response.degraded,
            cache_hit=response.cache_hit,
            idempotent_replay=response.idempotent_replay,
            escalations=response.escalations,
            total_cost_micros=response.total_cost_micros,
            input_tokens=response.input_tokens,
            output_tokens=response.output_tokens,
            finish_reason=response.finish_reason,
            answer=response.answer,
        )
    return PendingDecision(trace, tuple(attempts), facts, shadow_of)


@dataclass(slots=True)
class Decision:
    """One logged Route(), as stored and as read back (treat as immutable)."""

    request_id: str
    time_unix: float
    tenant: str
    tier: str
    task_type: str
    rule: str
    selector: str
    strategy: str
    policy_version: int
    canary: bool
    shadow: bool
    shadow_of: str
    outcome: DecisionOutcome
    # The gRPC status name the caller got: OK, UNAVAILABLE, DEADLINE_EXCEEDED, ...
    code: str
    error: str
    model_id: str
    attempts: int
    escalations: int
    expected_cost_micros: int | None
    expected_latency_ms: int | None
    cost_micros: int
    latency_ms: float
    slo_ms: int
    # None when no latency target applied (or the route never reached planning).
    slo_met: bool | None
    cache_hit: bool
    input_tokens: int
    output_tokens: int
    detail: Mapping[str, Any] = field(default_factory=dict)
    # Every model the route called or tried, then the one that answered.
    models: tuple[str, ...] = ()

    def row(self) -> tuple[Any, ...]:
        # Spaces around each name so `instr(models, ' m ')` matches whole names only.
        models = " " + " ".join(self.models) + " "
        return (
            self.request_id,
            self.time_unix,
            self.tenant,
            self.tier,
            self.task_type,
            self.rule,
            self.selector,
            self.strategy,
            self.policy_version,
            int(self.canary),
            int(self.shadow),
            self.shadow_of,
            self.outcome.value,
            self.code,
            self.error,
            self.model_id,
            models,
            self.attempts,
            self.escalations,
            self.expected_cost_micros,
            self.expected_latency_ms,
            self.cost_micros,
            self.latency_ms,
            self.slo_ms,
            None if self.slo_met is None else int(self.slo_met),
            int(self.cache_hit),
            self.input_tokens,
            self.output_tokens,
            orjson.dumps(self.detail),
        )

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Decision:
        slo_met = row["slo_met"]
        return cls(
            request_id=row["request_id"],
            time_unix=row["time_unix"],
            tenant=row["tenant"],
            tier=row["tier"],
            task_type=row["task_type"],
            rule=row["rule"],
            selector=row["selector"],
            strategy=row["strategy"],
            policy_version=row["policy_version"],
            canary=bool(row["canary"]),
            shadow=bool(row["shadow"]),
            shadow_of=row["shadow_of"],
            outcome=DecisionOutcome(row["outcome"]),
            code=row["code"],
            error=row["error"],
            model_id=row["model_id"],
            attempts=row["attempts"],
            escalations=row["escalations"],
            expected_cost_micros=row["expected_cost_micros"],
            expected_latency_ms=row["expected_latency_ms"],
            cost_micros=row["cost_micros"],
            latency_ms=row["latency_ms"],
            slo_ms=row["slo_ms"],
            slo_met=None if slo_met is None else bool(slo_met),
            cache_hit=bool(row["cache_hit"]),
            input_tokens=row["input_tokens"],
            output_tokens=row["output_tokens"],
            detail=orjson.loads(row["detail"]),
            models=tuple(row["models"].split()),
        )


@dataclass(frozen=True)
class TextCapture:
    """Prompt and answer text goes into the log only with this, through `redact`."""

    redact: Redactor

    def text(self, value: str) -> str:
        # Redact a little more than is kept, then cut: a cut at the limit could split
        # what a pattern must see, and redacting all of a long text costs the event loop.
        return self.redact(value[: TEXT_MAX_CHARS + REDACT_MARGIN_CHARS])[:TEXT_MAX_CHARS]


def _candidate(c: Candidate) -> dict[str, Any]:
    return {
        "model_id": c.model_id,
        "stage": c.stage_index,
        "kept": c.kept,
        "drop": c.drop,
        "reason": c.reason,
        # The worst case the budget check used, and the selector's expectations.
        "max_cost_micros": c.max_cost_micros,
        "expected_latency_ms": c.expected_latency_ms,
        "accept_probability": c.accept_probability,
        "quality_source": c.quality_source,
        "score": c.score,
    }


# Plain values for the row: an enum's .value and .name are Python-level properties,
# ~0.3 µs each on the request path.
_ANSWERED, _DEGRADED, _FAILED = (o.value for o in DecisionOutcome)
_CODE_NAMES = {code: code.name for code in grpc.StatusCode}


def _outcome(
    code: grpc.StatusCode, response: router_pb2.RouteResponse | ResponseFacts | None
) -> str:
    if code is not grpc.StatusCode.OK or response is None:
        return _FAILED
    return _DEGRADED if response.degraded else _ANSWERED


def decision_row(pending: PendingDecision, *, capture: TextCapture | None) -> tuple[Any, ...]:
    """The stored row for one finished route, in store.COLUMNS order (`Decision.from_row`
    reads it back). Built straight into the tuple, on the event loop after the route
    answered: a Decision object first, then its row, cost twice the time."""
    trace, response = pending.trace, pending.response
    request, plan = trace.request, trace.plan
    attempts = pending.attempts
    outcome = _outcome(trace.code, response)
    strategy = plan.rule.strategy.kind if plan else ""
    slo_ms = plan.slo_ms if plan is not None else (request.latency_slo_ms if request else 0)
    slo_met = None
    if slo_ms > 0:
        slo_met = int(outcome != _FAILED and trace.latency_ms <= slo_ms)
    detail: dict[str, Any] = {
        "candidates": [_candidate(c) for c in plan.candidates] if plan else [],
        # orjson writes the attempt dataclasses natively, in C; their enums are StrEnums,
        # which it writes as strings (a plain Enum's value is a Python-level lookup).
        "attempts": attempts,
    }
    if plan is not None:
        detail["expected_quality"] = plan.expected_quality
        detail["budget_micros"] = plan.budget_micros
        if plan.panic:
            detail["panic"] = True
    if response is not None:
        detail["finish_reason"] = response.finish_reason
        if response.idempotent_replay:
            detail["idempotent_replay"] = True
        model_id, cost, tokens_in, tokens_out = (
            response.model_id,
            response.total_cost_micros,
            response.input_tokens,
            response.output_tokens,
        )
        escalations, cache_hit = response.escalations, response.cache_hit
    else:
        model_id, cache_hit = "", False
        cost = sum(a.cost_micros for a in attempts)
        tokens_in = sum(a.input_tokens for a in attempts)
        tokens_out = sum(a.output_tokens for a in attempts)
        escalations = _escalations(attempts, strategy)
    result = trace.result
    if result is not None:
        if result.hedged:
            detail["hedged"] = True
        if result.agreement:
            detail["agreement"] = result.agreement
        if result.review_ticket_id:
            detail["review_ticket_id"] = result.review_ticket_id
    if capture is not None and request is not None:
        detail["messages"] = [
            {"role": t.role, "content": capture.text(t.content)}
            for t in request.messages[-TEXT_MAX_MESSAGES:]
        ]
        if response is not None and response.answer:
            detail["answer"] = capture.text(response.answer)
    if request is not None and request.metadata:
        detail["metadata"] = dict(request.metadata)
    return (
        trace.request_id,
        trace.started_unix_s,
        request.tenant if request else "",
        request.tier if request else "",
        request.task_type if request else "",
        trace.rule,
        plan.selector if plan else "",
        strategy,
        trace.policy_version,
        int(trace.canary),
        int(bool(pending.shadow_of)),
        pending.shadow_of,
        outcome,
        _CODE_NAMES[trace.code],
        trace.error,
        model_id,
        _models(attempts, model_id),
        len(attempts),
        escalations,
        plan.expected_cost_micros if plan else None,
        plan.expected_latency_ms if plan else None,
        cost,
        trace.latency_ms,
        slo_ms,
        slo_met,
        int(cache_hit),
        tokens_in,
        tokens_out,
        orjson.dumps(detail),
    )


def _models(attempts: Sequence[AttemptRecord], answered_by: str) -> str:
    """Every model the route called or tried, then the one that answered, with spaces
    around each name so `instr(models, ' m ')` matches whole names only."""
    if len(attempts) == 1 and attempts[0].model_id == answered_by:
        return f" {answered_by} "  # the common route: one call that answered
    seen = dict.fromkeys(a.model_id for a in attempts)
    if answered_by:
        seen.setdefault(answered_by)
    return " " + " ".join(seen) + " "


def _escalations(attempts: Sequence[AttemptRecord], strategy: str) -> int:
    """Stages called after the first, for a route that failed (no RouteResult), counted
    as `Run.result` counts them: ensemble members are not escalations."""
    if strategy in ("parallel", "vote"):
        return 0
    called = {a.stage for a in attempts if a.outcome is not AttemptOutcome.SKIPPED}
    return max(0, len(called) - 1)
