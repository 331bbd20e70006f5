"""`hedge`: a second model after a delay, the first acceptable answer, the cap obeyed."""

from __future__ import annotations

import asyncio
import time

import pytest

from services.router.estimates import OutcomeEstimates
from services.router.execution import AttemptOutcome
from services.router.execution.hedge import hedge_delay_s
from services.router.fleet import FleetView
from services.router.planning import RouteInput
from services.router.providers.base import ChatTurn, Completion, CompletionRequest, Outcome
from switchyard.policy import HedgeCap, HedgeSettings, Policy, parse_policy
from tests.router.fakes import RankingVerifier, TimedModel, profile, real_time_executor, route

FLEET = FleetView([profile(m, 100_000) for m in ("first", "second", "third")])
REQUEST = RouteInput(
    messages=(ChatTurn("user", "Explain B-trees"),), max_output_tokens=100, prompt_tokens=10
)
SLOW = 5.0
WORST = FLEET.get("second").cost_micros(10, 100)  # type: ignore[union-attr]


def hedge(
    *, delay_ms: int = 30, share: float = 1.0, micros: int = 1_000_000, models: str = ""
) -> Policy:
    return parse_policy(
        f"""
name: hedge
retry: {{max_retries: 0}}
default:
  name: hedged
  strategy:
    kind: hedge
    models: {models or "[first, second]"}
    delay_ms: {delay_ms}
    cap: {{share: {share}, micros: {micros}, window_ms: 60000}}
"""
    )


async def test_slow_first_model_is_hedged_and_the_hedge_wins() -> None:
    """The first model has not answered after the delay: the second is sent the request,
    answers first and wins; the first call is cancelled."""
    models = {"first": TimedModel("slow answer", SLOW), "second": TimedModel("fast answer", 0.01)}
    started = time.monotonic()
    result = await route(real_time_executor(models, RankingVerifier()), hedge(), FLEET, REQUEST)
    assert time.monotonic() - started < SLOW / 2
    assert (result.model_id, result.hedged, result.escalations) == ("second", True, 1)
    assert models["first"].cancelled == 1
    outcomes = {a.model_id: a.outcome for a in result.attempts}
    assert outcomes == {"first": AttemptOutcome.CANCELLED, "second": AttemptOutcome.OK}


async def test_first_model_answering_within_the_delay_is_not_hedged() -> None:
    models = {"first": TimedModel("quick", 0.01), "second": TimedModel("unused", 0.01)}
    result = await route(
        real_time_executor(models, RankingVerifier()), hedge(delay_ms=2_000), FLEET, REQUEST
    )
    assert (result.model_id, result.hedged) == ("first", False)
    assert models["second"].calls == 0


async def test_first_answer_wins_even_when_the_first_model_answers_after_the_hedge() -> None:
    """The hedge is sent but the first model answers before it: the first answer wins and
    the hedge is cancelled."""
    models = {"first": TimedModel("first", 0.3), "second": TimedModel("second", SLOW)}
    result = await route(real_time_executor(models, RankingVerifier()), hedge(), FLEET, REQUEST)
    assert (result.model_id, result.hedged) == ("first", True)
    assert models["second"].cancelled == 1


async def test_a_fast_failure_falls_back_without_hedging() -> None:
    """The first model fails before the delay: the next runs as a cascade's fallback,
    not as a hedge (the cap is not charged)."""
    models = {
        "first": TimedModel("", 0.01, outcome=Outcome.CLIENT_ERROR),
        "second": TimedModel("fallback", 0.01),
    }
    executor = real_time_executor(models, RankingVerifier())
    result = await route(executor, hedge(delay_ms=2_000), FLEET, REQUEST)
    assert (result.model_id, result.hedged) == ("second", False)
    account = executor.hedge_accounts.for_rule("hedged", HedgeCap(share=1.0, micros=1_000_000))
    assert (account.hedges, account.micros) == (0, 0)


async def test_a_rejected_hedge_leaves_the_first_call_running() -> None:
    """A hedge whose answer is rejected does not end the request: the first model's answer
    (accepted) is still awaited, and the third member is not needed."""
    models = {
        "first": TimedModel("good", 0.3),
        "second": TimedModel("bad", 0.01),
        "third": TimedModel("unused", 0.01),
    }
    verifier = RankingVerifier(reject=frozenset({"bad"}))
    policy = hedge(models="[first, second, third]")
    result = await route(real_time_executor(models, verifier), policy, FLEET, REQUEST)
    assert (result.model_id, result.hedged) == ("first", True)
    assert models["third"].calls == 0


@pytest.mark.parametrize(
    ("share", "micros", "hedged_requests"),
    [
        (0.5, 1_000_000, [False, True, False, True]),  # at most half the requests
        (1.0, WORST, [True, False, False, False]),  # spend for one hedge's worst case
    ],
)
async def test_the_cap_limits_hedged_requests(share, micros, hedged_requests) -> None:
    """Four slow-first requests in one window: the share and the micros cap decide which
    are hedged; the others wait for the first model (here, quick enough)."""
    models = {"first": TimedModel("first", 0.5), "second": TimedModel("second", SLOW)}
    executor = real_time_executor(models, RankingVerifier())
    policy = hedge(delay_ms=20, share=share, micros=micros)
    hedged = [(await route(executor, policy, FLEET, REQUEST)).hedged for _ in range(4)]
    assert hedged == hedged_requests
    account = executor.hedge_accounts.for_rule("hedged", policy.default.strategy.hedge.cap)  # type: ignore[union-attr]
    assert account.micros <= micros


class BilledFailureThenSlow:
    """Fails at once, billed for 300 output tokens (some upstreams charge for a failed
    generation), then answers every later call after `SLOW` seconds."""

    def __init__(self) -> None:
        self.calls = 0

    async def complete(self, request: CompletionRequest) -> Completion:
        self.calls += 1
        if self.calls == 1:
            return Completion(Outcome.SERVER_ERROR, "", "", 10, 300, 0.001, detail="boom")
        await asyncio.sleep(min(SLOW, request.timeout_s))
        return Completion(Outcome.OK, "late", "stop", 10, 20, SLOW)

    async def close(self) -> None:
        pass


async def test_the_cap_is_charged_what_the_hedge_actually_cost() -> None:
    """The first model fails (billed) and is retried; its slow retry is hedged and the
    hedge answers. The cap's spend settles from the hedge's worst case to the hedge's own
    cost: not the first model's failed attempt, not both."""
    policy = parse_policy(
        """
name: hedge
retry: {max_retries: 1, base_backoff_ms: 1, max_backoff_ms: 1}
default:
  name: hedged
  strategy:
    kind: hedge
    models: [first, second]
    delay_ms: 50
    cap: {share: 1.0, micros: 1000000, window_ms: 60000}
"""
    )
    models = {"first": BilledFailureThenSlow(), "second": TimedModel("fast answer", 0.01)}
    executor = real_time_executor(models, RankingVerifier())  # type: ignore[arg-type]
    result = await route(executor, policy, FLEET, REQUEST)
    assert (result.model_id, result.hedged) == ("second", True)
    costs = {(a.model_id, a.outcome): a.cost_micros for a in result.attempts}
    assert costs[("first", AttemptOutcome.SERVER_ERROR)] > 0
    hedge_cost = costs[("second", AttemptOutcome.OK)]
    assert 0 < hedge_cost < WORST
    account = executor.hedge_accounts.for_rule("hedged", policy.default.strategy.hedge.cap)  # type: ignore[union-attr]
    assert (account.hedges, account.micros) == (1, hedge_cost)


async def test_a_hedge_must_fit_the_requests_budget_beside_the_first_call() -> None:
    """A budget for one worst case: no hedge (both calls' worst cases would not fit)."""
    models = {"first": TimedModel("first", 0.1), "second": TimedModel("second", 0.01)}
    tight = RouteInput(
        messages=REQUEST.messages, max_output_tokens=100, prompt_tokens=10, budget_micros=WORST
    )
    result = await route(real_time_executor(models, RankingVerifier()), hedge(), FLEET, tight)
    assert (result.model_id, result.hedged) == ("first", False)
    assert models["second"].calls == 0


def test_delay_follows_the_measured_percentile_once_there_is_one() -> None:
    """delay_percentile p90: delay_ms until the first model has answered, then its p90
    latency for the task type."""
    settings = HedgeSettings(
        delay_ms=250, cap=HedgeCap(share=1.0, micros=1), delay_percentile="p90"
    )
    estimates = OutcomeEstimates()
    assert hedge_delay_s(settings, estimates, "first", "chat") == 0.25
    for ms in range(1, 101):
        estimates.record_latency("first", "chat", float(ms))
    assert hedge_delay_s(settings, estimates, "first", "chat") == pytest.approx(0.091)
    assert hedge_delay_s(settings, estimates, "first", "math") == 0.25
    fixed = HedgeSettings(delay_ms=250, cap=settings.cap)
    assert hedge_delay_s(fixed, estimates, "first", "chat") == 0.25
