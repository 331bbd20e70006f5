"""Panic mode (issue 10 §4): when every model a rule may use is refused by its breaker,
the router calls the least-bad ones anyway, flagged, instead of degrading everything."""

from __future__ import annotations

import grpc
import pytest

from services.router.breakers import Breaker, BreakerSettings, BreakerState
from services.router.execution import PANICS, AttemptOutcome
from services.router.planning import plan_route
from services.router.testing import ask
from services.simulator.faults import FaultSettings
from switchyard.router.v1 import router_pb2
from tests.router.fakes import Clock
from tests.router.test_execution import Harness, ok
from tests.router.test_selection import FLEET, REQUEST, _policy

from .conftest import RouterHarness

SETTINGS = BreakerSettings(window_size=2, minimum_calls=2, open_wait_s=60, ramp_up_s=10)


def _opened(clock: Clock) -> Breaker:
    breaker = Breaker(SETTINGS, clock=clock, rng=lambda: 0.99)
    breaker.record(success=False, duration_s=0.01)
    breaker.record(success=False, duration_s=0.01)
    assert breaker.state is BreakerState.OPEN
    return breaker


def test_panic_admission_passes_open_and_ramping_but_not_forced_open() -> None:
    """admit(panic=True) lets a call through an OPEN breaker and through ramp-up
    refusals; an operator's FORCED_OPEN still refuses."""
    clock = Clock()
    breaker = _opened(clock)
    assert breaker.admit() is None
    assert breaker.admit(panic=True) is not None
    clock.now += 60  # half-open: the probe closes it, ramp-up starts at 10 %
    assert breaker.admit() is not None
    breaker.record(success=True, duration_s=0.01)
    breaker.record(success=True, duration_s=0.01)
    breaker.record(success=True, duration_s=0.01)
    assert breaker.state is BreakerState.CLOSED
    assert breaker.admit() is None  # rng 0.99 > 10 % ramp
    assert breaker.admit(panic=True) is not None
    breaker.force(BreakerState.FORCED_OPEN)
    assert breaker.admit(panic=True) is None


@pytest.mark.parametrize(
    "strategy",
    [
        "{kind: cascade, stages: [{model: small}, {model: large}]}",
        "{selector: score, models: [small, large]}",
        "{selector: auto, models: [small, large], min_quality: 0.5}",
    ],
)
def test_plan_panics_only_when_every_breaker_is_open(strategy: str) -> None:
    """Every selector: all breakers OPEN -> the chain keeps them, flagged panic; one
    closed breaker -> no panic; all FORCED_OPEN -> no panic, empty chain."""

    def plan(states: dict[str, BreakerState]):
        return plan_route(
            policy=_policy(strategy),  # type: ignore[arg-type]
            request=REQUEST,
            fleet=FLEET,
            breaker_state=lambda m: states.get(m, BreakerState.CLOSED),
            remaining_ms=20_000,
        )

    opened = plan({"small": BreakerState.OPEN, "large": BreakerState.OPEN})
    # The selector still chooses among the admitted ones (auto may take one stage).
    assert opened.panic and opened.chain
    assert {c.model_id for c in opened.chain} <= {"small", "large"}
    assert all("panic" in c.reason for c in opened.chain)
    one_open = plan({"small": BreakerState.OPEN})
    assert not one_open.panic and [c.model_id for c in one_open.chain] == ["large"]
    forced = plan({"small": BreakerState.FORCED_OPEN, "large": BreakerState.FORCED_OPEN})
    assert not forced.panic and not forced.chain


async def test_a_panic_plan_calls_its_first_model_at_once_and_counts_one_panic() -> None:
    """Every breaker OPEN, so the plan is a panic plan: the executor calls its first model
    on the first pass (no "breaker open" skip recorded before the call), serves the answer
    flagged panic, and the panic metric counts the route once."""
    harness = Harness(
        {"small": [ok()], "large": [ok()]},
        breaker_settings=BreakerSettings(window_size=2, minimum_calls=2, open_wait_s=60),
    )
    for model in ("small", "large"):
        for _ in range(2):
            harness.breakers.get(model).record(success=False, duration_s=0.01)
        assert harness.breakers.get(model).state is BreakerState.OPEN
    before = PANICS.count
    result = await harness.route()
    assert result.panic and not result.degraded and harness.calls == ["small"]
    assert [(a.model_id, a.outcome) for a in result.attempts] == [("small", AttemptOutcome.OK)]
    assert PANICS.count == before + 1


async def test_all_breakers_open_serves_real_answers_flagged_panic(
    router: RouterHarness,
) -> None:
    """Both models fail until both breakers open; once the model server is healthy again
    (breakers still open for 60 s), requests get real answers flagged panic instead of
    UNAVAILABLE, and Plan() says so."""
    for name in ("small", "large"):
        router.sim.model(name).faults = FaultSettings(error_rate=1.0, error_status=500)
    for _ in range(4):
        with pytest.raises(grpc.aio.AioRpcError):
            await router.stub.Route(ask(), timeout=5)
    plan = await router.stub.Plan(router_pb2.PlanRequest(request=ask()), timeout=5)
    assert plan.panic
    for name in ("small", "large"):
        router.sim.model(name).faults = FaultSettings()
    reply = await router.stub.Route(ask(), timeout=5)
    assert reply.panic and not reply.degraded
    assert reply.model_id == "small"
    assert reply.attempts[-1].verdict == router_pb2.ATTEMPT_VERDICT_ACCEPT


async def test_panic_route_calls_one_refused_model_not_every_stage(
    router: RouterHarness,
) -> None:
    """With every breaker open and the models still failing, a panic route makes one
    model call, not one per stage (and none of its retries): panic mode must not
    multiply the load on a fleet that is refusing it (`make chaos` measured 1.5
    attempts per request through a model-server outage before this)."""
    for name in ("small", "large"):
        router.sim.model(name).faults = FaultSettings(error_rate=1.0, error_status=500)
    for _ in range(4):
        with pytest.raises(grpc.aio.AioRpcError):
            await router.stub.Route(ask(), timeout=5)
    plan = await router.stub.Plan(router_pb2.PlanRequest(request=ask()), timeout=5)
    assert plan.panic

    def calls() -> int:
        return sum(router.sim.model(n).counters["requests"] for n in ("small", "large"))

    before = calls()
    for _ in range(5):
        with pytest.raises(grpc.aio.AioRpcError) as error:
            await router.stub.Route(ask(), timeout=5)
        assert error.value.code() == grpc.StatusCode.UNAVAILABLE
    assert calls() - before == 5
