"""Shadow versions: what a candidate policy would have done, beside what was done.

For the configured share of requests the active version answered, the router also
runs the shadow version's selection (pure, no I/O) and, on a sample and while the
hourly spend cap allows, executes its plan, without returning it. Both decisions go to
the decision log (the shadow one flagged, naming the request it shadows) and the
comparison to the rollout counters the control plane reads. The work runs after the
answer, in a task of its own, bounded in number, deadline and spend.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable
from typing import Protocol

import structlog

from services.router.breakers import BreakerBoard
from services.router.estimates import OutcomeEstimates
from services.router.execution import RouteExecutor, RouteResult, Verdict
from services.router.fleet import FleetView
from services.router.observers import RouteTrace
from services.router.plan import RoutePlan
from services.router.rollout_report import RolloutStats, ShadowCounters, latency_bucket
from services.router.selection import plan_route
from services.router.state import ActivePolicy, RouterState, ShadowPlan
from switchyard.router.v1 import router_pb2
from switchyard.runtime.errors import SwitchyardError

log = structlog.get_logger(__name__)

# Shadow routes running at once; more are skipped (and counted), never queued.
MAX_IN_FLIGHT = 8
HOUR_S = 3600.0


class ShadowRecorder(Protocol):
    """Where a shadow decision is written beside the one it shadows (the decision log)."""

    def record_shadow(self, trace: RouteTrace, *, shadow_of: str) -> None: ...


def sampled(request_id: str, percent: float, *, salt: str) -> bool:
    """Deterministic per request: the same id is in or out on every router."""
    digest = hashlib.sha256(f"{salt}:{request_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 * 100.0 < percent


class SpendWindow:
    """The shadow's spend in the current hour, against its cap."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._start = clock()
        self.spent_micros = 0

    def allows(self, worst_case_micros: int, cap_micros: int) -> bool:
        if self._clock() - self._start >= HOUR_S:
            self._start, self.spent_micros = self._clock(), 0
        return self.spent_micros + worst_case_micros <= cap_micros

    def spend(self, micros: int) -> None:
        self.spent_micros += micros


class ShadowRunner:
    """A route observer: starts the shadow work for sampled requests."""

    def __init__(
        self,
        *,
        state: RouterState,
        executor: RouteExecutor,
        breakers: BreakerBoard,
        estimates: OutcomeEstimates | None,
        stats: RolloutStats,
        recorder: ShadowRecorder | None = None,
        max_in_flight: int = MAX_IN_FLIGHT,
    ) -> None:
        self._state = state
        self._executor = executor
        self._breakers = breakers
        self._estimates = estimates
        self._stats = stats
        self._recorder = recorder
        self._max_in_flight = max_in_flight
        self._tasks: set[asyncio.Task[None]] = set()
        self.window = SpendWindow()
        self.skipped = 0

    def observe(self, trace: RouteTrace) -> None:
        policies = self._state.policies
        shadow = policies.shadow
        if shadow is None or trace.plan is None or trace.request is None or trace.canary:
            return
        if trace.idempotent_replay or trace.cache_hit:
            return
        if not sampled(trace.request_id, shadow.percent, salt="shadow"):
            return
        candidate = policies.versions.get(shadow.version)
        if candidate is None:
            return
        if len(self._tasks) >= self._max_in_flight:
            self.skipped += 1
            return
        task = asyncio.get_running_loop().create_task(self._shadow(trace, candidate, shadow))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Wait for the shadow work in flight (tests, shutdown)."""
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _shadow(self, trace: RouteTrace, candidate: ActivePolicy, shadow: ShadowPlan) -> None:
        try:
            await self._compare(trace, candidate, shadow)
        except Exception as exc:  # the shadow must never disturb the router
            log.error("shadow.failed", request_id=trace.request_id, error=repr(exc))

    async def _compare(
        self, trace: RouteTrace, candidate: ActivePolicy, shadow: ShadowPlan
    ) -> None:
        assert trace.request is not None and trace.plan is not None
        request, policy = trace.request, candidate.policy
        deadline = time.monotonic() + policy.max_deadline_ms / 1000.0
        shadowed = RouteTrace.start(f"{trace.request_id}/shadow-v{candidate.version}")
        shadowed.request, shadowed.policy_version = request, candidate.version
        windows = self._state.share_windows
        plan = plan_route(
            policy=policy,
            request=request,
            fleet=self._fleet(),
            breaker_state=lambda model: self._breakers.get(model).state,
            remaining_ms=policy.max_deadline_ms,
            predictor=candidate.predictor,
            estimates=self._estimates,
            gain_window=windows.reader(candidate.content_hash),
        )
        # The candidate's own windows, fed by the sample it shadows: its share rules
        # calibrate as they would once active, and never touch the active ones.
        windows.feed(candidate.content_hash, plan)
        shadowed.rule, shadowed.plan = plan.rule.name, plan
        counters = self._stats.shadow(candidate.version, trace.policy_version)
        counters.compared += 1
        counters.agreed += _first_model(plan.chain) == _first_model(trace.plan.chain)
        worst = sum(c.max_cost_micros for c in plan.chain)
        error: BaseException | None = None
        if (
            plan.chain
            and sampled(trace.request_id, shadow.execute_percent, salt="execute")
            and self.window.allows(worst, shadow.max_spend_micros_per_hour)
        ):
            self.window.spend(worst)  # reserved now, settled below
            try:
                shadowed.result = await self._executor.execute(
                    plan, request, policy, deadline=deadline, budget=None
                )
            except (SwitchyardError, TimeoutError) as exc:
                error = exc
            spent = shadowed.result.total_cost_micros if shadowed.result else 0
            self.window.spend(spent - worst)
            shadowed.finish(error)
            if shadowed.result is not None:
                shadowed.response = _response(shadowed, plan)
            _count_execution(counters, shadowed, trace)
            self._stats.changed()  # the execution finished after the comparison was sent
        else:
            shadowed.finish()
        if self._recorder is not None:
            self._recorder.record_shadow(shadowed, shadow_of=trace.request_id)

    def _fleet(self) -> FleetView:
        return self._state.fleet


def _response(shadowed: RouteTrace, plan: RoutePlan) -> router_pb2.RouteResponse:
    """What the shadow would have answered, for its decision-log record (never sent)."""
    result = shadowed.result
    assert result is not None
    return router_pb2.RouteResponse(
        answer=result.answer,
        model_id=result.model_id,
        rule=plan.rule.name,
        strategy=plan.rule.strategy.kind,
        policy_version=shadowed.policy_version,
        total_cost_micros=result.total_cost_micros,
        total_latency_ms=round(shadowed.latency_ms),
        degraded=result.degraded,
        escalations=result.escalations,
        input_tokens=result.input_tokens,
        output_tokens=result.output_tokens,
        finish_reason=result.finish_reason,
    )


def _first_model(chain: tuple) -> str:
    return chain[0].model_id if chain else ""


def _judged(result: RouteResult | None) -> tuple[int, int]:
    if result is None:
        return 0, 0
    verified = [a for a in result.attempts if a.verdict is not Verdict.NOT_VERIFIED]
    return len(verified), sum(a.verdict is Verdict.ACCEPT for a in verified)


def _count_execution(counters: ShadowCounters, shadowed: RouteTrace, active: RouteTrace) -> None:
    counters.executed += 1
    counters.shadow_cost_micros += shadowed.result.total_cost_micros if shadowed.result else 0
    counters.active_cost_micros += active.result.total_cost_micros if active.result else 0
    counters.shadow_latency_buckets[latency_bucket(shadowed.latency_ms)] += 1
    counters.active_latency_buckets[latency_bucket(active.latency_ms)] += 1
    verified, accepted = _judged(shadowed.result)
    counters.shadow_verified += verified
    counters.shadow_accepted += accepted
    verified, accepted = _judged(active.result)
    counters.active_verified += verified
    counters.active_accepted += accepted
