"""Online estimates: a Beta posterior seeded with the predicted quality, decayed counts,
latency percentiles, recording from the executor, and their effect on expectations."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.router.breakers import BreakerBoard
from services.router.estimates import LATENCY_WINDOW, OutcomeEstimates
from services.router.execution import RouteExecutor
from services.router.fleet import FleetView
from services.router.planning import RouteInput, plan_route
from services.router.providers.base import ChatTurn, Completion, CompletionRequest, Outcome
from services.router.selection.expectation import chain_figures
from services.router.verification import EmbeddedVerifier
from switchyard.policy import parse_policy
from tests.router.fakes import Clock, profile


def test_no_outcomes_means_the_prior() -> None:
    """Before any outcome the estimate is the prior (the request's quality)."""
    estimates = OutcomeEstimates()
    assert estimates.acceptance("m", "chat", 0.7) == 0.7
    assert estimates.estimate("m", "chat", 0.7).outcomes == 0


def test_posterior_mean_by_hand() -> None:
    """Prior 0.8 worth 10 outcomes, then 10 rejections (no decay): (8 + 0) / 20 = 0.4;
    then 20 acceptances: (8 + 20) / 40 = 0.7."""
    estimates = OutcomeEstimates(prior_weight=10, decay=1.0)
    for _ in range(10):
        estimates.record_stage("m", "chat", accepted=False)
    assert estimates.acceptance("m", "chat", 0.8) == pytest.approx(0.4)
    for _ in range(20):
        estimates.record_stage("m", "chat", accepted=True)
    assert estimates.acceptance("m", "chat", 0.8) == pytest.approx(0.7)
    assert estimates.acceptance("m", "math", 0.8) == 0.8  # per task type


def test_decay_follows_a_model_that_changed() -> None:
    """With decay, 1,000 recent rejections outweigh 1,000 old acceptances."""
    estimates = OutcomeEstimates(prior_weight=1, decay=0.99)
    for accepted in [True] * 1000 + [False] * 1000:
        estimates.record_stage("m", "chat", accepted=accepted)
    assert estimates.acceptance("m", "chat", 0.5) < 0.01


def test_latency_percentiles() -> None:
    """p50 and p95 of the recorded latencies (nearest rank)."""
    estimates = OutcomeEstimates()
    for ms in range(1, 101):
        estimates.record_latency("m", "chat", float(ms))
    got = estimates.estimate("m", "chat", 0.5)
    assert got.latency_p50_ms == 51 and got.latency_p95_ms == 96
    [(_, _, _, _, p50, p95)] = list(estimates.measured())
    assert (p50, p95) == (51, 96)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(0, 40).map(float), min_size=1, max_size=LATENCY_WINDOW * 3))
def test_percentiles_are_those_of_the_sorted_window(latencies: list[float]) -> None:
    """The incrementally sorted window always equals the last LATENCY_WINDOW latencies
    sorted (repeats, ties and evictions included): every percentile is theirs."""
    estimates = OutcomeEstimates()
    for i, latency in enumerate(latencies, 1):
        estimates.record_latency("m", "chat", latency)
        window = sorted(latencies[max(0, i - LATENCY_WINDOW) : i])
        for p in (0.0, 0.5, 0.95, 0.999):
            expected = window[min(len(window) - 1, int(p * len(window)))]
            assert estimates.latency_percentile("m", "chat", p) == expected


def test_an_evicted_latency_leaves_the_percentiles() -> None:
    """A full window of slow answers, then a full window of fast ones: p95 is fast."""
    estimates = OutcomeEstimates()
    for latency in [900.0] * LATENCY_WINDOW + [5.0] * LATENCY_WINDOW:
        estimates.record_latency("m", "chat", latency)
    assert estimates.latency_percentile("m", "chat", 0.95) == 5.0


def test_lenient_verifier_lowers_expected_quality() -> None:
    """a = q gives 1 − Π(1 − q); a stage accepting more than its quality (a = 0.9 for
    q = 0.5) escalates less: quality 0.5 + 0.1·0.9 = 0.59, cost 100 + 0.1·1000 = 200."""
    exact = chain_figures([100, 1000], [1, 1], [0.5, 0.9])
    assert exact.quality == pytest.approx(1 - 0.5 * 0.1)
    lenient = chain_figures([100, 1000], [1, 1], [0.5, 0.9], [0.9, 0.9])
    assert lenient.quality == pytest.approx(0.59)
    assert lenient.cost_micros == pytest.approx(200)


GOOD = "A complete and useful answer that passes every check."
POLICY = parse_policy(
    """
name: est
budget_micros: 100000
retry: {max_retries: 0}
checks: [{name: non_empty}, {name: length, params: {min_chars: 20}}]
default:
  name: cascade
  strategy: {kind: cascade, stages: [{model: small}, {model: large}]}
"""
)
FLEET = FleetView([profile("small", 100_000), profile("large", 1_000_000)])
REQUEST = RouteInput(messages=(ChatTurn("user", "hello there"),), prompt_tokens=3)


class Answers:
    def __init__(self, clock: Clock, text: str) -> None:
        self.clock, self.text = clock, text

    async def complete(self, request: CompletionRequest) -> Completion:
        self.clock.now += 0.25
        return Completion(Outcome.OK, self.text, "stop", 3, 10, 0.25)


async def test_executor_records_outcomes_and_plan_uses_them() -> None:
    """Small's answers are rejected (too short), so each route records a rejected small
    stage and an accepted large one; the plan's P(reach large) then rises above the
    prior 1 − 0.8 and its expected cost with it."""
    clock = Clock()
    estimates = OutcomeEstimates(decay=1.0)
    providers = {"small": Answers(clock, "meh"), "large": Answers(clock, GOOD)}
    executor = RouteExecutor(
        provider_for=lambda p: providers[p.model_id],
        verifier=EmbeddedVerifier(),
        breakers=BreakerBoard(clock=clock),
        clock=clock,
        sleep=clock.sleep,
        estimates=estimates,
    )

    def plan():
        return plan_route(
            policy=POLICY,
            request=REQUEST,
            fleet=FLEET,
            breaker_state=lambda m: executor._breakers.get(m).state,
            remaining_ms=10_000,
            estimates=estimates,
        )

    before = plan()
    for _ in range(30):
        result = await executor.execute(plan(), REQUEST, POLICY, deadline=clock.now + 10)
        assert result.model_id == "large"
    small = estimates.estimate("small", "chat", 0.8)
    assert small.outcomes == 30 and small.acceptance == pytest.approx(8 / 40)
    assert estimates.estimate("large", "chat", 0.8).acceptance == pytest.approx(38 / 40)
    assert small.latency_p95_ms == 250
    after = plan()
    assert after.candidates[0].stage_acceptance == pytest.approx(0.2)
    assert after.candidates[0].outcomes_seen == 30
    assert after.expected_cost_micros > before.expected_cost_micros
