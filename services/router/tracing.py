"""The router's spans and what they say, in the domain's words.

    route            one Route() (a child of the RPC's server span)
      selection      planning: rule, selector, the chain chosen, what was dropped
      attempt        one call to one model (a retry is another attempt)
        provider.http  the HTTP POST; its traceparent reaches the provider
        verification   the verdict (a remote verifier's span joins as its child)

Every helper is a no-op outside a traced request (switchyard.runtime.tracing): callers
pay one context-variable read per helper when tracing is off.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager
from typing import Any, ParamSpec, TypeVar

from opentelemetry.trace import Span

from services.router.execution.records import AttemptRecord, Verdict
from services.router.plan import Candidate, RoutePlan
from switchyard.router.v1 import router_pb2
from switchyard.runtime import tracing

P = ParamSpec("P")
S = TypeVar("S")


def traced_route(
    route: Callable[[S, router_pb2.RouteRequest, Any], Awaitable[router_pb2.RouteResponse]],
) -> Callable[[S, router_pb2.RouteRequest, Any], Awaitable[router_pb2.RouteResponse]]:
    """`RouterServicer.Route` inside the route span, annotated from its response."""

    @functools.wraps(route)
    async def traced(
        self: S, request: router_pb2.RouteRequest, context: Any
    ) -> router_pb2.RouteResponse:
        if not tracing.active():  # off: not even the no-op context (it costs ~0.5 µs)
            return await route(self, request, context)
        with tracing.span("route") as current:
            response = await route(self, request, context)
            annotate_route(current, response)
        return response

    return traced


def traced_selection(plan: Callable[P, RoutePlan]) -> Callable[P, RoutePlan]:
    """Planning inside the selection span, annotated with the plan it made."""

    @functools.wraps(plan)
    def traced(*args: P.args, **kwargs: P.kwargs) -> RoutePlan:
        if not tracing.active():
            return plan(*args, **kwargs)
        with tracing.span("selection") as current:
            made = plan(*args, **kwargs)
            annotate_plan(current, made)
        return made

    return traced


def annotate_route(current: Span | None, response: router_pb2.RouteResponse) -> None:
    """What the route decided, from the response the client gets."""
    if current is None:
        return
    if response.request_id:  # joins the trace to the request's decision record
        current.set_attribute("switchyard.request_id", response.request_id)
    current.set_attributes(
        {
            "switchyard.rule": response.rule,
            "switchyard.strategy": response.strategy,
            "switchyard.policy_version": response.policy_version,
            "switchyard.model": response.model_id,
            "switchyard.attempts": len(response.attempts),
            "switchyard.escalations": response.escalations,
            "switchyard.cost_micros": response.total_cost_micros,
            "switchyard.latency_ms": response.total_latency_ms,
            "switchyard.degraded": response.degraded,
            "switchyard.cache_hit": response.cache_hit,
            "switchyard.idempotent_replay": response.idempotent_replay,
        }
    )


def annotate_plan(current: Span | None, plan: RoutePlan) -> None:
    if current is None:
        return
    dropped = [f"{c.model_id}:{c.drop.value}" for c in plan.candidates if not c.kept]
    current.set_attributes(
        {
            "switchyard.rule": plan.rule.name,
            "switchyard.selector": plan.selector,
            "switchyard.chain": [c.model_id for c in plan.chain],
            "switchyard.dropped": dropped,
            "switchyard.expected_cost_micros": plan.expected_cost_micros,
            "switchyard.expected_latency_ms": plan.expected_latency_ms,
            "switchyard.expected_quality": plan.expected_quality,
            "switchyard.panic": plan.panic,
        }
    )


def attempt_span(candidate: Candidate, retry: int) -> AbstractContextManager[Span | None]:
    if not tracing.active():
        return tracing.span("attempt")  # the shared no-op: no attribute dict built
    return tracing.span(
        "attempt",
        {
            "switchyard.model": candidate.model_id,
            "switchyard.stage": candidate.stage_index,
            "switchyard.retry": retry,
        },
    )


def annotate_attempt(record: AttemptRecord) -> None:
    """How the current attempt ended (called again once the verdict is in)."""
    if not tracing.active():
        return
    attributes: dict[str, str | int | float] = {
        "switchyard.outcome": record.outcome.value,
        "switchyard.verdict": record.verdict.value,
        "switchyard.latency_ms": round(record.latency_ms, 3),
        "switchyard.input_tokens": record.input_tokens,
        "switchyard.output_tokens": record.output_tokens,
        "switchyard.cost_micros": record.cost_micros,
        "switchyard.breaker_state": record.breaker_state.value,
    }
    if record.detail:
        attributes["switchyard.detail"] = record.detail[:200]
    if record.verdict is not Verdict.NOT_VERIFIED:
        attributes["switchyard.score"] = record.score
    tracing.annotate(attributes)
