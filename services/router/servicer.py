"""RouterService glue: protos in, domain calls, protos out."""

from __future__ import annotations

import time

import grpc
import structlog

from services.router.breakers import BreakerBoard, BreakerState
from services.router.estimates import OutcomeEstimates
from services.router.execution import (
    AttemptOutcome,
    AttemptRecord,
    RouteExecutor,
    RouteResult,
    Verdict,
)
from services.router.planning import RouteInput, RoutePlan, plan_route
from services.router.state import ActivePolicy, RouterState
from services.router.tenants import TenantTokens
from services.router.validation import route_input
from switchyard.router.v1 import router_pb2, router_pb2_grpc
from switchyard.runtime.tokens import bearer_token

log = structlog.get_logger(__name__)

_OUTCOMES = {
    AttemptOutcome.OK: router_pb2.ATTEMPT_OUTCOME_OK,
    AttemptOutcome.TIMEOUT: router_pb2.ATTEMPT_OUTCOME_TIMEOUT,
    AttemptOutcome.RATE_LIMITED: router_pb2.ATTEMPT_OUTCOME_RATE_LIMITED,
    AttemptOutcome.SERVER_ERROR: router_pb2.ATTEMPT_OUTCOME_SERVER_ERROR,
    AttemptOutcome.CLIENT_ERROR: router_pb2.ATTEMPT_OUTCOME_CLIENT_ERROR,
    AttemptOutcome.CONNECTION_ERROR: router_pb2.ATTEMPT_OUTCOME_CONNECTION_ERROR,
    AttemptOutcome.MALFORMED: router_pb2.ATTEMPT_OUTCOME_MALFORMED,
    AttemptOutcome.TRUNCATED: router_pb2.ATTEMPT_OUTCOME_TRUNCATED,
    AttemptOutcome.SKIPPED: router_pb2.ATTEMPT_OUTCOME_SKIPPED,
    AttemptOutcome.CANCELLED: router_pb2.ATTEMPT_OUTCOME_CANCELLED,
}
_VERDICTS = {
    Verdict.ACCEPT: router_pb2.ATTEMPT_VERDICT_ACCEPT,
    Verdict.REJECT: router_pb2.ATTEMPT_VERDICT_REJECT,
    Verdict.NOT_VERIFIED: router_pb2.ATTEMPT_VERDICT_NOT_VERIFIED,
}
_BREAKERS = {
    BreakerState.CLOSED: router_pb2.BREAKER_STATE_CLOSED,
    BreakerState.OPEN: router_pb2.BREAKER_STATE_OPEN,
    BreakerState.HALF_OPEN: router_pb2.BREAKER_STATE_HALF_OPEN,
    BreakerState.FORCED_OPEN: router_pb2.BREAKER_STATE_FORCED_OPEN,
    BreakerState.FORCED_CLOSED: router_pb2.BREAKER_STATE_FORCED_CLOSED,
}


def attempt_proto(a: AttemptRecord) -> router_pb2.Attempt:
    return router_pb2.Attempt(
        model_id=a.model_id,
        stage=a.stage,
        retry=a.retry,
        outcome=_OUTCOMES[a.outcome],
        latency_ms=round(a.latency_ms),
        input_tokens=a.input_tokens,
        output_tokens=a.output_tokens,
        cost_micros=a.cost_micros,
        verdict=_VERDICTS[a.verdict],
        detail=a.detail,
        breaker_state=_BREAKERS[a.breaker_state],
        verifier_score=a.score,
    )


def sticky_key(request: RouteInput) -> str:
    """Who a canary split keeps together: the tenant, else the conversation's first turn."""
    return request.tenant or request.messages[0].content[:256]


class RouterServicer(router_pb2_grpc.RouterServiceServicer):
    def __init__(
        self,
        *,
        state: RouterState,
        executor: RouteExecutor,
        breakers: BreakerBoard,
        log_prompts: bool = False,
        estimates: OutcomeEstimates | None = None,
        tenants: TenantTokens | None = None,
    ) -> None:
        self._tenants = tenants
        self._estimates = estimates
        self._state = state
        self._executor = executor
        self._breakers = breakers
        self._log_prompts = log_prompts

    def _admit(self, request: router_pb2.RouteRequest, context: grpc.aio.ServicerContext) -> None:
        """With tenant tokens, the tenant and tier are the token's (tenants.py), set on the
        request before anything reads them; without, the request's are believed."""
        if self._tenants is not None:
            token = bearer_token(context.invocation_metadata())
            caller = self._tenants.admit(token, tenant=request.tenant, tier=request.tier)
            request.tenant = caller.tenant
            request.tier = caller.tier

    def _deadline(
        self, request: RouteInput, context: grpc.aio.ServicerContext, max_ms: int
    ) -> float:
        """Absolute monotonic deadline: the client's, capped by the policy maximum."""
        budget_s = max_ms / 1000.0
        client = context.time_remaining()
        if client is not None:
            budget_s = min(budget_s, client)
        return time.monotonic() + budget_s

    def _plan(self, request: RouteInput, active: ActivePolicy, deadline: float) -> RoutePlan:
        return plan_route(
            policy=active.policy,
            request=request,
            fleet=self._state.fleet,
            breaker_state=lambda model: self._breakers.get(model).state,
            remaining_ms=(deadline - time.monotonic()) * 1000.0,
            predictor=active.predictor,
            estimates=self._estimates,
        )

    async def Route(
        self, request: router_pb2.RouteRequest, context: grpc.aio.ServicerContext
    ) -> router_pb2.RouteResponse:
        started = time.monotonic()
        self._admit(request, context)
        route_in = route_input(request)
        active = self._state.policies.for_key(sticky_key(route_in))
        deadline = self._deadline(route_in, context, active.policy.max_deadline_ms)
        plan = self._plan(route_in, active, deadline)
        version = active.version
        result = await self._executor.execute(plan, route_in, active.policy, deadline=deadline)
        latency_ms = round((time.monotonic() - started) * 1000)
        self._log_decision(route_in, plan, version, result, latency_ms)
        return router_pb2.RouteResponse(
            answer=result.answer,
            model_id=result.model_id,
            rule=plan.rule.name,
            strategy=plan.rule.strategy.kind,
            policy_version=version,
            attempts=[attempt_proto(a) for a in result.attempts],
            total_cost_micros=result.total_cost_micros,
            total_latency_ms=latency_ms,
            input_tokens=result.input_tokens,
            output_tokens=result.output_tokens,
            degraded=result.degraded,
            escalations=result.escalations,
            finish_reason=result.finish_reason,
            review_ticket_id=result.review_ticket_id,
            panic=result.panic,
            agreement=result.agreement,
            hedged=result.hedged,
        )

    async def Plan(
        self, request: router_pb2.PlanRequest, context: grpc.aio.ServicerContext
    ) -> router_pb2.PlanResponse:
        self._admit(request.request, context)
        route_in = route_input(request.request)
        active = self._state.policies.for_key(sticky_key(route_in))
        deadline = self._deadline(route_in, context, active.policy.max_deadline_ms)
        plan = self._plan(route_in, active, deadline)
        version = active.version
        return router_pb2.PlanResponse(
            rule=plan.rule.name,
            strategy=plan.rule.strategy.kind,
            policy_version=version,
            candidates=[
                router_pb2.PlanCandidate(
                    model_id=c.model_id,
                    stage=c.stage_index,
                    kept=c.kept,
                    reason=c.reason,
                    expected_cost_micros=c.max_cost_micros,
                    expected_latency_ms=c.expected_latency_ms,
                    accept_probability=c.accept_probability,
                    quality_source=c.quality_source,
                    score=c.score or 0.0,
                    stage_acceptance=c.stage_acceptance,
                    outcomes_seen=c.outcomes_seen,
                    measured_latency_p95_ms=c.measured_latency_p95_ms,
                )
                for c in plan.candidates
            ],
            selector=plan.selector,
            expected_quality=plan.expected_quality,
            cascades=[
                router_pb2.PlanCascade(
                    model_ids=list(o.model_ids),
                    expected_cost_micros=o.expected_cost_micros,
                    expected_latency_ms=o.expected_latency_ms,
                    expected_quality=o.expected_quality,
                    chosen=o.chosen,
                    reason=o.reason,
                )
                for o in plan.cascades
            ],
            quality_floor_met=plan.quality_floor_met,
            panic=plan.panic,
            expected_cost_micros=plan.expected_cost_micros,
            expected_latency_ms=plan.expected_latency_ms,
            estimated_prompt_tokens=route_in.prompt_tokens,
            latency_slo_ms=plan.slo_ms,
            meets_slo=plan.meets_slo,
        )

    def _log_decision(
        self,
        request: RouteInput,
        plan: RoutePlan,
        version: int,
        result: RouteResult,
        latency_ms: int,
    ) -> None:
        extra = {"prompt": request.prompt} if self._log_prompts else {}
        log.info(
            "route.decided",
            rule=plan.rule.name,
            strategy=plan.rule.strategy.kind,
            selector=plan.selector,
            policy_version=version,
            model=result.model_id,
            attempts=len(result.attempts),
            escalations=result.escalations,
            cost_micros=result.total_cost_micros,
            latency_ms=latency_ms,
            slo_met=latency_ms <= plan.slo_ms,
            degraded=result.degraded,
            panic=result.panic,
            hedged=result.hedged,
            agreement=round(result.agreement, 3),
            task_type=request.task_type,
            tenant=request.tenant,
            tier=request.tier,
            **extra,
        )
