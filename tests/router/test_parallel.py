"""`parallel`: fan out, rank the answers, return the best, cancel what cannot matter."""

from __future__ import annotations

import time

import pytest

from services.router.breakers import BreakerState
from services.router.execution import AttemptOutcome, Verdict
from services.router.fleet import FleetView
from services.router.planning import RouteInput, plan_route
from services.router.providers.base import ChatTurn, Outcome
from services.router.verification import EmbeddedVerifier
from switchyard.policy import Policy, parse_policy
from switchyard.runtime.errors import Unavailable
from tests.router.fakes import RankingVerifier, TimedModel, profile, real_time_executor, route

FLEET = FleetView([profile(m, 100_000) for m in ("a", "b", "c", "d")])
REQUEST = RouteInput(
    messages=(ChatTurn("user", "Explain B-trees"),), max_output_tokens=100, prompt_tokens=10
)
SLOW = 5.0  # a member that only ends by being cancelled (the tests take well under it)


def parallel(extra: str = "", models: str = "[a, b, c]", budget: int = 100_000) -> Policy:
    return parse_policy(
        f"""
name: par
budget_micros: {budget}
retry: {{max_retries: 0}}
default:
  name: fan
  strategy: {{kind: parallel, models: {models}{extra}}}
"""
    )


async def test_best_ranked_answer_wins_when_every_member_answers() -> None:
    """Without accept_score every member is waited for; the highest score wins, and
    every member is in the trace with its score, verdict and cost."""
    models = {"a": TimedModel("A", 0.01), "b": TimedModel("B", 0.03), "c": TimedModel("C", 0.02)}
    verifier = RankingVerifier({"A": 0.6, "B": 0.9, "C": 0.7})
    result = await route(real_time_executor(models, verifier), parallel(), FLEET, REQUEST)
    assert (result.answer, result.model_id) == ("B", "b")
    by_model = {a.model_id: a for a in result.attempts}
    assert {m: a.score for m, a in by_model.items()} == {"a": 0.6, "b": 0.9, "c": 0.7}
    assert all(a.verdict is Verdict.ACCEPT and a.cost_micros > 0 for a in result.attempts)
    assert result.total_cost_micros == sum(a.cost_micros for a in result.attempts)
    assert result.escalations == 0  # members are not escalations
    assert sorted(verifier.ranked) == ["A", "B", "C"]  # scored through rank(), not verify()


async def test_accept_score_ends_the_fan_out_and_cancels_the_rest() -> None:
    """An answer reaching accept_score is returned at once; the members still running are
    cancelled (the models see it), listed as CANCELLED, and cost nothing."""
    models = {"a": TimedModel("A", 0.01), "b": TimedModel("B", SLOW), "c": TimedModel("C", SLOW)}
    verifier = RankingVerifier({"A": 0.8, "B": 0.99, "C": 0.99})
    started = time.monotonic()
    result = await route(
        real_time_executor(models, verifier), parallel(", accept_score: 0.75"), FLEET, REQUEST
    )
    assert time.monotonic() - started < SLOW / 2
    assert result.model_id == "a"
    assert (models["b"].cancelled, models["c"].cancelled) == (1, 1)
    outcomes = {a.model_id: a.outcome for a in result.attempts}
    assert outcomes == {
        "a": AttemptOutcome.OK,
        "b": AttemptOutcome.CANCELLED,
        "c": AttemptOutcome.CANCELLED,
    }
    cancelled = [a for a in result.attempts if a.outcome is AttemptOutcome.CANCELLED]
    assert all(a.cost_micros == 0 and a.verdict is Verdict.NOT_VERIFIED for a in cancelled)
    assert result.total_cost_micros == result.attempts[0].cost_micros


async def test_below_accept_score_waits_for_a_better_answer() -> None:
    """An accepted answer under accept_score does not end the fan-out: the later, better
    one wins."""
    models = {"a": TimedModel("A", 0.01), "b": TimedModel("B", 0.05), "c": TimedModel("C", 0.1)}
    verifier = RankingVerifier({"A": 0.5, "B": 0.95, "C": 0.6})
    result = await route(
        real_time_executor(models, verifier), parallel(", accept_score: 0.9"), FLEET, REQUEST
    )
    assert result.model_id == "b"
    assert models["c"].cancelled == 1  # b reached the bar while c was still running


async def test_a_top_score_cannot_be_beaten_so_the_rest_are_cancelled() -> None:
    """Without a scorer an accepted answer scores 1.0: nothing can beat it, so the first
    accepted answer ends the fan-out even without accept_score."""
    models = {"a": TimedModel("A", 0.01), "b": TimedModel("B", SLOW), "c": TimedModel("C", SLOW)}
    result = await route(
        real_time_executor(models, RankingVerifier(default=1.0)), parallel(), FLEET, REQUEST
    )
    assert result.model_id == "a" and models["b"].cancelled == models["c"].cancelled == 1


async def test_rejected_and_failed_members_never_win() -> None:
    """A fast rejected answer and a failed member lose to a slower accepted one."""
    models = {
        "a": TimedModel("bad", 0.01),
        "b": TimedModel("", 0.01, outcome=Outcome.SERVER_ERROR),
        "c": TimedModel("C", 0.05),
    }
    verifier = RankingVerifier({"bad": 0.99, "C": 0.4}, reject=frozenset({"bad"}))
    result = await route(real_time_executor(models, verifier), parallel(), FLEET, REQUEST)
    assert result.model_id == "c" and not result.degraded


async def test_every_member_rejected_is_unavailable() -> None:
    """No accepted answer from any member and no degrade configured: UNAVAILABLE."""
    models = {m: TimedModel("bad", 0.01) for m in ("a", "b", "c")}
    verifier = RankingVerifier(reject=frozenset({"bad"}))
    with pytest.raises(Unavailable):
        await route(real_time_executor(models, verifier), parallel(), FLEET, REQUEST)


async def test_fan_out_takes_the_first_members_and_the_budget_bounds_them() -> None:
    """fan_out 2 of 4 calls a and b only; a budget for two worst cases skips the third
    member of a 3-wide fan-out instead of overspending."""
    models = {m: TimedModel(m.upper(), 0.01) for m in ("a", "b", "c", "d")}
    executor = real_time_executor(models, RankingVerifier())
    result = await route(executor, parallel(", fan_out: 2", models="[a, b, c, d]"), FLEET, REQUEST)
    assert [m.calls for m in models.values()] == [1, 1, 0, 0]
    worst = FLEET.get("a").cost_micros(10, 100)  # type: ignore[union-attr]
    tight = RouteInput(
        messages=REQUEST.messages, max_output_tokens=100, prompt_tokens=10, budget_micros=2 * worst
    )
    result = await route(executor, parallel(), FLEET, tight)
    assert [m.calls for m in models.values()] == [2, 2, 0, 0]
    skipped = [a for a in result.attempts if a.outcome is AttemptOutcome.SKIPPED]
    assert [(a.model_id, a.detail) for a in skipped] == [("c", "over budget")]
    assert result.total_cost_micros <= 2 * worst


async def test_embedded_verifier_ranks_with_the_packaged_scorer() -> None:
    """Through the real embedded checks and scorer: members' scores are the scorer's
    P(acceptable), not the 1/0 of an unscored verdict, and the best one wins."""
    question = "Natalia sold 48 clips in April and half as many in May. How many in all?"
    hedging = "I think it might be roughly 70? Perhaps 72, not sure, maybe a mistake."
    models = {"a": TimedModel(hedging, 0.01), "b": TimedModel("48 + 24 = 72. #### 72", 0.01)}
    policy = parse_policy(
        "name: p\nchecks: [{name: non_empty}]\nretry: {max_retries: 0}\n"
        "default: {name: fan, strategy: {kind: parallel, models: [a, b]}}"
    )
    maths = RouteInput(messages=(ChatTurn("user", question),), task_type="math", prompt_tokens=20)
    result = await route(real_time_executor(models, EmbeddedVerifier()), policy, FLEET, maths)
    scores = {a.model_id: a.score for a in result.attempts}
    assert result.model_id == "b"
    assert 0.0 < scores["a"] < scores["b"] < 1.0


def test_plan_figures_of_a_fan_out_are_every_members_cost_and_the_slowest_latency() -> None:
    """Plan(): parallel's expected cost is the sum over the fan_out members (all are
    called), its latency the slowest member's, its quality 1 − Π(1 − q)."""
    fleet = FleetView(
        [profile("a", 100_000, latency_p50_ms=50), profile("b", 200_000, latency_p50_ms=300)]
        + [profile(m, 100_000) for m in ("c", "d")]
    )
    policy = parallel(", fan_out: 2", models="[a, b, c]")
    plan = plan_route(
        policy=policy,
        request=REQUEST,
        fleet=fleet,
        breaker_state=lambda m: BreakerState.CLOSED,
        remaining_ms=10_000,
    )
    a, b = (c for c in plan.chain[:2])
    assert plan.expected_cost_micros == a.max_cost_micros + b.max_cost_micros
    assert plan.expected_latency_ms == 300
    q_a, q_b = a.accept_probability, b.accept_probability
    assert plan.expected_quality == pytest.approx(1 - (1 - q_a) * (1 - q_b))
