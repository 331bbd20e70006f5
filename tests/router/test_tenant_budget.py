"""Tenant budgets (services/router/tenant_budget.py) through the executor: each attempt
reserves its worst case and settles its actual cost; a cancelled or breaker-refused
attempt releases its hold; a tenant near its limit is steered to cheaper models; an
exhausted one gets RESOURCE_EXHAUSTED with QuotaFailure and the reset time."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from google.rpc import error_details_pb2

from services.router.breakers import BreakerBoard, BreakerSettings, BreakerState
from services.router.execution import RouteExecutor
from services.router.fleet import FleetView
from services.router.host_store import HostStore
from services.router.ledger import SpendWindow, SqliteLedger
from services.router.planning import DropReason, RouteInput, plan_route
from services.router.providers.base import ChatTurn, Completion, CompletionRequest, Outcome
from services.router.tenant_budget import TenantAllowance, TenantBudgets
from services.router.verification import EmbeddedVerifier
from switchyard.policy import Policy, parse_policy
from switchyard.runtime.errors import QuotaExhausted
from tests.router.fakes import Clock, profile

GOOD = "A complete and useful answer that passes every check."
T0 = 1_699_999_200.0
# small: 1 µUSD per token in and out, large 10. A request of 200 prompt tokens and at
# most 100 output tokens has worst cases 300 and 3000; an answer of 50 tokens costs 250
# and 2500.
FLEET = FleetView([profile("small", 1_000_000), profile("large", 10_000_000)])
REQUEST = RouteInput(
    messages=(ChatTurn("user", "x" * 800),), max_output_tokens=100, prompt_tokens=200, tenant="acme"
)
SMALL_WORST = 300
ONE_PROBE = BreakerSettings(window_size=2, minimum_calls=2, open_wait_s=1, half_open_calls=1)
CASCADE = "{kind: cascade, stages: [{model: small}, {model: large}]}"


def policy(limit: int, *, steer_above: float = 0.8, strategy: str = CASCADE) -> Policy:
    return parse_policy(
        f"""
name: tenants
max_deadline_ms: 10000
budget_micros: 100000
retry: {{max_retries: 0}}
checks: [{{name: non_empty}}, {{name: length, params: {{min_chars: 20}}}}]
tenants:
  acme: {{limit_micros: {limit}, window_s: 3600, steer_above: {steer_above}}}
default:
  name: cascade
  strategy: {strategy}
"""
    )


class Model:
    """Answers `text` with the given usage; hangs until cancelled while `hanging`."""

    def __init__(self, text: str = GOOD, *, tokens: tuple[int, int] = (200, 50)) -> None:
        self.text = text
        self.tokens = tokens
        self.hanging = False
        self.calls = 0

    async def complete(self, request: CompletionRequest) -> Completion:
        self.calls += 1
        if self.hanging:
            await asyncio.Event().wait()
        return Completion(Outcome.OK, self.text, "stop", *self.tokens, 0.01)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[HostStore]:
    host = HostStore(str(tmp_path / "ledger.db"))
    yield host
    await host.close()


class Setup:
    """An executor over scripted models, with a real SQLite ledger and a wall clock."""

    def __init__(
        self,
        store: HostStore,
        models: dict[str, Model],
        breakers: BreakerSettings | None = None,
    ) -> None:
        self.wall = Clock()
        self.wall.now = T0
        self.clock = Clock()
        self.ledger = SqliteLedger(store, clock=self.wall)
        self.budgets = TenantBudgets(self.ledger, clock=self.wall)
        self.board = BreakerBoard(breakers or BreakerSettings(), clock=self.clock)
        self.executor = RouteExecutor(
            provider_for=lambda p: models[p.model_id],
            verifier=EmbeddedVerifier(),
            breakers=self.board,
            clock=self.clock,
            sleep=self.clock.sleep,
            rng=lambda: 0.5,
        )

    async def allowance(self, pol: Policy) -> TenantAllowance:
        allowance = await self.budgets.allowance(pol.tenants, "acme")
        assert allowance is not None
        return allowance

    async def route(self, pol: Policy, request: RouteInput = REQUEST):
        allowance = await self.allowance(pol)
        plan = plan_route(
            policy=pol,
            request=request,
            fleet=FLEET,
            breaker_state=lambda m: self.board.get(m).state,
            remaining_ms=10_000,
            budget_cap_micros=allowance.budget_cap_micros,
        )
        spend = self.budgets.attempt_budget(allowance, time_left_s=10)
        result = await self.executor.execute(
            plan, request, pol, deadline=self.clock.now + 10, budget=spend
        )
        return plan, result, spend

    async def usage(self):
        return await self.ledger.usage(SpendWindow.at("acme", 3600, self.wall.now))


async def test_an_attempt_reserves_its_worst_case_and_settles_its_actual_cost(
    store: HostStore,
) -> None:
    """The ledger ends with exactly the attempt's actual cost and no hold left."""
    setup = Setup(store, {"small": Model(), "large": Model()})
    _, result, _ = await setup.route(policy(10_000))
    assert result.model_id == "small"
    usage = await setup.usage()
    assert usage.reserved_micros == 0
    assert usage.spent_micros == result.total_cost_micros == 250


async def test_an_escalation_books_both_attempts(store: HostStore) -> None:
    """A rejected small answer and the large one: both costs land in the window."""
    setup = Setup(store, {"small": Model("meh"), "large": Model()})
    _, result, _ = await setup.route(policy(10_000))
    assert result.model_id == "large"
    assert (await setup.usage()).spent_micros == result.total_cost_micros == 250 + 2500


async def test_a_cancelled_attempt_releases_its_reservation_and_its_probe(
    store: HostStore,
) -> None:
    """The client cancels while a half-open probe call is in flight: the probe slot and
    the tenant's hold both come back (nothing is spent, nothing stays reserved)."""
    small = Model()
    setup = Setup(store, {"small": small, "large": Model()}, breakers=ONE_PROBE)
    breaker = setup.board.get("small")
    breaker.record(success=False, duration_s=0.01)
    breaker.record(success=False, duration_s=0.01)
    setup.clock.now += 2
    assert breaker.state is BreakerState.HALF_OPEN
    small.hanging = True
    task = asyncio.create_task(setup.route(policy(10_000)))
    while small.calls == 0:
        await asyncio.sleep(0.01)
    assert (await setup.usage()).reserved_micros == SMALL_WORST
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await setup.budgets.drain()
    usage = await setup.usage()
    assert (usage.reserved_micros, usage.spent_micros) == (0, 0)
    assert breaker.admit() is not None  # the probe slot came back


async def test_a_breaker_refusal_releases_the_hold(store: HostStore) -> None:
    """Reserved, then the breaker refuses the call: the hold is returned."""
    setup = Setup(store, {"small": Model(), "large": Model()}, breakers=ONE_PROBE)
    small_breaker = setup.board.get("small")
    # Half-open with its only probe taken: planning keeps it, admission refuses it.
    small_breaker.record(success=False, duration_s=0.01)
    small_breaker.record(success=False, duration_s=0.01)
    setup.clock.now += 2
    assert small_breaker.admit() is not None
    _, result, _ = await setup.route(policy(10_000))
    await setup.budgets.drain()
    assert result.model_id == "large"
    usage = await setup.usage()
    assert usage.reserved_micros == 0
    assert usage.spent_micros == result.total_cost_micros


async def test_near_the_limit_the_plan_is_steered_to_the_cheaper_model(store: HostStore) -> None:
    """Past steer_above, the plan's budget is what remains: the large model's worst case
    no longer fits and planning drops it for budget, before any call."""
    setup = Setup(store, {"small": Model("meh"), "large": Model()})
    window = SpendWindow.at("acme", 3600, T0)
    held = await setup.ledger.reserve(
        window, amount_micros=8_500, limit_micros=10_000, lease_until_s=T0 + 3600
    )
    await setup.ledger.settle(held, 8_500)  # type: ignore[arg-type]
    allowance = await setup.allowance(policy(10_000))
    assert allowance.steering and allowance.budget_cap_micros == 1_500
    plan, result, _ = await setup.route(policy(10_000))
    dropped = {c.model_id: c.drop for c in plan.candidates if not c.kept}
    assert dropped == {"large": DropReason.BUDGET}
    assert plan.budget_micros == 1_500
    assert result.degraded and result.model_id == "small"  # the held, rejected answer


async def test_below_the_threshold_nothing_is_steered(store: HostStore) -> None:
    """Under steer_above the request keeps its own budget (and both stages)."""
    setup = Setup(store, {"small": Model(), "large": Model()})
    allowance = await setup.allowance(policy(10_000))
    assert not allowance.steering and allowance.budget_cap_micros is None
    plan, _, _ = await setup.route(policy(10_000))
    assert [c.model_id for c in plan.chain] == ["small", "large"]


async def test_a_first_attempt_the_window_cannot_hold_is_quota_exhausted(
    store: HostStore,
) -> None:
    """With 200 µUSD left and a 300 µUSD worst case, no model is called: the error is
    RESOURCE_EXHAUSTED with a QuotaFailure naming the tenant and the reset time."""
    small = Model()
    setup = Setup(store, {"small": small, "large": Model()})
    with pytest.raises(QuotaExhausted) as info:
        await setup.route(policy(200, steer_above=1.0))
    assert small.calls == 0
    error = info.value
    assert error.reset_at_s == T0 + 3600
    assert error.metadata["reset_time"].startswith("2023-11-14T23:00:00")
    details = error.details()
    quota = error_details_pb2.QuotaFailure()
    assert details[0].Unpack(quota)
    assert quota.violations[0].subject == "tenant:acme"
    retry = error_details_pb2.RetryInfo()
    assert details[1].Unpack(retry)
    assert retry.retry_delay.seconds == 3600
    assert error.to_status().code.name == "RESOURCE_EXHAUSTED"


async def test_a_later_attempt_refused_stops_the_chain_like_the_request_budget(
    store: HostStore,
) -> None:
    """Small is paid for and rejected; the window cannot hold large's worst case: the
    chain stops there and the held answer comes back degraded, large never called."""
    large = Model()
    setup = Setup(store, {"small": Model("meh"), "large": large})
    _, result, spend = await setup.route(policy(1_000, steer_above=1.0))
    assert large.calls == 0
    assert result.degraded and result.model_id == "small"
    assert spend.refusal is not None
    assert result.attempts[-1].detail == "shared budget refused"
    assert (await setup.usage()).spent_micros == result.total_cost_micros <= 1_000


async def test_concurrent_requests_of_one_tenant_never_overspend(store: HostStore) -> None:
    """Fifty requests at once against a limit that pays for a dozen: the window's spend
    stays within it and every answered request was paid for."""
    setup = Setup(store, {"small": Model(), "large": Model()})
    single = policy(3_000, steer_above=1.0, strategy="{kind: single, model: small}")
    outcomes = await asyncio.gather(
        *(setup.route(single) for _ in range(50)), return_exceptions=True
    )
    answered = [o for o in outcomes if not isinstance(o, BaseException)]
    refused = [o for o in outcomes if isinstance(o, QuotaExhausted)]
    assert len(answered) + len(refused) == 50
    usage = await setup.usage()
    assert usage.spent_micros <= 3_000
    assert usage.spent_micros == sum(r[1].total_cost_micros for r in answered)
    # At least the holds that fit at once; settling below the worst case may free room
    # for one more, never for an overspend.
    assert len(answered) >= 3_000 // SMALL_WORST
