"""RouterService glue: protos in, domain calls, protos out."""

from __future__ import annotations

import time
from collections.abc import Sequence

import grpc
import structlog

from services.router.breakers import BreakerBoard, BreakerState
from services.router.canary_key import sticky_key
from services.router.decision_log import DecisionLog
from services.router.estimates import OutcomeEstimates
from services.router.execution import (
    AttemptOutcome,
    AttemptRecord,
    RouteExecutor,
    RouteResult,
    Verdict,
    attempts_of,
)
from services.router.feedback import feedback_input
from services.router.feedback_peers import FeedbackPeers, PeerUnavailable, relayed
from services.router.idempotency import IdempotencyScope, IdempotencyStore, request_fingerprint
from services.router.observers import RouteObserver, RouteTrace, notify
from services.router.overload import OverloadGuard
from services.router.planning import DropReason, RouteInput, RoutePlan, plan_route
from services.router.response_cache import CachedAnswer, ResponseCache, cache_key
from services.router.spend_metrics import TENANT_BUDGET_STEERED, observe_token_estimate
from services.router.state import ActivePolicy, RouterState
from services.router.tenant_budget import (
    LEASE_GRACE_S,
    TenantAllowance,
    TenantAttemptBudget,
    TenantBudgets,
    quota_error,
)
from services.router.tenants import TenantTokens
from services.router.tracing import traced_route, traced_selection
from services.router.validation import route_input
from switchyard.policy import Policy, Rule
from switchyard.router.v1 import router_pb2, router_pb2_grpc
from switchyard.runtime.errors import (
    DeadlineExceeded,
    FailedPrecondition,
    NotFound,
    QuotaExhausted,
    ResourceExhausted,
    Unavailable,
)
from switchyard.runtime.logging import current_request_id
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
    # The router API has no drain state: to a caller a drained model is forced open.
    BreakerState.DRAINING: router_pb2.BREAKER_STATE_FORCED_OPEN,
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


class RouterServicer(router_pb2_grpc.RouterServiceServicer):
    def __init__(
        self,
        *,
        state: RouterState,
        executor: RouteExecutor,
        breakers: BreakerBoard,
        log_prompts: bool = False,
        estimates: OutcomeEstimates | None = None,
        budgets: TenantBudgets | None = None,
        idempotency: IdempotencyStore | None = None,
        cache: ResponseCache | None = None,
        tenants: TenantTokens | None = None,
        observers: Sequence[RouteObserver] = (),
        overload: OverloadGuard | None = None,
        decisions: DecisionLog | None = None,
        peers: FeedbackPeers | None = None,
    ) -> None:
        self._tenants = tenants
        self._decisions = decisions
        self._peers = peers
        self.observers = list(observers)
        self._overload = overload or OverloadGuard()
        self._estimates = estimates
        self._state = state
        self._executor = executor
        self._breakers = breakers
        self._log_prompts = log_prompts
        self._budgets = budgets
        self._idempotency = idempotency
        self._cache = cache or ResponseCache()

    def _admit(self, request: router_pb2.RouteRequest, context: grpc.aio.ServicerContext) -> None:
        """With tenant tokens, the tenant and tier are the token's (tenants.py), set on the
        request before anything reads them; without, the request's are believed."""
        if self._tenants is not None:
            token = bearer_token(context.invocation_metadata())
            caller = self._tenants.admit(token, tenant=request.tenant, tier=request.tier)
            request.tenant = caller.tenant
            request.tier = caller.tier

    def _policy_for(self, request: RouteInput) -> ActivePolicy:
        """The active version, or the canary for this request's sticky bucket."""
        key = sticky_key(request, request_id=current_request_id())
        return self._state.policies.for_key(key)

    def _deadline(
        self, request: RouteInput, context: grpc.aio.ServicerContext, max_ms: int
    ) -> float:
        """Absolute monotonic deadline: the client's, capped by the policy maximum."""
        budget_s = max_ms / 1000.0
        client = context.time_remaining()
        if client is not None:
            budget_s = min(budget_s, client)
        return time.monotonic() + budget_s

    @traced_selection
    def _plan(
        self,
        request: RouteInput,
        active: ActivePolicy,
        deadline: float,
        allowance: TenantAllowance | None = None,
        *,
        rule: Rule | None = None,
        explain: bool = True,
    ) -> RoutePlan:
        return plan_route(
            policy=active.policy,
            request=request,
            fleet=self._state.fleet,
            breaker_state=lambda model: self._breakers.get(model).state,
            remaining_ms=(deadline - time.monotonic()) * 1000.0,
            predictor=active.predictor,
            estimates=self._estimates,
            budget_cap_micros=allowance.budget_cap_micros if allowance else None,
            rule=rule,
            explain=explain,
            gain_window=self._state.share_windows.reader(active.content_hash),
        )

    async def _allowance(self, request: RouteInput, policy: Policy) -> TenantAllowance | None:
        if self._budgets is None or not policy.tenants.enabled:
            return None
        return await self._budgets.allowance(policy.tenants, request.tenant)

    @traced_route
    async def Route(
        self, request: router_pb2.RouteRequest, context: grpc.aio.ServicerContext
    ) -> router_pb2.RouteResponse:
        trace = RouteTrace.start(current_request_id())
        try:
            response = await self._route_traced(request, context, trace)
        except BaseException as exc:
            trace.finish(exc)
            notify(self.observers, trace)
            raise
        response.request_id = trace.request_id
        trace.response = response
        trace.cache_hit = response.cache_hit
        trace.idempotent_replay = response.idempotent_replay
        trace.finish()
        notify(self.observers, trace)
        return response

    async def _route_traced(
        self,
        request: router_pb2.RouteRequest,
        context: grpc.aio.ServicerContext,
        trace: RouteTrace,
    ) -> router_pb2.RouteResponse:
        self._admit(request, context)
        route_in = route_input(request)
        trace.request = route_in
        policies = self._state.policies
        active = self._policy_for(route_in)
        trace.policy_version = active.version
        trace.canary = active.version != policies.active.version
        deadline = self._deadline(route_in, context, active.policy.max_deadline_ms)
        limits = active.policy.rate_limits
        with self._overload.admit(tenant=route_in.tenant, tier=route_in.tier, limits=limits):
            if route_in.idempotency_key and self._idempotency is not None:
                return await self._route_once(request, route_in, active, deadline, trace)
            return await self._route(route_in, active, deadline, trace)

    async def _route_once(
        self,
        request: router_pb2.RouteRequest,
        route_in: RouteInput,
        active: ActivePolicy,
        deadline: float,
        trace: RouteTrace,
    ) -> router_pb2.RouteResponse:
        """Step 1 (with a key): the stored response for it, or route and store."""
        assert self._idempotency is not None
        scope = IdempotencyScope(
            route_in.tenant, route_in.idempotency_key, request_fingerprint(request)
        )
        produced: list[router_pb2.RouteResponse] = []

        async def produce() -> bytes:
            produced.append(await self._route(route_in, active, deadline, trace))
            return produced[0].SerializeToString()

        lease_until_s = time.time() + max(0.0, deadline - time.monotonic()) + LEASE_GRACE_S
        stored, replayed = await self._idempotency.run_once(
            scope, lease_until_s=lease_until_s, produce=produce
        )
        if not replayed:
            return produced[0]
        response = router_pb2.RouteResponse.FromString(stored)
        response.idempotent_replay = True
        log.info("route.replayed", rule=response.rule, policy_version=response.policy_version)
        return response

    async def _route(
        self, route_in: RouteInput, active: ActivePolicy, deadline: float, trace: RouteTrace
    ) -> router_pb2.RouteResponse:
        started = trace.started_monotonic
        policy = active.policy
        rule = policy.match(route_in.facts)
        trace.rule = rule.name
        # Step 2: the rule's response cache.
        key = None
        if rule.cache is not None:
            key = cache_key(route_in, policy_version=active.version, rule=rule.name)
            hit = self._cache.fresh(rule, key)
            if hit is not None:
                return self._cached(hit, rule, active.version, started, degraded=False)
        # Step 3: the tenant's window (refused when empty; steered when nearly so).
        allowance = trace.allowance = await self._allowance(route_in, policy)
        if allowance is not None and allowance.remaining_micros <= 0:
            raise allowance.exhausted(now_s=time.time())
        # The rule matched above; the cascade table is Plan()'s, not the response's.
        plan = self._plan(route_in, active, deadline, allowance, rule=rule, explain=False)
        trace.plan = plan
        # Route() traffic calibrates a strong_share rule's threshold; Plan() does not.
        self._state.share_windows.feed(active.content_hash, plan)
        own_budget = route_in.budget_micros or policy.budget_micros
        spend = self._attempt_budget(allowance, plan, deadline, own_budget)
        # Step 4: execute, with a stale cached answer as the last resort.
        try:
            result = await self._executor.execute(
                plan, route_in, policy, deadline=deadline, budget=spend
            )
        except (Unavailable, DeadlineExceeded) as exc:
            stale = self._stale(policy, rule, key)
            if stale is None:
                raise
            trace.attempts = attempts_of(exc)
            return self._cached(stale, rule, active.version, started, degraded=True)
        except ResourceExhausted as exc:
            if isinstance(exc, QuotaExhausted) or spend is None or spend.refusal is None:
                raise
            assert allowance is not None
            raise quota_error(allowance.limit, spend.refusal, now_s=time.time()) from exc
        trace.result = result
        observe_token_estimate(
            route_in.prompt_tokens,
            [a.input_tokens for a in result.attempts],
            [t.content for t in route_in.messages],
        )
        latency_ms = round((time.monotonic() - started) * 1000)
        self._log_decision(route_in, plan, active.version, result, latency_ms)
        response = self._response(result, plan, active.version, latency_ms)
        if result.degraded and result.finish_reason != "human_review":
            stale = self._stale(policy, rule, key)
            if stale is not None:
                response.answer, response.model_id = stale.answer, stale.model_id
                response.finish_reason, response.cache_hit = stale.finish_reason, True
        elif key is not None and not result.degraded:
            # Step 5: keep the accepted answer for the next identical request.
            self._cache.put(
                rule, key, CachedAnswer(result.answer, result.model_id, result.finish_reason)
            )
        return response

    def _attempt_budget(
        self,
        allowance: TenantAllowance | None,
        plan: RoutePlan,
        deadline: float,
        own_budget: int,
    ) -> TenantAttemptBudget | None:
        if allowance is None or self._budgets is None:
            return None
        if allowance.budget_cap_micros is not None and plan.budget_micros < own_budget:
            TENANT_BUDGET_STEERED.inc()
            dropped = [c.max_cost_micros for c in plan.candidates if c.drop is DropReason.BUDGET]
            if not plan.chain and dropped:
                # The tenant's window, not the request's budget, priced out every model:
                # say so, with the reset time, rather than degrade.
                raise allowance.exhausted(now_s=time.time(), needed_micros=min(dropped))
        return self._budgets.attempt_budget(allowance, time_left_s=deadline - time.monotonic())

    def _stale(self, policy: Policy, rule: Rule, key: bytes | None) -> CachedAnswer | None:
        if key is None or not policy.degrade.stale_cache:
            return None
        return self._cache.stale(rule, key)

    @staticmethod
    def _response(
        result: RouteResult, plan: RoutePlan, version: int, latency_ms: int
    ) -> router_pb2.RouteResponse:
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

    @staticmethod
    def _cached(
        entry: CachedAnswer, rule: Rule, version: int, started: float, *, degraded: bool
    ) -> router_pb2.RouteResponse:
        """A response from the cache: no model called, nothing spent."""
        latency_ms = round((time.monotonic() - started) * 1000)
        log.info(
            "route.decided",
            rule=rule.name,
            policy_version=version,
            model=entry.model_id,
            cache_hit=True,
            degraded=degraded,
            cost_micros=0,
            latency_ms=latency_ms,
        )
        return router_pb2.RouteResponse(
            answer=entry.answer,
            model_id=entry.model_id,
            rule=rule.name,
            strategy=rule.strategy.kind,
            policy_version=version,
            total_latency_ms=latency_ms,
            finish_reason=entry.finish_reason,
            cache_hit=True,
            degraded=degraded,
        )

    async def Plan(
        self, request: router_pb2.PlanRequest, context: grpc.aio.ServicerContext
    ) -> router_pb2.PlanResponse:
        self._admit(request.request, context)
        route_in = route_input(request.request)
        active = self._policy_for(route_in)
        deadline = self._deadline(route_in, context, active.policy.max_deadline_ms)
        limits = active.policy.rate_limits
        with self._overload.admit(
            tenant=route_in.tenant, tier=route_in.tier, limits=limits, sample=False
        ):
            allowance = await self._allowance(route_in, active.policy)
            plan = self._plan(route_in, active, deadline, allowance)
        version = active.version
        bars = plan.score_bars()
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
                    min_score=bars.get(c.stage_index, 0.0) if c.kept else 0.0,
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

    async def RecordFeedback(
        self, request: router_pb2.RecordFeedbackRequest, context: grpc.aio.ServicerContext
    ) -> router_pb2.RecordFeedbackResponse:
        feedback = feedback_input(request)
        if self._decisions is None:
            raise FailedPrecondition("this router's decision log is off (--decision-log true)")
        # With callers' tokens a tenant may label only its own decisions.
        tenant = None
        if self._tenants is not None:
            token = bearer_token(context.invocation_metadata())
            tenant = self._tenants.admit(token, tenant="", tier="").tenant
        try:
            found = await self._decisions.record_feedback(
                feedback.request_id, label=feedback.label, source=feedback.source, tenant=tenant
            )
        except NotFound:
            metadata = context.invocation_metadata() or ()
            if self._peers is None or relayed(metadata):
                raise
            # Another router (this host's, or a --feedback-peers one) may have answered it
            # (docs/observability.md).
            try:
                reply = await self._peers.relay(request, metadata, context.time_remaining())
            except PeerUnavailable as exc:
                raise Unavailable(
                    f"a router that may hold the decision did not answer ({exc}); retry"
                ) from None
            if reply is None:
                raise
            return reply
        return router_pb2.RecordFeedbackResponse(
            request_id=feedback.request_id, decisions=found, source=feedback.source
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
