"""What Route() reuses to plan faster changes no plan: a rule matched once, auto's
cascade table left to Plan(), candidates copied with `Candidate.evolve`."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.router.breakers import BreakerState
from services.router.planning import Candidate, DropReason, plan_route
from tests.router.test_selection import FLEET, REQUEST, _policy

STRATEGIES = (
    "{selector: score, models: [small, medium, large], max_fallbacks: 1}",
    "{selector: score, models: [small, medium, large], min_quality: 0.7}",
    "{selector: auto, models: [small, medium, large], min_quality: 0.85}",
    "{selector: auto, models: [small, medium, large], min_quality: 0.8, max_depth: 3}",
    "{kind: cascade, stages: [{model: small}, {model: large}]}",
)


def _plan(policy, **kw):
    return plan_route(
        policy=policy,
        request=REQUEST,
        fleet=FLEET,
        breaker_state=lambda m: BreakerState.CLOSED,
        remaining_ms=20_000,
        **kw,
    )


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_a_rule_matched_by_the_caller_gives_the_same_plan(strategy: str) -> None:
    """Passing the rule `policy.match` gives is the plan without it, field for field."""
    policy = _policy(strategy)
    rule = policy.match(REQUEST.facts)  # type: ignore[attr-defined]
    assert _plan(policy, rule=rule) == _plan(policy)


def test_the_rule_passed_is_the_rule_planned() -> None:
    """plan_route plans the rule it is given (the caller's match), not a second match."""
    policy = _policy("{selector: score, models: [small, medium, large]}")
    other = _policy("{kind: single, model: large}").default  # type: ignore[attr-defined]
    plan = _plan(policy, rule=other)
    assert plan.rule is other and [c.model_id for c in plan.chain] == ["large"]


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_explain_false_drops_only_the_cascade_table(strategy: str) -> None:
    """Without explain, auto's enumerated cascades are left out; the chain, candidates
    and expected figures are those of the explained plan."""
    policy = _policy(strategy)
    explained, terse = _plan(policy), _plan(policy, explain=False)
    assert terse == dataclasses.replace(explained, cascades=())
    if "auto" in strategy:
        assert explained.cascades and not terse.cascades


@settings(max_examples=60, deadline=None)
@given(
    stage_index=st.integers(0, 9),
    kept=st.booleans(),
    reason=st.text(max_size=8),
    score=st.none() | st.floats(allow_nan=False),
    drop=st.sampled_from(list(DropReason)),
)
def test_evolve_is_dataclasses_replace(
    stage_index: int, kept: bool, reason: str, score: float | None, drop: DropReason
) -> None:
    """evolve(**changes) equals dataclasses.replace(**changes) and leaves the original."""
    [original] = [c for c in _plan(_policy(STRATEGIES[0])).candidates if c.model_id == "small"]
    changes = {"stage_index": stage_index, "kept": kept, "reason": reason, "score": score}
    changes["drop"] = drop
    evolved = original.evolve(**changes)
    assert evolved == dataclasses.replace(original, **changes)
    assert isinstance(evolved, Candidate) and evolved is not original
    assert original == _plan(_policy(STRATEGIES[0])).candidates[1]


def test_evolve_refuses_a_name_that_is_not_a_field() -> None:
    """A misspelt field is an error, as with dataclasses.replace, not a new attribute."""
    candidate = _plan(_policy(STRATEGIES[0])).candidates[0]
    with pytest.raises(TypeError, match="stage_idx"):
        candidate.evolve(stage_idx=3)
    with pytest.raises(dataclasses.FrozenInstanceError):
        candidate.evolve(kept=False).kept = True  # type: ignore[misc]
