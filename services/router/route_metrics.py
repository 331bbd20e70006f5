"""Prometheus metrics of every finished Route(), fed by the route observer hook.

One `RouteMetrics` per router: requests and outcomes per rule, selector, executor,
model and policy version; total and router-added latency; per-attempt latency and
outcomes per model; cost in micro-USD per tenant, rule and model; escalations,
degradations, hedges; the latency SLO per rule; planned against actual figures;
breaker state per model; tenant budget use. Cache hits, idempotent replays, token
estimates and online estimates have their own modules (spend_metrics,
estimate_metrics); this one does not count them again.

The observer runs on the request path, so it keeps plain Python numbers (a few dict
writes per route, see switchyard.runtime.metrics.MethodStats) that the collector turns
into metric families at scrape time. Every label is bounded: rule, selector, executor
and model names come from the policy and fleet, outcomes from enums; tenants are
labels only when the operator enables it, capped (the rest are "other").
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator, Sequence

import grpc
from prometheus_client import REGISTRY
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from services.router.breakers import BreakerBoard, BreakerState
from services.router.execution import AttemptOutcome, AttemptRecord
from services.router.observers import OBSERVER_FAILURES, RouteTrace
from switchyard.runtime.metrics import LabelledCounts, LabelledHistograms

ROUTE_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
# What the router adds is a few ms when healthy; sub-ms resolution shows a regression.
ADDED_BUCKETS_S = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1)
# Executors whose stages run at once: their model time is the longest stage, not the sum.
CONCURRENT_EXECUTORS = frozenset({"parallel", "vote", "hedge"})
OTHER_TENANTS = "other"
BREAKER_STATES = tuple(s.value for s in BreakerState)


class TenantLabels:
    """The tenant label value: "" while the operator has not enabled tenant labels
    (cap 0); else the tenant for the first `cap` tenants seen, "other" for the rest."""

    def __init__(self, cap: int) -> None:
        if cap < 0:
            raise ValueError("the tenant label cap must be >= 0")
        self.cap = cap
        self._named: set[str] = set()

    @property
    def enabled(self) -> bool:
        return self.cap > 0

    def __call__(self, tenant: str) -> str:
        if not self.cap:
            return ""
        if tenant in self._named:
            return tenant
        if len(self._named) < self.cap:
            self._named.add(tenant)
            return tenant
        return OTHER_TENANTS


def outcome_of(trace: RouteTrace) -> str:
    """ok, degraded, or the status code the caller got (lower case)."""
    if trace.code is not grpc.StatusCode.OK:
        return trace.code.name.lower()
    return "degraded" if trace.response is not None and trace.response.degraded else "ok"


def model_ms(attempts: Sequence[AttemptRecord], executor: str) -> float:
    """Time the route spent waiting on models: retries within a stage follow each other;
    stages follow each other too, except in executors that run them at once."""
    per_stage: dict[int, float] = {}
    for a in attempts:
        if a.outcome is not AttemptOutcome.SKIPPED:
            per_stage[a.stage] = per_stage.get(a.stage, 0.0) + a.latency_ms
    if not per_stage:
        return 0.0
    return max(per_stage.values()) if executor in CONCURRENT_EXECUTORS else sum(per_stage.values())


def degrade_reason(finish_reason: str, cache_hit: bool) -> str:
    if cache_hit:
        return "stale_cache"
    if finish_reason in ("human_review", "static"):
        return finish_reason
    return "held_answer"


class RouteRow:
    """Everything counted for routes of one shape (rule, selector, executor, model,
    policy version, outcome, degrade reason): one dict lookup per route, then attribute
    writes. The collector sums rows into each metric's own labels at scrape time."""

    __slots__ = (
        "added",
        "count",
        "escalations",
        "expected_cost",
        "expected_latency_s",
        "hedged",
        "latency",
        "slo_met",
        "slo_missed",
    )

    def __init__(self) -> None:
        self.count = 0
        self.escalations = 0
        self.hedged = 0
        self.slo_met = 0
        self.slo_missed = 0
        self.expected_cost = 0
        self.expected_latency_s = 0.0
        # Bucket counts, then the sum (see LabelledHistograms).
        self.latency = [0.0] * (len(ROUTE_BUCKETS_S) + 2)
        self.added = [0.0] * (len(ADDED_BUCKETS_S) + 2)


class AttemptRow:
    """Attempts of one shape (tenant, rule, model, outcome, verdict)."""

    __slots__ = ("cost", "count", "latency")

    def __init__(self) -> None:
        self.count = 0
        self.cost = 0
        self.latency = [0.0] * (len(ROUTE_BUCKETS_S) + 2)


def _observe(row: list[float], bounds: tuple[float, ...], value: float) -> None:
    row[bisect_left(bounds, value)] += 1
    row[-1] += value


class RouteMetrics(Collector):
    """A route observer that keeps the counts, and the collector that exports them."""

    def __init__(self, *, tenant_labels: int = 0, breakers: BreakerBoard | None = None) -> None:
        self.tenant = TenantLabels(tenant_labels)
        self.breakers = breakers
        self.routes: dict[tuple[str, ...], RouteRow] = {}
        self.attempts: dict[tuple[str, ...], AttemptRow] = {}
        self.quality_sources = LabelledCounts()
        self.breaker_transitions = LabelledCounts()
        # tenant label -> (used, limit) µUSD of its window when its last route arrived.
        self.budgets: dict[str, tuple[int, int]] = {}

    # -- the observer ----------------------------------------------------------------

    def observe(self, trace: RouteTrace) -> None:
        response, plan = trace.response, trace.plan
        rule = trace.rule
        executor = response.strategy if response is not None else ""
        if not executor and plan is not None:
            executor = plan.rule.strategy.kind
        degraded = response is not None and response.degraded
        key = (
            rule,
            plan.selector if plan is not None else "",
            executor,
            response.model_id if response is not None else "",
            str(trace.policy_version) if trace.policy_version else "",
            outcome_of(trace),
            degrade_reason(response.finish_reason, response.cache_hit) if degraded else "",
        )
        row = self.routes.get(key)
        if row is None:
            row = self.routes[key] = RouteRow()
        row.count += 1
        if trace.allowance is not None and self.tenant.enabled:
            usage = trace.allowance
            self.budgets[self.tenant(usage.window.tenant)] = (
                usage.usage.used_micros,
                usage.limit.limit_micros,
            )
        if response is None:
            return
        latency_ms = trace.latency_ms
        _observe(row.latency, ROUTE_BUCKETS_S, latency_ms / 1000.0)
        # No result: a cache hit or an idempotent replay (the stored response carries the
        # first call's cost, which must not be counted again): nothing called or spent.
        result = trace.result
        waited_ms = 0.0
        if result is not None:
            waited_ms = model_ms(result.attempts, executor)
            self._attempts(trace, result.attempts)
            row.escalations += result.escalations
            row.hedged += result.hedged
        _observe(row.added, ADDED_BUCKETS_S, max(0.0, latency_ms - waited_ms) / 1000.0)
        if plan is not None:
            if plan.slo_ms > 0:
                if latency_ms <= plan.slo_ms:
                    row.slo_met += 1
                else:
                    row.slo_missed += 1
            row.expected_cost += plan.expected_cost_micros
            row.expected_latency_s += plan.expected_latency_ms / 1000.0
            for candidate in plan.candidates:
                if candidate.kept:
                    self.quality_sources.add((candidate.quality_source,))

    def _attempts(self, trace: RouteTrace, attempts: Sequence[AttemptRecord]) -> None:
        tenant = self.tenant(trace.request.tenant if trace.request is not None else "")
        rows = self.attempts
        for a in attempts:
            key = (tenant, trace.rule, a.model_id, a.outcome.value, a.verdict.value)
            row = rows.get(key)
            if row is None:
                row = rows[key] = AttemptRow()
            row.count += 1
            row.cost += a.cost_micros
            if a.outcome is not AttemptOutcome.SKIPPED:
                _observe(row.latency, ROUTE_BUCKETS_S, a.latency_ms / 1000.0)

    def breaker_moved(self, model: str, old: BreakerState, new: BreakerState) -> None:
        self.breaker_transitions.add((model, new.value))

    # -- the collector ---------------------------------------------------------------

    def collect(self) -> Iterator[Metric]:
        routes, escalations, degraded, hedged = (LabelledCounts() for _ in range(4))
        slo, expected_cost, expected_latency = (LabelledCounts() for _ in range(3))
        latency = LabelledHistograms(ROUTE_BUCKETS_S)
        added = LabelledHistograms(ADDED_BUCKETS_S)
        for key, row in list(self.routes.items()):
            rule, executor, reason = key[0], key[2], key[6]
            routes.add(key[:6], row.count)
            latency.merge((rule, executor), row.latency)
            added.merge((rule, executor), row.added)
            if row.escalations:
                escalations.add((rule,), row.escalations)
            if row.hedged:
                hedged.add((rule,), row.hedged)
            if reason:
                degraded.add((rule, reason), row.count)
            if row.slo_met:
                slo.add((rule, "true"), row.slo_met)
            if row.slo_missed:
                slo.add((rule, "false"), row.slo_missed)
            if key[1]:  # planned
                expected_cost.add((rule,), row.expected_cost)
                expected_latency.add((rule,), row.expected_latency_s)
        attempts, cost = LabelledCounts(), LabelledCounts()
        attempt_latency = LabelledHistograms(ROUTE_BUCKETS_S)
        for (tenant, rule, model, outcome, verdict), arow in list(self.attempts.items()):
            attempts.add((model, outcome, verdict), arow.count)
            if outcome != AttemptOutcome.SKIPPED.value:
                attempt_latency.merge((model, outcome), arow.latency)
            if arow.cost:
                cost.add((tenant, rule, model), arow.cost)
        route = ["rule", "executor"]
        yield routes.family(
            "switchyard_router_routes",
            "Finished Route() calls by rule, selector, executor (strategy kind), answering"
            " model, policy version and outcome (ok, degraded or the status code)",
            ["rule", "selector", "executor", "model", "policy_version", "outcome"],
        )
        yield latency.family(
            "switchyard_router_route_latency_seconds",
            "Route() latency as the router measured it, answered routes only",
            route,
        )
        yield added.family(
            "switchyard_router_added_latency_seconds",
            "Route() latency minus the time spent waiting on models (router overhead)",
            route,
        )
        yield attempts.family(
            "switchyard_router_attempts",
            "Model attempts by model, outcome and verifier verdict",
            ["model", "outcome", "verdict"],
        )
        yield attempt_latency.family(
            "switchyard_router_attempt_latency_seconds",
            "Latency of each model call, by model and outcome (skipped attempts excluded)",
            ["model", "outcome"],
        )
        yield cost.family(
            "switchyard_router_cost_micros",
            "Money spent on model calls, micro-USD, by tenant (when enabled), rule and model",
            ["tenant", "rule", "model"],
        )
        yield escalations.family(
            "switchyard_router_escalations", "Escalations to a later stage, by rule", ["rule"]
        )
        yield degraded.family(
            "switchyard_router_degraded_routes",
            "Routes answered degraded, by rule and how (held_answer, stale_cache, static,"
            " human_review)",
            ["rule", "reason"],
        )
        yield hedged.family(
            "switchyard_router_hedged_routes", "Routes that sent a hedge request", ["rule"]
        )
        yield slo.family(
            "switchyard_router_latency_slo_routes",
            "Planned routes by rule and whether they met their latency target (slo_ms)",
            ["rule", "met"],
        )
        yield expected_cost.family(
            "switchyard_router_expected_cost_micros",
            "The plans' expected cost, micro-USD, by rule (compare with the cost counter)",
            ["rule"],
        )
        yield expected_latency.family(
            "switchyard_router_expected_latency_seconds",
            "The plans' expected latency summed, by rule (compare with route latency)",
            ["rule"],
        )
        yield self.quality_sources.family(
            "switchyard_router_planned_stages",
            "Stages in the chosen chains by where their quality figure came from"
            " (predictor, registry, default)",
            ["quality_source"],
        )
        yield from self._breakers()
        yield from self._tenant_budgets()
        failures = CounterMetricFamily(
            "switchyard_router_observer_failures",
            "Route observers that raised (the route was answered anyway)",
        )
        failures.add_metric([], OBSERVER_FAILURES.count)
        yield failures

    def _breakers(self) -> Iterator[Metric]:
        state = GaugeMetricFamily(
            "switchyard_router_breaker_state",
            "Each model's breaker: 1 for its current state, 0 for the others",
            labels=["model", "state"],
        )
        if self.breakers is not None:
            for model, current in self.breakers.last_states():
                for name in BREAKER_STATES:
                    state.add_metric([model, name], 1.0 if name == current.value else 0.0)
        yield state
        yield self.breaker_transitions.family(
            "switchyard_router_breaker_transitions",
            "Breaker state changes by model and the state entered",
            ["model", "state"],
        )

    def _tenant_budgets(self) -> Iterator[Metric]:
        used = GaugeMetricFamily(
            "switchyard_router_tenant_budget_used_micros",
            "Spent plus reserved in the tenant's current window when its last route"
            " arrived, micro-USD (tenant labels only)",
            labels=["tenant"],
        )
        limit = GaugeMetricFamily(
            "switchyard_router_tenant_budget_limit_micros",
            "The tenant's window limit, micro-USD (tenant labels only)",
            labels=["tenant"],
        )
        for tenant, (used_micros, limit_micros) in list(self.budgets.items()):
            used.add_metric([tenant], used_micros)
            limit.add_metric([tenant], limit_micros)
        yield used
        yield limit


class LatestRouteMetrics(Collector):
    """The process registry's view of the router in this process (the last built)."""

    def __init__(self) -> None:
        self.source: RouteMetrics | None = None

    def collect(self) -> Iterator[Metric]:
        if self.source is not None:
            yield from self.source.collect()


ROUTE_METRICS = LatestRouteMetrics()
REGISTRY.register(ROUTE_METRICS)
