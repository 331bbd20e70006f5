"""The score bar per stage: min_score decides escalation, so the last stage of a cascade
is held to its checks only unless it sets its own bar; a lone stage keeps the rule's."""

from __future__ import annotations

import pytest

from services.router.breakers import BreakerBoard
from services.router.execution import RouteExecutor, Verdict
from services.router.fleet import FleetView
from services.router.planning import RouteInput, plan_route
from services.router.providers.base import ChatTurn, Completion, CompletionRequest, Outcome
from services.router.verification import EmbeddedVerifier
from switchyard.policy import Stage, parse_policy
from switchyard.runtime.errors import Unavailable
from tests.router.fakes import Clock, profile

GOOD = "A complete and useful answer that passes every check, and then some more."
FLEET = FleetView([profile("small", 100_000), profile("large", 1_000_000)])
REQUEST = RouteInput(
    messages=(ChatTurn("user", "Explain what a B-tree is."),), task_type="chat", prompt_tokens=8
)


def _policy(strategy: str, min_score: float = 1.0):
    # No answer scores 1.0 exactly, so a 1.0 bar rejects every scored answer.
    return parse_policy(
        f"""
name: bars
budget_micros: 100000
retry: {{max_retries: 0}}
checks: [{{name: non_empty}}]
default:
  name: r
  min_score: {min_score}
  strategy: {strategy}
"""
    )


class Answering:
    async def complete(self, request: CompletionRequest) -> Completion:
        return Completion(Outcome.OK, GOOD, "stop", 8, 20, 0.01)


async def _route(policy):
    clock = Clock()
    executor = RouteExecutor(
        provider_for=lambda p: Answering(),
        verifier=EmbeddedVerifier(),
        breakers=BreakerBoard(clock=clock),
        clock=clock,
        sleep=clock.sleep,
    )
    plan = plan_route(
        policy=policy,
        request=REQUEST,
        fleet=FLEET,
        breaker_state=lambda m: executor._breakers.get(m).state,
        remaining_ms=10_000,
    )
    return await executor.execute(plan, REQUEST, policy, deadline=10)


def test_min_score_for() -> None:
    """Stage bar wins; the last stage of a multi-stage rule gets 0; a lone stage and
    earlier stages get the rule's."""
    rule = _policy("{kind: cascade, stages: [{model: small}, {model: large}]}", 0.7).default
    first, last = rule.strategy.stages
    assert rule.min_score_for(first, last=False) == 0.7
    assert rule.min_score_for(last, last=True) == 0.0
    assert rule.min_score_for(Stage("large", min_score=0.4), last=True) == 0.4
    single = _policy("{kind: single, model: small}", 0.7).default
    assert single.min_score_for(single.strategy.stages[0], last=True) == 0.7


async def test_cascade_keeps_the_last_stages_answer_when_only_its_score_is_low() -> None:
    """small is rejected for its score and escalates; large's answer passes its checks
    and is returned, not degraded, though its score is below the rule's bar."""
    result = await _route(_policy("{kind: cascade, stages: [{model: small}, {model: large}]}"))
    assert [a.verdict for a in result.attempts] == [Verdict.REJECT, Verdict.ACCEPT]
    assert result.model_id == "large" and not result.degraded


async def test_a_last_stage_with_its_own_bar_is_held_to_it() -> None:
    """`min_score` on the last stage applies there: both are rejected."""
    policy = _policy("{kind: cascade, stages: [{model: small}, {model: large, min_score: 1.0}]}")
    with pytest.raises(Unavailable):
        await _route(policy)


async def test_a_single_stage_keeps_the_rules_bar() -> None:
    """A lone stage is held to the rule's min_score: rejected, UNAVAILABLE."""
    with pytest.raises(Unavailable):
        await _route(_policy("{kind: single, model: small}"))
