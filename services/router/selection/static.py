"""`static`: the rule's stages as written, minus the ones the hard filters drop.

For parallel and vote the chain is the member list (the first `fan_out` kept run), and
the expected figures are those of calling them all at once."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from services.router.breakers import BreakerState
from services.router.estimates import OutcomeEstimates
from services.router.fleet import FleetView
from services.router.plan import RouteInput, RoutePlan
from services.router.selection.expectation import chain_figures, fan_out_figures
from services.router.selection.filters import candidate_for, panic_admits
from switchyard.policy import Rule


def static_plan(
    *,
    rule: Rule,
    request: RouteInput,
    fleet: FleetView,
    breaker_state: Callable[[str], BreakerState],
    budget_micros: int,
    remaining_ms: float,
    slo_ms: int,
    estimates: OutcomeEstimates | None = None,
    predicted: Mapping[str, float] | None = None,
) -> RoutePlan:
    """`predicted`: the predictor's P(acceptable) by model, for a rule that escalates on
    expected gain (None: registry quality, as without a predictor)."""
    candidates = tuple(
        candidate_for(
            i,
            stage,
            request,
            fleet,
            breaker_state,
            budget_micros,
            remaining_ms,
            predicted=predicted.get(stage.model) if predicted else None,
            estimates=estimates,
        )
        for i, stage in enumerate(rule.strategy.stages)
    )
    panicked = panic_admits(candidates, breaker_state)
    if panicked:
        admitted = {c.model_id: c for c in panicked}
        candidates = tuple(admitted.get(c.model_id, c) for c in candidates)
    chain = [c for c in candidates if c.kept]
    fan_out = rule.strategy.parallel or rule.strategy.vote
    if fan_out is not None:
        members = chain[: fan_out.fan_out]
        figures = fan_out_figures(
            [c.max_cost_micros for c in members],
            [c.expected_latency_ms for c in members],
            [c.accept_probability for c in members],
        )
    else:
        figures = chain_figures(
            [c.max_cost_micros for c in chain],
            [c.expected_latency_ms for c in chain],
            [c.accept_probability for c in chain],
            [c.stage_acceptance for c in chain],
        )
    return RoutePlan(
        rule=rule,
        candidates=candidates,
        budget_micros=budget_micros,
        expected_cost_micros=round(figures.cost_micros),
        expected_latency_ms=round(figures.latency_ms),
        slo_ms=slo_ms,
        expected_quality=figures.quality,
        panic=bool(panicked),
    )
