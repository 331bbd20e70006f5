"""Regression (issue 13, item 5): a Japanese prompt spent 3.75x its budget, because the
worst case it was checked against assumed four characters per token. The request goes
through the real validation (the token estimate) and planning; the model reports a
token per character, as real tokenizers do for Japanese."""

from __future__ import annotations

import pytest

from services.router.breakers import BreakerBoard
from services.router.execution import RouteExecutor
from services.router.fleet import FleetView
from services.router.planning import plan_route
from services.router.providers.base import Completion, CompletionRequest, Outcome
from services.router.validation import route_input
from services.router.verification import EmbeddedVerifier
from switchyard.policy import parse_policy
from switchyard.router.v1 import router_pb2
from switchyard.runtime.errors import ResourceExhausted
from tests.router.fakes import Clock, profile

POLICY = parse_policy(
    """
name: cjk
max_deadline_ms: 10000
budget_micros: 100000
retry: {max_retries: 0}
checks: [{name: non_empty}]
default:
  name: one
  strategy: {kind: single, model: m}
"""
)
FLEET = FleetView([profile("m", 1_000_000)])  # 1 µUSD per token, in and out
PROMPT = "日本語で短く答えてください。" * 31 + "お願いします"  # 440 characters
MAX_OUTPUT = 10
# What the old estimate (440 / 4 prompt tokens + 10 output) called the worst case.
OLD_WORST_CASE = 110 + MAX_OUTPUT


class TokenizingModel:
    """Bills a token per character of the prompt and answers MAX_OUTPUT tokens."""

    def __init__(self) -> None:
        self.calls = 0

    async def complete(self, request: CompletionRequest) -> Completion:
        self.calls += 1
        prompt_tokens = sum(len(m.content) for m in request.messages)
        return Completion(
            Outcome.OK, "はい、わかりました。", "stop", prompt_tokens, MAX_OUTPUT, 0.01
        )


async def spend(budget_micros: int) -> tuple[int, TokenizingModel]:
    """What routing the Japanese prompt under `budget_micros` spent (0 when refused)."""
    assert len(PROMPT) == 440
    request = route_input(
        router_pb2.RouteRequest(
            messages=[router_pb2.ChatMessage(role="user", content=PROMPT)],
            max_output_tokens=MAX_OUTPUT,
            budget_micros=budget_micros,
        )
    )
    clock = Clock()
    model = TokenizingModel()
    board = BreakerBoard(clock=clock)
    executor = RouteExecutor(
        provider_for=lambda p: model,
        verifier=EmbeddedVerifier(),
        breakers=board,
        clock=clock,
        sleep=clock.sleep,
    )
    plan = plan_route(
        policy=POLICY,
        request=request,
        fleet=FLEET,
        breaker_state=lambda m: board.get(m).state,
        remaining_ms=10_000,
    )
    try:
        result = await executor.execute(plan, request, POLICY, deadline=10.0)
    except ResourceExhausted:
        return 0, model
    return result.total_cost_micros, model


async def test_a_japanese_prompt_no_longer_spends_past_its_budget() -> None:
    """Budget = the old estimate's worst case: before, the call ran and cost 450 µUSD,
    3.75x the budget; now the worst case is estimated at ~1 token per character, the
    model cannot be afforded, and nothing is spent."""
    spent, model = await spend(OLD_WORST_CASE)
    assert spent <= OLD_WORST_CASE, f"spent {spent / OLD_WORST_CASE:.2f}x the budget"
    assert model.calls == 0


@pytest.mark.parametrize("budget", [460, 500, 2000])
async def test_a_budget_that_covers_the_real_size_is_used_and_kept(budget: int) -> None:
    """A budget that can pay for the real token count runs the call, and it stays
    within the budget."""
    spent, model = await spend(budget)
    assert model.calls == 1
    assert spent == 440 + MAX_OUTPUT <= budget
