"""The hard filters every selector applies first: a model that is unknown, DOWN, too
small for the prompt, lacking JSON mode, dearer in the worst case than the budget,
slower at p50 than the time left, or behind an open breaker is dropped with the first
reason that applies, in that order."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

from services.router.breakers import BreakerState
from services.router.estimates import OutcomeEstimates
from services.router.fleet import FleetView, ModelProfile
from services.router.plan import (
    DEFAULT_ACCEPT_PROBABILITY,
    DEFAULT_LATENCY_MS,
    Candidate,
    DropReason,
    RouteInput,
    output_tokens_for,
)
from switchyard.policy import Stage
from switchyard.policy.model import LatencyPercentile


def latency_ms(profile: ModelProfile, percentile: LatencyPercentile = "p50") -> int:
    """The profile's latency at `percentile`, falling back to p50, then a default."""
    if percentile == "p95" and profile.latency_p95_ms:
        return profile.latency_p95_ms
    return profile.latency_p50_ms or DEFAULT_LATENCY_MS


def registry_quality(profile: ModelProfile, task_type: str) -> tuple[float, str]:
    quality = profile.quality.get(task_type)
    if quality is None:
        return DEFAULT_ACCEPT_PROBABILITY, "default"
    return quality, "registry"


def candidate_for(
    index: int,
    stage: Stage,
    request: RouteInput,
    fleet: FleetView,
    breaker_state: Callable[[str], BreakerState],
    budget_micros: int,
    remaining_ms: float,
    *,
    predicted: float | None = None,
    estimates: OutcomeEstimates | None = None,
) -> Candidate:
    profile = fleet.get(stage.model)
    if profile is None:
        return Candidate(
            index, stage, stage.model, False, "not in the registry", drop=DropReason.UNKNOWN_MODEL
        )
    out_tokens = output_tokens_for(profile, request.max_output_tokens)
    max_cost = profile.cost_micros(request.prompt_tokens, out_tokens)
    latency = latency_ms(profile)
    if predicted is not None:
        quality, source = predicted, "predictor"
    else:
        quality, source = registry_quality(profile, request.task_type)

    measured = estimates.estimate(stage.model, request.task_type, quality) if estimates else None

    def candidate(kept: bool, reason: str, why: DropReason = DropReason.NONE) -> Candidate:
        return Candidate(
            stage_index=index,
            stage=stage,
            model_id=stage.model,
            kept=kept,
            reason=reason,
            profile=profile,
            max_cost_micros=max_cost,
            expected_latency_ms=latency,
            accept_probability=quality,
            drop=why,
            quality_source=source,
            acceptance=measured.acceptance if measured else None,
            outcomes_seen=measured.outcomes if measured else 0,
            measured_latency_p95_ms=round(measured.latency_p95_ms) if measured else 0,
        )

    if profile.health == "down":
        return candidate(False, "health DOWN", DropReason.HEALTH)
    if profile.context_window and request.prompt_tokens + out_tokens > profile.context_window:
        return candidate(
            False,
            f"context window {profile.context_window} < prompt {request.prompt_tokens}"
            f" + output {out_tokens} tokens",
            DropReason.CONTEXT,
        )
    if request.json_mode and "json_mode" not in profile.capabilities:
        return candidate(False, "no JSON mode", DropReason.CAPABILITY)
    if max_cost > budget_micros:
        return candidate(
            False,
            f"worst-case cost {max_cost} µUSD exceeds budget {budget_micros}",
            DropReason.BUDGET,
        )
    if latency > remaining_ms:
        return candidate(
            False,
            f"p50 latency {latency} ms exceeds the remaining {int(remaining_ms)} ms",
            DropReason.DEADLINE,
        )
    # Last, so a BREAKER drop means every other filter passed: panic mode may then admit
    # it without breaking the budget, the deadline or a capability.
    state = breaker_state(stage.model)
    if state in (BreakerState.OPEN, BreakerState.FORCED_OPEN, BreakerState.DRAINING):
        return candidate(False, f"breaker {state.value}", DropReason.BREAKER)
    return candidate(True, "eligible")


def panic_admits(
    screened: Sequence[Candidate], breaker_state: Callable[[str], BreakerState]
) -> list[Candidate]:
    """Panic mode: when nothing survived the filters and some models were dropped only
    for an OPEN breaker (not an operator's FORCED_OPEN), those, kept and flagged, so
    the rule's traffic reaches the least-bad models instead of degrading all of it."""
    if any(c.kept for c in screened):
        return []
    return [
        dataclasses.replace(
            c,
            kept=True,
            drop=DropReason.NONE,
            reason="panic: breaker open, admitted because every allowed model is refused",
        )
        for c in screened
        # A drained model is healthy, only taken out of rotation: a last resort too.
        if c.drop is DropReason.BREAKER
        and breaker_state(c.model_id) in (BreakerState.OPEN, BreakerState.DRAINING)
    ]
