"""Planning: which models may serve a request, in what order, at what expected price.

Pure functions over the policy, the fleet copy and breaker states: Plan() shows the
result as is, Route() executes it.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from services.router.breakers import BreakerState
from services.router.fleet import FleetView, ModelProfile
from services.router.providers.base import ChatTurn
from switchyard.policy import Policy, RequestFacts, Rule, Stage
from switchyard.tasks import DEFAULT_TASK_TYPE

# Without a measured quality for a task, assume a middling acceptance rate.
DEFAULT_ACCEPT_PROBABILITY = 0.8
DEFAULT_LATENCY_MS = 1000


@dataclass(frozen=True)
class RouteInput:
    """A validated Route() request in domain terms."""

    messages: tuple[ChatTurn, ...]
    task_type: str = DEFAULT_TASK_TYPE
    tenant: str = ""
    tier: str = ""
    metadata: Mapping[str, str] = field(default_factory=dict)
    feature_flags: frozenset[str] = frozenset()
    max_output_tokens: int = 512
    latency_slo_ms: int = 0
    budget_micros: int = 0
    json_mode: bool = False
    idempotency_key: str = ""
    prompt_tokens: int = 0

    @property
    def facts(self) -> RequestFacts:
        return RequestFacts(
            task_type=self.task_type,
            tier=self.tier,
            prompt_tokens=self.prompt_tokens,
            metadata=self.metadata,
            feature_flags=self.feature_flags,
        )

    @property
    def prompt(self) -> str:
        """The last user turn: what verification judges the answer against."""
        for turn in reversed(self.messages):
            if turn.role == "user":
                return turn.content
        return self.messages[-1].content if self.messages else ""


class DropReason(enum.Enum):
    NONE = "none"
    UNKNOWN_MODEL = "unknown_model"
    HEALTH = "health"
    CONTEXT = "context"
    CAPABILITY = "capability"
    BREAKER = "breaker"
    BUDGET = "budget"
    DEADLINE = "deadline"


@dataclass(frozen=True)
class Candidate:
    stage_index: int
    stage: Stage
    model_id: str
    kept: bool
    reason: str
    profile: ModelProfile | None = None
    max_cost_micros: int = 0
    expected_latency_ms: int = 0
    accept_probability: float = DEFAULT_ACCEPT_PROBABILITY
    drop: DropReason = DropReason.NONE


@dataclass(frozen=True)
class RoutePlan:
    rule: Rule
    candidates: tuple[Candidate, ...]
    budget_micros: int
    expected_cost_micros: int
    expected_latency_ms: int
    # The latency target (request's, else policy's): reported and logged against, while
    # the deadline is what bounds execution.
    slo_ms: int = 0

    @property
    def meets_slo(self) -> bool:
        return self.expected_latency_ms <= self.slo_ms

    @property
    def chain(self) -> tuple[Candidate, ...]:
        return tuple(c for c in self.candidates if c.kept)


def output_tokens_for(profile: ModelProfile, requested: int) -> int:
    limit = profile.max_output_tokens or requested
    return min(requested, limit) if requested else limit


def _candidate(
    index: int,
    stage: Stage,
    request: RouteInput,
    fleet: FleetView,
    breaker_state: Callable[[str], BreakerState],
    budget_micros: int,
    remaining_ms: float,
) -> Candidate:
    profile = fleet.get(stage.model)
    if profile is None:
        return Candidate(
            index, stage, stage.model, False, "not in the registry", drop=DropReason.UNKNOWN_MODEL
        )
    out_tokens = output_tokens_for(profile, request.max_output_tokens)
    max_cost = profile.cost_micros(request.prompt_tokens, out_tokens)
    latency = profile.latency_p50_ms or DEFAULT_LATENCY_MS
    quality = profile.quality.get(request.task_type, DEFAULT_ACCEPT_PROBABILITY)

    def drop(why: DropReason, reason: str) -> Candidate:
        return Candidate(
            index, stage, stage.model, False, reason, profile, max_cost, latency, quality, why
        )

    if profile.health == "down":
        return drop(DropReason.HEALTH, "health DOWN")
    if profile.context_window and request.prompt_tokens + out_tokens > profile.context_window:
        return drop(
            DropReason.CONTEXT,
            f"context window {profile.context_window} < prompt {request.prompt_tokens}"
            f" + output {out_tokens} tokens",
        )
    if request.json_mode and "json_mode" not in profile.capabilities:
        return drop(DropReason.CAPABILITY, "no JSON mode")
    state = breaker_state(stage.model)
    if state in (BreakerState.OPEN, BreakerState.FORCED_OPEN):
        return drop(DropReason.BREAKER, f"breaker {state.value}")
    if max_cost > budget_micros:
        return drop(
            DropReason.BUDGET, f"worst-case cost {max_cost} µUSD exceeds budget {budget_micros}"
        )
    if latency > remaining_ms:
        return drop(
            DropReason.DEADLINE,
            f"p50 latency {latency} ms exceeds the remaining {int(remaining_ms)} ms",
        )
    return Candidate(
        index, stage, stage.model, True, "eligible", profile, max_cost, latency, quality
    )


def plan_route(
    *,
    policy: Policy,
    request: RouteInput,
    fleet: FleetView,
    breaker_state: Callable[[str], BreakerState],
    remaining_ms: float,
) -> RoutePlan:
    rule = policy.match(request.facts)
    budget = request.budget_micros or policy.budget_micros
    candidates = tuple(
        _candidate(i, stage, request, fleet, breaker_state, budget, remaining_ms)
        for i, stage in enumerate(rule.strategy.stages)
    )
    # Cascade expectation: each later stage runs only when all earlier ones escalated.
    expected_cost = 0.0
    expected_latency = 0.0
    reach = 1.0
    for c in candidates:
        if not c.kept:
            continue
        expected_cost += reach * c.max_cost_micros
        expected_latency += reach * c.expected_latency_ms
        reach *= 1.0 - c.accept_probability
    return RoutePlan(
        rule=rule,
        candidates=candidates,
        budget_micros=budget,
        expected_cost_micros=round(expected_cost),
        expected_latency_ms=round(expected_latency),
        slo_ms=request.latency_slo_ms or policy.slo_ms,
    )
