"""A half-open probe cancelled before its outcome (client deadline, disconnect) gives its
slot back, so the breaker can still close (issue 10, section 1)."""

from __future__ import annotations

import asyncio

from services.router.breakers import BreakerBoard, BreakerSettings, BreakerState
from services.router.execution import RouteExecutor
from services.router.fleet import FleetView
from services.router.planning import RouteInput, plan_route
from services.router.providers.base import ChatTurn, Completion, CompletionRequest, Outcome
from services.router.verification import EmbeddedVerifier
from switchyard.policy import parse_policy
from tests.router.fakes import Clock, profile

GOOD = "A complete and useful answer that passes every check."
POLICY = parse_policy(
    """
name: probe
max_deadline_ms: 10000
budget_micros: 100000
retry: {max_retries: 0}
checks: [{name: non_empty}]
default:
  name: cascade
  strategy: {kind: cascade, stages: [{model: small}, {model: large}]}
"""
)
FLEET = FleetView([profile("small", 100_000), profile("large", 1_000_000)])
REQUEST = RouteInput(messages=(ChatTurn("user", "hello there"),), prompt_tokens=3)
SETTINGS = BreakerSettings(
    window_size=4, minimum_calls=4, open_wait_s=5, half_open_calls=2, ramp_up_s=0.001
)


class SmallModel:
    """Fails while `failing`; hangs (until cancelled) while `hanging`; else answers."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.failing = True
        self.hanging = False
        self.calls = 0

    async def complete(self, request: CompletionRequest) -> Completion:
        self.calls += 1
        if self.hanging:
            await asyncio.Event().wait()  # only cancellation ends it
        self.clock.now += 0.05
        if self.failing:
            return Completion(Outcome.SERVER_ERROR, latency_s=0.05, detail="boom")
        return Completion(Outcome.OK, GOOD, "stop", 5, 10, 0.05)


class LargeModel:
    async def complete(self, request: CompletionRequest) -> Completion:
        return Completion(Outcome.OK, GOOD, "stop", 5, 10, 0.2)


async def _route(executor: RouteExecutor, board: BreakerBoard, clock: Clock) -> str:
    plan = plan_route(
        policy=POLICY,
        request=REQUEST,
        fleet=FLEET,
        breaker_state=lambda m: board.get(m).state,
        remaining_ms=10_000,
    )
    result = await executor.execute(plan, REQUEST, POLICY, deadline=clock.now + 10)
    return result.model_id


async def test_cancelled_probe_does_not_wedge_the_breaker_half_open() -> None:
    """Small fails until its breaker opens; after the open wait, the one probe request is
    cancelled mid-call; healthy traffic afterwards reaches small again and closes it."""
    clock = Clock()
    board = BreakerBoard(SETTINGS, clock=clock)
    small = SmallModel(clock)
    large = LargeModel()
    executor = RouteExecutor(
        provider_for=lambda p: small if p.model_id == "small" else large,
        verifier=EmbeddedVerifier(),
        breakers=board,
        clock=clock,
        sleep=clock.sleep,
        rng=lambda: 0.0,
    )
    for _ in range(4):
        assert await _route(executor, board, clock) == "large"
    assert board.get("small").state is BreakerState.OPEN

    clock.now += SETTINGS.open_wait_s
    small.failing, small.hanging = False, True
    probe = asyncio.create_task(_route(executor, board, clock))
    while small.calls < 5:  # the probe call is in flight
        await asyncio.sleep(0)
    probe.cancel()  # the client's deadline expired during the probe
    await asyncio.gather(probe, return_exceptions=True)
    assert board.get("small").state is BreakerState.HALF_OPEN

    small.hanging = False
    served = []
    for _ in range(600):  # ten minutes of healthy traffic, one request a second
        served.append(await _route(executor, board, clock))
        clock.now += 1.0
    assert served[: SETTINGS.half_open_calls] == ["small"] * SETTINGS.half_open_calls
    assert board.get("small").state is BreakerState.CLOSED
    assert served.count("small") == len(served)


def test_release_is_ignored_after_the_breaker_moved_on() -> None:
    """A late release from an earlier half-open period does not hand out an extra probe."""
    clock = Clock()
    board = BreakerBoard(SETTINGS, clock=clock)
    breaker = board.get("m")
    for _ in range(4):
        breaker.record(success=False, duration_s=0.01)
    clock.now += SETTINGS.open_wait_s
    stale = breaker.admit()
    assert stale is not None and stale.probe
    assert breaker.admit() is not None
    breaker.record(success=False, duration_s=0.01)
    breaker.record(success=False, duration_s=0.01)  # both probes failed: OPEN again
    assert breaker.state is BreakerState.OPEN
    clock.now += 2 * SETTINGS.open_wait_s  # the backed-off wait
    assert breaker.state is BreakerState.HALF_OPEN
    assert breaker.admit() is not None and breaker.admit() is not None
    breaker.release(stale)  # from the previous period
    assert breaker.admit() is None
