"""Selectors: turn (rule, request, fleet copy, breaker states, predicted quality, budget,
deadline) into a plan. Pure: no I/O, deterministic for the same inputs.

`static` runs the stages as written, `score` ranks the allowed models by a weighted
score, `auto` picks the cheapest cascade meeting the SLO, budget and quality floor.
Only score and auto rules call the predictor (and static cascades that escalate on
expected gain), so other static rules pay nothing for it.
"""

from __future__ import annotations

from collections.abc import Callable

from services.router.breakers import BreakerState
from services.router.estimates import OutcomeEstimates
from services.router.fleet import FleetView
from services.router.plan import RouteInput, RoutePlan
from services.router.selection import auto, score, share
from services.router.selection.expectation import chain_figures
from services.router.selection.filters import candidate_for, latency_ms, panic_admits
from services.router.selection.quality import BoundPredictor
from services.router.selection.ranked import arrange
from services.router.selection.static import static_plan
from switchyard.policy import Policy, Rule

__all__ = ["BoundPredictor", "plan_route"]


def plan_route(
    *,
    policy: Policy,
    request: RouteInput,
    fleet: FleetView,
    breaker_state: Callable[[str], BreakerState],
    remaining_ms: float,
    predictor: BoundPredictor | None = None,
    estimates: OutcomeEstimates | None = None,
    budget_cap_micros: int | None = None,
    rule: Rule | None = None,
    explain: bool = True,
    gain_window: Callable[[Rule], share.GainWindow] | None = None,
) -> RoutePlan:
    """`budget_cap_micros`: a ceiling on the request's budget from outside it (what
    remains of a tenant's window once it is being steered, `tenant_budget.py`).
    `rule`: the rule `policy.match(request.facts)` gives, when the caller has matched
    it already. `explain=False` leaves out what only Plan() shows (auto's cascade
    table); the chosen chain and its figures are the same. `gain_window`: a
    `strong_share` rule's recent gains (read here, fed by the caller after a Route());
    without it such a rule ranks by its weights."""
    if rule is None:
        rule = policy.match(request.facts)
    budget = request.budget_micros or policy.budget_micros
    if budget_cap_micros is not None:
        budget = min(budget, budget_cap_micros)
    slo_ms = request.latency_slo_ms or policy.slo_ms
    selector = rule.strategy.selector
    if selector.kind == "static":
        # A static cascade reads the predictor only to escalate on expected gain.
        wants = predictor is not None and rule.escalate_gain is not None
        return static_plan(
            rule=rule,
            request=request,
            fleet=fleet,
            breaker_state=breaker_state,
            budget_micros=budget,
            remaining_ms=remaining_ms,
            slo_ms=slo_ms,
            estimates=estimates,
            predicted=predictor.predict(request, rule.strategy.models) if wants else None,
        )
    predicted = predictor.predict(request, rule.strategy.models) if predictor else {}
    screened = [
        candidate_for(
            i,
            stage,
            request,
            fleet,
            breaker_state,
            budget,
            remaining_ms,
            predicted=predicted.get(stage.model),
            estimates=estimates,
        )
        for i, stage in enumerate(rule.strategy.stages)
    ]
    panicked = panic_admits(screened, breaker_state)
    admitted = {c.model_id for c in panicked}
    eligible = panicked or [c for c in screened if c.kept]
    filtered = [c for c in screened if not c.kept and c.model_id not in admitted]
    cascades = ()
    strong_gain = None
    if selector.kind == "score":
        ranked, floor_met = score.rank(eligible, selector, slo_ms)
        if selector.strong_share is not None:
            window = gain_window(rule) if gain_window is not None else None
            ranked, strong_gain = share.order(ranked, selector.strong_share, window)
        keep = 1 + selector.max_fallbacks
        chain = ranked[:keep]
        passed_over = [
            (c, c.reason if c.reason.startswith(share.NOTE) else
             f"ranked {keep + i + 1} of {len(ranked)}, beyond max_fallbacks")
            for i, c in enumerate(ranked[keep:])
        ]  # fmt: skip
    else:
        options = auto.enumerate_cascades(eligible, selector, budget, slo_ms)
        best, floor_met = auto.choose(options)
        chain = list(best.chain) if best else []
        chosen = set(map(id, chain))
        passed_over = [(c, "not in the chosen cascade") for c in eligible if id(c) not in chosen]
        if explain:
            cascades = auto.describe(options, best)
    figures = chain_figures(
        [c.max_cost_micros for c in chain],
        [latency_ms(c.profile, selector.latency_percentile) for c in chain if c.profile],
        [c.accept_probability for c in chain],
        [c.stage_acceptance for c in chain],
    )
    return RoutePlan(
        rule=rule,
        candidates=arrange(chain, passed_over, filtered),
        budget_micros=budget,
        expected_cost_micros=round(figures.cost_micros),
        expected_latency_ms=round(figures.latency_ms),
        slo_ms=slo_ms,
        selector=selector.kind,
        expected_quality=figures.quality,
        cascades=cascades,
        quality_floor_met=floor_met,
        panic=bool(panicked),
        strong_gain=strong_gain,
    )
